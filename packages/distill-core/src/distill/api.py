"""The Python API: everything `distill train`, `train-vocoder` and `generate` do, as functions that
return typed results. The CLI and the demo are thin faces of it; a web UI or a script uses the same.

Long operations take `progress` (called with `distill.progress.Progress` events: steps, losses,
ETA, and the messages the CLI prints) and `cancel` (a `threading.Event`; setting it stops cleanly and
raises `Interrupted`, after saving a checkpoint where there is training to keep).
"""

from __future__ import annotations

import datetime
import math
import os
import secrets
import shlex
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from . import __version__
from .errors import DistillError
from .progress import Interrupted, ProgressCallback, Reporter

if TYPE_CHECKING:
    import numpy as np

    from .export import ExportSettings
    from .ingest import Corpus, SkippedFile
    from .model import DistillModel
    from .pipeline import GenerationSettings, LoadedModel
    from .plugins import RegisteredVocoder
    from .vocoders.compare import Comparison
    from .vocoders.selection import VocoderOption


# -- results ----------------------------------------------------------------------------------------
@attrs.frozen
class TrainedModel:
    name: str
    id: str
    path: Path
    steps: int
    resumed_from: int  # the checkpoint step training continued from (0: a fresh run)
    losses: dict[str, float | None]
    sliders: list[str]
    files: int
    skipped: list[SkippedFile]
    seconds: float  # of usable audio


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
    auto: tuple[str, str]  # what --vocoder auto now picks, and why


@attrs.frozen
class Clip:
    path: Path
    sidecar: Path
    seconds: float
    seed: int
    warnings: list[str]  # level warnings of this clip (e.g. turned down so it cannot clip)


@attrs.frozen
class Generated:
    clips: list[Clip]
    vocoder: str
    reason: str
    warnings: list[str]  # about the whole run: clamped sliders, device, blending, the vocoder choice


