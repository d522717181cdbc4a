"""How the per-model vocoders train on CPU-sized budgets: HiFi-GAN V2 from scratch, and the frame-rate
generator fine-tuned from the base. The measurements behind every choice are in docs/benchmarks.md
(tests/bench/bench_hifigan.py, bench_base.py). No torch here."""

from __future__ import annotations

from typing import Any

import attrs

DEFAULT_STEPS = 3000
# Steps below which a bundled HiFi-GAN V2 (from scratch) carries a warning: its held-out error still falls
# fast there (docs/benchmarks.md). A state fine-tuned from the base starts good and carries none.
ENOUGH_STEPS = 2000
# Fast Griffin-Lim iterations from the base's own phase, over the pseudo-inverse magnitude, when the base
# renders: the fewest that beat Griffin-Lim-32 on real recordings (docs/benchmarks.md).
BASE_REFINE_ITERATIONS = 8


@attrs.frozen
class VocoderSettings:
    batch_size: int = 8
    segment: int = 8192  # samples: 16 mel frames at hop 512
    lr: float = 2e-4
    warmup_lr: float = 1e-3  # the generator-only warm-up is a plain regression: it takes a larger step
    betas: tuple[float, float] = attrs.field(default=(0.8, 0.99), converter=tuple)
    lr_decay: float = 0.99999  # per step (HiFi-GAN's 0.999 per epoch, for ~100-step epochs)
    warmup_fraction: float = 0.5  # of the budget spent generator-only (mel + multi-resolution STFT)
    disc_width: float = 0.125  # of HiFi-GAN's discriminator channels: full width is ~100x the generator's cost
    mel_weight: float = 45.0
    feature_weight: float = 2.0
    stft_weight: float = 20.0  # warm-up only, beside the mel term
    phase_weight: float = 10.0  # the frame-rate generator's phase terms (APNet's anti-wrapped losses)
    vae_fraction: float = 0.25  # examples whose input mel is the model's VAE reconstruction
    gain_db: float = 12.0  # random level change, downwards (and up while the peak stays below -0.1 dBFS)
    polarity: bool = True  # random sign flip: the mel cannot tell, so neither should the vocoder
    disc_noise: float = 1e-3  # std of Gaussian noise added to every discriminator input
    seed: int = 0
    checkpoint_every: int = 200

    def __attrs_post_init__(self) -> None:
        if self.segment % 512 or self.segment < 2048:
            raise ValueError("segment must be a multiple of 512 samples, at least 2048")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "betas": list(self.betas)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VocoderSettings:
        return cls(**data)


# Fine-tuning the frame-rate generator from the shipped base: regression only (no discriminators), at a
# fraction of the pretraining rate so the base's general knowledge is refined, not overwritten.
FINETUNE = VocoderSettings(batch_size=8, segment=64 * 512, lr=5e-5, warmup_lr=5e-5, lr_decay=1.0, warmup_fraction=1.0,
                         polarity=False)
