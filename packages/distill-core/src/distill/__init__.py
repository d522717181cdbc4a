"""distill: turn a small audio collection into a generative instrument.

The Python API (docs/api.md) is importable from here; importing `distill` stays light (no torch,
no numpy) until a function that needs them runs. Vocoder plugins import from `distill.plugin`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("distill-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from .api import (
    Clip,
    Generated,
    TrainedModel,
    TrainedVocoder,
    VocoderChoices,
    analyze,
    compare_vocoders,
    download_vocoder,
    generate,
    load,
    replay,
    save_slider_preset,
    train,
    train_vocoder,
    vocoder_choices,
)
from .errors import DistillError
from .library import delete_model, export_model, import_model, list_models, rename_model, resolve_model
from .melspec import DISTILL_MEL, MelSpec
from .modelfile import read_header, verify_model_file
from .plugins import installed_vocoders
from .progress import Interrupted, Progress
from .slider_presets import delete_preset, get_preset, load_presets, save_preset
from .uploads import add_recordings
from .vocoders.contract import TrainableVocoder, VocoderBase, VocoderState

__all__ = [
    "DISTILL_MEL",
    "Clip",
    "DistillError",
    "ExportSettings",
    "Generated",
    "Interrupted",
    "MelSpec",
    "Progress",
    "TrainableVocoder",
    "TrainedModel",
    "TrainedVocoder",
    "VocoderBase",
    "VocoderChoices",
    "VocoderState",
    "__version__",
    "add_recordings",
    "analyze",
    "compare_vocoders",
    "delete_model",
    "delete_preset",
    "download_vocoder",
    "export_model",
    "generate",
    "get_preset",
    "import_model",
    "installed_vocoders",
    "list_models",
    "load",
    "load_presets",
    "read_header",
    "rename_model",
    "replay",
    "resolve_model",
    "save_preset",
    "save_slider_preset",
    "train",
    "train_vocoder",
    "verify_model_file",
    "vocoder_choices",
]


def __getattr__(name: str) -> object:
    """The names whose modules import numpy or torch load on first use."""
    if name == "ExportSettings":
        from .export import ExportSettings

        return ExportSettings
    raise AttributeError(f"module 'distill' has no attribute {name!r}")
