"""How close a rendering is to the recording it came from: the measures `distill vocoders compare`,
the vocoder selection and the benchmarks share. Waveforms are 1-D float tensors at the model's rate.

- log-mel L1: mean |log-mel(output) - log-mel(reference)| in nats (timbre, as the mel recipe sees it);
- MR-STFT: spectral convergence + log-magnitude L1, averaged over FFT sizes 512, 1024 and 2048 (also
  the fine harmonic detail a mel blurs);
- ViSQOL (v3, audio mode, 48 kHz; `visqol-python`, which ships its model): a perceptual MOS from 1 to
  ~4.73 (identical audio), higher is better. It needs a few seconds of audio: short clips are joined;
- pitch: pYIN (librosa) on both, the mean |error| in cents over frames voiced in both, and the share of
  frames whose voicing disagrees (a tone rendered as noise, or noise as a tone);
- SNR: waveform error, phase included (vocoders rarely keep the original phase: often ≤ 0 dB);
- tonal artefacts: narrow steady lines and a ripple across noise that the rendering adds and the
  recording lacks, from both long-term spectra (`tonal_artefacts`). ViSQOL barely sees them (a
  fine-tuned vocoder that put a steady line +15 dB over its surroundings at 5.5 kHz into every clip
  scored 4.64 against the base's 4.63), and a listener hears them at once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .errors import DistillError, Fix
from .mrstft import multi_resolution_stft

if TYPE_CHECKING:
    import torch

    from .melspec import MelSpec

VISQOL_RATE = 48000
VISQOL_MIN_SECONDS = 3.0  # ViSQOL refuses audio shorter than its patches: shorter pairs are looped to this
PITCH_RATE = 22050
PITCH_RANGE_HZ = (32.7, 2093.0)  # C1 to C7: bass instruments to the piccolo's top
PITCH_FRAME = 2048  # samples at PITCH_RATE: two periods of the lowest pitch fit in one frame
LINE_RESOLUTION_HZ = 5.0  # of the long-term spectrum: a steady line stands out of its bin's neighbours
SURROUNDINGS_HZ = 400.0  # a bin's level is compared with the median over this width around it
TONAL_BAND_HZ = (200.0, 16000.0)
LINE_DB = 3.0  # a bin this far above its surroundings in the recording is a line of the recording's own
AUDIBLE_DB = 60.0  # bins this far below the loudest one are not judged


def log_mel_l1(reference: torch.Tensor, output: torch.Tensor, spec: MelSpec) -> float:
    return float((spec.mel(output) - spec.mel(reference)).abs().mean())


def mr_stft_distance(reference: torch.Tensor, output: torch.Tensor) -> float:
    return float(multi_resolution_stft(output, reference))


def snr_db(reference: torch.Tensor, output: torch.Tensor) -> float:
    error = float((reference - output).square().sum())
    return 10 * float(np.log10(float(reference.square().sum()) / max(error, 1e-20)))


def visqol(reference: np.ndarray, output: np.ndarray, rate: int) -> float:
    """ViSQOL's MOS-LQO of `output` against `reference` (both at `rate`; at least ~1 s long)."""
    import logging

    from visqol import VisqolApi

    from .audio import resample

    logging.getLogger("visqol").setLevel(logging.ERROR)
    api = VisqolApi()
    api.create(mode="audio")
    repeats = max(1, math.ceil(VISQOL_MIN_SECONDS * rate / max(1, len(reference))))
    ref, out = (np.asarray(resample(np.tile(x.astype(np.float32), repeats), rate, VISQOL_RATE), dtype=np.float64)
                for x in (reference, output))
    try:
        return float(api.measure_from_arrays(ref, out, VISQOL_RATE).moslqo)
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        raise DistillError(f"ViSQOL could not measure this audio ({exc})", Fix("other-audio")) from None


def pitch_track(wave: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """pYIN's f0 (Hz, NaN where unvoiced) and voicing flag per frame."""
    import librosa

    from .audio import resample

    signal = resample(wave.astype(np.float32), rate, PITCH_RATE)
    f0, voiced, _ = librosa.pyin(signal, fmin=PITCH_RANGE_HZ[0], fmax=PITCH_RANGE_HZ[1], sr=PITCH_RATE,
                                 frame_length=PITCH_FRAME)
    return f0, voiced


def pitch_error(reference: tuple[np.ndarray, np.ndarray], output: tuple[np.ndarray, np.ndarray]
                ) -> tuple[float, float]:
    """(mean |pitch error| in cents over frames voiced in both, share of frames whose voicing differs),
    from two `pitch_track`s. The cents figure is NaN when no frame is voiced in both (unpitched material)."""
    frames = min(len(reference[1]), len(output[1]))
    (f_ref, v_ref), (f_out, v_out) = ((f[:frames], v[:frames]) for f, v in (reference, output))
    both = v_ref & v_out
    cents = float(np.mean(np.abs(1200 * np.log2(f_out[both] / f_ref[both])))) if both.any() else float("nan")
    return cents, float(np.mean(v_ref != v_out)) if frames else 0.0


def spectral_prominence(wave: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin frequencies, level in dB, and dB of each bin above the median of its surroundings) of the
    long-term spectrum: steady lines stand out, noise and smooth envelopes sit near 0."""
    from scipy.ndimage import median_filter, uniform_filter1d

    n_fft = 1 << round(math.log2(rate / LINE_RESOLUTION_HZ))
    wave = np.pad(np.asarray(wave, np.float64), (0, max(0, n_fft - len(wave))))
    frames = np.lib.stride_tricks.sliding_window_view(wave, n_fft)[:: n_fft // 2]
    power = (np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2).mean(axis=0)
    level = uniform_filter1d(10 * np.log10(power + 1e-20), 3)  # a Hann window spreads a line over ~3 bins
    width = max(3, round(SURROUNDINGS_HZ * n_fft / rate) | 1)
    return np.fft.rfftfreq(n_fft, 1 / rate), level, level - median_filter(level, width, mode="nearest")


def tonal_artefacts(reference: np.ndarray, output: np.ndarray, rate: int) -> dict[str, float]:
    """What `output` adds to `reference` in steady lines and spectral ripple, in dB, where it can be heard
    (within AUDIBLE_DB of the output's loudest bin): `lines_db`, the strongest line added (how far a bin
    stands above its surroundings, beyond what the recording's does, where the recording has no line of
    its own), and `ripple_db`, the spread (5th to 95th percentile) of the differences in prominence where
    the recording is noise-like (a comb of lines across noise). Gaps between a recording's own partials
    count as no prominence: filling them with noise is not a line."""
    freqs, level, ours = spectral_prominence(output, rate)
    _, _, theirs = spectral_prominence(reference, rate)
    band = (freqs >= TONAL_BAND_HZ[0]) & (freqs <= min(TONAL_BAND_HZ[1], rate / 2))
    heard = band & (level > level[band].max() - AUDIBLE_DB)
    lines, noisy = heard & (theirs < LINE_DB), heard & (np.abs(theirs) < LINE_DB)
    added = ours - np.maximum(theirs, 0.0)
    spread = np.percentile((ours - theirs)[noisy], [5, 95]) if noisy.sum() > 20 else (0.0, 0.0)
    return {"lines_db": float(added[lines].max()) if lines.any() else 0.0,
            "ripple_db": float(spread[1] - spread[0])}
