"""The fixed low-pass filter of BigVGAN's anti-aliased activations, as matrices and taps.

Every activation upsamples ×2 with a Kaiser-windowed sinc low-pass (12 taps, cutoff 0.25 of the
upsampled rate, transition half-width 0.3), applies SnakeBeta, then low-passes with the same filter
and keeps every second sample. Both filters are linear and the same for every channel, so we write
them as matrices over the time axis (`upsampler`, `downsampler`: the reference's replicate padding,
×2-gained transposed convolution, cropping and strided convolution, as one linear map each).

Away from the ends, the maps are short convolutions on the two phases of the upsampled signal
(`polyphase_taps`): depthwise convolutions, which oneDNN runs fast on channels-last tensors. Near the
ends, where the replicate padding matters, `edge_matrices` give the few samples there exactly.
"""

from __future__ import annotations

import functools
import math

import numpy as np

TAPS = 12
CUTOFF = 0.25
HALF_WIDTH = 0.3
EDGE = 8  # output samples at each end that depend on the end padding
EDGE_UP = 2 * EDGE + 5  # upsampled samples those EDGE outputs read
EDGE_INPUT = EDGE + 6  # input samples those upsampled samples read


def kaiser_sinc(cutoff: float = CUTOFF, half_width: float = HALF_WIDTH, taps: int = TAPS) -> np.ndarray:
    """A low-pass FIR filter of even length `taps`, normalised to unit DC gain (float64)."""
    half = taps // 2
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95  # Kaiser's design formula, in dB
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = np.kaiser(taps, beta)
    time = np.arange(-half, half) + 0.5  # an even filter is centred between two samples
    kernel = 2 * cutoff * window * np.sinc(2 * cutoff * time)
    return kernel / kernel.sum()


@functools.lru_cache(maxsize=64)
def upsampler(length: int) -> np.ndarray:
    """[length, 2·length]: x -> u, the ×2 upsampling of `length` samples, ends replicate-padded.

    u[2n] = 2·Σ_i h[2i+1]·x[n+2-i] and u[2n+1] = 2·Σ_i h[2i]·x[n+3-i] (i = 0..5, indices clamped into
    the signal): the reference's pad-by-5, stride-2 transposed convolution, ×2 gain, crop by 15.
    """
    h = kaiser_sinc()
    matrix = np.zeros((length, 2 * length))
    for n in range(length):
        for i in range(TAPS // 2):
            matrix[min(max(n + 2 - i, 0), length - 1), 2 * n] += 2 * h[2 * i + 1]
            matrix[min(max(n + 3 - i, 0), length - 1), 2 * n + 1] += 2 * h[2 * i]
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=64)
def downsampler(length: int) -> np.ndarray:
    """[2·length, length]: z -> y, low-pass and keep every second sample, ends replicate-padded:
    y[n] = Σ_k h[k]·z[2n+k-5] (the reference's pad (5, 6), stride-2 convolution)."""
    h = kaiser_sinc()
    matrix = np.zeros((2 * length, length))
    for n in range(length):
        for k in range(TAPS):
            matrix[min(max(2 * n + k - 5, 0), 2 * length - 1), n] += h[k]
    matrix.setflags(write=False)
    return matrix


def polyphase_taps() -> dict[str, np.ndarray]:
    """Seven-tap kernels over x[n-3 .. n+3] (correlation, as `conv1d` applies them) for the interior:
    "up_even"/"up_odd" give u[2n]/u[2n+1] from x (see `upsampler`), and "down_even"/"down_odd" give
    y[n] = Σ_i h[2i+1]·u[2(n+i-2)] + Σ_i h[2i]·u[2(n+i-3)+1] from the two phases (see `downsampler`)."""
    h = kaiser_sinc()
    taps = {name: np.zeros(7) for name in ("up_even", "up_odd", "down_even", "down_odd")}
    for i in range(TAPS // 2):
        taps["up_even"][(2 - i) + 3] = 2 * h[2 * i + 1]  # x[n+2-i]
        taps["up_odd"][(3 - i) + 3] = 2 * h[2 * i]  # x[n+3-i]
        taps["down_even"][(i - 2) + 3] = h[2 * i + 1]  # u[2(n+i-2)]
        taps["down_odd"][(i - 3) + 3] = h[2 * i]  # u[2(n+i-3)+1]
    return taps


def edge_matrices() -> dict[str, np.ndarray]:
    """The maps for the EDGE outputs at each end of a signal: "head_up" [EDGE_INPUT, EDGE_UP] and
    "head_down" [EDGE_UP, EDGE] read the first EDGE_INPUT samples, "tail_up" and "tail_down" the last
    ones. They are the same for every signal of at least 2·EDGE_INPUT samples."""
    length = 4 * EDGE_INPUT
    up, down = upsampler(length), downsampler(length)
    return {
        "head_up": up[:EDGE_INPUT, :EDGE_UP].copy(),
        "head_down": down[:EDGE_UP, :EDGE].copy(),
        "tail_up": up[length - EDGE_INPUT :, 2 * length - EDGE_UP :].copy(),
        "tail_down": down[2 * length - EDGE_UP :, length - EDGE :].copy(),
    }
