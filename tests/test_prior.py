"""The learned prior over latent sequences: trained inside `distill train`, stored in the model file,
resumed bit for bit, streamed for 10 minutes in flat memory, replayed bit for bit, and making new
material with attacks on a corpus of plucks where the Gaussian prior makes none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import interrupt_after, run_cli, run_distill
from distill.examples import make_example_corpus, pluck
from distill.library import checkpoint_dir, model_path
from distill.modelfile import load_model, read_header, save_model
from distill.pipeline import GenerationSettings, LoadedModel
from distill.threads import default_threads

pytestmark = pytest.mark.usefixtures("griffin_lim_only")  # the example plugin renders (conftest)


@pytest.fixture(scope="module")
def plucks(tmp_path_factory) -> Path:
    """A model of eight plucked strings (1.5 s each), trained long enough to learn them (about 25 s)."""
    root = tmp_path_factory.mktemp("plucks")
    rng = np.random.default_rng(0)
    for i in range(8):
        wave = pluck(rng, 1.5)
        soundfile.write(root / f"pluck-{i}.wav", (0.7 * wave / np.abs(wave).max()).astype(np.float32), 44100)
    home = root / "home"
    # A fixed thread count: the weights (and so how many attacks six seeds happen to draw) stay the same
    # whatever else the machine runs meanwhile.
    run_cli("train", str(root), "--name", "plucks", "--steps", "400", "--batch-size", "8",
            env={"DISTILL_HOME": str(home), "DISTILL_THREADS": "2"})
    return home / "models" / "plucks.distill"


def onsets(mel: torch.Tensor) -> int:
    """Attacks in log-mels: level rises of over 12 dB within 3 frames (35 ms), counted once each."""
    level = torch.logsumexp(2 * mel, dim=0) * 10 / np.log(10)
    hits = (level[3:] - level[:-3] > 12).int()
    return int((hits[1:] - hits[:-1] > 0).sum())


def test_the_learned_prior_is_trained_stored_and_reported(plucks):
    header = read_header(plucks)
    assert header["prior"]["kind"] == "gru-mdn-qualities" and header["prior"]["training"]["steps"] == 200
    assert header["prior"]["config"]["qualities"] == 5  # it plays what the decoder is told
    model = load_model(plucks)
    assert model.prior is not None and {"silence", "character_mean", "character_std"} <= model.prior.tensors.keys()
    info = run_cli("model", "info", str(plucks)).stdout
    assert "prior       learned (gru-mdn-qualities, 200 steps" in info
    loaded = LoadedModel(model)
    z, played = loaded.latents(GenerationSettings(seconds=2, seed=1, prior="learned"), 22)
    assert z.shape == (16, 22) and played is not None and played.shape == (5, 22)
    told = loaded.conditions(z, GenerationSettings(seconds=2, seed=1, prior="learned", controls=()), played)
    assert told is not None and torch.equal(told, played)  # no control moved: the decoder is told what was played


def test_a_prior_of_latents_alone_still_generates_and_replays(plucks, tmp_path):
    """Priors made before the prior played the qualities (kind gru-mdn) keep generating, their decoder
    told what `describe` reads from the latents, and replay bit for bit."""
    from distill.audio import read_audio
    from distill.model import PriorState
    from distill.prior import LATENTS_ONLY, PriorSettings, TrainedPrior, prior_data, train_prior

    model = load_model(plucks)
    loaded = LoadedModel(model)
    corpus = sorted(plucks.parent.parent.parent.glob("*.wav"))
    mels = [model.mel_spec.mel(torch.from_numpy(read_audio(f, model.mel_spec.sample_rate).audio)) for f in corpus]
    data = prior_data(loaded.vae, model.sliders, mels, [], 4, loaded.latent_rate, model.mel_spec)  # no pitch tracks
    result = train_prior(data, PriorSettings(steps=5), tmp_path / "prior.ckpt", fingerprint="old")
    assert result.prior.qualities == 0 and result.prior.dims == 16
    trained = TrainedPrior(result.prior, data.silence, result.character_mean, result.character_std)
    model.prior = PriorState(LATENTS_ONLY, result.prior.config, {"steps": 5}, trained.tensors())
    save_model(model, tmp_path / "old.distill")
    old = LoadedModel(load_model(tmp_path / "old.distill"))
    z, played = old.latents(GenerationSettings(seconds=2, seed=1, prior="learned"), 22)
    assert z.shape == (16, 22) and played is None
    for name in ("a", "b"):
        run_cli("generate", str(tmp_path / "old.distill"), "-d", "1.5", "--seed", "3", "--output",
                str(tmp_path / f"{name}.wav"))
    assert soundfile.read(tmp_path / "a.wav")[0].tobytes() == soundfile.read(tmp_path / "b.wav")[0].tobytes()
    assert np.abs(soundfile.read(tmp_path / "a.wav")[0]).max() > 0.01


def test_plucks_have_attacks_from_the_learned_prior_and_none_from_the_gaussian(plucks):
    loaded = LoadedModel(load_model(plucks))
    frames = 690  # 8 s of log-mel frames
    learned = [onsets(loaded.mel(GenerationSettings(seconds=8, seed=s, prior="learned"), frames)) for s in range(6)]
    gaussian = [onsets(loaded.mel(GenerationSettings(seconds=8, seed=s, prior="gaussian"), frames)) for s in range(6)]
    assert sum(count > 0 for count in learned) >= 3 and sum(learned) >= 6, learned
    assert sum(gaussian) <= 1, gaussian


def test_prior_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_THREADS", "2")  # a resumed run equals an uninterrupted one at the same thread count
    corpus = tmp_path / "sounds"
    make_example_corpus(corpus, files=6, seconds=1.5, seed=3)
    settings = {"steps": 40, "batch_size": 4, "checkpoint_every": 10, "seed": 7}
    run_distill("train", str(corpus), "--name", "whole", "--steps", "40", "--batch-size", "4", "--seed", "7")
    stop = interrupt_after(7, "train", corpus, "cut", phase="prior", **settings)
    assert stop["checkpoint"] == str(checkpoint_dir("cut") / "prior.ckpt") and not model_path("cut").exists()
    assert (checkpoint_dir("cut") / "vae.ckpt").exists()  # the finished VAE is kept for the resume
    record = json.loads(run_distill("train", str(corpus), "--name", "cut", "--resume", "--json").stdout)
    assert record["steps"] == 40
    whole, cut = load_model(model_path("whole")), load_model(model_path("cut"))
    assert whole.prior is not None and cut.prior is not None
    assert cut.prior.tensors.keys() == whole.prior.tensors.keys()
    differ = [k for k in whole.prior.tensors if not torch.equal(whole.prior.tensors[k], cut.prior.tensors[k])]
    assert not differ, differ
    assert not (checkpoint_dir("cut") / "prior.ckpt").exists() and not (checkpoint_dir("cut") / "vae.ckpt").exists()


_STREAM = """
import sys, torch
from distill.modelfile import load_model
from distill.pipeline import DECODE_FRAMES, GenerationSettings, LoadedModel, mel_frames_for

