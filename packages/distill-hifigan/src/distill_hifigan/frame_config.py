"""The frame-rate generator's architecture as JSON-friendly data (stored beside its weights). No torch here."""

from __future__ import annotations

from typing import Any

import attrs
from distill.plugin import DISTILL_MEL

from .config import GeneratorConfig

ARCHITECTURE = "frame"  # the `architecture` a state's config names; HiFi-GAN V2 states name "hifigan-v2"


@attrs.frozen
class FrameGeneratorConfig:
    """A Vocos-style generator: ConvNeXt blocks at the mel frame rate, then an inverse STFT.

    The magnitude is the mel filterbank's pseudo-inverse applied to the input (FreeV's prior) times a
    learnt correction, so a louder input gives a proportionally louder output by construction; the
    phase is summed over time from a predicted advance per frame (see frame_generator.py). Nothing
    upsamples, so no stage can leave a periodic artefact.
    """

    n_mels: int = DISTILL_MEL.n_mels
    n_fft: int = DISTILL_MEL.n_fft
    hop_length: int = DISTILL_MEL.hop_length
    dim: int = 256
    intermediate: int = 768
    layers: int = 6
    kernel: int = 7

    def __attrs_post_init__(self) -> None:
        if self.hop_length < 1 or self.n_fft % self.hop_length:
            raise ValueError("n_fft must be a whole multiple of hop_length (the overlap-add adds whole hops)")

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def to_dict(self) -> dict[str, Any]:
        return {"architecture": ARCHITECTURE, **attrs.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameGeneratorConfig:
        fields = dict(data)
        if fields.pop("architecture", ARCHITECTURE) != ARCHITECTURE:
            raise ValueError(f"not a {ARCHITECTURE!r} generator config")
        return cls(**fields)


def generator_config_from_dict(data: dict[str, Any]) -> GeneratorConfig | FrameGeneratorConfig:
    """Either architecture's config, as stored in a checkpoint or a model's state (HiFi-GAN V2 names none)."""
    if data.get("architecture") == ARCHITECTURE:
        return FrameGeneratorConfig.from_dict(data)
    return GeneratorConfig.from_dict(data)
