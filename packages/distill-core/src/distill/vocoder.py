"""The vocoder contract: what a backend plugin implements so distill can turn mels into audio.

A backend is a `VocoderBase` subclass registered through the `register_vocoders` hook. Its class
attributes describe it without loading anything heavy (the CLI lists backends without importing
torch); `load()` builds a ready instance, optionally from a state bundled in a model file.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import attrs

from .errors import DistillError
from .melspec import MelSpec

if TYPE_CHECKING:
    import torch

VocoderKind = Literal["universal", "per-model"]
DownloadProgress = Callable[[str, int, int], None]
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
    def state_warning(cls, state: VocoderState) -> str | None:
        """A warning about a bundled state (for example: trained too briefly), or None."""
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


ProgressCallback = Callable[[int, int, Mapping[str, float]], None]


@runtime_checkable
class TrainableVocoder(Protocol):
    """A backend that learns a per-model state from the model's own recordings."""

    name: ClassVar[str]

    @classmethod
    def train(
        cls,
        audio_files: Sequence[Path],
        *,
        mel_spec: MelSpec,
        steps: int,
        device: str = "cpu",
        seed: int = 0,
        checkpoint_dir: Path | None = None,
        progress: ProgressCallback | None = None,
    ) -> VocoderState:
        """Train on `audio_files` and return the state to bundle into the model."""
        ...
