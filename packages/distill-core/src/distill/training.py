"""Training the mel VAE: presets that adapt to corpus size, random segments across all files,
checkpoints kept apart from the model, and resume after Ctrl-C or kill -9.

Everything random comes from two generators whose states are checkpointed (segment sampling and
the reparameterisation noise), so a resumed CPU run with a seed ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import torch

from . import conditioning
from .checkpoint import load_checkpoint, save_checkpoint
from .errors import DistillError, Fix
from .melspec import DISTILL_MEL
from .progress import Interrupted
from .threads import fit_threads
from .train_settings import VAESettings
from .vae import MelVAE, kl_divergence

CHECKPOINT_FORMAT = "distill-training-checkpoint"
CHECKPOINT_SECONDS = 60.0  # also checkpoint on a timer, so kill -9 loses at most this much work

@attrs.define
class TrainingData:
    train: list[torch.Tensor]  # log-mels [n_mels, frames], one per file
    validation: list[torch.Tensor]
    validation_names: list[str]
    train_pitch: list[torch.Tensor] = attrs.field(factory=list)  # [frames] in st, NaN where unpitched
    validation_pitch: list[torch.Tensor] = attrs.field(factory=list)


def split_by_file(mels: list[torch.Tensor], names: list[str], seed: int,
                  pitches: list[torch.Tensor] | None = None) -> TrainingData:
    """Hold out ~10% of the files (at least one once there are 4), never segments of a training file."""
    count = len(mels)
    held_out = 0 if count < 4 else max(1, round(0.1 * count))
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    validation, train = sorted(order[:held_out]), sorted(order[held_out:])
    return TrainingData(
        train=[mels[i] for i in train],
        validation=[mels[i] for i in validation],
        validation_names=[names[i] for i in validation],
        train_pitch=[pitches[i] for i in train] if pitches else [],
        validation_pitch=[pitches[i] for i in validation] if pitches else [],
    )


def sample_batch(
    mels: list[torch.Tensor], batch_size: int, frames: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random segments across all files (longer files drawn more often); short files are padded
    with silence and masked out of the loss. Returns (mels [B, n_mels, frames], mask [B, 1, frames])."""
    lengths = torch.tensor([m.shape[-1] for m in mels], dtype=torch.float64)
    picks = torch.multinomial(lengths, batch_size, replacement=True, generator=generator).tolist()
    batch = torch.full((batch_size, mels[0].shape[0], frames), DISTILL_MEL.silence)
    mask = torch.zeros(batch_size, 1, frames)
    for row, index in enumerate(picks):
        mel = mels[index]
        start = int(torch.randint(0, max(mel.shape[-1] - frames, 0) + 1, (1,), generator=generator))
        piece = mel[:, start : start + frames]
        batch[row, :, : piece.shape[-1]] = piece
        mask[row, :, : piece.shape[-1]] = 1.0
    return batch, mask


def augment(batch: torch.Tensor, generator: torch.Generator, max_shift: int = 3) -> torch.Tensor:
    """Random gain (±4 dB) and a shift of up to `max_shift` mel bands per segment, so a corpus of a
    few pitches and levels teaches the VAE about its neighbours too (README: held-out error)."""
    rows = batch.shape[0]
    gains = (torch.rand(rows, 1, 1, generator=generator) - 0.5).to(batch.device)
    shifts = torch.randint(-max_shift, max_shift + 1, (rows,), generator=generator).tolist()
    out = batch.clone()
    for row, shift in enumerate(shifts):
        if shift > 0:  # up: the lowest band is repeated below
            out[row, shift:] = batch[row, :-shift]
            out[row, :shift] = batch[row, :1]
        elif shift < 0:
            out[row, :shift] = batch[row, -shift:]
            out[row, shift:] = batch[row, -1:]
    return torch.clamp(out + gains, min=DISTILL_MEL.silence)


DESCRIBE_STEPS = 1500


