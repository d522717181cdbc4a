"""Measuring new material against real recordings, offline (../shared/reference/generation-metrics.md):
KAD over aisfx clip embeddings, the sound's gestures with librosa, and novelty (distance to the
nearest training window). Bench-only: aisfx is installed into the bench environment alone."""

from __future__ import annotations

import functools

import numpy as np

RATE = 44100  # aisfx's rate; every clip handed in here is at this rate
MIN_SECONDS = 2.0  # aisfx blocks are ~2 s: shorter clips are padded with silence, the same in every set


@functools.cache
def _aisfx():
    import torch
    from aisfx import inference

    # The checkpoint names numpy's scalar reconstructor by its numpy 1.x path.
    numpy_safe = [np.dtype, (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),
                  *(type(np.dtype(t)) for t in "fdilbq")]
    with torch.serialization.safe_globals(numpy_safe):
        weights, datasets = torch.load(inference.get_path_modelWeights(), map_location="cpu", weights_only=True)
    return inference.load_bestModel(weights, datasets, "cpu"), inference


def embed(clips: list[np.ndarray]) -> np.ndarray:
    """One 512-d aisfx embedding per clip (the mean of its ~2 s blocks)."""
    import librosa
    import torch

    model, inf = _aisfx()
    out = []
    for clip in clips:
        y = np.pad(clip, (0, max(0, int(MIN_SECONDS * RATE) - len(clip)))).astype(np.float32)
        y = y / (np.abs(y).max() or 1.0)  # aisfx normalises each file's peak
        spec = librosa.feature.melspectrogram(y=y, sr=RATE, n_mels=inf.MEL_BINS, norm=1.0, fmin=inf.F_MIN,
                                              fmax=inf.F_MAX, htk=True, power=2.0, hop_length=inf.SPEC_HOP_LENGTH,
                                              win_length=inf.SPEC_BLOCK_LENGTH)
        spec = inf.spectrogram_normalize(np.log10(spec * 10000.0 + 1)).T  # frames x mels
        blocks = inf.blocking(spec, inf.EMB_BLOCK_LENGTH, inf.EMB_BLOCK_LENGTH // 2, drop_partial_block=True)
        with torch.no_grad():
            out.append(model.get_embedding(torch.tensor(blocks, dtype=torch.float32)).mean(0).numpy())
    return np.stack(out)


def kad(x: np.ndarray, y: np.ndarray) -> float:
    """Kernel audio distance (kadtk): unbiased MMD² with a Gaussian kernel whose bandwidth is the
    median pairwise distance within the reference set `y`, × 100."""
    def sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T, 0.0)

    ref = sq(y, y)
    bandwidth = np.median(np.sqrt(ref[np.triu_indices(len(y), 1)]))
    k = lambda d: np.exp(-d / (2 * bandwidth**2))  # noqa: E731
    kxx, kyy, kxy = k(sq(x, x)), k(ref), k(sq(x, y))
    m, n = len(x), len(y)
    mmd = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
           - 2 * kxy.mean())
    return 100.0 * float(mmd)


def gestures(clips: list[np.ndarray], rate: int = RATE) -> dict[str, float | np.ndarray]:
    """Onset rate (per second), sharpness (median onset strength at onsets), dynamic range (95th − 5th
    percentile of frame level, dB) and the mean level-modulation spectrum (0.5–16 Hz) of a set."""
    import librosa

    hop = 512
    onsets, seconds, strengths, levels, spectra = 0, 0.0, [], [], []
    for clip in clips:
        y = clip.astype(np.float32)
        envelope = librosa.onset.onset_strength(y=y, sr=rate, hop_length=hop)
        found = librosa.onset.onset_detect(onset_envelope=envelope, sr=rate, hop_length=hop)
        onsets += len(found)
        seconds += len(y) / rate
        strengths += list(envelope[found])
        rms = librosa.feature.rms(y=y, hop_length=hop)[0]
        db = 20 * np.log10(np.maximum(rms, 1e-5))
        levels += list(db)
        spectra.append(modulation_spectrum(db, rate / hop))
    low, high = np.percentile(levels, [5, 95])
    return {"onset_rate": onsets / seconds, "sharpness": float(np.median(strengths)) if strengths else 0.0,
            "dynamic_range": float(high - low), "modulation": np.mean(spectra, axis=0)}


def modulation_spectrum(level_db: np.ndarray, frame_rate: float) -> np.ndarray:
    """Normalised magnitude spectrum of a level envelope at 32 log-spaced rates from 0.5 to 16 Hz."""
    n = max(len(level_db), int(4 * frame_rate))  # at least 4 s of resolution: short clips are zero-padded
    centred = level_db - level_db.mean()
    spectrum = np.abs(np.fft.rfft(centred * np.hanning(len(centred)), n))
    rates = np.fft.rfftfreq(n, 1 / frame_rate)
    values = np.interp(np.geomspace(0.5, 16, 32), rates, spectrum)
    return values / (np.linalg.norm(values) or 1.0)


def log_mel_windows(clips: list[np.ndarray], rate: int = RATE, seconds: float = 1.0) -> np.ndarray:
    """Every 1 s window (hop 0.25 s) of each clip's log-mel (64 bands), flattened: [N, 64 × frames]."""
    import librosa

    hop = 512
    width, step = int(seconds * rate / hop), int(0.25 * rate / hop)
    windows = []
    for clip in clips:
        mel = np.log(librosa.feature.melspectrogram(y=clip.astype(np.float32), sr=rate, n_mels=64,
                                                    hop_length=hop) + 1e-5)
        if mel.shape[1] < width:
            mel = np.pad(mel, ((0, 0), (0, width - mel.shape[1])), constant_values=np.log(1e-5))
        windows += [mel[:, s : s + width].ravel() for s in range(0, mel.shape[1] - width + 1, step)]
    return np.stack(windows)


def novelty(candidates: list[np.ndarray], training: list[np.ndarray]) -> float:
    """Median distance (RMS nats per bin) of each 1 s window of `candidates` to its nearest 1 s window
    of `training`."""
    a, b = log_mel_windows(candidates), log_mel_windows(training)
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return float(np.median(np.sqrt(np.maximum(d.min(1), 0) / a.shape[1])))
