"""A trained distill model in memory: everything the `.distill` file holds (see modelfile.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .melspec import MelSpec
from .vocoders.contract import VocoderState

if TYPE_CHECKING:
    import torch

@attrs.define
class Slider:
    """One musical control: an offset along a principal direction of the latent space."""

    name: str  # e.g. "brightness", or "axis 3" when no audio feature explains it
    component: int  # row of SliderAnalysis.components
    low: float  # safe range, from percentiles of the encoded corpus
    high: float
    default: float  # the corpus mean: leaves the sound unchanged
    explained_variance: float  # fraction of latent variance along this direction
    correlations: dict[str, float] = attrs.field(factory=dict)  # audio feature -> Pearson r


@attrs.define(eq=False)
class SliderAnalysis:
    """PCA of the encoded corpus: the sliders, and the Gaussian that prior sampling draws from."""

    sliders: list[Slider]
    components: torch.Tensor  # [latent_dim, latent_dim]: every principal direction, unit rows, by variance
    center: torch.Tensor  # [latent_dim], mean of the encoded corpus
    scales: torch.Tensor  # [latent_dim], standard deviation of the corpus along each component

    def by_name(self, key: str) -> Slider:
        """A slider by name or by index (as a string or an int)."""
        from .errors import DistillError

        for i, slider in enumerate(self.sliders):
            if key in (slider.name, str(i)):
                return slider
        valid = ", ".join(f"{i}={s.name!r}" for i, s in enumerate(self.sliders))
        raise DistillError(f"unknown slider {key!r}; this model's sliders: {valid}")


@attrs.define(eq=False)
class DistillModel:
    name: str
    id: str  # 12 hex digits, assigned when training starts
    mel_spec: MelSpec
    vae_config: dict[str, Any]  # keyword arguments of distill.vae.MelVAE
    vae_weights: dict[str, torch.Tensor]  # MelVAE.state_dict(), normalisation statistics included
    sliders: SliderAnalysis
    training: dict[str, Any]  # corpus name/path, files, seconds, steps, losses, seed, dates, versions
    vocoder_state: dict[str, VocoderState] = attrs.field(factory=dict)
    created: str = ""  # ISO 8601, UTC
    distill_version: str = ""
