"""A clip's sidecar: the JSON file beside it that records everything that rendered it (model,
settings, export, vocoder, thread count), so that `replay` renders the clip again bit for bit.
Written and read here only."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import DistillError

if TYPE_CHECKING:
    from ..export import ExportSettings
    from ..pipeline import GenerationSettings


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _version() -> str:
    from .. import __version__

    return __version__


def sidecar_path(clip: Path) -> Path:
    return clip.with_name(clip.name + ".json")


@attrs.frozen
class Sidecar:
    file: str  # the clip's file name
    settings: GenerationSettings
    export: ExportSettings
    model: dict[str, Any]  # name, id, and the path it was read from (None: not from a file)
    vocoder: dict[str, Any]  # name, and why and with what warnings it was chosen
    threads: int  # CPU threads the clip rendered with: its last bits depend on them
    seconds: float = 0.0
    samples: int = 0
    blend: list[dict[str, Any]] = attrs.field(factory=list)  # the other models: name, id, path, weight
    blend_mode: str | None = None
    level: dict[str, Any] = attrs.field(factory=dict)  # export.write_audio's report
    distill_version: str = attrs.field(factory=_version)
    created: str = attrs.field(factory=_now)

    def write(self, path: Path) -> None:
        from ..atomic import write_json

        write_json(path, {
            "distill_version": self.distill_version, "created": self.created, "file": self.file,
            "seconds": self.seconds, "samples": self.samples, "model": self.model, "blend": self.blend,
            "blend_mode": self.blend_mode, "settings": self.settings.to_dict(), "export": self.export.to_dict(),
            "vocoder": self.vocoder, "threads": self.threads, "level": self.level,
        })

    @classmethod
    def read(cls, path: Path) -> Sidecar:
        """The sidecar at `path`, checked: what replay needs is there and of the right kind."""
        from ..export import ExportSettings
        from ..files import read_json
        from ..pipeline import GenerationSettings
        from ..threads import default_threads

        data = read_json(path, "sidecar")
        try:
            model, vocoder = data["model"], data["vocoder"]
            if not all(isinstance(value, str) for value in (vocoder["name"], data["file"], model["path"], model["id"])):
                raise TypeError("model, vocoder and file must be text")
            # Sidecars from before distill fitted its threads to the machine: rendered with torch's default.
            threads = data.get("threads", default_threads())
            if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 4096:
                raise TypeError(f"threads must be a whole number from 1 to 4096, not {threads!r}")
            return cls(file=data["file"], settings=GenerationSettings.from_dict(data["settings"]),
                       export=ExportSettings(**data["export"]), model=model, vocoder=vocoder, threads=threads,
                       seconds=data.get("seconds", 0.0), samples=data.get("samples", 0),
                       blend=data.get("blend", []), blend_mode=data.get("blend_mode"), level=data.get("level", {}),
                       distill_version=data.get("distill_version", ""), created=data.get("created", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise DistillError(f"{path} is not a distill sidecar ({exc})") from exc
