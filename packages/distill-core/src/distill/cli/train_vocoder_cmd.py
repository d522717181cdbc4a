"""`distill train-vocoder MODEL`: train a per-model vocoder on the model's own recordings and bundle it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import DEVICES
from .numbers import FiniteFloatRange
from .progress_view import ProgressView, interruptible


@click.command("train-vocoder")
@click.argument("model_ref", metavar="MODEL")
@click.option("--backend", help="Trainable vocoder to train (default: the one auto ranks first).")
@click.option("--steps", type=click.IntRange(min=1), help="Train up to this many steps in total.")
@click.option("--minutes", type=FiniteFloatRange(min=0, min_open=True),
              help="Train up to this many minutes in total (instead of --steps).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Segments per step (default: the backend's).")
@click.option("--segment", type=click.IntRange(min=1), help="Audio samples per segment (default: the backend's).")
@click.option("--audio", type=click.Path(file_okay=False, path_type=Path),
              help="The model's recordings, if they moved since it was trained.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same data: same vocoder (on CPU).")
@click.option("--checkpoint-every", type=click.IntRange(min=1),
              help="Steps between checkpoints (default: the backend's; there is also one every minute).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run, or train a finished one further.")
@click.option("--restart", is_flag=True, help="Discard an earlier run's checkpoint and start over.")
@click.option("--from-scratch", is_flag=True,
              help="Train from random weights instead of fine-tuning the backend's pretrained base.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record at the end (progress goes to stderr).")
def train_vocoder_command(
    model_ref: str, backend: str | None, steps: int | None, minutes: float | None, batch_size: int | None,
    segment: int | None, audio: Path | None, device: str, seed: int, checkpoint_every: int | None, resume: bool,
    restart: bool, from_scratch: bool, as_json: bool,
) -> None:
    """Train a vocoder on MODEL's own recordings and bundle it into the model file.

    With several trainable backends installed, the one `--vocoder auto` ranks first is trained
    (priority, then name), unless --backend names another or --resume finds one run to continue."""
    from .. import train_vocoder

    if steps and minutes:
        raise click.UsageError("give --steps or --minutes, not both")
    if resume and restart:
        raise click.UsageError("give --resume or --restart, not both")
    say = (lambda message: click.echo(message, err=True)) if as_json else click.echo
    view = ProgressView(say)
    with interruptible(view) as cancel:
        result = train_vocoder(model_ref, backend=backend, steps=steps, minutes=minutes, batch_size=batch_size,
                               segment=segment, audio=audio, device=device, seed=seed,
                               checkpoint_every=checkpoint_every, resume=resume, restart=restart,
                               from_scratch=from_scratch, progress=view, cancel=cancel)
    if as_json:
        click.echo(json.dumps({
            "model": result.model, "path": str(result.path), "backend": result.backend, "steps": result.steps,
            "resumed_from": result.resumed_from, "minutes": result.minutes, "losses": result.losses,
            "bytes_added": result.bytes_added, "checkpoint": str(result.checkpoint), "warnings": result.warnings,
            "figures": result.figures, "auto": {"vocoder": result.auto[0], "reason": result.auto[1]},
        }))
