"""`distill train`: scan a folder, train the VAE, find and measure its sliders, learn its prior, and
save the model to the library."""

from __future__ import annotations

import datetime
import os
import secrets
import shlex
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .. import __version__
from ..errors import DistillError, Fix
from ..progress import Interrupted, ProgressCallback, Reporter
from .runs import one_length, start_run
from .sliders import measure_controls, slider_names, slider_report

if TYPE_CHECKING:
    from ..ingest import SkippedFile


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


def train(
    folder: str | os.PathLike[str], name: str | None = None, *, preset: str = "auto", steps: int | None = None,
    epochs: float | None = None, batch_size: int | None = None, lr: float | None = None, device: str = "auto",
    seed: int = 0, checkpoint_every: int = 200, resume: bool = False, restart: bool = False,
    overwrite: bool = False, progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
) -> TrainedModel:
    """Train a model on the recordings under `folder` and save it to the library as `name` (default:
    the folder's name). With `resume`, an interrupted run continues from its checkpoint."""
    import torch

    from ..checkpoint import load_checkpoint
    from ..descriptors import recording
    from ..devices import resolve_device
    from ..ingest import scan_corpus
    from ..library import checkpoint_dir, model_path, save_to_library
    from ..melspec import DISTILL_MEL
    from ..model import DistillModel
    from ..previews import PreviewMaker
    from ..sliders import analyze
    from ..train_settings import VAESettings, preset_settings, steps_for_epochs
    from ..training import CHECKPOINT_FORMAT, split_by_file, train_vae

    report = Reporter(progress)
    one_length(steps, epochs, "epochs")
    folder = Path(folder)
    folder = folder.resolve() if folder.exists() else folder
    name = folder.name if name is None else name
    destination = model_path(name)  # also checks the name: an explicit '' is refused
    if destination.exists() and not overwrite and not resume:
        raise DistillError(f"a model named {name!r} already exists ({destination})", Fix("overwrite-model"))
    checkpoint = checkpoint_dir(name) / "vae.ckpt"
    prior_checkpoint = checkpoint.with_name("prior.ckpt")
    # a restart discards the run's checkpoints and previews; a vocoder's own checkpoints stay
    start_run([checkpoint, prior_checkpoint, checkpoint.parent / "previews"], f"interrupted run of {name!r}",
              resume=resume, restart=restart)
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
        settings = VAESettings(**{"conditions": 0, **load_checkpoint(checkpoint, CHECKPOINT_FORMAT)["settings"]})
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
        report.say("analysing the latent space for sliders…", phase="analyze")
        sliders = analyze(result.vae, mels)
        # A prior checkpoint belongs to one corpus and one finished VAE (a resume may train the VAE further).
        prior = _train_prior(result.vae, settings.steps, sliders, data, settings.seed, prior_checkpoint,
                             f"{corpus.fingerprint}:{result.steps}", resume, report, cancel)
        sliders = measure_controls(result.vae, sliders, prior, [f.audio for f in corpus.files], report, result.steps)
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


def _train_prior(vae: Any, vae_steps: int, sliders: Any, data: Any, seed: int, checkpoint: Path, fingerprint: str,
                 resume: bool, report: Reporter, cancel: threading.Event | None) -> Any:
    """The learned prior (distill.prior) of a trained VAE, as the model file stores it."""
    from ..melspec import DISTILL_MEL
    from ..model import PriorState
    from ..prior import KIND, LATENTS_ONLY, PriorSettings, TrainedPrior, prior_data, prior_steps, train_prior

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

