"""The number format the convolutions multiply in: fp32 unless asked otherwise.

bf16 (convolution weights and products in bf16; the signal, activations and residual sums in fp32)
is opt-in, with DISTILL_BIGVGAN_PRECISION=bf16. Measured (README, "BigVGAN"): on music-like input its
output is only ~18 dB SNR away from fp32's (random weights: the published model's own figure could
not be measured here), short of the 30 dB that would make it a safe default; and on CPUs without AMX
tiles (like the development machine, whose hypervisor hides AMX) oneDNN's bf16 convolutions are
slower than fp32 anyway. It can pay on CUDA GPUs and AMX CPUs, where bf16 matrix throughput is higher.
"""

from __future__ import annotations

import os
import sys

from distill.errors import DistillError

PRECISION_ENV = "DISTILL_BIGVGAN_PRECISION"
CHOICES = ("auto", "fp32", "bf16")


def choose_precision(device: str) -> str:
    """"fp32" or "bf16" for `device` (a resolved torch device name)."""
    requested = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if requested not in CHOICES:
        raise DistillError(f"{PRECISION_ENV}={requested!r}: choose one of {', '.join(CHOICES)}")
    if requested == "bf16" and device.startswith("mps"):
        print("distill-bigvgan: bf16 is not used on Apple MPS; rendering in fp32", file=sys.stderr)
        return "fp32"
    return "bf16" if requested == "bf16" else "fp32"
