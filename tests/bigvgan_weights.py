"""Random BigVGAN generators in the official checkpoint layout, made with the reference implementation
(the PyPI package `bigvgan==2.4.1`, a test-only oracle), and pins describing them."""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import torch
from distill_bigvgan.pin import CONFIG_FILE


def vendored_config() -> dict[str, Any]:
    """The pinned model's config.json, as distill-bigvgan ships it (the full 44 kHz 128-band 512x generator)."""
    data: dict[str, Any] = json.loads((resources.files("distill_bigvgan") / "data" / CONFIG_FILE).read_text("utf-8"))
    return data

REPO_ID = "nvidia/bigvgan_v2_44khz_128band_512x"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def config_with(**changes: Any) -> dict[str, Any]:
    """The pinned 44 kHz config with some fields changed (mel settings stay distill's)."""
    config = vendored_config()
    config.update(changes)
    return config


# Every structural feature of the real generator (six stages, three AMP kernels × three dilations),
# with few channels: the default test run can afford it.
SMALL = config_with(upsample_initial_channel=64)
# Fewer blocks still, for tests about files and the command line, not about numbers.
TINY = config_with(upsample_initial_channel=64, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]])


def reference_generator(config: dict[str, Any], seed: int = 0, gain: float = 0.9) -> torch.nn.Module:
    """The reference BigVGAN with random weights whose output is audio-like: std ~0.1-0.3, unclipped.
    (Upstream's own init, normal(0, 0.01), gives outputs near 1e-6, too small to compare meaningfully.)"""
    from bigvgan.bigvgan import BigVGAN
    from bigvgan.env import AttrDict

    model = BigVGAN(AttrDict(copy.deepcopy(config)), use_cuda_kernel=False).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith("weight_v"):
                param.copy_(noise)
            elif name.endswith("weight_g"):
                param.copy_(gain * (1.0 + 0.1 * noise))  # unit-norm rows keep activations near unit scale
            elif name.endswith("bias"):
                param.copy_(0.05 * noise)
            elif name.endswith(("alpha", "beta")):
                param.copy_(0.5 * noise)  # log-scale: α, β between ~0.4 and ~2.7
        model.conv_post.weight_g.mul_(0.05)
    return model


def checkpoint_bytes(model: torch.nn.Module) -> bytes:
    """The file upstream writes (`_save_pretrained`): {"generator": state_dict} with weight_g / weight_v."""
    buffer = io.BytesIO()
    torch.save({"generator": model.state_dict()}, buffer)
    return buffer.getvalue()


def weight_files(config: dict[str, Any], seed: int = 0) -> dict[str, bytes]:
    return {
        "config.json": json.dumps(config, indent=4).encode(),
        "bigvgan_generator.pt": checkpoint_bytes(reference_generator(config, seed)),
    }


def write_pin(path: Path, files: dict[str, bytes] | None = None, *, repo_id: str = REPO_ID,
              revision: str = COMMIT, override: dict[str, dict[str, Any]] | None = None) -> Path:
    """A pin.json naming `files` with their sizes and SHA-256 (null for both when `files` is None);
    `override` replaces single file entries (a wrong hash, say)."""
    names = ("config.json", "bigvgan_generator.pt")
    entries: dict[str, dict[str, Any]] = {
        name: {"size": len(files[name]), "sha256": hashlib.sha256(files[name]).hexdigest()} if files else
        {"size": None, "sha256": None}
        for name in names
    }
    entries.update(override or {})
    pin = {"hub": {"repo_id": repo_id, "revision": revision}, "files": entries}
    path.write_text(json.dumps(pin))
    return path


def write_full_size(folder: Path, seed: int = 7) -> dict[str, str]:
    """The full 44 kHz generator with random weights as files copied by hand into `folder`, and a pin
    naming them (hand-placed files are checked against a pin); returns the environment that uses them."""
    from distill_bigvgan.pin import PIN_ENV
    from distill_bigvgan.weights import WEIGHTS_ENV

    files = weight_files(vendored_config(), seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {WEIGHTS_ENV: str(folder), PIN_ENV: str(write_pin(folder / "pin.json", files))}


def place_in_cache(cache: Path, files: dict[str, bytes], repo_id: str = REPO_ID, revision: str = COMMIT) -> None:
    """Put files where `hf_hub_download` would: blobs named by their hash, linked from the commit's snapshot."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / revision / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../../blobs") / blob.name)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Small generators render fastest on one thread, and two OpenMP threads crawl on a busy 2-core
    machine (each parallel region waits for a descheduled thread). Import this into a test module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
