"""Choosing the vocoder for a model: rank what is installed against what the model carries.

Ranks, best first: (1) a backend whose trained state is bundled in the model; (2) a universal
backend whose mel recipe equals the model's; (3) a universal backend that needs a mel conversion.
Within a rank a backend whose weights are here beats one that must download, then the declared
priority wins, then the name (so the choice is stable).

A bundled state is used only where it measured better than the best usable universal backend beyond
the measurement's noise, and not worse in tonal artefacts; its stored figures (from `train-vocoder` or
`vocoders compare --save`, on the model's held-out recordings) decide, and the reason says how:

- ViSQOL is compared segment by segment (SEGMENT_SECONDS of held-out audio each, at least
  MIN_SEGMENTS of them): the bundled state must win on average by more than MIN_MARGIN and by more
  than NOISE_Z standard errors of the paired differences. Two seeds of one renderer differ by
  0.007-0.02, and a 69-step fine-tune once won 4.64 to 4.63 on two files while it put a steady line
  into every clip;
- it must not add more than TONAL_MARGIN_DB of steady lines or ripple (audio_metrics.tonal_artefacts)
  beyond what the universal backend adds.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import attrs

from ..errors import DistillError, Fix, Hint
from ..melspec import MelSpec
from ..plugin.contract import VocoderBase, VocoderState
from ..plugin.host import RegisteredVocoder, installed_vocoders

if TYPE_CHECKING:
    import torch

    from ..melconvert import MelConverter


class VocodableModel(Protocol):
    """What selection needs to know about a model."""

    @property
    def mel_spec(self) -> MelSpec: ...

    @property
    def vocoder_state(self) -> Mapping[str, VocoderState]: ...


# Which package provides a backend that a model may carry state for, to say what to install.
KNOWN_PACKAGES = {"hifigan": "distill[hifigan]", "bigvgan": "distill[bigvgan]"}

BUNDLED, SAME_RECIPE, CONVERTED = 1, 2, 3
# Held-out audio is scored in segments of this length (vocoders/compare.py) so that two vocoders can be
# compared segment by segment (2 s: the demo's two held-out recordings of 3 s give 3 segments).
SEGMENT_SECONDS = 2.0
MIN_SEGMENTS = 3
MIN_MARGIN = 0.05  # ViSQOL: a win smaller than this is not worth a bundled vocoder's risks
NOISE_Z = 2.0  # standard errors of the mean paired difference a win must exceed
TONAL_MARGIN_DB = 6.0  # the measure's own spread is about 1-2 dB; the artefact that prompted it was +11 dB


@attrs.frozen
class VocoderChoice:
    backend: type[VocoderBase]
    reason: str
    hints: tuple[Hint, ...] = ()  # warnings for the user, each with the fix it names
    state: VocoderState | None = None
    needs_conversion: bool = False

    @property
    def warnings(self) -> tuple[str, ...]:
        """The warnings in the command line's words."""
        return tuple(hint.cli_message for hint in self.hints)


def _rank(candidate: RegisteredVocoder, model: VocodableModel) -> int | None:
    backend = candidate.backend
    if backend.name in model.vocoder_state:
        return BUNDLED
    if backend.kind != "universal":
        return None  # a per-model backend without state for this model cannot render it
    return SAME_RECIPE if backend.mel_spec == model.mel_spec else CONVERTED


def _choice(backend: type[VocoderBase], model: VocodableModel, reason: str, notes: list[Hint]) -> VocoderChoice:
    state = model.vocoder_state.get(backend.name)
    warnings = list(notes)
    if state is not None and (warning := backend.state_warning(state)):
        warnings.append(Hint.of(warning))
    convert = state is None and backend.mel_spec != model.mel_spec
    if convert:
        warnings.append(Hint(
            f"vocoder {backend.name!r} uses another mel recipe ({backend.mel_spec.describe()}); "
            f"distill converts the model's mels for it, which costs some quality"
        ))
    return VocoderChoice(backend, reason, tuple(warnings), state, convert)


