"""Training estimates (the Train page's preset menu): each preset's steps for the corpus' length, read
from the files' headers, and a time from a short timing of the preset's network on this machine."""

from __future__ import annotations

import pytest
from distill import DistillError, training_estimates
from distill.examples import make_example_corpus
from distill.train_settings import preset_settings


def test_every_preset_gets_the_steps_training_would_run_and_a_time(tmp_path):
    make_example_corpus(tmp_path / "sounds", files=4, seconds=2.0, seed=1)
    (tmp_path / "sounds" / "notes.txt").write_text("not audio")  # skipped, as training skips it
    found = training_estimates(tmp_path / "sounds")
    assert found.files == 4 and found.audio_seconds == pytest.approx(8.0, abs=0.1)
    by_name = {p.preset: p for p in found.presets}
    assert by_name["sketch"].steps == 400
    assert by_name["auto"].runs == "conservative"  # under 30 s of audio
    for estimate in found.presets:
        assert estimate.steps == preset_settings(estimate.preset, found.audio_seconds)[1].steps
        assert estimate.seconds > 0
    assert by_name["aggressive"].seconds > by_name["balanced"].seconds > by_name["sketch"].seconds


def test_a_folder_without_audio_is_refused_with_its_name(tmp_path):
    with pytest.raises(DistillError, match="does not exist"):
        training_estimates(tmp_path / "nowhere")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("words")
    with pytest.raises(DistillError, match="no audio files"):
        training_estimates(tmp_path / "texts")
