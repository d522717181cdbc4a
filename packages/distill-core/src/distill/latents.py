"""Latent sequences for generation: prior sampling (the learned prior, or the Gaussian one of models
made before it), slider offsets, variation of encoded audio, and morphs. All randomness comes from
the generator passed in."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from .sliders import SliderAnalysis

if TYPE_CHECKING:
    from .prior import TrainedPrior


def correlation_time(evolution: float) -> float:
    """Seconds over which the sound keeps its character: 20 s at evolution 0, 0.1 s at 1."""
    return 20.0 * (0.005**evolution)


def smooth_noise(
    frames: int, dims: int, frame_rate: float, evolution: float, generator: torch.Generator
) -> torch.Tensor:
    """Unit-variance Gaussian noise [dims, frames] whose frames are correlated over
    `correlation_time(evolution)` (a stationary first-order autoregressive process)."""
    rho = math.exp(-1.0 / (frame_rate * correlation_time(evolution)))
    innovations = torch.randn(dims, frames, generator=generator, dtype=torch.float64)
    out = torch.empty_like(innovations)
    out[:, 0] = innovations[:, 0]
    scale = math.sqrt(1.0 - rho * rho)
    for t in range(1, frames):  # a few thousand frames at most per minute: cheap
        out[:, t] = rho * out[:, t - 1] + scale * innovations[:, t]
    return out.float()


def prior_latents(
    analysis: SliderAnalysis, frames: int, frame_rate: float, evolution: float, generator: torch.Generator,
    temperature: float = 1.0,
) -> torch.Tensor:
    """New material [latent_dim, frames]: a path through the Gaussian fitted to the encoded corpus."""
    noise = smooth_noise(frames, len(analysis.scales), frame_rate, evolution, generator)
    coordinates = noise * (analysis.scales[:, None] * temperature)
    return analysis.center[:, None] + analysis.components.T @ coordinates


def learned_latents(
    prior: TrainedPrior, analysis: SliderAnalysis, frames: int, frame_rate: float, evolution: float,
    generator: torch.Generator, temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """New material [latent_dim, frames] from the learned prior, and what the decoder is told where the
    prior plays that too ([conditions, frames], else None). Its character (where in the corpus' palette
    it is) follows a smooth random path that changes over `correlation_time(evolution)`; the prior
    supplies the gestures (attacks, decays, rhythm) within it."""
    noise = smooth_noise(frames, len(prior.character_mean), frame_rate, evolution, generator).T
    character = prior.character_mean + prior.character_std * noise
    return _split(prior.sample(character, generator, temperature), prior, analysis)


def _split(frames: torch.Tensor, prior: TrainedPrior, analysis: SliderAnalysis
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The prior's frames [T, dims] -> latents [latent_dim, T] and what the decoder is told, if any."""
    qualities = prior.prior.qualities
    if not qualities:
        return analysis.unwhiten(frames), None
    return analysis.unwhiten(frames[:, :-qualities]), frames[:, -qualities:].T.contiguous()


def learned_variation(
    latents: torch.Tensor, prior: TrainedPrior, analysis: SliderAnalysis, amount: float, frame_rate: float,
    generator: torch.Generator, told: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Encoded audio varied by the learned prior: each frame moves `amount` (> 0) of the way from the
    sound's own frame to the prior's continuation of what was played so far, in the sound's own
    character (1 lets the prior play freely in its character). A prior that plays what the decoder is
    told follows the sound's (`told`, [conditions, T]) too, and returns its own as well as the latents."""
    from .prior import character_of

    own = analysis.whiten(latents)
    character = character_of(own, len(prior.character_mean), frame_rate)
    if prior.prior.qualities:
        assert told is not None, "a prior that plays what the decoder is told follows the sound's"
        own = torch.cat([own, told.T], dim=-1)
    return _split(prior.sample(character, generator, follow=own, amount=amount), prior, analysis)


def variation(
    latents: torch.Tensor, analysis: SliderAnalysis, amount: float, frame_rate: float, generator: torch.Generator
) -> torch.Tensor:
    """Encoded audio moved towards fresh material: 0 keeps it, 1 replaces it with a prior path.
    The mix preserves variance, so halfway is as lively as either end."""
    if amount <= 0:
        return latents
    fresh = prior_latents(analysis, latents.shape[-1], frame_rate, 0.5, generator) - analysis.center[:, None]
    own = latents - analysis.center[:, None]
    return analysis.center[:, None] + math.sqrt(1 - amount) * own + math.sqrt(amount) * fresh


def apply_controls(latents: torch.Tensor, analysis: SliderAnalysis, values: dict[str, float]) -> torch.Tensor:
    """Offset every frame by each latent-offset control's offset for its value (in its unit); controls
    of the decoder's conditions act in `pipeline.LoadedModel.conditions`."""
    for name, value in values.items():
        control = analysis.control(name)
        if control.channel < 0:
            assert analysis.directions is not None, "a model with latent-offset controls stores their offsets"
            latents = latents + control.offset(analysis.directions, value)[:, None]
    return latents


def apply_sliders(latents: torch.Tensor, analysis: SliderAnalysis, values: dict[str, float]) -> torch.Tensor:
    """Offset every frame along each legacy slider's principal direction (models made before controls)."""
    for name, value in values.items():
        slider = analysis.by_name(name)
        latents = latents + value * analysis.components[slider.component][:, None]
    return latents


def fit_length(latents: torch.Tensor, frames: int) -> torch.Tensor:
    """Loop or cut a latent sequence to `frames`, crossfading each loop's end into its start."""
    if latents.shape[-1] >= frames:
        return latents[:, :frames]
    fade = min(latents.shape[-1] // 4, 11)  # about one second at the default latent rate
    loop = latents
    while loop.shape[-1] < frames:
        if fade:
            ramp = torch.linspace(0, 1, fade)
            joint = loop[:, -fade:] * (1 - ramp) + latents[:, :fade] * ramp
            loop = torch.cat([loop[:, :-fade], joint, latents[:, fade:]], dim=1)
        else:
            loop = torch.cat([loop, latents], dim=1)
    return loop[:, :frames]


def morph(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Travel from `start` to `end` (same shape) with an equal-power-like smooth curve."""
    weight = 0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, start.shape[-1]))
    return start * (1 - weight) + end * weight
