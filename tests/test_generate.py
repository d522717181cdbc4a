"""Generation through the real CLI with a real vocoder backend (the example Griffin-Lim plugin):
every path, exact durations, seams, replay determinism, formats and tags, presets, bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import run_cli, run_distill
from distill.examples import make_example_corpus
from distill.melspec import MelSpec
from distill.modelfile import load_model, save_model

pytestmark = pytest.mark.usefixtures("griffin_lim_only")  # the example plugin renders (conftest)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Two small trained models (model files used by path) and a folder of their audio."""
    root = tmp_path_factory.mktemp("gen")
    corpus = root / "sounds"
    make_example_corpus(corpus, files=6, seconds=1.5, seed=5)
    env = {"DISTILL_HOME": str(root / "home")}
    paths = {"corpus": corpus}
    for name, seed in (("alpha", 1), ("beta", 2)):
        run_cli("train", str(corpus), "--name", name, "--steps", "30", "--batch-size", "4", "--seed", str(seed),
                env=env)
        paths[name] = root / "home" / "models" / f"{name}.distill"
    return paths


def generate(model: Path, out: Path, *args: str, expect: int | None = 0):
    result = run_cli("generate", str(model), "--json", "-o", str(out), *args, expect=expect)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, records


@pytest.mark.parametrize("seconds", [0.1, 2.5, 7.3])
def test_prior_sampling_has_exact_length(models, tmp_path, seconds):
    _, (record,) = generate(models["alpha"], tmp_path, "-d", str(seconds), "--seed", "3")
    audio, rate = soundfile.read(record["path"])
    assert rate == 48000 and len(audio) == round(seconds * 48000)
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-4  # never louder than -1 dBFS
    assert record["vocoder"] == "griffinlim" and "mel recipe" in record["reason"]


def test_same_seed_same_samples_and_replay_is_bit_identical(models, tmp_path):
    _, (first,) = generate(models["alpha"], tmp_path / "a", "-d", "1.5", "--seed", "11", "--evolution", "0.8")
    _, (second,) = generate(models["alpha"], tmp_path / "b", "-d", "1.5", "--seed", "11", "--evolution", "0.8")
    a, b = soundfile.read(first["path"])[0], soundfile.read(second["path"])[0]
    assert np.array_equal(a, b)
    _, (other,) = generate(models["alpha"], tmp_path / "c", "-d", "1.5", "--seed", "12", "--evolution", "0.8")
    assert not np.array_equal(a, soundfile.read(other["path"])[0])
    result = run_cli("generate", "--replay", first["path"] + ".json", "--json")
    replayed = json.loads(result.stdout)
    assert replayed["path"].endswith("-replay.wav")
    assert np.array_equal(a, soundfile.read(replayed["path"])[0])


def test_sliders_by_name_and_index_and_clamping(models, tmp_path):
    model = load_model(models["alpha"])  # trained briefly: its sliders are the principal directions
    first = model.sliders.sliders[0]
    _, (plain,) = generate(models["alpha"], tmp_path / "p", "-d", "1", "--seed", "4", "--normalize", "none")
    _, (moved,) = generate(models["alpha"], tmp_path / "m", "-d", "1", "--seed", "4", "--normalize", "none",
                           "--slider", f"{first.name}={first.high}")
    _, (by_index,) = generate(models["alpha"], tmp_path / "i", "-d", "1", "--seed", "4", "--normalize", "none",
                              "--slider", f"0={first.high}")
    a, b, c = (soundfile.read(r["path"])[0] for r in (plain, moved, by_index))
    assert not np.allclose(a, b) and np.array_equal(b, c)
    _, (clamped,) = generate(models["alpha"], tmp_path / "c", "-d", "1", "--seed", "4",
                             "--slider", f"{first.name}={first.high + 100}")
    assert any("outside its safe range" in w for w in clamped["warnings"])
    result = run_cli("generate", str(models["alpha"]), "--slider", "sparkle=1", "-o", str(tmp_path), expect=1)
    assert "unknown slider 'sparkle'" in result.stderr and first.name in result.stderr


