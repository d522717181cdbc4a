"""Reading files that users, sidecars or the library hand us, without trusting them.

Every such file is opened through `open_regular`, which never blocks on a named pipe and refuses
anything but a regular file, and JSON from a file goes through `parse_json`, which bounds size and
nesting before the parser builds a single object and refuses NaN/Infinity (not JSON).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import IO, Any, NoReturn

from .errors import DistillError

MAX_JSON_BYTES = 8_000_000  # far above any sidecar, presets file or model header distill writes
MAX_JSON_DEPTH = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_KINDS = {
    stat.S_IFDIR: "a folder", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
}  # fmt: skip


def kind_of(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: str | os.PathLike[str], what: str = "file") -> IO[bytes]:
    """`path` opened for binary reading; a DistillError if it is missing, unreadable or not a regular
    file (a FIFO is opened non-blocking, so it is reported instead of hanging the caller)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DistillError(f"{what} not found: {path}; check the path") from None
    except OSError as exc:
        _refuse_special(path, what, exc)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        _not_regular(path, mode, what)
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _refuse_special(path: Path, what: str, exc: OSError) -> NoReturn:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode):  # e.g. a socket, which cannot be opened at all
        _not_regular(path, mode, what)
    raise DistillError(f"cannot read {what} {path}: {exc.strerror or exc}; check its permissions") from None


def _not_regular(path: Path, mode: int, what: str) -> NoReturn:
    raise DistillError(f"{path} is {kind_of(mode)}, not a regular file; give the path of a {what}") from None


def check_regular(path: str | os.PathLike[str], what: str = "file") -> Path:
    """`path`, after checking it is a readable regular file (for libraries that open paths themselves)."""
    with open_regular(path, what):
        return Path(path)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a regular file's bytes, read in 1 MB blocks."""
    with open_regular(path) as file:
        return sha256_of(file)


def sha256_of(file: IO[bytes]) -> str:
    """The hex SHA-256 of what is left to read in an open binary file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    while block := file.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


class JSONRefused(ValueError):
    """JSON that is too large, too deep, or holds NaN/Infinity."""


def parse_json(raw: bytes | str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """json.loads with limits checked before parsing; raises ValueError (JSONRefused) like json does."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise JSONRefused(f"{len(data)} bytes of JSON (the limit is {max_bytes})")
    text = data.decode("utf-8")  # strictly: json.loads would also take UTF-16/32, which the scan cannot read
    depth = deepest = 0
    for byte in _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS):  # brackets in strings do not nest
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                raise JSONRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif byte in b"]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=_no_constants, parse_float=_finite_float)
    except RecursionError:  # not reachable after the depth scan, but never a traceback
        raise JSONRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None


def _no_constants(name: str) -> NoReturn:
    raise JSONRefused(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused(f"{text} is too large for a number")
    return value


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """A JSON file, read with `open_regular` and `parse_json`; a DistillError naming the file otherwise."""
    with open_regular(path, what) as file:
        raw = file.read(MAX_JSON_BYTES + 1)
    try:
        return parse_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DistillError(f"{path} is not a valid {what} ({exc}); fix or delete it") from None
