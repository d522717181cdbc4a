"""One training step. HiFi-GAN V2: generator-only (warm-up) or adversarial; the frame-rate generator:
regression (mel, multi-resolution STFT and phase terms). Losses come back as detached tensors on the
networks' device, so the step never forces a device sync and runs on any device."""

from __future__ import annotations

from typing import Any

import torch
from distill.plugin import DistillError, MelSpec

from .data import Batch
from .frame_generator import FrameGenerator, analysis_stft
from .losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    mel_l1,
    multi_resolution_stft_loss,
    phase_loss,
)
from .networks import Discriminators, Generator
from .settings import VocoderSettings


class Networks:
    """The generator, the discriminators and their optimisers: what a checkpoint holds besides the step."""

    def __init__(self, generator: Generator, discriminators: Discriminators, settings: VocoderSettings,
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

    def step(self, batch: Batch, mel_spec: MelSpec, settings: VocoderSettings, adversarial: bool,
             noise: torch.Generator) -> dict[str, torch.Tensor]:
        return train_step(self, batch, mel_spec, settings, adversarial, noise)


class FrameNetworks:
    """A frame-rate generator and its optimiser: trained by regression, with no discriminators."""

    def __init__(self, generator: FrameGenerator, settings: VocoderSettings, device: str) -> None:
        self.device = torch.device(device)
        self.generator = generator.to(self.device).train()
        self.opt_g = torch.optim.AdamW(self.generator.parameters(), settings.lr, betas=settings.betas)

    def set_lr(self, lr: float) -> None:
        for group in self.opt_g.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict[str, object]:
        return {"generator": self.generator.state_dict(), "opt_g": self.opt_g.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.opt_g.load_state_dict(state["opt_g"])

    def step(self, batch: Batch, mel_spec: MelSpec, settings: VocoderSettings, adversarial: bool,
             noise: torch.Generator) -> dict[str, torch.Tensor]:
        return frame_step(self.generator, self.opt_g, batch, mel_spec, settings)


def train_step(nets: Networks, batch: Batch, mel_spec: MelSpec, settings: VocoderSettings, adversarial: bool,
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


def frame_losses(generator: FrameGenerator, batch: Batch, mel_spec: MelSpec) -> dict[str, torch.Tensor]:
    """The frame-rate generator's regression terms on one batch: mel L1 and multi-resolution STFT on
    the waveform it renders, and APNet's phase terms on the phase it predicts."""
    log_magnitude, phase = generator.spectrum(batch.mel)
    fake = generator.synthesise(log_magnitude, phase)[:, 0]
    real = batch.audio[:, 0]
    with torch.no_grad():
        target = analysis_stft(real, generator.config, generator.window)
        magnitude = target.abs()
        weight = magnitude / magnitude.sum(dim=(1, 2), keepdim=True).clamp(min=1e-9)
        target_mel = mel_spec.mel(real)
    return {"mel": mel_l1(mel_spec, fake, target_mel), "stft": multi_resolution_stft_loss(fake, real),
            "phase": phase_loss(phase, target.angle(), weight)}


def frame_step(generator: FrameGenerator, optimizer: torch.optim.Optimizer, batch: Batch, mel_spec: MelSpec,
               settings: VocoderSettings) -> dict[str, torch.Tensor]:
    """One regression update of a frame-rate generator; returns its detached losses."""
    losses = frame_losses(generator, batch, mel_spec)
    loss = (settings.mel_weight * losses["mel"] + settings.stft_weight * losses["stft"]
            + settings.phase_weight * losses["phase"])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {key: value.detach() for key, value in losses.items()}
