"""Named controls (issue 25): what each control of a model delivers, measured on seeds the analysis
never saw.

For each corpus (tests/bench/corpora.py) the model `bench_generation` trains (distill train's
defaults, cached in .benchmarks/generation) is analysed (distill.calibration.analyse_controls: offsets
found through the decoder, then measured on rendered probes of seeds 201–203). Then each offered
control is set to half and to the whole of its safe range, each way, on held-out seeds (HELD_OUT),
rendered through the same probe vocoder, and measured against the same seed unmoved:

- delivered: the change of its quality per unit asked (1.0 = exactly as asked), mean ± spread over
  seeds and values;
- largest side effect: the other quality that moved most, as a share of the control's own change (both
  in units of each quality's spread over the corpus' recordings);
- and every quality not offered, with the analysis' reason.

Run: python tests/bench/run.py sliders   (about 2 minutes per corpus once the models are cached)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpora

CACHE = Path(__file__).resolve().parents[2] / ".benchmarks" / "generation"
HELD_OUT = (301, 302, 303)


def _model(name: str) -> Any:
    os.environ.setdefault("DISTILL_HOME", str(CACHE / "home"))
    import distill

    folder = corpora.CORPORA[name](CACHE / "corpora")
    try:
        return distill.load(name), folder
    except distill.DistillError:
        distill.train(folder, name)
        return distill.load(name), folder


def measure(name: str) -> list[dict[str, Any]]:
    import torch
    from distill.calibration import _Prober, analyse_controls, probe_renderer, side_ratio
    from distill.controls import Candidate
    from distill.descriptors import frame_descriptors
    from distill.ingest import scan_corpus

    model, folder = _model(name)
    spec = model.mel_spec
    corpus = scan_corpus(folder, keep=lambda a: (spec.mel(torch.from_numpy(a)), frame_descriptors(a, spec)))
    started = time.perf_counter()
    analyse_controls(model, [f.audio for f in corpus.files])
    seconds = time.perf_counter() - started
    analysis = model.analysis
    spreads = analysis.calibration["spreads"]
    render, _ = probe_renderer(model)
    rows = []
    for control in analysis.controls:
        assert analysis.directions is not None
        offsets = analysis.directions[control.row : control.row + len(control.anchors)].double().numpy()
        probe = _Prober(model, render, analysis.calibration["scales"], None, 0)
        candidate = Candidate(control.name, control.unit, control.anchors, offsets)
        values = [v for v in (control.low, control.low / 2, control.high / 2, control.high) if v]
        moved = [probe.effect(candidate, seed, value) for seed in HELD_OUT for value in values]
        own = np.array([m.get(control.name, np.nan) for m in moved])
        held = attrs.evolve(  # the same control, its effects as measured on held-out seeds
            control, effect=1.0 if control.character else float(np.nanmean(own)),
            sides={o: [float(np.nanmean([m[o] for m in moved])), 0.0] for o in control.sides})
        worst, ratio = side_ratio(held, spreads)
        rows.append({
            "corpus": name, "control": control.name, "unit": control.unit or "±1",
            "range": f"{control.low:g} … {control.high:g}",
            "calibrated": f"{control.effect:.2f} ± {control.spread:.2f}",
            "delivered (held-out)": "-" if control.character else f"{np.nanmean(own):.2f} ± {np.nanstd(own):.2f}",
            "largest side effect": f"{worst} {ratio:.2f}" if not control.character else f"{worst}",
            "analysis s": round(seconds),
        })
    for quality, reason in analysis.rejected.items():
        rows.append({"corpus": name, "control": quality, "unit": "not offered", "range": reason[:110]})
    return rows


def run() -> list[dict[str, Any]]:
    rows = []
    for name in corpora.CORPORA:
        rows += measure(name)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    print(table([row for name in (sys.argv[1:] or list(corpora.CORPORA)) for row in measure(name)]))