def select_vocoder(
    model: VocodableModel,
    requested: str = "auto",
    installed: Mapping[str, RegisteredVocoder] | None = None,
) -> VocoderChoice:
    """The backend to render `model` with, a one-line reason, and warnings for the user."""
    installed = installed_vocoders() if installed is None else installed
    missing = [name for name in model.vocoder_state if name not in installed]
    notes = [
        Hint(f"this model carries a vocoder trained for it ({name!r}) but that backend is not installed: "
             f"install {KNOWN_PACKAGES.get(name, 'the plugin that provides ' + repr(name))} to use it")
        for name in missing
    ]

    if requested != "auto":
        if requested not in installed:
            listing = ", ".join(installed) or "none"
            raise DistillError(f"vocoder {requested!r} is not installed (installed: {listing})",
                               Fix("choose-vocoder"))
        backend = installed[requested].backend
        if _rank(installed[requested], model) is None:
            raise DistillError(f"vocoder {requested!r} is trained per model and this model has none",
                               Fix("train-vocoder", requested))
        return _choice(backend, model, f"{requested!r} was asked for by name (not auto)", notes)

    # Within a rank, a backend whose weights are on this machine beats one that would have to
    # download first: auto never fails while something usable is installed.
    ranked = sorted(
        ((rank, c.backend.weights_present() is False, -c.backend.priority, c.name, c)
         for c in installed.values() if (rank := _rank(c, model))),
        key=lambda item: item[:4],
    )
    if not ranked:
        found = ", ".join(installed) or "none installed"
        raise DistillError(f"no vocoder can render this model ({found})", Fix("install-vocoder"))
    rank, _, _, name, best = ranked[0]
    verdict = ""
    if rank == BUNDLED:
        best, verdict = _measured_choice([c for r, _, _, _, c in ranked if r == BUNDLED],
                                         [c for r, missing, _, _, c in ranked if r != BUNDLED and not missing],
                                         model, notes)
        rank, name = _rank(best, model) or BUNDLED, best.name
    notes += [
        Hint(f"vocoder {c.name!r} would be preferred but its weights are not on this machine", Fix("download", c.name))
        for r, missing, _, _, c in ranked
        if missing and (r, -c.backend.priority) < (rank, -best.backend.priority)
    ]
    reason = verdict or {
        BUNDLED: f"{name!r} was trained for this model and is bundled in it",
        SAME_RECIPE: f"{name!r} is a universal vocoder that uses this model's mel recipe",
        CONVERTED: f"{name!r} is the best installed vocoder, through a mel conversion",
    }[rank]
    return _choice(best.backend, model, reason, notes)


@attrs.frozen
class VocoderOption:
    """An installed backend that can render a model, and its state for it."""

    name: str
    status: str  # "bundled", "weights present", "not downloaded", "no download needed", "+ needs a mel conversion"
    description: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.status})"


def vocoder_options(model: VocodableModel, installed: Mapping[str, RegisteredVocoder] | None = None
                    ) -> list[VocoderOption]:
    """Every installed backend that can render `model`, best rank first, as `select_vocoder` ranks them."""
    installed = installed_vocoders() if installed is None else installed
    ranked = sorted((rank, c.name, c) for c in installed.values() if (rank := _rank(c, model)))
    options = []
    for rank, name, candidate in ranked:
        backend = candidate.backend
        if rank == BUNDLED:
            steps = model.vocoder_state[name].training.get("steps")
            status = f"bundled, {steps} steps" if isinstance(steps, int) else "bundled"
        else:
            status = {True: "weights present", False: "not downloaded", None: "no download needed"}[
                backend.weights_present()]
            status += ", needs a mel conversion" if rank == CONVERTED else ""
        options.append(VocoderOption(name, status, backend.description))
    return options


@attrs.frozen
class Figures:
    """One backend's stored figures on the held-out recordings (read only where it was measured: its row
    has a ViSQOL)."""

    segments: tuple[float, ...] | None  # None: measured before distill scored segments
    lines_db: float
    ripple_db: float

    @classmethod
    def read(cls, state: VocoderState, name: str) -> Figures | None:
        row = ((state.training.get("figures") or {}).get("rows") or {}).get(name) or {}
        visqol, segments = row.get("visqol"), row.get("visqol_segments")
        if not isinstance(visqol, int | float) or not all(isinstance(x, int | float) for x in segments or []):
            return None
        lines, ripple = (row.get(key) for key in ("lines_db", "ripple_db"))
        return cls(None if segments is None else tuple(float(x) for x in segments),
                   float(lines) if isinstance(lines, int | float) else 0.0,
                   float(ripple) if isinstance(ripple, int | float) else 0.0)


