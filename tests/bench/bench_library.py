"""How fast the model library lists 200 models: `distill model list` as a cold process, and
`list_models()` in-process. Run: python tests/bench/bench_library.py (prints one row per benchmark)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODELS = 200
ROUNDS = 5


def _write_models(count: int) -> None:
    """Small but complete models, each with its own name and id (as a real library would hold)."""
    import torch
    from distill import DISTILL_MEL, VocoderState
    from distill.library import save_to_library
    from distill.model import DistillModel
    from distill.sliders import Slider, SliderAnalysis

    for i in range(count):
        sliders = [Slider(f"axis {k}", k, -1.0, 1.0, 0.0, 0.5 / (k + 1), {"rms": 0.5}) for k in range(4)]
        save_to_library(
            DistillModel(
                name=f"model-{i:03d}",
                id=f"{i:04x}" + "abcdef01",
                mel_spec=DISTILL_MEL,
                vae_config={"latent_dim": 8},
                vae_weights={"enc.weight": torch.randn(16, 8), "dec.weight": torch.randn(8, 16)},
                sliders=SliderAnalysis(sliders, torch.randn(8, 8), torch.randn(8), torch.rand(8)),
                training={"files": 10 + i, "seconds": 60.0 + i, "steps": 1000, "losses": [1.0, 0.5]},
                vocoder_state={"hifigan": VocoderState("hifigan", "1", {"steps": 10}, {"w": torch.randn(32)})},
                created="2026-05-09T07:35:25+00:00",
            )
        )


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("distill")
    return [str(script)] if script.exists() else [sys.executable, "-m", "distill.cli"]


def _median_seconds(action: Any) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as home:
        previous = os.environ.get("DISTILL_HOME")
        os.environ["DISTILL_HOME"] = home
        try:
            _write_models(MODELS)
            from distill.library import list_models

            assert len(list_models()) == MODELS

            def cold_list() -> None:
                subprocess.run([*_cli(), "model", "list"], check=True, capture_output=True, env=os.environ)

            return [
                {"benchmark": f"model list ({MODELS} models)", "seconds": round(_median_seconds(cold_list), 3),
                 "goal": "<= 0.5 s"},
                {"benchmark": f"list_models() in-process ({MODELS} models)",
                 "seconds": round(_median_seconds(list_models), 4), "goal": "<= 0.1 s"},
            ]  # fmt: skip
        finally:
            if previous is None:
                os.environ.pop("DISTILL_HOME", None)
            else:
                os.environ["DISTILL_HOME"] = previous


if __name__ == "__main__":
    for row in run():
        print(row)
