"""distill: turn a small audio collection into a generative instrument.

The Python API (docs/api.md) is importable from here, and it is the only door the CLI and the web UI
use (tests/test_import_rules.py). Importing `distill` stays light (no torch, no numpy) until a
function that needs them runs. Vocoder plugins import from `distill.plugin`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("distill-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from .api import (
    Clip,
    Generated,
    ModelInfo,
    PresetEstimate,
    Sidecar,
    TrainedModel,
    TrainedVocoder,
    TrainingEstimate,
    VocoderChoices,
    VocoderInfo,
    analyze,
    check_sound,
    clip_log_mel,
    compare_vocoders,
    download_vocoder,
    generate,
    load,
    model_info,
    plugin_commands,
    plugin_status,
    replay,
    save_preset,
    save_slider_preset,
    train,
    train_vocoder,
    training_estimates,
    vocoder_choices,
    vocoder_list,
)
from .devices import DEVICES
from .errors import DistillError, Fix, Hint
from .export import DEPTHS, FORMATS, NORMALIZE, ExportSettings
from .humanize import size as human_size
from .library import (
    delete_model,
    export_model,
    import_model,
    library_root,
    library_state,
    list_models,
    model_files,
    rename_model,
    resolve_model,
)
from .melspec import DISTILL_MEL, MelSpec
from .modelfile import read_header, verify_model_file
from .names import safe_stem
from .plugin.contract import TrainableVocoder, VocoderBase, VocoderState
from .plugin.host import installed_vocoders
from .progress import Interrupted, Progress
from .slider_presets import delete_preset, get_preset, load_presets
from .takes import Take, Takes
from .train_settings import PRESETS as TRAIN_PRESETS
from .uploads import MAX_FILE_BYTES as MAX_UPLOAD_BYTES
from .uploads import add_recordings

__all__ = [
    "DEPTHS",
    "DEVICES",
    "DISTILL_MEL",
    "FORMATS",
    "MAX_UPLOAD_BYTES",
    "NORMALIZE",
    "TRAIN_PRESETS",
    "Clip",
    "DistillError",
    "ExportSettings",
    "Fix",
    "Generated",
    "Hint",
    "Interrupted",
    "MelSpec",
    "ModelInfo",
    "PresetEstimate",
    "Progress",
    "Sidecar",
    "Take",
    "Takes",
    "TrainableVocoder",
    "TrainedModel",
    "TrainedVocoder",
    "TrainingEstimate",
    "VocoderBase",
    "VocoderChoices",
    "VocoderInfo",
    "VocoderState",
    "__version__",
    "add_recordings",
    "analyze",
    "check_sound",
    "clip_log_mel",
    "compare_vocoders",
    "delete_model",
    "delete_preset",
    "download_vocoder",
    "export_model",
    "generate",
    "get_preset",
    "human_size",
    "import_model",
    "installed_vocoders",
    "library_root",
    "library_state",
    "list_models",
    "load",
    "load_presets",
    "model_files",
    "model_info",
    "plugin_commands",
    "plugin_status",
    "read_header",
    "rename_model",
    "replay",
    "resolve_model",
    "safe_stem",
    "save_preset",
    "save_slider_preset",
    "train",
    "train_vocoder",
    "training_estimates",
    "verify_model_file",
    "vocoder_choices",
    "vocoder_list",
]