def status(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))

loaded = LoadedModel(load_model(sys.argv[1]))
seconds = float(sys.argv[2])
frames = mel_frames_for(seconds, loaded.mel_spec)
list(loaded.mel_chunks(GenerationSettings(seconds=1, seed=3, prior="learned"), 100))  # warm up
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) restarts from here
before = status("VmRSS:")
sizes = [chunk.shape[-1] for chunk in loaded.mel_chunks(GenerationSettings(seconds=seconds, seed=3, prior="learned"),
                                                            frames)]
assert sum(sizes) == frames and max(sizes) <= DECODE_FRAMES, sizes
print((status("VmHWM:") - before) / 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's peak-RSS reset")
def test_ten_minutes_stream_in_flat_memory(plucks):
    def growth(seconds: float) -> float:
        """MB the process grew by while streaming `seconds` of log-mels."""
        out = subprocess.run([sys.executable, "-c", _STREAM, str(plucks), str(seconds)], capture_output=True,
                             text=True, check=True, timeout=300)
        return float(out.stdout.split()[-1])

    short, long = growth(10.0), growth(600.0)
    # the whole 10-minute log-mel alone would be 26 MB, its decoder activations several times that
    assert long - short < 20, (short, long)


def test_windowed_decoding_matches_decoding_whole(plucks):
    loaded = LoadedModel(load_model(plucks))
    settings = GenerationSettings(seconds=60, seed=1, prior="learned")
    frames = 5168
    z, played = loaded.latents(settings, loaded.vae.latent_frames(frames))
    told = loaded.conditions(z, settings, played)
    with torch.inference_mode():
        whole = loaded.vae.decode(z[None], None if told is None else told[None])[0, :, :frames]
    windowed = loaded.mel(settings, frames)
    assert windowed.shape == whole.shape and torch.allclose(windowed, whole, atol=1e-4)


def test_every_path_with_the_learned_prior_replays_bit_for_bit(plucks, tmp_path):
    corpus = plucks.parent.parent.parent
    cases = {
        "prior": ["-d", "3", "--seed", "4", "--temperature", "0.8"],
        "variation": ["-d", "2", "--seed", "4", "--from-audio", str(corpus / "pluck-1.wav"), "--variation", "0.5"],
        "morph": ["-d", "2", "--seed", "4", "--morph", "seed:1", str(corpus / "pluck-2.wav")],
    }
    for label, args in cases.items():
        out = tmp_path / label
        run_cli("generate", str(plucks), "-o", str(out), *args)
        clip = next(out.glob("*.wav"))
        sidecar = json.loads(clip.with_name(clip.name + ".json").read_text())
        assert sidecar["settings"]["prior"] == "learned"
        run_cli("generate", "--replay", str(clip.with_name(clip.name + ".json")), "--output",
                str(tmp_path / f"{label}-again.wav"))
        assert soundfile.read(clip)[0].tobytes() == soundfile.read(tmp_path / f"{label}-again.wav")[0].tobytes(), label
    # a variation is the sound varied, not the sound: 0 keeps it, 0.5 changes it
    kept = tmp_path / "kept.wav"
    run_cli("generate", str(plucks), "--output", str(kept), *cases["variation"][:-1], "0")
    assert not np.array_equal(soundfile.read(kept)[0], soundfile.read(next((tmp_path / "variation").glob("*.wav")))[0])


def test_models_without_a_learned_prior_use_the_gaussian_and_say_so(plucks, tmp_path, monkeypatch):
    import distill.modelfile as modelfile

    old = load_model(plucks)
    old.prior = None
    path = tmp_path / "old.distill"
    monkeypatch.setattr(modelfile, "FORMAT_VERSION", 2)  # written as a model from before the learned prior
    save_model(old, path)
    monkeypatch.undo()
    monkeypatch.setenv("DISTILL_LOAD_PLUGINS", "distill-griffinlim")
    result = run_cli("generate", str(path), "-d", "1", "--seed", "2", "--output", str(tmp_path / "a.wav"))
    assert "trained before distill learned a prior" in result.stderr and "Gaussian prior" in result.stderr
    assert json.loads((tmp_path / "a.wav.json").read_text())["settings"]["prior"] == "gaussian"
    result = run_cli("generate", str(path), "--prior", "learned", "-o", str(tmp_path), expect=1)
    assert "has no learned prior" in result.stderr and "--prior gaussian" in result.stderr
    assert "prior       gaussian (trained before" in run_cli("model", "info", str(path)).stdout


def test_sidecars_from_before_the_learned_prior_replay_with_the_gaussian(plucks, tmp_path):
    run_cli("generate", str(plucks), "-d", "1.5", "--seed", "9", "--prior", "gaussian", "--output",
            str(tmp_path / "g.wav"), env={"DISTILL_THREADS": str(default_threads())})  # as older versions did
    sidecar = json.loads((tmp_path / "g.wav.json").read_text())
    del sidecar["settings"]["prior"], sidecar["threads"]  # what older versions wrote
    (tmp_path / "old.json").write_text(json.dumps(sidecar))
    run_cli("generate", "--replay", str(tmp_path / "old.json"), "--output", str(tmp_path / "again.wav"))
    assert soundfile.read(tmp_path / "g.wav")[0].tobytes() == soundfile.read(tmp_path / "again.wav")[0].tobytes()


@pytest.mark.parametrize("args, message", [
    (["--prior", "other"], "Invalid value for '--prior'"),
    (["--temperature", "5"], "--temperature must be between 0.05 and 2"),
])
def test_bad_prior_options_are_one_clear_line(plucks, tmp_path, args, message):
    result = run_cli("generate", str(plucks), "-o", str(tmp_path), *args, expect=None)
    assert result.exit_code != 0 and message in result.stderr


def test_a_prior_this_version_cannot_build_is_refused_clearly_and_the_gaussian_still_works(plucks, tmp_path):
    for label, change in (("newer", {"kind": "gru-mdn-9"}), ("damaged", {"config": {"dims": 3}})):
        model = load_model(plucks)
        assert model.prior is not None
        model.prior.kind = change.get("kind", model.prior.kind)
        model.prior.config = {**model.prior.config, **change.get("config", {})}
        path = tmp_path / f"{label}.distill"
        save_model(model, path)
        result = run_cli("generate", str(path), "-o", str(tmp_path / label), expect=1)
        assert str(path) in result.stderr and "--prior gaussian" in result.stderr
        assert ("does not know" if label == "newer" else "damaged learned prior") in result.stderr
        run_cli("generate", str(path), "--prior", "gaussian", "-d", "1", "-o", str(tmp_path / label))
