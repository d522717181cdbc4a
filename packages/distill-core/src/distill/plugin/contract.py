"""The vocoder contract: what a backend plugin implements so distill can turn mels into audio.

A backend is a `VocoderBase` subclass registered through the `register_vocoders` hook. Its class
attributes describe it without loading anything heavy (the CLI lists backends without importing
torch); `load()` builds a ready instance, optionally from a state bundled in a model file.
"""

from __future__ import annotations

import abc
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import attrs

from ..errors import DistillError, Hint
from ..melspec import MelSpec
from ..progress import DownloadProgress, Interrupted, StepProgress

if TYPE_CHECKING:
    import torch

VocoderKind = Literal["universal", "per-model"]
KINDS: tuple[VocoderKind, ...] = ("universal", "per-model")


@attrs.define(eq=False)
class VocoderState:
    """What a model file carries for one backend: everything inference needs, nothing more.

    `weights` holds tensors only; `config` and `training` are JSON-serialisable metadata.
    """

    backend: str
    version: str
    config: dict[str, Any] = attrs.field(factory=dict)
    weights: dict[str, torch.Tensor] = attrs.field(factory=dict)
    training: dict[str, Any] = attrs.field(factory=dict)

    @property
    def mel_spec(self) -> MelSpec | None:
        """The recipe the state was trained on, when the backend recorded one in its config."""
        recipe = self.config.get("mel_spec")
        return MelSpec.from_dict(recipe) if recipe else None


class VocoderBase(abc.ABC):
    """Base class of every vocoder backend.

    Subclasses set the class attributes and implement `render`. Per-model backends also override
    `load` to build themselves from a `VocoderState` and may implement `TrainableVocoder`.
    """

    name: ClassVar[str]
    kind: ClassVar[VocoderKind]
    mel_spec: ClassVar[MelSpec]
    priority: ClassVar[int] = 0  # breaks ties between backends of the same rank; higher wins
    description: ClassVar[str] = ""
    # Long clips are rendered in windows of `window_frames` that overlap by `overlap_frames`, joined by
    # a raised-cosine crossfade across the overlap. A backend whose output depends on wide context
    # sets an overlap of about twice its receptive field, so each join falls where both windows
    # had full context (and then matches a single pass).
    window_frames: ClassVar[int] = 256
    overlap_frames: ClassVar[int] = 16
    # Frames of the raised cosine, centred in the overlap (None: the whole overlap). Outside it each
    # window is used alone where it is the one with full context, so with an overlap of twice the
    # receptive field plus the crossfade, windowed rendering equals a single pass.
    crossfade_frames: ClassVar[int | None] = None

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    @property
    def sample_rate(self) -> int:
        return self.mel_spec.sample_rate

    @classmethod
    def weights_present(cls) -> bool | None:
        """Whether the weights are on this machine; None when the backend needs none."""
        return None

    @classmethod
    def download(cls, progress: DownloadProgress | None = None) -> None:
        """Fetch the weights ahead of time. Backends with downloadable weights override this and
        call `progress(filename, bytes_done, bytes_total)` as bytes arrive."""
        raise DistillError(f"vocoder {cls.name!r} has no weights to download")

    @classmethod
    def state_warning(cls, state: VocoderState) -> str | Hint | None:
        """A warning about a bundled state (for example: trained too briefly), or None; a Hint when it
        names a fix (Hint(message, Fix("train-more", "3000"))), which each face then says its own way."""
        return None

    @classmethod
    def load(cls, state: VocoderState | None = None, device: str = "cpu") -> VocoderBase:
        """A ready-to-render instance. Backends that accept a bundled state override this."""
        if state is not None:
            raise DistillError(f"vocoder {cls.name!r} cannot be built from a bundled state")
        return cls(device=device)

    def to(self, device: str) -> VocoderBase:
        self.device = device
        return self

    @abc.abstractmethod
    def render(self, mel: torch.Tensor) -> torch.Tensor:
        """Compressed mels [batch, n_mels, frames] in `mel_spec` -> waveform [batch, num_samples(frames)]."""

    def output_samples(self, frames: int) -> int:
        """Samples at `sample_rate` that `frames` frames of `mel_spec` last."""
        return round(self.mel_spec.num_samples(frames) * self.sample_rate / self.mel_spec.sample_rate)

    def stream(self, mel: Iterable[torch.Tensor], frames: int) -> Iterator[torch.Tensor]:
        """Waveform chunks [samples] (float32, on the CPU) of a clip whose compressed mels [n_mels, t] in
        `mel_spec` arrive as chunks adding up to `frames`, yielded as they are rendered: generate, export
        and the UI report progress and honour a cancel between chunks, so a chunk should be seconds of
        audio, not minutes, and memory should not grow with the clip.

        The default renders windows of `window_frames` overlapping by `overlap_frames` with `render` and
        crossfades neighbours with a raised cosine across the overlap. A backend that streams better (one
        that carries state from chunk to chunk) overrides it."""
        import torch

        reader = MelReader(mel)
        window, overlap = self.window_frames, self.overlap_frames
        fade = self.output_samples(overlap)
        cross = min(fade, self.output_samples(self.crossfade_frames or overlap))
        lead = (fade - cross) // 2  # overlap samples taken from the previous window alone, before the crossfade
        ramp = torch.cat([torch.zeros(lead),
                          (0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, cross, dtype=torch.float64))).float(),
                          torch.ones(fade - lead - cross)])
        pending: torch.Tensor | None = None  # the previous window's tail, waiting to be crossfaded
        for start in range(0, frames, window - overlap):
            stop = min(start + window, frames)
            wanted = self.output_samples(stop) - self.output_samples(start)
            with torch.inference_mode():
                audio = self.render(reader.window(start, stop)[None].to(self.device))[0].float().cpu()
            audio = torch.nn.functional.pad(audio, (0, max(0, wanted - len(audio))))[:wanted]
            if pending is not None:
                n = min(fade, len(pending), len(audio))
                audio[:n] = pending[:n] * (1 - ramp[:n]) + audio[:n] * ramp[:n]
            if stop >= frames:
                yield audio
                return
            pending = audio[-fade:].clone()
            yield audio[:-fade]


