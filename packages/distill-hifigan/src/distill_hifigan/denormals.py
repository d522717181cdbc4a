"""Flush-to-zero on every CPU thread: HiFi-GAN's small initial weights drive activations, gradients
and optimiser states into subnormal floats, which x86 CPUs process up to ~100x slower. Measured here:
an adversarial training step took 4-21 s instead of 0.35 s a few steps in (tests/bench/bench_hifigan.py).

`torch.set_flush_denormal` only sets the calling thread's mode, and OpenMP's worker threads copy
their mode from the thread that starts them, once. So the pool is released (OpenMP 5's
`omp_pause_resource_all`) after each change: the next parallel region starts workers that copy it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

import torch

OMP_PAUSE_HARD = 2


def _restart_openmp_workers() -> bool:
    """Release OpenMP's idle worker threads (best effort: False where the runtime lacks the call)."""
    bundled = os.path.join(os.path.dirname(torch.__file__), "lib", "libgomp.so.1")
    for name in (bundled, "libgomp.so.1", "libomp.dylib", "libomp.so"):
        try:
            pause = ctypes.CDLL(name).omp_pause_resource_all  # already loaded by torch: nothing new is loaded
        except (OSError, AttributeError):
            continue
        return int(pause(OMP_PAUSE_HARD)) == 0
    return False


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Treat subnormal floats as zero on every thread inside the block, then restore the default."""
    if not torch.set_flush_denormal(True):
        yield  # this CPU cannot: nothing to do
        return
    _restart_openmp_workers()
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        _restart_openmp_workers()
