"""Choosing a torch device: `auto` picks CUDA, then MPS, then CPU; an unavailable one falls back."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(requested: str = "auto") -> tuple[str, str | None]:
    """The device to use and, when it differs from the request, a message saying why."""
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return ("cuda" if cuda else "mps" if mps else "cpu"), None
    if requested == "cuda" and not cuda:
        return "cpu", "CUDA is not available on this machine; using the CPU"
    if requested == "mps" and not mps:
        return "cpu", "Apple MPS is not available on this machine; using the CPU"
    return requested, None
