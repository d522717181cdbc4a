"""The mel front end against an independent computation of the same recipe (librosa + numpy)."""

import librosa
import numpy as np
import pytest
import torch
from distill.melspec import DISTILL_MEL, MelSpec


@pytest.mark.parametrize(
    ("scale", "norm", "sr", "n_fft", "n_mels", "fmin", "fmax"),
    [
        ("slaney", "slaney", 44100, 2048, 128, 0.0, None),
        ("htk", None, 22050, 1024, 80, 0.0, 8000.0),
        ("slaney", None, 16000, 512, 40, 50.0, 7600.0),
    ],
)
def test_filterbank_matches_librosa(scale, norm, sr, n_fft, n_mels, fmin, fmax):
    spec = MelSpec(sample_rate=sr, n_fft=n_fft, win_length=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                   mel_scale=scale, norm=norm)
    ours = spec.filterbank().numpy()
    reference = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                    htk=scale == "htk", norm=norm)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-8)


def _reference_log_mel(wave: np.ndarray) -> np.ndarray:
    """The BigVGAN recipe written out with numpy and librosa only."""
    pad = (2048 - 512) // 2
    padded = np.pad(wave.astype(np.float64), pad, mode="reflect")
    frames = librosa.util.frame(padded, frame_length=2048, hop_length=512)  # [2048, T]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2048) / 2048)  # periodic Hann
    spectrum = np.fft.rfft(frames * window[:, None], axis=0)
    magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-9)
    bank = librosa.filters.mel(sr=44100, n_fft=2048, n_mels=128, fmin=0, fmax=None, htk=False, norm="slaney")
    return np.log(np.clip(bank @ magnitude, 1e-5, None))


def test_mel_matches_independent_recipe():
    rng = np.random.default_rng(1)
    t = np.arange(44100 * 2 + 300) / 44100
    wave = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))
    ours = DISTILL_MEL.mel(torch.from_numpy(wave).float()).double().numpy()
    reference = _reference_log_mel(wave.astype(np.float32))
    assert ours.shape == (128, len(wave) // 512) == reference.shape
    assert np.abs(ours - reference).max() <= 1e-4


def test_batch_and_single_clip_agree():
    rng = np.random.default_rng(2)
    batch = torch.from_numpy(rng.uniform(-0.5, 0.5, (3, 44100)).astype(np.float32))
    together = DISTILL_MEL.mel(batch)
    for i in range(3):
        assert torch.allclose(together[i], DISTILL_MEL.mel(batch[i]), atol=1e-5)


def test_silence_and_frame_count():
    mel = DISTILL_MEL.mel(torch.zeros(5000))
    assert mel.shape == (128, 5000 // 512)
    assert torch.allclose(mel, torch.full_like(mel, DISTILL_MEL.silence))
    assert DISTILL_MEL.silence == pytest.approx(np.log(1e-5))


def test_recipe_round_trips_and_rejects_nonsense():
    assert MelSpec.from_dict(DISTILL_MEL.to_dict()) == DISTILL_MEL
    with pytest.raises(ValueError, match="unknown mel recipe fields"):
        MelSpec.from_dict({**DISTILL_MEL.to_dict(), "colour": "blue"})
    with pytest.raises(ValueError):
        MelSpec(mel_scale="bark")
    with pytest.raises(ValueError, match="fmax"):
        MelSpec(sample_rate=16000, fmax=12000.0)
