"""The `.distill` v2 file: round trip, every rejection with its message, atomic and concurrent saves,
and that a pickle file is never executed."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import struct
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import run_cli
from distill import DISTILL_MEL, DistillError, VocoderState
from distill.model import DistillModel
from distill.modelfile import load_model, read_header, save_model, verify_model_file
from distill.sliders import Control, Slider, SliderAnalysis
from safetensors.torch import save_file


def make_model(name: str = "field", model_id: str = "3f2a9c1b0d4e", seed: int = 0) -> DistillModel:
    """A real, small model: random tensors in every slot, metadata in every field."""
    gen = torch.Generator().manual_seed(seed)
    sliders = [
        Slider("brightness", 0, -1.5, 1.25, 0.0, 0.41, {"spectral_centroid": 0.83, "rms": -0.1}),
        Slider("axis 1", 1, -0.75, 0.5, 0.1, 0.22),
    ]
    return DistillModel(
        name=name,
        id=model_id,
        mel_spec=DISTILL_MEL,
        vae_config={"latent_dim": 4, "channels": [8, 16]},
        vae_weights={"enc.weight": torch.randn(8, 4, generator=gen), "norm.mean": torch.randn(128, generator=gen)},
        sliders=SliderAnalysis(
            sliders, torch.randn(4, 4, generator=gen), torch.randn(4, generator=gen), torch.rand(4, generator=gen),
            controls=[Control("brightness", "st", -1, [-8.0, -4.0, 4.0, 8.0], -4.0, 8.0, 0.93, 0.08,
                              {"loudness": [0.1, 0.05]}, channel=1),
                      Control("character 1", "", 0, [-1.0, 1.0], -1.0, 1.0, 1.0, 0.0)],
            directions=torch.randn(2, 4, generator=gen), rejected={"density": "why not"},
            calibration={"version": 2, "seeds": [201, 202]},
        ),
        training={"corpus": "field", "files": 12, "seconds": 185.4, "steps": 2000, "losses": [1.5, 0.25]},
        vocoder_state={
            "griffinlim-fitted": VocoderState(
                backend="griffinlim-fitted",
                version="1.0",
                config={"iterations": 32, "mel_spec": DISTILL_MEL.to_dict()},
                weights={"gain": torch.randn(128, generator=gen)},
                training={"steps": 300, "seconds": 12.5},
            )
        },
        created="2026-05-09T07:35:25+00:00",
        distill_version="0.1.0",
    )


def test_round_trip_keeps_every_field_and_tensor(tmp_path):
    model = make_model()
    model.vae_weights["tied"] = model.vae_weights["enc.weight"]  # shared storage must still save
    model.vae_weights["view"] = model.vae_weights["enc.weight"].t()  # and so must a non-contiguous view
    path = tmp_path / "field.distill"
    save_model(model, path)
    loaded = load_model(path)

    for field in ("name", "id", "created", "distill_version", "mel_spec", "vae_config", "training"):
        assert getattr(loaded, field) == getattr(model, field), field
    assert loaded.sliders.sliders == model.sliders.sliders
    assert loaded.sliders.controls == model.sliders.controls
    assert loaded.sliders.directions is not None and model.sliders.directions is not None
    assert torch.equal(loaded.sliders.directions, model.sliders.directions)
    assert (loaded.sliders.rejected, loaded.sliders.calibration) == (model.sliders.rejected, model.sliders.calibration)
    assert torch.equal(loaded.sliders.components, model.sliders.components)
    assert torch.equal(loaded.sliders.center, model.sliders.center)
    assert torch.equal(loaded.sliders.scales, model.sliders.scales)
    assert loaded.vae_weights.keys() == model.vae_weights.keys()
    for key, tensor in model.vae_weights.items():
        assert torch.equal(loaded.vae_weights[key], tensor), key
    state, original = loaded.vocoder_state["griffinlim-fitted"], model.vocoder_state["griffinlim-fitted"]
    assert (state.backend, state.version, state.config, state.training) == (
        original.backend, original.version, original.config, original.training
    )  # fmt: skip
    assert torch.equal(state.weights["gain"], original.weights["gain"])
    assert state.mel_spec == DISTILL_MEL

    header = read_header(path)
    assert header["name"] == "field" and header["sliders"]["sliders"][0]["name"] == "brightness"
    assert header["vocoder_state"]["griffinlim-fitted"] == {
        "version": "1.0", "config": original.config, "training": original.training
    }  # fmt: skip


class Evil:
    """Unpickling this creates the marker file: the code execution a v1 model could smuggle in."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.parametrize("writer", ["torch.save", "torch.save legacy", "pickle"])
def test_pickle_model_is_rejected_and_never_executed(tmp_path, writer):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.distill"
    if writer == "pickle":
        evil.write_bytes(pickle.dumps({"model": Evil(marker)}, protocol=4))
    else:
        torch.save({"model": Evil(marker)}, evil, _use_new_zipfile_serialization=writer == "torch.save")

    with pytest.raises(DistillError) as caught:
        load_model(evil)
    result = run_cli("model", "import", str(evil), expect=1)
    for message in (str(caught.value), result.stderr):
        assert str(evil) in message
        assert "distill v1 (pickle-based) model" in message and "cannot be loaded safely" in message
    assert "retrain it with this version: train(DIR, NAME)" in str(caught.value)  # a Python caller's words
    assert "retrain it with this version: `distill train DIR --name NAME`" in result.stderr  # the CLI's
    assert not marker.exists()
    assert list((tmp_path / "distill-home").glob("**/*.distill")) == []

    # The payload is live: unpickling it the unsafe way does run it.
    if writer != "pickle":
        torch.load(evil, weights_only=False)
        assert marker.exists()


