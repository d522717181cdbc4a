"""distill-hifigan: a pretrained base vocoder for every model (`hifigan-base`), and per-model vocoders
fine-tuned from it on a model's own recordings and bundled into it (`hifigan`).

Hooks only here (no torch at import: `distill --help` imports this module).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from distill.plugin import hookimpl

try:
    __version__ = version("distill-hifigan")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"


@hookimpl
def register_vocoders(register: Callable[[Any], None]) -> None:
    from .backend import FineTunedVocoder, PretrainedBase

    register(FineTunedVocoder)
    register(PretrainedBase)
