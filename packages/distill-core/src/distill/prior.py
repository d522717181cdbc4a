"""The learned prior: how the corpus' sounds unfold in time, as a small autoregressive model over
latent sequences, trained after the VAE on the encoded corpus (posterior means, one frame per 93 ms).

A one-layer GRU reads the previous frame and a slowly varying *character* vector and predicts the
next frame as a mixture of diagonal Gaussians (a mixture density network). It works in the
whitened coordinates of the slider analysis (the corpus' principal directions divided by their
spreads), so every dimension counts alike. A corpus of a minute is a few hundred frames, so the model
is small (about 90k parameters) and what it reads is noisy, so that it learns gestures instead of
replaying files (docs/how-it-works.md, "The learned prior").

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
from .errors import DistillError
from .progress import Interrupted
from .threads import fit_threads

KIND = "gru-mdn"
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
    input_noise: float = 0.8  # whitened units added to the teacher-forced inputs (see train_prior)
    character_noise: float = 0.3  # per window, so a character never pins one file
    dropout: float = 0.1
    validate_every: int = 50
    seed: int = 0


class LatentPrior(nn.Module):
    """GRU + mixture density head over whitened latent frames [.., dims]."""

    def __init__(self, dims: int, character_dims: int, hidden: int = 128, mixtures: int = 8,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.dims, self.character_dims, self.hidden, self.mixtures = dims, character_dims, hidden, mixtures
        self.gru = nn.GRU(dims + character_dims, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, mixtures * (2 * dims + 1))

    @property
    def config(self) -> dict[str, int]:
        return {"dims": self.dims, "character_dims": self.character_dims, "hidden": self.hidden,
                "mixtures": self.mixtures}

    def forward(self, previous: torch.Tensor, character: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """Previous frames [B, T, dims] and characters [B, T, c] -> mixture (logits [B, T, K],
        means and log-stds [B, T, K, dims]) for each next frame, and the GRU state."""
        out, state = self.gru(torch.cat([previous, character], dim=-1), state)
        params = self.head(self.dropout(out))
        b, t = params.shape[:2]
        logits = params[..., : self.mixtures]
        means, log_std = params[..., self.mixtures :].reshape(b, t, self.mixtures, 2, self.dims).unbind(-2)
        return (logits, means, log_std.clamp(math.log(MIN_STD), 2.0)), state


def nll(mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per frame and dimension [B, T] of `target` [B, T, dims]."""
    logits, means, log_std = mixture
    z = (target[..., None, :] - means) * torch.exp(-log_std)
    per_component = -0.5 * z.square().sum(-1) - log_std.sum(-1) - 0.5 * target.shape[-1] * math.log(2 * math.pi)
    return -torch.logsumexp(F.log_softmax(logits, -1) + per_component, -1) / target.shape[-1]


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
    """Whitened sequences of the training files, their characters, and those of the held-out files."""

    train: list[torch.Tensor]  # [T, dims] each
    train_character: list[torch.Tensor]  # [T, c] each
    validation: list[torch.Tensor]
    validation_character: list[torch.Tensor]
    silence: torch.Tensor  # [dims]: the whitened latent of silence, what every clip starts from


@torch.inference_mode()
def prior_data(vae: Any, analysis: Any, train: list[torch.Tensor], validation: list[torch.Tensor],
               character_dims: int, frame_rate: float, silence_mel: float) -> PriorData:
    """Encode the training and held-out log-mels (posterior means) into whitened frame sequences with
    their characters. `vae` is a MelVAE, `analysis` the model's SliderAnalysis, `frame_rate` the
    latent frames per second."""
    def whitened(mels: list[torch.Tensor]) -> list[torch.Tensor]:
        return [analysis.whiten(vae.encode(mel[None])[0][0]) for mel in mels]

    dims = min(character_dims, int(analysis.components.shape[0]))  # fewer frames than dimensions: fewer components
    train_x, held_x = whitened(train), whitened(validation)
    silent = torch.full((train[0].shape[0], 4 * vae.downsample), silence_mel)
    return PriorData(train_x, [character_of(x, dims, frame_rate) for x in train_x], held_x,
                     [character_of(x, dims, frame_rate) for x in held_x],
                     analysis.whiten(vae.encode(silent[None])[0][0]).mean(0))


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
        mixture, _ = prior(previous, c[None])
        total += float(nll(mixture, x[None]).sum())
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

    Its inputs are its targets plus strong noise (`input_noise`): an autoregressive model trained on
    clean frames meets its own imperfect samples at generation and shrinks towards the mean (measured:
    half the corpus' spread, a third of its dynamic range lost); noisy inputs teach it to recover."""
    torch.manual_seed(settings.seed)
    dims, c_dims = data.train[0].shape[-1], data.train_character[0].shape[-1]
    prior = LatentPrior(dims, c_dims, settings.hidden, settings.mixtures, settings.dropout)
    optimizer = torch.optim.AdamW(prior.parameters(), lr=settings.lr, weight_decay=1e-4)
    sampler = torch.Generator().manual_seed(settings.seed + 2)
    step, elapsed = 0, 0.0
    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, CHECKPOINT_FORMAT)
        if state["fingerprint"] != fingerprint or state["settings"] != attrs.asdict(settings):
            raise DistillError(f"{checkpoint_path} belongs to another run; start over with --restart")
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
        mixture, _ = prior(noisy, character)
        loss = nll(mixture, target)[:, BURN_IN:].mean()
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
                            int(config["mixtures"]))
        prior.load_state_dict({k.removeprefix("net."): v for k, v in tensors.items() if k.startswith("net.")})
        prior.eval()
        return cls(prior, tensors["silence"], tensors["character_mean"], tensors["character_std"])

    @torch.inference_mode()
    def sample(self, character: torch.Tensor, generator: torch.Generator, temperature: float = 1.0,
               follow: torch.Tensor | None = None, amount: float = 1.0) -> torch.Tensor:
        """Whitened frames [T, dims] for characters [T, c], starting after silence. With `follow`
        ([T, dims], an encoded sound), each frame is `amount` of the way from the sound's own frame to
        the prior's continuation of what came before: the prior varies the sound as it goes."""
        frames = character.shape[0]
        out = torch.empty(frames, self.prior.dims)
        state = None
        previous = self.silence.expand(BURN_IN, -1)
        _, state = self.prior(previous[None], self.character_mean.expand(BURN_IN, -1)[None], state)
        last = self.silence
        for t in range(frames):
            (logits, means, log_std), state = self.prior(last[None, None], character[None, t : t + 1], state)
            probs = F.softmax(logits[0, 0] / max(temperature, 1e-3), -1)
            k = int(torch.multinomial(probs, 1, generator=generator))
            noise = torch.randn(self.prior.dims, generator=generator)
            frame = means[0, 0, k] + torch.exp(log_std[0, 0, k]) * noise * temperature
            if follow is not None:
                frame = follow[t] + amount * (frame - follow[t])
            out[t] = frame
            last = frame
        return out
