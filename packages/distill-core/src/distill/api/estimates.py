"""How long training a corpus takes on this machine, preset by preset, before it starts: the corpus'
length from its files' headers (nothing decoded), and a short timing of each preset's network on a
batch of the training shape."""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs

from ..errors import DistillError, Fix
from ..train_settings import PRESETS, VAESettings, preset_settings

TIMED_STEPS = 2  # after one warm-up step: enough to tell a loaded machine from an idle one
# Measured on the reference machine (2 EPYC cores; a 57 s corpus, 400 balanced steps in 60.5 s): a real
# step costs 1.25 timed ones (batch sampling, augmentation, the qualities it is told); a prior step 0.4 of
# a real step; scanning, the slider analysis and the measured sliders 17.5 s, 195 real steps' worth.
REAL_STEP = 1.25
PRIOR_SHARE = 0.4
AFTER_TRAINING = 195


@attrs.frozen
class PresetEstimate:
    preset: str  # as the menu names it
    runs: str  # the preset it runs: "auto" resolves by the corpus' length
    steps: int
    seconds: float


@attrs.frozen
class TrainingEstimate:
    files: int
    audio_seconds: float
    presets: list[PresetEstimate]
    step_seconds: float  # one default-preset VAE step on this machine now (as timed, before REAL_STEP)


def training_estimates(folder: str | os.PathLike[str]) -> TrainingEstimate:
    """Steps and an estimated wall time for every preset, for the audio under `folder`."""
    from ..prior import prior_steps

    files, seconds = _audio_length(Path(folder))
    timed: dict[VAESettings, float] = {}
    presets = []
    for preset in PRESETS:
        runs, settings = preset_settings(preset, seconds)
        network = attrs.evolve(settings, steps=1)
        if network not in timed:
            timed[network] = _step_seconds(network)
        step = timed[network] * REAL_STEP
        total = settings.steps * step + prior_steps(settings.steps) * PRIOR_SHARE * step + AFTER_TRAINING * step
        presets.append(PresetEstimate(preset, runs, settings.steps, total))
    return TrainingEstimate(files, seconds, presets, timed[attrs.evolve(preset_settings("balanced", seconds)[1],
                                                                       steps=1)])


def _audio_length(folder: Path) -> tuple[int, float]:
    """How many files training could read under `folder`, and their length, from their headers."""
    import soundfile

    from ..ingest import corpus_paths

    files, seconds = 0, 0.0
    for _, path in corpus_paths(folder):
        if not path.is_file():  # a FIFO or device would block libsndfile; training skips them too
            continue
        try:
            info = soundfile.info(str(path))
        except Exception:  # not audio, or not readable: training skips it too
            continue
        if info.frames > 0 and info.samplerate > 0:
            files, seconds = files + 1, seconds + info.frames / info.samplerate
    if not files:
        raise DistillError(f"no audio files (WAV, FLAC, OGG, MP3…) in {folder}", Fix("recordings-folder"))
    return files, seconds


def _step_seconds(settings: VAESettings) -> float:
    """Seconds per training step of this network on a random batch of the training shape."""
    import torch

    from ..melspec import DISTILL_MEL
    from ..threads import fit_threads
    from ..vae import MelVAE

    fit_threads()
    generator = torch.Generator().manual_seed(0)
    vae = MelVAE(**settings.vae_config())
    optimizer = torch.optim.AdamW(vae.parameters(), lr=settings.lr)
    batch = torch.randn(settings.batch_size, DISTILL_MEL.n_mels, settings.segment_frames, generator=generator)
    told = (torch.randn(settings.batch_size, settings.conditions, settings.segment_frames // settings.downsample,
                        generator=generator) if settings.conditions else None)
    times = []
    for _ in range(1 + TIMED_STEPS):
        started = time.perf_counter()
        mean, log_var = vae.encode(batch)
        recon = vae.decode(mean + torch.randn_like(mean) * torch.exp(0.5 * log_var), told)[..., : batch.shape[-1]]
        loss = (recon - batch).abs().mean() + 1e-3 * (mean.pow(2) + log_var.exp() - log_var).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return min(times[1:])
