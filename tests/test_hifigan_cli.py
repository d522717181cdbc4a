"""`distill train-vocoder` and `distill vocoders compare` through the real CLI, on tiny corpora: the
generator (and only the generator) lands in the model file with figures measured on held-out audio,
auto-selection follows those figures, the under-trained warning reaches the user, and resuming after
kill -9 or Ctrl-C ends with the same weights as an uninterrupted run, fine-tuned from the base or
trained from scratch."""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path

import pytest
import safetensors
import soundfile
import torch
from conftest import interrupt_after, run_cli, run_distill, start_distill, wait_for_checkpoint
from distill.checkpoint import load_checkpoint, save_checkpoint
from distill.examples import make_example_corpus
from distill.library import checkpoint_dir
from distill.modelfile import load_model, read_header, save_model
from distill_hifigan.config import GeneratorConfig
from distill_hifigan.networks import Generator, fold_weight_norm
from distill_hifigan.settings import ENOUGH_STEPS
from distill_hifigan.trainer import CHECKPOINT_FORMAT
from signals import harmonic_tone

PLUGINS = {"DISTILL_LOAD_PLUGINS": "distill-hifigan,distill-griffinlim"}
TINY = ["--backend", "hifigan", "--batch-size", "2", "--segment", "4096", "--seed", "5"]  # fine-tuned from the base
SCRATCH = [*TINY, "--from-scratch"]  # HiFi-GAN V2 from random weights
GENERATOR_KEYS = set(fold_weight_norm(Generator(GeneratorConfig())).state_dict())
UNIVERSAL = {"hifigan-base", "griffinlim", "griffinlim-22k"}  # what PLUGINS offers every model


@pytest.fixture(scope="module")
def vae_model(tmp_path_factory) -> dict[str, Path]:
    """A small trained model (5 recordings, one of them held out) outside any test's library."""
    root = tmp_path_factory.mktemp("hifigan")
    corpus = root / "sounds"
    make_example_corpus(corpus, files=5, seconds=1.5, seed=4)
    run_cli("train", str(corpus), "--name", "plain", "--steps", "20", "--batch-size", "4",
            env={"DISTILL_HOME": str(root / "home"), **PLUGINS})
    return {"root": root, "corpus": corpus, "model": root / "home" / "models" / "plain.distill"}


@pytest.fixture(scope="module")
def bundled(vae_model) -> dict:
    """The same model with a 6-step HiFi-GAN V2 (from scratch) bundled by `distill train-vocoder`."""
    root = vae_model["root"]
    path = root / "voiced.distill"
    shutil.copyfile(vae_model["model"], path)
    env = {"DISTILL_HOME": str(root / "home-voiced"), **PLUGINS}
    result = run_cli("train-vocoder", str(path), *SCRATCH, "--steps", "6", "--json", env=env)
    return {"path": path, "record": json.loads(result.stdout), "stderr": result.stderr, "env": env,
            "size_before": vae_model["model"].stat().st_size}


def generate(model: Path, out: Path, *args: str) -> dict:
    result = run_cli("generate", str(model), "-d", "1", "--seed", "1", "-o", str(out), "--json", *args, env=PLUGINS)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_model_file_grows_by_the_generator_only(bundled):
    record = bundled["record"]
    assert record["steps"] == 6 and record["backend"] == "hifigan"
    with safetensors.safe_open(bundled["path"], "pt") as tensors:
        keys = set(tensors.keys())
        vocoder_bytes = sum(tensors.get_tensor(k).numel() * 4 for k in keys if k.startswith("vocoder."))
    bundled_keys = {k.removeprefix("vocoder.hifigan.") for k in keys if k.startswith("vocoder.")}
    assert bundled_keys == GENERATOR_KEYS  # inference weights, weight norm folded: nothing else
    assert not any(word in k for k in bundled_keys for word in ("disc", "opt", "exp_avg", "periods", "original"))
    assert {k.split(".")[0] for k in keys} == {"vae", "sliders", "prior", "vocoder"}
    assert vocoder_bytes == 4 * 971_041  # ~3.9 MB of float32
    growth = bundled["path"].stat().st_size - bundled["size_before"]
    assert growth == record["bytes_added"]
    assert vocoder_bytes <= growth < vocoder_bytes + 64_000  # plus a few kB of header (config, metadata)
    # The discriminators and optimisers exist, in the checkpoint beside the library, not in the model.
    checkpoint = torch.load(Path(record["checkpoint"]) / "checkpoint.pt", weights_only=True)
    assert {"discriminators", "opt_g", "opt_d", "sampler", "noise"} <= set(checkpoint)
    assert Path(record["checkpoint"]).is_relative_to(bundled["env"]["DISTILL_HOME"])


