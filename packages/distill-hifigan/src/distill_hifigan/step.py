"""One training step: generator-only (warm-up) or adversarial. Losses come back as detached tensors
on the networks' device, so the step never forces a device sync and runs on any device."""

from __future__ import annotations

from typing import Any

import torch
from distill.errors import DistillError
from distill.melspec import MelSpec

from .data import Batch
from .losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    mel_l1,
    multi_resolution_stft_loss,
)
from .networks import Discriminators, Generator
from .settings import TrainSettings


class Networks:
    """The generator, the discriminators and their optimisers: what a checkpoint holds besides the step."""

    def __init__(self, generator: Generator, discriminators: Discriminators, settings: TrainSettings,
                 device: str) -> None:
        self.device = torch.device(device)
        self.generator = generator.to(self.device).train()
        self.discriminators = discriminators.to(self.device).train()
        betas = (settings.betas[0], settings.betas[1])
        self.opt_g = torch.optim.AdamW(self.generator.parameters(), settings.lr, betas=betas)
        self.opt_d = torch.optim.AdamW(self.discriminators.parameters(), settings.lr, betas=betas)

    def set_lr(self, lr: float) -> None:
        for optimizer in (self.opt_g, self.opt_d):
            for group in optimizer.param_groups:
                group["lr"] = lr

    def state_dict(self) -> dict[str, object]:
        return {"generator": self.generator.state_dict(), "discriminators": self.discriminators.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminators.load_state_dict(state["discriminators"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


def train_step(nets: Networks, batch: Batch, mel_spec: MelSpec, settings: TrainSettings, adversarial: bool,
               noise: torch.Generator) -> dict[str, torch.Tensor]:
    """Update the networks on one batch (already moved to `nets.device`); returns the losses."""
    for tensor in (batch.mel, batch.audio):
        if tensor.device != nets.device:  # an earlier tool trained on the GPU with its data left on the CPU
            raise DistillError(f"training data is on {tensor.device} but the networks are on {nets.device}")
    real = batch.audio
    fake = nets.generator(batch.mel)
    with torch.no_grad():
        target_mel = mel_spec.mel(real[:, 0])
    mel = mel_l1(mel_spec, fake[:, 0], target_mel)
    if not adversarial:
        stft = multi_resolution_stft_loss(fake[:, 0], real[:, 0])
        loss = settings.mel_weight * mel + settings.stft_weight * stft
        nets.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        nets.opt_g.step()
        return {"mel": mel.detach(), "stft": stft.detach()}

    # Light noise on what the discriminators see keeps them from memorising a small corpus.
    shape = (2, *real.shape)
    jitter = (torch.randn(shape, generator=noise) * settings.disc_noise).to(nets.device)
    real_in, fake_in = real + jitter[0], fake + jitter[1]
    real_scores, _ = nets.discriminators(real_in)
    fake_scores, _ = nets.discriminators(fake_in.detach())
    d_loss = discriminator_loss(real_scores, fake_scores)
    nets.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    nets.opt_d.step()

    # The generator's turn: real features are constants and the discriminators' weights need no
    # gradients, so only the generated branch is back-propagated (through the inputs).
    nets.discriminators.requires_grad_(False)
    try:
        with torch.no_grad():
            _, real_features = nets.discriminators(real_in)
        fake_scores, fake_features = nets.discriminators(fake_in)
        adv = generator_adversarial_loss(fake_scores)
        features = feature_matching_loss(real_features, fake_features)
        g_loss = adv + settings.feature_weight * features + settings.mel_weight * mel
        nets.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        nets.opt_g.step()
    finally:
        nets.discriminators.requires_grad_(True)
    return {"mel": mel.detach(), "g": adv.detach(), "fm": features.detach(), "d": d_loss.detach()}
