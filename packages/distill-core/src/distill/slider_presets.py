"""Named slider settings saved beside a model in the library (`<name>.presets.json`), written atomically.

An entry holds {"controls": {...}} (named controls, sliders.Control) or, saved before them,
{"sliders": {...}} (the old sliders, which such presets keep naming, so they replay as they did)."""

from __future__ import annotations

import math
from typing import Any

import attrs

from .atomic import write_json
from .errors import DistillError, Fix
from .files import read_json
from .library import presets_path
from .names import check_name


@attrs.frozen
class Preset:
    controls: dict[str, float]
    legacy: dict[str, float]  # old sliders (presets saved before named controls)

    @property
    def values(self) -> dict[str, float]:
        return {**self.legacy, **self.controls}


def _entries(model_name: str) -> dict[str, Preset]:
    path = presets_path(model_name)
    if not path.exists():
        return {}
    data: Any = read_json(path, "presets file")
    try:
        return {str(name): Preset(_values(entry.get("controls", {})), _values(entry.get("sliders", {})))
                for name, entry in data.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DistillError(f"presets file {path} is corrupt ({exc}); fix or delete it") from exc


def _values(values: Any) -> dict[str, float]:
    return {str(k): _number(v) for k, v in values.items()}


def load_presets(model_name: str) -> dict[str, dict[str, float]]:
    """Each preset's slider values by name."""
    return {name: preset.values for name, preset in _entries(model_name).items()}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)


def get_preset(model_name: str, preset: str) -> Preset:
    presets = _entries(model_name)
    if preset not in presets:
        known = ", ".join(sorted(presets)) or "none yet"
        raise DistillError(f"model {model_name!r} has no preset {preset!r}; its presets: {known}",
                           None if presets else Fix("save-preset"))
    return presets[preset]


def save_preset(model_name: str, preset: str, sliders: dict[str, float], legacy: bool = False) -> None:
    """Store `sliders` as `preset`: named controls, or the old sliders of a model without controls."""
    check_name(preset, "preset")
    presets = _entries(model_name)
    presets[preset] = Preset({}, dict(sliders)) if legacy else Preset(dict(sliders), {})
    _write(model_name, presets)


def delete_preset(model_name: str, preset: str) -> None:
    presets = _entries(model_name)
    get_preset(model_name, preset)
    del presets[preset]
    _write(model_name, presets)


def _write(model_name: str, presets: dict[str, Preset]) -> None:
    entries = {name: ({"controls": p.controls} if p.controls or not p.legacy else {}) | (
        {"sliders": p.legacy} if p.legacy else {}) for name, p in sorted(presets.items())}
    write_json(presets_path(model_name), entries)
