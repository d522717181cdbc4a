"""Our BigVGAN generator against the reference implementation (PyPI `bigvgan==2.4.1`, test-only), with
identical random weights moved through the official checkpoint layout; and what loading refuses."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from bigvgan_weights import (
    SMALL,
    TINY,
    checkpoint_bytes,
    config_with,
    one_thread,  # noqa: F401  (an autouse fixture)
    reference_generator,
    vendored_config,
)
from distill import DistillError
from distill.examples import pluck, texture, tone
from distill.melspec import DISTILL_MEL
from distill_bigvgan.checkpoint import CorruptCheckpoint, fold_weight_norm, read_checkpoint
from distill_bigvgan.config import GeneratorConfig, check_distill_recipe
from distill_bigvgan.generator import Generator


def music_mel(seconds: float = 2.0, seed: int = 0) -> torch.Tensor:
    """Log-mels [1, 128, frames] of a music-like mix: a tone, a pluck and a noisy texture."""
    rng = np.random.default_rng(seed)
    mix = tone(rng, seconds) + pluck(rng, seconds) + 0.5 * texture(rng, seconds)
    return DISTILL_MEL.mel(torch.from_numpy(mix.astype(np.float32)))[None]


def ours_from_file(reference: torch.nn.Module, config: dict, tmp_path: Path) -> Generator:
    path = tmp_path / "bigvgan_generator.pt"
    path.write_bytes(checkpoint_bytes(reference))
    state = read_checkpoint(path)
    return Generator.from_weights(GeneratorConfig.from_json(config, "config.json"),
                                  fold_weight_norm(state, str(path)), str(path)).prepare()


def compare(config: dict, tmp_path: Path, seed: int, tile: int | None = None) -> tuple[float, torch.Tensor]:
    reference = reference_generator(config, seed=seed)
    ours = ours_from_file(reference, config, tmp_path)
    mel = music_mel()
    with torch.inference_mode():
        expected, got = reference(mel), ours(mel)
        if tile is not None:  # every stage cut into tiles of `tile` elements: the same result
            ours.tile = tile
            tiled = ours(mel)
            assert (tiled - got).abs().max() < 1e-5
    assert got.shape == expected.shape == (1, 1, mel.shape[-1] * 512)
    return (got - expected).abs().max().item(), expected


@pytest.mark.parametrize(
    "config",
    [SMALL, config_with(**{**TINY, "use_tanh_at_final": True, "use_bias_at_final": True})],
    ids=["small", "tiny-tanh-bias"],
)
def test_small_generator_matches_the_reference(config, tmp_path):
    error, expected = compare(config, tmp_path, seed=1, tile=2048)
    assert 0.05 < expected.std() < 0.5 and (expected.abs() > 0.99).float().mean() < 0.01  # audio-like, unclipped
    assert error <= 1e-4, error
    print(f"parity: max abs {error:.2e}")


@pytest.mark.slow
def test_full_44khz_generator_matches_the_reference(tmp_path):
    config = vendored_config()
    error, expected = compare(config, tmp_path, seed=2)
    assert 0.05 < expected.std() < 0.5
    assert error <= 1e-4, error
    print(f"full-size parity: max abs {error:.2e}")


def test_full_config_builds_the_published_model():
    config = GeneratorConfig.from_json(vendored_config(), "vendor config")
    check_distill_recipe(vendored_config(), config, "vendor config")
    with torch.device("meta"):
        model = Generator(config)
    params = sum(p.numel() for name, p in model.named_parameters())
    assert round(params / 1e6, 2) == 122.15  # as published for bigvgan_v2_44khz_128band_512x


def test_checkpoint_that_does_not_fit_its_config(tmp_path):
    reference = reference_generator(TINY)
    path = tmp_path / "g.pt"
    path.write_bytes(checkpoint_bytes(reference))
    wider = GeneratorConfig.from_json(config_with(upsample_initial_channel=128, resblock_kernel_sizes=[3],
                                                  resblock_dilation_sizes=[[1]]), "config.json")
    wrong = r"does not match its config.json \(wrong shape: activation_post.act.alpha \[1\] \(config.json needs \[2\]\)"
    with pytest.raises(DistillError, match=wrong):
        Generator.from_weights(wider, fold_weight_norm(read_checkpoint(path), str(path)), str(path))
    state = read_checkpoint(path)
    del state["conv_pre.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(DistillError, match=r"missing: conv_pre.bias; unexpected: extra.weight"):
        Generator.from_weights(GeneratorConfig.from_json(TINY, "c"), fold_weight_norm(state, "g.pt"), "g.pt")


def test_unexpected_anti_alias_filter_is_refused(tmp_path):
    state = reference_generator(TINY).state_dict()
    state["activation_post.upsample.filter"] = state["activation_post.upsample.filter"].flip(-1) * 2
    with pytest.raises(DistillError, match=r"activation_post.upsample.filter is not BigVGAN's anti-alias filter"):
        fold_weight_norm(state, "g.pt")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"activation": "snake"}, "activation = 'snake' is not supported"),
        ({"resblock": "2"}, "resblock = '2' is not supported"),
        ({"num_mels": 100}, "another mel recipe"),
        ({"sampling_rate": 24000}, "another mel recipe"),
        ({"upsample_rates": [8, 4, 2, 2, 2, 4]}, "cannot halve|multiply to 1024"),
        ({"upsample_kernel_sizes": [16, 8, 4, 4, 4, 3]}, "does not fit rate 2"),
    ],
)
def test_configs_for_other_models_are_refused(change, message):
    data = config_with(**change)
    with pytest.raises(DistillError, match=message) as error:
        config = GeneratorConfig.from_json(data, "/somewhere/config.json")
        check_distill_recipe(data, config, "/somewhere/config.json")
    assert "/somewhere/config.json" in str(error.value)


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["DISTILL_HOME"]) / "exploit-ran",))  # the test's own folder


def test_loading_never_runs_code_from_the_file(tmp_path):
    marker = Path(os.environ["DISTILL_HOME"]) / "exploit-ran"
    buffer = io.BytesIO()
    torch.save({"generator": {"conv_pre.bias": torch.zeros(1)}, "payload": _Exploit()}, buffer)
    path = tmp_path / "bigvgan_generator.pt"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CorruptCheckpoint, match=f"{path} is not a readable PyTorch checkpoint"):
        read_checkpoint(path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps({"generator": [1, 2]}))
    with pytest.raises(CorruptCheckpoint):
        read_checkpoint(path)
