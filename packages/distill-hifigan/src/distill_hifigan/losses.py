"""HiFi-GAN's losses (least squares GAN, feature matching, mel L1) and the multi-resolution STFT loss
of the generator-only warm-up. Every term keeps its graph: the generator learns from all of them."""

from __future__ import annotations

import torch
from distill.plugin import MelSpec, multi_resolution_stft

multi_resolution_stft_loss = multi_resolution_stft  # the warm-up's and the fine-tune's STFT term


def discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN: real scores towards 1, generated towards 0, summed over the sub-discriminators."""
    return sum((((1 - r) ** 2).mean() + (f**2).mean() for r, f in zip(real, fake, strict=True)), torch.zeros(()))


def generator_adversarial_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    return sum((((1 - f) ** 2).mean() for f in fake), torch.zeros(()))


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Σ over sub-discriminators and layers of the mean L1 between feature maps (HiFi-GAN weights it ×2)."""
    total = torch.zeros(())
    for real_maps, fake_maps in zip(real, fake, strict=True):
        for r, f in zip(real_maps, fake_maps, strict=True):
            total = total + (r.detach() - f).abs().mean()
    return total


def mel_l1(mel_spec: MelSpec, generated: torch.Tensor, target_mel: torch.Tensor) -> torch.Tensor:
    """Mean |log-mel(generated) - target| in nats. The generated waveform's mel is computed with its
    graph (an earlier tool's was under no_grad, so its ×45 term never trained the generator), and with
    the very recipe inference feeds the vocoder: no second mel representation to drift from."""
    return (mel_spec.mel(generated) - target_mel).abs().mean()


def _anti_wrapped(difference: torch.Tensor) -> torch.Tensor:
    """|x| of a phase difference taken modulo 2π into [-π, π] (APNet's anti-wrapping function)."""
    return torch.abs(difference - 2 * torch.pi * torch.round(difference / (2 * torch.pi)))


def phase_loss(predicted: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """APNet's relative phase terms on [B, n_freqs, T] phases: group delay (the phase difference across
    bins) and instantaneous frequency (across frames), anti-wrapped and weighted by `weight` (the target's
    magnitude share: the phase of a bin with no energy is noise). Absolute phase is not compared: a
    segment's phase sum starts at an arbitrary origin, and the ear does not hear it."""
    total = torch.zeros((), device=predicted.device)
    for dim in (1, 2):
        pair = (weight.narrow(dim, 1, weight.shape[dim] - 1) * weight.narrow(dim, 0, weight.shape[dim] - 1)).sqrt()
        change = torch.diff(predicted, dim=dim) - torch.diff(target, dim=dim)
        total = total + (pair * _anti_wrapped(change)).sum() / pair.sum()
    return total
