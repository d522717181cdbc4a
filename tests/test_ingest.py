"""Reading a training folder: real files written with soundfile (or as raw bytes), read by the real code."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from distill import audio
from distill.audio import NonFiniteAudio, UnreadableAudio, read_audio, resample
from distill.errors import DistillError
from distill.ingest import NoUsableAudio, scan_corpus


def sine(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def write(path: Path, data: np.ndarray, sr: int, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, data, sr, **kwargs)
    return path


def wav_bytes(data: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, data, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """One good take and one file for every reason to skip."""
    folder = tmp_path / "sounds"
    take = write(folder / "a-take.wav", sine(440, 1.0, 44100), 44100)
    (folder / "b-link.wav").symlink_to(take)
    shutil.copyfile(take, folder / "b-copy.wav")
    (folder / "notes.txt").write_text("recorded on tuesday\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    (folder / "noise.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    whole = wav_bytes(sine(220, 0.5, 44100), 44100)
    (folder / "cut.wav").write_bytes(whole[: len(whole) // 2])
    (folder / "nothing.wav").write_bytes(b"")
    write(folder / "no-frames.wav", np.zeros(0, np.float32), 44100)
    with_nan = sine(330, 0.2, 44100)
    with_nan[1000] = np.nan
    write(folder / "nan.wav", with_nan, 44100, subtype="FLOAT")
    write(folder / "click.wav", sine(1000, 0.02, 44100), 44100)
    write(folder / "zeros.flac", np.zeros(44100, np.float32), 44100)
    write(folder / "hiss.wav", sine(440, 0.2, 44100, amp=1e-5), 44100, subtype="FLOAT")
    return folder


def test_every_file_is_accepted_or_skipped_with_its_reason(messy: Path):
    corpus = scan_corpus(messy)
    assert [f.relative for f in corpus.files] == ["a-take.wav"]
    reasons = {skip.relative: (skip.kind, skip.reason) for skip in corpus.skipped}
    kind, reason = reasons.pop("cut.wav")
    assert kind == "unreadable" and re.fullmatch(
        r"unreadable or corrupt: file is cut short: its header promises \d+ bytes of audio but only \d+ are "
        r"there \(an interrupted copy or download\?\)", reason), reason
    assert reasons == {
        ".DS_Store": ("not-audio", "not audio"),
        "b-copy.wav": ("duplicate", "duplicate of a-take.wav"),
        "b-link.wav": ("duplicate", "duplicate of a-take.wav"),
        "click.wav": (
            "too-short",
            "shorter than one analysis window (2048 samples at 44.1 kHz = 46 ms): 20 ms long",
        ),
        "hiss.wav": ("silent", "silent (peak -100 dBFS)"),
        "nan.wav": ("non-finite", "contains NaN/inf samples"),
        "no-frames.wav": ("empty", "empty (no audio frames)"),
        "noise.wav": ("unreadable", "unreadable or corrupt: Format not recognised"),
        "nothing.wav": ("empty", "empty (0 bytes)"),
        "notes.txt": ("not-audio", "not audio"),
        "zeros.flac": ("silent", "silent (every sample is zero)"),
    }
    assert [skip.relative for skip in corpus.skipped] == sorted([*reasons, "cut.wav"])


def test_report_lists_skips_then_a_summary(messy: Path):
    lines = scan_corpus(messy).report()
    assert lines[0] == "skipped .DS_Store: not audio"
    assert "skipped b-link.wav: duplicate of a-take.wav" in lines
    assert lines[-1] == "1 file usable (00:01 of audio), 12 skipped"
    assert len(lines) == 13


def test_scanning_leaves_the_folder_untouched(messy: Path):
    def snapshot() -> dict[str, tuple]:
        state = {}
        for root, dirs, names in os.walk(messy):
            for name in dirs + names:
                path = Path(root, name)
                info = path.lstat()
                content = b"" if path.is_symlink() or path.is_dir() else path.read_bytes()
                state[path.relative_to(messy).as_posix()] = (
                    info.st_size,
                    info.st_mtime_ns,
                    info.st_mode,
                    hashlib.sha256(content).hexdigest(),
                )
        return state

    before = snapshot()
    scan_corpus(messy)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "sr", "channels", "kwargs"),
    [
        ("8k.wav", 8000, 1, {"subtype": "PCM_16"}),
        ("192k.wav", 192000, 2, {"subtype": "PCM_24"}),
        ("six.wav", 48000, 6, {"subtype": "PCM_16"}),
        ("u8.wav", 22050, 1, {"subtype": "PCM_U8"}),
        ("float.wav", 44100, 2, {"subtype": "FLOAT"}),
        ("deep.flac", 96000, 1, {"subtype": "PCM_24"}),
        ("vorbis.ogg", 44100, 2, {"format": "OGG", "subtype": "VORBIS"}),
        ("old.aiff", 32000, 1, {"format": "AIFF", "subtype": "PCM_16"}),
        ("song.mp3", 44100, 2, {"format": "MP3"}),
    ],
)
def test_unusual_but_valid_files_are_accepted(tmp_path: Path, name, sr, channels, kwargs):
    if name.endswith(".mp3") and "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    tone = sine(440, 0.5, sr)
    write(tmp_path / name, np.stack([tone] * channels, axis=1), sr, **kwargs)
    (file,) = scan_corpus(tmp_path).files
    assert (file.source_rate, file.channels) == (sr, channels)
    assert file.audio.dtype == np.float32 and file.audio.ndim == 1
    lossy = name.endswith((".ogg", ".mp3"))  # encoders pad the start and end
    assert file.seconds == pytest.approx(0.5, abs=0.1 if lossy else 1e-3)
    assert np.abs(file.audio).max() == pytest.approx(0.5, abs=0.1 if lossy else 0.02)
    assert file.sha256 == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()


def test_resampling_keeps_length_and_pitch(tmp_path: Path):
    write(tmp_path / "48k.wav", sine(440, 1.0, 48000), 48000, subtype="FLOAT")
    write(tmp_path / "8k.wav", sine(1000, 1.0, 8000), 8000, subtype="FLOAT")
    files = {f.relative: f for f in scan_corpus(tmp_path).files}
    assert abs(len(files["48k.wav"].audio) - 44100) <= 2
    low = files["8k.wav"].audio
    spectrum = np.abs(np.fft.rfft(low * np.hanning(len(low))))
    assert np.fft.rfftfreq(len(low), 1 / 44100)[spectrum.argmax()] == pytest.approx(1000, abs=2)


def test_channels_are_averaged(tmp_path: Path):
    tone = sine(440, 0.5, 44100)
    write(tmp_path / "cancel.wav", np.stack([tone, -tone], axis=1), 44100)
    write(tmp_path / "left.wav", np.stack([tone, np.zeros_like(tone)], axis=1), 44100)
    corpus = scan_corpus(tmp_path)
    assert [(s.relative, s.kind) for s in corpus.skipped] == [("cancel.wav", "silent")]
    (left,) = corpus.files
    assert left.channels == 2
    assert np.abs(left.audio).max() == pytest.approx(0.25, abs=1e-3)


def test_block_reading_matches_reading_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(3)
    stereo = (0.3 * rng.standard_normal((24000, 2))).astype(np.float32)
    path = write(tmp_path / "noise.wav", stereo, 48000, subtype="FLOAT")
    monkeypatch.setattr(audio, "BLOCK_FRAMES", 1000)
    streamed = read_audio(path)
    whole = soxr.resample(stereo.mean(axis=1), 48000, 44100, quality="HQ")
    assert streamed.source_frames == 24000
    assert abs(len(streamed.audio) - len(whole)) <= 1
    n = min(len(whole), len(streamed.audio))
    np.testing.assert_allclose(streamed.audio[:n], whole[:n], atol=1e-4)


def test_order_is_stable_and_symlinked_folders_are_not_followed(tmp_path: Path):
    folder = tmp_path / "sounds"
    for i, name in enumerate(["b/2.wav", "top.wav", "a/z.wav", "a/b/c.wav", "a/a.wav"]):
        write(folder / name, sine(200 + 50 * i, 0.1, 44100), 44100)
    (folder / "again").symlink_to(folder / "a", target_is_directory=True)
    corpus = scan_corpus(folder)
    assert [f.relative for f in corpus.files] == ["a/a.wav", "a/b/c.wav", "a/z.wav", "b/2.wav", "top.wav"]
    assert corpus.skipped == []


def test_fingerprint_follows_content_not_names(tmp_path: Path):
    folder = tmp_path / "sounds"
    write(folder / "one.wav", sine(300, 0.2, 44100), 44100)
    write(folder / "two.wav", sine(500, 0.2, 44100), 44100)
    first = scan_corpus(folder).fingerprint
    (folder / "one.wav").rename(folder / "renamed.wav")
    (folder / "readme.txt").write_text("skipped files do not count")
    assert scan_corpus(folder).fingerprint == first
    write(folder / "two.wav", sine(500, 0.2, 44100, amp=0.4), 44100)
    assert scan_corpus(folder).fingerprint != first


def test_missing_or_unusable_folders_are_errors(tmp_path: Path):
    with pytest.raises(DistillError, match=r"does not exist: .*nowhere"):
        scan_corpus(tmp_path / "nowhere")
    (tmp_path / "file.wav").write_bytes(b"")
    with pytest.raises(DistillError, match=r"is not a folder: .*file\.wav"):
        scan_corpus(tmp_path / "file.wav")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DistillError, match=r"no usable audio in .*empty: found no files\. distill reads WAV"):
        scan_corpus(empty)

    junk = tmp_path / "junk"
    write(junk / "quiet.wav", np.zeros(4410, np.float32), 44100)
    (junk / "a.txt").write_text("a")
    (junk / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    with pytest.raises(NoUsableAudio) as caught:
        scan_corpus(junk)
    assert str(caught.value) == (
        f"no usable audio in {junk}: found 3 files (2 not audio, 1 silent). "
        "distill reads WAV, FLAC, OGG, AIFF and MP3 files, searched recursively."
    )
    assert [s.kind for s in caught.value.skipped] == ["not-audio", "not-audio", "silent"]


def test_read_audio_errors_name_the_file(tmp_path: Path):
    with pytest.raises(UnreadableAudio, match=r"cannot read .*missing\.wav: no such file or directory"):
        read_audio(tmp_path / "missing.wav")
    bad = sine(440, 0.1, 44100)
    bad[10] = np.inf
    path = write(tmp_path / "inf.wav", bad, 44100, subtype="FLOAT")
    with pytest.raises(NonFiniteAudio, match=r"inf\.wav contains NaN/inf samples"):
        read_audio(path)


def test_resample_helper():
    tone = sine(440, 0.5, 48000)
    assert resample(tone, 48000, 48000) is tone
    assert abs(len(resample(tone, 48000, 44100)) - 22050) <= 1
    assert resample(np.stack([tone, tone], axis=1), 48000, 22050).shape[1] == 2
