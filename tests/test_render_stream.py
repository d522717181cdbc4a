"""Every backend renders a clip as a stream of chunks (`VocoderBase.stream`): a long render reports
progress as it goes and a cancel stops it within two chunks, whatever the vocoder."""

from __future__ import annotations

import threading
from pathlib import Path

import distill
import pytest
from bigvgan_weights import TINY, place_in_cache, weight_files, write_pin
from conftest import run_cli
from distill.examples import make_example_corpus
from distill_bigvgan.pin import PIN_ENV
from distill_bigvgan.weights import ENDPOINT_ENV

BACKENDS = ["hifigan-base", "hifigan", "bigvgan", "griffinlim", "griffinlim-22k"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny model with a fine-tuned hifigan state bundled."""
    root = tmp_path_factory.mktemp("stream")
    make_example_corpus(root / "sounds", files=3, seconds=1.0, seed=2)
    env = {"DISTILL_HOME": str(root / "home"), "DISTILL_LOAD_PLUGINS": "distill-hifigan"}
    run_cli("train", str(root / "sounds"), "--name", "tiny", "--steps", "5", "--batch-size", "2", env=env)
    path = root / "home" / "models" / "tiny.distill"
    run_cli("train-vocoder", str(path), "--backend", "hifigan", "--steps", "2", "--batch-size", "2",
            "--segment", "4096", env=env)
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cancel_stops_a_long_render_within_two_chunks(model, backend, tmp_path, monkeypatch):
    if backend == "bigvgan":  # small random weights in the cache, no Hub reachable
        files = weight_files(TINY, seed=5)
        place_in_cache(tmp_path / "hf-cache", files)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "pin.json", files)))
        monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:9")
    cancel = threading.Event()
    rendered: list[int] = []  # tenths of a second of audio done, at each chunk

    def watch(event: distill.Progress) -> None:
        if event.phase.startswith("render") and event.step:
            rendered.append(event.step)
            if len(rendered) == 2:
                cancel.set()

    with pytest.raises(distill.Interrupted, match=r"render cancelled after \d+\.\d s of 600\.0 s; nothing was written"):
        distill.generate(model, seconds=600.0, seed=1, vocoder=backend, prior="gaussian",
                         output_dir=tmp_path / "out", progress=watch, cancel=cancel)
    assert len(rendered) <= 2 + 2, rendered  # two chunks at most after the cancel
    assert rendered[-1] < 600 * 10 / 4, rendered  # chunks of seconds, not the whole clip
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