def test_variation_morph_and_blend(models, tmp_path):
    source = sorted(models["corpus"].glob("*.wav"))[0]
    target = sorted(models["corpus"].glob("*.wav"))[1]
    from_source = ["--from-audio", str(source), "-d", "1.2", "--seed", "1"]
    _, (rebuilt,) = generate(models["alpha"], tmp_path / "v0", *from_source)
    _, (varied,) = generate(models["alpha"], tmp_path / "v5", *from_source, "--variation", "0.5")
    assert not np.allclose(soundfile.read(rebuilt["path"])[0], soundfile.read(varied["path"])[0])
    _, (morph,) = generate(models["alpha"], tmp_path / "mo", "--morph", str(source), str(target), "-d", "2",
                           "--seed", "1")
    _, (seeds,) = generate(models["alpha"], tmp_path / "ms", "--morph", "seed:1", "seed:2", "-d", "2", "--seed", "1")
    assert len(soundfile.read(morph["path"])[0]) == len(soundfile.read(seeds["path"])[0]) == 96000
    _, (blend,) = generate(models["alpha"], tmp_path / "bl", "--blend", f"{models['beta']}:0.4", "-d", "1",
                           "--seed", "1")
    assert any("blending 2 models in the mel domain" in w for w in blend["warnings"])
    sidecar = json.loads(Path(blend["path"] + ".json").read_text())
    assert sidecar["blend"][0]["weight"] == 0.4 and sidecar["blend_mode"] == "mel"


def test_windows_join_without_seams(models, tmp_path):
    # 7 s spans three vocoder windows (about 2.8 s of new audio each); joins are crossfaded.
    _, (record,) = generate(models["alpha"], tmp_path, "-d", "7", "--seed", "2", "--sample-rate", "44100",
                            "--normalize", "none")
    audio = soundfile.read(record["path"])[0]
    steps = np.abs(np.diff(audio))
    typical = np.percentile(steps, 99)
    from distill_griffinlim.vocoders import GriffinLim

    step = (GriffinLim.window_frames - GriffinLim.overlap_frames) * GriffinLim.mel_spec.hop_length
    assert 2 * step < len(audio) < 3 * step  # the clip spans three windows: two joins
    for join in (step, 2 * step):
        around = steps[join - 200 : join + 200]
        assert around.max() <= 2 * typical, (join, around.max(), typical)


@pytest.mark.parametrize(
    ("fmt", "depth", "subtype"),
    [("wav", "16", "PCM_16"), ("wav", "24", "PCM_24"), ("wav", "32f", "FLOAT"), ("flac", None, "PCM_24"),
     ("ogg", None, "VORBIS"), ("mp3", None, "MPEG_LAYER_III")],
)
def test_formats_and_tags(models, tmp_path, fmt, depth, subtype):
    args = ["--format", fmt, *(["--bit-depth", depth] if depth else []), "-d", "1", "--seed", "9"]
    _, (record,) = generate(models["alpha"], tmp_path, *args)
    assert record["path"].endswith(f".{fmt}")
    with soundfile.SoundFile(record["path"]) as f:
        assert f.subtype == subtype and f.samplerate == 48000
        assert f.frames == 48000  # libsndfile's MP3 writer and reader agree on the length too
        assert f.title == "alpha #9" and f.artist == "distill model alpha"
        assert "seed=9" in f.comment and "vocoder=griffinlim" in f.comment


@pytest.mark.parametrize("fmt", ["ogg", "mp3"])
def test_lossy_formats_are_refused_above_48_khz(models, tmp_path, fmt):
    result = run_cli("generate", str(models["alpha"]), "--format", fmt, "--sample-rate", "96000", "-o",
                     str(tmp_path), expect=1)
    assert f"{fmt} cannot hold 96000 Hz audio; use 48000 or less" in result.stderr
    assert not list(tmp_path.iterdir())


def test_replay_is_bit_identical_in_a_fresh_process(models, tmp_path):
    _, (record,) = generate(models["alpha"], tmp_path / "a", "-d", "1.3", "--seed", "31", "--evolution", "0.7")
    replayed = json.loads(run_distill("generate", "--replay", record["path"] + ".json", "-o", str(tmp_path / "b"),
                                      "--json").stdout)
    assert np.array_equal(soundfile.read(record["path"])[0], soundfile.read(replayed["path"])[0])