def test_training_metadata_is_bundled(bundled, vae_model):
    model = load_model(bundled["path"])
    state = model.vocoder_state["hifigan"]
    training = state.training
    assert training["steps"] == 6 and training["warmup_steps"] == 3 and training["adversarial_steps"] == 3
    assert training["from"] == "scratch"
    assert training["corpus_fingerprint"] == model.training["corpus_fingerprint"]
    assert training["files"] == 4  # the held-out recording is never trained on
    assert set(training["losses"]) >= {"mel", "g", "d", "fm"} and training["minutes"] > 0
    assert training["versions"]["distill-hifigan"] and training["versions"]["torch"] == torch.__version__
    assert state.config["generator"]["upsample_rates"] == [8, 8, 4, 2]
    assert state.mel_spec == model.mel_spec
    assert "6/6" in bundled["stderr"]  # a progress bar counted in steps
    assert "mel=" in bundled["stderr"] and "d=" in bundled["stderr"] and "steps/s" in bundled["stderr"]


def test_train_vocoder_stores_figures_and_auto_follows_them(bundled, vae_model):
    """The figures measured at the end of train-vocoder rank the bundled vocoder against the universal ones."""
    figures = load_model(bundled["path"]).vocoder_state["hifigan"].training["figures"]
    assert figures["files"] == 1 and set(figures["rows"]) == {"hifigan"} | UNIVERSAL
    assert all(1.0 <= row["visqol"] <= 5.0 and row["mr_stft"] > 0 for row in figures["rows"].values())
    assert all(row["lines_db"] >= 0 and row["ripple_db"] >= 0 for row in figures["rows"].values())
    assert figures == bundled["record"]["figures"]
    # The universal rival is the best-ranked one auto would use without the bundled state: hifigan-base.
    assert generate(vae_model["model"], bundled["path"].parent / "plain")["vocoder"] == "hifigan-base"
    # One held-out recording of 1.5 s: too little audio to tell two vocoders apart, so auto keeps the base.
    assert figures["rows"]["hifigan"]["visqol_segments"] == figures["rows"]["hifigan-base"]["visqol_segments"] == []
    assert bundled["record"]["auto"]["vocoder"] == "hifigan-base"
    assert "too little held-out audio was measured (0 segments of 2 s" in bundled["record"]["auto"]["reason"]


