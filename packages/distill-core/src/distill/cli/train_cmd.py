"""`distill train DIR --name NAME`: from a folder of recordings to a playable model in the library."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import DEVICES, TRAIN_PRESETS
from .numbers import FiniteFloatRange
from .progress_view import ProgressView, interruptible


@click.command("train")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--name", help="Model name in the library (default: the folder's name).")
@click.option("--preset", type=click.Choice(TRAIN_PRESETS), default="auto", show_default=True,
              help="Training budget and network size; auto adapts to the amount of audio.")
@click.option("--steps", type=click.IntRange(min=1), help="Train for exactly this many steps.")
@click.option("--epochs", type=FiniteFloatRange(min=0, min_open=True),
              help="Train for this many passes over the audio (converted to steps).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Segments per step (default 16).")
@click.option("--lr", type=FiniteFloatRange(min=0, min_open=True), help="Peak learning rate (default 1e-3).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same data: same model (on CPU).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=200, show_default=True,
              help="Steps between checkpoints (there is also one every minute).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run of this name from its checkpoint.")
@click.option("--restart", is_flag=True, help="Discard an interrupted run's checkpoint and start over.")
@click.option("--overwrite", is_flag=True, help="Replace an existing model of this name.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record at the end (progress goes to stderr).")
def train_command(
    folder: Path, name: str | None, preset: str, steps: int | None, epochs: float | None, batch_size: int | None,
    lr: float | None, device: str, seed: int, checkpoint_every: int, resume: bool, restart: bool, overwrite: bool,
    as_json: bool,
) -> None:
    """Train a model on the recordings in FOLDER (searched recursively)."""
    import attrs

    from .. import train

    if steps and epochs:
        raise click.UsageError("give --steps or --epochs, not both")
    if resume and restart:
        raise click.UsageError("give --resume or --restart, not both")
    say = (lambda message: click.echo(message, err=True)) if as_json else click.echo
    view = ProgressView(say)
    with interruptible(view) as cancel:
        result = train(folder, name, preset=preset, steps=steps, epochs=epochs, batch_size=batch_size, lr=lr,
                       device=device, seed=seed, checkpoint_every=checkpoint_every, resume=resume, restart=restart,
                       overwrite=overwrite, progress=view, cancel=cancel)
    if as_json:
        click.echo(json.dumps({
            "name": result.name, "id": result.id, "path": str(result.path), "steps": result.steps,
            "resumed_from": result.resumed_from, "losses": result.losses, "sliders": result.sliders,
            "files": result.files, "skipped": [attrs.asdict(s) for s in result.skipped], "seconds": result.seconds,
        }))