def test_blending_models_of_different_recipes_mixes_audio(models, tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_THREADS", "2")  # the clips compared are rendered apart: same bits needed
    other = load_model(models["beta"])
    # Another recipe at the same rate (hop 384: more frames, and chunks of other lengths): mels cannot be mixed,
    # audio can.
    other.mel_spec = MelSpec(fmin=30.0, hop_length=384)
    odd = tmp_path / "odd.distill"
    save_model(other, odd)
    _, (record,) = generate(models["alpha"], tmp_path / "out", "--vocoder", "griffinlim", "--blend", f"{odd}:0.3",
                            "-d", "7.5", "--seed", "2", "--bit-depth", "32f", "--normalize", "none")
    assert "blending 2 models in the audio domain (their mel recipes differ)" in record["warnings"]
    sidecar = json.loads(Path(record["path"] + ".json").read_text())
    assert sidecar["blend_mode"] == "audio" and sidecar["blend"][0]["weight"] == 0.3
    blended = soundfile.read(record["path"])[0]
    # Each model renders chunk by chunk beside the other (windows of 256 frames here): the mix equals
    # the two clips rendered alone, weighted.
    paths = {name: generate(model, tmp_path / name, "--vocoder", "griffinlim", "-d", "7.5", "--seed", "2",
                            "--bit-depth", "32f", "--normalize", "none")[1][0]["path"]
             for name, model in (("alpha", models["alpha"]), ("odd", odd))}
    solo = {name: soundfile.read(path)[0] for name, path in paths.items()}
    assert len(blended) == round(7.5 * 48000)
    # Each file was turned down to -1 dBFS if it peaked above it (its sidecar's gain, in rounded dB):
    # the mix is the two clips rendered alone, weighted, up to those gains.
    sidecars = {"blend": record["path"], **paths}
    gains = {name: 10 ** (json.loads(Path(path + ".json").read_text())["level"]["gain_db"] / 20)
             for name, path in sidecars.items()}
    parts = np.stack([solo["alpha"] / gains["alpha"], solo["odd"] / gains["odd"]], axis=1)
    weights, *_ = np.linalg.lstsq(parts, blended / gains["blend"], rcond=None)
    assert np.abs(parts @ weights - blended / gains["blend"]).max() < 1e-5 * np.abs(blended).max() / gains["blend"]
    assert weights == pytest.approx([0.7, 0.3], rel=0.01)  # the gains are recorded to 0.01 dB
    assert not np.allclose(blended, solo["alpha"])


def test_normalize_modes_never_clip(models, tmp_path):
    for mode in ("peak", "lufs", "none"):
        _, (record,) = generate(models["alpha"], tmp_path / mode, "-d", "1", "--seed", "5", "--normalize", mode)
        audio = soundfile.read(record["path"])[0]
        assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-4, mode


def test_count_names_and_never_overwrite(models, tmp_path):
    _, records = generate(models["alpha"], tmp_path, "-n", "3", "--seed", "20", "-d", "0.5")
    assert [Path(r["path"]).name for r in records] == ["alpha-20.wav", "alpha-21.wav", "alpha-22.wav"]
    before = Path(records[0]["path"]).read_bytes()
    result, _ = generate(models["alpha"], tmp_path, "--seed", "20", "-d", "0.9", expect=1)
    assert "already exists" in result.stderr and "--overwrite" in result.stderr
    assert Path(records[0]["path"]).read_bytes() == before
    generate(models["alpha"], tmp_path, "--seed", "20", "-d", "0.9", "--overwrite")
    assert len(soundfile.read(records[0]["path"])[0]) == round(0.9 * 48000)


def test_vocoder_is_loaded_once_per_process(models, tmp_path, monkeypatch):
    from distill_griffinlim.vocoders import GriffinLim

    calls = []
    original = GriffinLim.load.__func__

    def counting_load(cls, state=None, device="cpu"):
        calls.append(device)
        return original(cls, state, device)

    monkeypatch.setattr(GriffinLim, "load", classmethod(counting_load))
    generate(models["alpha"], tmp_path, "-n", "3", "-d", "0.3", "--seed", "1",
             "--blend", f"{models['beta']}:0.5")
    assert calls == ["cpu"]


def test_presets(models, tmp_path):
    model = load_model(models["alpha"])
    first = model.sliders.sliders[0]
    run_cli("preset", "save", str(models["alpha"]), "dark", "--slider", f"{first.name}={first.low}")
    listing = json.loads(run_cli("preset", "list", str(models["alpha"]), "--json").stdout)
    assert listing == {"dark": {first.name: first.low}}
    _, (with_preset,) = generate(models["alpha"], tmp_path / "a", "--preset", "dark", "-d", "1", "--seed", "2")
    _, (explicit,) = generate(models["alpha"], tmp_path / "b", "--slider", f"{first.name}={first.low}", "-d", "1",
                              "--seed", "2")
    assert np.array_equal(soundfile.read(with_preset["path"])[0], soundfile.read(explicit["path"])[0])
    result = run_cli("generate", str(models["alpha"]), "--preset", "bright", "-o", str(tmp_path), expect=1)
    assert "no preset 'bright'" in result.stderr and "dark" in result.stderr
    run_cli("preset", "delete", str(models["alpha"]), "dark")
    assert json.loads(run_cli("preset", "list", str(models["alpha"]), "--json").stdout) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "0"], "duration must be between 0.1 and 600"),
        (["-d", "601"], "duration must be between 0.1 and 600"),
        (["--from-audio", "nope.wav"], "--from-audio file not found: nope.wav"),
        (["--morph", "nope.wav", "seed:2"], "neither an audio file nor seed:N"),
        (["--vocoder", "no-such-vocoder"], "'no-such-vocoder' is not installed (installed: "),
        (["--blend", "alpha:1.5"], "add up to less than 1"),
        (["--format", "wav", "--bit-depth", "32f", "--output", "x.flac"], "does not end in .wav"),
    ],
)
def test_bad_input_is_one_clear_line(models, tmp_path, args, message):
    result = run_cli("generate", str(models["alpha"]), "-o", str(tmp_path), *args, expect=None)
    assert result.exit_code != 0
    assert message in result.stderr
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_blending_different_sample_rates_is_refused(models, tmp_path):
    other = load_model(models["beta"])
    other.mel_spec = MelSpec(sample_rate=48000)
    odd = tmp_path / "odd.distill"
    save_model(other, odd)
    result = run_cli("generate", str(models["alpha"]), "--blend", f"{odd}:0.5", "-o", str(tmp_path / "out"), expect=1)
    assert "different sample rates" in result.stderr and "48000 Hz" in result.stderr