def verdict(own: Figures, rival: Figures, own_name: str, rival_name: str) -> tuple[bool, str]:
    """Whether a bundled state's figures beat the universal rival's beyond the noise and without more
    tonal artefacts, and why, in words."""
    assert own.segments is not None and rival.segments is not None
    if len(own.segments) != len(rival.segments) or len(own.segments) < MIN_SEGMENTS:
        return False, (f"the bundled {own_name!r} cannot be told apart from {rival_name!r}: too little held-out "
                       f"audio was measured ({len(own.segments)} segments of {SEGMENT_SECONDS:g} s; "
                       f"{MIN_SEGMENTS} are needed)")
    for what, ours, theirs in (("steady lines", own.lines_db, rival.lines_db),
                               ("spectral ripple", own.ripple_db, rival.ripple_db)):
        if ours - theirs > TONAL_MARGIN_DB:
            return False, (f"the bundled {own_name!r} adds {what} that {rival_name!r} does not: {ours:.1f} dB "
                           f"against the held-out recordings, vs {theirs:.1f} dB")
    differences = [a - b for a, b in zip(own.segments, rival.segments, strict=True)]
    n = len(differences)
    mean = sum(differences) / n
    error = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1) / n)
    needed = max(MIN_MARGIN, NOISE_Z * error)
    ours, theirs = sum(own.segments) / n, sum(rival.segments) / n
    if mean > needed:
        return True, (f"{own_name!r} (bundled) measured better than {rival_name!r}: ViSQOL {ours:.2f} vs "
                      f"{theirs:.2f}, {mean:+.2f} ± {error:.2f} over {n} held-out segments")
    return False, (f"the bundled {own_name!r} is not better than {rival_name!r} beyond the noise: ViSQOL "
                   f"{ours:.2f} vs {theirs:.2f} ± {error:.2f} over {n} held-out segments (it must win by "
                   f"more than {needed:.2f})")


def _measured_choice(bundled: list[RegisteredVocoder], universal: list[RegisteredVocoder], model: VocodableModel,
                     notes: list[Hint]) -> tuple[RegisteredVocoder, str]:
    """The first bundled backend whose stored figures beat the best usable universal one (`verdict`),
    else that universal one; and the reason, when figures decided."""
    if not universal:
        return bundled[0], ""
    rival = universal[0]
    remeasure = Fix("compare-save")
    reasons = []
    for candidate in bundled:
        state = model.vocoder_state[candidate.name]
        own, other = Figures.read(state, candidate.name), Figures.read(state, rival.name)
        if own is None or other is None:
            if own is not None:  # measured, but not against what is usable now
                notes.append(Hint(f"the bundled {candidate.name!r} was not measured against {rival.name!r}", remeasure))
            return candidate, ""
        if own.segments is not None and other.segments is not None:
            better, why = verdict(own, other, candidate.name, rival.name)
            if better:
                return candidate, why
        else:  # figures from before per-segment scores: they cannot show the noise
            why = f"the bundled {candidate.name!r} was measured before distill compared vocoders segment by segment"
        reasons.append(why)
        notes.append(Hint(f"{why}; {rival.name!r} is used. Train it further or re-measure it", remeasure))
    return rival, f"{rival.name!r} is used: {reasons[0]}"


# Built vocoders, reused for every clip of a process. One bundled in a model is kept only while its
# state object lives (keyed by the object itself, never by an id() that a later object could reuse).
_loaded: dict[tuple[str, str, MelSpec | None], VocoderBase] = {}
_loaded_from_state: weakref.WeakKeyDictionary[VocoderState, dict[tuple[str, str, MelSpec | None], VocoderBase]] = (
    weakref.WeakKeyDictionary())


def load_vocoder(choice: VocoderChoice, model_mel: MelSpec, device: str = "cpu") -> VocoderBase:
    """The ready instance for a choice, built once per process and reused for every clip."""
    cache = _loaded if choice.state is None else _loaded_from_state.setdefault(choice.state, {})
    key = (choice.backend.name, device, model_mel if choice.needs_conversion else None)
    if key not in cache:
        vocoder = choice.backend.load(choice.state, device=device)
        if choice.needs_conversion:
            vocoder = ConvertingVocoder(vocoder, model_mel)
        cache[key] = vocoder
    return cache[key]


class ConvertingVocoder(VocoderBase):
    """Renders mels of one recipe with a backend trained on another, through a `MelConverter`."""

    kind = "universal"

    def __init__(self, inner: VocoderBase, source: MelSpec) -> None:
        from ..melconvert import MelConverter

        super().__init__(inner.device)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.mel_spec = source  # type: ignore[misc]
        self.window_frames, self.overlap_frames = inner.window_frames, inner.overlap_frames  # type: ignore[misc]
        self.crossfade_frames = inner.crossfade_frames  # type: ignore[misc]
        self.converter: MelConverter = MelConverter(source, inner.mel_spec)

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    def render(self, mel: torch.Tensor) -> torch.Tensor:
        return self.inner.render(self.converter(mel))
