"""The frame-rate generator (Vocos' design with FreeV's magnitude prior): ConvNeXt blocks on the mel
frames, a linear head that predicts a log-magnitude correction and a phase for every STFT bin, and an
inverse STFT laid out exactly like distill's analysis frames, so resynthesis needs no shift or trim.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .frame_config import FrameGeneratorConfig

MAX_LOG_MAGNITUDE = 8.0  # e^8 ≈ 2981: above any real STFT magnitude of [-1, 1] audio at n_fft 2048


class ConvNeXtBlock(nn.Module):
    """Depthwise convolution over time, then a per-frame MLP, as a scaled residual step."""

    def __init__(self, dim: int, intermediate: int, kernel: int, scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class FrameGenerator(nn.Module):
    """Log-mels [B, n_mels, T] -> waveform [B, 1, T * hop], frame t centred on sample t * hop + hop / 2."""

    def __init__(self, config: FrameGeneratorConfig, filterbank: torch.Tensor) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Conv1d(c.n_mels, c.dim, c.kernel, padding=c.kernel // 2)
        self.norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(c.dim, c.intermediate, c.kernel, 1 / c.layers)
                                    for _ in range(c.layers))
        self.final_norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.head = nn.Linear(c.dim, 2 * c.n_freqs)
        # The untrained generator renders the prior's magnitude: the correction starts at zero.
        nn.init.zeros_(self.head.weight[: c.n_freqs])
        nn.init.zeros_(self.head.bias)
        # Buffers, not parameters: derived from the recipe, rebuilt on load, never stored with the weights.
        self.register_buffer("pinv", torch.linalg.pinv(filterbank.double()).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(c.n_fft, periodic=True), persistent=False)

    def magnitude_prior(self, mel: torch.Tensor) -> torch.Tensor:
        """ln of the pseudo-inverse magnitude [B, n_freqs, T] (what Griffin-Lim starts from)."""
        return torch.log(torch.clamp(self.pinv @ torch.exp(mel), min=1e-5))

    def spectrum(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The predicted log-magnitude and phase [B, n_freqs, T] of every analysis frame."""
        x = self.embed(mel)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)
        correction, phase = out.chunk(2, dim=1)
        log_magnitude = torch.clamp(self.magnitude_prior(mel) + correction, max=MAX_LOG_MAGNITUDE)
        return log_magnitude, phase

    def synthesise(self, log_magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Inverse STFT by weighted overlap-add, frame t's window starting (n_fft - hop) / 2 before
        sample t * hop: the inverse of distill's reflect-padded analysis."""
        c = self.config
        magnitude = torch.exp(log_magnitude)
        spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        frames = torch.fft.irfft(spectrum, n=c.n_fft, dim=1) * self.window[:, None]
        steps = frames.shape[-1]
        length = (steps - 1) * c.hop_length + c.n_fft
        fold = dict(output_size=(1, length), kernel_size=(1, c.n_fft), stride=(1, c.hop_length))
        wave = F.fold(frames, **fold)[:, 0, 0]
        envelope = F.fold(self.window.square()[None, :, None].expand(1, -1, steps), **fold)[0, 0, 0]
        start = (c.n_fft - c.hop_length) // 2
        wave = wave[:, start : start + steps * c.hop_length] / envelope[start : start + steps * c.hop_length]
        return wave[:, None]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.synthesise(*self.spectrum(mel)).clamp(-1.0, 1.0)


def analysis_stft(wave: torch.Tensor, config: FrameGeneratorConfig, window: torch.Tensor) -> torch.Tensor:
    """The complex STFT [B, n_freqs, T] behind distill's mels (reflect-padded, not centred): what
    `FrameGenerator.synthesise` inverts."""
    pad = (config.n_fft - config.hop_length) // 2
    padded = F.pad(wave[:, None], (pad, pad), mode="reflect")[:, 0]
    return torch.stft(padded, config.n_fft, config.hop_length, window=window, center=False, return_complex=True)


def frame_generator(config: FrameGeneratorConfig, filterbank: torch.Tensor,
                    weights: dict[str, torch.Tensor] | None = None) -> FrameGenerator:
    """A generator, with `weights` loaded (cast to float32) when given."""
    generator = FrameGenerator(config, filterbank)
    if weights is not None:
        generator.load_state_dict({key: value.float() for key, value in weights.items()})
    return generator
