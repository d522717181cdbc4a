"""Reading the official `bigvgan_generator.pt` into our generator's weights.

The file is a pickled dict {"generator": state_dict} saved with the old `torch.nn.utils.weight_norm`,
so every convolution has `weight_g` / `weight_v`. We read it with `weights_only=True` (no code runs),
fold weight norm away (w = g · v / ‖v‖, norm over all but the first dim), check that the anti-alias
filter buffers are the filter we compute ourselves, and drop them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from distill.plugin import DistillError

from .filters import kaiser_sinc

if TYPE_CHECKING:
    import torch

FILTER_SUFFIXES = (".upsample.filter", ".downsample.lowpass.filter")


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The generator state dict of an official checkpoint file, as stored (weight norm not folded)."""
    import pickle

    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CorruptCheckpoint(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    state = data.get("generator") if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CorruptCheckpoint(f"{path} has no 'generator' state dict (is it a BigVGAN generator checkpoint?)")
    return state


class CorruptCheckpoint(DistillError):
    """The file cannot be read as a generator checkpoint (a partial or damaged download, or another file)."""


def fold_weight_norm(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Inference weights: `weight_g`/`weight_v` pairs folded into `weight`, filter buffers checked and removed.

    Entries are popped from `state` as they are folded, so the unfolded copy is released as we go."""
    import torch

    expected_filter = torch.from_numpy(kaiser_sinc().astype(np.float32))
    folded: dict[str, torch.Tensor] = {}
    for key in list(state):
        if key not in state:
            continue  # already consumed as the partner of a weight_g / weight_v
        if key.endswith(FILTER_SUFFIXES):
            found = state.pop(key).float().flatten()
            if found.shape != expected_filter.shape or not torch.allclose(found, expected_filter, atol=1e-6):
                raise DistillError(f"{source}: {key} is not BigVGAN's anti-alias filter (12-tap Kaiser sinc, "
                                   "cutoff 0.25); this checkpoint is not supported")
            continue
        if key.endswith((".weight_g", ".weight_v")):
            stem = key[: -len(".weight_g")]
            if f"{stem}.weight_g" not in state or f"{stem}.weight_v" not in state:
                raise DistillError(f"{source}: {key} has no matching weight_g/weight_v partner")
            g, v = state.pop(f"{stem}.weight_g").float(), state.pop(f"{stem}.weight_v").float()
            norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
            folded[f"{stem}.weight"] = v * (g / norm)
            continue
        folded[key] = state.pop(key).float()
    return folded
