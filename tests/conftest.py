"""Shared fixtures. Tests drive the real CLI (CliRunner in-process, or a subprocess) and the real
entry points of the example plugins that `nox -s tests` installs from tests/plugins/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from distill.api import generation as loaded_models
from distill.cli import cli
from distill.plugin import host as plugins
from distill.vocoders import selection

# Every variable distill (or huggingface_hub under it) reads: a test sets what it needs itself.
CLEARED_ENV = ("DISTILL_LOAD_PLUGINS", "DISTILL_BIGVGAN_WEIGHTS", "DISTILL_BIGVGAN_PIN", "DISTILL_BIGVGAN_PRECISION",
               "DISTILL_HF_ENDPOINT", "DISTILL_THREADS", "HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_TOKEN")
PRIVATE_ENV = {"DISTILL_HOME": "distill-home", "HF_HOME": "hf-home", "HF_HUB_CACHE": "hf-home/hub",
               "XDG_CACHE_HOME": "cache"}  # folders of the test's own


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """Each test sees plugins loaded anew, an empty model library and caches of its own, and none of
    the outer environment's distill or Hugging Face settings (a BigVGAN cache or weights folder on
    the machine would change which vocoder auto picks)."""
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, folder in PRIVATE_ENV.items():
        monkeypatch.setenv(name, str(tmp_path / folder))
    plugins._hosts.clear()
    selection._loaded.clear()
    selection._loaded_from_state.clear()
    loaded_models._loaded.clear()
    yield
    plugins._hosts.clear()
    selection._loaded.clear()
    selection._loaded_from_state.clear()
    loaded_models._loaded.clear()


@pytest.fixture
def griffin_lim_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example Griffin-Lim plugin alone, so `--vocoder auto` picks it whatever else is installed."""
    monkeypatch.setenv("DISTILL_LOAD_PLUGINS", "distill-griffinlim")


def small_model(root: Path) -> Path:
    """A small model trained on four example recordings in `root/sounds` (griffin-lim previews): its file
    in the library `root/home`."""
    from distill.examples import make_example_corpus

    make_example_corpus(root / "sounds", files=4, seconds=1.0, seed=3)
    run_cli("train", str(root / "sounds"), "--name", "field", "--steps", "10", "--batch-size", "4",
            env={"DISTILL_HOME": str(root / "home"), "DISTILL_LOAD_PLUGINS": "distill-griffinlim"})
    return root / "home" / "models" / "field.distill"


def run_cli(*args: str, env: dict[str, str] | None = None, expect: int | None = 0) -> Result:
    """Invoke `distill ARGS` in-process; stderr is kept apart from stdout."""
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, (result.output, result.stderr)
    return result


DISTILL_EXE = os.path.join(os.path.dirname(sys.executable), "distill")  # the installed console script


def run_distill(*args: str, env: dict[str, str] | None = None,
                expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    """Run the installed `distill` console script in a subprocess (a fresh interpreter); like run_cli,
    it checks the exit code unless `expect` is None."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([DISTILL_EXE, *args], capture_output=True, text=True, env=full_env, timeout=600)
    if expect is not None:
        assert result.returncode == expect, (result.stdout, result.stderr)
    return result


def start_distill(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start the installed `distill` console script (for tests that interrupt it)."""
    return subprocess.Popen([DISTILL_EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(process: subprocess.Popen[str], path: Path, previous: int | None = None,
                        timeout: float = 300.0) -> None:
    """Wait until `path` exists with a modification time other than `previous`, while `process` runs."""
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_mtime_ns == previous:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no checkpoint at {path} after {timeout} s"
        time.sleep(0.02)


_INTERRUPT = """
import json, sys, threading
import distill

name, stop_at, arguments = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
cancel = threading.Event()

def watch(event):
    if event.phase == arguments.get("phase", "train") and event.step == stop_at:
        cancel.set()

try:
    getattr(distill, name)(*arguments["args"], **arguments["kwargs"], progress=watch, cancel=cancel)
except distill.Interrupted as stop:
    print(json.dumps({"step": stop.step, "checkpoint": str(stop.checkpoint), "resume": stop.resume}))
    sys.exit(130)
sys.exit("finished without being interrupted")
"""


def interrupt_after(step: int, function: str, *args: object, env: dict[str, str] | None = None,
                    phase: str = "train", **kwargs: object) -> dict[str, object]:
    """Run `distill.<function>(*args, **kwargs)` in a fresh process and cancel it, through the API's
    cancel token, right after step `step` of `phase` (deterministic: no signal races the run); returns
    what the Interrupted exception said (step, checkpoint, resume)."""
    import json

    result = subprocess.run([sys.executable, "-c", _INTERRUPT, function, str(step),
                             json.dumps({"args": [str(a) for a in args], "kwargs": kwargs, "phase": phase})],
                            capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)
    assert result.returncode == 130, (result.stdout, result.stderr)
    return json.loads(result.stdout.splitlines()[-1])
