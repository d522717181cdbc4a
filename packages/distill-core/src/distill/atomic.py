"""Atomic file writes: write a temp file beside the target, fsync, then put it in place in one step.

A crash mid-write never leaves a half file under the final name, and concurrent writers each get
their own temp file (`.<name>.distill-<host>-<pid>-<random>.tmp`, ignored by listings). A temp file
whose process on this host has died (kill -9, power loss) is removed by the next write into the
same folder. Running out of
space is reported as such, with the partial file removed. Scratch data that never becomes a user's
file lives in the system's temp folder.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from .errors import DistillError

NEARLY_FULL_BYTES = 1 << 20  # a write that fails with less than this left failed for want of space
# How libraries that wrap the OS error in their own (safetensors' SafetensorError, soundfile's) word it.
_OUT_OF_SPACE_WORDS = ("no space left on device", "os error 28", "disk quota exceeded", "os error 122")
_HOST = re.sub(r"[^A-Za-z0-9]+", "", socket.gethostname())[:32] or "host"
# A temp file of ours: `.NAME.distill-HOST-PID-RANDOM.tmp`. Only this host's, whose process is gone,
# are ever removed (another machine or container sharing the folder has its own process ids).
_TEMP = re.compile(rf"\..+\.distill-{_HOST}-(\d+)-[^.]+\.tmp")
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def replace(temp: Path, path: Path) -> Path:
    os.replace(temp, path)
    return path


def claim(temp: Path, path: Path) -> Path:
    """Put `temp` in place as `path` only if no file has that name (FileExistsError otherwise): two
    writers can never both believe they wrote `path`."""
    try:
        os.link(temp, path)  # atomic create-if-absent, with the content already complete
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # A file system without hard links: reserve the name, then fill it in one step.
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        try:
            os.replace(temp, path)
        except OSError:
            os.unlink(path)
            raise
        return path
    os.unlink(temp)
    return path


@attrs.define
class FreeName:
    """A `publish` that claims `path`, or if another writer holds it, `<stem>_2<suffix>`, `_3`, …,
    whichever is free first (each claim atomic), also skipping names whose `companion` (a sidecar)
    exists. `.path` is where the file went."""

    companion: Callable[[Path], Path] | None = None
    path: Path | None = None

    def __call__(self, temp: Path, path: Path) -> Path:
        for n in range(1, 10_000):
            candidate = path if n == 1 else path.with_name(f"{path.stem}_{n}{path.suffix}")
            if self.companion and self.companion(candidate).exists():
                continue
            with contextlib.suppress(FileExistsError):
                self.path = claim(temp, candidate)
                return self.path
        raise DistillError(f"no free file name like {path} (10,000 taken); choose another folder")


@contextlib.contextmanager
def atomic_output(
    path: Path, size_hint: int | None = None, publish: Callable[[Path, Path], Path] = replace
) -> Iterator[Path]:
    """A fresh temp file next to `path` for the block to write; on success it is fsynced and put in
    place by `publish` (`replace` overwrites, `claim` never does), on any failure removed.
    `size_hint` (bytes) goes into the message when the disk fills up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.distill-{_HOST}-{os.getpid()}-",
                                     suffix=".tmp")
    os.close(fd)
    temp = Path(temp_name)
    try:
        mode = _new_file_mode(path)
        with _space_checked(path.parent, temp, size_hint):
            yield temp
            with open(temp, "rb+") as file:  # the writer closed (so flushed) it; fsync makes it durable
                os.fsync(file.fileno())
        os.chmod(temp, mode)  # mkstemp makes 0600 files; give the result normal permissions
        publish(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def _space_checked(folder: Path, partial: Path, size_hint: int | None) -> Iterator[None]:
    """Turn a failed write on a full file system into one clear message (libraries report it as
    anything from OSError to "System error."), measured before the partial file is removed."""
    try:
        yield
    except DistillError:
        raise
    except Exception as exc:
        out_of_space = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or any(
            words in str(exc).lower() for words in _OUT_OF_SPACE_WORDS)
        try:
            free = shutil.disk_usage(folder).free
            written = partial.stat().st_size
        except OSError:
            raise exc from None
        # A writer that failed after truncating its partial file leaves the disk as free as before, so
        # free space below what the write needed counts too.
        if not (out_of_space or free < max(NEARLY_FULL_BYTES, size_hint or 0)):
            raise
        needed = max(size_hint or 0, written)
        raise DistillError(
            f"no space left on the disk holding {folder}: {_mb(free)} free, at least {_mb(needed)} needed; "
            "free some space or write somewhere else (the partial file was removed)"
        ) from None


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def remove_stale_temps(folder: Path) -> None:
    """Delete temp files in `folder` left by a distill process of this host that no longer runs."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMP.fullmatch(entry.name)
            if match and not _alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not ours to judge: leave its file alone
    return True


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


def write_json(path: Path, data: Any, publish: Callable[[Path, Path], Path] = replace) -> None:
    """`data` as JSON; NaN and infinities are refused (ValueError), as they are not JSON."""
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    with atomic_output(path, len(text), publish) as temp:
        temp.write_text(text)


@contextlib.contextmanager
def scratch_file(suffix: str, size_hint: int | None = None) -> Iterator[Path]:
    """A temp file in the system's temp folder, always removed afterwards (for intermediate data)."""
    fd, name = tempfile.mkstemp(prefix="distill-", suffix=suffix)
    os.close(fd)
    temp = Path(name)
    try:
        with _space_checked(temp.parent, temp, size_hint):
            yield temp
    finally:
        temp.unlink(missing_ok=True)
