"""The learned prior: how the corpus' sounds unfold in time, as a small autoregressive model over
latent sequences, trained after the VAE on the encoded corpus (posterior means, one frame per 93 ms).

A one-layer GRU reads the previous frame and a slowly varying *character* vector and predicts the
next frame: for a conditioned decoder, first its loudness (a distribution over small steps), then the
rest as a mixture of diagonal Gaussians (a mixture density network) given it. A frame is the latent
in the whitened coordinates of the slider analysis (the corpus' principal directions divided by
their spreads, so every dimension counts alike) and what the decoder is told (loudness, brightness,
noisiness, pitch, voicing): the prior plays how loud a moment is itself. A corpus of a minute is a few
hundred frames, so the model is small (about 130k parameters) and part of what it reads in training is
its own guesses, so that it learns to go on from its own material (docs/how-it-works.md, "The learned
prior").

The character is the running mean (about 2 s) of the first few whitened coordinates: where in the
corpus' palette the sound is. At generation it follows a smooth random path whose speed is
`--evolution`, so evolution keeps its meaning: how fast the character changes, while the GRU supplies
attacks, decays and rhythm. Training windows start at recordings' beginnings (after encoded silence)
or anywhere, and run on into recordings drawn at random; every clip starts after encoded silence, so
new material starts, hits, decays and goes on into another sound.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn
from torch.nn import functional as F

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import DistillError, Fix
from .progress import Interrupted
from .threads import fit_threads

KIND = "gru-mdn-qualities"  # frames end with what a conditioned decoder is told (see LatentPrior)
LATENTS_ONLY = "gru-mdn"  # priors of unconditioned decoders, and of every model made before KIND
KINDS = (KIND, LATENTS_ONLY)
CHECKPOINT_FORMAT = "distill-prior-checkpoint"
CHARACTER_SECONDS = 2.0  # the running mean that defines a frame's character
BURN_IN = 8  # frames run before the scored part of a window, so its state is not a cold start
MIN_STD = 0.03  # in whitened units: no component may collapse onto one training frame


def prior_steps(vae_steps: int) -> int:
    """Half the VAE's steps (at most 1500): a prior step costs about a quarter to a third of a default
    VAE step on a CPU, so the prior adds 13–16 % to the training time (docs/benchmarks.md)."""
    return min(1500, max(1, vae_steps // 2))


@attrs.frozen
class PriorSettings:
    steps: int = 800  # `distill train` sets prior_steps(VAE steps)
    batch_size: int = 32
    window: int = 48  # scored frames per training window (4.5 s)
    hidden: int = 128
    mixtures: int = 8
    character_dims: int = 4
    lr: float = 3e-3
    input_noise: float = 0.1  # added to the teacher-forced inputs (whitened or standardised units) …
    own_inputs: float = 0.5  # … and at most this share of them replaced by the prior's own guesses (train_prior)
    character_noise: float = 0.3  # per window, so a character never pins one file
    dropout: float = 0.1
    validate_every: int = 50
    seed: int = 0


LEVELS = 72  # loudness steps of a prior that plays it: standardised units within ±LEVEL_RANGE …
LEVEL_RANGE = 4.5
LEVEL_STEP = 2 * LEVEL_RANGE / LEVELS  # … 0.125 of the corpus' spread, about 2–3 dB


class LatentPrior(nn.Module):
    """A GRU over frames [.., dims] of whitened latents and then (for a conditioned decoder) the last
    `qualities` numbers, the standardised qualities it is told (conditioning.py), loudness first.
    Each next frame is a mixture of diagonal Gaussians (a mixture density network); a prior that plays
    the qualities draws the loudness first, from its own distribution over LEVELS steps, and the
    mixture of the rest given it.

    Why it plays the qualities, and loudness apart: derived from sampled latents by `describe`, a
    frame-wise guess on noisy frames, the loudness jumped (a rise of over 6 dB in a third of the frames
    of new drum material, against under 1 % in the recordings) and the drums lost a third of their onsets;
    as one dimension of a 21-dimensional mixture it hovered around the corpus' middle, where the
    recordings jump between sound and silence (docs/benchmarks.md, "New material")."""

    def __init__(self, dims: int, character_dims: int, hidden: int = 128, mixtures: int = 8,
                 dropout: float = 0.1, qualities: int = 0) -> None:
        super().__init__()
        self.dims, self.character_dims, self.hidden, self.mixtures = dims, character_dims, hidden, mixtures
        self.qualities = qualities
        self.level = dims - qualities if qualities else None  # where loudness sits in a frame
        self.rest = dims - 1 if qualities else dims  # the dimensions the mixture models
        self.gru = nn.GRU(dims + character_dims, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        if qualities:
            self.level_head = nn.Linear(hidden, LEVELS)
            self.head: nn.Module = nn.Sequential(nn.Linear(hidden + 1, hidden), nn.GELU(),
                                                 nn.Linear(hidden, mixtures * (2 * self.rest + 1)))
        else:
            self.head = nn.Linear(hidden, mixtures * (2 * dims + 1))

    @property
    def config(self) -> dict[str, int]:
        config = {"dims": self.dims, "character_dims": self.character_dims, "hidden": self.hidden,
                  "mixtures": self.mixtures}
        if self.qualities:
            config["qualities"] = self.qualities
        return config

    def forward(self, previous: torch.Tensor, character: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Previous frames [B, T, dims] and characters [B, T, c] -> what predicts each next frame
        [B, T, hidden], and the GRU state."""
        out, state = self.gru(torch.cat([previous, character], dim=-1), state)
        return self.dropout(out), state

    def mixture(self, out: torch.Tensor, level: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits [B, T, K], means and log-stds [B, T, K, rest] of the mixture (given the loudness
        [B, T], for a prior that plays it)."""
        params = self.head(out if level is None else torch.cat([out, level[..., None]], dim=-1))
        logits = params[..., : self.mixtures]
        means, log_std = params[..., self.mixtures :].unflatten(-1, (self.mixtures, 2, self.rest)).unbind(-2)
        return logits, means, log_std.clamp(math.log(MIN_STD), 2.0)

    def nll(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per frame and dimension [B, T] of `target` frames [B, T, dims]."""
        if self.level is None:
            return mixture_nll(self.mixture(out), target)
        level, rest = self._apart(target)
        steps = ((level + LEVEL_RANGE) / LEVEL_STEP).floor().clamp(0, LEVELS - 1).long()
        level_nll = math.log(LEVEL_STEP) - F.log_softmax(self.level_head(out), -1).gather(-1, steps[..., None])[..., 0]
        return (mixture_nll(self.mixture(out, level), rest) * self.rest + level_nll) / self.dims

    def draw(self, out: torch.Tensor, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
        """One sample [B, T, dims] of each next frame."""
        if self.level is None:
            return mixture_draw(self.mixture(out), generator, temperature)
        probs = F.softmax(self.level_head(out) / max(temperature, 1e-3), -1)
        steps = torch.multinomial(probs.reshape(-1, LEVELS), 1, generator=generator).reshape(out.shape[:-1])
        level = -LEVEL_RANGE + (steps + torch.rand(steps.shape, generator=generator)) * LEVEL_STEP
        rest = mixture_draw(self.mixture(out, level), generator, temperature)
        return torch.cat([rest[..., : self.level], level[..., None], rest[..., self.level :]], dim=-1)

    def _apart(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.level is not None
        return frames[..., self.level], torch.cat([frames[..., : self.level], frames[..., self.level + 1 :]], -1)


def mixture_nll(mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per frame and dimension [B, T] of `target` [B, T, dims]."""
    logits, means, log_std = mixture
    z = (target[..., None, :] - means) * torch.exp(-log_std)
    per_component = -0.5 * z.square().sum(-1) - log_std.sum(-1) - 0.5 * target.shape[-1] * math.log(2 * math.pi)
    return -torch.logsumexp(F.log_softmax(logits, -1) + per_component, -1) / target.shape[-1]


def mixture_draw(mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor], generator: torch.Generator,
                 temperature: float = 1.0) -> torch.Tensor:
    """One sample [B, T, dims] of each frame's mixture."""
    logits, means, log_std = mixture
    probs = F.softmax(logits / max(temperature, 1e-3), -1)
    k = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(*probs.shape[:2], 1, 1)
    k = k.expand(-1, -1, 1, means.shape[-1])
    noise = torch.randn(means.shape[:2] + means.shape[-1:], generator=generator)
    return means.gather(2, k)[:, :, 0] + torch.exp(log_std.gather(2, k)[:, :, 0]) * noise * temperature


# -- the data ---------------------------------------------------------------------------------------
def character_of(frames: torch.Tensor, dims: int, frame_rate: float) -> torch.Tensor:
    """Running mean [T, dims] of a file's first `dims` whitened coordinates over CHARACTER_SECONDS,
    taken within the file (a short file's character is its mean)."""
    half = max(1, round(CHARACTER_SECONDS * frame_rate / 2))
    x = frames[:, :dims]
    padded = torch.cat([torch.zeros(1, dims), x.cumsum(0)])
    index = torch.arange(len(x))
    lo, hi = (index - half).clamp(min=0), (index + half + 1).clamp(max=len(x))
    return (padded[hi] - padded[lo]) / (hi - lo)[:, None]


@attrs.define
class PriorData:
    """Frame sequences (whitened latents, and what the decoder is told) of the training files, their
    characters, and those of the held-out files."""

    train: list[torch.Tensor]  # [T, dims] each
    train_character: list[torch.Tensor]  # [T, c] each
    validation: list[torch.Tensor]
    validation_character: list[torch.Tensor]
    silence: torch.Tensor  # [dims]: the frame of silence, what every clip starts from
    qualities: int = 0  # the frames' last numbers that are what the decoder is told


@torch.inference_mode()
def prior_data(vae: Any, analysis: Any, train: list[torch.Tensor], validation: list[torch.Tensor],
               character_dims: int, frame_rate: float, spec: Any,
               pitches: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None) -> PriorData:
    """Encode the training and held-out log-mels (posterior means) into whitened frame sequences with
    their characters; a conditioned decoder's frames also carry what it is told, measured on the
    recordings (their pitch tracks: `pitches`, training and held-out). `vae` is a MelVAE, `analysis`
    the model's SliderAnalysis, `frame_rate` the latent frames per second, `spec` the MelSpec."""
    from . import conditioning

    def frames(mel: torch.Tensor, pitch: torch.Tensor | None) -> torch.Tensor:
        x = analysis.whiten(vae.encode(mel[None])[0][0])
        return x if pitch is None else torch.cat([x, conditioning.told(mel, pitch, spec, vae).T], dim=-1)

    with_qualities = bool(vae.conditions) and pitches is not None
    train_p, held_p = pitches if with_qualities and pitches else ([None] * len(train), [None] * len(validation))
    dims = min(character_dims, int(analysis.components.shape[0]))  # fewer frames than dimensions: fewer components
    train_x = [frames(m, p) for m, p in zip(train, train_p, strict=True)]
    held_x = [frames(m, p) for m, p in zip(validation, held_p, strict=True)]
    silent = torch.full((train[0].shape[0], 4 * vae.downsample), spec.silence)
    quiet = frames(silent, torch.full((silent.shape[-1],), math.nan) if with_qualities else None).mean(0)
    return PriorData(train_x, [character_of(x, dims, frame_rate) for x in train_x], held_x,
                     [character_of(x, dims, frame_rate) for x in held_x], quiet,
                     vae.conditions if with_qualities else 0)


def sample_windows(
    files: list[torch.Tensor], characters: list[torch.Tensor], silence: torch.Tensor, settings: PriorSettings,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch of (noisy previous [B, T, dims], character [B, T, c], target [B, T, dims]) windows of BURN_IN
    + settings.window frames. A window starts in a file (half of them at its start, after silence) and
    runs on through files drawn at random, so the prior learns how one sound follows another."""
    lengths = torch.tensor([len(f) for f in files], dtype=torch.float64)
    total = BURN_IN + settings.window + 1
    rows_x, rows_c = [], []
    for _ in range(settings.batch_size):
        if torch.rand(1, generator=generator) < 0.5:  # a recording's start: every recording alike
            index, start = int(torch.randint(0, len(files), (1,), generator=generator)), 0
            parts = [silence.expand(BURN_IN + 1, -1)]
            chars = [characters[index][:1].expand(BURN_IN + 1, -1)]
        else:  # anywhere: every frame alike
            index = int(torch.multinomial(lengths, 1, generator=generator))
            start = int(torch.randint(0, len(files[index]), (1,), generator=generator))
            parts, chars = [], []
        have = 0
        while True:
            piece = files[index][start:]
            parts.append(piece)
            chars.append(characters[index][start:])
            have += len(piece)
            if have >= total:
                break
            index, start = int(torch.randint(0, len(files), (1,), generator=generator)), 0
        rows_x.append(torch.cat(parts)[:total])
        rows_c.append(torch.cat(chars)[:total])
    x, c = torch.stack(rows_x), torch.stack(rows_c)
    shift = torch.randn(settings.batch_size, 1, c.shape[-1], generator=generator) * settings.character_noise
    noisy = x[:, :-1] + torch.randn(x[:, :-1].shape, generator=generator) * settings.input_noise
    return noisy, c[:, 1:] + shift, x[:, 1:]


@torch.no_grad()
def validation_nll(prior: LatentPrior, files: list[torch.Tensor], characters: list[torch.Tensor],
                   silence: torch.Tensor) -> float | None:
    """Mean NLL of the held-out files, each read from silence like a clip."""
    if not files:
        return None
    prior.eval()
    total, count = 0.0, 0
    for x, c in zip(files, characters, strict=True):
        previous = torch.cat([silence[None], x[:-1]])[None]
        out, _ = prior(previous, c[None])
        total += float(prior.nll(out, x[None]).sum())
        count += len(x)
    prior.train()
    return total / count


# -- training ---------------------------------------------------------------------------------------
@attrs.define
class PriorResult:
    prior: LatentPrior
    steps: int
    held_out_nll: float | None  # per frame and dimension, on the files the VAE held out
    seconds: float
    character_mean: torch.Tensor  # [c]: the characters' spread, which generation draws paths from
    character_std: torch.Tensor


def train_prior(
    data: PriorData, settings: PriorSettings, checkpoint_path: Path, *, fingerprint: str, resume: bool = False,
    progress: Callable[[int, dict[str, float]], None] | None = None, cancel: threading.Event | None = None,
) -> PriorResult:
    """Train (or resume) the prior. When `cancel` is set, saves a checkpoint after the current step and
    raises Interrupted.

    An autoregressive model trained on clean frames meets its own imperfect samples at generation and
    shrinks towards the mean (measured: half the corpus' spread, a third of its dynamic range lost). So
    up to half of its inputs are its own guesses of them (a first pass without gradients draws every
    frame from what came before it: scheduled sampling, in parallel), the share growing over the first
    half of training. Strong noise on every input (0.8 of the spread, the design before) did the same
    but hid where a sound was in its decay: new plucks hovered instead of dying away."""
    torch.manual_seed(settings.seed)
    dims, c_dims = data.train[0].shape[-1], data.train_character[0].shape[-1]
    prior = LatentPrior(dims, c_dims, settings.hidden, settings.mixtures, settings.dropout, data.qualities)
    optimizer = torch.optim.AdamW(prior.parameters(), lr=settings.lr, weight_decay=1e-4)
    sampler = torch.Generator().manual_seed(settings.seed + 2)
    step, elapsed = 0, 0.0
    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, CHECKPOINT_FORMAT)
        if state["fingerprint"] != fingerprint or state["settings"] != attrs.asdict(settings):
            raise DistillError(f"{checkpoint_path} belongs to another run", Fix("restart", "train"))
        prior.load_state_dict(state["prior"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.set_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])  # dropout's randomness
        step, elapsed = state["step"], state["seconds"]
    started = time.monotonic()

    def checkpoint() -> None:
        save_checkpoint(checkpoint_path, CHECKPOINT_FORMAT, {
            "step": step, "settings": attrs.asdict(settings), "fingerprint": fingerprint,
            "prior": prior.state_dict(), "optimizer": optimizer.state_dict(), "sampler": sampler.get_state(),
            "torch_rng": torch.get_rng_state(), "seconds": elapsed + time.monotonic() - started,
        })

    prior.train()
    held_out = None
    while step < settings.steps:
        fit_threads()
        for group in optimizer.param_groups:  # cosine decay to a tenth
            group["lr"] = settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / settings.steps)))
        noisy, character, target = sample_windows(data.train, data.train_character, data.silence, settings,
                                                  sampler)
        if settings.own_inputs > 0:  # some inputs are the prior's own guesses of them, more as it learns
            with torch.no_grad():
                guesses = prior.draw(prior(noisy, character)[0], sampler)
            share = settings.own_inputs * min(1.0, 2 * step / settings.steps)
            mine = torch.rand(noisy.shape[:2], generator=sampler) < share
            mine[:, 0] = False  # the first input has no guess before it
            noisy = noisy.clone()
            noisy[:, 1:][mine[:, 1:]] = guesses[:, :-1][mine[:, 1:]]
        out, _ = prior(noisy, character)
        loss = prior.nll(out, target)[:, BURN_IN:].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
        optimizer.step()
        step += 1
        record = {"nll": loss.item()}
        if step % settings.validate_every == 0 or step == settings.steps:
            held_out = validation_nll(prior, data.validation, data.validation_character, data.silence)
            if held_out is not None:
                record["held_out_nll"] = held_out
        if progress:
            progress(step, record)
        if cancel is not None and cancel.is_set():
            checkpoint()
            raise Interrupted(step, checkpoint_path)
        if step % 200 == 0 and step < settings.steps:
            checkpoint()

    prior.eval()
    # Each recording's character counts once: a clip may sound like any of them.
    per_file = torch.stack([c.mean(0) for c in data.train_character + data.validation_character])
    spread = per_file.std(0).clamp(min=1e-3) if len(per_file) > 1 else torch.ones(per_file.shape[-1])
    return PriorResult(prior, step, held_out, elapsed + time.monotonic() - started, per_file.mean(0), spread)


# -- generation -------------------------------------------------------------------------------------
@attrs.define(eq=False)
class TrainedPrior:
    """What the model file stores: the network and what sampling needs besides it."""

    prior: LatentPrior
    silence: torch.Tensor  # [dims], whitened
    character_mean: torch.Tensor  # [c]
    character_std: torch.Tensor  # [c]

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {f"net.{k}": v for k, v in self.prior.state_dict().items()}
        out.update(silence=self.silence, character_mean=self.character_mean, character_std=self.character_std)
        return out

    @classmethod
    def from_tensors(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> TrainedPrior:
        prior = LatentPrior(int(config["dims"]), int(config["character_dims"]), int(config["hidden"]),
                            int(config["mixtures"]), qualities=int(config.get("qualities", 0)))
        prior.load_state_dict({k.removeprefix("net."): v for k, v in tensors.items() if k.startswith("net.")})
        prior.eval()
        return cls(prior, tensors["silence"], tensors["character_mean"], tensors["character_std"])

    @torch.inference_mode()
    def sample(self, character: torch.Tensor, generator: torch.Generator, temperature: float = 1.0,
               follow: torch.Tensor | None = None, amount: float = 1.0) -> torch.Tensor:
        """Frames [T, dims] (whitened latents, then what the decoder is told) for characters [T, c],
        starting after silence. With `follow` ([T, dims], an encoded sound), each frame is `amount` of
        the way from the sound's own frame to the prior's continuation of what came before: the prior
        varies the sound as it goes."""
        frames = character.shape[0]
        played = torch.empty(frames, self.prior.dims)
        state = None
        previous = self.silence.expand(BURN_IN, -1)
        _, state = self.prior(previous[None], self.character_mean.expand(BURN_IN, -1)[None], state)
        last = self.silence
        for t in range(frames):
            out, state = self.prior(last[None, None], character[None, t : t + 1], state)
            if self.prior.qualities:
                frame = self.prior.draw(out, generator, temperature)[0, 0]
            else:  # as priors of latents alone always drew, so that their clips replay
                logits, means, log_std = self.prior.mixture(out)
                probs = F.softmax(logits[0, 0] / max(temperature, 1e-3), -1)
                k = int(torch.multinomial(probs, 1, generator=generator))
                noise = torch.randn(self.prior.dims, generator=generator)
                frame = means[0, 0, k] + torch.exp(log_std[0, 0, k]) * noise * temperature
            if follow is not None:
                frame = follow[t] + amount * (frame - follow[t])
            played[t] = frame
            last = frame
        return played
