"""The shipped base vocoder (`hifigan-base`, no fine-tuning) against Griffin-Lim, resynthesising
held-out audio from its true mels, on two corpora no vocoder trained on:

- demo: the demo corpus' held-out files (distill.examples: tones, plucks, textures; seed 0, 20 x 3 s,
  every tenth file, as `distill train` holds them out);
- real: the freedesktop sound theme (Debian `sound-theme-freedesktop`, CC-BY-SA-3.0 / CC-BY-3.0 /
  GPL-2+): recorded speech, a bell, a camera shutter, paper and chimes, 35 files.

Metrics from distill.audio_metrics (ViSQOL on the files joined with gaps). Griffin-Lim runs with two
seeds (its random initial phase): their spread is the noise of its rows; the base is deterministic.
Run: python tests/bench/run.py base
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from distill.audio import read_audio
from distill.melspec import DISTILL_MEL
from distill.vocoder_compare import griffin_lim, joined, measure

THEME = Path("/usr/share/sounds/freedesktop/stereo")


def demo_clips() -> list[tuple[str, np.ndarray]]:
    import tempfile

    from distill.examples import make_example_corpus

    with tempfile.TemporaryDirectory() as folder:
        paths = make_example_corpus(Path(folder), files=20, seconds=3.0)
        return [(p.name, read_audio(p, DISTILL_MEL.sample_rate).audio) for p in paths[::10]]


def real_clips() -> list[tuple[str, np.ndarray]]:
    if not THEME.is_dir():
        raise SystemExit(f"{THEME} is missing: apt-get install sound-theme-freedesktop")
    return [(p.name, read_audio(p, DISTILL_MEL.sample_rate).audio) for p in sorted(THEME.glob("*.oga"))]


def base_renderer() -> Any:
    from distill.generate import vocode_stream
    from distill_hifigan.backend import HiFiGANBase

    vocoder = HiFiGANBase.load()

    def render(mel: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.from_numpy(np.concatenate(list(vocode_stream(vocoder, mel, DISTILL_MEL))))

    return render


def rows_for(corpus: str, clips: list[tuple[str, np.ndarray]], renderers: dict[str, Any]) -> list[dict[str, Any]]:
    from distill.audio_metrics import pitch_track

    spec = DISTILL_MEL
    trimmed = [wave[: spec.num_samples(spec.num_frames(len(wave)))] for _, wave in clips]
    reference_pitch = pitch_track(joined(trimmed, spec.sample_rate), spec.sample_rate)
    rows = []
    for name, render in renderers.items():
        row = measure(render, clips, spec, reference_pitch)
        rows.append({"corpus": corpus, "vocoder": name, "ViSQOL": round(row.visqol, 3),
                     "MR-STFT": round(row.mr_stft, 3), "log-mel L1": round(row.log_mel_l1, 3),
                     "pitch err cents": None if row.pitch_cents is None else round(row.pitch_cents, 1),
                     "voicing err %": round(100 * (row.voicing_error or 0.0), 1), "speed x": round(row.speed, 1)})
        print(rows[-1], flush=True)
    return rows


def run() -> list[dict[str, Any]]:
    renderers = {"hifigan-base": base_renderer()}
    for iterations in (32, 60):
        for seed in (0, 1):
            renderers[f"Griffin-Lim {iterations} it, seed {seed}"] = (
                lambda mel, n=iterations, s=seed: griffin_lim(mel, DISTILL_MEL, n, seed=s))
    return rows_for("demo", demo_clips(), renderers) + rows_for("real", real_clips(), renderers)
