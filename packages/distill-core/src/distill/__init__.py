"""distill: turn a small audio collection into a generative instrument."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("distill-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# The public API for plugins and library users. These imports are light (no torch, no numpy).
from .errors import DistillError
from .melspec import DISTILL_MEL, MelSpec
from .vocoder import TrainableVocoder, VocoderBase, VocoderState

__all__ = [
    "DISTILL_MEL",
    "DistillError",
    "MelSpec",
    "TrainableVocoder",
    "VocoderBase",
    "VocoderState",
    "__version__",
]
