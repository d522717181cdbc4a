"""What every long run shares: the checks before it starts (what to resume, what to discard) and
the check before it saves (the model it worked on is still the one in the file)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DistillError, Fix

if TYPE_CHECKING:
    from ..model import DistillModel


def one_length(steps: int | None, other: float | None, unit: str) -> None:
    """A run is as long as its steps or its `unit` (epochs, minutes), not both."""
    if steps and other:
        raise DistillError(f"give a number of steps or of {unit}, not both")


def start_run(checkpoints: list[Path], what: str, *, resume: bool, restart: bool, run: str = "train") -> None:
    """Check that `resume` and `restart` agree with the run's checkpoints (files or folders, the first
    the one that says a run was left) and discard them on `restart`. `what` names the run in messages
    ("interrupted run of 'drums'", "hifigan training of 'drums'"), `run` the command it is ("train",
    "train-vocoder"), which a page's words for the fix depend on."""
    if resume and restart:
        raise DistillError("resume or restart, not both")
    left = checkpoints[0]
    has_run = any(left.iterdir()) if left.is_dir() else left.exists()
    if resume and not has_run:
        raise DistillError(f"no {what} to resume (looked for {left})", Fix("drop-resume", run))
    if has_run and not (resume or restart):
        raise DistillError(f"an earlier {what} left a checkpoint ({left})", Fix("resume-or-restart", run))
    if restart:
        for path in checkpoints:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


Identity = tuple[int, int, int, int]


def file_identity(path: Path) -> Identity:
    """A file's identity: distill replaces a model file atomically (a new inode), so any change shows."""
    status = os.stat(path)
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def load_for_update(path: Path) -> tuple[DistillModel, Identity]:
    """The model at `path`, read once, and the identity of the file it was read from."""
    from ..modelfile import load_model

    identity = file_identity(path)
    return load_model(path), identity


def unchanged(path: Path, model: DistillModel, identity: Identity, during: str) -> DistillModel:
    """The model to save into `path` after a long operation on `model`: `model` itself while the file is
    the one it was read from (no second read), else the file's model as it is now (what else changed
    meanwhile is kept), which must still be the same model: a model replaced meanwhile is never
    overwritten."""
    from ..modelfile import load_model

    if file_identity(path) == identity:
        return model
    current = load_model(path)
    if current.id != model.id:
        raise DistillError(f"{path} was replaced by another model while {during}; nothing was saved: "
                           "run it again for the new model")
    return current
