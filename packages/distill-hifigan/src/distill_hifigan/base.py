"""The pretrained base generator shipped in the package: where it lies, how it is written and read.

The file is safetensors (no code runs on load) holding float16 weights, with the generator's config
and its provenance (corpus recipe, steps, losses, date) as JSON in the metadata. It is rebuilt by
packages/distill-hifigan/pretrain/pretrain.py.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distill.plugin import DistillError

from .frame_config import FrameGeneratorConfig

if TYPE_CHECKING:
    import torch

    from .frame_generator import FrameGenerator

BASE_WEIGHTS = Path(__file__).resolve().parent / "data" / "base.safetensors"


def save_base(generator: FrameGenerator, provenance: dict[str, Any], path: Path = BASE_WEIGHTS) -> None:
    """Write the generator's weights as float16, atomically, with its config and provenance."""
    import torch
    from distill.plugin import atomic_output
    from safetensors.torch import save_file

    weights = {key: value.detach().cpu().to(torch.float16).contiguous()
               for key, value in generator.state_dict().items()}
    if any(not torch.isfinite(value).all() for value in weights.values()):
        raise DistillError("the generator's weights do not fit float16 (or are not finite): nothing written")
    metadata = {"format": "distill-hifigan-base", "config": json.dumps(generator.config.to_dict()),
                "provenance": json.dumps(provenance)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temp:
        save_file(weights, str(temp), metadata=metadata)


def base_present() -> bool:
    return BASE_WEIGHTS.is_file()


@cache
def load_base() -> tuple[FrameGeneratorConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """The shipped base: its config, float32 weights and provenance."""
    from safetensors import safe_open

    if not BASE_WEIGHTS.is_file():
        raise DistillError(f"the pretrained base vocoder is missing from the installed package ({BASE_WEIGHTS}): "
                           "reinstall distill-hifigan")
    try:
        with safe_open(str(BASE_WEIGHTS), framework="pt") as handle:
            metadata = handle.metadata() or {}
            weights = {key: handle.get_tensor(key).float() for key in handle.keys()}  # noqa: SIM118
        config = FrameGeneratorConfig.from_dict(json.loads(metadata["config"]))
        provenance = json.loads(metadata.get("provenance", "{}"))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DistillError(f"the pretrained base vocoder {BASE_WEIGHTS} is damaged ({exc}): reinstall "
                           "distill-hifigan") from None
    return config, weights, provenance
