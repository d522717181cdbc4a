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
from distill import plugins
from distill.cli import cli
from distill.vocoders import selection


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """Each test sees plugins loaded anew and an empty model library of its own."""
    monkeypatch.delenv(plugins.LOAD_PLUGINS_ENV, raising=False)
    monkeypatch.setenv("DISTILL_HOME", str(tmp_path / "distill-home"))
    plugins._hosts.clear()
    selection._loaded.clear()
    selection._loaded_from_state.clear()
    yield
    plugins._hosts.clear()
    selection._loaded.clear()
    selection._loaded_from_state.clear()


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
