"""Named slider settings saved beside a model in the library (`<name>.presets.json`), written atomically."""

from __future__ import annotations

import math
from typing import Any

from .atomic import write_json
from .errors import DistillError
from .files import read_json
from .library import presets_path
from .names import check_name


def load_presets(model_name: str) -> dict[str, dict[str, float]]:
    path = presets_path(model_name)
    if not path.exists():
        return {}
    data: Any = read_json(path, "presets file")
    try:
        presets = {str(name): {str(k): _number(v) for k, v in entry["sliders"].items()} for name, entry in data.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DistillError(f"presets file {path} is corrupt ({exc}); fix or delete it") from exc
    return presets


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)


def get_preset(model_name: str, preset: str) -> dict[str, float]:
    presets = load_presets(model_name)
    if preset not in presets:
        known = ", ".join(sorted(presets)) or "none yet (distill preset save MODEL NAME --slider …)"
        raise DistillError(f"model {model_name!r} has no preset {preset!r}; its presets: {known}")
    return presets[preset]


def save_preset(model_name: str, preset: str, sliders: dict[str, float]) -> None:
    check_name(preset, "preset")
    presets = load_presets(model_name)
    presets[preset] = sliders
    write_json(presets_path(model_name), {name: {"sliders": values} for name, values in sorted(presets.items())})


def delete_preset(model_name: str, preset: str) -> None:
    presets = load_presets(model_name)
    get_preset(model_name, preset)
    del presets[preset]
    write_json(presets_path(model_name), {name: {"sliders": values} for name, values in sorted(presets.items())})
