"""Names that become file names: library model and preset names are checked, and anything else read
from a file (a model header's name, a sidecar's clip name) is reduced to a stem that cannot leave
the folder it is joined to."""

from __future__ import annotations

import re

from .errors import DistillError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def check_name(name: str, kind: str = "model") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise DistillError(
            f"invalid {kind} name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def safe_stem(name: str, fallback: str = "clip") -> str:
    """`name` as a valid file stem: separators and other unsafe characters become '-', leading dots
    and dashes go (no hidden files, no '..', no option-like names), at most 64 characters."""
    stem = _UNSAFE.sub("-", name).lstrip(".-")[:64].rstrip(".-")
    return stem if NAME_PATTERN.fullmatch(stem) else fallback
