"""A training run of the per-model vocoder: budget in steps (or minutes); checkpoints apart from the
model; resume after Ctrl-C or kill -9. By default the frame-rate generator is fine-tuned from the
shipped base by regression; `from_scratch` trains a HiFi-GAN V2 with a generator-only warm-up, then
adversarially.

Everything random after initialisation comes from two checkpointed generators (batches and
discriminator noise) and the learning rate is a function of the step, so a resumed CPU run with a
seed ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from distill.plugin import (
    DistillError,
    Fix,
    VocoderState,
    VocoderTrainingInterrupted,
    VocoderTrainingRun,
    fit_threads,
    load_checkpoint,
    save_checkpoint,
)

from .config import DiscriminatorConfig, GeneratorConfig
from .data import TrainingAudio
from .denormals import flush_denormals
from .frame_config import FrameGeneratorConfig, generator_config_from_dict
from .frame_generator import FrameGenerator, frame_generator
from .networks import Discriminators, Generator, fold_weight_norm
from .settings import DEFAULT_STEPS, FINETUNE, VocoderSettings
from .step import FrameNetworks, Networks

CHECKPOINT_FORMAT = "distill-hifigan-checkpoint"
CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_SECONDS = 60.0  # also on a timer, so kill -9 loses at most a minute
HISTORY_EVERY = 50


@attrs.define
class Budget:
    steps: int | None = None
    minutes: float | None = None

    def reached(self, step: int, seconds: float) -> bool:
        if self.minutes is not None:
            return seconds >= 60 * self.minutes
        return step >= (self.steps or DEFAULT_STEPS)

    def describe(self) -> str:
        return f"{self.minutes:g} minutes" if self.minutes is not None else f"{self.steps or DEFAULT_STEPS} steps"


@attrs.define
class Progress:
    """The counters a checkpoint restores besides the networks."""

    step: int = 0
    seconds: float = 0.0
    switch: int | None = None  # first adversarial step, once known
    history: list[dict[str, float]] = attrs.field(factory=list)
    recent: list[dict[str, float]] = attrs.field(factory=list)  # the last steps' losses, for the summary

    def adversarial(self) -> bool:
        return self.switch is not None and self.step >= self.switch


def checkpoint_path(run: VocoderTrainingRun) -> Path:
    return run.checkpoint_dir / CHECKPOINT_NAME


def _resumed_settings(run: VocoderTrainingRun, state: dict[str, Any], path: Path) -> VocoderSettings:
    settings = VocoderSettings.from_dict(state["settings"])
    if run.checkpoint_every:  # how often to save does not change what is learnt
        settings = attrs.evolve(settings, checkpoint_every=run.checkpoint_every)
    if run.model_id and state["model_id"] != run.model_id:
        raise DistillError(f"checkpoint {path} belongs to another version of this model (it was retrained "
                           "since)", Fix("restart", "train-vocoder"))
    if run.fingerprint and state["fingerprint"] != run.fingerprint:
        raise DistillError(f"the audio changed since checkpoint {path} was written", Fix("restart", "train-vocoder"))
    for label, given, saved in (("batch-size", run.batch_size, settings.batch_size),
                                ("segment", run.segment, settings.segment)):
        if given is not None and given != saved:
            raise DistillError(f"checkpoint {path} was trained with {label.replace('-', ' ')} {saved}, and a resumed "
                               "run keeps its settings", Fix("keep-setting", label))
    return settings


def _planned_switch(budget: Budget, settings: VocoderSettings) -> int | None:
    if budget.minutes is not None:
        return None  # decided by the clock, see `_update_switch`
    return round(settings.warmup_fraction * (budget.steps or DEFAULT_STEPS))


def _update_switch(progress: Progress, budget: Budget, settings: VocoderSettings) -> None:
    if progress.switch is not None and progress.switch <= progress.step:
        return  # adversarial training started: it stays on, also when a finished run is extended
    if budget.minutes is None:
        progress.switch = _planned_switch(budget, settings)
    elif progress.seconds >= settings.warmup_fraction * 60 * budget.minutes:
        progress.switch = progress.step


def _lr(step: int, progress: Progress, settings: VocoderSettings) -> float:
    base = settings.lr if progress.adversarial() else settings.warmup_lr
    return base * settings.lr_decay**step


def _summary(recent: list[dict[str, float]]) -> dict[str, float]:
    keys = {key for record in recent for key in record}
    return {key: sum(r[key] for r in recent if key in r) / sum(key in r for r in recent) for key in sorted(keys)}


def _networks(run: VocoderTrainingRun, settings: VocoderSettings, config: GeneratorConfig | FrameGeneratorConfig,
              discriminator_config: DiscriminatorConfig | None,
              start: dict[str, torch.Tensor] | None) -> Networks | FrameNetworks:
    if isinstance(config, FrameGeneratorConfig):
        return FrameNetworks(frame_generator(config, run.mel_spec.filterbank(), start), settings, run.device)
    assert discriminator_config is not None
    return Networks(Generator(config), Discriminators(discriminator_config), settings, run.device)


@attrs.frozen
class RunResult:
    generator: Generator | FrameGenerator  # ready for inference (weight norm folded), on the CPU
    settings: VocoderSettings
    progress: Progress
    audio_seconds: float
    files: int


def run_training(
    run: VocoderTrainingRun,
    settings: VocoderSettings,
    generator_config: GeneratorConfig | FrameGeneratorConfig,
    discriminator_config: DiscriminatorConfig | None,
    version: str,
    log: Callable[[str], None] = lambda message: None,
    start: dict[str, torch.Tensor] | None = None,
) -> RunResult:
    """Train (or resume) one run; `start` holds the weights a fresh frame-rate generator begins from."""
    path = checkpoint_path(run)
    state = load_checkpoint(path, CHECKPOINT_FORMAT) if run.resume else None
    if state is not None:
        settings = _resumed_settings(run, state, path)
        generator_config = generator_config_from_dict(state["generator_config"])
        saved = state["discriminator_config"]
        discriminator_config = DiscriminatorConfig(**saved) if saved is not None else None
        if run.from_scratch and discriminator_config is None:
            raise DistillError(f"checkpoint {path} was fine-tuned from the base, and a resumed run continues the way "
                               "it started", Fix("from-scratch-or-restart", "train-vocoder"))
    budget = Budget(run.steps, run.minutes)
    if state is not None and run.steps is None and run.minutes is None:
        budget = Budget(**state["budget"])  # an interrupted run carries on towards its own target

    torch.manual_seed(settings.seed)
    nets = _networks(run, settings, generator_config, discriminator_config, start)
    sampler = torch.Generator().manual_seed(settings.seed)
    noise = torch.Generator().manual_seed(settings.seed + 1)
    progress = Progress()
    if state is not None:
        nets.load_state_dict(state)
        sampler.set_state(state["sampler"])
        noise.set_state(state["noise"])
        progress = Progress(state["step"], state["seconds"], state["switch"], state["history"], state["recent"])
        if budget.reached(progress.step, progress.seconds):
            done = f"{progress.step} steps ({progress.seconds / 60:.1f} minutes)"
            raise DistillError(f"this run has already trained {done}, which meets the target of "
                               f"{budget.describe()}", Fix("train-further"))

    audio = TrainingAudio(list(run.audio_files), run.mel_spec, settings.segment, run.reconstruct)
    log(f"{len(run.audio_files)} files ({audio.seconds:.1f} s of audio); budget {budget.describe()}; "
        f"{settings.batch_size} segments of {settings.segment} samples per step; on {nets.device}"
        + (f"; resuming at step {progress.step}" if state is not None else ""))

    def checkpoint() -> None:
        save_checkpoint(path, CHECKPOINT_FORMAT, {
            "version": version, "settings": settings.to_dict(),
            "generator_config": generator_config.to_dict(),
            "discriminator_config": attrs.asdict(discriminator_config) if discriminator_config else None,
            "model_id": run.model_id, "fingerprint": run.fingerprint, "budget": attrs.asdict(budget),
            "step": progress.step, "seconds": progress.seconds, "switch": progress.switch,
            "history": progress.history, "recent": progress.recent,
            "sampler": sampler.get_state(), "noise": noise.get_state(), **nets.state_dict(),
        })

    total = 0 if budget.minutes is not None else (budget.steps or DEFAULT_STEPS)
    with flush_denormals():
        _loop(run, settings, budget, nets, audio, sampler, noise, progress, total, checkpoint, path)

    fold_weight_norm(nets.generator)
    generator = nets.generator.cpu().eval()
    return RunResult(generator, settings, progress, audio.seconds, len(run.audio_files))


def _loop(run: VocoderTrainingRun, settings: VocoderSettings, budget: Budget, nets: Networks | FrameNetworks,
          audio: TrainingAudio,
          sampler: torch.Generator, noise: torch.Generator, progress: Progress, total: int,
          checkpoint: Callable[[], None], path: Path) -> None:
    last_checkpoint = started = time.monotonic()
    base_seconds, saved_at = progress.seconds, -1
    while not budget.reached(progress.step, progress.seconds):
        fit_threads()
        _update_switch(progress, budget, settings)
        adversarial = progress.adversarial()
        nets.set_lr(_lr(progress.step, progress, settings))
        batch = audio.sample(settings, sampler).to(nets.device)
        losses = nets.step(batch, run.mel_spec, settings, adversarial, noise)
        record = {key: float(value) for key, value in losses.items()}
        progress.step += 1
        now = time.monotonic()
        progress.seconds = base_seconds + now - started
        progress.recent = [*progress.recent[-(HISTORY_EVERY - 1):], record]
        if progress.step % HISTORY_EVERY == 0:
            progress.history.append({"step": float(progress.step), "seconds": round(progress.seconds, 1),
                                     **_summary(progress.recent)})
        if run.progress:
            run.progress(progress.step, total, {**record, "seconds": progress.seconds,
                                                "adversarial": float(adversarial)})
        stop = run.stop is not None and run.stop.is_set()
        if stop or progress.step % settings.checkpoint_every == 0 or now - last_checkpoint > CHECKPOINT_SECONDS:
            checkpoint()
            last_checkpoint, saved_at = now, progress.step
            if stop:
                raise VocoderTrainingInterrupted(progress.step, path)
    if saved_at != progress.step:
        checkpoint()  # kept after the run: `--resume` with a larger budget trains further from here


def train_state(run: VocoderTrainingRun, version: str, log: Callable[[str], None] = lambda message: None
                ) -> VocoderState:
    """Train as `run` says and return the bundle: the folded generator's weights, its config and what
    the run did. Discriminators and optimisers stay in the checkpoint."""
    import platform

    from .base import load_base

    defaults = VocoderSettings() if run.from_scratch else FINETUNE
    settings = attrs.evolve(defaults, batch_size=run.batch_size or defaults.batch_size,
                            segment=run.segment or defaults.segment, seed=run.seed,
                            checkpoint_every=run.checkpoint_every or defaults.checkpoint_every)
    if run.from_scratch:
        result = run_training(run, settings, GeneratorConfig(), DiscriminatorConfig(width=settings.disc_width),
                              version, log)
    else:  # a resumed run carries on as its checkpoint started, from the base or from scratch
        config, weights, _ = load_base()
        result = run_training(run, settings, config, None, version, log, start=weights)
    tuned = isinstance(result.generator, FrameGenerator)
    origin: dict[str, Any] = {"from": "scratch"}
    if tuned:
        provenance = load_base()[2]  # cached
        origin = {"from": "base", "base": {key: provenance.get(key) for key in ("steps", "date", "validation")}}
    progress = result.progress
    switch = progress.switch if progress.switch is not None else progress.step
    # A fine-tuned frame-rate generator is stored as float16 like the base it came from: half the bytes in the
    # model file, and the difference is far below what the ear or the metrics notice (tests/test_base.py).
    storage = torch.float16 if tuned else torch.float32
    weights = {key: tensor.detach().to(storage) for key, tensor in result.generator.state_dict().items()}
    return VocoderState(
        backend="hifigan",
        version=version,
        config={"mel_spec": run.mel_spec.to_dict(), "generator": result.generator.config.to_dict()},
        weights=weights,
        training={
            "steps": progress.step,
            "warmup_steps": min(switch, progress.step),
            "adversarial_steps": max(0, progress.step - switch),
            "seconds": round(progress.seconds, 1),
            "minutes": round(progress.seconds / 60, 2),
            "losses": {key: round(value, 4) for key, value in _summary(progress.recent).items()},
            "history": progress.history[-40:],
            "settings": result.settings.to_dict(),
            **origin,
            "files": result.files,
            "audio_seconds": round(result.audio_seconds, 2),
            "corpus_fingerprint": run.fingerprint,
            "device": run.device,
            # distill-core's and torch's versions are added by `distill train-vocoder`, for every backend
            "versions": {"distill-hifigan": version, "python": platform.python_version()},
        },
    )
