"""Reading audio: any file libsndfile decodes becomes float32 mono at one sample rate.

Files stream through in blocks, mixed to mono and resampled as they go, so an hour of 8-channel
192 kHz audio never needs its multichannel float copy in memory. Nothing here writes files.
numpy, soundfile and soxr are imported inside functions: the CLI must start without them.

Inside `decoded_once()`, decoded files are kept (up to CACHE_BYTES, the least recently read dropped
first), keyed by the hash of the file's bytes and the sample rate: `distill train-vocoder` reads a
corpus three times (the scan, the vocoder's training data, its held-out measurement) and decodes each
file once (hashing a file costs a small part of decoding and resampling it). Outside, nothing is kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from distill.errors import DistillError
from distill.files import kind_of, sha256_of

if TYPE_CHECKING:
    import numpy as np

TARGET_RATE = 44100
BLOCK_FRAMES = 2**18  # 8 MB per block for 8 float32 channels
CACHE_BYTES = 256 * 10**6  # about 24 minutes of decoded mono audio at 44.1 kHz

# libsndfile reads a file cut short without complaint, but its log notes the header's data size
# against what is really there, e.g. "data : 88200 (should be 44079)" (WAV), "SSND : ..." (AIFF),
# "Data Size : ..." (AU). A cut file is usually an interrupted copy or download.
_DATA_SIZE_NOTE = re.compile(r"^\s*(?:data|SSND|Data Size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_UNKNOWN_SIZES = (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)  # written by recorders that stream without seeking back


class AudioReadError(DistillError):
    """A file that does not yield usable samples; `detail` is the cause alone, without the path."""

    def __init__(self, path: Path, detail: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.detail = detail


class UnreadableAudio(AudioReadError):
    """libsndfile cannot open or decode the file, or the file is cut short."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            path, detail, f"cannot read {path}: {detail}. Check the file plays, or re-export it as WAV or FLAC."
        )


class NonFiniteAudio(AudioReadError):
    """A float file holding NaN or infinite samples."""

    def __init__(self, path: Path) -> None:
        detail = "contains NaN/inf samples"
        super().__init__(path, detail, f"{path} {detail}: re-export it from the program that made it.")


@attrs.frozen(eq=False)
class AudioFile:
    path: Path
    audio: np.ndarray  # float32, mono, at the requested sample rate
    source_rate: int
    channels: int
    source_frames: int  # frames actually decoded, at source_rate
    seconds: float  # of `audio`, after resampling


class _Decoded:
    """The decoded-file cache while `users` is above 0, and how many files were decoded (all told)."""

    def __init__(self) -> None:
        self.files: OrderedDict[tuple[object, ...], AudioFile] = OrderedDict()
        self.bytes = 0
        self.decodes = 0
        self.users = 0
        self.lock = threading.Lock()

    def get(self, key: tuple[object, ...], path: Path) -> AudioFile | None:
        with self.lock:
            found = self.files.get(key) if self.users else None
            if found is None:
                return None
            self.files.move_to_end(key)
        return attrs.evolve(found, path=path, audio=found.audio.copy())  # a caller may change its copy

    def put(self, key: tuple[object, ...], decoded: AudioFile) -> None:
        with self.lock:
            if not self.users or decoded.audio.nbytes > CACHE_BYTES or key in self.files:
                return
            self.files[key] = attrs.evolve(decoded, audio=decoded.audio.copy())
            self.bytes += decoded.audio.nbytes
            while self.bytes > CACHE_BYTES:
                self.bytes -= self.files.popitem(last=False)[1].audio.nbytes


DECODED = _Decoded()


@contextlib.contextmanager
def decoded_once() -> Iterator[None]:
    """Inside this block, a file read again (unchanged) is not decoded again."""
    with DECODED.lock:
        DECODED.users += 1
    try:
        yield
    finally:
        with DECODED.lock:
            DECODED.users -= 1
            if not DECODED.users:
                DECODED.files.clear()
                DECODED.bytes = 0


def read_audio(path: Path, sample_rate: int = TARGET_RATE) -> AudioFile:
    """Decode `path` to float32 mono at `sample_rate`: channels averaged, resampled with soxr HQ (or
    the copy kept from an earlier read of the same file, unchanged since).

    Raises UnreadableAudio (libsndfile fails, or the file is cut short) or NonFiniteAudio.
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # a FIFO would block libsndfile, a device never end
            raise UnreadableAudio(path, f"it is {kind_of(mode)}, not a regular file")
        with open(path, "rb") as file:  # libsndfile reports a missing or forbidden file only as "System error"
            key = (sha256_of(file), sample_rate) if DECODED.users else None
    except OSError as error:
        raise UnreadableAudio(path, (error.strerror or str(error)).lower()) from error
    cached = DECODED.get(key, path) if key else None
    if cached is not None:
        return cached
    decoded = _decode(path, sample_rate)
    DECODED.decodes += 1
    if key:
        DECODED.put(key, decoded)
    return decoded


def _decode(path: Path, sample_rate: int) -> AudioFile:
    import numpy as np
    import soundfile
    import soxr
    pieces: list[np.ndarray] = []
    source_frames = 0
    try:
        with soundfile.SoundFile(path) as sound:  # mode "r": opened read-only
            source_rate, channels = sound.samplerate, sound.channels
            _check_not_cut_short(path, sound.extra_info)
            stream = None
            if source_rate != sample_rate:
                stream = soxr.ResampleStream(source_rate, sample_rate, 1, dtype="float32", quality="HQ")
            # SoundFile.read into one reused buffer, stopping at a zero-length read, rather than
            # soundfile.blocks: blocks trusts the header's frame count and, on a short read, yields
            # the stale tail of its buffer.
            buffer = np.empty((BLOCK_FRAMES, channels), dtype=np.float32)
            while len(block := sound.read(dtype="float32", always_2d=True, out=buffer)):
                if not np.isfinite(block).all():  # on the raw block: the resampler would smear it
                    raise NonFiniteAudio(path)
                source_frames += len(block)
                mono = block.mean(axis=1, dtype=np.float32) if channels > 1 else block[:, 0].copy()
                pieces.append(mono if stream is None else stream.resample_chunk(mono))
            if stream is not None:
                pieces.append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    except soundfile.SoundFileError as error:
        raise UnreadableAudio(path, _libsndfile_message(error)) from error
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return AudioFile(
        path=path,
        audio=audio,
        source_rate=source_rate,
        channels=channels,
        source_frames=source_frames,
        seconds=len(audio) / sample_rate,
    )


def _libsndfile_message(error: Exception) -> str:
    """libsndfile's own words, without soundfile's "Error opening '<path>': " or libsndfile's "Error : "."""
    message = str(getattr(error, "error_string", None) or error)
    return message.removeprefix("Error : ").rstrip(".") or "libsndfile error"


def _check_not_cut_short(path: Path, log: str) -> None:
    for declared, present in ((int(a), int(b)) for a, b in _DATA_SIZE_NOTE.findall(log)):
        # One byte of slack: some writers count a pad byte they never write.
        if declared not in _UNKNOWN_SIZES and declared > present + 1:
            raise UnreadableAudio(
                path,
                f"file is cut short: its header promises {declared} bytes of audio but only {present} are there "
                "(an interrupted copy or download?)",
            )


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample [samples] or [samples, channels] with soxr HQ; returns `audio` itself when the rates match."""
    if from_rate == to_rate:
        return audio
    import soxr

    return soxr.resample(audio, from_rate, to_rate, quality="HQ")
