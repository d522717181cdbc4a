"""Writing generated audio: resample to the export rate, set the level without ever clipping,
encode (WAV, FLAC, OGG, MP3), tag, and write atomically with a JSON sidecar.

Audio arrives as a stream of chunks. Pass one resamples them (soxr, streaming) into a float32
scratch file in the temp folder while measuring the peak; pass two applies the gain and encodes.
Memory therefore stays flat from 0.1 s to 10 minutes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .atomic import atomic_output, replace, scratch_file
from .errors import DistillError

if TYPE_CHECKING:
    import numpy as np

FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}
SUBTYPES = {
    ("wav", "16"): "PCM_16", ("wav", "24"): "PCM_24", ("wav", "32f"): "FLOAT",
    ("flac", "16"): "PCM_16", ("flac", "24"): "PCM_24",
    ("ogg", None): "VORBIS", ("mp3", None): "MPEG_LAYER_III",
}
DEPTHS = ("16", "24", "32f")
DEFAULT_DEPTH = {"wav": "24", "flac": "24"}
NORMALIZE = ("peak", "lufs", "none")
CEILING_DBFS = -1.0  # nothing leaves distill louder than this: lossy encoders and resamplers overshoot
BLOCK = 1 << 16


@attrs.frozen
class ExportSettings:
    sample_rate: int = 48000
    format: str = "wav"
    bit_depth: str | None = None  # "16" | "24" | "32f" for WAV, "16" | "24" for FLAC, None otherwise
    normalize: str = "peak"  # peak: to -1 dBFS; lufs: to `lufs` integrated loudness; none: as rendered
    lufs: float = -14.0

    def __attrs_post_init__(self) -> None:
        import soundfile

        if self.format not in FORMATS:
            raise DistillError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if FORMATS[self.format] not in soundfile.available_formats():
            raise DistillError(f"this machine's libsndfile cannot write {self.format}; choose wav, flac or ogg")
        if (self.format, self.bit_depth) not in SUBTYPES:
            depths = sorted(d for f, d in SUBTYPES if f == self.format and d)
            raise DistillError(f"--bit-depth {self.bit_depth} does not apply to {self.format}"
                               + (f" (choose {', '.join(depths)})" if depths else " (it has no bit depth)"))
        if not 8000 <= self.sample_rate <= 192000:
            raise DistillError(f"--sample-rate must be between 8000 and 192000 Hz, got {self.sample_rate}")
        if self.format in ("ogg", "mp3") and self.sample_rate > 48000:
            raise DistillError(f"{self.format} cannot hold {self.sample_rate} Hz audio; use 48000 or less")
        if self.normalize not in NORMALIZE:
            raise DistillError(f"--normalize must be one of {', '.join(NORMALIZE)}")

    @classmethod
    def create(cls, fmt: str = "wav", bit_depth: str | None = None, **kwargs: Any) -> ExportSettings:
        return cls(format=fmt, bit_depth=bit_depth or DEFAULT_DEPTH.get(fmt), **kwargs)

    @property
    def extension(self) -> str:
        return self.format

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def write_audio(
    chunks: Iterable[np.ndarray], source_rate: int, seconds: float, path: Path, export: ExportSettings,
    tags: dict[str, str] | None = None, publish: Callable[[Path, Path], Path] = replace,
) -> dict[str, Any]:
    """Write exactly round(seconds * export rate) samples to `path` atomically (`publish` puts the
    finished file in place: see distill.atomic); returns level facts."""
    import numpy as np
    import soundfile
    import soxr

    total = round(seconds * export.sample_rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    with scratch_file(".f32", 4 * total) as raw, atomic_output(path, 4 * total, publish) as encoded:
        written, peak = 0, 0.0
        resampler = None if source_rate == export.sample_rate else soxr.ResampleStream(
            source_rate, export.sample_rate, 1, dtype="float32", quality="HQ")
        with open(raw, "wb") as handle:

            def put(block: np.ndarray) -> None:
                nonlocal written, peak
                block = block[: total - written]
                if len(block):
                    peak = max(peak, float(np.abs(block).max()))
                    block.astype(np.float32).tofile(handle)
                    written += len(block)

            for chunk in chunks:
                put(chunk if resampler is None else resampler.resample_chunk(chunk.astype(np.float32)))
            if resampler is not None:
                put(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
            put(np.zeros(total - written, dtype=np.float32))  # exact length, whatever the resampler left
        audio = np.memmap(raw, dtype=np.float32, mode="r", shape=(total,)) if total else np.zeros(0, np.float32)

        ceiling = 10 ** (CEILING_DBFS / 20)
        gain, loudness = 1.0, None
        if export.normalize == "peak" and peak > 0:
            gain = ceiling / peak
        elif export.normalize == "lufs" and peak > 0:
            import pyloudnorm

            try:
                loudness = pyloudnorm.Meter(export.sample_rate).integrated_loudness(np.asarray(audio))
            except ValueError:  # shorter than one 400 ms gating block
                loudness = -math.inf
            if math.isfinite(loudness):
                gain = 10 ** ((export.lufs - loudness) / 20)
            if peak * gain > ceiling:
                warnings.append(f"reaching {export.lufs:g} LUFS would clip; the level was limited to "
                                f"{CEILING_DBFS:g} dBFS peak instead")
                gain = ceiling / peak
        elif peak * gain > ceiling:
            warnings.append(f"the rendered audio peaks at {20 * math.log10(peak):.1f} dBFS; it was turned "
                            f"down to {CEILING_DBFS:g} dBFS so it cannot clip")
            gain = ceiling / peak

        subtype = SUBTYPES[(export.format, export.bit_depth)]
        with soundfile.SoundFile(encoded, "w", export.sample_rate, 1, subtype, format=FORMATS[export.format]) as out:
            for key, value in (tags or {}).items():
                with contextlib.suppress(RuntimeError):  # not every format holds every tag
                    setattr(out, key, value)
            for start in range(0, total, BLOCK):
                out.write((np.asarray(audio[start : start + BLOCK], dtype=np.float64) * gain).astype(np.float32))
        del audio
    return {
        "samples": total,
        "peak_dbfs": round(20 * math.log10(peak * gain), 2) if peak > 0 else None,
        "gain_db": round(20 * math.log10(gain), 2),
        "loudness_lufs": round(loudness, 2) if loudness is not None and math.isfinite(loudness) else None,
        "warnings": warnings,
    }
