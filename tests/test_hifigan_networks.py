"""The HiFi-GAN V2 networks and losses themselves: sizes against the analytic count, the mel loss's
gradient, the receptive field behind the render windows, and a training step on a device where any
tensor left on the CPU fails loudly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from distill.melspec import DISTILL_MEL
from distill.pipeline import vocode_stream
from distill_hifigan.backend import FineTunedVocoder
from distill_hifigan.config import DiscriminatorConfig, GeneratorConfig
from distill_hifigan.data import Batch
from distill_hifigan.denormals import flush_denormals
from distill_hifigan.fast import FastGenerator
from distill_hifigan.losses import mel_l1, multi_resolution_stft_loss
from distill_hifigan.networks import Discriminators, Generator, fold_weight_norm
from distill_hifigan.settings import VocoderSettings
from distill_hifigan.step import Networks, train_step
from signals import band_noise, harmonic_tone


# -- what the architecture should be, worked out by hand -------------------------------------------
def _conv(cin: int, cout: int, kernel: int, groups: int = 1, weight_norm: bool = False) -> int:
    # weights + bias, plus the per-output-channel magnitude `g` that weight norm adds while training
    return cout * (cin // groups) * kernel + cout + (cout if weight_norm else 0)


def generator_parameter_count(config: GeneratorConfig, training: bool = False) -> int:
    """Parameters of `Generator(config)` from its architecture: folded (inference) or with weight norm."""
    c, wn = config.channels, training
    total = _conv(config.n_mels, c, 7, weight_norm=wn)
    for i, kernel in enumerate(config.upsample_kernels):
        cin, cout = c // 2**i, c // 2 ** (i + 1)
        # a transposed convolution's weight is [cin, cout, k]; its weight-norm magnitude has cin entries
        total += cin * cout * kernel + cout + (cin if wn else 0)
        for kernel_size, dilations in zip(config.resblock_kernels, config.resblock_dilations, strict=True):
            total += 2 * len(dilations) * _conv(cout, cout, kernel_size, weight_norm=wn)
    return total + _conv(c // 2 ** len(config.upsample_rates), 1, 7, weight_norm=wn)


def receptive_field_frames(config: GeneratorConfig) -> float:
    """How far (in mel frames, each way) an output sample looks into its input: conv_pre's reach, each
    transposed convolution's, and the widest residual block's at every stage's sample rate."""
    reach = 3.0  # conv_pre, kernel 7
    rate = 1
    widest = max((k - 1) / 2 * (sum(d) + len(d)) for k, d in zip(config.resblock_kernels,
                                                                  config.resblock_dilations, strict=True))
    for up, kernel in zip(config.upsample_rates, config.upsample_kernels, strict=True):
        reach += kernel / (2 * up) / rate  # a transposed conv reaches ~kernel / (2 * rate) inputs back
        rate *= up
        reach += widest / rate
    return reach + 3 / rate  # conv_post, kernel 7


def flushes_everywhere() -> bool:
    """Whether every intra-op thread currently flushes subnormals to zero."""
    tiny = torch.full((1 << 20,), 1e-39)  # large enough to be split across all threads
    return bool((tiny * 1.0 == 0).all())


def lively_generator(seed: int = 0) -> Generator:
    """A folded generator with weights large enough that every layer matters (an untrained one is near-silent)."""
    torch.manual_seed(seed)
    generator = fold_weight_norm(Generator(GeneratorConfig()))
    for parameter in generator.parameters():
        parameter.data.normal_(0.0, 0.08)
    return generator.eval()


def test_parameter_count_matches_the_architecture():
    config = GeneratorConfig()
    training = Generator(config)
    assert sum(p.numel() for p in training.parameters()) == generator_parameter_count(config, training=True)
    folded = fold_weight_norm(Generator(config))
    assert sum(p.numel() for p in folded.parameters()) == generator_parameter_count(config) == 971_041
    # HiFi-GAN V2 is ~0.93 M parameters at 80 mels; 128 mels add 48 x 128 x 7 to conv_pre
    assert generator_parameter_count(GeneratorConfig(n_mels=80)) == 971_041 - 48 * 128 * 7


def test_folding_weight_norm_keeps_the_function_and_the_published_names():
    torch.manual_seed(1)
    generator = Generator(GeneratorConfig()).eval()
    mel = torch.randn(1, 128, 20) - 4
    with torch.no_grad():
        before = generator(mel)
        fold_weight_norm(generator)
        after = generator(mel)
    assert torch.allclose(before, after, rtol=0, atol=1e-5 * float(before.abs().max()))
    keys = set(generator.state_dict())
    assert {"conv_pre.weight", "ups.3.bias", "resblocks.11.convs2.2.weight", "conv_post.weight"} <= keys
    assert not any("parametrizations" in key for key in keys)


