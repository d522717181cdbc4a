"""Bench corpora: real recordings nobody here made, from Debian packages, and the synthetic example
corpus. Each is written once as 44.1 kHz mono WAV files into a cache folder and reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 44100
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")  # Debian hydrogen-drumkits (GPL-2+ / CC kits)
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")  # Debian sound-theme-freedesktop
# Acoustic kits recorded by their authors (one-shots), and one kit's recorded grooves.
ONE_SHOT_KITS = ("ColomboAcousticDrumkit", "circAfrique v4", "Gimme A Hand 1.0", "The Black Pearl 1.0")
GROOVE_KIT = "rumpf_kit_z01_h2"
PER_KIT = 8
MAX_SECONDS = 4.0


def _read(path: Path, max_seconds: float) -> np.ndarray:
    import librosa
    import soundfile

    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != RATE:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=RATE)
    return mono[: int(max_seconds * RATE)]


def _write(folder: Path, picks: list[tuple[str, Path]], max_seconds: float) -> Path:
    import soundfile

    if folder.is_dir() and len(list(folder.glob("*.wav"))) == len(picks):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in picks:
        soundfile.write(folder / f"{name}.wav", _read(path, max_seconds), RATE, subtype="PCM_16")
    return folder


def _evenly(files: list[Path], count: int) -> list[Path]:
    return [files[round(i * (len(files) - 1) / max(1, count - 1))] for i in range(min(count, len(files)))]


def percussive(cache: Path) -> Path:
    """40 real drum recordings: 8 one-shots from each of four acoustic kits, and the 8 longest grooves
    of a fifth (up to 4 s each)."""
    if not DRUMKITS.is_dir():
        raise SystemExit(f"{DRUMKITS} is missing: apt-get install hydrogen-drumkits")
    picks = []
    for kit in ONE_SHOT_KITS:
        files = sorted(p for p in (DRUMKITS / kit).iterdir() if p.suffix.lower() in (".wav", ".flac"))
        picks += [(f"{kit.split()[0].lower()}-{p.stem}", p) for p in _evenly(files, PER_KIT)]
    import soundfile

    grooves = sorted((DRUMKITS / GROOVE_KIT).glob("*.flac"), key=lambda p: (-soundfile.info(p).duration, p.name))
    picks += [(f"groove-{p.stem}", p) for p in grooves[:PER_KIT]]
    return _write(cache / "percussive", picks, MAX_SECONDS)


def textural(cache: Path) -> Path:
    """The freedesktop sound theme (35 recordings: bells, chimes, speech, clicks), up to 4 s each."""
    if not FREEDESKTOP.is_dir():
        raise SystemExit(f"{FREEDESKTOP} is missing: apt-get install sound-theme-freedesktop")
    return _write(cache / "textural", [(p.stem, p) for p in sorted(FREEDESKTOP.glob("*.oga"))], MAX_SECONDS)


def example(cache: Path) -> Path:
    """distill's synthetic example corpus (20 tones, plucks and noise textures, seed 0)."""
    from distill.examples import make_example_corpus

    folder = cache / "example"
    if not (folder.is_dir() and len(list(folder.glob("*.wav"))) == 20):
        make_example_corpus(folder, 20, seed=0)
    return folder


CORPORA = {"example": example, "percussive": percussive, "textural": textural}
