"""What to train: the settings of a run and the presets that choose them from the corpus size.

No torch here: the CLI reads these choices at start-up.
"""

from __future__ import annotations

import math

import attrs

from .errors import DistillError
from .melspec import DISTILL_MEL

PRESETS = ("auto", "sketch", "conservative", "balanced", "aggressive")
SKETCH_STEPS = 400  # about a minute on 2 CPU cores for a small corpus (docs/benchmarks.md)


@attrs.frozen
class VAESettings:
    steps: int
    batch_size: int = 16
    lr: float = 1e-3
    kl_weight: float = 0.01
    channels: int = 128
    latent_dim: int = 16
    downsample: int = 8
    segment_frames: int = 128  # 1.5 s of audio per training example
    seed: int = 0
    checkpoint_every: int = 200
    augment: bool = True  # random gain and small mel-axis shifts: see training.augment
    conditions: int = 5  # qualities the decoder is told (conditioning.py); 0: runs started before them

    def vae_config(self) -> dict[str, int]:
        config = {"n_mels": DISTILL_MEL.n_mels, "channels": self.channels, "latent_dim": self.latent_dim,
                  "downsample": self.downsample}
        return {**config, "conditions": self.conditions} if self.conditions else config


def preset_settings(preset: str, corpus_seconds: float) -> tuple[str, VAESettings]:
    """Settings for a preset, scaled to the amount of audio; `auto` picks the preset by corpus size."""
    if preset == "auto":
        preset = "conservative" if corpus_seconds < 30 else "aggressive" if corpus_seconds > 1800 else "balanced"
    if preset == "sketch":  # a first listen: is this corpus worth a longer run? Never picked by auto
        return preset, VAESettings(steps=SKETCH_STEPS, channels=96, kl_weight=0.02)
    if preset == "conservative":  # tiny corpora: a smaller network, stronger regularisation
        steps = min(3000, 600 + int(4 * corpus_seconds))
        return preset, VAESettings(steps=steps, channels=96, kl_weight=0.02)
    if preset == "balanced":
        return preset, VAESettings(steps=min(6000, 1000 + int(6 * corpus_seconds)))
    if preset == "aggressive":
        return preset, VAESettings(steps=min(20000, 3000 + int(8 * corpus_seconds)), channels=160, lr=8e-4)
    raise DistillError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")


def steps_for_epochs(epochs: float, train_frames: int, settings: VAESettings) -> int:
    """An epoch is as many steps as it takes to draw the training audio's length in segments once."""
    per_epoch = max(1, math.ceil(train_frames / (settings.segment_frames * settings.batch_size)))
    return max(1, math.ceil(epochs * per_epoch))