def _safetensors(path: pathlib.Path, metadata: dict[str, str] | None) -> pathlib.Path:
    save_file({"x": torch.zeros(4)}, str(path), metadata=metadata)
    return path


def _with_header(tmp_path, **changes) -> pathlib.Path:
    """A valid model file whose distill metadata has keys replaced (None removes a key)."""
    path = tmp_path / "changed.distill"
    save_model(make_model(), path)
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + length])
    info = json.loads(header["__metadata__"]["distill"])
    for key, value in changes.items():
        if value is None:
            info.pop(key)
        else:
            info[key] = value
    header["__metadata__"]["distill"] = json.dumps(info)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])
    return path


def _bad_file(kind: str, tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / f"{kind}.distill"
    if kind == "v1 safetensors":
        return _safetensors(path, {"format": "distill", "format_version": "1"})
    if kind == "newer":
        return _safetensors(path, {"format": "distill", "format_version": "5", "distill": "{}"})
    if kind == "plain safetensors":
        return _safetensors(path, {"framework": "pt"})
    if kind == "random bytes":
        path.write_bytes(torch.randint(0, 256, (1000,), generator=torch.Generator().manual_seed(1)).byte().numpy())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind in ("half", "short data", "trailing data"):
        save_model(make_model(), path)
        data = path.read_bytes()
        cut = {"half": data[: len(data) // 2], "short data": data[:-3], "trailing data": data + b"\0"}
        path.write_bytes(cut[kind])
    elif kind == "bad json":
        raw = b'{"__metadata__": {"format": "dist'
        path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    elif kind == "missing key":
        return _with_header(tmp_path, mel_spec=None)
    elif kind == "missing":
        pass
    return path


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("v1 safetensors", ["is a distill v1 model", "retrain it with this version: train(DIR, NAME)"]),
        ("newer", ["written by a newer distill (model format 5", "upgrade: pip install -U distill"]),
        ("plain safetensors", ["not a distill model file (found: safetensors without distill metadata)"]),
        ("random bytes", ["not a distill model file (found: 1000 bytes of unknown data)"]),
        ("empty", ["not a distill model file (found: empty file)"]),
        ("half", ["truncated or corrupt (the header claims", "re-export or retrain it"]),
        ("short data", ["truncated or corrupt (the tensor data is", "re-export or retrain it"]),
        ("trailing data", ["truncated or corrupt (1 unexpected bytes after the tensor data)"]),
        ("bad json", ["truncated or corrupt (the safetensors header is not valid JSON"]),
        ("missing key", ["truncated or corrupt (the header lacks mel_spec)"]),
        ("missing", ["model file not found"]),
    ],
)
def test_bad_files_are_rejected_with_a_message_naming_file_and_fix(tmp_path, kind, expected):
    path = _bad_file(kind, tmp_path)
    with pytest.raises(DistillError) as from_header:
        read_header(path)
    with pytest.raises(DistillError) as from_load:
        load_model(path)
    for message in (str(from_header.value), str(from_load.value)):
        assert str(path) in message
        for fragment in expected:
            assert fragment in message


def test_a_flipped_bit_in_the_tensor_data_fails_the_checksum(tmp_path):
    """The header's structure is intact, so read_header (listing) passes; loading and verifying read the
    data and refuse it. The intact file passes both."""
    path = tmp_path / "m.distill"
    save_model(make_model(), path)
    assert verify_model_file(path) == read_header(path) and load_model(path).id == make_model().id
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x10
    path.write_bytes(bytes(data))
    assert read_header(path)["id"] == make_model().id
    for check in (verify_model_file, load_model):
        with pytest.raises(DistillError, match="its tensor data does not match the checksum stored when it was saved"):
            check(path)


def _leftovers(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_failed_save_leaves_no_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "field.distill"

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(make_model(), path)
    assert not path.exists()
    assert _leftovers(tmp_path) == []


def test_failed_overwrite_keeps_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "field.distill"
    save_model(make_model(seed=1), path)
    before = path.read_bytes()

    def half_written(tensors, filename, metadata=None):
        pathlib.Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt  # even an interrupt cleans up

    monkeypatch.setattr("safetensors.torch.save_file", half_written)
    with pytest.raises(KeyboardInterrupt):
        save_model(make_model(seed=2), path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    assert torch.equal(load_model(path).vae_weights["enc.weight"], make_model(seed=1).vae_weights["enc.weight"])


def test_two_processes_saving_the_same_path_leave_one_complete_file(tmp_path):
    path = tmp_path / "field.distill"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_modelfile import make_model
        from distill.modelfile import read_header, save_model
        seed = int(sys.argv[1])
        model = make_model(model_id=f"{{seed:012x}}", seed=seed)
        for _ in range(15):
            save_model(model, {str(path)!r})
            read_header({str(path)!r})  # every reader sees a complete file
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(seed)], stderr=subprocess.PIPE) for seed in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    model = load_model(path)
    assert model.id in ("000000000001", "000000000002")
    seed = int(model.id, 16)
    assert torch.equal(model.vae_weights["enc.weight"], make_model(seed=seed).vae_weights["enc.weight"])
    assert _leftovers(tmp_path) == []


def test_saved_files_get_normal_permissions(tmp_path):
    path = tmp_path / "field.distill"
    save_model(make_model(), path)
    mask = os.umask(0)
    os.umask(mask)  # the process's umask, read without distill's helper
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
