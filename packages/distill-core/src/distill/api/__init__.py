"""The Python API: everything `distill train`, `train-vocoder` and `generate` do, as functions that
return typed results, one module per workflow. The CLI, the web UI and the demo are faces of it.

Long operations take `progress` (called with `distill.progress.Progress` events: steps, losses,
ETA, and the messages the CLI prints) and `cancel` (a `threading.Event`; setting it stops cleanly and
raises `Interrupted`, after saving a checkpoint where there is training to keep).
"""

from .estimates import PresetEstimate, TrainingEstimate, training_estimates
from .generation import Clip, Generated, check_sound, clip_log_mel, generate, load, replay
from .library import ModelInfo, model_info
from .model_training import TrainedModel, train
from .plugins import plugin_commands, plugin_status
from .sidecar import Sidecar
from .sliders import analyze, save_preset
from .vocoder_training import TrainedVocoder, train_vocoder
from .vocoders import VocoderChoices, VocoderInfo, compare_vocoders, download_vocoder, vocoder_choices, vocoder_list

save_slider_preset = save_preset  # its name before the two preset savers were one

__all__ = [
    "Clip",
    "Generated",
    "ModelInfo",
    "PresetEstimate",
    "Sidecar",
    "TrainedModel",
    "TrainedVocoder",
    "TrainingEstimate",
    "VocoderChoices",
    "VocoderInfo",
    "analyze",
    "check_sound",
    "clip_log_mel",
    "compare_vocoders",
    "download_vocoder",
    "generate",
    "load",
    "model_info",
    "plugin_commands",
    "plugin_status",
    "replay",
    "save_preset",
    "save_slider_preset",
    "train",
    "train_vocoder",
    "training_estimates",
    "vocoder_choices",
    "vocoder_list",
]
