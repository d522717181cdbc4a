"""The pin: which weights we download, as data shipped inside the package (a copy of vendor/bigvgan/).

`DISTILL_BIGVGAN_PIN=FILE` replaces the shipped pin with another pin.json of the same form (a mirror of
the weights, or the test suite's stand-in Hub with its own files and hashes).
"""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from distill.plugin import DistillError

PIN_ENV = "DISTILL_BIGVGAN_PIN"
CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "bigvgan_generator.pt"
FILES = (CONFIG_FILE, CHECKPOINT_FILE)  # never the discriminator/optimizer file: inference does not need it
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@attrs.frozen
class FilePin:
    name: str
    size: int | None  # None: not known yet, not checked
    sha256: str | None


@attrs.frozen
class Pin:
    repo_id: str
    revision: str  # a commit hash: with it, a warm cache needs no network call at all
    files: dict[str, FilePin]
    source: str  # where this pin was read from, for messages

    @classmethod
    def from_json(cls, data: Any, source: str) -> Pin:
        try:
            hub, files = data["hub"], data["files"]
            pin = cls(
                repo_id=str(hub["repo_id"]),
                revision=str(hub["revision"]),
                files={
                    name: FilePin(name, None if files[name]["size"] is None else int(files[name]["size"]),
                                  files[name]["sha256"])
                    for name in FILES
                },
                source=source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DistillError(f"{source}: not a BigVGAN pin ({type(exc).__name__}: {exc})") from None
        if not _COMMIT.match(pin.revision):
            raise DistillError(f"{source}: revision must be a 40-digit commit hash, got {pin.revision!r}")
        for file in pin.files.values():
            if file.sha256 is not None and not (isinstance(file.sha256, str) and _SHA256.match(file.sha256)):
                raise DistillError(f"{source}: sha256 of {file.name} must be 64 hex digits or null")
            if file.size is not None and file.size < 0:
                raise DistillError(f"{source}: size of {file.name} must be a byte count or null")
        return pin


def load_pin() -> Pin:
    override = os.environ.get(PIN_ENV)
    if override:
        try:
            text = Path(override).read_text(encoding="utf-8")
        except OSError as exc:
            raise DistillError(f"{PIN_ENV}={override}: cannot read the pin file ({exc.strerror})") from None
        source = f"{override} ({PIN_ENV})"
    else:
        text = (resources.files(__package__) / "data" / "pin.json").read_text(encoding="utf-8")
        source = "distill_bigvgan/data/pin.json"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DistillError(f"{source}: not valid JSON ({exc})") from None
    return Pin.from_json(data, source)
