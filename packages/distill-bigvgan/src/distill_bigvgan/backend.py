"""The `bigvgan` vocoder backend: BigVGAN-v2 44 kHz, 128 bands, hop 512 — distill's own mel recipe."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from distill.plugin import DISTILL_MEL, DistillError, DownloadProgress, Fix, VocoderBase, VocoderState

from . import weights

if TYPE_CHECKING:
    import torch

    from .generator import Generator

# Built generators, one per (weight files, device, precision): a process builds the 122 M-parameter
# model once, however many times it is asked for.
_built: dict[tuple[Any, ...], Generator] = {}


class BigVGAN(VocoderBase):
    device: str
    name = "bigvgan"
    kind = "universal"
    mel_spec = DISTILL_MEL
    priority = 100  # the best universal vocoder distill knows; per-model state still ranks first
    description = "NVIDIA BigVGAN-v2 44 kHz 128-band 512x (universal; weights from the Hugging Face Hub)"
    # Long clips render in windows (memory stays flat). A mel frame reaches at most 16.4 frames of output
    # either side (measured: tests/test_bigvgan_backend.py::test_overlap_covers_the_receptive_field), so
    # windows overlap by 2 × 17 frames plus a short crossfade between the two stretches where both windows
    # see full context: the joins then equal a single pass.
    window_frames: ClassVar[int] = 512
    overlap_frames: ClassVar[int] = 42
    crossfade_frames: ClassVar[int | None] = 8

    def __init__(self, generator: Generator, device: str, precision: str) -> None:
        super().__init__(device)
        self.generator = generator
        self.precision = precision

    @classmethod
    def weights_present(cls) -> bool:
        return weights.is_cached()

    @classmethod
    def download(cls, progress: DownloadProgress | None = None) -> None:
        weights.download(progress)

    @classmethod
    def load(cls, state: VocoderState | None = None, device: str = "cpu") -> BigVGAN:
        from distill.plugin import resolve_device

        from .precision import choose_precision

        if state is not None:
            raise DistillError("bigvgan is a universal vocoder: it has no per-model state to load")
        resolved, note = resolve_device(device)
        if note:
            print(f"distill-bigvgan: {note}", file=sys.stderr)
        precision = choose_precision(resolved)
        return cls(build_generator(resolved, precision), resolved, precision)

    def to(self, device: str) -> BigVGAN:
        """Render on another device (the generator for it is built once, like the first)."""
        from distill.plugin import resolve_device

        resolved, note = resolve_device(device)
        if note:
            print(f"distill-bigvgan: {note}", file=sys.stderr)
        if resolved != self.device:
            self.generator = build_generator(resolved, self.precision)
            self.device = resolved
        return self

    def render(self, mel: torch.Tensor) -> torch.Tensor:
        import torch

        with torch.inference_mode():
            audio = self.generator(mel.to(self.device, torch.float32))
        return audio[:, 0].float()


def build_generator(device: str, precision: str) -> Generator:
    """The generator for the pinned weights on `device`, built once per process."""
    files = weights.locate()
    key = (str(files.config), str(files.checkpoint), _identity(files), device, precision)
    if key not in _built:
        _built.clear()  # a replaced weight file or another device: free the old model first
        _built[key] = _read_generator(files, device, precision)
    return _built[key]


def _identity(files: weights.WeightFiles) -> tuple[int, ...]:
    stats = [files.config.stat(), files.checkpoint.stat()]
    return tuple(x for s in stats for x in (s.st_size, s.st_mtime_ns))


def _read_generator(files: weights.WeightFiles, device: str, precision: str) -> Generator:
    import torch

    from .checkpoint import CorruptCheckpoint, fold_weight_norm, read_checkpoint
    from .config import GeneratorConfig, check_distill_recipe
    from .generator import Generator

    try:
        data = json.loads(files.config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        data = _refetched(files, weights.CONFIG_FILE, f"{files.config} is not readable JSON ({exc})")
    config = GeneratorConfig.from_json(data, str(files.config))
    check_distill_recipe(data, config, str(files.config))
    try:
        state = read_checkpoint(files.checkpoint)
    except CorruptCheckpoint as exc:
        _refetched(files, weights.CHECKPOINT_FILE, str(exc))
        state = read_checkpoint(files.checkpoint)
    generator = Generator.from_weights(config, fold_weight_norm(state, str(files.checkpoint)), str(files.checkpoint))
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    return generator.prepare(dtypes[precision], device)


def _refetched(files: weights.WeightFiles, name: str, problem: str) -> Any:
    """Download a damaged cached file again (hand-copied files are the user's to replace)."""
    if not files.from_cache:
        raise DistillError(f"{problem} (a hand-copied file)", Fix("weights-folder", "bigvgan"))
    print(f"distill-bigvgan: {problem}; downloading it again", file=sys.stderr)
    try:
        weights.download(refetch=(name,))
    except DistillError as exc:
        raise DistillError(f"{problem}, and it could not be downloaded again: {exc.message}", exc.fix) from None
    if name == weights.CONFIG_FILE:
        try:
            return json.loads(files.config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DistillError(f"{files.config} is still not readable JSON after a fresh download ({exc})") from None
    return None
