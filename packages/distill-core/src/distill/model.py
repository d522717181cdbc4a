"""A trained distill model in memory: everything the `.distill` file holds (see modelfile.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .melspec import MelSpec
from .plugin.contract import VocoderState

if TYPE_CHECKING:
    import torch

    from .sliders import SliderAnalysis


@attrs.define(eq=False)
class PriorState:
    """The learned prior over latent sequences (distill.prior), as stored: absent in models made
    before format 3, which generate with the Gaussian prior."""

    kind: str  # distill.prior.KIND
    config: dict[str, Any]  # keyword arguments of distill.prior.LatentPrior
    training: dict[str, Any]  # steps, best step, held-out NLL, seconds
    tensors: dict[str, torch.Tensor]  # TrainedPrior.tensors()


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
    prior: PriorState | None = None
    created: str = ""  # ISO 8601, UTC
    distill_version: str = ""
