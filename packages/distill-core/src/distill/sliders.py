"""Slider analysis: PCA of the encoded corpus, and the controls a user moves.

Controls (`Control`, found in controls.py, measured in calibration.py) are named musical qualities
in their own units; the generation path applies them (GenerationSettings.controls), and for now only
the benchmark analyses models for them (docs/benchmarks.md, "Named controls"): models are not saved
with controls yet. What follows describes the sliders every model has (`Slider`), which stay in the
model so that its sidecars and presets replay bit for bit.

Every latent frame of every corpus file is encoded (posterior mean). The principal directions
that explain a meaningful share of the variance become sliders; a slider's value is an offset
along its direction (0 = the corpus as it is), its safe range the 2nd-98th percentile of the
corpus' own projections. Each is named after the audio feature it correlates with most strongly
(|r| >= 0.4), oriented so that higher values mean more of it; otherwise "axis N". The full PCA
(all directions and their spreads) is kept: prior sampling draws from that Gaussian.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .melspec import DISTILL_MEL, MelSpec

if TYPE_CHECKING:
    import torch

    from .vae import MelVAE

MAX_SLIDERS = 6
MIN_EXPLAINED = 0.05  # a direction explaining less than this share of the variance is not a slider
MIN_CORRELATION = 0.4
FEATURES = ("loudness", "brightness", "noisiness", "pitch")


@attrs.define
class Slider:
    """One musical control: an offset along a principal direction of the latent space."""

    name: str  # e.g. "brightness", or "axis 3" when no audio feature explains it
    component: int  # row of SliderAnalysis.components
    low: float  # safe range, from percentiles of the encoded corpus
    high: float
    default: float  # the corpus mean: leaves the sound unchanged
    explained_variance: float  # fraction of latent variance along this direction
    correlations: dict[str, float] = attrs.field(factory=dict)  # audio feature -> Pearson r


@attrs.define
class Control:
    """A musical control: a shift of one of the qualities a conditioned decoder is told, or (models
    trained before conditioning) a constant latent offset interpolated between the offsets found for a
    few values of it (controls.py). One unit of value moves its quality about one unit (`unit`), as
    measured by rendering probes (calibration.py)."""

    name: str  # "brightness", …, or "character N"
    unit: str  # "st", "dB", or "" (a −1 … +1 scale: 1 = half the corpus' own range)
    row: int  # first row of SliderAnalysis.directions holding its offsets, one per anchor (-1: none)
    anchors: list[float]  # the values (in its unit, ascending, 0 excluded) probed, and offsets stored for
    low: float  # the safe range in the control's unit, measured
    high: float
    effect: float  # measured change of its quality per unit requested (1.0 = exactly as asked)
    spread: float  # standard deviation of `effect` over the calibration's seeds
    sides: dict[str, list[float]] = attrs.field(factory=dict)  # other quality -> [change per unit, spread]
    channel: int = -1  # ≥ 0: the decoder's condition it shifts (conditioning.py) instead of a latent offset
    scale: float = 1.0  # the quality's own units per unit of the control (−1 … +1 controls: half the corpus' range)

    @property
    def character(self) -> bool:
        return self.name.startswith("character")

    def display(self, value: float) -> str:
        """A value as a person reads it: "+3 st", "-0.5", "+1.5 dB"."""
        return format_value(value, self.unit)

    def offset(self, directions: torch.Tensor, value: float) -> torch.Tensor:
        """The latent offset [latent_dim] of `value`: linear between anchors (and 0), held beyond them."""
        import torch

        rows = directions[self.row : self.row + len(self.anchors)]
        points = sorted([*zip(self.anchors, rows, strict=True), (0.0, torch.zeros_like(rows[0]))], key=lambda p: p[0])
        value = min(max(value, points[0][0]), points[-1][0])
        for (a, da), (b, db) in itertools.pairwise(points):
            if a <= value <= b:
                return da + (db - da) * ((value - a) / (b - a))
        raise AssertionError("unreachable: the value is clamped to the anchors")


# Each quality's unit as a control moves it ("": a −1 … +1 scale, 1 = half the corpus' own range)
UNITS = {"brightness": "st", "loudness": "dB", "noisiness": "", "pitch": "st", "attack": "", "density": "/s"}


def describe(control: Control, value: float | None = None) -> str:
    """What a control does, measured: "brightness +3 st: measured +2.8 st ± 0.4; loudness −0.5 dB"."""
    value = (control.high or -control.low) / 2 if value is None else value
    if control.character:
        head = f"{control.name} {control.display(value)}"
    else:
        head = (f"{control.name} {control.display(value)}: measured {_tenths(control.effect * value, control.unit)} "
                f"± {abs(control.spread * value):.1f}")
    sides = sorted(control.sides.items(), key=lambda item: -abs(item[1][0]))[:2]
    tail = "; ".join(f"{other} {_tenths(change * value, UNITS.get(other, ''))}" for other, (change, _) in sides)
    return f"{head}; {tail}" if tail else head


def not_offered(rejected: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Why each quality is not a slider: ("no pitch slider", "…") pairs."""
    return [(f"no {name}{'' if name.endswith('sliders') else ' slider'}", str(why)) for name, why in rejected.items()]


