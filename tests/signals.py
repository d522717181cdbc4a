"""Deterministic test signals (no files, no downloads)."""

from __future__ import annotations

import numpy as np
import scipy.signal


def harmonic_tone(f0: float, seconds: float, sr: int = 44100, top: float = 9000.0, vibrato: float = 0.01):
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + vibrato * np.sin(2 * np.pi * 5 * t))) / sr
    wave = sum(np.sin(h * phase) / h for h in range(1, 40) if f0 * h < top)
    return (0.2 * wave).astype(np.float32)


def band_noise(seconds: float, low: float, high: float, sr: int = 44100, seed: int = 0, level: float = 0.1):
    rng = np.random.default_rng(seed)
    b, a = scipy.signal.butter(6, [low / (sr / 2), high / (sr / 2)], btype="band")
    return (level * scipy.signal.lfilter(b, a, rng.standard_normal(int(seconds * sr)))).astype(np.float32)