class MelReader:
    """Windows of a stream of mel chunks [..., t], in increasing order of their start: only the frames
    from the last window's start on are kept."""

    def __init__(self, chunks: Iterable[torch.Tensor]) -> None:
        self.chunks = iter(chunks)
        self.buffer: torch.Tensor | None = None
        self.offset = 0  # the buffer's first frame

    def window(self, start: int, stop: int) -> torch.Tensor:
        import torch

        while self.buffer is None or self.offset + self.buffer.shape[-1] < stop:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer = chunk if self.buffer is None else torch.cat([self.buffer, chunk], dim=-1)
        assert self.buffer is not None, "an empty mel stream"
        assert start >= self.offset, "windows of a mel stream must not start before the previous one"
        self.buffer, self.offset = self.buffer[..., start - self.offset :], start
        return self.buffer[..., : stop - start]


ProgressCallback = StepProgress  # the name plugins have imported it by


@attrs.frozen(kw_only=True)
class VocoderTrainingRun:
    """One per-model training run as `distill train-vocoder` describes it to a trainable backend.

    Budgets are totals for the run: a resumed run counts the steps and minutes it has already done,
    so `--resume --steps N` trains up to step N (and can extend a finished run). With neither budget
    the backend trains for its own default. `None` for batch size or segment means the backend's default.
    """

    audio_files: tuple[Path, ...]  # the model's training recordings (its held-out files excluded)
    mel_spec: MelSpec  # the model's recipe: what the trained vocoder will be fed
    checkpoint_dir: Path  # the backend's own folder for checkpoints, apart from the model file
    steps: int | None = None
    minutes: float | None = None
    batch_size: int | None = None
    segment: int | None = None  # audio samples per training example
    device: str = "cpu"
    seed: int = 0
    resume: bool = False  # continue from the checkpoint in `checkpoint_dir`
    from_scratch: bool = False  # ignore the backend's pretrained starting point, where it has one
    checkpoint_every: int | None = None  # steps between checkpoints; None: the backend's default
    # log-mel [n_mels, frames] -> the model's own VAE reconstruction of it, so a backend can learn to
    # render what the VAE actually produces; None when no VAE is at hand.
    reconstruct: Callable[[torch.Tensor], torch.Tensor] | None = None
    fingerprint: str = ""  # of the corpus; a backend refuses to resume a checkpoint of other audio
    model_id: str = ""  # likewise for a checkpoint of another (or a retrained) model
    progress: StepProgress | None = None
    # Set by the command on Ctrl-C: the backend saves a checkpoint after the current step and raises
    # VocoderTrainingInterrupted.
    stop: threading.Event | None = None

    def __attrs_post_init__(self) -> None:  # a budget of steps or minutes, never both: the API checks it
        if not self.audio_files:
            raise DistillError("a vocoder needs at least one training recording")


VocoderTrainingInterrupted = Interrupted  # what `train` raises after checkpointing when `run.stop` is set


@runtime_checkable
class TrainableVocoder(Protocol):
    """A backend that learns a per-model state from the model's own recordings (`kind = "per-model"`).

    `distill train-vocoder` scans the corpus, builds the run, calls `train` and bundles the returned
    state into the model file. The state holds only what `load` needs; checkpoints (optimisers,
    discriminators, ...) stay in `run.checkpoint_dir`.
    """

    name: ClassVar[str]

    @classmethod
    def train(cls, run: VocoderTrainingRun) -> VocoderState:
        """Train (or resume) as `run` says and return the state to bundle into the model.

        Puts "steps" (int) and "seconds" (training time) in the state's `training` metadata; raises
        VocoderTrainingInterrupted after checkpointing when `run.stop` is set.
        """
        ...


def weights_status(backend: type[VocoderBase]) -> str:
    """Whether a backend's weights are here, in words: "present", "not downloaded", "not needed", or
    "per model" for a backend trained per model."""
    if backend.kind != "universal":
        return "per model"
    return {None: "not needed", True: "present", False: "not downloaded"}[backend.weights_present()]


def trainable(backend: type[VocoderBase]) -> bool:
    """Whether a registered backend can be trained per model."""
    return backend.kind == "per-model" and callable(getattr(backend, "train", None))
