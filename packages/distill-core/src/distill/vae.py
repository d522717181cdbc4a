"""The mel VAE: a 1-D convolutional autoencoder over time with a latent *sequence*.

One latent vector per `downsample` mel frames (8 frames = 93 ms by default), so any duration is a
longer latent sequence and neighbouring latents overlap through the decoder's receptive field: no
chunk seams to hide. README "How it works" gives the measurements behind the choice.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ResBlock(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(F.gelu(self.conv(F.gelu(x))))


class MelVAE(nn.Module):
    """With `conditions` > 0 the decoder also reads, per latent frame, the qualities the sound should
    have (loudness, brightness, noisiness, pitch), and a small head (`describe`)
    predicts them from the latents: decoding uses the prediction, and a control shifts it
    (conditioning.py)."""

    mel_mean: torch.Tensor
    mel_std: torch.Tensor
    quality_mean: torch.Tensor  # conditioned decoders only
    quality_std: torch.Tensor

    def __init__(self, n_mels: int = 128, channels: int = 128, latent_dim: int = 16, downsample: int = 8,
                 conditions: int = 0) -> None:
        super().__init__()
        stages = int(math.log2(downsample))
        if 2**stages != downsample:
            raise ValueError(f"downsample must be a power of two, got {downsample}")
        self.n_mels, self.channels, self.latent_dim, self.downsample = n_mels, channels, latent_dim, downsample
        self.conditions = conditions
        # Per-mel-bin statistics of the training corpus: the network sees standardised log-mels.
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))
        if conditions:  # the corpus' mean and spread of each quality: conditions are standardised too
            self.register_buffer("quality_mean", torch.zeros(conditions))
            self.register_buffer("quality_std", torch.ones(conditions))
            self.describe = nn.Sequential(nn.Conv1d(latent_dim, 64, 1), nn.GELU(), nn.Conv1d(64, conditions, 1))

        encoder: list[nn.Module] = [nn.Conv1d(n_mels, channels, 5, padding=2)]
        for _ in range(stages):
            encoder += [ResBlock(channels, 1), ResBlock(channels, 3), nn.Conv1d(channels, channels, 4, 2, padding=1)]
        encoder += [ResBlock(channels, 1), nn.GELU(), nn.Conv1d(channels, 2 * latent_dim, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)

        decoder: list[nn.Module] = [nn.Conv1d(latent_dim + conditions, channels, 3, padding=1), ResBlock(channels, 1)]
        for _ in range(stages):
            decoder += [nn.ConvTranspose1d(channels, channels, 4, 2, padding=1), ResBlock(channels, 1),
                        ResBlock(channels, 3)]
        decoder += [nn.GELU(), nn.Conv1d(channels, n_mels, 5, padding=2)]
        self.decoder = nn.Sequential(*decoder)

    @property
    def config(self) -> dict[str, int]:
        config = {"n_mels": self.n_mels, "channels": self.channels, "latent_dim": self.latent_dim,
                  "downsample": self.downsample}
        if self.conditions:  # absent from models made before conditioning, which still load
            config["conditions"] = self.conditions
        return config

    def latent_frames(self, mel_frames: int) -> int:
        return -(-mel_frames // self.downsample)

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-mels [B, n_mels, T] -> (mean, log-variance), each [B, latent_dim, ceil(T / downsample)]."""
        x = (mel - self.mel_mean[:, None]) / self.mel_std[:, None]
        pad = self.latent_frames(mel.shape[-1]) * self.downsample - mel.shape[-1]
        if pad:
            x = F.pad(x, (0, pad), mode="replicate")
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var.clamp(-12.0, 6.0)

    def decode(self, z: torch.Tensor, conditions: torch.Tensor | None = None) -> torch.Tensor:
        """Latents [B, latent_dim, L] (and standardised qualities [B, conditions, L]; default: as
        `describe` predicts them) -> log-mels [B, n_mels, L * downsample]."""
        if self.conditions:
            z = torch.cat([z, self.describe(z) if conditions is None else conditions], dim=1)
        return self.decoder(z) * self.mel_std[:, None] + self.mel_mean[:, None]

    def forward(self, mel: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, log_var = self.encode(mel)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var) if sample else mean
        return self.decode(z)[..., : mel.shape[-1]], mean, log_var


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)), averaged over batch, latent dimensions and time."""
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).mean()
