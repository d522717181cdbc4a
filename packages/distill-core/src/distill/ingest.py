"""Scanning a training folder: every file in it is either accepted as audio or skipped with a reason.

The folder is only read: files are opened read-only and nothing is written next to them.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from distill.audio import TARGET_RATE, NonFiniteAudio, UnreadableAudio, read_audio
from distill.errors import DistillError, Fix
from distill.files import sha256_file

if TYPE_CHECKING:
    import numpy as np

# Extensions that promise audio: when libsndfile fails on one of these the file is broken, not foreign.
AUDIO_EXTENSIONS = frozenset(
    {"wav", "flac", "ogg", "oga", "opus", "aif", "aiff", "aifc", "mp3", "caf", "w64", "rf64", "au", "snd"}
)
SILENCE_PEAK = 1e-4  # -80 dBFS

# Skip kinds, in the order they are checked, and how the summary of an unusable folder names them.
KIND_LABELS = {
    "not-audio": "not audio",
    "unreadable": "unreadable or corrupt",
    "empty": "empty",
    "non-finite": "with NaN/inf samples",
    "too-short": "too short",
    "silent": "silent",
    "duplicate": "duplicate",
    "too-large": "too large to upload",
}
SUPPORTED = "distill reads WAV, FLAC, OGG, AIFF and MP3 files, searched recursively."


@attrs.frozen(eq=False)
class CorpusFile:
    path: Path
    relative: str  # POSIX path relative to the scanned folder
    audio: Any  # float32 mono np.ndarray at the scan's sample rate, or what scan_corpus's `keep` made of it
    seconds: float
    source_rate: int
    channels: int
    sha256: str  # of the file's bytes


@attrs.frozen
class SkippedFile:
    relative: str
    reason: str  # for people: "unreadable or corrupt: Format not recognised"
    kind: str = attrs.field(validator=attrs.validators.in_(KIND_LABELS))  # for code: "unreadable"


@attrs.frozen(eq=False)
class Corpus:
    folder: Path
    files: list[CorpusFile]
    skipped: list[SkippedFile]

    @property
    def seconds(self) -> float:
        return sum(file.seconds for file in self.files)

    @property
    def fingerprint(self) -> str:
        """sha256 over the accepted files' content hashes: renaming or moving files keeps it, editing one changes it."""
        digest = hashlib.sha256()
        for file_hash in sorted(file.sha256 for file in self.files):
            digest.update(file_hash.encode() + b"\n")
        return digest.hexdigest()

    def report(self) -> list[str]:
        """Lines to print before training: each skipped file with its reason, then a summary."""
        lines = [f"skipped {skip.relative}: {skip.reason}" for skip in self.skipped]
        usable = _count(len(self.files), "file")
        lines.append(f"{usable} usable ({_clock(self.seconds)} of audio), {len(self.skipped)} skipped")
        return lines


class NoUsableAudio(DistillError):
    """The folder holds no file distill can train on; `skipped` says why for each file found."""

    def __init__(self, message: str, skipped: list[SkippedFile]) -> None:
        super().__init__(message)
        self.skipped = skipped


def scan_corpus(
    folder: Path,
    *,
    sample_rate: int = TARGET_RATE,
    min_samples: int = 2048,
    keep: Callable[[np.ndarray], Any] | None = None,
) -> Corpus:
    """Read every file under `folder` (recursively, symlinked files included, symlinked folders not).

    `keep` turns each accepted file's audio into what the caller holds on to (training keeps mels,
    a quarter of the size), so a large corpus never sits in memory as audio.

    Files are visited sorted by relative path, so the result, and which of two duplicates is kept,
    does not depend on the file system's listing order.
    """
    folder = Path(folder)
    files: list[CorpusFile] = []
    skipped: list[SkippedFile] = []
    first_by_target: dict[str, str] = {}  # real path of an accepted file -> its relative path
    first_by_hash: dict[str, str] = {}
    for relative, path in corpus_paths(folder):
        result = _examine(path, relative, sample_rate, min_samples)
        if isinstance(result, SkippedFile):
            skipped.append(result)
            continue
        target = os.path.realpath(path)  # a symlink to an accepted file, or the file a symlink took
        first = first_by_target.get(target) or first_by_hash.get(result.sha256)
        if first is not None:
            skipped.append(SkippedFile(relative, f"duplicate of {first}", "duplicate"))
            continue
        first_by_target[target] = first_by_hash[result.sha256] = relative
        files.append(result if keep is None else attrs.evolve(result, audio=keep(result.audio)))

    if not files:
        raise NoUsableAudio(_nothing_usable(folder, skipped), skipped)
    return Corpus(folder=folder, files=files, skipped=skipped)


