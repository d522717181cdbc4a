"""A model's sliders: finding and measuring its named controls (after training, and again on
`distill model analyze`), saying what was found, and presets of slider values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from ..progress import ProgressCallback, Reporter
from .runs import load_for_update, unchanged

MIN_SLIDER_STEPS = 200  # a VAE trained less has not learned to follow what it is told: nothing to measure


def measure_controls(vae: Any, sliders: Any, prior: Any, recordings: list[Any], report: Reporter, steps: int,
              spec: Any = None) -> Any:
    """The slider analysis with the model's named controls found and measured (calibration.py)."""
    from ..calibration import analyze_controls
    from ..melspec import DISTILL_MEL
    from ..model import DistillModel
    from ..pipeline import LoadedModel

    if steps < MIN_SLIDER_STEPS:
        return attrs.evolve(sliders, controls=[], directions=None, calibration={}, rejected={
            "named sliders": f"a model trained for {steps} steps (under {MIN_SLIDER_STEPS}) has not learned enough "
                             "to measure them; it offers the principal directions of its sound instead"})
    report.say("measuring the named sliders: rendering probes", phase="controls")
    probe = LoadedModel(DistillModel(name="probe", id="probe", mel_spec=spec or DISTILL_MEL, vae_config=vae.config,
                                     vae_weights=vae.state_dict(), sliders=sliders, training={}, prior=prior))
    analyze_controls(probe, recordings, on_probe=lambda done, total: report.step("controls", done, total, {}))
    return probe.model.sliders


def slider_names(analysis: Any) -> list[str]:
    """The sliders a model offers: its named controls, else (models made before them) its old sliders."""
    return [c.name for c in analysis.controls] or [s.name for s in analysis.sliders]


def slider_report(analysis: Any) -> list[str]:
    """What the analysis found, in words: each slider with its range, and each quality not offered."""
    from ..sliders import describe, not_offered

    if not analysis.controls:
        sliders = ", ".join(f"{s.name} [{s.low:.2f} … {s.high:.2f}]" for s in analysis.sliders)
        return [*(f"{label}: {why}" for label, why in not_offered(analysis.rejected)), f"sliders: {sliders}"]
    return [f"slider {describe(c)}" for c in analysis.controls] + [f"{label}: {why}" for label, why in
                                                                    not_offered(analysis.rejected)]


def analyze(model: str | os.PathLike[str], audio: str | os.PathLike[str] | None = None,
            progress: ProgressCallback | None = None) -> list[Any]:
    """Find and measure the named sliders of a model on its training recordings and save them;
    returns them (sliders.Control). The principal axes the prior works in, and the old sliders that
    old presets and sidecars name, stay as they are."""
    import torch

    from ..descriptors import recording
    from ..ingest import scan_corpus
    from ..library import recordings, resolve_model
    from ..modelfile import save_model
    from ..pipeline import LoadedModel

    report = Reporter(progress)
    path = resolve_model(str(model))
    loaded, identity = load_for_update(path)
    folder = recordings(loaded, audio)
    spec = loaded.mel_spec
    with torch.inference_mode():
        corpus = scan_corpus(folder, keep=lambda wave: recording(wave, spec))
    fingerprint = loaded.training.get("corpus_fingerprint")
    if fingerprint and corpus.fingerprint != fingerprint:
        report.say(f"note: the audio in {folder} differs from what {loaded.name!r} was trained on", warning=True)
    vae = LoadedModel(loaded).vae
    steps = loaded.training.get("steps")
    sliders = measure_controls(vae, loaded.sliders, loaded.prior, [f.audio for f in corpus.files], report,
                        steps if isinstance(steps, int) else MIN_SLIDER_STEPS, spec)
    current = unchanged(path, loaded, identity, "the slider analysis ran")  # keep what changed meanwhile (a vocoder)
    current.sliders = sliders
    save_model(current, path)
    for line in slider_report(sliders):
        report.say(line)
    return list(sliders.controls)


def save_preset(model: str | os.PathLike[str], preset: str,
                sliders: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
    """Store slider values (by name or index) as `preset` of a library model, clamped to their safe
    ranges as `generate` would; returns the stored values and a warning for each clamp."""
    from .. import slider_presets
    from ..pipeline import check_sliders
    from .generation import load

    loaded = load(model)
    checked = check_sliders(loaded.analysis, dict(sliders))
    legacy = not loaded.analysis.controls
    values = checked.legacy if legacy else checked.controls
    slider_presets.save_preset(loaded.model.name, preset, values, legacy=legacy)
    return values, checked.warnings

