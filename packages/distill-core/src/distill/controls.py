"""Finding the controls: for each musical quality (descriptors.py), what moves it.

A decoder told the qualities (conditioning.py) is moved by shifting what it is told: its candidates
are those qualities, probed out to CONDITIONED_REACH. A decoder told nothing (models made before) is
moved through its latent space: a control is then a path of constant latent offsets through a few
anchors (−R, −R/2, +R/2, +R in its unit, R = how far the recordings themselves differ in it; 0 is no
offset), interpolated between them. Each anchor's offset is found by a small optimisation through the
decoder: added to every frame of windows of the encoded corpus, it should change the quality, frame by
frame on the decoded log-mels, by the anchor's amount, change the other qualities as little as
possible (each in units of its spread over the recordings), and stay small in the corpus' own spreads
(whitened units), where the decoder was trained. Pitch is asked as a transposition: the decoded
log-mels should equal the unmoved ones shifted along frequency by the anchor's semitones.

Density and attack change in time and are not offered. The principal axes of the encoded corpus
outside the named offsets' span become "character 1 … k". calibration.py then measures every control
on rendered audio.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from .conditioning import CONDITIONS, transposed
from .descriptors import NAMES, band_centres, clip_descriptors, mel_qualities, per_latent_frame
from .sliders import UNITS

if TYPE_CHECKING:
    import torch

    from .melspec import MelSpec
    from .sliders import SliderAnalysis
    from .vae import MelVAE

OPTIMISED = ("loudness", "brightness", "noisiness", "pitch", "attack")
MIN_PITCHED = 0.15  # share of audible latent frames that must be pitched for a pitch control
# The smallest corpus range (p5–p95 of its recordings, halved) worth a control, in the control's unit:
MIN_REACH = {"brightness": 1.0, "loudness": 1.5, "pitch": 1.0, "noisiness": 0.5, "attack": 0.5}
# The furthest a control is probed and offered, in its unit: beyond, the decoder leaves the corpus' sound
MAX_REACH = {"brightness": 12.0, "loudness": 12.0, "pitch": 12.0, "noisiness": 1.0, "attack": 1.0}
# How far a conditioned decoder's sliders are probed: somewhat beyond what training showed it
# (conditioning.GAIN_DB, TRANSPOSE_ST, TILT_DB), as the recordings themselves differ too
CONDITIONED_REACH = {"loudness": 12.0, "brightness": 8.0, "noisiness": 1.0, "pitch": 6.0}
ANCHORS = (-1.0, -0.5, 0.5, 1.0)  # of the reach
WINDOW = 16  # latent frames (1.5 s) per training window
WINDOWS = 12
STEPS = 40  # optimiser steps per anchor
LEARNING_RATE = 0.15
SIZE_PENALTY = 0.001  # per whitened unit squared: the offset stays where the decoder was trained
MAX_CHARACTERS = 2
MIN_EXPLAINED = 0.05  # a remaining principal axis explaining less than this share of the variance is dropped
AUDIBLE_DB = 50.0


@attrs.define
class Candidate:
    """A control before calibration: the values to probe (`anchors`, its unit) and either the latent
    offsets at them [anchors, latent_dim] or the decoder condition it shifts (`channel`)."""

    name: str
    unit: str
    anchors: list[float]
    offsets: np.ndarray
    channel: int = -1
    scale: float = 1.0  # the quality's own units per control unit


@attrs.define
class Found:
    candidates: list[Candidate]
    rejected: dict[str, str]
    scales: dict[str, float]  # each quality's units per control unit (half the corpus' range on −1 … +1 scales)
    spreads: dict[str, float]  # in control units, over the corpus' recordings: the yardstick of side effects


def find_controls(vae: MelVAE, analysis: SliderAnalysis, spec: MelSpec,
                  recordings: list[tuple[torch.Tensor, dict[str, np.ndarray]]]) -> Found:
    """Candidates for every quality this corpus varies in, from log-mels [n_mels, T] and their
    per-frame descriptors (descriptors.frame_descriptors)."""
    import torch

    frame_rate = spec.sample_rate / spec.hop_length
    latents, pitched, clips = [], [], []
    with torch.inference_mode():
        for mel, descriptors in recordings:
            mean, _ = vae.encode(mel[None])
            latents.append(mean[0])
            frames = per_latent_frame(descriptors, vae.downsample, frame_rate, mean.shape[-1])
            pitched.append(np.isfinite(frames["pitch"])[frames["loudness"] > frames["loudness"].max() - 60])
            clips.append(clip_descriptors(descriptors, frame_rate))
    ranges, scales, spreads = {}, {}, {}
    for name in NAMES:
        values = np.array([c[name] for c in clips])
        values = values[np.isfinite(values)]
        ranges[name] = float(np.percentile(values, 95) - np.percentile(values, 5)) / 2 if len(values) > 1 else 0.0
        scales[name] = 1.0 if UNITS[name] else max(ranges[name], 1e-9)
        spreads[name] = (float(values.std()) if len(values) > 1 else 0.0) / scales[name]

    rejected = {"density": "how often sounds start is a matter of time, which the prior plays "
                           "(with its evolution setting); a slider sets how each moment sounds"}
    share = float(np.concatenate(pitched).mean()) if pitched else 0.0
    if share < MIN_PITCHED:
        rejected["pitch"] = (f"the recordings are hardly pitched ({100 * share:.0f} % of their sound has a clear "
                             f"pitch; {100 * MIN_PITCHED:.0f} % needed)")
    optimiser = None if vae.conditions else _Offsets(vae, analysis, spec, _windows(latents), spreads, scales)
    candidates = []
    for name in OPTIMISED:
        reach = min(ranges[name] / scales[name], MAX_REACH[name])
        if name in rejected:
            continue
        if vae.conditions:  # the decoder is told the quality: a control shifts what it is told
            if name not in CONDITIONS:
                rejected[name] = ("how sharply sounds start is a matter of time, which the prior plays; a slider "
                                  "sets how each moment sounds")
                continue
            reach = CONDITIONED_REACH[name]  # how far it really goes is measured on rendered probes
            candidates.append(Candidate(name, UNITS[name], [a * reach for a in ANCHORS],
                                        np.zeros((0, len(analysis.scales))), CONDITIONS.index(name), scales[name]))
            continue
        if reach < MIN_REACH[name]:
            unit = f" {UNITS[name]}" if UNITS[name] else ""
            rejected[name] = f"the recordings hardly differ in it (their middle 90 % span {2 * ranges[name]:.2g}{unit})"
            continue
        assert optimiser is not None
        anchors, offsets = optimiser.path(name, [a * reach for a in ANCHORS])
        if not anchors:
            rejected[name] = "no move of the model's latent space changed it in the asked direction"
            continue
        candidates.append(Candidate(name, UNITS[name], anchors, offsets))
    candidates += _characters(torch.cat([z.T for z in latents]).double().numpy(),
                              [c.offsets[-1] for c in candidates if len(c.offsets)])
    return Found(candidates, rejected, scales, spreads)


def _windows(latents: list[torch.Tensor]) -> torch.Tensor:
    """WINDOWS windows of WINDOW latent frames [WINDOWS, latent_dim, WINDOW], spread evenly over the
    corpus (shorter recordings are looped)."""
    import torch

    starts = [(i, t) for i, z in enumerate(latents) for t in range(0, max(1, z.shape[-1] - WINDOW + 1), WINDOW // 2)]
    picks = [starts[round(k * (len(starts) - 1) / max(1, WINDOWS - 1))] for k in range(min(WINDOWS, len(starts)))]
    out = []
    for i, t in picks:
        z = latents[i]
        z = z.repeat(1, -(-WINDOW // z.shape[-1])) if z.shape[-1] < WINDOW else z
        out.append(z[:, t : t + WINDOW])
    return torch.stack(out)


class _Offsets:
    """The optimisation of one anchor's offset at a time (in whitened coordinates)."""

    def __init__(self, vae: MelVAE, analysis: SliderAnalysis, spec: MelSpec, windows: torch.Tensor,
                 spreads: dict[str, float], scales: dict[str, float]) -> None:
        import torch

        self.vae, self.analysis, self.spec, self.windows = vae, analysis, spec, windows
        self.spreads = {n: max(spreads[n] * scales[n], 1e-6) for n in OPTIMISED}  # in the qualities' own units
        self.scales = scales
        with torch.no_grad():
            self.base_mel = vae.decode(windows)
            self.base = mel_qualities(self.base_mel, spec)
        loudness = self.base["loudness"]
        self.audible = (loudness > loudness.amax(dim=-1, keepdim=True) - AUDIBLE_DB).double()

    def offset(self, whitened: torch.Tensor) -> torch.Tensor:
        return self.analysis.components.T.double() @ (whitened * self.analysis.scales.double())

    def path(self, name: str, targets: list[float]) -> tuple[list[float], np.ndarray]:
        """Anchors (the changes the offsets made on the corpus' windows, ascending) and their offsets
        [anchors, latent_dim]. Each target is optimised from the offset of the one nearer to 0 on its
        side; an offset that does not go further than that one is dropped (the decoder's limit)."""
        import torch

        found: dict[float, tuple[float, torch.Tensor]] = {}  # target -> (achieved, whitened offset)
        for target in sorted(targets, key=abs):
            nearer = [t for t in found if t * target > 0]
            start = torch.zeros(len(self.analysis.scales), dtype=torch.float64)
            if nearer:
                start = found[max(nearer, key=abs)][1] * target / max(nearer, key=abs)
            whitened, achieved = self._fit(name, target, start)
            if achieved * target > 0 and all(abs(achieved) > abs(found[t][0]) for t in nearer):
                found[target] = (achieved, whitened)
        anchors = sorted(found.values(), key=lambda item: item[0])
        return [round(a, 4) for a, _ in anchors], np.stack([self.offset(w).numpy() for _, w in anchors]) \
            if anchors else np.zeros((0, len(self.analysis.scales)))

    def _fit(self, name: str, target: float, start: torch.Tensor) -> tuple[torch.Tensor, float]:
        """The offset (whitened) that comes nearest to changing `name` by `target` (control units), and
        the change it makes on the corpus' windows."""
        import torch

        whitened = start.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([whitened], lr=LEARNING_RATE)
        goal = target * self.scales[name]  # in the quality's own unit
        weight = self.audible / self.audible.sum()
        shifted = None
        if name == "pitch":
            shifted = transposed(self.base_mel.double(), band_centres(self.spec), goal).detach()
        for _ in range(STEPS):
            optimiser.zero_grad()
            mel = self.vae.decode(self.windows + self.offset(whitened).float()[None, :, None])
            qualities = mel_qualities(mel, self.spec)
            loss = SIZE_PENALTY * whitened.square().sum()
            for other in ("loudness", "brightness", "noisiness", "attack"):
                moved = qualities[other] - self.base[other]
                if other == name:  # the change asked, as a share of itself
                    loss = loss + (weight * (moved - goal).square()).sum() / goal**2
                else:  # what else changes, in the recordings' own spreads
                    loss = loss + (weight * moved.square()).sum() / self.spreads[other] ** 2
            if shifted is not None:  # a transposition: the shifted log-mels, in nats per band
                loss = loss + (weight[:, None, :] * (mel.double() - shifted).abs()).sum() / self.spec.n_mels
            loss.backward()
            optimiser.step()
        if name == "pitch":  # not measurable on log-mels: calibration measures it on rendered audio
            return whitened.detach(), target
        achieved = float((weight * (qualities[name].detach() - self.base[name])).sum()) / self.scales[name]
        return whitened.detach(), achieved


def _characters(x: np.ndarray, named: list[np.ndarray]) -> list[Candidate]:
    """The principal axes of the encoded corpus outside the named offsets' span, each scaled so that
    ±1 reaches the corpus' own 98th percentile along it."""
    centred = x - x.mean(axis=0)
    total = float((centred**2).sum())
    if named:
        basis, _ = np.linalg.qr(np.stack(named, axis=1))
        centred = centred - centred @ basis @ basis.T
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    out = []
    for k in range(min(MAX_CHARACTERS, len(axes))):
        if singular[k] ** 2 < MIN_EXPLAINED * total:
            break
        axis = axes[k] * (1 if axes[k][np.abs(axes[k]).argmax()] > 0 else -1)  # a fixed sign, not the solver's
        reach = float(np.percentile(np.abs(centred @ axis), 98))
        out.append(Candidate(f"character {k + 1}", "", [-1.0, 1.0], np.stack([-axis * reach, axis * reach])))
    return out