@pytest.mark.parametrize("bundled_wins", [True, False])
def test_auto_never_prefers_a_bundled_vocoder_that_measured_worse(bundled, tmp_path, bundled_wins):
    model = load_model(bundled["path"])
    rows = model.vocoder_state["hifigan"].training["figures"]["rows"]
    rows["hifigan-base"]["visqol_segments"] = [3.5, 3.6, 3.4, 3.5]
    rows["hifigan"]["visqol_segments"] = [3.9, 4.0, 3.8, 3.9] if bundled_wins else [3.2, 3.3, 3.1, 3.2]
    for row in rows.values():  # (a 6-step fine-tune adds lines of its own: tests/test_selection.py judges those)
        row["lines_db"], row["ripple_db"] = 3.0, 3.5
    path = tmp_path / "measured.distill"
    save_model(model, path)
    result = run_cli("generate", str(path), "-d", "0.5", "--seed", "1", "-o", str(tmp_path / "out"), "--json",
                     env=PLUGINS)
    record = json.loads(result.stdout.strip().splitlines()[-1])
    if bundled_wins:
        assert record["vocoder"] == "hifigan", record["reason"]
        assert record["reason"] == ("'hifigan' (bundled) measured better than 'hifigan-base': "
                                    "ViSQOL 3.90 vs 3.50, +0.40 ± 0.00 over 4 held-out segments")
    else:
        assert record["vocoder"] == "hifigan-base"
        assert record["reason"] == ("'hifigan-base' is used: the bundled 'hifigan' is not better than 'hifigan-base' "
                                    "beyond the noise: ViSQOL 3.20 vs 3.50 ± 0.00 over 4 held-out segments (it must "
                                    "win by more than 0.05)")
        assert any("'hifigan-base' is used. Train it further or re-measure it" in w and "compare MODEL --save" in w
                   for w in record["warnings"])
    assert max(abs(x) for x in soundfile.read(record["path"])[0]) > 0


def test_generate_shows_the_under_trained_warning(bundled, tmp_path):
    result = run_cli("generate", str(bundled["path"]), "-d", "0.5", "-o", str(tmp_path), "--vocoder", "hifigan",
                     env=PLUGINS)
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("trained for only 6 steps" in line and "quality may be limited" in line
               and "distill train-vocoder MODEL --resume" in line for line in lines), result.stderr
    # At the threshold the warning goes away.
    model = load_model(bundled["path"])
    model.vocoder_state["hifigan"].training["steps"] = ENOUGH_STEPS
    enough = tmp_path / "enough.distill"
    save_model(model, enough)
    result = run_cli("generate", str(enough), "-d", "0.5", "-o", str(tmp_path / "e"), "--vocoder", "hifigan",
                     env=PLUGINS)
    assert "vocoder: hifigan" in result.stderr and "quality may be limited" not in result.stderr


def test_vocoders_compare(bundled, tmp_path):
    path = tmp_path / "compared.distill"
    shutil.copyfile(bundled["path"], path)
    result = run_cli("vocoders", "compare", str(path), "--json", env=PLUGINS)
    report = json.loads(result.stdout)
    rows = {row["name"]: row for row in report["rows"]}
    assert set(rows) == {"hifigan", "griffin-lim 32 it (baseline)"} | UNIVERSAL and report["skipped"] == []
    assert rows["hifigan"]["kind"] == "bundled" and rows["griffinlim-22k"]["kind"] == "converted"
    assert "1 held-out recording" in report["measured_on"]
    for row in rows.values():
        assert all(math.isfinite(row[key]) for key in ("log_mel_l1", "mr_stft", "snr_db", "speed", "visqol"))
        assert row["log_mel_l1"] > 0 and row["speed"] > 0 and 1.0 <= row["visqol"] <= 5.0
        assert 0.0 <= row["voicing_error"] <= 1.0 and (row["pitch_cents"] is None or row["pitch_cents"] >= 0)
    assert [row["visqol"] for row in report["rows"]] == sorted((row["visqol"] for row in report["rows"]), reverse=True)
    # The baseline is our own Griffin-Lim: with the same iterations and seed it matches the plugin's.
    for key in ("log_mel_l1", "visqol"):
        assert rows["griffin-lim 32 it (baseline)"][key] == pytest.approx(rows["griffinlim"][key], abs=1e-3)
    table = run_cli("vocoders", "compare", str(path), env=PLUGINS).stdout
    assert "VISQOL" in table and "PITCH ERR" in table and "hifigan" in table and "baseline" in table
    # --save re-measures and stores the figures where auto-selection reads them.
    model = load_model(path)
    model.vocoder_state["hifigan"].training["figures"] = {"files": 1, "rows": {}}
    save_model(model, path)
    saved = json.loads(run_cli("vocoders", "compare", str(path), "--save", "--json", env=PLUGINS).stdout)
    assert saved["saved"]
    figures = load_model(path).vocoder_state["hifigan"].training["figures"]
    assert figures["rows"]["hifigan"]["visqol"] == pytest.approx(rows["hifigan"]["visqol"], abs=1e-3)
    assert set(figures["rows"]) == {"hifigan"} | UNIVERSAL