# -- train ------------------------------------------------------------------------------------------
def train(
    folder: str | os.PathLike[str], name: str | None = None, *, preset: str = "auto", steps: int | None = None,
    epochs: float | None = None, batch_size: int | None = None, lr: float | None = None, device: str = "auto",
    seed: int = 0, checkpoint_every: int = 200, resume: bool = False, restart: bool = False,
    overwrite: bool = False, progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
) -> TrainedModel:
    """Train a model on the recordings under `folder` and save it to the library as `name` (default:
    the folder's name). With `resume`, an interrupted run continues from its checkpoint."""
    import torch

    from .checkpoint import load_checkpoint
    from .descriptors import recording
    from .devices import resolve_device
    from .ingest import scan_corpus
    from .library import checkpoint_dir, model_path, save_to_library
    from .melspec import DISTILL_MEL
    from .model import DistillModel
    from .previews import PreviewMaker
    from .sliders import analyse
    from .train_settings import TrainSettings, preset_settings, steps_for_epochs
    from .training import CHECKPOINT_FORMAT, split_by_file, train_vae

    report = Reporter(progress)
    if steps and epochs:
        raise DistillError("give a number of steps or of epochs, not both")
    if resume and restart:
        raise DistillError("resume or restart, not both")
    folder = Path(folder)
    folder = folder.resolve() if folder.exists() else folder
    name = folder.name if name is None else name
    destination = model_path(name)  # also checks the name: an explicit '' is refused
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
    prior_checkpoint = checkpoint.with_name("prior.ckpt")
    if restart:  # the discarded run's checkpoints and previews go; a vocoder's own checkpoints stay
        checkpoint.unlink(missing_ok=True)
        prior_checkpoint.unlink(missing_ok=True)
        shutil.rmtree(checkpoint.parent / "previews", ignore_errors=True)
    torch_device, device_note = resolve_device(device)
    if device_note:
        report.say(f"note: {device_note}")

    with torch.inference_mode():  # each recording's log-mels and qualities (its pitch track, for training)
        corpus = scan_corpus(folder, keep=lambda audio: recording(audio, DISTILL_MEL))
    for line in corpus.report():
        report.say(line, phase="scan")
    mels = [file.audio[0] for file in corpus.files]
    pitches = [torch.from_numpy(file.audio[1]["pitch"]).float() for file in corpus.files]
    chosen_preset, settings = preset_settings(preset, corpus.seconds)
    settings = attrs.evolve(settings, seed=seed, checkpoint_every=checkpoint_every,
                            batch_size=batch_size or settings.batch_size, lr=lr or settings.lr)
    if resume:  # an interrupted run goes on exactly as it started; only its length may change
        # (runs started before conditioning have no "conditions": their VAE has none)
        settings = TrainSettings(**{"conditions": 0, **load_checkpoint(checkpoint, CHECKPOINT_FORMAT)["settings"]})
        chosen_preset = "resumed"
    data = split_by_file(mels, [f.relative for f in corpus.files], settings.seed, pitches)
    if epochs:
        train_frames = sum(m.shape[-1] for m in data.train)
        settings = attrs.evolve(settings, steps=steps_for_epochs(epochs, train_frames, settings))
    elif steps:
        settings = attrs.evolve(settings, steps=steps)
    held_out = ", ".join(data.validation_names) or "none (fewer than 4 files)"
    report.say(f"training {name!r}: preset {chosen_preset}, {settings.steps} steps of {settings.batch_size} "
               f"segments, on {torch_device}; held out for validation: {held_out}")
    previews = PreviewMaker(checkpoint.parent / "previews", data.train, DISTILL_MEL, torch_device)
    report.say(previews.note)
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        def preview(step: int, vae: Any) -> Path | None:
            clip = previews(step, vae)
            if clip is not None:
                report.say(f"preview at step {step}: {clip}", phase="preview", file=clip)
            return clip

        result = train_vae(data, settings, checkpoint, fingerprint=corpus.fingerprint, device=torch_device,
                           resume=resume, cancel=cancel, on_checkpoint=preview,
                           progress=lambda step, record: report.step("train", step, settings.steps, record))
        report.say("analysing the latent space for sliders…", phase="analyse")
        sliders = analyse(result.vae, mels)
        # A prior checkpoint belongs to one corpus and one finished VAE (a resume may train the VAE further).
        prior = _train_prior(result.vae, settings.steps, sliders, data, settings.seed, prior_checkpoint,
                             f"{corpus.fingerprint}:{result.steps}", resume, report, cancel)
        sliders = _controls(result.vae, sliders, prior, [f.audio for f in corpus.files], report, result.steps)
    except Interrupted as stop:
        command = shlex.join(["distill", "train", str(folder), "--name", name, "--resume"])
        raise Interrupted(stop.step, stop.checkpoint, command) from None
    finished = datetime.datetime.now(datetime.timezone.utc)
    model = DistillModel(
        name=name,
        id=secrets.token_hex(6),
        mel_spec=DISTILL_MEL,
        vae_config=result.vae.config,
        vae_weights=result.vae.state_dict(),
        sliders=sliders,
        prior=prior,
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
    prior_checkpoint.unlink(missing_ok=True)
    validation = result.losses["validation_l1"]
    report.say(f"saved {name!r} to {path}")
    report.say(_reconstruction_note(result.losses["train_l1"], validation, len(data.validation)))
    for line in slider_report(sliders):
        report.say(line)
    return TrainedModel(name=name, id=model.id, path=path, steps=result.steps, resumed_from=result.resumed_from,
                        losses=result.losses, sliders=slider_names(sliders), files=len(corpus.files),
                        skipped=list(corpus.skipped), seconds=round(corpus.seconds, 3))


def _reconstruction_note(train: float | None, held_out: float | None, files: int) -> str:
    """The reconstruction figures in words: what they measure, and what the held-out one says."""
    note = ("reconstruction error (how far the model's rebuild of a recording is from it: mean log-mel L1 in "
            f"nats, 1 nat = 8.7 dB): training recordings {train or 0:.3f}")
    if held_out is None or not train:
        return note + " (no recording was held out: fewer than 4 files)"
    verdict = ("close to the training figure: it learned the sound, not just its recordings" if held_out < 1.5 * train
               else "well above the training figure: it partly memorised its recordings (more recordings, or "
                    "the conservative preset, help)")
    held = f"{files} held-out recording{'s' if files != 1 else ''} it never trained on"
    return f"{note}, {held} {held_out:.3f}: {verdict}"


MIN_SLIDER_STEPS = 200  # a VAE trained less has not learned to follow what it is told: nothing to measure


def _controls(vae: Any, sliders: Any, prior: Any, recordings: list[Any], report: Reporter, steps: int,
              spec: Any = None) -> Any:
    """The slider analysis with the model's named controls found and measured (calibration.py)."""
    from .calibration import analyse_controls
    from .melspec import DISTILL_MEL
    from .model import DistillModel
    from .pipeline import LoadedModel

    if steps < MIN_SLIDER_STEPS:
        return attrs.evolve(sliders, controls=[], directions=None, calibration={}, rejected={
            "named sliders": f"a model trained for {steps} steps (under {MIN_SLIDER_STEPS}) has not learned enough "
                             "to measure them; it offers the principal directions of its sound instead"})
    report.say("measuring the named sliders: rendering probes", phase="controls")
    probe = LoadedModel(DistillModel(name="probe", id="probe", mel_spec=spec or DISTILL_MEL, vae_config=vae.config,
                                     vae_weights=vae.state_dict(), sliders=sliders, training={}, prior=prior))
    analyse_controls(probe, recordings, on_probe=lambda done, total: report.step("controls", done, total, {}))
    return probe.model.sliders


def slider_names(analysis: Any) -> list[str]:
    """The sliders a model offers: its named controls, else (models made before them) its old sliders."""
    return [c.name for c in analysis.controls] or [s.name for s in analysis.sliders]


def slider_report(analysis: Any) -> list[str]:
    """What the analysis found, in words: each slider with its range, and each quality not offered."""
    from .sliders import describe, not_offered

    if not analysis.controls:
        sliders = ", ".join(f"{s.name} [{s.low:.2f} … {s.high:.2f}]" for s in analysis.sliders)
        return [*(f"{label}: {why}" for label, why in not_offered(analysis.rejected)), f"sliders: {sliders}"]
    return [f"slider {describe(c)}" for c in analysis.controls] + [f"{label}: {why}" for label, why in
                                                                    not_offered(analysis.rejected)]


def _train_prior(vae: Any, vae_steps: int, sliders: Any, data: Any, seed: int, checkpoint: Path, fingerprint: str,
                 resume: bool, report: Reporter, cancel: threading.Event | None) -> Any:
    """The learned prior (distill.prior) of a trained VAE, as the model file stores it."""
    from .melspec import DISTILL_MEL
    from .model import PriorState
    from .prior import KIND, LATENTS_ONLY, PriorSettings, TrainedPrior, prior_data, prior_steps, train_prior

    settings = PriorSettings(steps=prior_steps(vae_steps), seed=seed)
    frame_rate = DISTILL_MEL.sample_rate / DISTILL_MEL.hop_length / vae.downsample
    encoded = prior_data(vae.cpu(), sliders, data.train, data.validation, settings.character_dims, frame_rate,
                         DISTILL_MEL, (data.train_pitch, data.validation_pitch) if data.train_pitch else None)
    report.say(f"learning how the recordings unfold: the prior over {sum(len(x) for x in encoded.train)} latent "
               "frames", phase="prior")
    result = train_prior(encoded, settings, checkpoint, fingerprint=fingerprint, resume=resume, cancel=cancel,
                         progress=lambda step, record: report.step("prior", step, settings.steps, record))
    trained = TrainedPrior(result.prior, encoded.silence, result.character_mean, result.character_std)
    record = {"steps": result.steps, "held_out_nll": result.held_out_nll,
              "seconds": round(result.seconds, 1), "settings": attrs.asdict(settings)}
    return PriorState(KIND if result.prior.qualities else LATENTS_ONLY, result.prior.config, record,
                      trained.tensors())


# -- train-vocoder ----------------------------------------------------------------------------------
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

    from .devices import resolve_device
    from .library import checkpoint_dir, resolve_model
    from .modelfile import load_model, save_model
    from .pipeline import LoadedModel
    from .vocoders.contract import VocoderTrainingRun
    from .vocoders.selection import select_vocoder

    report = Reporter(progress)
    if steps and minutes:
        raise DistillError("give a number of steps or of minutes, not both")
    if resume and restart:
        raise DistillError("resume or restart, not both")
    path = resolve_model(str(model))
    loaded = load_model(path)
    runs = checkpoint_dir(loaded.name)
    resumable = set()
    if resume and runs.is_dir():  # backends with a run of this model to continue
        resumable = {p.name for p in runs.iterdir() if p.is_dir() and any(p.iterdir())}
    registered = _trainable_backend(loaded, backend, resumable, report)
    name = registered.name
    folder = runs / name
    has_checkpoint = folder.is_dir() and any(folder.iterdir())
    if resume and not has_checkpoint:
        raise DistillError(f"no {name} training of {loaded.name!r} to resume (looked in {folder}); drop --resume")
    if has_checkpoint and not (resume or restart):
        raise DistillError(f"an earlier {name} training of {loaded.name!r} left a checkpoint in {folder}: add "
                           "--resume to continue it (or train it further), or --restart to discard it")
    if restart and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch_device, device_note = resolve_device(device)
    if device_note:
        report.say(f"note: {device_note}")

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
        report.say("note: not measured (cancelled); --vocoder auto will prefer the bundled vocoder")
    else:
        figures = _measure(loaded, audio, torch_device, report)
    if figures:
        state.training["figures"] = figures
    # Read again just before saving: whatever else changed in the file meanwhile is kept.
    current = _unchanged(path, loaded.id, f"the vocoder trained (its checkpoint in {folder} is kept)")
    current.vocoder_state[name] = state
    save_model(current, path)
    growth = path.stat().st_size - before
    minutes_done = state.training.get("seconds", time.monotonic() - started) / 60
    report.say(f"bundled {name!r} into {path} ({growth / 1e6:+.1f} MB): {state.training.get('steps')} steps, "
               f"{minutes_done:.1f} minutes of training; `distill generate {model}` now uses it with "
               "--vocoder auto")
    report.say(f"checkpoint kept in {folder} (train further with --resume and a larger --steps or --minutes)")
    warning = registered.backend.state_warning(state)
    if warning:
        report.say(f"warning: {warning}", warning=True)
    choice = select_vocoder(current)
    report.say(f"--vocoder auto now picks {choice.backend.name!r}: {choice.reason}")
    for note in choice.warnings:
        report.say(f"note: {note}")
    return TrainedVocoder(
        model=loaded.name, path=path, backend=name, steps=state.training.get("steps"),
        resumed_from=(first_step[0] if first_step else int(state.training.get("steps") or 0)) if resume else 0,
        minutes=round(minutes_done, 2), losses=state.training.get("losses", {}), bytes_added=growth,
        checkpoint=folder, warnings=[warning] if warning else [], figures=figures,
        auto=(choice.backend.name, choice.reason),
    )


def _unchanged(path: Path, model_id: str, during: str) -> DistillModel:
    """The model at `path` as it is now, which must still be the one with `model_id`: a long operation
    never overwrites a model that was replaced while it ran."""
    from .modelfile import load_model

    current = load_model(path)
    if current.id != model_id:
        raise DistillError(f"{path} was replaced by another model while {during}; nothing was saved: "
                           "run it again for the new model")
    return current


def _trainable_backend(model: DistillModel, requested: str | None, resumable: set[str],
                       report: Reporter) -> RegisteredVocoder:
    """`requested`, else the trainable backend with a run to resume, else the one auto would rank
    first for this model (its priority, then its name)."""
    from .plugins import installed_vocoders
    from .vocoders.contract import trainable

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
        report.say(f"several trainable vocoders are installed ({listing}); training {chosen.name!r}, the one "
                   "--vocoder auto ranks first (choose another with --backend NAME)")
    return chosen


def _training_recordings(model: DistillModel, audio: str | os.PathLike[str] | None,
                         report: Reporter) -> tuple[Corpus, list[Path]]:
    """The model's recordings (or those in `audio`), minus the files its training held out."""
    from .ingest import scan_corpus
    from .library import recordings

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
    from .vocoders.compare import compare

    report.say("measuring it against the installed universal vocoders on the held-out recordings ...",
               phase="measure")
    try:
        result = compare(model, Path(audio) if audio else None, device, pitch=False, baseline=False)
    except DistillError as exc:
        report.say(f"note: not measured ({exc.cli_message}); --vocoder auto will prefer the bundled vocoder")
        return None
    report.say("  " + ", ".join(f"{row.name} ViSQOL {row.visqol:.2f}" for row in result.rows) + f" ({result.note})")
    return result.figures()


def analyze(model: str | os.PathLike[str], audio: str | os.PathLike[str] | None = None,
            progress: ProgressCallback | None = None) -> list[Any]:
    """Find and measure the named sliders of a model on its training recordings and save them;
    returns them (sliders.Control). The principal axes the prior works in, and the old sliders that
    old presets and sidecars name, stay as they are."""
    import torch

    from .descriptors import recording
    from .ingest import scan_corpus
    from .library import recordings, resolve_model
    from .modelfile import load_model, save_model
    from .pipeline import LoadedModel

    report = Reporter(progress)
    path = resolve_model(str(model))
    loaded = load_model(path)
    folder = recordings(loaded, audio)
    spec = loaded.mel_spec
    with torch.inference_mode():
        corpus = scan_corpus(folder, keep=lambda wave: recording(wave, spec))
    fingerprint = loaded.training.get("corpus_fingerprint")
    if fingerprint and corpus.fingerprint != fingerprint:
        report.say(f"note: the audio in {folder} differs from what {loaded.name!r} was trained on", warning=True)
    vae = LoadedModel(loaded).vae
    steps = loaded.training.get("steps")
    sliders = _controls(vae, loaded.sliders, loaded.prior, [f.audio for f in corpus.files], report,
                        steps if isinstance(steps, int) else MIN_SLIDER_STEPS, spec)
    current = _unchanged(path, loaded.id, "the slider analysis ran")  # keep what changed meanwhile (a vocoder)
    current.sliders = sliders
    save_model(current, path)
    for line in slider_report(sliders):
        report.say(line)
    return list(sliders.controls)


def save_slider_preset(model: str | os.PathLike[str], preset: str,
                       sliders: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
    """Store slider values (by name or index) as `preset` of a library model, clamped to their safe
    ranges as `generate` would; returns the stored values and a warning for each clamp."""
    from .pipeline import check_sliders
    from .slider_presets import save_preset

    loaded = load(model)
    checked = check_sliders(loaded.analysis, dict(sliders))
    legacy = not loaded.analysis.controls
    values = checked.legacy if legacy else checked.controls
    save_preset(loaded.model.name, preset, values, legacy=legacy)
    return values, checked.warnings


# -- generate ---------------------------------------------------------------------------------------
def generate(
    model: str | os.PathLike[str], *, seconds: float = 5.0, count: int = 1, seed: int | None = None,
    evolution: float = 0.5, sliders: Mapping[str, float] | None = None, preset: str | None = None,
    from_audio: str | os.PathLike[str] | None = None, variation: float = 0.0, morph: tuple[str, str] | None = None,
    blend: Sequence[tuple[str, float]] = (), prior: str = "auto", temperature: float = 1.0,
    vocoder: str = "auto", device: str = "auto", export: ExportSettings | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None, overwrite: bool = False,
    progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
) -> Generated:
    """Render `count` clips of MODEL (a library name, id prefix or .distill path) with a JSON sidecar
    each. Clip i uses seed + i (default: a random seed); files are named MODEL-SEED.EXT in
    `output_dir` (default: the current folder) unless `output` names the one clip. `prior`: "learned",
    "gaussian", or "auto" (the learned prior where the model has one)."""
    from .export import ExportSettings
    from .files import check_regular
    from .names import safe_stem
    from .pipeline import GenerationSettings, check_sliders
    from .slider_presets import get_preset

    export = export or ExportSettings.create()
    if output and count > 1:
        raise DistillError("an output file name names one clip; give an output folder for several")
    if from_audio:
        check_regular(from_audio, "--from-audio file")
    for endpoint in morph or ():
        if not endpoint.removeprefix("seed:").isdigit():
            if not Path(endpoint).exists():
                raise DistillError(f"--morph endpoint {endpoint!r} is neither an audio file nor seed:N")
            check_regular(endpoint, "--morph audio file")
    primary = load(model)
    stored = get_preset(primary.model.name, preset) if preset else None
    values = dict(stored.controls if stored else {}) | dict(sliders or {})
    checked = check_sliders(primary.analysis, values, stored.legacy if stored else None)
    warnings = list(checked.warnings)
    if prior == "auto":
        prior = "learned" if primary.model.prior is not None else "gaussian"
        if primary.model.prior is None:
            warnings.append(f"model {primary.model.name!r} was trained before distill learned a prior: its new "
                            "material comes from the Gaussian prior (retrain it for material that moves like "
                            "its recordings)")
    base = GenerationSettings(
        seconds=seconds, seed=0, evolution=evolution, sliders=tuple(checked.legacy.items()),
        controls=tuple(checked.controls.items()), prior=prior, temperature=temperature,
        from_audio=str(Path(from_audio).resolve()) if from_audio else None, variation=variation,
        morph=(morph[0], morph[1]) if morph else None, blend=tuple((ref, float(w)) for ref, w in blend),
    )
    first_seed = secrets.randbelow(2**31) if seed is None else seed
    stem = safe_stem(primary.model.name, "clip")  # the header's name never steers where files go
    jobs = []
    for i in range(count):
        path = Path(output) if output else Path(output_dir or ".") / f"{stem}-{first_seed + i}.{export.extension}"
        jobs.append((attrs.evolve(base, seed=first_seed + i), path))
    return _render(primary, jobs, export, vocoder, device, warnings, named=output is not None, overwrite=overwrite,
                   progress=progress, cancel=cancel)


def replay(
    sidecar: str | os.PathLike[str], *, output: str | os.PathLike[str] | None = None,
    output_dir: str | os.PathLike[str] | None = None, overwrite: bool = False, device: str = "auto",
    progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
) -> Generated:
    """Render a clip again from its sidecar, bit for bit, into `output`, or NAME-replay.EXT in
    `output_dir` (default: beside the sidecar)."""
    from .export import ExportSettings
    from .files import read_json
    from .names import safe_stem
    from .pipeline import GenerationSettings
    from .threads import default_threads

    sidecar = Path(sidecar)
    data = read_json(sidecar, "sidecar")
    try:
        settings = GenerationSettings.from_dict(data["settings"])
        export = ExportSettings(**data["export"])
        model_info, vocoder_name, clip = data["model"], data["vocoder"]["name"], data["file"]
        model_path, model_id = model_info["path"], model_info["id"]
        if not all(isinstance(value, str) for value in (vocoder_name, clip, model_path, model_id)):
            raise TypeError("model, vocoder and file must be text")
        # Sidecars from before distill fitted its threads to the machine: rendered with torch's default.
        threads = data.get("threads", default_threads())
        if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 4096:
            raise TypeError(f"threads must be a whole number from 1 to 4096, not {threads!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise DistillError(f"{sidecar} is not a distill sidecar ({exc})") from exc
    ref = model_path if Path(model_path).is_file() else model_id
    primary = load(ref)
    if primary.model.id != model_id:
        raise DistillError(f"the model at {ref} is not the one that made this clip (id {model_id}); "
                           "it was retrained or replaced")
    stem = safe_stem(Path(clip).stem, "clip")  # a name read from a file never leaves the chosen folder
    target = Path(output) if output else Path(output_dir or sidecar.parent) / f"{stem}-replay.{export.extension}"
    return _render(primary, [(settings, target)], export, vocoder_name, device, [], named=output is not None,
                   overwrite=overwrite, progress=progress, cancel=cancel, threads=threads)


def load(ref: str | os.PathLike[str]) -> LoadedModel:
    """A model ready to generate, from a library name, id prefix or .distill path."""
    from .library import resolve_model
    from .modelfile import load_model
    from .pipeline import LoadedModel

    path = resolve_model(str(ref))
    return LoadedModel(load_model(path), path)


def sidecar_path(clip: Path) -> Path:
    return clip.with_name(clip.name + ".json")


def check_targets(paths: Sequence[Path], export: ExportSettings, overwrite: bool) -> None:
    for path in paths:
        if path.suffix.lower() != f".{export.extension}":
            raise DistillError(f"{path} does not end in .{export.extension}; match --output to --format")
        blocked = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise DistillError(f"cannot write {path}: {blocked} exists and is not a folder; "
                               "choose another output path (missing folders are created)")
        if not overwrite and (path.exists() or sidecar_path(path).exists()):
            raise DistillError(f"{path} already exists; choose another name or add --overwrite")


def _render(
    primary: LoadedModel, jobs: list[tuple[GenerationSettings, Path]], export: ExportSettings, requested: str,
    device: str, notes: list[str], *, named: bool, overwrite: bool, progress: ProgressCallback | None,
    cancel: threading.Event | None, threads: int | None = None,
) -> Generated:
    """Render each job. Without `overwrite` a file that appears meanwhile (another run) is never
    replaced: a name the caller gave fails clearly, a made-up name moves on to the next free one.
    Each clip renders with one CPU thread count, fitted to the machine when it starts (or `threads`, a
    replay's), and its sidecar records it: the last bits of a render depend on it."""
    from .atomic import FreeName, claim, replace, write_json
    from .devices import resolve_device
    from .export import write_audio
    from .pipeline import blend_mode, clip_chunks
    from .threads import fit_threads, use_threads
    from .vocoders.selection import load_vocoder, select_vocoder

    check_targets([path for _, path in jobs], export, overwrite)
    report = Reporter(progress)
    torch_device, device_note = resolve_device(device)
    warnings = list(notes) + ([device_note] if device_note else [])
    choice = select_vocoder(primary.model, requested)
    warnings += choice.warnings
    vocoder = load_vocoder(choice, primary.mel_spec, torch_device)
    blend_models = [(load(ref), weight) for ref, weight in jobs[0][0].blend]
    blends = []
    for model, weight in blend_models:
        own = select_vocoder(model.model, choice.backend.name if requested != "auto" else "auto")
        blends.append((model, weight, load_vocoder(own, model.mel_spec, torch_device)))
    mode = blend_mode(primary, [m for m, _ in blend_models]) if blend_models else None
    if mode:
        warnings.append(f"blending {len(blends) + 1} models in the {mode} domain"
                        + (" (they share one mel recipe)" if mode == "mel" else " (their mel recipes differ)"))
    clips = []
    for settings, path in jobs:
        tags = {
            "title": f"{primary.model.name} #{settings.seed}",
            "artist": f"distill model {primary.model.name}",
            "software": f"distill {__version__}",
            "comment": f"model={primary.model.id} seed={settings.seed} vocoder={choice.backend.name}",
        }
        clip_threads = use_threads(threads) if threads else fit_threads()
        chunks = _watched(clip_chunks(primary, settings, vocoder, blends), vocoder.sample_rate, settings.seconds,
                          path.name, report, cancel)
        publish = replace if overwrite else claim if named else FreeName(companion=sidecar_path)
        try:
            level = write_audio(chunks, vocoder.sample_rate, settings.seconds, path, export, tags, publish)
        except FileExistsError:
            raise DistillError(f"{path} appeared while this clip was rendering (another distill run?); it was "
                               "left as it is and this clip discarded: choose another --output, or add "
                               "--overwrite") from None
        path = publish.path if isinstance(publish, FreeName) and publish.path else path
        write_json(sidecar_path(path), {
            "distill_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "file": path.name,
            "seconds": settings.seconds,
            "samples": level["samples"],
            "model": {"name": primary.model.name, "id": primary.model.id, "path": _where(primary)},
            "blend": [{"name": m.model.name, "id": m.model.id, "path": _where(m), "weight": w}
                      for m, w, _ in blends],
            "blend_mode": mode,
            "settings": settings.to_dict(),
            "export": export.to_dict(),
            "vocoder": {"name": choice.backend.name, "reason": choice.reason, "warnings": list(choice.warnings)},
            "threads": clip_threads,
            "level": level,
        })
        clips.append(Clip(path=path, sidecar=sidecar_path(path), seconds=settings.seconds, seed=settings.seed,
                          warnings=list(level["warnings"])))
    return Generated(clips=clips, vocoder=choice.backend.name, reason=choice.reason, warnings=warnings)


def _where(model: LoadedModel) -> str | None:
    return str(model.path.resolve()) if model.path else None


def _watched(chunks: Iterator[np.ndarray], rate: int, seconds: float, label: str, report: Reporter,
             cancel: threading.Event | None) -> Iterator[np.ndarray]:
    """Progress in tenths of a second of audio; a set `cancel` stops the render (nothing is written)."""
    total, done = math.ceil(seconds * 10), 0.0
    for chunk in chunks:
        if cancel is not None and cancel.is_set():
            raise Interrupted(round(done * 10), None,
                              message=f"render cancelled after {done:.1f} s of {seconds:.1f} s; nothing was written")
        done += len(chunk) / rate
        report.step(f"render {label}", min(round(done * 10), total), total)
        yield chunk


# -- vocoders ---------------------------------------------------------------------------------------
def compare_vocoders(
    model: str | os.PathLike[str], *, audio: str | os.PathLike[str] | None = None, device: str = "cpu",
    download: bool = False, save: bool = False, progress: Callable[[str, int, int], None] | None = None,
    renderings: str | os.PathLike[str] | None = None,
) -> Comparison:
    """Resynthesise the model's held-out recordings with every usable vocoder (and the Griffin-Lim
    baseline) and measure each; backends that would need a download are skipped unless `download`.
    `save` stores the figures in the model's bundled vocoders, which `--vocoder auto` ranks by.
    `renderings` (a folder) keeps each held-out file and every rendering of it, to listen to."""
    from .devices import resolve_device
    from .library import resolve_model
    from .modelfile import load_model, save_model
    from .vocoders.compare import compare

    path = resolve_model(str(model))
    compared = load_model(path)
    result = compare(compared, Path(audio) if audio else None, resolve_device(device)[0],
                     download=download, progress=progress, renderings=Path(renderings) if renderings else None)
    current = _unchanged(path, compared.id, "the comparison ran") if save else compared
    if save and current.vocoder_state:
        for state in current.vocoder_state.values():
            state.training["figures"] = result.figures()
        save_model(current, path)
    return result


@attrs.frozen
class VocoderChoices:
    """What can render a model: the usable backends, and what `auto` picks (None: nothing can), why,
    and its warnings (under-trained, a mel conversion, a better backend not downloaded)."""

    options: list[VocoderOption]
    auto: str | None
    reason: str
    warnings: list[str]


def vocoder_choices(model: str | os.PathLike[str]) -> VocoderChoices:
    """The installed backends that can render `model`, each with its state, and `auto`'s choice."""
    from .library import resolve_model
    from .modelfile import load_model
    from .plugins import installed_vocoders
    from .vocoders.selection import select_vocoder, vocoder_options

    loaded = load_model(resolve_model(str(model)))
    installed = installed_vocoders()
    options = vocoder_options(loaded, installed)
    try:
        choice = select_vocoder(loaded, "auto", installed)
    except DistillError as exc:
        return VocoderChoices(options, None, exc.cli_message, [])
    return VocoderChoices(options, choice.backend.name, choice.reason, list(choice.warnings))


def download_vocoder(name: str, progress: Callable[[str, int, int], None] | None = None) -> None:
    """Fetch a backend's weights (e.g. BigVGAN's from the Hugging Face Hub), calling
    `progress(filename, bytes_done, bytes_total)` as bytes arrive."""
    from .plugins import installed_vocoders

    vocoders = installed_vocoders()
    if name not in vocoders:
        raise DistillError(f"vocoder {name!r} is not installed (installed: {', '.join(vocoders) or 'none'})")
    vocoders[name].backend.download(progress)
