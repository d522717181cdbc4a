"""The bigvgan backend as distill uses it: registration, loading once, devices and precision, windowed
rendering, and `distill generate --vocoder bigvgan` end to end (small random weights placed in the cache)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from bigvgan_weights import (
    SMALL,
    TINY,
    one_thread,  # noqa: F401  (an autouse fixture)
    place_in_cache,
    weight_files,
    write_pin,
)
from conftest import run_cli
from distill import DISTILL_MEL, DistillError
from distill.examples import make_example_corpus
from distill.pipeline import vocode_stream
from distill_bigvgan.backend import BigVGAN
from distill_bigvgan.pin import PIN_ENV, load_pin
from distill_bigvgan.precision import PRECISION_ENV
from distill_bigvgan.weights import ENDPOINT_ENV, WEIGHTS_ENV
from test_bigvgan_parity import music_mel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_files() -> dict[str, bytes]:
    return weight_files(SMALL, seed=4)


def use_weights(files: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files in a fresh Hugging Face cache, as a finished download leaves them; no Hub reachable."""
    place_in_cache(tmp_path / "hf-cache", files)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "pin.json", files)))
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:9")  # the discard port: any request would fail
    for name in (WEIGHTS_ENV, "HF_HUB_OFFLINE", PRECISION_ENV):
        monkeypatch.delenv(name, raising=False)


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, distill_bigvgan; print('torch' in sys.modules, 'huggingface_hub' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_package_ships_the_vendored_pin_and_config():
    for name in ("pin.json", "config.json"):
        shipped = (resources.files("distill_bigvgan") / "data" / name).read_bytes()
        assert shipped == (ROOT / "vendor" / "bigvgan" / name).read_bytes(), f"data/{name} differs from vendor/"
    pin = json.loads((ROOT / "vendor" / "bigvgan" / "pin.json").read_text())
    assert pin["upstream"]["version"] == "v2.4" and pin["upstream"]["commit"].startswith("7d2b454")
    assert load_pin().repo_id == "nvidia/bigvgan_v2_44khz_128band_512x" and len(load_pin().revision) == 40
    assert set(pin["files"]) == {"config.json", "bigvgan_generator.pt"}
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in pin["files"].values())  # checked on download


def test_registered_as_the_universal_vocoder_for_distills_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    (entry,) = [v for v in json.loads(run_cli("vocoders", "--json").stdout) if v["name"] == "bigvgan"]
    assert entry["kind"] == "universal" and entry["priority"] > 0 and entry["package"] == "distill-bigvgan"
    assert entry["mel_spec"] == DISTILL_MEL.to_dict() and entry["weights"] == "not downloaded"


def test_built_once_per_process_and_device_fallback(small_files, tmp_path, monkeypatch, capsys):
    use_weights(small_files, tmp_path, monkeypatch)
    first = BigVGAN.load()
    assert first.device == "cpu" and first.precision == "fp32"
    assert BigVGAN.load().generator is first.generator
    if not torch.cuda.is_available():
        fallback = BigVGAN.load(device="cuda")
        assert "CUDA is not available on this machine; using the CPU" in capsys.readouterr().err
        assert fallback.device == "cpu" and fallback.generator is first.generator


@pytest.mark.parametrize(("precision", "dtype", "min_snr"), [("bf16", torch.bfloat16, 30), ("fp16", torch.float16, 45)])
def test_precision_override(precision, dtype, min_snr, tmp_path, monkeypatch):
    use_weights(weight_files(TINY, seed=6), tmp_path, monkeypatch)
    mel = music_mel(1.0)
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    reference = BigVGAN.load().render(mel)
    monkeypatch.setenv(PRECISION_ENV, precision)
    vocoder = BigVGAN.load()
    audio = vocoder.render(mel)
    assert vocoder.precision == precision and vocoder.generator.conv_pre.weight.dtype == dtype
    assert audio.dtype == torch.float32 and audio.shape == reference.shape
    snr = 10 * torch.log10(reference.square().sum() / (audio - reference).square().sum())
    # This tiny random model measured 37 dB (bf16) and 54 dB (fp16: 3 more mantissa bits); the
    # full-size model's cost is measured by the benchmark.
    assert snr > min_snr, snr
    monkeypatch.setenv(PRECISION_ENV, "fp8")
    with pytest.raises(DistillError, match=f"{PRECISION_ENV}='fp8': choose one of auto, fp32, bf16, fp16"):
        BigVGAN.load()