def test_the_inference_generator_computes_the_same_function():
    generator = lively_generator(3)
    fast = FastGenerator(generator)
    mel = torch.randn(2, 128, 40) * 2 - 6
    with torch.inference_mode():
        reference, ours = generator(mel), fast(mel)
    assert ours.shape == reference.shape == (2, 1, 40 * 512)
    assert torch.allclose(ours, reference, atol=1e-5), (ours - reference).abs().max()
    assert fast.net.ups[1].weight.data_ptr() != generator.ups[1].weight.data_ptr()  # the source is untouched


def test_output_length_range_and_discriminator_outputs():
    generator = lively_generator()
    with torch.no_grad():
        wave = generator(torch.randn(2, 128, 7) - 4)
    assert wave.shape == (2, 1, DISTILL_MEL.num_samples(7)) and wave.abs().max() <= 1.0
    discriminators = Discriminators(DiscriminatorConfig(width=0.125))
    scores, features = discriminators(wave)
    assert len(scores) == len(features) == 5 + 3  # MPD periods 2, 3, 5, 7, 11 and MSD at 3 scales
    assert [len(maps) for maps in features] == [6] * 5 + [8] * 3


def test_mel_loss_trains_the_generator():
    # The earlier tool computed this term under no_grad: it never reached the generator.
    generator = Generator(GeneratorConfig())
    target = DISTILL_MEL.mel(torch.from_numpy(harmonic_tone(220, 0.2)))[None]
    loss = mel_l1(DISTILL_MEL, generator(target)[:, 0], target)
    assert loss.requires_grad
    loss.backward()
    for name in ("conv_pre", "ups.0", "resblocks.0.convs1.0", "conv_post"):
        module = generator.get_submodule(name)
        grad = module.parametrizations.weight.original1.grad
        assert grad is not None and grad.abs().sum() > 0, name
    wave = generator(target)[:, 0]
    stft = multi_resolution_stft_loss(wave, torch.from_numpy(harmonic_tone(220, 0.2))[None, : wave.shape[-1]])
    assert stft.requires_grad


def test_receptive_field_is_what_the_render_overlap_assumes():
    reach = receptive_field_frames(GeneratorConfig())
    generator = lively_generator()
    mel = (torch.randn(1, 128, 81) - 4).requires_grad_()
    centre = 40
    out = generator(mel)[0, 0]
    out[centre * 512 : (centre + 1) * 512].sum().backward()
    influence = mel.grad.abs().sum(dim=1)[0]
    touched = torch.nonzero(influence > 0).flatten()
    measured = max(centre - int(touched.min()), int(touched.max()) - centre)
    assert measured <= math.ceil(reach) and measured >= reach - 2, (measured, reach)
    assert FineTunedVocoder.overlap_frames >= 2 * (2 * math.ceil(reach) + 1)  # twice the whole receptive field
    assert FineTunedVocoder.window_frames > 2 * FineTunedVocoder.overlap_frames


def test_windowed_render_matches_a_single_pass():
    vocoder = FineTunedVocoder(FastGenerator(lively_generator()), state=None)  # type: ignore[arg-type]
    seconds = (2 * FineTunedVocoder.window_frames + 50) * 512 / 44100  # two joins
    wave = harmonic_tone(330, seconds) + band_noise(seconds, 2000, 8000)
    mel = DISTILL_MEL.mel(torch.from_numpy(wave))
    windowed = np.concatenate(list(vocode_stream(vocoder, mel)))
    single = vocoder.render(mel[None])[0].numpy()
    assert windowed.shape == single.shape
    error = np.sqrt(np.mean((windowed - single) ** 2) / np.mean(single**2))
    assert 20 * np.log10(error) < -70, error  # with weights this lively; a trained generator does better


def test_training_and_rendering_flush_subnormals_on_every_thread():
    # Without flush-to-zero, subnormal values made training steps 10-60x slower; torch's switch alone
    # reaches only the calling thread.
    torch.ones(1 << 20).sum()  # the worker threads exist already
    assert not flushes_everywhere()
    with flush_denormals():
        assert flushes_everywhere()
    assert not flushes_everywhere()


@pytest.mark.parametrize("adversarial", [False, True])
def test_training_step_keeps_every_tensor_on_the_networks_device(adversarial):
    # On the meta device nothing is computed, but mixing in a CPU tensor raises: the same code then runs
    # on CUDA with its data where the networks are (an earlier tool left the data on the CPU).
    settings = VocoderSettings(batch_size=2, segment=4096)
    nets = Networks(Generator(GeneratorConfig()), Discriminators(DiscriminatorConfig(width=0.125)), settings, "meta")
    batch = Batch(torch.randn(2, 128, 8), torch.randn(2, 1, 4096)).to("meta")
    assert batch.mel.device.type == batch.audio.device.type == "meta"
    losses = train_step(nets, batch, DISTILL_MEL, settings, adversarial, torch.Generator().manual_seed(0))
    assert losses and all(loss.device.type == "meta" for loss in losses.values())
    assert all(p.device.type == "meta" for p in nets.generator.parameters())
    with pytest.raises(Exception, match="networks are on meta"):
        train_step(nets, Batch(torch.randn(2, 128, 8), torch.randn(2, 1, 4096)), DISTILL_MEL, settings,
                   adversarial, torch.Generator())
