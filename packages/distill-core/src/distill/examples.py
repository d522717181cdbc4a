"""A small example corpus synthesised by code: the demo's input and the tests' fixture.

Three families a musician might record: sustained harmonic tones, plucked strings
(Karplus-Strong) and filtered noise textures. Deterministic for a given seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
A4 = 440.0


def _envelope(n: int, attack: float, release: float, sr: int) -> np.ndarray:
    env = np.ones(n)
    a, r = max(1, int(attack * sr)), max(1, int(release * sr))
    env[:a] = np.linspace(0, 1, a)
    env[-r:] *= np.linspace(1, 0, r)
    return env


def tone(rng: np.random.Generator, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    f0 = A4 * 2 ** (rng.integers(-24, 7) / 12)
    t = np.arange(int(seconds * sr)) / sr
    vibrato = 1 + 0.004 * np.sin(2 * np.pi * rng.uniform(4, 6) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sr
    brightness = rng.uniform(0.8, 2.5)
    wave = sum(np.sin(h * phase) / h**brightness for h in range(1, 30) if f0 * h < 16000)
    return wave * _envelope(len(t), 0.05, 0.3, sr)


def pluck(rng: np.random.Generator, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    f0 = A4 * 2 ** (rng.integers(-17, 10) / 12)
    period = max(2, round(sr / f0))
    n = int(seconds * sr)
    out = np.zeros(n)
    ring = rng.uniform(-1, 1, period)
    decay = rng.uniform(0.990, 0.998)
    for start in range(0, n, period):  # one period per step: vectorised Karplus-Strong
        stop = min(start + period, n)
        out[start:stop] = ring[: stop - start]
        ring = decay * 0.5 * (ring + np.roll(ring, -1))
    return out * _envelope(n, 0.002, 0.05, sr)


def texture(rng: np.random.Generator, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    n = int(seconds * sr)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    centre, width = rng.uniform(300, 6000), rng.uniform(0.3, 1.5)
    spectrum *= np.exp(-0.5 * (np.log2(np.maximum(freqs, 1) / centre) / width) ** 2)
    wave = np.fft.irfft(spectrum, n)
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * np.arange(n) / sr)
    return wave * swell * _envelope(n, 0.2, 0.4, sr)


KINDS = {"tone": tone, "pluck": pluck, "texture": texture}


def make_example_corpus(folder: Path, files: int = 20, seconds: float = 3.0, seed: int = 0) -> list[Path]:
    """Write `files` WAV files (16-bit, 44.1 kHz, mono) into `folder`; returns their paths."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(KINDS)
    paths = []
    for i in range(files):
        kind = names[i % len(names)]
        wave = KINDS[kind](rng, seconds * rng.uniform(0.8, 1.2))
        wave = 0.7 * wave / (np.abs(wave).max() + 1e-9)
        path = folder / f"{kind}-{i:03d}.wav"
        soundfile.write(path, wave.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
        paths.append(path)
    return paths
