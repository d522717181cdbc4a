"""Atomic file writes: write a temp file beside the target, fsync, then `os.replace` it in one step.

A crash mid-write never leaves a half file under the final name, and concurrent writers each get
their own temp file (`.<name>.*.tmp`, ignored by listings).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A fresh temp file next to `path` for the block to write; on success it is fsynced and renamed
    onto `path` in one step, on any failure removed. Concurrent writers each get their own temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(temp_name)
    try:
        mode = _new_file_mode(path)
        yield temp
        with open(temp, "rb+") as file:  # the writer closed (so flushed) it; fsync makes it durable
            os.fsync(file.fileno())
        os.chmod(temp, mode)  # mkstemp makes 0600 files; give the result normal permissions
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _new_file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)  # an overwritten file keeps its permissions
    except OSError:
        return 0o666 & ~_umask()


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; elsewhere the rename is all we can do)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, data: Any) -> None:
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, indent=2) + "\n")


@contextlib.contextmanager
def scratch_file(folder: Path, suffix: str) -> Iterator[Path]:
    """A temp file in `folder` that is always removed afterwards (for intermediate data)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".distill-", suffix=suffix)
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