def _fit_describe(vae: MelVAE, data: TrainingData) -> None:
    """Fit the `describe` head on the finished encoder's latents of every training recording (whole
    batch): generation decodes with its predictions, so they must be as close as the encoder allows.
    Trained only alongside, it chased an encoder still moving (measured: 0.5–1.8 spreads of error, and
    reconstructions 5× worse than with the true qualities)."""
    latents, told = [], []
    with torch.no_grad():
        for mel, pitch in zip(data.train, data.train_pitch, strict=True):
            whole = mel.shape[-1] // vae.downsample * vae.downsample
            if whole:
                mean, _ = vae.encode(mel[None, :, :whole])
                latents.append(mean)
                told.append(conditioning.standardise(
                    conditioning.raw(mel[None, :, :whole], pitch[None, :whole], DISTILL_MEL, vae.downsample), vae))
    z, target = torch.cat(latents, dim=-1), torch.cat(told, dim=-1)
    optimizer = torch.optim.Adam(vae.describe.parameters(), lr=3e-3)
    for _ in range(DESCRIBE_STEPS):
        optimizer.zero_grad(set_to_none=True)
        loss = (vae.describe(z) - target).square().mean()
        loss.backward()
        optimizer.step()


def _quality_statistics(data: TrainingData, downsample: int) -> tuple[torch.Tensor, torch.Tensor]:
    frames = []
    with torch.no_grad():
        for mel, pitch in zip(data.train, data.train_pitch, strict=True):
            whole = mel.shape[-1] // downsample * downsample
            if whole:
                frames.append(conditioning.raw(mel[None, :, :whole], pitch[None, :whole], DISTILL_MEL, downsample)[0].T)
    return conditioning.statistics(torch.cat(frames))


@torch.inference_mode()
def reconstruction_l1(vae: MelVAE, mels: list[torch.Tensor], chunk: int = 8192) -> float | None:
    """Mean absolute log-mel error (nats) of reconstructing whole files from their posterior mean."""
    if not mels:
        return None
    total, count = 0.0, 0
    device = next(vae.parameters()).device
    for mel in mels:
        for start in range(0, mel.shape[-1], chunk):
            piece = mel[None, :, start : start + chunk].to(device)
            recon, _, _ = vae(piece, sample=False)
            total += float((recon - piece).abs().sum())
            count += piece.numel()
    return total / count


