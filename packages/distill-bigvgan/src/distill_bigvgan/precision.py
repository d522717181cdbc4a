"""The number format the convolutions multiply in: fp32 unless asked otherwise.

bf16 and fp16 (convolution weights and products in that format; the signal, activations and residual
sums in fp32) are opt-in, with DISTILL_BIGVGAN_PRECISION. Measured (README, "BigVGAN") on music-like
input, with random weights (the published model's own figures could not be measured here): bf16's
output is ~19 dB SNR from fp32's, short of the 30 dB a safe default needs; fp16's 11-bit mantissa
keeps ~33 dB. On CPUs without AMX tiles (like the development machine, whose hypervisor hides AMX)
oneDNN's bf16 and fp16 convolutions are slower than fp32, so neither is a default there. They can pay
on GPUs, where 16-bit matrix throughput is higher.
"""

from __future__ import annotations

import os
import sys

from distill.plugin import DistillError

PRECISION_ENV = "DISTILL_BIGVGAN_PRECISION"
CHOICES = ("auto", "fp32", "bf16", "fp16")


def choose_precision(device: str) -> str:
    """"fp32", "bf16" or "fp16" for `device` (a resolved torch device name)."""
    requested = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if requested not in CHOICES:
        raise DistillError(f"{PRECISION_ENV}={requested!r}: choose one of {', '.join(CHOICES)}")
    if requested == "bf16" and device.startswith("mps"):
        print("distill-bigvgan: bf16 is not used on Apple MPS; rendering in fp32", file=sys.stderr)
        return "fp32"
    return "fp32" if requested == "auto" else requested
