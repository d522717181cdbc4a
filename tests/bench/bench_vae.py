"""VAE design measurements: latent time resolution and training throughput on the example corpus.

Run: python tests/bench/bench_vae.py [STEPS]. Each variant trains the same number of steps on the
same 20-file, ~60 s synthesised corpus, with the same held-out files, on this machine's CPU.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import attrs
import torch
from distill.examples import make_example_corpus
from distill.ingest import scan_corpus
from distill.melspec import DISTILL_MEL
from distill.train_settings import preset_settings
from distill.training import split_by_file, train_vae

VARIANTS = {
    "latent every 8 frames (93 ms), no augmentation": {"downsample": 8, "augment": False},
    "latent every 8 frames (93 ms)": {"downsample": 8},
    "latent every 64 frames (0.74 s, chunk-like)": {"downsample": 64},
}


def run(steps: int = 600) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        make_example_corpus(folder, files=20, seconds=3.0)
        with torch.inference_mode():
            corpus = scan_corpus(folder, keep=lambda audio: DISTILL_MEL.mel(torch.from_numpy(audio)))
        mels = [f.audio for f in corpus.files]
        data = split_by_file(mels, [f.relative for f in corpus.files], seed=0)
        _, balanced = preset_settings("balanced", corpus.seconds)
        for label, change in VARIANTS.items():
            settings = attrs.evolve(balanced, steps=steps, checkpoint_every=10**9, **change)
            started = time.perf_counter()
            result = train_vae(data, settings, Path(tmp) / "ckpt", fingerprint=corpus.fingerprint)
            seconds = time.perf_counter() - started
            params = sum(p.numel() for p in result.vae.parameters())
            rows.append({
                "benchmark": f"VAE {label}",
                "steps/s": round(steps / seconds, 2),
                "params (M)": round(params / 1e6, 2),
                "train L1": round(result.losses["train_l1"], 3),
                "held-out L1": round(result.losses["validation_l1"], 3),
            })
            print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 600)