def corpus_paths(folder: Path) -> list[tuple[str, Path]]:
    """Every file under a training folder that training looks at, as (relative path, path), sorted;
    symlinked folders are not entered."""
    if not folder.exists():
        raise DistillError(f"training folder does not exist: {folder}", Fix("recordings-folder"))
    if not folder.is_dir():
        raise DistillError(f"training folder is not a folder: {folder}", Fix("recordings-folder"))
    found = []
    for root, _dirs, names in os.walk(folder, followlinks=False):
        for name in names:
            path = Path(root, name)
            found.append((path.relative_to(folder).as_posix(), path))
    return sorted(found)


def _examine(path: Path, relative: str, sample_rate: int, min_samples: int) -> CorpusFile | SkippedFile:
    """Everything about one file except whether it duplicates another."""
    audio_extension = path.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS

    def cannot_read(detail: str) -> SkippedFile:
        if audio_extension:
            return SkippedFile(relative, f"unreadable or corrupt: {detail}", "unreadable")
        return SkippedFile(relative, "not audio", "not-audio")

    try:
        info = path.stat()  # follows a symlink: a broken one fails here
    except OSError as error:
        return cannot_read((error.strerror or str(error)).lower())
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block libsndfile or never end
        return SkippedFile(relative, "not audio (not a regular file)", "not-audio")
    if info.st_size == 0:
        return SkippedFile(relative, "empty (0 bytes)", "empty") if audio_extension else cannot_read("0 bytes")

    try:
        sound = read_audio(path, sample_rate)
    except UnreadableAudio as error:
        return cannot_read(error.detail)
    except NonFiniteAudio as error:
        return SkippedFile(relative, error.detail, "non-finite")

    if sound.source_frames == 0:
        return SkippedFile(relative, "empty (no audio frames)", "empty")
    if len(sound.audio) < min_samples:
        window_ms = round(1000 * min_samples / sample_rate)
        return SkippedFile(
            relative,
            f"shorter than one analysis window ({min_samples} samples at {sample_rate / 1000:g} kHz = {window_ms} ms)"
            f": {1000 * sound.seconds:.0f} ms long",
            "too-short",
        )
    peak = float(abs(sound.audio).max())
    if peak < SILENCE_PEAK:
        level = f"peak {20 * math.log10(peak):.0f} dBFS" if peak > 0 else "every sample is zero"
        return SkippedFile(relative, f"silent ({level})", "silent")
    try:
        sha256 = sha256_file(path)
    except (OSError, DistillError) as error:  # the file vanished or lost its permissions since it was decoded
        return cannot_read(getattr(error, "cli_message", None) or str(error))
    return CorpusFile(
        path=path,
        relative=relative,
        audio=sound.audio,
        seconds=sound.seconds,
        source_rate=sound.source_rate,
        channels=sound.channels,
        sha256=sha256,
    )


def _nothing_usable(folder: Path, skipped: list[SkippedFile]) -> str:
    if not skipped:
        return f"no usable audio in {folder}: found no files. {SUPPORTED}"
    counts = Counter(KIND_LABELS[skip.kind] for skip in skipped)
    parts = ", ".join(f"{n} {label}" for label, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return f"no usable audio in {folder}: found {_count(len(skipped), 'file')} ({parts}). {SUPPORTED}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _clock(seconds: float) -> str:
    """MM:SS, or H:MM:SS from an hour up."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
