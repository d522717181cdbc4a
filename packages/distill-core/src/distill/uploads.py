"""Recordings uploaded through the web UI become a folder in the library (`<root>/recordings/<name>/`):
copied under safe names, checked by the same rules as `distill train` (files it would skip are left
out and reported), and put in place in one rename, so a folder is never seen half-filled."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import DistillError
from .files import open_regular
from .ingest import AUDIO_EXTENSIONS, SUPPORTED, NoUsableAudio, SkippedFile, scan_corpus
from .library import recordings_dir
from .names import safe_stem

MAX_FILE_BYTES = 500 * 1024 * 1024  # a 45-minute stereo WAV at 48 kHz / 24 bit
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024


def add_recordings(files: Sequence[str | os.PathLike[str]], name: str) -> tuple[Path, list[SkippedFile]]:
    """Copy uploaded audio files into a new recordings folder `name` in the library, keeping only those
    training can use; returns the folder and the files left out, with why (named as uploaded)."""
    dest = recordings_dir(name)
    if dest.exists():
        raise DistillError(f"a recordings folder named {name!r} already exists ({dest}): pick another name, "
                           "or train from that folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{name}.upload-"))
    try:
        uploaded, skipped = _copy_uploads([Path(f) for f in files], staging)
        try:
            corpus = scan_corpus(staging, keep=lambda audio: None)
        except NoUsableAudio as exc:
            listing = "; ".join(f"{uploaded.get(s.relative, s.relative)}: {s.reason}" for s in skipped + exc.skipped)
            raise DistillError(f"none of the uploaded files can be trained on ({listing}). {SUPPORTED}") from None
        for skip in corpus.skipped:  # the folder keeps only what training will use
            (staging / skip.relative).unlink()
            skipped.append(SkippedFile(uploaded.get(skip.relative, skip.relative), skip.reason, skip.kind))
        try:
            os.rename(staging, dest)
        except OSError:
            raise DistillError(f"a recordings folder named {name!r} appeared while uploading ({dest}): "
                               "pick another name") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest, skipped


def _copy_uploads(files: list[Path], staging: Path) -> tuple[dict[str, str], list[SkippedFile]]:
    """Copy each audio file into `staging` as a safe, unique name; returns staged name -> uploaded name,
    and the files refused before reading them (not audio by their extension, or too large)."""
    uploaded: dict[str, str] = {}
    skipped: list[SkippedFile] = []
    total = 0
    for source in files:
        original = source.name
        suffix = source.suffix.lower().lstrip(".")
        if suffix not in AUDIO_EXTENSIONS:
            skipped.append(SkippedFile(original, f"not audio (.{suffix or '?'}): {SUPPORTED}", "not-audio"))
            continue
        with open_regular(source, "uploaded file") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                skipped.append(SkippedFile(original, f"{size / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB "
                                           "limit per file: split it, or train from its folder on this machine",
                                           "too-large"))
                continue
            total += size
            if total > MAX_TOTAL_BYTES:
                raise DistillError(f"the upload is over {MAX_TOTAL_BYTES / 1e9:.0f} GB: train from a folder on this "
                                   "machine instead (give its path)")
            stem = safe_stem(source.stem, "recording")
            staged = f"{stem}.{suffix}"
            for n in range(2, len(files) + 2):
                if staged not in uploaded:
                    break
                staged = f"{stem}_{n}.{suffix}"
            uploaded[staged] = original
            with open(staging / staged, "xb") as out:
                shutil.copyfileobj(handle, out)
    return uploaded, skipped