def _tenths(value: float, unit: str) -> str:
    return f"{value:+.1f}".replace("-0.0", "0.0").replace("+0.0", "0.0") + (f" {unit}" if unit else "")


def format_value(value: float, unit: str) -> str:
    digits = 0 if unit in ("st", "dB") and abs(value) >= 1 else 1 if unit in ("st", "dB", "/s") else 2
    text = f"{value:+.{digits}f}".replace("+0.00", "0").replace("-0.00", "0")
    return f"{text} {unit}" if unit else text


@attrs.define(eq=False)
class SliderAnalysis:
    """PCA of the encoded corpus (the Gaussian that prior sampling draws from, and the learned prior's
    coordinates), the controls, and the legacy sliders of models made before controls."""

    sliders: list[Slider]
    components: torch.Tensor  # [latent_dim, latent_dim]: every principal direction, unit rows, by variance
    center: torch.Tensor  # [latent_dim], mean of the encoded corpus
    scales: torch.Tensor  # [latent_dim], standard deviation of the corpus along each component
    controls: list[Control] = attrs.field(factory=list)
    directions: torch.Tensor | None = None  # [controls, latent_dim]: the latent offset of one unit of each
    rejected: dict[str, str] = attrs.field(factory=dict)  # quality -> why it is not offered
    calibration: dict[str, Any] = attrs.field(factory=dict)  # how the controls were measured

    def control(self, key: str) -> Control:
        """A control by name or index (as a string)."""
        from .errors import DistillError

        for i, control in enumerate(self.controls):
            if key in (control.name, str(i)):
                return control
        valid = ", ".join(f"{i}={c.name!r}" for i, c in enumerate(self.controls))
        why = "".join(f"; {name} is not offered: {reason}" for name, reason in self.rejected.items() if name == key)
        raise DistillError(f"unknown slider {key!r}{why}; this model's sliders: {valid}")

    def whiten(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents [latent_dim, T] -> frames [T, latent_dim] in units of the corpus' spread along each
        principal direction: the coordinates the learned prior works in."""
        return ((latents - self.center[:, None]).T @ self.components.T) / self.scales.clamp(min=1e-8)

    def unwhiten(self, frames: torch.Tensor) -> torch.Tensor:
        """The inverse of `whiten`: frames [T, latent_dim] -> latents [latent_dim, T]."""
        return self.center[:, None] + self.components.T @ (frames * self.scales.clamp(min=1e-8)).T

    def by_name(self, key: str) -> Slider:
        """A slider by name or by index (as a string or an int)."""
        from .errors import DistillError

        for i, slider in enumerate(self.sliders):
            if key in (slider.name, str(i)):
                return slider
        valid = ", ".join(f"{i}={s.name!r}" for i, s in enumerate(self.sliders))
        raise DistillError(f"unknown slider {key!r}; this model's sliders: {valid}")


def header_sliders(header: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The well-formed sliders of a header, in order: its named controls (name, unit, low < high,
    default 0, and what the analysis measured, as "info"), else the old sliders (name, low, high,
    default)."""
    analysis = header.get("sliders") or {}
    if analysis.get("controls"):
        controls = []
        for entry in analysis["controls"]:
            try:
                control = Control(**entry)
                if math.isfinite(control.low) and math.isfinite(control.high) and control.low < control.high:
                    controls.append({"name": control.name, "unit": control.unit, "low": control.low,
                                     "high": control.high, "default": 0.0, "info": describe(control)})
            except (TypeError, ValueError):
                continue
        return controls
    sliders = []
    for slider in analysis.get("sliders") or []:
        try:
            low, high, default = (float(slider[k]) for k in ("low", "high", "default"))
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                continue
            sliders.append({"name": str(slider["name"]), "low": low, "high": high,
                            "default": min(max(default if math.isfinite(default) else 0.0, low), high)})
        except (KeyError, TypeError, ValueError):
            continue
    return sliders


def frame_features(mel: torch.Tensor, spec: MelSpec = DISTILL_MEL) -> dict[str, torch.Tensor]:
    """Per-frame audio features from log-mels [n_mels, T]: each a tensor [T]."""
    import torch

    from .descriptors import band_centres

    centres = torch.from_numpy(band_centres(spec)).float()
    power = torch.exp(2 * mel)  # magnitude mels -> power
    total = power.sum(dim=0) + 1e-12
    return {
        "loudness": 10 * torch.log10(total),
        "brightness": torch.log2((power * centres[:, None]).sum(dim=0) / total + 1.0),
        "noisiness": torch.exp(torch.log(power + 1e-12).mean(dim=0)) / (power.mean(dim=0) + 1e-12),
        "pitch": torch.log2(centres[power.argmax(dim=0)] + 1.0),
    }


def encode_corpus(vae: MelVAE, mels: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Posterior means of every latent frame [N, latent_dim], and the features of the mel frames each covers."""
    import torch

    with torch.inference_mode():
        return _encode(vae, mels)


def _encode(vae: MelVAE, mels: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    import torch

    latents: list[torch.Tensor] = []
    features: dict[str, list[torch.Tensor]] = {name: [] for name in FEATURES}
    for mel in mels:
        mean, _ = vae.encode(mel[None])
        latents.append(mean[0].T)
        frames = mean.shape[-1] * vae.downsample
        padded = torch.nn.functional.pad(mel, (0, frames - mel.shape[-1]), mode="replicate")
        for name, values in frame_features(padded).items():
            features[name].append(values.reshape(-1, vae.downsample).mean(dim=1))
    return torch.cat(latents), {name: torch.cat(values) for name, values in features.items()}


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0


def analyze(vae: MelVAE, mels: list[torch.Tensor]) -> SliderAnalysis:
    import torch

    latents, features = encode_corpus(vae, mels)
    center = latents.mean(dim=0)
    centred = (latents - center).double()
    _, singular, directions = torch.linalg.svd(centred, full_matrices=False)
    variances = singular.square() / max(1, len(latents) - 1)
    explained = variances / variances.sum().clamp(min=1e-12)
    components = directions.float()  # rows, by decreasing variance
    projections = (centred.float() @ components.T)  # [N, latent_dim]

    audible = features["loudness"] > features["loudness"].max() - 60  # ignore near-silent frames
    sliders: list[Slider] = []
    for k in range(min(MAX_SLIDERS, len(components))):
        if k > 0 and explained[k] < MIN_EXPLAINED:
            break
        values = projections[audible, k] if audible.sum() > 2 else projections[:, k]
        correlations = {
            name: round(_pearson(values, feature[audible] if audible.sum() > 2 else feature), 3)
            for name, feature in features.items()
        }
        taken = {s.name for s in sliders}
        best = max((n for n in correlations if n not in taken), key=lambda n: abs(correlations[n]), default=None)
        if best is not None and abs(correlations[best]) >= MIN_CORRELATION:
            name = best
            if correlations[best] < 0:  # orient the direction so that higher means more of the feature
                components[k] = -components[k]
                projections[:, k] = -projections[:, k]
                correlations = {n: -r for n, r in correlations.items()}
        else:
            name = f"axis {k + 1}"
        low, high = torch.quantile(projections[:, k], torch.tensor([0.02, 0.98])).tolist()
        sliders.append(Slider(name, k, round(low, 4), round(high, 4), 0.0, round(float(explained[k]), 4),
                              correlations))
    return SliderAnalysis(sliders, components, center, variances.sqrt().float())
