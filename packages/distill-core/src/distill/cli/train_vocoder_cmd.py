"""`distill train-vocoder MODEL`: train a per-model vocoder on the model's own recordings and bundle it."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..devices import DEVICES
from .numbers import FiniteFloatRange

if TYPE_CHECKING:
    from ..ingest import Corpus
    from ..model import DistillModel
    from ..plugins import RegisteredVocoder


def _choose_backend(requested: str | None, resumable: set[str]) -> RegisteredVocoder:
    """--backend, else the one trainable backend installed (with --resume: the one with a checkpoint)."""
    from ..errors import DistillError
    from ..plugins import installed_vocoders
    from ..vocoder import trainable

    installed = installed_vocoders()
    candidates = {name: r for name, r in installed.items() if trainable(r.backend)}
    listing = ", ".join(candidates) or "none"
    if requested is not None:
        if requested not in candidates:
            why = "is not trainable per model" if requested in installed else "is not installed"
            raise DistillError(f"vocoder {requested!r} {why} (trainable backends installed: {listing})")
        return candidates[requested]
    if not candidates:
        raise DistillError('no trainable vocoder is installed: pip install "distill[hifigan]"')
    if len(candidates) > 1 and len(resumable & set(candidates)) == 1:
        return candidates[(resumable & set(candidates)).pop()]
    if len(candidates) > 1:
        raise DistillError(f"several trainable vocoders are installed ({listing}): choose one with --backend NAME")
    return next(iter(candidates.values()))


def _corpus(model: DistillModel, audio: Path | None, say: Any) -> tuple[Corpus, list[Path]]:
    """The model's recordings (or those in --audio), minus the files its training held out."""
    from ..errors import DistillError
    from ..ingest import scan_corpus

    recorded = model.training.get("corpus_path")
    folder = audio or (Path(recorded) if recorded else None)
    if folder is None:
        raise DistillError(f"model {model.name!r} does not record where its recordings are: pass --audio DIR")
    if not folder.is_dir():
        raise DistillError(f"the recordings model {model.name!r} was trained on are not at {folder} any more: "
                           "pass --audio DIR with their new location")
    corpus = scan_corpus(folder)
    expected = model.training.get("corpus_fingerprint")
    if expected and corpus.fingerprint != expected:
        say(f"warning: the audio in {folder} differs from what {model.name!r} was trained on (files were added, "
            "removed or edited); the vocoder learns from it as it is now")
    held_out = set(model.training.get("validation_files") or [])
    files = [f.path for f in corpus.files if f.relative not in held_out]
    if not files:  # every file is held out: better to learn from them than from nothing
        files = [f.path for f in corpus.files]
    return corpus, files


def _measure(model: DistillModel, audio: Path | None, device: str, say: Any) -> dict[str, Any] | None:
    """The new state's and the usable universal backends' figures on the held-out recordings (what
    auto-selection ranks by), or None with a note when they cannot be measured."""
    from ..errors import DistillError
    from ..vocoder_compare import compare

    say("measuring it against the installed universal vocoders on the held-out recordings ...")
    try:
        result = compare(model, audio, device, pitch=False, baseline=False)
    except DistillError as exc:
        say(f"note: not measured ({exc}); --vocoder auto will prefer the bundled vocoder")
        return None
    say("  " + ", ".join(f"{row.name} ViSQOL {row.visqol:.2f}" for row in result.rows) + f" ({result.note})")
    return result.figures()


