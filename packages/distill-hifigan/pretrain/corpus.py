"""The base vocoder's training corpus, rebuilt offline from openly licensed sources:

- real instrument recordings: the FluidR3 GM soundfont (Debian `fluid-soundfont-gm`, MIT licence),
  played by fluidsynth from MIDI written here (single notes, chords and melodies for all 128 GM
  programs, and drum patterns on the GM kits), at varied velocities and pitch ranges;
- distill's own synthesised example textures, tones and plucks (distill.examples, MIT).

Deterministic for a seed: the MIDI comes from one numpy generator and fluidsynth renders offline with
its default (deterministic) reverb and chorus. Files whose index is a multiple of HOLDOUT_EVERY are
kept out of training for validation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import mido
import numpy as np
import soundfile

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 44100
SECONDS = 6.0
HOLDOUT_EVERY = 16
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40, 48)  # GM kit programs on channel 10 (FluidR3's standard, room, ...)
RECIPE = {
    "soundfont": "FluidR3_GM.sf2 (Debian fluid-soundfont-gm, MIT licence)",
    "programs": "all 128 GM programs x (notes, chords, melody), 8 drum kits x 2 patterns, 6 s each",
    "examples": "distill.examples: 60 synthesised tones, plucks and textures, 3 s each",
    "renderer": "fluidsynth -r 44100, default reverb and chorus, tail below -60 dB cut, peak-normalised to 0.9",
}


def _midi(events: list[tuple[float, float, int, int]], program: int, channel: int) -> mido.MidiFile:
    """(start s, length s, pitch, velocity) notes -> a one-track MIDI file at 120 bpm (480 ticks/beat)."""
    ticks = 960  # per second at 120 bpm
    timeline = []
    for start, length, pitch, velocity in events:
        timeline.append((round(start * ticks), 1, pitch, velocity))
        timeline.append((round((start + length) * ticks), 0, pitch, 0))
    timeline.sort()
    track = mido.MidiTrack([mido.Message("program_change", program=program, channel=channel, time=0)])
    now = 0
    for tick, on, pitch, velocity in timeline:
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity, channel=channel, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=ticks))  # room for the release tail
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    return midi


def _notes(rng: np.random.Generator, low: int, high: int) -> list[tuple[float, float, int, int]]:
    events, t = [], 0.0
    while t < SECONDS - 1.0:
        length = float(rng.uniform(0.15, 1.6))
        events.append((t, length, int(rng.integers(low, high)), int(rng.integers(25, 128))))
        t += length + float(rng.uniform(0.0, 0.4))
    return events


def _chords(rng: np.random.Generator, low: int, high: int) -> list[tuple[float, float, int, int]]:
    events, t = [], 0.0
    shapes = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 3, 7, 10), (0, 5, 7), (0, 7, 12, 16))
    while t < SECONDS - 1.0:
        root, length = int(rng.integers(low, max(low + 1, high - 16))), float(rng.uniform(0.6, 2.0))
        velocity = int(rng.integers(30, 120))
        for interval in shapes[int(rng.integers(len(shapes)))]:
            events.append((t, length, min(127, root + interval), velocity))
        t += length + float(rng.uniform(0.0, 0.3))
    return events


def _melody(rng: np.random.Generator, low: int, high: int) -> list[tuple[float, float, int, int]]:
    scale = (0, 2, 4, 5, 7, 9, 11)
    degree, base, events, t = int(rng.integers(7)), int(rng.integers(low, max(low + 1, high - 12))), [], 0.0
    while t < SECONDS - 0.8:
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
        pitch = base + 12 * (degree // 7) + scale[degree % 7]
        length = float(rng.choice([0.125, 0.25, 0.25, 0.5, 0.75]))
        events.append((t, length * 0.95, min(127, pitch), int(rng.integers(40, 127))))
        t += length
    return events


def _drums(rng: np.random.Generator) -> list[tuple[float, float, int, int]]:
    kit = (35, 36, 38, 40, 42, 44, 46, 49, 51, 39, 41, 45, 48, 50, 54, 56, 69, 70, 75, 76)
    step, events = float(rng.uniform(0.1, 0.2)), []
    for i in range(int((SECONDS - 1.0) / step)):
        for pitch in kit:
            if rng.random() < (0.5 if pitch in (36, 38, 42) and i % 2 == 0 else 0.06):
                events.append((i * step, 0.1, pitch, int(rng.integers(30, 127))))
    return events


def _render(midi: mido.MidiFile, path: Path, scratch: Path) -> None:
    source = scratch / (path.stem + ".mid")
    midi.save(source)
    raw = scratch / (path.stem + ".raw.wav")
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(SAMPLE_RATE), "-O", "float", "-T", "wav",
                    "-F", str(raw), str(SOUNDFONT), str(source)], check=True, stdout=subprocess.DEVNULL)
    audio, rate = soundfile.read(raw, dtype="float32")
    audio = audio.mean(axis=1) if audio.ndim == 2 else audio
    peak = float(np.abs(audio).max())
    if peak > 1e-4:
        audible = np.flatnonzero(np.abs(audio) > 1e-3 * peak)  # cut the tail below -60 dB
        soundfile.write(path, 0.9 * audio[: audible[-1] + 1] / peak, rate, subtype="FLOAT")
    raw.unlink()
    source.unlink()


def build_corpus(folder: Path, seed: int = 0) -> list[Path]:
    """Write the corpus into `folder` (skipping what is there from an earlier run); its files, in order."""
    from distill.examples import make_example_corpus

    if shutil.which("fluidsynth") is None or not SOUNDFONT.is_file():
        raise SystemExit("the corpus needs fluidsynth and the FluidR3 soundfont: "
                         "apt-get install fluidsynth fluid-soundfont-gm")
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / "scratch"
    scratch.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    jobs = []
    for program in range(128):
        # Bass programs (32-39) sit low, leads and pipes high; everything gets a 3-4 octave spread.
        low = 28 if 32 <= program <= 39 else 48 if 72 <= program <= 79 else 36
        for kind, make in (("notes", _notes), ("chords", _chords), ("melody", _melody)):
            jobs.append((f"gm{program:03d}-{kind}", _midi(make(rng, low, low + 44), program, 0)))
    for kit in DRUM_KITS:
        for take in range(2):
            jobs.append((f"drums{kit:02d}-{take}", _midi(_drums(rng), kit, 9)))
    paths = []
    for name, midi in jobs:
        path = folder / f"{name}.wav"
        if not path.exists():
            _render(midi, path, scratch)
        if path.exists():  # a program that stayed silent is left out
            paths.append(path)
    paths += make_example_corpus(folder / "examples", files=60, seconds=3.0, seed=seed + 1)
    scratch.rmdir()
    return paths


def recipe_hash(paths: list[Path]) -> str:
    """A fingerprint of the corpus' bytes and recipe: the same on every machine that rebuilds it."""
    digest = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
