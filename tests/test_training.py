"""Training through the real CLI on a corpus the test synthesises (plus deliberately broken files):
the model lands in the library with sliders, and survives Ctrl-C, kill -9 and --resume with the
same weights as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import interrupt_after, run_cli, run_distill, start_distill, wait_for_checkpoint
from distill.checkpoint import load_checkpoint, save_checkpoint
from distill.examples import make_example_corpus
from distill.library import checkpoint_dir, model_path
from distill.modelfile import load_model
from distill.training import CHECKPOINT_FORMAT

FAST = ["--steps", "40", "--batch-size", "4", "--checkpoint-every", "10", "--seed", "7"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sounds")
    make_example_corpus(folder / "takes", files=6, seconds=1.5, seed=3)
    (folder / "notes.txt").write_text("session notes")
    (folder / "broken.wav").write_bytes(b"RIFF" + os.urandom(200))
    return folder


def vae_weights(name: str) -> dict[str, torch.Tensor]:
    return load_model(model_path(name)).vae_weights


def test_train_end_to_end(corpus):
    result = run_cli("train", str(corpus), "--name", "field", *FAST, "--json")
    record = json.loads(result.stdout)
    assert record["steps"] == 40 and record["files"] == 6
    skipped = {s["relative"]: s["kind"] for s in record["skipped"]}
    assert skipped == {"broken.wav": "unreadable", "notes.txt": "not-audio"}
    assert "skipped notes.txt: not audio" in result.stderr
    assert record["losses"]["validation_l1"] > 0  # one of six files held out
    model = load_model(model_path("field"))
    assert record["sliders"] == [s.name for s in model.sliders.sliders] and record["sliders"]
    assert "no named sliders: a model trained for 40 steps (under 200)" in result.stderr  # and why
    assert model.training["steps"] == 40 and model.training["corpus_path"] == str(corpus.resolve())
    assert len(model.sliders.sliders) >= 1 and model.sliders.components.shape == (16, 16)
    assert not (checkpoint_dir("field") / "vae.ckpt").exists()  # a finished run leaves no checkpoint
    # previews at every checkpoint, through the generation pipeline and the installed vocoder
    assert "previews: every checkpoint" in result.stderr and "vocoded by hifigan-base" in result.stderr
    previews = sorted((checkpoint_dir("field") / "previews").glob("step-*.wav"))
    # every --checkpoint-every interval; a slow machine may add one from the once-a-minute timer
    assert {"step-000010.wav", "step-000020.wav", "step-000030.wav"} <= {p.name for p in previews}
    audio, rate = soundfile.read(previews[0])
    assert rate == 44100 and len(audio) == 3 * 44100 and np.abs(audio).max() > 0.1
    listing = json.loads(run_cli("model", "list", "--json").stdout)
    assert [entry["name"] for entry in listing] == ["field"]


def test_resume_continues_from_the_checkpoint_to_the_same_weights(corpus, monkeypatch):
    monkeypatch.setenv("DISTILL_THREADS", "2")  # a resumed run equals an uninterrupted one at the same thread count
    # Every run is a fresh process, so no state of this test process (thread count, flush-to-zero
    # mode, ...) can make the uninterrupted run and the resumed one compute differently.
    run_distill("train", str(corpus), "--name", "whole", *FAST)
    reference = vae_weights("whole")
    settings = {"steps": 40, "batch_size": 4, "checkpoint_every": 10, "seed": 7}
    stop = interrupt_after(17, "train", corpus, "cut", **settings)
    checkpoint = checkpoint_dir("cut") / "vae.ckpt"
    assert stop == {"step": 17, "checkpoint": str(checkpoint), "resume": f"distill train {corpus} --name cut --resume"}
    assert load_checkpoint(checkpoint, CHECKPOINT_FORMAT)["step"] == 17 and not model_path("cut").exists()

    record = json.loads(run_distill("train", str(corpus), "--name", "cut", "--resume", "--json").stdout)
    assert record["resumed_from"] == 17 and record["steps"] == 40  # it ran the 23 steps left
    resumed = vae_weights("cut")
    differ = {key: float((resumed[key].double() - reference[key].double()).abs().max())
              for key in reference if not torch.equal(resumed[key], reference[key])}
    assert resumed.keys() == reference.keys() and not differ, differ

    # Training really continues from the checkpoint: change its weights and the result changes.
    interrupt_after(17, "train", corpus, "bent", **settings)
    bent = checkpoint_dir("bent") / "vae.ckpt"
    state = load_checkpoint(bent, CHECKPOINT_FORMAT)
    state["vae"] = {k: v + 0.01 if k.endswith("weight") else v for k, v in state["vae"].items()}
    save_checkpoint(bent, CHECKPOINT_FORMAT, {k: v for k, v in state.items() if k != "format"})
    run_distill("train", str(corpus), "--name", "bent", "--resume")
    assert any(not torch.equal(vae_weights("bent")[key], reference[key]) for key in reference)


def test_ctrl_c_and_kill_9_leave_a_checkpoint_and_say_how_to_resume(corpus):
    long = ["--steps", "100000", "--batch-size", "2", "--checkpoint-every", "3", "--seed", "7"]  # never ends first
    checkpoint = checkpoint_dir("cut") / "vae.ckpt"
    process = start_distill("train", str(corpus), "--name", "cut", *long, env={**os.environ})
    wait_for_checkpoint(process, checkpoint)
    process.kill()
    process.wait()
    assert load_checkpoint(checkpoint, CHECKPOINT_FORMAT)["step"] >= 3 and not model_path("cut").exists()
    process = start_distill("train", str(corpus), "--name", "cut", *long, "--resume", env={**os.environ})
    wait_for_checkpoint(process, checkpoint, checkpoint.stat().st_mtime_ns)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "checkpoint saved" in stderr
    assert f"Resume with: distill train {corpus} --name cut --resume" in stderr
    assert checkpoint.exists() and not model_path("cut").exists()


def test_previews_are_skipped_with_a_note_when_no_vocoder_is_installed(corpus):
    result = run_cli("train", str(corpus), "--name", "quiet", "--steps", "12", "--batch-size", "2",
                     "--checkpoint-every", "5", env={"DISTILL_LOAD_PLUGINS": ""})
    assert "previews skipped: no vocoder can render this model" in result.stdout
    assert not (checkpoint_dir("quiet") / "previews").exists()


def test_refusals_say_what_to_do(corpus, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("train", str(empty), "--name", "x", expect=1)
    assert "found no files" in result.stderr
    run_cli("train", str(corpus), "--name", "taken", "--steps", "2", "--batch-size", "2")
    result = run_cli("train", str(corpus), "--name", "taken", "--steps", "2", expect=1)
    assert "already exists" in result.stderr and "--overwrite" in result.stderr
    result = run_cli("train", str(corpus), "--name", "nothing", "--resume", expect=1)
    assert "no interrupted run of 'nothing' to resume" in result.stderr
    result = run_cli("train", str(corpus), "--name", "bad/name", expect=1)
    assert "invalid model name 'bad/name': use 1-64 letters, digits" in result.stderr
    result = run_cli("train", str(corpus), "--name", "x", "--steps", "5", "--epochs", "1", expect=2)
    assert "not both" in result.stderr


def test_restart_discards_the_interrupted_run_and_its_previews(corpus):
    interrupt_after(12, "train", corpus, "again", steps=40, batch_size=2, checkpoint_every=5, seed=7)
    previews = checkpoint_dir("again") / "previews"
    assert (checkpoint_dir("again") / "vae.ckpt").exists() and (previews / "step-000010.wav").exists()
    record = json.loads(run_cli("train", str(corpus), "--name", "again", "--restart", "--steps", "8",
                                "--batch-size", "2", "--checkpoint-every", "6", "--json").stdout)
    assert record["resumed_from"] == 0 and record["steps"] == 8
    assert sorted(p.name for p in previews.iterdir()) == ["step-000006.wav"]  # none of the discarded run's


def test_the_training_bar_carries_on_through_messages():
    """A preview's message is printed above the bar, which keeps its clock and ETA (it used to restart
    at 0 and 00:00 after every preview, and its ETA jumped between 3 and 60 minutes)."""
    from distill.cli.progress_view import ProgressView
    from distill.progress import Progress

    said: list[str] = []
    view = ProgressView(said.append)
    view(Progress("train", 1, 40))
    bar, started = view.bar, view.bar.start_t
    view(Progress("preview", message="preview at step 10: step-000010.wav"))
    for step in range(2, 41):
        view(Progress("train", step, 40))
    assert view.bar is bar and bar.start_t == started and bar.n == 40
    assert said == ["preview at step 10: step-000010.wav"]
    view.close()
