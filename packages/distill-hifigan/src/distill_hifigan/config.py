"""The HiFi-GAN V2 architecture for distill's mel recipe, as JSON-friendly data (stored in the model file).

No torch here: the CLI and the auto-selector read it without loading networks.
"""

from __future__ import annotations

from typing import Any

import attrs
from distill.plugin import DISTILL_MEL


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(_tuple(v) if isinstance(v, list | tuple) else v for v in value)


@attrs.frozen
class GeneratorConfig:
    """HiFi-GAN V2 for 128 mels, hop 512 at 44.1 kHz: upsampling rates multiply to the hop length."""

    n_mels: int = DISTILL_MEL.n_mels
    channels: int = 128  # after conv_pre; halves at each upsampling stage
    upsample_rates: tuple[int, ...] = attrs.field(default=(8, 8, 4, 2), converter=_tuple)
    upsample_kernels: tuple[int, ...] = attrs.field(default=(16, 16, 8, 4), converter=_tuple)
    resblock_kernels: tuple[int, ...] = attrs.field(default=(3, 7, 11), converter=_tuple)
    resblock_dilations: tuple[tuple[int, ...], ...] = attrs.field(default=((1, 3, 5),) * 3, converter=_tuple)
    slope: float = 0.1  # leaky ReLU

    def __attrs_post_init__(self) -> None:
        if len(self.upsample_rates) != len(self.upsample_kernels):
            raise ValueError("one transposed-convolution kernel per upsampling rate")
        if len(self.resblock_kernels) != len(self.resblock_dilations):
            raise ValueError("one dilation list per residual-block kernel")
        if self.channels % 2 ** len(self.upsample_rates):
            raise ValueError("channels must halve evenly at every upsampling stage")

    @property
    def hop_length(self) -> int:
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        return cls(**data)


@attrs.frozen
class DiscriminatorConfig:
    """MPD (periods) and MSD (scales) as in HiFi-GAN; `width` scales every hidden channel count.

    Full width (1.0) is ~70 M parameters and ~100x the generator's compute: see `VocoderSettings.disc_width`.
    """

    periods: tuple[int, ...] = attrs.field(default=(2, 3, 5, 7, 11), converter=_tuple)
    scales: int = 3
    width: float = 1.0
    slope: float = 0.1
