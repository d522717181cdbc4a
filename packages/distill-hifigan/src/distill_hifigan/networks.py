"""HiFi-GAN V2 networks, written for distill: the generator, the multi-period and multi-scale
discriminators, and the analytic parameter count the tests check the modules against.

Module and parameter names and shapes follow the published HiFi-GAN code (conv_pre, ups.i,
resblocks.k.convs1.j, conv_post), so a folded generator's state dict reads like any HiFi-GAN
checkpoint. The generator's 1-D convolutions run as 2-D ones over [B, C, 1, T] in channels-last
layout: oneDNN's kernels for that layout are ~1.7x faster here, forward and backward
(tests/bench/bench_hifigan.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from .config import DiscriminatorConfig, GeneratorConfig


def _padding(kernel: int, dilation: int = 1) -> int:
    return dilation * (kernel - 1) // 2


class Conv1d(nn.Conv1d):
    """A Conv1d (same parameters) that computes on [B, C, 1, T] channels-last tensors."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        padding = self.padding[0] if isinstance(self.padding, tuple) else 0
        return F.conv2d(x, weight.unsqueeze(2), bias, (1, self.stride[0]), (0, padding), (1, self.dilation[0]),
                        self.groups)


class ConvTranspose1d(nn.ConvTranspose1d):
    """A ConvTranspose1d (same parameters) that computes on [B, C, 1, T] channels-last tensors."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        padding = self.padding[0] if isinstance(self.padding, tuple) else 0
        return F.conv_transpose2d(x, self.weight.unsqueeze(2), self.bias, (1, self.stride[0]), (0, padding),
                                  (0, self.output_padding[0]), self.groups, (1, self.dilation[0]))


def as_rows(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T] -> [B, C, 1, T], channels-last: the layout the generator computes in."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _init(module: nn.Module) -> None:
    # HiFi-GAN starts its convolutions small (N(0, 0.01)): the untrained generator outputs near-silence.
    if isinstance(module, nn.Conv1d | nn.ConvTranspose1d):
        module.weight.data.normal_(0.0, 0.01)


class ResBlock(nn.Module):
    """HiFi-GAN "resblock 1": pairs of (dilated conv, conv), each pair a residual step."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...], slope: float) -> None:
        super().__init__()
        self.slope = slope
        self.convs1 = nn.ModuleList(
            weight_norm(Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d)))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            weight_norm(Conv1d(channels, channels, kernel, padding=_padding(kernel))) for _ in dilations
        )
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2 in zip(self.convs1, self.convs2, strict=True):
            x = x + conv2(F.leaky_relu(conv1(F.leaky_relu(x, self.slope)), self.slope))
        return x


class Generator(nn.Module):
    """Log-mels [B, n_mels, T] -> waveform [B, 1, T * hop] in [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.conv_pre = weight_norm(Conv1d(config.n_mels, c, 7, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(config.upsample_rates, config.upsample_kernels, strict=True)):
            channels = c // 2 ** (i + 1)
            self.ups.append(
                weight_norm(ConvTranspose1d(c // 2**i, channels, kernel, rate, padding=(kernel - rate) // 2))
            )
            for kernel_size, dilations in zip(config.resblock_kernels, config.resblock_dilations, strict=True):
                self.resblocks.append(ResBlock(channels, kernel_size, dilations, config.slope))
        self.conv_post = weight_norm(Conv1d(c // 2 ** len(config.upsample_rates), 1, 7, padding=3))
        self.ups.apply(_init)
        self.conv_post.apply(_init)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        slope, kernels = self.config.slope, len(self.config.resblock_kernels)
        x = self.conv_pre(as_rows(mel))
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, slope))
            blocks = self.resblocks[i * kernels : (i + 1) * kernels]
            mixed = blocks[0](x)
            for block in blocks[1:]:
                mixed = mixed + block(x)
            x = mixed / kernels
        # The published generator uses leaky ReLU's default slope (0.01) here, not 0.1: kept for fidelity.
        return torch.tanh(self.conv_post(F.leaky_relu(x))).squeeze(2)


def fold_weight_norm(module: nn.Module) -> nn.Module:
    """Replace every weight-norm parametrisation by the plain weight it computes (for inference)."""
    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
    return module


def inference_generator(config: GeneratorConfig, weights: dict[str, torch.Tensor]) -> Generator:
    """A generator built from folded weights (conv_pre.weight, ...), in eval mode."""
    generator = Generator(config)
    fold_weight_norm(generator)
    generator.load_state_dict(weights)
    return generator.eval().requires_grad_(False)


# -- discriminators ---------------------------------------------------------------------------------
def _width(base: int, width: float, multiple: int = 1) -> int:
    return max(multiple, round(base * width / multiple) * multiple)


def _score(disc: PeriodDiscriminator | ScaleDiscriminator, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A sub-discriminator's score and its feature maps (every layer's output, for feature matching)."""
    features = []
    for conv in disc.convs:
        x = F.leaky_relu(conv(x), disc.slope)
        features.append(x)
    x = disc.conv_post(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    """Looks at the waveform folded into `period` columns: 2-D convolutions along time only."""

    def __init__(self, period: int, width: float, slope: float) -> None:
        super().__init__()
        self.period, self.slope = period, slope
        channels = [1] + [_width(c, width) for c in (32, 128, 512, 1024, 1024)]
        strides = (3, 3, 3, 3, 1)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(channels[i], channels[i + 1], (5, 1), (strides[i], 1), padding=(2, 0)))
            for i in range(5)
        )
        self.conv_post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, _, length = wave.shape
        if length % self.period:
            pad = self.period - length % self.period
            wave = F.pad(wave, (0, pad), mode="reflect")
            length += pad
        return _score(self, wave.view(batch, 1, length // self.period, self.period))


class ScaleDiscriminator(nn.Module):
    """Grouped 1-D convolutions over the waveform (or an average-pooled version of it)."""

    LAYERS = ((128, 15, 1, 1), (128, 41, 2, 4), (256, 41, 2, 16), (512, 41, 4, 16), (1024, 41, 4, 16),
              (1024, 41, 1, 16), (1024, 5, 1, 1))  # (channels, kernel, stride, groups)  # fmt: skip

    def __init__(self, width: float, slope: float, spectral: bool = False) -> None:
        super().__init__()
        self.slope = slope
        norm = spectral_norm if spectral else weight_norm
        convs, channels = [], 1
        for base, kernel, stride, groups in self.LAYERS:
            out = _width(base, width, 16)
            convs.append(norm(nn.Conv1d(channels, out, kernel, stride, groups=groups, padding=_padding(kernel))))
            channels = out
        self.convs = nn.ModuleList(convs)
        self.conv_post = norm(nn.Conv1d(channels, 1, 3, 1, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _score(self, wave)


class Discriminators(nn.Module):
    """MPD + MSD: every sub-discriminator's score and feature maps for a waveform batch [B, 1, L]."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.periods = nn.ModuleList(PeriodDiscriminator(p, config.width, config.slope) for p in config.periods)
        self.scales = nn.ModuleList(
            ScaleDiscriminator(config.width, config.slope, spectral=i == 0) for i in range(config.scales)
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, wave: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        scores, features = [], []
        for period in self.periods:
            score, maps = period(wave)
            scores.append(score)
            features.append(maps)
        for i, scale in enumerate(self.scales):
            if i:
                wave = self.pool(wave)
            score, maps = scale(wave)
            scores.append(score)
            features.append(maps)
        return scores, features
