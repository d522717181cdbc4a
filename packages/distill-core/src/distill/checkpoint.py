"""Training checkpoints (the VAE's and any trainable vocoder's): written atomically, read back without
running code. They hold tensors and plain data only, apart from the model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .atomic import atomic_output
from .errors import DistillError, Fix
from .files import open_regular


def save_checkpoint(path: Path, kind: str, state: dict[str, Any]) -> None:
    """Write `state` tagged with `kind`; a crash mid-write leaves the previous checkpoint in place."""
    import torch

    with atomic_output(path) as temp:
        torch.save({"format": kind, **state}, temp)


def load_checkpoint(path: Path, kind: str) -> dict[str, Any]:
    """The checkpoint at `path`, which must be of `kind`; a clear error saying what to do otherwise."""
    import torch

    if not path.exists():
        raise DistillError(f"no checkpoint to resume at {path}", Fix("drop-resume"))
    try:
        with open_regular(path, "checkpoint") as file:
            state = torch.load(file, map_location="cpu", weights_only=True)  # no pickled code can run
    except DistillError:
        raise
    except Exception:  # torch's message would suggest unsafe loading: say ours alone
        state = None
    if not isinstance(state, dict) or state.get("format") != kind:
        raise DistillError(
            f"{path} is not a checkpoint that distill wrote (expected a {kind}; the file is damaged or was put "
            "there by something else), so it was not loaded", Fix("restart"),
        )
    return state