def test_overlap_covers_the_receptive_field(small_files, tmp_path, monkeypatch):
    """A change in one mel frame moves the output no further than the stretch of the overlap each window
    keeps on its own, so both windows have full context wherever they are crossfaded."""
    use_weights(small_files, tmp_path, monkeypatch)
    vocoder = BigVGAN.load()
    mel = music_mel(1.2)  # 103 frames
    moved = mel.clone()
    moved[..., 50] += 1.0
    change = (vocoder.render(moved) - vocoder.render(mel)).abs()[0]
    reach = change.nonzero()[:, 0]
    left, right = 50 - reach.min().item() / 512, reach.max().item() / 512 - 51
    assert change.max() > 1e-3 and max(left, right) <= (BigVGAN.overlap_frames - BigVGAN.crossfade_frames) / 2, \
        (left, right)


def test_windowed_render_matches_one_pass(small_files, tmp_path, monkeypatch):
    use_weights(small_files, tmp_path, monkeypatch)
    vocoder = BigVGAN.load()
    vocoder.window_frames = 100  # the shipped overlap, with a join every 58 frames: three joins in 2.7 s
    mel = music_mel(2.7)[0]
    whole = vocoder.render(mel[None])[0].numpy()
    chunks = list(vocode_stream(vocoder, mel))
    windowed = np.concatenate(chunks)
    assert len(chunks) == 4 and len(windowed) == len(whole) == mel.shape[-1] * 512
    error = np.abs(windowed - whole).max()
    assert error <= 1e-4, error  # the issue asks for 1e-3
    print(f"windowed vs one pass: max abs {error:.2e} (overlap {BigVGAN.overlap_frames} frames)")


def test_generate_with_bigvgan_from_the_cache(tmp_path, monkeypatch):
    use_weights(weight_files(TINY, seed=5), tmp_path, monkeypatch)
    corpus = tmp_path / "sounds"
    make_example_corpus(corpus, files=3, seconds=1.0, seed=2)
    run_cli("train", str(corpus), "--name", "tiny", "--steps", "5", "--batch-size", "2")
    model = tmp_path / "distill-home" / "models" / "tiny.distill"
    listing = run_cli("vocoders").stdout
    assert "present" in next(line for line in listing.splitlines() if line.startswith("bigvgan"))
    for requested in ("bigvgan", "auto"):
        out = tmp_path / requested
        result = run_cli("generate", str(model), "--vocoder", requested, "-d", "1.5", "--seed", "1",
                         "--sample-rate", "44100", "--json", "-o", str(out))
        (record,) = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert record["vocoder"] == "bigvgan", record
        audio, rate = soundfile.read(record["path"])
        assert rate == 44100 and len(audio) == round(1.5 * 44100) and np.abs(audio).max() > 0
    assert "universal vocoder that uses this model's mel recipe" in record["reason"]


def test_training_previews_never_start_a_download(tmp_path, monkeypatch):
    """Without cached weights, `distill train` skips its previews and says how to download; no request."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:9")  # the discard port: a request would fail loudly
    make_example_corpus(tmp_path / "sounds", files=4, seconds=1.0)
    result = run_cli("train", str(tmp_path / "sounds"), "--name", "quiet", "--steps", "4", "--checkpoint-every", "2",
                     env={"DISTILL_LOAD_PLUGINS": "distill-bigvgan"})
    assert "previews skipped: vocoder 'bigvgan' has not downloaded its weights yet" in result.stdout
    assert "distill vocoders download bigvgan" in result.stdout
    assert "downloading" not in result.stdout + result.stderr
