"""CPU threads fitted to the machine as it is (distill.threads): a busy process takes a thread, the
user's DISTILL_THREADS fixes the count, and a clip replays with the count it was rendered with (the
last bits of a render depend on it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
from conftest import run_cli, run_distill
from distill.examples import make_example_corpus
from distill.threads import available_cpus, threads_for

pytestmark = pytest.mark.usefixtures("griffin_lim_only")


@pytest.mark.parametrize("other, cpus, threads", [
    (0.0, 2, 2), (0.15, 2, 2), (0.3, 2, 1), (1.0, 2, 1), (2.0, 2, 1), (0.0, 1, 1),
    (1.0, 8, 7), (2.5, 8, 5), (9.0, 8, 1),
])
def test_the_threads_left_by_other_work(other, cpus, threads):
    assert threads_for(other, cpus) == threads


@pytest.mark.skipif(available_cpus() < 2, reason="needs 2 CPUs: one for the busy process, one for distill")
def test_a_busy_process_takes_a_thread():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        fitted = subprocess.run([sys.executable, "-c", "from distill.threads import fit_threads; print(fit_threads())"],
                                capture_output=True, text=True, check=True).stdout
    finally:
        busy.kill()
    assert int(fitted) <= available_cpus() - 1


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("threads")
    make_example_corpus(root / "sounds", files=3, seconds=1.0, seed=3)
    run_cli("train", str(root / "sounds"), "--name", "tiny", "--steps", "5", "--batch-size", "2",
            env={"DISTILL_HOME": str(root / "home"), "DISTILL_LOAD_PLUGINS": "distill-griffinlim"})
    return root / "home" / "models" / "tiny.distill"


def test_a_clip_replays_with_the_thread_count_it_was_rendered_with(model, tmp_path):
    run_cli("generate", str(model), "-d", "2", "--seed", "4", "--output", str(tmp_path / "one.wav"),
            env={"DISTILL_THREADS": "1"})
    assert json.loads((tmp_path / "one.wav.json").read_text())["threads"] == 1
    run_distill("generate", "--replay", str(tmp_path / "one.wav.json"), "--output", str(tmp_path / "again.wav"))
    assert json.loads((tmp_path / "again.wav.json").read_text())["threads"] == 1
    assert np.array_equal(soundfile.read(tmp_path / "one.wav")[0], soundfile.read(tmp_path / "again.wav")[0])


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_a_bad_distill_threads_is_one_clear_line(model, tmp_path, value):
    result = run_cli("generate", str(model), "-o", str(tmp_path), env={"DISTILL_THREADS": value}, expect=1)
    assert f"DISTILL_THREADS={value!r} is not a number of threads" in result.stderr
    assert "unset it to let distill fit the threads to the machine" in result.stderr
    assert not list(tmp_path.iterdir())
