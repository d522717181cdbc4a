"""Calibration: measure what each control really does, by rendering probes and measuring them.

Probes are short clips of new material (the model's own prior, seeds of their own), decoded through
`generate`'s pipeline with one control moved and rendered by a fast vocoder that works offline (the
shipped base vocoder, else Griffin-Lim). Every quality (descriptors.py) is measured on the rendered
audio against the same seed unmoved (descriptors.change). A slider of a conditioned decoder first has
its unit set by what it delivered at half its reach (seeds 101–102: a decoder told +4 st may brighten
by +8). Then, on other seeds, at half and at the whole of each control's reach, each way: the
effect per unit requested and its spread over seeds, the side effects on every other quality, and the
safe range (on each side, the larger probed reach that still delivers what is asked without
overshooting).

A control is offered when it delivers at least MIN_EFFECT of what is asked (and at most MAX_EFFECT),
clearly above its spread, and moves no other quality of how a moment sounds (COLOUR) by more than
MAX_SIDE of its own change (each in units of its spread over the corpus' recordings); otherwise the
analysis says why it is not.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .controls import MIN_REACH, Candidate, Found, find_controls
from .descriptors import NAMES, change, frame_descriptors
from .sliders import Control, format_value

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from .pipeline import LoadedModel

    Renderer = Callable[[torch.Tensor], np.ndarray]  # log-mels [n_mels, T] -> waveform at the model's rate

VERSION = 2  # the slider analysis' version: 1 was the principal axes named by correlation (sliders.py)
PROBE_SECONDS = 3.0
GAIN_SEEDS = (101, 102)  # a decoder condition's delivery per unit, before measuring
MEASURE_SEEDS = (201, 202, 203)
MIN_GAIN, MAX_GAIN = 0.2, 4.0
MIN_EFFECT = 0.5  # share of the requested change a control must deliver …
MAX_EFFECT = 2.0  # … and at most: a slider that does three times what its number says is not in its unit
MAX_SIDE = 1 / 3  # largest side effect, as a share of the main effect (both in corpus spreads)
FULL_REACH = (0.7, 1.5)  # delivery that lets a side's safe range reach its furthest anchor
PROBE_VOCODER = "hifigan-base"
# The qualities a slider must leave alone: how each moment sounds. Attack and density are counted by
# thresholds that a louder or brighter sound crosses more often; their changes are stored and shown.
COLOUR = ("loudness", "brightness", "noisiness", "pitch")
# The smallest change of each quality a listener takes for a change (control units): the least spread
# a side effect is measured against
AUDIBLE_CHANGE = {"brightness": 1.0, "loudness": 2.0, "noisiness": 0.2, "pitch": 1.0, "attack": 0.2, "density": 0.5}


def analyze_controls(model: LoadedModel, recordings: list[tuple[torch.Tensor, dict[str, np.ndarray]]],
                     on_probe: Callable[[int, int], None] | None = None) -> None:
    """Find, calibrate and store the controls of a model (in `model.model.sliders`) from its corpus:
    log-mels and per-frame descriptors of each recording (descriptors.frame_descriptors)."""
    import attrs
    import torch

    spec = model.mel_spec
    found = find_controls(model.vae, model.analysis, spec, recordings)
    render, vocoder = probe_renderer(model)
    controls, directions, rejected = calibrate(model, found, render, on_probe)
    model.model.sliders = attrs.evolve(
        model.model.sliders, controls=controls, directions=torch.from_numpy(directions).float(), rejected=rejected,
        calibration={"version": VERSION, "vocoder": vocoder, "probe_seconds": PROBE_SECONDS,
                     "gain_seeds": list(GAIN_SEEDS), "seeds": list(MEASURE_SEEDS),
                     "spreads": {name: round(value, 6) for name, value in found.spreads.items()},
                     "scales": {name: round(value, 6) for name, value in found.scales.items()}})


def probe_renderer(model: LoadedModel) -> tuple[Renderer, str]:
    """The shipped base vocoder where it is installed (fast, offline), else Griffin-Lim."""
    from .griffinlim import griffin_lim
    from .pipeline import vocode_stream
    from .vocoders.selection import installed_vocoders, load_vocoder, select_vocoder

    installed = installed_vocoders()
    if PROBE_VOCODER in installed:
        vocoder = load_vocoder(select_vocoder(model.model, PROBE_VOCODER, installed), model.mel_spec)
        return lambda mel: np.concatenate(list(vocode_stream(vocoder, mel))), PROBE_VOCODER
    return lambda mel: griffin_lim(mel, model.mel_spec).numpy(), "griffin-lim"


def calibrate(model: LoadedModel, found: Found, render: Renderer,
              on_probe: Callable[[int, int], None] | None = None) -> tuple[list[Control], np.ndarray, dict[str, str]]:
    """The offered controls (their offsets are rows of the returned array [rows, latent_dim]) and why
    each other quality is not offered. `on_probe(done, total)` follows the renders."""
    probe = _Prober(model, render, found.scales, on_probe, total=_renders(found))
    rejected = dict(found.rejected)
    controls: list[Control] = []
    rows: list[np.ndarray] = []
    for candidate in found.candidates:
        if candidate.channel >= 0:  # a decoder told +1 st may deliver +2: its unit is set by what it did
            half = candidate.anchors[-1] / 2
            gain = _median([probe.effect(candidate, seed, value)[candidate.name]
                            for seed in GAIN_SEEDS for value in (-half, half)])
            if not gain >= MIN_GAIN:  # also NaN
                rejected[candidate.name] = f"telling the decoder to move it delivered {_share(gain)} of what was asked"
                continue
            candidate.scale /= min(gain, MAX_GAIN)
        control, reason = _measure(probe, candidate, found.spreads)
        if control is None:
            rejected[candidate.name] = reason
            continue
        control.row = len(rows) if len(candidate.offsets) else -1
        controls.append(control)
        rows += list(candidate.offsets)
    return controls, np.array(rows) if rows else np.zeros((0, len(model.analysis.scales))), rejected


def _measure(probe: _Prober, candidate: Candidate, spreads: dict[str, float]) -> tuple[Control | None, str]:
    name, character = candidate.name, candidate.name.startswith("character")
    values = [a for a in candidate.anchors if not character or abs(a) == 1.0]
    moved = {value: [probe.effect(candidate, seed, value) for seed in MEASURE_SEEDS] for value in values}
    if character:
        chosen = values
    else:  # on each side, the furthest anchor that delivers what is asked, without overshooting
        def fine(value: float) -> bool:
            return FULL_REACH[0] <= _mean([m[name] for m in moved[value]]) <= FULL_REACH[1]

        chosen = []
        for side in (-1, 1):
            ends = sorted((v for v in values if v * side > 0), key=abs)
            chosen += ends if ends and fine(ends[-1]) else ends[:1]
    picked = [m for value in chosen for m in moved[value]]
    effect = 1.0 if character else _mean([m[name] for m in picked])
    spread = 0.0 if character else _std([m[name] for m in picked])
    sides = {other: [round(_mean([m[other] for m in picked]), 4), round(_std([m[other] for m in picked]), 4)]
             for other in NAMES if other != name and np.isfinite(_mean([m[other] for m in picked]))}
    control = Control(name=name, unit=candidate.unit, row=-1, anchors=list(candidate.anchors),
                      low=-_nice(-min(chosen), candidate.unit), high=_nice(max(chosen), candidate.unit),
                      effect=round(effect, 4), spread=round(spread, 4), sides=sides, channel=candidate.channel,
                      scale=round(candidate.scale, 6))
    if character:
        return control, ""
    if max(-control.low, control.high) < MIN_REACH[name]:
        unit = f" {candidate.unit}" if candidate.unit else ""
        return None, (f"the model can move it only {format_value(min(chosen), candidate.unit)} … "
                      f"{format_value(max(chosen), candidate.unit)} (at least ±{MIN_REACH[name]:g}{unit} is needed)")
    if not (effect >= MIN_EFFECT and effect > 2 * spread):
        return None, (f"it delivered {_share(effect)} ± {_share(spread)} of what was asked "
                      f"(at least {_share(MIN_EFFECT)}, clearly above its spread, is needed)")
    if effect > MAX_EFFECT:
        return None, (f"it delivered {_share(effect)} ± {_share(spread)} of what was asked, on probes that its "
                      f"unit was not set on (at most {_share(MAX_EFFECT)})")
    worst, ratio = side_ratio(control, spreads, COLOUR)
    if ratio > MAX_SIDE:
        return None, (f"moving it moved {worst} too much ({ratio:.2f} of its own change, in units of each "
                      f"one's spread over the recordings; at most {MAX_SIDE:.2f})")
    return control, ""


def side_ratio(control: Control, spreads: dict[str, float], among: tuple[str, ...] = NAMES) -> tuple[str, float]:
    """The largest side effect of a control on the qualities `among` and its size as a share of the
    main effect, each change in units of that quality's spread over the corpus' recordings (at least
    AUDIBLE_CHANGE: a corpus whose recordings all start once a second must not make every tiny change
    of onset rate a side effect)."""
    def spread(name: str) -> float:
        return max(spreads.get(name, 0.0), AUDIBLE_CHANGE.get(name, 0.0), 1e-9)

    main = abs(control.effect) / spread(control.name)
    ratios = {other: abs(change) / spread(other) / max(main, 1e-9)
              for other, (change, _) in control.sides.items() if other in among}
    worst = max(ratios, key=ratios.__getitem__, default="")
    return worst, ratios.get(worst, 0.0)


class _Prober:
    """Renders probes and measures them; each seed's unmoved clip is rendered once."""

    def __init__(self, model: LoadedModel, render: Renderer, scales: dict[str, float], on_probe: Any,
                 total: int) -> None:
        self.model, self.vocode, self.scales = model, render, scales
        self.on_probe, self.total, self.done = on_probe, total, 0
        self.base: dict[int, dict[str, np.ndarray]] = {}

    def effect(self, candidate: Candidate, seed: int, value: float) -> dict[str, float]:
        """Each quality's change per unit of `value`, in control units (NaN where a quality cannot be
        measured in both clips)."""
        if seed not in self.base:
            self.base[seed] = self.render(seed)
        spec = self.model.mel_spec
        moved = change(self.base[seed], self.render(seed, candidate, value), spec.sample_rate / spec.hop_length)
        return {name: moved[name] / value / self.scales[name] for name in NAMES}

    def render(self, seed: int, candidate: Candidate | None = None, value: float = 0.0) -> dict[str, np.ndarray]:
        """The qualities of a probe, rendered as `generate` renders a clip with one control moved."""
        import attrs
        import torch

        from .pipeline import GenerationSettings, mel_frames_for

        prior = "learned" if self.model.model.prior is not None else "gaussian"
        settings = GenerationSettings(seconds=PROBE_SECONDS, seed=seed, prior=prior)
        spec, analysis = self.model.mel_spec, self.model.model.sliders
        if candidate is not None:
            probe = Control("probe", "", 0 if len(candidate.offsets) else -1, list(candidate.anchors), -math.inf,
                            math.inf, 1.0, 0.0, channel=candidate.channel, scale=candidate.scale)
            self.model.model.sliders = attrs.evolve(analysis, controls=[probe],
                                                    directions=torch.from_numpy(candidate.offsets).float())
            settings = attrs.evolve(settings, controls=(("probe", value),))
        try:
            audio = self.vocode(self.model.mel(settings, mel_frames_for(PROBE_SECONDS, spec)))
        finally:
            self.model.model.sliders = analysis
        self.done += 1
        if self.on_probe is not None:
            self.on_probe(self.done, self.total)
        return frame_descriptors(audio, spec)


def _renders(found: Found) -> int:
    gains = sum(2 for c in found.candidates if c.channel >= 0)
    return len(GAIN_SEEDS) * (1 + gains) + len(MEASURE_SEEDS) * (1 + sum(len(c.anchors) for c in found.candidates))


def _finite(values: list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


def _mean(values: list[float]) -> float:
    finite = _finite(values)
    return float(finite.mean()) if len(finite) >= 2 else math.nan


def _median(values: list[float]) -> float:
    finite = _finite(values)
    return float(np.median(finite)) if len(finite) >= 2 else math.nan


def _std(values: list[float]) -> float:
    finite = _finite(values)
    return float(finite.std(ddof=1)) if len(finite) >= 2 else math.nan


def _share(value: float) -> str:
    return "nothing measurable" if not np.isfinite(value) else f"{100 * value:.0f} %"


def _nice(reach: float, unit: str) -> float:
    """A safe range's end (≥ 0) as a person would set it: whole semitones and dB from 2 up, else tenths."""
    if unit in ("st", "dB") and reach >= 2:
        return float(math.floor(reach))
    return max(0.0, math.floor(reach * 10) / 10)