def learning_rate(step: int, settings: VAESettings) -> float:
    """Linear warm-up for 5% of the steps, then cosine decay to 5% of the peak."""
    warmup = max(1, settings.steps // 20)
    if step < warmup:
        return settings.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, settings.steps - warmup)
    return settings.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def kl_weight(step: int, settings: VAESettings) -> float:
    """KL annealed in over the first 20% of the steps, so the latents learn to carry information first."""
    return settings.kl_weight * min(1.0, step / max(1, settings.steps // 5))


@attrs.define
class TrainResult:
    vae: MelVAE
    steps: int
    losses: dict[str, float | None]
    history: list[dict[str, float]]
    seconds: float
    resumed_from: int  # the checkpoint's step (0 for a fresh run)


ProgressHook = Callable[[int, dict[str, float]], None]


def train_vae(
    data: TrainingData,
    settings: VAESettings,
    checkpoint_path: Path,
    *,
    fingerprint: str,
    device: str = "cpu",
    resume: bool = False,
    progress: ProgressHook | None = None,
    on_checkpoint: Callable[[int, MelVAE], object] | None = None,
    cancel: threading.Event | None = None,
) -> TrainResult:
    """Train (or resume) and return the trained VAE. When `cancel` is set, saves a checkpoint after
    the current step and raises Interrupted."""
    torch.manual_seed(settings.seed)
    vae = MelVAE(**settings.vae_config())
    all_train = torch.cat(data.train, dim=1)
    vae.mel_mean.copy_(all_train.mean(dim=1))
    vae.mel_std.copy_(all_train.std(dim=1).clamp(min=0.05))
    conditioned = settings.conditions > 0
    if conditioned:
        if len(data.train_pitch) != len(data.train):
            raise ValueError("a conditioned VAE trains with the pitch track of every training file")
        vae.quality_mean, vae.quality_std = _quality_statistics(data, vae.downsample)
        # the pitch track rides along as one more row, so that segments and tracks are cut alike
        segments = [torch.cat([mel, pitch[None]], dim=0) for mel, pitch in zip(data.train, data.train_pitch,
                                                                               strict=True)]
    optimizer = torch.optim.AdamW(vae.parameters(), lr=settings.lr, betas=(0.9, 0.99), weight_decay=1e-4)
    sampler = torch.Generator().manual_seed(settings.seed)
    noise = torch.Generator().manual_seed(settings.seed + 1)
    step, history, elapsed = 0, [], 0.0
    stop_requested = cancel or threading.Event()

    if resume:
        state = load_checkpoint(checkpoint_path, CHECKPOINT_FORMAT)
        if state["fingerprint"] != fingerprint:
            raise DistillError(f"the audio changed since checkpoint {checkpoint_path} was written",
                               Fix("restart", "train"))
        if attrs.evolve(VAESettings(**{"conditions": 0, **state["settings"]}), steps=settings.steps) != settings:
            raise DistillError(f"resuming {checkpoint_path} needs the settings it was started with")
        vae.load_state_dict(state["vae"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.set_state(state["sampler"])
        noise.set_state(state["noise"])
        step, history, elapsed = state["step"], state["history"], state["seconds"]
    resumed_from = step

    def checkpoint() -> None:
        save_checkpoint(
            checkpoint_path,
            CHECKPOINT_FORMAT,
            {
                "step": step,
                "settings": attrs.asdict(settings),
                "fingerprint": fingerprint,
                "vae": vae.state_dict(),
                "optimizer": optimizer.state_dict(),
                "sampler": sampler.get_state(),
                "noise": noise.get_state(),
                "history": history,
                "seconds": elapsed + time.monotonic() - started,
            },
        )

    vae.to(device).train()
    started = last_checkpoint = time.monotonic()
    inv_std = 1.0 / vae.mel_std[None, :, None]
    while step < settings.steps:
        fit_threads()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, settings)
        if conditioned:
            batch, mask = sample_batch(segments, settings.batch_size, settings.segment_frames, sampler)
            batch, pitch = batch[:, :-1], torch.where(mask[:, 0] > 0, batch[:, -1], torch.nan)
            if settings.augment:  # gain only: the transforms below transpose, with the pitch they give
                batch = augment(batch, sampler, max_shift=0)
            target, target_pitch = conditioning.transform(batch, pitch, DISTILL_MEL, sampler)
            told = conditioning.standardise(conditioning.raw(target, target_pitch, DISTILL_MEL, vae.downsample), vae)
            own = conditioning.standardise(conditioning.raw(batch, pitch, DISTILL_MEL, vae.downsample), vae)
            told, own, target = told.to(device), own.to(device), target.to(device)
        else:
            batch, mask = sample_batch(data.train, settings.batch_size, settings.segment_frames, sampler)
            if settings.augment:
                batch = augment(batch, sampler)
            target, told = batch, None
        batch, mask = batch.to(device), mask.to(device)
        mean, log_var = vae.encode(batch)
        eps = torch.randn(mean.shape, generator=noise).to(device)
        recon = vae.decode(mean + eps * torch.exp(0.5 * log_var), told)[..., : batch.shape[-1]]
        error = (recon - target).abs() * mask
        l1 = error.sum() / (mask.sum() * batch.shape[1])
        l1_std = (error * inv_std).sum() / (mask.sum() * batch.shape[1])  # what is optimised
        kl = kl_divergence(mean, log_var)
        loss = l1_std + kl_weight(step, settings) * kl
        if conditioned:  # the head follows along, so that previews decode sensibly (refitted at the end)
            frames = mask[:, :, :: vae.downsample]
            loss = loss + ((vae.describe(mean.detach()) - own).square() * frames).sum() / (frames.sum() * own.shape[1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        step += 1
        record = {"step": float(step), "l1": l1.item(), "kl": kl.item()}
        if step % 50 == 0 or step == settings.steps:
            history.append(record)
        if progress:
            progress(step, record)
        now = time.monotonic()
        due = step % settings.checkpoint_every == 0 or now - last_checkpoint > CHECKPOINT_SECONDS
        if stop_requested.is_set() or (due and step < settings.steps):
            checkpoint()
            last_checkpoint = now
            if on_checkpoint:
                on_checkpoint(step, vae)
            if stop_requested.is_set():
                raise Interrupted(step, checkpoint_path)

    if step > resumed_from:  # the finished VAE survives an interruption of what follows (the prior)
        checkpoint()
    vae.eval()
    if conditioned:
        _fit_describe(vae.cpu(), data)
    final = history[-1] if history else {"l1": float("nan"), "kl": float("nan")}
    losses = {
        "train_l1": reconstruction_l1(vae, data.train),
        "validation_l1": reconstruction_l1(vae, data.validation),
        "last_batch_l1": final["l1"],
        "kl": final["kl"],
    }
    return TrainResult(vae.cpu(), step, losses, history, elapsed + time.monotonic() - started, resumed_from)
