"""`distill train-vocoder`: train a per-model vocoder on a model's own recordings, measure it against
the universal backends, and bundle it into the model file."""

from __future__ import annotations

import datetime
import os
import shlex
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .. import __version__
from ..errors import DistillError, Fix, Hint
from ..progress import Interrupted, ProgressCallback, Reporter
from .runs import load_for_update, one_length, start_run, unchanged

if TYPE_CHECKING:
    from ..ingest import Corpus
    from ..model import DistillModel
    from ..plugin.host import RegisteredVocoder


@attrs.frozen
class TrainedVocoder:
    model: str
    path: Path
    backend: str
    steps: int | None
    resumed_from: int
    minutes: float
    losses: dict[str, Any]
    bytes_added: int
    checkpoint: Path
    warnings: list[str]
    figures: dict[str, Any] | None
    auto: tuple[str, str]  # what the vocoder choice `auto` now picks, and why
    hints: list[Hint] = attrs.field(factory=list)  # the warnings, each with the fix it names (a Hint)


def train_vocoder(
    model: str | os.PathLike[str], *, backend: str | None = None, steps: int | None = None,
    minutes: float | None = None, batch_size: int | None = None, segment: int | None = None,
    audio: str | os.PathLike[str] | None = None, device: str = "auto", seed: int = 0,
    checkpoint_every: int | None = None, resume: bool = False, restart: bool = False, from_scratch: bool = False,
    progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
) -> TrainedVocoder:
    """Train a per-model vocoder on MODEL's own recordings (held-out files excluded), measure it
    against the usable universal backends, and bundle it into the model file."""
    import torch

    from ..audio import decoded_once
    from ..devices import resolve_device
    from ..library import checkpoint_dir, resolve_model
    from ..modelfile import save_model
    from ..pipeline import LoadedModel
    from ..plugin.contract import VocoderTrainingRun
    from ..vocoders.selection import select_vocoder

    report = Reporter(progress)
    one_length(steps, minutes, "minutes")
    path = resolve_model(str(model))
    loaded, identity = load_for_update(path)
    runs = checkpoint_dir(loaded.name)
    resumable = set()
    if resume and runs.is_dir():  # backends with a run of this model to continue
        resumable = {p.name for p in runs.iterdir() if p.is_dir() and any(p.iterdir())}
    registered = _trainable_backend(loaded, backend, resumable, report)
    name = registered.name
    folder = runs / name
    start_run([folder], f"{name} training of {loaded.name!r}", resume=resume, restart=restart, run="train-vocoder")
    folder.mkdir(parents=True, exist_ok=True)
    torch_device, device_note = resolve_device(device)
    if device_note:
        report.say(f"note: {device_note}")

    with decoded_once():  # the scan, the training data and the measurement read each recording once
        corpus, files = _training_recordings(loaded, audio, report)
        vae = LoadedModel(loaded).vae.to(torch_device)  # its reconstructions: what the vocoder will be fed

        def reconstruct(mel: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return vae(mel[None].to(torch_device), sample=False)[0][0].cpu()

        report.say(f"training vocoder {name!r} for {loaded.name!r} on {len(files)} of {len(corpus.files)} recordings "
                   f"in {corpus.folder} (held-out files excluded), on {torch_device}")
        before = path.stat().st_size
        started = time.monotonic()
        first_step: list[int] = []

        def on_step(step: int, total: int, metrics: Mapping[str, float]) -> None:
            if not first_step:
                first_step.append(step - 1)
            report.step("train", step, total, metrics)

        run = VocoderTrainingRun(
            audio_files=tuple(files), mel_spec=loaded.mel_spec, checkpoint_dir=folder, steps=steps, minutes=minutes,
            batch_size=batch_size, segment=segment, device=torch_device, seed=seed, resume=resume,
            from_scratch=from_scratch, checkpoint_every=checkpoint_every, reconstruct=reconstruct,
            fingerprint=corpus.fingerprint, model_id=loaded.id, progress=on_step, stop=cancel or threading.Event(),
        )
        try:
            state = registered.backend.train(run)  # type: ignore[attr-defined]
        except Interrupted as stop:
            command = ["distill", "train-vocoder", str(model), "--backend", name, "--resume"]
            command += ["--from-scratch"] if from_scratch else []
            command += ["--audio", str(audio)] if audio else []
            raise Interrupted(stop.step, stop.checkpoint, shlex.join(command)) from None

        state.training.setdefault("corpus_fingerprint", corpus.fingerprint)
        state.training["trained"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        state.training.setdefault("versions", {}).update({"distill-core": __version__, "torch": torch.__version__})
        loaded.vocoder_state[name] = state
        if run.stop is not None and run.stop.is_set():  # cancelled after the last step: keep it, skip measuring
            figures = None
            report.say("note: not measured (cancelled); auto will prefer the bundled vocoder")
        else:
            figures = _measure(loaded, audio, torch_device, report)
    if figures:
        state.training["figures"] = figures
    # Read again just before saving: whatever else changed in the file meanwhile is kept.
    current = unchanged(path, loaded, identity, f"the vocoder trained (its checkpoint in {folder} is kept)")
    current.vocoder_state[name] = state
    save_model(current, path)
    growth = path.stat().st_size - before
    minutes_done = state.training.get("seconds", time.monotonic() - started) / 60
    report.say(f"bundled {name!r} into {path} ({growth / 1e6:+.1f} MB): {state.training.get('steps')} steps, "
               f"{minutes_done:.1f} minutes of training")
    report.say(Hint(f"checkpoint kept in {folder}", Fix("train-further")))
    said = registered.backend.state_warning(state)
    warning = Hint.of(said) if said else None
    if warning:
        report.say(Hint(f"warning: {warning.message}", warning.fix), warning=True)
    choice = select_vocoder(current)
    report.say(f"auto now picks {choice.backend.name!r}: {choice.reason}")
    for note in choice.hints:
        report.say(Hint(f"note: {note.message}", note.fix))
    return TrainedVocoder(
        model=loaded.name, path=path, backend=name, steps=state.training.get("steps"),
        resumed_from=(first_step[0] if first_step else int(state.training.get("steps") or 0)) if resume else 0,
        minutes=round(minutes_done, 2), losses=state.training.get("losses", {}), bytes_added=growth,
        checkpoint=folder, warnings=[warning.cli_message] if warning else [], figures=figures,
        auto=(choice.backend.name, choice.reason), hints=[warning] if warning else [],
    )


def _trainable_backend(model: DistillModel, requested: str | None, resumable: set[str],
                       report: Reporter) -> RegisteredVocoder:
    """`requested`, else the trainable backend with a run to resume, else the one auto would rank
    first for this model (its priority, then its name)."""
    from ..plugin.contract import trainable
    from ..plugin.host import installed_vocoders

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
    with_run = resumable & set(candidates)
    if len(with_run) == 1:
        return candidates[with_run.pop()]
    chosen = min(candidates.values(), key=lambda r: (-r.backend.priority, r.name))
    if len(candidates) > 1:
        report.say(Hint(f"several trainable vocoders are installed ({listing}); training {chosen.name!r}, the one "
                        "auto ranks first", Fix("backend")))
    return chosen


def _training_recordings(model: DistillModel, audio: str | os.PathLike[str] | None,
                         report: Reporter) -> tuple[Corpus, list[Path]]:
    """The model's recordings (or those in `audio`), minus the files its training held out."""
    from ..ingest import scan_corpus
    from ..library import recordings

    folder = recordings(model, audio)
    corpus = scan_corpus(folder)
    expected = model.training.get("corpus_fingerprint")
    if expected and corpus.fingerprint != expected:
        report.say(f"warning: the audio in {folder} differs from what {model.name!r} was trained on (files were "
                   "added, removed or edited); the vocoder learns from it as it is now")
    held_out = set(model.training.get("validation_files") or [])
    files = [f.path for f in corpus.files if f.relative not in held_out]
    if not files:  # every file is held out: better to learn from them than from nothing
        files = [f.path for f in corpus.files]
    return corpus, files


def _measure(model: DistillModel, audio: str | os.PathLike[str] | None, device: str,
             report: Reporter) -> dict[str, Any] | None:
    """The new state's and the usable universal backends' figures on the held-out recordings (what
    auto-selection ranks by), or None with a note when they cannot be measured."""
    from ..vocoders.compare import compare

    report.say("measuring it against the installed universal vocoders on the held-out recordings ...",
               phase="measure")
    try:
        result = compare(model, Path(audio) if audio else None, device, pitch=False, baseline=False,
                         steps=lambda event: report.step(f"measure: {event.phase}", event.step, event.total))
    except DistillError as exc:
        report.say(Hint(f"note: not measured ({exc.message}); auto will prefer the bundled vocoder", exc.fix))
        return None
    report.say("  " + ", ".join(f"{row.name} ViSQOL {row.visqol:.2f}" for row in result.rows) + f" ({result.note})")
    return result.figures()

