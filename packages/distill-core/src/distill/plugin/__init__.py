"""The plugin surface. This facade is everything a vocoder plugin may import from distill-core, and
nothing else: distill-bigvgan, distill-hifigan and the example plugins use only it (a test holds them
to it), so a third party that copies them depends on a surface that is kept stable. Importing it is
light (no torch).

The package: hookspecs.py (the hooks a plugin implements), contract.py (what a vocoder backend is),
host.py (finding, loading and isolating plugins). See docs/plugins.md for the hooks and the contract
of each name.
"""

from __future__ import annotations

from ..atomic import atomic_output
from ..audio import read_audio
from ..checkpoint import load_checkpoint, save_checkpoint
from ..devices import resolve_device
from ..errors import DistillError, Fix, Hint
from ..files import sha256_file
from ..griffinlim import fast_griffin_lim, griffin_lim
from ..melspec import DISTILL_MEL, MelSpec
from ..mrstft import multi_resolution_stft
from ..progress import DownloadProgress, Interrupted, StepProgress
from ..threads import fit_threads
from .contract import (
    MelReader,
    ProgressCallback,
    TrainableVocoder,
    VocoderBase,
    VocoderKind,
    VocoderState,
    VocoderTrainingInterrupted,
    VocoderTrainingRun,
)
from .hookspecs import hookimpl

__all__ = [
    "DISTILL_MEL",
    "DistillError",
    "DownloadProgress",
    "Fix",
    "Hint",
    "Interrupted",
    "MelReader",
    "MelSpec",
    "ProgressCallback",
    "StepProgress",
    "TrainableVocoder",
    "VocoderBase",
    "VocoderKind",
    "VocoderState",
    "VocoderTrainingInterrupted",
    "VocoderTrainingRun",
    "atomic_output",
    "fast_griffin_lim",
    "fit_threads",
    "griffin_lim",
    "hookimpl",
    "load_checkpoint",
    "multi_resolution_stft",
    "read_audio",
    "resolve_device",
    "save_checkpoint",
    "sha256_file",
]
