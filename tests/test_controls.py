"""Named sliders on a model trained from a corpus of known qualities (the example corpus: tones of
several pitches and brightness, plucks, noise textures): offered with units, stored with what they
were measured to do, and doing it on seeds the analysis never used, through `distill.generate`.

A control that moved the wrong quality fails here: checked by hand once by pointing every control at
another quality's condition (see docs/benchmarks.md, "Named sliders")."""

from __future__ import annotations

import json
import math
from pathlib import Path

import attrs
import numpy as np
import pytest
import soundfile
from conftest import run_cli
from distill.calibration import MAX_EFFECT, MIN_EFFECT
from distill.descriptors import NAMES, change, frame_descriptors
from distill.examples import make_example_corpus
from distill.melspec import DISTILL_MEL
from distill.modelfile import load_model

HELD_OUT = (401, 402, 403)  # the analysis probes seeds 201–203
STEPS = "400"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("controls")
    corpus = root / "sounds"
    make_example_corpus(corpus, files=12, seconds=2.0, seed=3)
    env = {"DISTILL_HOME": str(root / "home"), "DISTILL_THREADS": "2"}
    run_cli("train", str(corpus), "--name", "known", "--steps", STEPS, "--seed", "0", env=env)
    return root / "home" / "models" / "known.distill", env


def render(path: Path, out: Path, env: dict[str, str], seed: int, slider: str | None) -> dict[str, np.ndarray]:
    args = ["generate", str(path), "-d", "3", "--seed", str(seed), "--normalize", "none", "--format", "wav",
            "--bit-depth", "32f", "--vocoder", "hifigan-base", "--overwrite", "--output", str(out)]
    run_cli(*args, *(["--slider", slider] if slider else []), env=env)
    audio, _ = soundfile.read(out, dtype="float32")
    return frame_descriptors(audio, DISTILL_MEL)


def test_a_model_offers_named_sliders_with_units_and_says_why_not_the_others(model):
    path, env = model
    analysis = load_model(path).sliders
    named = [c for c in analysis.controls if not c.character]
    assert named, analysis.rejected
    assert all(c.unit == {"loudness": "dB", "brightness": "st", "pitch": "st"}.get(c.name, "") for c in named)
    assert set(NAMES) == {c.name for c in named} | set(analysis.rejected)  # every quality: offered, or why not
    assert all(MIN_EFFECT <= c.effect <= MAX_EFFECT for c in named), [(c.name, c.effect) for c in named]
    info = run_cli("model", "info", str(path), env=env).output
    assert "measured" in info and "no density slider" in info
    assert f"{named[0].name} " in info


def test_each_slider_does_what_it_measured_on_seeds_it_never_saw(model, tmp_path):
    path, env = model
    frame_rate = DISTILL_MEL.sample_rate / DISTILL_MEL.hop_length
    analysis = load_model(path).sliders
    scales = analysis.calibration["scales"]  # quality units per slider unit (−1 … +1 sliders: half the range)
    for control in analysis.controls:
        if control.character:
            continue
        value = control.high / 2
        effects: dict[str, list[float]] = {}
        for seed in HELD_OUT:
            base = render(path, tmp_path / "base.wav", env, seed, None)
            moved = render(path, tmp_path / "moved.wav", env, seed, f"{control.name}={value}")
            for quality, amount in change(base, moved, frame_rate).items():
                effects.setdefault(quality, []).append(amount / value / scales[quality])
        own = np.nanmean(effects[control.name])
        assert own > 0, (control.name, effects[control.name])  # the right direction
        assert abs(own - control.effect) <= 3 * control.spread + 0.15, (control.name, own, control.effect)
        for quality, (stored, spread) in control.sides.items():
            measured = np.nanmean(effects[quality])
            if math.isfinite(measured):
                assert abs(measured - stored) <= 3 * spread + 0.15 * abs(control.effect) + 0.05, (
                    control.name, quality, measured, stored, spread)


def test_a_clip_records_its_sliders_and_replays_bit_for_bit(model, tmp_path):
    path, env = model
    first = next(c for c in load_model(path).sliders.controls if not c.character)
    render(path, tmp_path / "clip.wav", env, 7, f"{first.name}={first.high / 2}")
    sidecar = json.loads((tmp_path / "clip.wav.json").read_text())
    assert sidecar["settings"]["controls"] == [[first.name, first.high / 2]]
    run_cli("generate", "--replay", str(tmp_path / "clip.wav.json"), "--output", str(tmp_path / "again.wav"), env=env)
    assert soundfile.read(tmp_path / "again.wav")[0].tobytes() == soundfile.read(tmp_path / "clip.wav")[0].tobytes()


def test_a_model_made_before_conditioning_gets_measured_latent_sliders_on_analyze(tmp_path, monkeypatch):
    """A model whose decoder is told nothing (as every model was before named sliders) gets, from
    `distill model analyze`, sliders that are moves of its latent space, measured the same way."""
    from distill import train_settings

    corpus = tmp_path / "sounds"
    make_example_corpus(corpus, files=8, seconds=2.0, seed=4)
    made_before = train_settings.preset_settings
    monkeypatch.setattr(train_settings, "preset_settings",
                        lambda preset, seconds: (lambda p, s: (p, attrs.evolve(s, conditions=0)))(
                            *made_before(preset, seconds)))
    run_cli("train", str(corpus), "--name", "plain", "--steps", "250", "--seed", "1")
    path = tmp_path / "distill-home" / "models" / "plain.distill"
    model = load_model(path)
    assert "conditions" not in model.vae_config
    result = run_cli("model", "analyze", str(path))
    analysis = load_model(path).sliders
    assert set(NAMES) == {c.name for c in analysis.controls if not c.character} | set(analysis.rejected)
    moves = [c for c in analysis.controls if c.row >= 0]  # latent offsets: characters at least
    assert moves and analysis.directions is not None and len(analysis.directions) >= len(moves)
    assert "slider character 1" in result.output
    first = analysis.controls[0]
    clips = []
    for folder, slider in (("moved", [f"--slider={first.name}={first.high}"]), ("still", [])):
        output = run_cli("generate", str(path), "-d", "1", "--seed", "2", "--json", "-o", str(tmp_path / folder),
                         "--normalize", "none", *slider).stdout
        clips += [json.loads(line)["path"] for line in output.splitlines() if line.startswith("{")]
    assert json.loads(Path(clips[0] + ".json").read_text())["settings"]["controls"] == [[first.name, first.high]]
    assert not np.allclose(soundfile.read(clips[0])[0], soundfile.read(clips[1])[0])  # the move is heard
