"""distill-bigvgan: NVIDIA's BigVGAN-v2 universal vocoder (nvidia/bigvgan_v2_44khz_128band_512x) for distill.

This module only registers the backend: torch, huggingface_hub and the model load when they are used.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from distill.plugin import hookimpl

if TYPE_CHECKING:
    from distill.plugin import VocoderBase

try:
    __version__ = version("distill-bigvgan")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"


@hookimpl
def register_vocoders(register: Callable[[type[VocoderBase]], None]) -> None:
    from .backend import BigVGAN

    register(BigVGAN)


def is_bigvgan_cached() -> bool:
    """Whether the BigVGAN weights are on this machine (in the Hugging Face cache, or in the folder
    named by DISTILL_BIGVGAN_WEIGHTS), so rendering needs no download."""
    from .weights import is_cached

    return is_cached()


__all__ = ["__version__", "is_bigvgan_cached", "register_vocoders"]
