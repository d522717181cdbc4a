"""The qualities named controls are measured in (distill.descriptors), on signals whose qualities are
known, and the piecewise offsets a control applies (distill.sliders.Control.offset)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from distill.conditioning import transposed
from distill.descriptors import band_centres, change, clip_descriptors, frame_descriptors
from distill.melspec import DISTILL_MEL
from distill.sliders import Control

RATE = DISTILL_MEL.sample_rate
FRAME_RATE = RATE / DISTILL_MEL.hop_length
T = np.arange(2 * RATE) / RATE


def qualities(audio: np.ndarray) -> dict[str, float]:
    return clip_descriptors(frame_descriptors(audio.astype(np.float32), DISTILL_MEL), FRAME_RATE)


def harmonic(hz: float, partials: int, amplitude: float = 0.3) -> np.ndarray:
    return amplitude * sum(np.sin(2 * np.pi * hz * k * T) / k for k in range(1, partials + 1)
                           if hz * k < RATE / 2) / partials


@pytest.mark.parametrize(("hz", "midi"), [(110.0, 45.0), (440.0, 69.0), (880.0, 81.0)])
def test_pitch_of_tones_in_semitones(hz, midi):
    assert qualities(harmonic(hz, 1))["pitch"] == pytest.approx(midi, abs=0.1)
    assert qualities(harmonic(hz, 12))["pitch"] == pytest.approx(midi, abs=0.1)  # a fundamental, not a partial


def test_noise_has_no_pitch_and_is_noisier_than_a_tone():
    noise = 0.2 * np.random.default_rng(0).standard_normal(len(T))
    assert np.isnan(qualities(noise)["pitch"])
    assert qualities(noise)["noisiness"] > -3 > -20 > qualities(harmonic(220, 12))["noisiness"]


def test_brightness_follows_the_partials_and_loudness_the_level():
    dark, bright = qualities(harmonic(220, 2)), qualities(harmonic(220, 40))
    assert bright["brightness"] > dark["brightness"] + 6
    assert qualities(harmonic(440, 1))["brightness"] == pytest.approx(69.0, abs=1.0)  # a sine's centroid is itself
    quiet = qualities(harmonic(220, 12, amplitude=0.15))
    assert quiet["loudness"] - qualities(harmonic(220, 12))["loudness"] == pytest.approx(-6.02, abs=0.05)


def hits(per_second: float, decay: float) -> np.ndarray:
    audio = np.zeros(len(T))
    rng = np.random.default_rng(1)
    step = int(RATE / per_second)
    for start in range(step // 2, len(T) - step // 2, step):
        n = np.arange(min(step, len(T) - start))
        audio[start : start + len(n)] = 0.5 * rng.standard_normal(len(n)) * np.exp(-n / (decay * RATE))
    return audio


def test_density_counts_onsets_and_attack_tells_sharp_from_soft():
    assert qualities(hits(4, 0.01))["density"] == pytest.approx(4.0, abs=0.6)
    assert qualities(hits(1, 0.01))["density"] == pytest.approx(1.0, abs=0.6)
    swell = harmonic(220, 12) * np.minimum(1.0, T / 0.5)  # a half-second fade-in
    assert qualities(hits(2, 0.01))["attack"] > 2 * qualities(swell)["attack"]


def test_change_pairs_two_renderings_frame_by_frame():
    tone = harmonic(220, 12).astype(np.float32)
    before = frame_descriptors(tone, DISTILL_MEL)
    moved = change(before, frame_descriptors(2 * tone, DISTILL_MEL), FRAME_RATE)
    assert moved["loudness"] == pytest.approx(6.02, abs=0.05)
    assert abs(moved["brightness"]) < 0.01 and abs(moved["pitch"]) < 0.01
    octave = change(before, frame_descriptors(harmonic(440, 12).astype(np.float32), DISTILL_MEL), FRAME_RATE)
    assert octave["pitch"] == pytest.approx(12.0, abs=0.1)


def test_a_transposed_log_mel_moves_its_peak_by_the_interval():
    mel = DISTILL_MEL.mel(torch.from_numpy(harmonic(440, 1).astype(np.float32)))
    centres = band_centres(DISTILL_MEL)
    up = transposed(mel, centres, 12.0)
    peak, moved = centres[int(mel.mean(-1).argmax())], centres[int(up.mean(-1).argmax())]
    assert 12 * np.log2(moved / peak) == pytest.approx(12.0, abs=1.5)  # within a band's width


def test_a_control_interpolates_its_offsets_between_anchors_and_zero():
    rows = torch.tensor([[-4.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, 6.0]])
    control = Control("brightness", "st", 0, [-6.0, -3.0, 3.0, 6.0], -6, 6, 1.0, 0.1)
    assert torch.equal(control.offset(rows, 0.0), torch.zeros(2))
    assert torch.allclose(control.offset(rows, 1.5), torch.tensor([0.0, 1.0]))
    assert torch.allclose(control.offset(rows, 4.5), torch.tensor([0.0, 4.0]))
    assert torch.allclose(control.offset(rows, -4.5), torch.tensor([-2.5, 0.0]))
    assert torch.equal(control.offset(rows, 99.0), rows[3])  # held beyond the last anchor
