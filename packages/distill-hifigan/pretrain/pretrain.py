"""Pretrain the base vocoder that distill-hifigan ships, from nothing but openly licensed sources.

    python packages/distill-hifigan/pretrain/pretrain.py --steps 20000      (or `nox -s pretrain`)

Builds the corpus (corpus.py), trains the frame-rate generator on it and writes its inference
weights, with their provenance in the file's metadata, to distill_hifigan/data/base.safetensors.
Checkpoints go to --work (default build/pretrain-base/): run the same command again to continue an
interrupted run, or with a larger --steps to train further. It runs on a CUDA GPU where there is one
(--device auto); every random draw comes from seeded generators on the CPU, so the machine changes
the weights only by floating-point noise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time
from pathlib import Path

import attrs
import platformdirs
import soundfile
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import HOLDOUT_EVERY, RECIPE, build_corpus, recipe_hash  # noqa: E402
from distill.plugin import (  # noqa: E402
    DISTILL_MEL,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
)
from distill_hifigan.base import BASE_WEIGHTS, save_base  # noqa: E402
from distill_hifigan.data import TrainingAudio  # noqa: E402
from distill_hifigan.denormals import flush_denormals  # noqa: E402
from distill_hifigan.frame_config import FrameGeneratorConfig  # noqa: E402
from distill_hifigan.frame_generator import FrameGenerator  # noqa: E402
from distill_hifigan.settings import VocoderSettings  # noqa: E402
from distill_hifigan.step import frame_losses, frame_step  # noqa: E402

CHECKPOINT_FORMAT = "distill-hifigan-base-pretraining"
SETTINGS = VocoderSettings(batch_size=16, segment=64 * 512, lr=4e-4, lr_decay=0.99995, vae_fraction=0.0,
                         polarity=False, checkpoint_every=500)
LOG_EVERY, VALIDATE_EVERY, CHECKPOINT_SECONDS = 100, 1000, 300.0


def validate(generator: FrameGenerator, audio: TrainingAudio, generator_rng_seed: int = 1234) -> dict[str, float]:
    """Mean losses on 16 fixed held-out segments (the same every time: a fresh seeded draw)."""
    rng = torch.Generator().manual_seed(generator_rng_seed)
    batch = audio.sample(attrs.evolve(SETTINGS, gain_db=0.0), rng)
    device = next(generator.parameters()).device
    with torch.no_grad():
        losses = frame_losses(generator.eval(), batch.to(device), DISTILL_MEL)
    generator.train()
    return {key: round(float(value), 4) for key, value in losses.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20000, help="total steps (a larger number continues a run)")
    parser.add_argument("--work", type=Path, default=Path(platformdirs.user_cache_dir("distill")) / "pretrain-base",
                        help="corpus and checkpoints (kept outside the checkout, so a later run can continue)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=BASE_WEIGHTS, help="where the shipped weights go")
    args = parser.parse_args()
    device, note = resolve_device(args.device)
    if note:
        print(note)

    started = time.monotonic()
    files = build_corpus(args.work / "corpus", seed=args.seed)
    corpus_id = recipe_hash(files)
    train = [p for i, p in enumerate(files) if i % HOLDOUT_EVERY]
    held_out = [p for i, p in enumerate(files) if not i % HOLDOUT_EVERY]
    print(f"corpus {corpus_id}: {len(train)} training and {len(held_out)} held-out files "
          f"({time.monotonic() - started:.0f} s to build or check)", flush=True)
    validation = TrainingAudio(held_out, DISTILL_MEL, SETTINGS.segment)

    config = FrameGeneratorConfig()
    torch.manual_seed(args.seed)
    generator = FrameGenerator(config, DISTILL_MEL.filterbank()).to(device)
    optimizer = torch.optim.AdamW(generator.parameters(), SETTINGS.lr, betas=SETTINGS.betas)
    sampler = torch.Generator().manual_seed(args.seed)
    path = args.work / "checkpoint.pt"
    step, seconds, history = 0, 0.0, []
    if path.exists():
        state = load_checkpoint(path, CHECKPOINT_FORMAT)
        if state["corpus"] != corpus_id or state["config"] != config.to_dict():
            raise SystemExit(f"{path} was trained on another corpus or architecture: move it away to start over")
        generator.load_state_dict(state["generator"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.set_state(state["sampler"])
        step, seconds, history = state["step"], state["seconds"], state["history"]
        print(f"resuming at step {step} ({seconds / 3600:.2f} h)", flush=True)

    def checkpoint() -> None:
        save_checkpoint(path, CHECKPOINT_FORMAT, {
            "corpus": corpus_id, "config": config.to_dict(), "step": step, "seconds": seconds,
            "history": history, "generator": generator.state_dict(), "optimizer": optimizer.state_dict(),
            "sampler": sampler.get_state()})

    audio = TrainingAudio(train if step < args.steps else train[:1], DISTILL_MEL, SETTINGS.segment)
    training_minutes = sum(soundfile.info(p).duration for p in train) / 60
    print(f"{training_minutes:.1f} minutes of training audio, {validation.seconds / 60:.1f} held out", flush=True)
    recent: list[dict[str, float]] = []
    base_seconds, clock, saved = seconds, time.monotonic(), time.monotonic()
    with flush_denormals():
        while step < args.steps:
            for group in optimizer.param_groups:
                group["lr"] = SETTINGS.lr * SETTINGS.lr_decay**step
            batch = audio.sample(SETTINGS, sampler).to(device)
            losses = frame_step(generator, optimizer, batch, DISTILL_MEL, SETTINGS)
            recent.append({key: float(value) for key, value in losses.items()})
            step += 1
            seconds = base_seconds + time.monotonic() - clock
            if step % LOG_EVERY == 0:
                mean = {key: round(sum(r[key] for r in recent) / len(recent), 4) for key in recent[0]}
                record = {"step": step, "hours": round(seconds / 3600, 3), **mean}
                if step % VALIDATE_EVERY == 0:
                    record["validation"] = validate(generator, validation)
                history.append(record)
                recent = []
                print(json.dumps(record), flush=True)
            if step % SETTINGS.checkpoint_every == 0 or time.monotonic() - saved > CHECKPOINT_SECONDS:
                checkpoint()
                saved = time.monotonic()
    checkpoint()

    final = validate(generator, validation)
    provenance = {
        "corpus": {**RECIPE, "fingerprint": corpus_id, "training_files": len(train), "held_out_files": len(held_out),
                   "training_minutes": round(training_minutes, 1)},
        "steps": step, "hours": round(seconds / 3600, 2), "device": device,
        "settings": SETTINGS.to_dict(), "validation": final,
        "date": datetime.date.today().isoformat(),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "command": f"python packages/distill-hifigan/pretrain/pretrain.py --steps {step}",
    }
    save_base(generator, provenance, args.out)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB): step {step}, held-out mel L1 {final['mel']:.3f} nats"
          f"{'' if math.isfinite(final['mel']) else ' (NOT FINITE)'}")


if __name__ == "__main__":
    main()
