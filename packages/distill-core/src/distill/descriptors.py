"""Audio descriptors a musician names, in units a person reads, measured on audio: per mel frame (to
find the latent direction that moves each) and per clip (to measure what a control does).

- brightness: the spectral centroid, in semitones (MIDI numbers: 69 = 440 Hz);
- loudness: A-weighted level in dB (relative to a full-scale sine at 1 kHz, about);
- noisiness: spectral flatness in dB (0 = white noise, far below 0 for lines), over groups of 16 mel
  bands each less its tilt, so that a spectrum's tilt does not read as tonality;
- pitch: the fundamental (YIN), in semitones, where the sound is pitched;
- attack: how fast the level rises, in dB per frame (11.6 ms; per clip, its three sharpest rises);
  onsets are found on the mean rise of the log-mel across bands;
- density: onsets per second.

Everything is computed from the model's own mel recipe (and YIN on the waveform for pitch), so the
corpus and the rendered probes are measured alike.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from .melspec import MelSpec

NAMES = ("brightness", "loudness", "noisiness", "pitch", "attack", "density")
YIN_THRESHOLD = 0.2  # a frame whose normalised difference dips below this has a clear period
PITCH_HZ = (40.0, 2000.0)
ONSET_RISE = 0.3  # nats: a local peak of onset strength at least this high is an onset …
ONSET_OVER_MEDIAN = 3.0  # … and this many times the sound's median (a texture's flicker is no onset)
ONSET_GAP = 0.05  # seconds: onsets closer than this count once
AUDIBLE_DB = 50.0  # frames this far below a sound's loudest frame are not judged (decays into silence)
DENSITY_SECONDS = 1.0  # the window over which a frame's onset rate is counted
MIN_PAIRED = 40  # frames (0.46 s) pitched in both renderings that a change of pitch needs


def _a_weighting_db(hz: np.ndarray) -> np.ndarray:
    f2 = np.maximum(hz, 1.0) ** 2
    ra = 12194.0**2 * f2**2 / ((f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2))
    return 20 * np.log10(ra) + 2.0


def band_centres(spec: MelSpec) -> np.ndarray:
    from .melspec import hz_to_mel, mel_to_hz

    edges = np.linspace(hz_to_mel(spec.fmin, spec.mel_scale), hz_to_mel(spec.fmax_hz, spec.mel_scale), spec.n_mels + 2)
    return np.asarray(mel_to_hz(edges[1:-1], spec.mel_scale), dtype=np.float64)


def semitones(hz: np.ndarray | float) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.maximum(np.asarray(hz, dtype=np.float64), 1e-3) / 440.0)


def mel_qualities(mel: torch.Tensor, spec: MelSpec) -> dict[str, torch.Tensor]:
    """Power (A-weighted), loudness, brightness, noisiness, attack and the spectral rise (for onsets)
    of each frame of log-mels [..., n_mels, T] in `spec`'s recipe, differentiable (controls.py
    optimises through them): [..., T]."""
    import torch

    magnitude = spec.decompress(mel.double())
    power = magnitude**2 if spec.power == 1.0 else magnitude
    hz = band_centres(spec)
    centres = torch.from_numpy(hz)[:, None]
    weighted = (power * torch.from_numpy(10 ** (_a_weighting_db(hz) / 10))[:, None]).sum(dim=-2)
    groups = power[..., : spec.n_mels // 16 * 16, :].unflatten(-2, (-1, 16)) + 1e-20  # [..., groups, 16, T]
    group_power = groups.mean(dim=-2)
    # flatness of the fine structure: each group's log-spectrum less its tilt (the median step from band
    # to band, which a peak barely moves), so that brighter or darker does not read as more or less noise
    log_power = torch.log(groups)
    position = torch.arange(16, dtype=log_power.dtype)[:, None] - 7.5
    slope = torch.diff(log_power, dim=-2).median(dim=-2, keepdim=True).values
    level = log_power - slope * position
    flatness = 10 / math.log(10) * (level.mean(dim=-2) - torch.logsumexp(level, dim=-2) + math.log(16))
    floor = magnitude.amax(dim=(-2, -1), keepdim=True).detach() * 1e-4 + 1e-12  # 80 dB: silence adds no rises
    log_magnitude = torch.log(torch.maximum(magnitude, floor))
    before = log_magnitude.amin(dim=-1, keepdim=True)  # silence before the clip: a first hit counts
    rise = torch.relu(torch.diff(log_magnitude, dim=-1, prepend=before)).mean(dim=-2)
    loudness = 10 * torch.log10(weighted + 1e-20)
    floored = torch.maximum(loudness, loudness.amax(dim=-1, keepdim=True).detach() - 80.0)
    return {
        "power": weighted + 1e-20,
        "loudness": loudness,
        "brightness": 69 + 12 * torch.log2((power * centres).sum(dim=-2) / (power.sum(dim=-2) + 1e-20) / 440.0 + 1e-9),
        # the groups' flatness weighted by their power: an empty group is flat, and must not count
        "noisiness": (flatness * group_power).sum(dim=-2) / group_power.sum(dim=-2),
        "rise": rise,
        "attack": torch.relu(torch.diff(floored, dim=-1, prepend=floored.amin(dim=-1, keepdim=True))),
    }


def recording(audio: np.ndarray, spec: MelSpec) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """A recording as training and the slider analysis keep it: its log-mels and their descriptors."""
    import torch

    with torch.no_grad():
        mel = spec.mel(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
    return mel, frame_descriptors(audio, spec, mel)


def frame_descriptors(audio: np.ndarray, spec: MelSpec, mel: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per mel frame of `audio` (mono float at spec.sample_rate): "power" (A-weighted, linear),
    "loudness" (dB), "brightness" (st), "noisiness", "pitch" (st; NaN where unpitched), "attack"
    (level rise, dB per frame) and "onset" (1.0 at each onset). `mel`: the audio's log-mels, if at hand."""
    import torch

    with torch.no_grad():
        if mel is None:
            mel = spec.mel(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        descriptors = {name: values.numpy() for name, values in mel_qualities(mel, spec).items()}
    descriptors["pitch"] = pitch_track(audio, spec, mel.shape[-1])
    audible = descriptors["loudness"] > descriptors["loudness"].max() - AUDIBLE_DB
    descriptors["pitch"][~audible] = np.nan
    descriptors["onset"] = _onsets(descriptors.pop("rise"), audible, spec.sample_rate / spec.hop_length)
    return descriptors


def _onsets(rise: np.ndarray, audible: np.ndarray, frame_rate: float) -> np.ndarray:
    gap = max(1, round(ONSET_GAP * frame_rate))
    padded = np.pad(rise, gap, constant_values=-np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * gap + 1)
    floor = max(ONSET_RISE, ONSET_OVER_MEDIAN * float(np.median(rise[audible]))) if audible.any() else ONSET_RISE
    peaks = (rise >= window.max(axis=1)) & (rise >= floor) & audible
    onset = np.zeros_like(rise)
    last = -gap - 1
    for t in np.flatnonzero(peaks).tolist():  # equal neighbouring maxima count once
        if t - last > gap:
            onset[t], last = 1.0, t
    return onset


def pitch_track(audio: np.ndarray, spec: MelSpec, frames: int) -> np.ndarray:
    """The fundamental of each mel frame in semitones by YIN (cumulative mean normalised difference over
    a window of n_fft samples centred where the mel frame is), NaN where no clear period shows."""
    rate = spec.sample_rate
    window = max(spec.n_fft, 2 * math.ceil(rate / PITCH_HZ[0]))
    half = window // 2
    lags = np.arange(half)
    offset = spec.hop_length // 2 if spec.padding == "reflect" else 0
    padded = np.pad(np.asarray(audio, dtype=np.float64), (half, half + window))
    starts = np.arange(frames) * spec.hop_length + offset
    x = padded[starts[:, None] + np.arange(window)[None, :]]  # [frames, window]
    size = 2 * window
    cross = np.fft.irfft(np.conj(np.fft.rfft(x[:, :half], size)) * np.fft.rfft(x, size), size)[:, :half]
    energy = np.concatenate([np.zeros((frames, 1)), np.cumsum(x**2, axis=1)], axis=1)
    shifted = energy[:, lags + half] - energy[:, lags]
    difference = np.maximum(energy[:, half : half + 1] + shifted - 2 * cross, 0.0)
    cumulative = np.cumsum(difference[:, 1:], axis=1)
    cmnd = np.ones_like(difference)
    cmnd[:, 1:] = difference[:, 1:] * lags[1:] / np.maximum(cumulative, 1e-20)
    low, high = max(2, int(rate / PITCH_HZ[1])), min(half - 2, int(rate / PITCH_HZ[0]))
    band = cmnd[:, low:high]
    below = band < YIN_THRESHOLD
    first = np.where(below.any(axis=1), below.argmax(axis=1), band.argmin(axis=1))
    # from the first dip below the threshold, down to the bottom of that dip
    reach = np.arange(band.shape[1])[None, :]
    dip = np.where((reach >= first[:, None]) & (reach <= first[:, None] * 1.5 + 2), band, np.inf)
    best = dip.argmin(axis=1)
    value = band[np.arange(frames), best]
    lag = (best + low).astype(np.float64)
    inner = (best > 0) & (best < band.shape[1] - 1)
    rows = np.flatnonzero(inner)
    a, b, c = band[rows, best[rows] - 1], band[rows, best[rows]], band[rows, best[rows] + 1]
    curvature = a - 2 * b + c
    lag[rows] += np.where(curvature > 1e-12, 0.5 * (a - c) / np.maximum(curvature, 1e-12), 0.0)
    pitch = semitones(rate / lag)
    pitch[value >= YIN_THRESHOLD] = np.nan
    return pitch


def per_latent_frame(descriptors: dict[str, np.ndarray], downsample: int, frame_rate: float,
                     latent_frames: int) -> dict[str, np.ndarray]:
    """Each descriptor over the mel frames a latent frame covers: loudness of their mean power;
    brightness and noisiness weighted by power; pitch where most of them are pitched; attack the
    strongest rise; density the onset rate over DENSITY_SECONDS around it."""
    length = latent_frames * downsample

    def blocks(values: np.ndarray, fill: float) -> np.ndarray:
        values = np.concatenate([values, np.full(max(0, length - len(values)), fill)])[:length]
        return values.reshape(latent_frames, downsample)

    power = blocks(descriptors["power"], 1e-20)
    weights = power / power.sum(axis=1, keepdims=True)
    pitch = blocks(descriptors["pitch"], np.nan)
    pitched = np.isfinite(pitch).sum(axis=1) * 2 > downsample
    onsets = blocks(descriptors["onset"], 0.0).sum(axis=1)
    span = max(1, round(DENSITY_SECONDS * frame_rate / downsample))
    first = (span - 1) // 2  # np.convolve's "same" would return the longer of the two
    counted = np.convolve(onsets, np.ones(span))[first : first + latent_frames]
    covered = np.convolve(np.ones(latent_frames), np.ones(span))[first : first + latent_frames]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: unpitched, and NaN is the answer
        return {
            "loudness": 10 * np.log10(power.mean(axis=1)),
            "brightness": (weights * blocks(descriptors["brightness"], 0.0)).sum(axis=1),
            "noisiness": (weights * blocks(descriptors["noisiness"], 0.0)).sum(axis=1),
            "pitch": np.where(pitched, np.nanmedian(np.where(np.isfinite(pitch), pitch, np.nan), axis=1), np.nan),
            "attack": blocks(descriptors["attack"], 0.0).max(axis=1),
            "density": counted / (covered * downsample / frame_rate),
        }


def clip_descriptors(descriptors: dict[str, np.ndarray], frame_rate: float) -> dict[str, float]:
    """One value per descriptor for a whole clip: loudness of its mean power; brightness and
    noisiness weighted by power; pitch the median over pitched frames (NaN when under a tenth of the
    audible frames are pitched); attack the mean of its three strongest rises (its sharpest
    transients); density its onsets per second."""
    power = descriptors["power"]
    loudness = descriptors["loudness"]
    audible = loudness > loudness.max() - AUDIBLE_DB
    weights = power / power.sum()
    pitch = descriptors["pitch"]
    pitched = np.isfinite(pitch)
    return {
        "loudness": float(10 * np.log10(power.mean())),
        "brightness": float((weights * descriptors["brightness"]).sum()),
        "noisiness": float((weights * descriptors["noisiness"]).sum()),
        "pitch": float(np.median(pitch[pitched])) if pitched.sum() * 10 >= audible.sum() else math.nan,
        "attack": float(np.sort(descriptors["attack"][audible])[-3:].mean()),
        "density": float(descriptors["onset"].sum() * frame_rate / len(power)),
    }


def change(before: dict[str, np.ndarray], after: dict[str, np.ndarray], frame_rate: float) -> dict[str, float]:
    """How each quality changed between two renderings of the same material (same length, same
    timing): brightness, loudness and noisiness as the median change over the frames audible before,
    pitch over the frames pitched in both (NaN under MIN_PAIRED of them), attack and density per clip.
    Paired frame by frame, a change is measured where it happens, not diluted by what plays when."""
    audible = before["loudness"] > before["loudness"].max() - AUDIBLE_DB
    pitched = np.isfinite(before["pitch"]) & np.isfinite(after["pitch"])
    clips = clip_descriptors(before, frame_rate), clip_descriptors(after, frame_rate)
    out = {name: float(np.median(after[name][audible] - before[name][audible]))
           for name in ("brightness", "loudness", "noisiness")}
    out["pitch"] = float(np.median(after["pitch"][pitched] - before["pitch"][pitched])) if pitched.sum() >= MIN_PAIRED \
        else math.nan
    out.update({name: clips[1][name] - clips[0][name] for name in ("attack", "density")})
    return out
