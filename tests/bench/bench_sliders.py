"""Named sliders: what each slider of a model delivers, measured on seeds its analysis never saw.

For each corpus (tests/bench/corpora.py) a model is trained with `distill train`'s defaults (cached in
.benchmarks/sliders; training finds and calibrates its sliders on probes of seeds 201–203). Then each
offered slider is set to half and to the whole of its safe range, each way, on held-out seeds
(HELD_OUT), rendered through the same probe vocoder, and measured against the same seed unmoved:

- delivered: the change of its quality per unit asked (1.0 = exactly as asked), mean ± spread over
  seeds and values;
- largest side effect: the other quality of how a moment sounds (loudness, brightness, noisiness,
  pitch) that moved most, as a share of the control's own change (both in units of each quality's
  spread over the corpus' recordings, or of the least audible change if larger); and the same for
  attack and density (counted by thresholds a louder or brighter sound crosses more often);
- and every quality not offered, with the analysis' reason.

With `--reanalyze`, the cached models are analysed again first (`distill model analyze`), e.g. after a
change to the analysis. Run: python tests/bench/run.py sliders   (training: 3–5 minutes per corpus
the first time; measuring: about a minute each)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpora

CACHE = Path(__file__).resolve().parents[2] / ".benchmarks" / "sliders"
HELD_OUT = (301, 302, 303)


def _model(name: str) -> Any:
    os.environ.setdefault("DISTILL_HOME", str(CACHE / "home"))
    import distill

    folder = corpora.CORPORA[name](CACHE.parent / "generation" / "corpora")  # shared with bench_generation
    try:
        return distill.load(name), folder
    except distill.DistillError:
        distill.train(folder, name)
        return distill.load(name), folder


def measure(name: str) -> list[dict[str, Any]]:
    import distill
    from distill.calibration import COLOUR, _Prober, probe_renderer, side_ratio
    from distill.controls import Candidate

    model, _ = _model(name)
    if "--reanalyze" in sys.argv:
        distill.analyze(name)
        model = distill.load(name)
    analysis = model.analysis
    spreads = analysis.calibration["spreads"]
    render, _ = probe_renderer(model)
    rows = []
    for control in analysis.controls:
        offsets = (analysis.directions[control.row : control.row + len(control.anchors)].double().numpy()
                   if control.row >= 0 else np.zeros((0, len(analysis.scales))))
        probe = _Prober(model, render, analysis.calibration["scales"], None, 0)
        candidate = Candidate(control.name, control.unit, control.anchors, offsets, control.channel, control.scale)
        values = [v for v in (control.low, control.low / 2, control.high / 2, control.high) if v]
        moved = [probe.effect(candidate, seed, value) for seed in HELD_OUT for value in values]
        own = np.array([m.get(control.name, np.nan) for m in moved])
        held = attrs.evolve(  # the same control, its effects as measured on held-out seeds
            control, effect=1.0 if control.character else float(np.nanmean(own)),
            sides={o: [float(np.nanmean([m[o] for m in moved])), 0.0] for o in control.sides})
        worst, ratio = side_ratio(held, spreads, COLOUR)
        timing, timing_ratio = side_ratio(held, spreads, ("attack", "density"))
        rows.append({
            "corpus": name, "control": control.name, "unit": control.unit or "±1",
            "range": f"{control.low:g} … {control.high:g}",
            "calibrated": f"{control.effect:.2f} ± {control.spread:.2f}",
            "delivered (held-out)": "-" if control.character else f"{np.nanmean(own):.2f} ± {np.nanstd(own):.2f}",
            "largest side effect": f"{worst} {ratio:.2f}" if not control.character else "-",
            "timing side effect": f"{timing} {timing_ratio:.2f}" if not control.character else "-",
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

    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(corpora.CORPORA)
    print(table([row for name in names for row in measure(name)]))