def test_resume_trains_further_and_refuses_what_it_cannot_do(bundled, tmp_path):
    path = tmp_path / "further.distill"
    shutil.copyfile(bundled["path"], path)
    env = bundled["env"]  # the library holding the 6-step run's checkpoint
    result = run_cli("train-vocoder", str(path), "--resume", "--json", env=env, expect=1)
    assert "already trained 6 steps" in result.stderr and "larger --steps" in result.stderr
    result = run_cli("train-vocoder", str(path), *SCRATCH, "--steps", "4", env=env, expect=1)
    assert "left a checkpoint" in result.stderr and "--resume" in result.stderr and "--restart" in result.stderr
    record = json.loads(run_cli("train-vocoder", str(path), "--backend", "hifigan", "--resume", "--steps", "7",
                                "--json", env=env).stdout)  # continues from scratch, as the checkpoint began
    assert record["steps"] == 7
    assert load_model(path).vocoder_state["hifigan"].training["steps"] == 7


def test_backend_choice_and_corpus_problems_say_what_to_do(vae_model, tmp_path):
    path = tmp_path / "m.distill"
    shutil.copyfile(vae_model["model"], path)
    # Several trainable backends: the one auto ranks first (priority, then name) is trained, and said so.
    result = run_cli("train-vocoder", str(path), *TINY[2:], "--steps", "1", "--json", env=PLUGINS)
    assert json.loads(result.stdout)["backend"] == "hifigan"  # priority 10 beats -50, though its name sorts later
    assert ("several trainable vocoders are installed (griffinlim-fitted, hifigan); training 'hifigan', the one "
            "auto ranks first: choose another with --backend NAME") in result.stderr
    shutil.copyfile(vae_model["model"], path)
    shutil.rmtree(Path(os.environ["DISTILL_HOME"]) / "checkpoints")
    result = run_cli("train-vocoder", str(path), "--backend", "griffinlim", env=PLUGINS, expect=1)
    assert "'griffinlim' is not trainable per model" in result.stderr
    result = run_cli("train-vocoder", str(path), "--resume", *TINY, env=PLUGINS, expect=1)
    assert "no hifigan training of 'plain' to resume" in result.stderr
    result = run_cli("train-vocoder", str(path), *TINY, "--steps", "1", "--audio", str(tmp_path / "gone"),
                     env=PLUGINS, expect=1)
    assert "not at" in result.stderr and "--audio DIR" in result.stderr
    # The recordings moved, and one is missing: --audio finds them, with a warning about the difference.
    moved = tmp_path / "moved"
    shutil.copytree(vae_model["corpus"], moved)
    sorted(moved.glob("*.wav"))[-1].unlink()
    result = run_cli("train-vocoder", str(path), *TINY, "--steps", "2", "--audio", str(moved), env=PLUGINS)
    assert "differs from what 'plain' was trained on" in result.stdout
    assert load_model(path).vocoder_state["hifigan"].training["steps"] == 2
    assert not checkpoint_dir("plain").joinpath("griffinlim-fitted").exists()


class Payload:
    """Unpickling this would run code: a checkpoint holding it must be refused, not loaded."""

    def __reduce__(self):
        return (Path.touch, (Path(os.environ["DISTILL_HOME"]) / "pwned",))


