"""The `hifigan` backend: a per-model HiFi-GAN V2 whose generator is bundled in the model file."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from distill.errors import DistillError
from distill.melspec import DISTILL_MEL
from distill.vocoder import VocoderBase, VocoderState, VocoderTrainingRun

from . import __version__
from .config import GeneratorConfig
from .settings import ENOUGH_STEPS

if TYPE_CHECKING:
    import torch


class HiFiGAN(VocoderBase):
    name = "hifigan"
    kind = "per-model"
    mel_spec = DISTILL_MEL
    priority = 10
    description = "HiFi-GAN V2 trained on this model's own recordings (distill train-vocoder)"
    # The generator sees 13 frames each way (27 in all). The crossfade spans the whole overlap, so its
    # ends weigh in a window's edge frames, which lack context: an overlap of ~4.7x the receptive field
    # keeps their weight small (windowed vs single pass: below -70 dB, tests/test_hifigan_networks.py);
    # windows of 1024 frames (12 s) keep the overlap's cost at 12.5 %.
    window_frames: ClassVar[int] = 1024
    overlap_frames: ClassVar[int] = 128

    def __init__(self, generator: torch.nn.Module, state: VocoderState, device: str = "cpu") -> None:
        super().__init__(device)
        self.generator = generator
        self.state = state

    @classmethod
    def load(cls, state: VocoderState | None = None, device: str = "cpu") -> HiFiGAN:
        from .fast import FastGenerator
        from .networks import inference_generator

        if state is None:
            raise DistillError("hifigan is trained per model and this model has none: run "
                               "`distill train-vocoder MODEL --backend hifigan` first")
        if state.mel_spec is not None and state.mel_spec != cls.mel_spec:
            raise DistillError("this model's hifigan state was trained on another mel recipe; retrain it with "
                               "`distill train-vocoder MODEL --backend hifigan --restart`")
        try:
            config = GeneratorConfig.from_dict(state.config["generator"])
            generator = FastGenerator(inference_generator(config, state.weights))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise DistillError(f"the bundled hifigan state is damaged ({type(exc).__name__}: {exc}); retrain it "
                               "with `distill train-vocoder MODEL --backend hifigan --restart`") from None
        return cls(generator.to(device), state, device)

    @classmethod
    def state_warning(cls, state: VocoderState) -> str | None:
        steps = int(state.training.get("steps", 0))
        if steps >= ENOUGH_STEPS:
            return None
        return (f"the bundled hifigan vocoder was trained for only {steps} steps (under {ENOUGH_STEPS}): quality may "
                f"be limited; train further with `distill train-vocoder MODEL --resume --steps {max(3000, 2 * steps)}`")

    def to(self, device: str) -> HiFiGAN:
        self.generator.to(device)
        self.device = device
        return self

    def render(self, mel: torch.Tensor) -> torch.Tensor:
        import torch

        from .denormals import flush_denormals

        with torch.inference_mode(), flush_denormals():
            return self.generator(mel.to(self.device, torch.float32))[:, 0]

    @classmethod
    def train(cls, run: VocoderTrainingRun) -> VocoderState:
        """TrainableVocoder: train (or resume) on the model's recordings; returns the inference state."""
        from .trainer import train_state

        if run.mel_spec != cls.mel_spec:
            raise DistillError(f"hifigan trains on distill's mel recipe ({cls.mel_spec.describe()}); this model "
                               f"uses {run.mel_spec.describe()}")
        return train_state(run, __version__)
