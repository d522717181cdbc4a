"""What a conditioned decoder is told: per latent frame, the qualities its sound should have, and the
target transforms that teach it to follow them.

The qualities are those a musician names and descriptors.py measures, per latent frame: loudness
(dB), brightness (st), noisiness (dB of flatness), pitch (st, where the frame is voiced) and whether it
is voiced, each standardised by the corpus' mean and spread. In training the encoder reads a segment
and the decoder must rebuild a *transformed* copy of it (louder or softer, transposed, tilted brighter
or darker, with a noise floor mixed in) from the latents and the copy's measured qualities: since only
the qualities say what was done, the decoder learns to render the latents' content with the qualities
it is given. At generation the learned prior plays the qualities with the latents (prior.py; the
`describe` head predicts them from the latents on every other path) and a control shifts one of them
by the amount asked, in its unit (controls.py, calibration.py measure the result).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.nn import functional as F

from .descriptors import band_centres, mel_qualities

if TYPE_CHECKING:
    from .melspec import MelSpec
    from .vae import MelVAE

CONDITIONS = ("loudness", "brightness", "noisiness", "pitch", "voiced")
GAIN_DB = 6.0  # the transforms' largest gain, transposition (st) and tilt (dB per octave) …
TRANSPOSE_ST = 4.0
TILT_DB = 6.0
NOISE = 0.7  # … and noise floor (its level against the sound's smoothed spectrum)
CHANCE = 0.5  # of each transform, independently per segment (else the segment is rebuilt as it is)


def raw(mel: torch.Tensor, pitch: torch.Tensor, spec: MelSpec, downsample: int) -> torch.Tensor:
    """Qualities [B, 5, T / downsample] (CONDITIONS, in their units; pitch is NaN where not voiced) of
    log-mels [B, n_mels, T] and their pitch track [B, T] (st, NaN where unpitched); T divisible."""
    qualities = mel_qualities(mel, spec)
    power = qualities["power"].unflatten(-1, (-1, downsample))
    weights = power / power.sum(dim=-1, keepdim=True)

    def weighted(name: str) -> torch.Tensor:
        return (qualities[name].unflatten(-1, (-1, downsample)) * weights).sum(dim=-1)

    blocks = pitch.unflatten(-1, (-1, downsample))
    voiced = (torch.isfinite(blocks).double().mean(dim=-1) > 0.5).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = torch.nanmedian(blocks.double(), dim=-1).values
    loudness = 10 * torch.log10(power.mean(dim=-1))
    pitched = torch.where(voiced > 0, median, math.nan)
    return torch.stack([loudness, weighted("brightness"), weighted("noisiness"), pitched, voiced], dim=1)


def statistics(conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and spread of each quality over raw frames [N, 5] (pitch over voiced frames only)."""
    mean = torch.nanmean(conditions, dim=0)
    centred = torch.where(torch.isfinite(conditions), conditions - mean, 0.0)
    counts = torch.isfinite(conditions).sum(dim=0).clamp(min=2)
    std = (centred.square().sum(dim=0) / (counts - 1)).sqrt().clamp(min=1e-3)
    mean[-1], std[-1] = 0.0, 1.0  # voiced stays 0 / 1
    mean = torch.nan_to_num(mean, nan=60.0)
    return mean.float(), std.float()


def standardise(conditions: torch.Tensor, vae: MelVAE) -> torch.Tensor:
    """Raw qualities [B, 5, L] -> what the decoder reads (unvoiced frames' pitch reads 0)."""
    out = (conditions - vae.quality_mean[None, :, None]) / vae.quality_std[None, :, None]
    return torch.nan_to_num(out, nan=0.0).float()


def told(mel: torch.Tensor, pitch: torch.Tensor, spec: MelSpec, vae: MelVAE) -> torch.Tensor:
    """What the decoder reads [conditions, L] for a whole recording's log-mels [n_mels, T] and pitch track
    [T]: one frame per latent frame, the last padded as `MelVAE.encode` pads it."""
    pad = vae.latent_frames(mel.shape[-1]) * vae.downsample - mel.shape[-1]
    mel = F.pad(mel[None], (0, pad), mode="replicate")
    track = F.pad(pitch[None, None], (0, pad), mode="replicate")[0]
    return standardise(raw(mel, track, spec, vae.downsample), vae)[0]


def shifted(standard: torch.Tensor, vae: MelVAE, values: dict[str, float]) -> torch.Tensor:
    """Standardised qualities [B, 5, L] with each named quality moved by its value (in its unit);
    pitch moves as much as each frame is voiced."""
    out = standard.clone()
    voiced = standard[:, CONDITIONS.index("voiced")].clamp(0.0, 1.0)
    for name, value in values.items():
        index = CONDITIONS.index(name)
        step = value / float(vae.quality_std[index])
        out[:, index] += step * voiced if name == "pitch" else step
    return out


def transform(mel: torch.Tensor, pitch: torch.Tensor, spec: MelSpec,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each segment of log-mels [B, n_mels, T] and its pitch track [B, T], independently and each with
    probability CHANCE: a gain, a transposition (pitch moves with it), a tilt, a noise floor."""
    centres = band_centres(spec)
    octaves = torch.from_numpy(np.log2(centres / 1000.0)).float()[:, None]
    out, tracks = mel.clone(), pitch.clone()
    for row in range(mel.shape[0]):
        draws = torch.rand(8, generator=generator).tolist()
        if draws[0] < CHANCE:
            out[row] = out[row] + (2 * draws[1] - 1) * GAIN_DB / 20 * math.log(10)
        if draws[2] < CHANCE:
            semitones = (2 * draws[3] - 1) * TRANSPOSE_ST
            out[row] = transposed(out[row], centres, semitones)
            tracks[row] = tracks[row] + semitones
        if draws[4] < CHANCE:
            out[row] = out[row] + (2 * draws[5] - 1) * TILT_DB / 20 * math.log(10) * octaves
        if draws[6] < CHANCE * 0.6:
            envelope = F.avg_pool1d(out[row].T[None], 17, 1, 8, count_include_pad=False)[0].T
            out[row] = torch.log(torch.exp(out[row]) + draws[7] * NOISE * torch.exp(envelope))
    return torch.clamp(out, min=spec.silence), tracks


def transposed(mel: torch.Tensor, centres: np.ndarray, semitones: float) -> torch.Tensor:
    """Log-mels [..., n_mels, T] shifted along frequency by `semitones`: each band reads the unmoved
    spectrum at its centre frequency lowered by that much (below the lowest band, its value)."""
    position = np.log2(centres + 1e-9)
    source = np.interp(position - semitones / 12.0, position, np.arange(len(centres)))
    low = np.floor(source).astype(int).clip(0, len(centres) - 1)
    high = np.minimum(low + 1, len(centres) - 1)
    fraction = torch.from_numpy(source - low).to(mel.dtype)[:, None]
    return mel[..., low, :] * (1 - fraction) + mel[..., high, :] * fraction
