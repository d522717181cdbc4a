"""What every long run shares: the checks before it starts (what to resume, what to discard) and
the check before it saves (the model it worked on is still the one in the file)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DistillError

if TYPE_CHECKING:
    from ..model import DistillModel


def one_length(steps: int | None, other: float | None, unit: str) -> None:
    """A run is as long as its steps or its `unit` (epochs, minutes), not both."""
    if steps and other:
        raise DistillError(f"give a number of steps or of {unit}, not both")


def start_run(checkpoints: list[Path], what: str, *, resume: bool, restart: bool) -> None:
    """Check that `resume` and `restart` agree with the run's checkpoints (files or folders, the first
    the one that says a run was left) and discard them on `restart`. `what` names the run in messages
    ("interrupted run of 'drums'", "hifigan training of 'drums'")."""
    if resume and restart:
        raise DistillError("resume or restart, not both")
    left = checkpoints[0]
    has_run = any(left.iterdir()) if left.is_dir() else left.exists()
    if resume and not has_run:
        raise DistillError(f"no {what} to resume (looked for {left}); drop --resume to start training")
    if has_run and not (resume or restart):
        raise DistillError(f"an earlier {what} left a checkpoint ({left}): add --resume to continue it, "
                           "or --restart to discard it")
    if restart:
        for path in checkpoints:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def unchanged(path: Path, model_id: str, during: str) -> DistillModel:
    """The model at `path` as it is now, which must still be the one with `model_id`: a long operation
    never overwrites a model that was replaced while it ran."""
    from ..modelfile import load_model

    current = load_model(path)
    if current.id != model_id:
        raise DistillError(f"{path} was replaced by another model while {during}; nothing was saved: "
                           "run it again for the new model")
    return current
