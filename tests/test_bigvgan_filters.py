"""The anti-aliased SnakeBeta activation, piece by piece, against the reference's own modules
(PyPI `bigvgan==2.4.1`): the Kaiser filter, and the whole activation on long (cut into stretches),
short and odd-length signals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bigvgan_weights import one_thread  # noqa: F401  (an autouse fixture)
from distill_bigvgan import generator
from distill_bigvgan.filters import downsampler, kaiser_sinc, polyphase_taps, upsampler
from distill_bigvgan.generator import AntiAliasedActivation, Filters


def test_kaiser_filter_is_the_references():
    from bigvgan.alias_free_activation.torch.filter import kaiser_sinc_filter1d

    expected = kaiser_sinc_filter1d(cutoff=0.25, half_width=0.3, kernel_size=12).flatten().double().numpy()
    assert np.abs(kaiser_sinc() - expected).max() < 1e-7


def test_polyphase_taps_equal_the_matrices_away_from_the_ends():
    x = np.random.default_rng(0).standard_normal(64)
    u = x @ upsampler(64)
    taps = polyphase_taps()
    padded = np.pad(x, 3)
    even = np.array([padded[n : n + 7] @ taps["up_even"] for n in range(64)])
    assert np.abs(even - u[0::2])[3:-3].max() < 1e-12
    phases = np.pad(u[0::2], 3), np.pad(u[1::2], 3)
    y = np.array([phases[0][n : n + 7] @ taps["down_even"] + phases[1][n : n + 7] @ taps["down_odd"]
                  for n in range(64)])
    assert np.abs(y - u @ downsampler(64))[3:-3].max() < 1e-12


@pytest.mark.parametrize(("channels", "length"), [(600, 8000), (8, 1999), (4, 57), (4, 40), (3, 130)])
def test_activation_matches_the_references(channels, length):
    """600 × 8000 is cut into three stretches; 1999 is odd; 57 and 40 are around the short-signal limit."""
    from bigvgan.activations import SnakeBeta
    from bigvgan.alias_free_activation.torch.act import Activation1d

    torch.manual_seed(channels + length)
    reference = Activation1d(SnakeBeta(channels, alpha_logscale=True))
    with torch.no_grad():
        reference.act.alpha.normal_(0, 0.5)
        reference.act.beta.normal_(0, 0.5)
    ours = AntiAliasedActivation(channels)
    ours.act.load_state_dict(reference.act.state_dict())
    ours.prepare()
    x = 2 * torch.randn(1, channels, length)
    if channels == 600:
        assert channels * length > 2 * generator.CHUNK  # really cut into stretches
    with torch.inference_mode():
        expected = reference(x)
        got = ours(x.unsqueeze(2).contiguous(memory_format=torch.channels_last), Filters())[:, :, 0]
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 2e-5
