"""The backends, each its own class over the rendering they share (GeneratorVocoder): `hifigan`
(FineTunedVocoder), a per-model generator bundled in the model file (the frame-rate generator
fine-tuned from the base, or a HiFi-GAN V2 trained from scratch), and `hifigan-base` (PretrainedBase),
the shipped pretrained frame-rate generator that renders any model in distill's recipe with no
training. The backend names are what users type and model files and sidecars record, so they stay."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from distill.plugin import (
    DISTILL_MEL,
    DistillError,
    Fix,
    Hint,
    MelReader,
    VocoderBase,
    VocoderKind,
    VocoderState,
    VocoderTrainingRun,
)

from . import __version__
from .settings import BASE_REFINE_ITERATIONS, ENOUGH_STEPS

if TYPE_CHECKING:
    import torch


class GeneratorVocoder(VocoderBase):
    """Rendering with one of this package's generators (the frame-rate generator or HiFi-GAN V2): what
    the two backends share. Not registered itself."""

    mel_spec = DISTILL_MEL
    # HiFi-GAN V2 sees 13 frames each way. A 16-frame crossfade centred in a 128-frame overlap uses each
    # window only where it has 56 frames of context, so windowed rendering equals a single pass
    # (test_hifigan_networks.py); windows of 1024 frames (12 s) keep the overlap's cost at 12.5 %. The
    # frame-rate generator streams a clip itself (its phase runs across the clip): see `stream`.
    window_frames: ClassVar[int] = 1024
    overlap_frames: ClassVar[int] = 128
    crossfade_frames: ClassVar[int | None] = 16
    refine_iterations: ClassVar[int] = 0  # Griffin-Lim iterations after the generator (the base's)

    def __init__(self, generator: torch.nn.Module, state: VocoderState, device: str = "cpu") -> None:
        super().__init__(device)
        self.generator = generator
        self.state = state

    def to(self, device: str) -> GeneratorVocoder:
        self.generator.to(device)
        self.device = device
        return self

    def render(self, mel: torch.Tensor) -> torch.Tensor:
        import torch

        from .denormals import flush_denormals
        from .frame_generator import FrameGenerator

        with torch.inference_mode(), flush_denormals():
            mel = mel.to(self.device, torch.float32)
            if isinstance(self.generator, FrameGenerator):
                return torch.cat(list(self.generator.stream(mel, refine=self.refine_iterations)), dim=-1)
            return self.generator(mel)[:, 0]

    def stream(self, mel: Iterable[torch.Tensor], frames: int) -> Iterator[torch.Tensor]:
        """The frame-rate generator's phase is a running sum across the clip, so windows rendered apart and
        crossfaded would not join: it streams the clip itself, carrying that sum from chunk to chunk
        (512 frames, 6 s of audio, each)."""
        import torch

        from .denormals import flush_denormals
        from .frame_generator import FrameGenerator

        if not isinstance(self.generator, FrameGenerator):
            yield from super().stream(mel, frames)
            return
        reader = MelReader(chunk.to(self.device, torch.float32) for chunk in mel)
        with torch.inference_mode(), flush_denormals():
            for wave in self.generator.stream(reader, refine=self.refine_iterations, frames=frames):
                yield wave[0].cpu()


class FineTunedVocoder(GeneratorVocoder):
    """`hifigan`: a generator trained on one model's recordings and bundled into it (`distill
    train-vocoder`): by default the base fine-tuned, or a HiFi-GAN V2 trained from scratch."""

    name = "hifigan"
    kind: ClassVar[VocoderKind] = "per-model"
    priority = 10
    description = "a vocoder fine-tuned on this model's own recordings (distill train-vocoder)"

    @classmethod
    def load(cls, state: VocoderState | None = None, device: str = "cpu") -> FineTunedVocoder:
        from .fast import FastGenerator
        from .frame_config import FrameGeneratorConfig, generator_config_from_dict
        from .frame_generator import frame_generator
        from .networks import inference_generator

        if state is None:
            raise DistillError("hifigan is trained per model and this model has none", Fix("train-vocoder", "hifigan"))
        if state.mel_spec is not None and state.mel_spec != cls.mel_spec:
            raise DistillError("this model's hifigan state was trained on another mel recipe",
                               Fix("retrain-vocoder", "hifigan"))
        try:
            config = generator_config_from_dict(state.config["generator"])
            if isinstance(config, FrameGeneratorConfig):
                return cls(frame_generator(config, cls.mel_spec.filterbank(), state.weights).eval().to(device),
                           state, device)
            generator = FastGenerator(inference_generator(config, state.weights))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise DistillError(f"the bundled hifigan state is damaged ({type(exc).__name__}: {exc})",
                               Fix("retrain-vocoder", "hifigan")) from None
        return cls(generator.to(device), state, device)

    @classmethod
    def state_warning(cls, state: VocoderState) -> Hint | None:
        steps = int(state.training.get("steps", 0))
        if steps >= ENOUGH_STEPS or state.training.get("from") == "base":  # fine-tuning starts good
            return None
        return Hint(f"the bundled hifigan vocoder was trained for only {steps} steps (under {ENOUGH_STEPS}): quality "
                    "may be limited", Fix("train-more", str(max(3000, 2 * steps))))

    @classmethod
    def train(cls, run: VocoderTrainingRun) -> VocoderState:
        """TrainableVocoder: train (or resume) on the model's recordings; returns the inference state."""
        from .trainer import train_state

        if run.mel_spec != cls.mel_spec:
            raise DistillError(f"hifigan trains on distill's mel recipe ({cls.mel_spec.describe()}); this model "
                               f"uses {run.mel_spec.describe()}")
        return train_state(run, __version__)


class PretrainedBase(GeneratorVocoder):
    """`hifigan-base`: the pretrained frame-rate generator shipped in the package, so every model in
    distill's recipe gets an offline neural vocoder with no training. Not trainable itself (`distill
    train-vocoder` fine-tunes a copy of it into the model as `hifigan`)."""

    name = "hifigan-base"
    kind: ClassVar[VocoderKind] = "universal"
    priority = 50  # below BigVGAN (100) when its weights are present
    refine_iterations = BASE_REFINE_ITERATIONS
    description = "the pretrained base vocoder shipped with distill-hifigan: any model, offline, no training"

    @classmethod
    def weights_present(cls) -> bool:
        from .base import base_present

        return base_present()

    @classmethod
    def load(cls, state: VocoderState | None = None, device: str = "cpu") -> PretrainedBase:
        from .base import load_base
        from .frame_generator import frame_generator

        if state is not None:
            raise DistillError("hifigan-base is universal and takes no bundled state")
        config, weights, provenance = load_base()
        base_state = VocoderState(backend=cls.name, version=__version__, config={"generator": config.to_dict()},
                                  training=provenance)
        return cls(frame_generator(config, cls.mel_spec.filterbank(), weights).eval().to(device), base_state, device)



HiFiGAN, HiFiGANBase = FineTunedVocoder, PretrainedBase  # their names before (scripts import them)
