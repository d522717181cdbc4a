"""`distill train DIR --name NAME`: from a folder of recordings to a playable model in the library."""

from __future__ import annotations

import datetime
import json
import secrets
import shlex
import sys
from pathlib import Path

import click

from ..devices import DEVICES
from ..train_settings import PRESETS
from .numbers import FiniteFloatRange


@click.command("train")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--name", help="Model name in the library (default: the folder's name).")
@click.option("--preset", type=click.Choice(PRESETS), default="auto", show_default=True,
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
    import torch
    from tqdm import tqdm

    from .. import __version__
    from ..checkpoint import load_checkpoint
    from ..devices import resolve_device
    from ..errors import DistillError
    from ..ingest import scan_corpus
    from ..library import checkpoint_dir, model_path, save_to_library
    from ..melspec import DISTILL_MEL
    from ..model import DistillModel
    from ..sliders import analyse
    from ..train_settings import TrainSettings, preset_settings, steps_for_epochs
    from ..training import CHECKPOINT_FORMAT, TrainingInterrupted, split_by_file, train_vae

    say = (lambda message: click.echo(message, err=True)) if as_json else click.echo
    if steps and epochs:
        raise click.UsageError("give --steps or --epochs, not both")
    if resume and restart:
        raise click.UsageError("give --resume or --restart, not both")
    folder = folder.resolve() if folder.exists() else folder
    name = folder.name if name is None else name  # an explicit --name '' is refused by model_path
    destination = model_path(name)  # also checks the name
    if destination.exists() and not overwrite and not resume:
        raise DistillError(f"a model named {name!r} already exists ({destination}): "
                           "pick another --name, or add --overwrite to replace it")
    checkpoint = checkpoint_dir(name) / "vae.ckpt"
    if resume and not checkpoint.exists():
        raise DistillError(f"no interrupted run of {name!r} to resume (looked for {checkpoint}); "
                           "drop --resume to start training")
    if checkpoint.exists() and not (resume or restart):
        raise DistillError(f"an interrupted run of {name!r} left a checkpoint ({checkpoint}): "
                           "add --resume to continue it, or --restart to discard it")
    torch_device, device_note = resolve_device(device)
    if device_note:
        say(f"note: {device_note}")

    with torch.inference_mode():
        corpus = scan_corpus(folder, keep=lambda audio: DISTILL_MEL.mel(torch.from_numpy(audio)))
    for line in corpus.report():
        say(line)
    mels = [file.audio for file in corpus.files]
    chosen_preset, settings = preset_settings(preset, corpus.seconds)
    settings = attrs.evolve(settings, seed=seed, checkpoint_every=checkpoint_every,
                            batch_size=batch_size or settings.batch_size, lr=lr or settings.lr)
    if resume:  # an interrupted run goes on exactly as it started; only its length may change
        settings = TrainSettings(**load_checkpoint(checkpoint, CHECKPOINT_FORMAT)["settings"])
        chosen_preset = "resumed"
    data = split_by_file(mels, [f.relative for f in corpus.files], settings.seed)
    if epochs:
        train_frames = sum(m.shape[-1] for m in data.train)
        settings = attrs.evolve(settings, steps=steps_for_epochs(epochs, train_frames, settings))
    elif steps:
        settings = attrs.evolve(settings, steps=steps)
    held_out = ", ".join(data.validation_names) or "none (fewer than 4 files)"
    say(f"training {name!r}: preset {chosen_preset}, {settings.steps} steps of {settings.batch_size} segments, "
        f"on {torch_device}; held out for validation: {held_out}")

    from ..previews import PreviewMaker

    previews = PreviewMaker(checkpoint.parent / "previews", data.train, DISTILL_MEL, torch_device)
    say(previews.note)
    started = datetime.datetime.now(datetime.timezone.utc)
    bar = tqdm(total=settings.steps, desc="training", unit="step", file=sys.stderr, mininterval=1.0)

    def progress(step: int, record: dict[str, float]) -> None:
        bar.set_postfix(l1=f"{record['l1']:.3f}", kl=f"{record['kl']:.2f}", refresh=False)
        bar.update(step - bar.n)

    try:
        result = train_vae(data, settings, checkpoint, fingerprint=corpus.fingerprint, device=torch_device,
                           resume=resume, progress=progress, on_checkpoint=previews)
    except TrainingInterrupted as stop:
        bar.close()
        command = shlex.join(["distill", "train", str(folder), "--name", name, "--resume"])
        click.echo(f"\nInterrupted at step {stop.step}/{settings.steps}; checkpoint saved to {stop.checkpoint}.\n"
                   f"Resume with: {command}", err=True)
        sys.exit(130)
    bar.close()

    say("analysing the latent space for sliders…")
    sliders = analyse(result.vae, mels)
    finished = datetime.datetime.now(datetime.timezone.utc)
    model = DistillModel(
        name=name,
        id=secrets.token_hex(6),
        mel_spec=DISTILL_MEL,
        vae_config=result.vae.config,
        vae_weights=result.vae.state_dict(),
        sliders=sliders,
        training={
            "corpus_name": folder.name,
            "corpus_path": str(folder),
            "corpus_fingerprint": corpus.fingerprint,
            "files": len(corpus.files),
            "skipped": len(corpus.skipped),
            "seconds": round(corpus.seconds, 3),
            "validation_files": data.validation_names,
            "preset": chosen_preset,
            "settings": attrs.asdict(settings),
            "steps": result.steps,
            "losses": result.losses,
            "training_seconds": round(result.seconds, 1),
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "seed": settings.seed,
            "device": torch_device,
            "torch_version": torch.__version__,
        },
        created=finished.isoformat(timespec="seconds"),
        distill_version=__version__,
    )
    path = save_to_library(model)
    checkpoint.unlink(missing_ok=True)  # the model is safely saved: the run is complete
    validation = result.losses["validation_l1"]
    say(f"saved {name!r} to {path}")
    say(f"reconstruction log-mel L1: train {result.losses['train_l1']:.3f}"
        + (f", held-out {validation:.3f}" if validation is not None else ""))
    say("sliders: " + ", ".join(f"{s.name} [{s.low:.2f} … {s.high:.2f}]" for s in sliders.sliders))
    if as_json:
        click.echo(json.dumps({
            "name": name, "id": model.id, "path": str(path), "steps": result.steps, "losses": result.losses,
            "sliders": [s.name for s in sliders.sliders], "files": len(corpus.files),
            "skipped": [attrs.asdict(s) for s in corpus.skipped], "seconds": round(corpus.seconds, 3),
        }))