def test_no_vocoder_says_what_to_install(models, tmp_path):
    result = run_cli("generate", str(models["alpha"]), "-o", str(tmp_path), env={"DISTILL_LOAD_PLUGINS": ""}, expect=1)
    assert 'pip install "distill[bigvgan]"' in result.stderr and "train-vocoder" in result.stderr
    assert not list(tmp_path.iterdir())


def test_model_analyze_of_a_briefly_trained_model_says_why_it_has_no_named_sliders(models, tmp_path):
    path = tmp_path / "alpha.distill"
    shutil.copyfile(models["alpha"], path)
    old = [(s.name, s.low, s.high) for s in load_model(path).sliders.sliders]
    result = run_cli("model", "analyze", str(path))
    assert "a model trained for 30 steps (under 200) has not learned enough to measure them" in result.output
    analysed = load_model(path).sliders
    assert not analysed.controls and [(s.name, s.low, s.high) for s in analysed.sliders] == old

    moved = tmp_path / "moved"
    shutil.copytree(models["corpus"], moved)
    model = load_model(path)
    model.training["corpus_path"] = str(tmp_path / "gone")
    save_model(model, path)
    result = run_cli("model", "analyze", str(path), expect=1)
    assert f"not at {tmp_path / 'gone'} any more: pass --audio DIR" in result.stderr
    run_cli("model", "analyze", str(path), "--audio", str(moved))


def test_a_model_made_before_named_sliders_keeps_its_sliders_presets_and_sidecars(models, tmp_path):
    """Such a model has only the old sliders: they are what --slider names, its old presets apply them,
    and a sidecar written before named sliders (no "controls") replays bit for bit."""
    path = tmp_path / "old.distill"
    model = load_model(models["alpha"])
    model.sliders.controls, model.sliders.directions, model.sliders.calibration = [], None, {}
    save_model(model, path)
    first = model.sliders.sliders[0]
    _, (clip,) = generate(path, tmp_path / "a", "-d", "1", "--seed", "3", "--slider", f"{first.name}={first.high}")
    sidecar = json.loads(Path(clip["path"] + ".json").read_text())
    assert sidecar["settings"]["sliders"] == [[first.name, first.high]] and not sidecar["settings"]["controls"]
    del sidecar["settings"]["controls"]  # as sidecars were written before named sliders
    Path(clip["path"] + ".json").write_text(json.dumps(sidecar))
    replayed = json.loads(run_cli("generate", "--replay", clip["path"] + ".json", "--json").stdout)
    assert np.array_equal(soundfile.read(clip["path"])[0], soundfile.read(replayed["path"])[0])
    presets = Path(os.environ["DISTILL_HOME"]) / "models" / f"{model.name}.presets.json"
    presets.parent.mkdir(parents=True, exist_ok=True)
    presets.write_text(json.dumps({"warm": {"sliders": {first.name: first.high}}}))  # an old preset
    _, (with_preset,) = generate(path, tmp_path / "b", "-d", "1", "--seed", "3", "--preset", "warm")
    assert np.array_equal(soundfile.read(clip["path"])[0], soundfile.read(with_preset["path"])[0])