def test_checkpoints_are_loaded_without_running_code(vae_model, tmp_path):
    path = tmp_path / "m.distill"
    shutil.copyfile(vae_model["model"], path)
    folder = Path(os.environ["DISTILL_HOME"]) / "checkpoints" / "plain" / "hifigan"
    folder.mkdir(parents=True)
    torch.save({"format": "distill-hifigan-checkpoint", "step": Payload()}, folder / "checkpoint.pt")
    result = run_cli("train-vocoder", str(path), *TINY, "--resume", env=PLUGINS, expect=1)
    assert "is not a checkpoint that distill wrote" in result.stderr and "--restart" in result.stderr
    assert "weights_only" not in result.stderr  # never torch's advice to load unsafely
    assert not (Path(os.environ["DISTILL_HOME"]) / "pwned").exists()


def test_another_trainable_backend_uses_the_same_command(vae_model, tmp_path):
    path = tmp_path / "fitted.distill"
    shutil.copyfile(vae_model["model"], path)
    run_cli("train-vocoder", str(path), "--backend", "griffinlim-fitted", env=PLUGINS)
    figures = load_model(path).vocoder_state["griffinlim-fitted"].training["figures"]
    assert set(figures["rows"]) == {"griffinlim-fitted"} | UNIVERSAL
    assert generate(path, tmp_path, "--vocoder", "griffinlim-fitted")["vocoder"] == "griffinlim-fitted"


def test_one_short_file_fewer_files_than_the_batch_and_a_time_budget(tmp_path):
    corpus = tmp_path / "one"
    corpus.mkdir()
    soundfile.write(corpus / "blip.wav", harmonic_tone(440, 0.12), 44100)  # 5292 samples: under one segment
    env = {"DISTILL_HOME": str(tmp_path / "home"), **PLUGINS}
    run_cli("train", str(corpus), "--name", "blip", "--steps", "10", "--batch-size", "2", env=env)
    record = json.loads(run_cli("train-vocoder", "blip", "--backend", "hifigan", "--batch-size", "4", "--steps", "2",
                                "--json", env=env).stdout)  # default 8192-sample segments
    assert record["steps"] == 2
    record = json.loads(run_cli("train-vocoder", "blip", "--backend", "hifigan", "--restart", "--minutes", "0.1",
                                *TINY[2:], "--json", env=env).stdout)
    assert record["minutes"] >= 0.1 and record["steps"] >= 1


@pytest.mark.parametrize("origin", [TINY, SCRATCH], ids=["from-base", "from-scratch"])
def test_resumed_run_ends_with_the_same_weights(vae_model, tmp_path, origin, monkeypatch):
    """Interrupted after step 5 through the cancel token (no signal races the run), resumed in a
    fresh process: it says where it resumed, runs the rest, and ends where an uninterrupted run does."""
    monkeypatch.setenv("DISTILL_THREADS", "2")  # a resumed run equals an uninterrupted one at the same thread count
    args = [*origin, "--steps", "12", "--checkpoint-every", "2"]
    reference_path = tmp_path / "whole.distill"
    shutil.copyfile(vae_model["model"], reference_path)
    run_distill("train-vocoder", str(reference_path), *args, env={"DISTILL_HOME": str(tmp_path / "a"), **PLUGINS})
    reference = load_model(reference_path).vocoder_state["hifigan"].weights

    scratch = "--from-scratch" in origin
    settings = {"backend": "hifigan", "batch_size": 2, "segment": 4096, "seed": 5, "steps": 12,
                "checkpoint_every": 2, "from_scratch": scratch}
    checkpoints = {}
    for name, home in (("cut", tmp_path / "b"), ("bent", tmp_path / "c")):
        path = tmp_path / f"{name}.distill"
        shutil.copyfile(vae_model["model"], path)
        env = {"DISTILL_HOME": str(home), **PLUGINS}
        stop = interrupt_after(5, "train_vocoder", path, env=env, **settings)
        checkpoints[name] = (path, env, Path(stop["checkpoint"]))
        assert stop["step"] == 5 and read_header(path)["vocoder_state"] == {}  # nothing written into the model
        command = ["distill", "train-vocoder", str(path), "--backend", "hifigan", "--resume"]
        assert stop["resume"] == shlex.join(command + (["--from-scratch"] if scratch else []))

    path, env, _ = checkpoints["cut"]
    record = json.loads(run_distill("train-vocoder", str(path), "--backend", "hifigan", "--resume", "--json",
                                    env=env).stdout)
    assert record["resumed_from"] == 5 and record["steps"] == 12  # it ran the 7 steps left
    resumed = load_model(path).vocoder_state["hifigan"]
    assert resumed.weights.keys() == reference.keys()
    for key in reference:
        assert torch.equal(resumed.weights[key], reference[key]), key

    # Training really continues from the checkpoint: change its weights and the result changes.
    path, env, checkpoint = checkpoints["bent"]
    state = load_checkpoint(checkpoint, CHECKPOINT_FORMAT)
    state["generator"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in state["generator"].items()}
    save_checkpoint(checkpoint, CHECKPOINT_FORMAT, {k: v for k, v in state.items() if k != "format"})
    run_distill("train-vocoder", str(path), "--backend", "hifigan", "--resume", env=env)
    bent = load_model(path).vocoder_state["hifigan"].weights
    assert any(not torch.equal(bent[key], reference[key]) for key in reference)


