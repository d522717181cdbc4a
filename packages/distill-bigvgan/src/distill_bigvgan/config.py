"""The generator's configuration, read from a BigVGAN `config.json`, and what distill requires of it."""

from __future__ import annotations

import math
from typing import Any

import attrs
from distill.plugin import DISTILL_MEL, DistillError, MelSpec

# What this implementation builds: BigVGAN-v2's generator ("resblock 1" AMP blocks, log-scale SnakeBeta).
REQUIRED = {"resblock": "1", "activation": "snakebeta", "snake_logscale": True}


@attrs.frozen
class GeneratorConfig:
    num_mels: int
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    use_tanh_at_final: bool = False
    use_bias_at_final: bool = False

    @property
    def channels(self) -> list[int]:
        """Channels after conv_pre and after each upsampling stage."""
        return [self.upsample_initial_channel // 2**i for i in range(len(self.upsample_rates) + 1)]

    @property
    def hop(self) -> int:
        return math.prod(self.upsample_rates)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> GeneratorConfig:
        """Validated config; a DistillError names `source` and what is wrong with it."""
        for key, wanted in REQUIRED.items():
            if data.get(key) != wanted:
                raise DistillError(
                    f"{source}: {key} = {data.get(key)!r} is not supported; distill-bigvgan builds the "
                    f"BigVGAN-v2 generator ({', '.join(f'{k}={v!r}' for k, v in REQUIRED.items())})"
                )
        try:
            config = cls(
                num_mels=int(data["num_mels"]),
                upsample_rates=tuple(int(r) for r in data["upsample_rates"]),
                upsample_kernel_sizes=tuple(int(k) for k in data["upsample_kernel_sizes"]),
                upsample_initial_channel=int(data["upsample_initial_channel"]),
                resblock_kernel_sizes=tuple(int(k) for k in data["resblock_kernel_sizes"]),
                resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in data["resblock_dilation_sizes"]),
                use_tanh_at_final=bool(data.get("use_tanh_at_final", True)),  # upstream's defaults
                use_bias_at_final=bool(data.get("use_bias_at_final", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DistillError(f"{source}: not a BigVGAN generator config ({type(exc).__name__}: {exc})") from None
        problem = config._problem()
        if problem:
            raise DistillError(f"{source}: {problem}")
        return config

    def _problem(self) -> str | None:
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes) or not self.upsample_rates:
            return "upsample_rates and upsample_kernel_sizes must be non-empty lists of the same length"
        for rate, kernel in zip(self.upsample_rates, self.upsample_kernel_sizes, strict=True):
            if rate < 1 or kernel < rate or (kernel - rate) % 2:
                return f"upsampling kernel {kernel} does not fit rate {rate} (kernel >= rate, same parity)"
        if self.upsample_initial_channel % 2 ** len(self.upsample_rates) or self.channels[-1] < 1:
            return f"upsample_initial_channel {self.upsample_initial_channel} cannot halve at every stage"
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes) or not self.resblock_kernel_sizes:
            return "resblock_kernel_sizes and resblock_dilation_sizes must be non-empty lists of the same length"
        if any(k % 2 == 0 for k in self.resblock_kernel_sizes):
            return "resblock kernels must be odd"
        return None


def mel_spec_of(data: dict[str, Any]) -> MelSpec:
    """The mel recipe a BigVGAN config.json describes (BigVGAN's front end: reflect padding, ln, magnitude)."""
    return MelSpec(
        sample_rate=int(data["sampling_rate"]),
        n_fft=int(data["n_fft"]),
        win_length=int(data["win_size"]),
        hop_length=int(data["hop_size"]),
        n_mels=int(data["num_mels"]),
        fmin=float(data.get("fmin") or 0.0),
        fmax=None if data.get("fmax") in (None, data["sampling_rate"] / 2) else float(data["fmax"]),
    )


def check_distill_recipe(data: dict[str, Any], config: GeneratorConfig, source: str) -> None:
    """distill feeds this vocoder DISTILL_MEL: a model trained on another recipe would render garbage."""
    try:
        recipe = mel_spec_of(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise DistillError(f"{source}: missing or invalid mel settings ({type(exc).__name__}: {exc})") from None
    if recipe != DISTILL_MEL:
        raise DistillError(
            f"{source} describes a vocoder for another mel recipe ({recipe.describe()}, fmin {recipe.fmin:g}, "
            f"fmax {recipe.fmax_hz:g}); distill-bigvgan needs {DISTILL_MEL.describe()}, "
            "as nvidia/bigvgan_v2_44khz_128band_512x uses"
        )
    if config.hop != recipe.hop_length:
        raise DistillError(f"{source}: upsample_rates multiply to {config.hop}, not hop_size {recipe.hop_length}")
