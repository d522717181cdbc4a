"""The Python API alone (no click): train -> train_vocoder -> generate -> replay, with progress events
counted and a cancel mid-training that resumes to the weights of an uninterrupted run; and the demo,
which is built on it, end to end in its quick mode."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import distill
import numpy as np
import pytest
import soundfile
import torch
from conftest import run_cli
from distill.examples import make_example_corpus
from distill.modelfile import load_model

SETTINGS = {"steps": 30, "batch_size": 4, "checkpoint_every": 10, "seed": 3}


@pytest.fixture(autouse=True)
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_LOAD_PLUGINS", "distill-hifigan,distill-griffinlim")


def test_the_whole_cycle_through_the_python_api(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_THREADS", "2")  # a resumed run equals an uninterrupted one at the same thread count
    corpus = tmp_path / "sounds"
    make_example_corpus(corpus, files=5, seconds=1.5, seed=4)
    reference = distill.train(corpus, "reference", **SETTINGS)
    assert reference.steps == 30 and reference.resumed_from == 0 and reference.files == 5

    # Cancel after step 12 through the token, as Ctrl-C does: a checkpoint, then Interrupted.
    events: list[distill.Progress] = []
    cancel = threading.Event()

    def watch(event: distill.Progress) -> None:
        events.append(event)
        if event.phase == "train" and event.step == 12:
            cancel.set()

    with pytest.raises(distill.Interrupted) as stopped:
        distill.train(corpus, "cut", progress=watch, cancel=cancel, **SETTINGS)
    assert stopped.value.step == 12 and stopped.value.checkpoint.is_file()
    assert stopped.value.resume == f"distill train {corpus} --name cut --resume"
    steps = [e for e in events if e.phase == "train"]
    assert [e.step for e in steps] == list(range(1, 13)) and all(e.total == 30 for e in steps)
    assert all({"l1", "kl"} <= set(e.metrics) for e in steps) and steps[-1].eta is not None
    assert any(e.message and e.message.startswith("training 'cut'") for e in events)
    assert not distill.list_models()[1:]  # only the reference is in the library

    # API errors name keyword arguments; the CLI names its options for the same problem.
    with pytest.raises(distill.DistillError, match=r"add resume=True to continue it, or restart=True to discard"):
        distill.train(corpus, "cut", **SETTINGS)
    result = run_cli("train", str(corpus), "--name", "cut", expect=1)
    assert "add --resume to continue it, or --restart to discard it" in result.stderr
    odd = distill.DistillError("/takes/my--take.wav (--resume X): run `distill train DIR --name N`, or add --overwrite")
    assert str(odd) == "/takes/my--take.wav (resume=X): run `distill train DIR --name N`, or add overwrite=True"

    resumed = distill.train(corpus, "cut", resume=True, **SETTINGS)
    assert resumed.resumed_from == 12 and resumed.steps == 30
    a, b = load_model(reference.path).vae_weights, load_model(resumed.path).vae_weights
    assert all(torch.equal(a[key], b[key]) for key in a)

    vocoder_events: Counter[str] = Counter()
    trained = distill.train_vocoder("cut", backend="hifigan", steps=2, batch_size=2, segment=4096,
                                    progress=lambda e: vocoder_events.update([e.phase]))
    assert trained.backend == "hifigan" and trained.steps == 2 and trained.bytes_added > 0
    assert vocoder_events["train"] == 2 and vocoder_events["measure"] == 1
    # the measurement after the last step reports its stages (the page showed ETA 0:00 for 35 s before)
    assert vocoder_events["measure: render and measure hifigan"] == 1 and vocoder_events["measure: measured"] == 1
    assert trained.auto[0] in distill.installed_vocoders() and trained.figures

    result = distill.generate("cut", seconds=1.2, count=2, seed=7, sliders={"0": 0.5},
                              output_dir=tmp_path / "clips")
    assert [c.path.name for c in result.clips] == ["cut-7.wav", "cut-8.wav"]
    for clip in result.clips:
        audio, rate = soundfile.read(clip.path)
        assert rate == 48000 and len(audio) == round(1.2 * 48000) and clip.sidecar.is_file()
    again = distill.replay(result.clips[0].sidecar, output_dir=tmp_path / "replayed")
    assert again.clips[0].path.parent == tmp_path / "replayed"
    assert np.array_equal(soundfile.read(again.clips[0].path)[0], soundfile.read(result.clips[0].path)[0])

    # A model is read once while its file is unchanged (the web UI renders again and again); a file
    # replaced (here by a rename, which rewrites it) is read anew.
    assert distill.load("cut") is distill.load("cut")
    kept = distill.load("cut")
    distill.rename_model("cut", "cut2")
    distill.rename_model("cut2", "cut")
    assert distill.load("cut") is not kept and distill.load("cut").model.id == kept.model.id

    # A cancelled render writes nothing.
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(distill.Interrupted):
        distill.generate("cut", seconds=2.0, seed=1, output_dir=tmp_path / "cancelled", cancel=cancel)
    assert not (tmp_path / "cancelled").exists() or not list((tmp_path / "cancelled").iterdir())


def test_the_quick_demo_runs_end_to_end(tmp_path):
    env = {**os.environ, "DISTILL_LOAD_PLUGINS": "distill-hifigan"}
    result = subprocess.run([sys.executable, "-m", "distill.demo", "--quick", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    clips = sorted(p.name for p in (tmp_path / "clips").glob("*.wav"))
    assert clips == ["morph.wav", "prior-gaussian.wav", "prior.wav", "slider.wav", "variation.wav"]
    for name, prior in (("prior", "learned"), ("prior-gaussian", "gaussian")):
        assert json.loads((tmp_path / "clips" / f"{name}.wav.json").read_text())["settings"]["prior"] == prior
    for name in clips:
        audio, rate = soundfile.read(tmp_path / "clips" / name)
        assert rate == 48000 and len(audio) == 48000 and np.abs(audio).max() > 0.01
    assert "vocoder hifigan" in result.stdout and "demo finished" in result.stdout
    assert Path(tmp_path / "library" / "models" / "demo.distill").is_file()
    # The log says what each clip is and what the reconstruction figure means.
    first, second = sorted(p.name for p in (tmp_path / "example-corpus").glob("*.wav"))[:2]
    assert f"morph.wav: a morph from {first} to {second}" in result.stdout
    assert f"variation.wav: a variation of {first}: each moment moved 40 %" in result.stdout
    said = re.search(r"slider\.wav: the prior's new material with the slider (.+? [+-][\d.]+.*?); \d", result.stdout)
    assert said, result.stdout  # e.g. "brightness +3 st: measured +2.8 st ± 0.4; loudness -0.5 dB"
    assert "reconstruction error (how far the model's rebuild of a recording is from it" in result.stdout