def test_ctrl_c_saves_a_checkpoint_and_prints_the_resume_command(vae_model, tmp_path):
    path = tmp_path / "cut.distill"
    shutil.copyfile(vae_model["model"], path)
    env = {**os.environ, "DISTILL_HOME": str(tmp_path / "b"), **PLUGINS}
    checkpoint = tmp_path / "b" / "checkpoints" / "plain" / "hifigan" / "checkpoint.pt"
    args = [*TINY, "--steps", "100000", "--checkpoint-every", "2"]  # it cannot finish before the signal
    process = start_distill("train-vocoder", str(path), *args, env=env)
    wait_for_checkpoint(process, checkpoint)
    process.kill()  # kill -9: the checkpoint stays, the model file is untouched
    process.wait()
    assert read_header(path)["vocoder_state"] == {}
    process = start_distill("train-vocoder", str(path), *args, "--resume", env=env)
    wait_for_checkpoint(process, checkpoint, checkpoint.stat().st_mtime_ns)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert "checkpoint saved to" in stderr
    command = ["distill", "train-vocoder", str(path), "--backend", "hifigan", "--resume"]
    assert f"Resume with: {shlex.join(command)}" in stderr
    assert read_header(path)["vocoder_state"] == {}


_OPENED: list[str] | None = None  # while a list: every file path opened in this process


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.fsdecode(args[0]))


def test_train_vocoder_reads_the_model_once_and_decodes_each_recording_once(vae_model, tmp_path, monkeypatch):
    """Counted in the process itself (Python's audit hook sees every file opened): the model file is
    opened twice (its header checked, then read whole), never again before saving; each recording of the
    corpus is decoded once, though the scan, the training data and the held-out measurement read it."""
    global _OPENED
    import distill
    from distill.audio import DECODED
    from distill.plugin import host

    monkeypatch.setenv("DISTILL_LOAD_PLUGINS", PLUGINS["DISTILL_LOAD_PLUGINS"])
    host._hosts.clear()
    path = tmp_path / "once.distill"
    shutil.copyfile(vae_model["model"], path)
    sys.addaudithook(_audit)
    before, _OPENED = DECODED.decodes, []
    try:
        distill.train_vocoder(path, backend="hifigan", steps=2, batch_size=2, segment=4096, seed=5)
        opened = _OPENED
    finally:
        _OPENED = None
    assert opened.count(str(path)) == 2, opened
    recordings = sorted(vae_model["corpus"].glob("*.wav"))
    assert DECODED.decodes - before == len(recordings) == 5
    assert all(opened.count(str(r)) >= 2 for r in recordings)  # each read for its hash at least twice
