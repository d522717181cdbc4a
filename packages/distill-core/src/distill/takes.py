"""Takes: every clip a page rendered, kept on disk beside its clip so the history survives a page
reload and a server restart. A take is `<folder>/<render>/<clip stem>.take.json` next to the clip, its
sidecar and a small spectrogram picture: its name, its star, when it was made, the vocoder that
rendered it, and the controls that made it (what Recall puts back; the face decides what they are).

A take's id (`<render>/<clip stem>`) comes back from the page, so it is checked before it becomes a path:
two plain names, under the folder, nothing else."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import attrs

from .atomic import write_json
from .errors import DistillError
from .files import read_json

_ID = re.compile(r"[A-Za-z0-9][\w.+-]{0,120}/[A-Za-z0-9][\w.+-]{0,120}")
SUFFIX = ".take.json"
MAX_NAME = 80


@attrs.define
class Take:
    id: str
    clip: Path
    name: str
    created: float
    vocoder: str = ""
    seconds: float = 0.0
    starred: bool = False
    controls: dict[str, Any] = attrs.field(factory=dict)

    @property
    def picture(self) -> Path:
        return self.clip.with_suffix(".png")

    @property
    def sidecar(self) -> Path:
        return self.clip.with_name(self.clip.name + ".json")

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "created": self.created, "vocoder": self.vocoder, "seconds": self.seconds,
                "starred": self.starred, "clip": self.clip.name, "controls": self.controls}


class Takes:
    """The takes under one folder (the web UI's `<library>/ui/generated/`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, clip: Path, *, controls: dict[str, Any], vocoder: str, seconds: float, name: str = "",
            starred: bool = False) -> Take:
        """Record a rendered clip (already under the folder) as a take."""
        render = clip.parent
        if render.parent.resolve() != self.folder.resolve():
            raise ValueError(f"{clip} is not a clip of {self.folder}")
        take = Take(f"{render.name}/{clip.stem}", clip, (name or clip.stem)[:MAX_NAME], time.time(), vocoder,
                    float(seconds), starred, dict(controls))
        self._write(take)
        return take

    def all(self) -> list[Take]:
        """Every readable take, newest first; one damaged file is left out, never breaks the list."""
        found = []
        for path in self.folder.glob(f"*/*{SUFFIX}") if self.folder.is_dir() else []:
            try:
                found.append(self._read(path))
            except (DistillError, OSError, KeyError, TypeError, ValueError):
                continue
        return sorted(found, key=lambda take: take.created, reverse=True)

    def get(self, take_id: str) -> Take:
        if not isinstance(take_id, str) or not _ID.fullmatch(take_id) or ".." in take_id:
            raise DistillError(f"{take_id!r} is not a take of this page")
        path = self.folder / f"{take_id}{SUFFIX}"
        if not path.is_file():
            raise DistillError(f"take {take_id!r} is gone (deleted in another page?)")
        return self._read(path)

    def star(self, take_id: str, starred: bool | None = None) -> Take:
        """Star a take (or unstar it; None toggles)."""
        take = self.get(take_id)
        take.starred = (not take.starred) if starred is None else starred
        self._write(take)
        return take

    def rename(self, take_id: str, name: str) -> Take:
        cleaned = " ".join(name.split())
        if not cleaned:
            raise DistillError("a take needs a name: type one beside it, then Rename")
        take = self.get(take_id)
        take.name = cleaned[:MAX_NAME]
        self._write(take)
        return take

    def delete(self, take_id: str) -> Take:
        """Remove the take with its clip, sidecar and picture; its render's folder goes when it is empty."""
        take = self.get(take_id)
        for path in (take.clip, take.sidecar, take.picture, self.folder / f"{take_id}{SUFFIX}"):
            path.unlink(missing_ok=True)
        render = take.clip.parent
        if render.is_dir() and not any(render.iterdir()):
            render.rmdir()
        return take

    def _write(self, take: Take) -> None:
        write_json(self.folder / f"{take.id}{SUFFIX}", take.as_json())

    def _read(self, path: Path) -> Take:
        data = read_json(path, "take")
        clip = path.with_name(str(data["clip"]))
        if clip.parent != path.parent or not clip.name or "/" in str(data["clip"]):
            raise ValueError("clip outside its take's folder")
        return Take(f"{path.parent.name}/{path.name.removesuffix(SUFFIX)}", clip, str(data["name"])[:MAX_NAME],
                    float(data["created"]), str(data.get("vocoder", "")), float(data.get("seconds", 0.0)),
                    bool(data.get("starred", False)), dict(data.get("controls") or {}))