@click.command("train-vocoder")
@click.argument("model_ref", metavar="MODEL")
@click.option("--backend", help="Trainable vocoder to train (default: the one installed).")
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
    """Train a vocoder on MODEL's own recordings and bundle it into the model file."""
    import datetime
    import shutil
    import time

    import torch
    from tqdm import tqdm

    from .. import __version__
    from ..devices import resolve_device
    from ..errors import DistillError
    from ..generate import LoadedModel
    from ..library import checkpoint_dir, resolve_model
    from ..modelfile import load_model, save_model
    from ..selection import select_vocoder
    from ..training import stop_on_sigint
    from ..vocoder import VocoderTrainingInterrupted, VocoderTrainingRun

    say = (lambda message: click.echo(message, err=True)) if as_json else click.echo
    if steps and minutes:
        raise click.UsageError("give --steps or --minutes, not both")
    if resume and restart:
        raise click.UsageError("give --resume or --restart, not both")
    path = resolve_model(model_ref)
    model = load_model(path)
    runs = checkpoint_dir(model.name)
    resumable = set()
    if resume and runs.is_dir():  # backends with a run of this model to continue
        resumable = {p.name for p in runs.iterdir() if p.is_dir() and any(p.iterdir())}
    registered = _choose_backend(backend, resumable)
    name = registered.name
    folder = runs / name
    has_checkpoint = folder.is_dir() and any(folder.iterdir())
    if resume and not has_checkpoint:
        raise DistillError(f"no {name} training of {model.name!r} to resume (looked in {folder}); drop --resume")
    if has_checkpoint and not (resume or restart):
        raise DistillError(f"an earlier {name} training of {model.name!r} left a checkpoint in {folder}: add --resume "
                           "to continue it (or train it further), or --restart to discard it")
    if restart and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch_device, device_note = resolve_device(device)
    if device_note:
        say(f"note: {device_note}")

    corpus, files = _corpus(model, audio, say)
    vae = LoadedModel(model).vae.to(torch_device)  # its reconstructions: what the vocoder will be fed

    def reconstruct(mel: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return vae(mel[None].to(torch_device), sample=False)[0][0].cpu()

    say(f"training vocoder {name!r} for {model.name!r} on {len(files)} of {len(corpus.files)} recordings "
        f"in {corpus.folder} (held-out files excluded), on {torch_device}")
    before = path.stat().st_size
    bar = tqdm(total=None, desc=f"train-vocoder {name}", file=sys.stderr, mininterval=1.0, unit="step")

    def progress(step: int, total: int, metrics: Any) -> None:
        if total and bar.total != total:
            bar.total = total
        if bar.n == 0 and step > 1:  # a resumed run: start the bar where it left off, not at a burst of speed
            bar.n = bar.last_print_n = step - 1
        bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k not in ("seconds", "adversarial")}
                        | {"steps/s": f"{bar.format_dict.get('rate') or 0:.2f}"}, refresh=False)
        bar.update(step - bar.n)

    started = time.monotonic()
    try:
        with stop_on_sigint() as stop:
            run = VocoderTrainingRun(
                audio_files=tuple(files), mel_spec=model.mel_spec, checkpoint_dir=folder, steps=steps,
                minutes=minutes, batch_size=batch_size, segment=segment, device=torch_device, seed=seed,
                resume=resume, from_scratch=from_scratch, checkpoint_every=checkpoint_every, reconstruct=reconstruct,
                fingerprint=corpus.fingerprint, model_id=model.id, progress=progress, stop=stop,
            )
            state = registered.backend.train(run)  # type: ignore[attr-defined]
    except VocoderTrainingInterrupted as interrupted:
        bar.close()
        command = ["distill", "train-vocoder", model_ref, "--backend", name, "--resume"]
        command += ["--from-scratch"] if from_scratch else []
        command += ["--audio", str(audio)] if audio else []
        click.echo(f"\nInterrupted at step {interrupted.step}; checkpoint saved to {interrupted.checkpoint}.\n"
                   f"Resume with: {shlex.join(command)}", err=True)
        sys.exit(130)
    bar.close()

    current = load_model(path)  # the file may have changed while we trained: never overwrite another model
    if current.id != model.id:
        raise DistillError(f"{path} was replaced by another model while the vocoder trained; the checkpoint in "
                           f"{folder} is kept: retrain the vocoder for the new model with --restart")
    state.training.setdefault("corpus_fingerprint", corpus.fingerprint)
    state.training["trained"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    state.training.setdefault("versions", {}).update({"distill-core": __version__, "torch": torch.__version__})
    current.vocoder_state[name] = state
    figures = _measure(current, audio, torch_device, say)
    if figures:
        state.training["figures"] = figures
    save_model(current, path)
    growth = path.stat().st_size - before
    minutes_done = state.training.get("seconds", time.monotonic() - started) / 60
    say(f"bundled {name!r} into {path} ({growth / 1e6:+.1f} MB): {state.training.get('steps')} steps, "
        f"{minutes_done:.1f} minutes of training; `distill generate {model_ref}` now uses it with --vocoder auto")
    say(f"checkpoint kept in {folder} (train further with --resume and a larger --steps or --minutes)")
    warning = registered.backend.state_warning(state)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    choice = select_vocoder(current)
    say(f"--vocoder auto now picks {choice.backend.name!r}: {choice.reason}")
    for note in choice.warnings:
        say(f"note: {note}")
    if as_json:
        click.echo(json.dumps({
            "model": model.name, "path": str(path), "backend": name, "steps": state.training.get("steps"),
            "minutes": round(minutes_done, 2), "losses": state.training.get("losses", {}),
            "bytes_added": growth, "checkpoint": str(folder), "warnings": [warning] if warning else [],
            "figures": figures, "auto": {"vocoder": choice.backend.name, "reason": choice.reason},
        }))
