"""The model library as the faces show it: what a model file says (its header, sliders and
presets), without loading its tensors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class ModelInfo:
    """A library model's file and its header (structure checked; with `verify`, its tensor data too)."""

    path: Path
    header: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.header["name"])

    def sliders(self) -> list[dict[str, Any]]:
        """Its well-formed sliders, in order: named controls (name, unit, low, high, default, and what
        they were measured to do as "info"), else the old sliders (name, low, high, default)."""
        from ..sliders import header_sliders

        return header_sliders(self.header)

    def not_offered(self) -> list[tuple[str, str]]:
        """Why each quality is not a slider: ("no pitch slider", "…") pairs."""
        from ..sliders import not_offered

        return not_offered((self.header.get("sliders") or {}).get("rejected") or {})

    def presets(self) -> dict[str, dict[str, float]]:
        """Its presets' slider values, by preset name."""
        from ..slider_presets import load_presets

        return load_presets(self.name)


def model_info(model: str | os.PathLike[str], verify: bool = False) -> ModelInfo:
    """What the model file a library name, id prefix or path names says (`verify`: its tensor data
    checked against the hash stored at saving, too)."""
    from ..library import resolve_model
    from ..modelfile import read_header, verify_model_file

    path = resolve_model(str(model))
    return ModelInfo(path, verify_model_file(path) if verify else read_header(path))
