"""distill-hifigan: a per-model HiFi-GAN V2 trained on a model's own recordings and bundled into it.

Hooks only here (no torch at import: `distill --help` imports this module).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from distill.hookspecs import hookimpl

try:
    __version__ = version("distill-hifigan")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"


@hookimpl
def register_vocoders(register: Callable[[Any], None]) -> None:
    from .backend import HiFiGAN

    register(HiFiGAN)
