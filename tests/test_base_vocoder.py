"""The pretrained base vocoder shipped in distill-hifigan: it is in the installed package with its
provenance, renders held-out tones at the right level and pitch with no training, inverts distill's
own analysis exactly, is what `--vocoder auto` uses when BigVGAN has no weights (and not when it has),
and is where `distill train-vocoder` starts by default."""

from __future__ import annotations

import json
import shutil

import librosa
import numpy as np
import pytest
import torch
from bigvgan_weights import TINY as TINY_BIGVGAN
from bigvgan_weights import place_in_cache, weight_files, write_pin
from conftest import run_cli
from distill import DISTILL_MEL
from distill.examples import make_example_corpus
from distill.modelfile import load_model
from distill.pipeline import vocode_stream
from distill_bigvgan.pin import PIN_ENV
from distill_bigvgan.weights import ENDPOINT_ENV, WEIGHTS_ENV
from distill_hifigan.backend import PretrainedBase
from distill_hifigan.base import BASE_WEIGHTS, load_base
from distill_hifigan.frame_generator import FrameGenerator, analysis_stft
from signals import band_noise, harmonic_tone

HIFIGAN = {"DISTILL_LOAD_PLUGINS": "distill-hifigan"}
BOTH = {"DISTILL_LOAD_PLUGINS": "distill-hifigan,distill-bigvgan"}


@pytest.fixture(scope="module")
def base() -> PretrainedBase:
    return PretrainedBase.load()


def test_the_base_ships_in_the_package_with_its_provenance():
    assert BASE_WEIGHTS.is_file() and BASE_WEIGHTS.stat().st_size <= 8_000_000  # the limit
    config, weights, provenance = load_base()
    assert all(value.dtype == torch.float32 for value in weights.values())
    assert provenance["steps"] > 0 and provenance["date"] and provenance["command"].startswith("python ")
    assert len(provenance["corpus"]["fingerprint"]) == 16 and "MIT" in provenance["corpus"]["soundfont"]
    assert {"mel", "stft", "phase"} <= set(provenance["validation"])
    assert config.n_mels == DISTILL_MEL.n_mels and config.hop_length == DISTILL_MEL.hop_length


@pytest.mark.parametrize("f0", [110.0, 261.6, 880.0])
def test_the_base_renders_a_held_out_tone_at_its_level_and_pitch(base, f0):
    """A tone no training saw (a synthetic harmonic series with vibrato), resynthesised from its mels."""
    tone = harmonic_tone(f0, 2.0)
    mel = DISTILL_MEL.mel(torch.from_numpy(tone))
    out = np.concatenate(list(vocode_stream(base, mel)))
    assert len(out) == mel.shape[-1] * DISTILL_MEL.hop_length
    inner = slice(4410, len(out) - 4410)  # leave out the edges, where the analysis saw reflections
    level_db = 20 * np.log10(np.sqrt(np.mean(out[inner] ** 2)) / np.sqrt(np.mean(tone[inner] ** 2)))
    # Within 3 dB (measured: -2.3 to +1.2 dB from 110 to 1760 Hz); HiFi-GAN V2 from scratch lost 11-29 dB here.
    assert abs(level_db) < 3.0, level_db
    pitches = []
    for wave in (tone[inner], out[inner]):
        f, voiced, _ = librosa.pyin(wave, fmin=50, fmax=1500, sr=44100, frame_length=4096)
        assert voiced.mean() > 0.9
        pitches.append(np.nanmedian(f))
    cents = 1200 * abs(np.log2(pitches[1] / pitches[0]))
    assert cents < 10, cents  # a tenth of a semitone; the vibrato spans ±17 cents


def test_the_inverse_stft_inverts_distills_analysis_exactly():
    config, _, _ = load_base()
    generator = FrameGenerator(config, DISTILL_MEL.filterbank())
    wave = torch.from_numpy(harmonic_tone(330, 0.5))[None, : 40 * 512]
    spectrum = analysis_stft(wave, config, generator.window)
    rebuilt = generator.synthesise(spectrum.abs().clamp(min=1e-12).log(), spectrum.angle())
    assert rebuilt.shape == (1, 1, wave.shape[-1])
    assert (rebuilt[:, 0] - wave).abs().max() < 1e-5


def test_a_steady_tone_keeps_its_frequency(base):
    """A phase predicted frame by frame repeats every hop for a steady input, which moves a 440 Hz tone to
    430.7 Hz (5 x 44100 / 512): the integrated phase must keep it where it was."""
    tone = harmonic_tone(440.0, 3.0, vibrato=0.0)
    out = base.render(DISTILL_MEL.mel(torch.from_numpy(tone))[None])[0].numpy()
    segment = out[22050 : 22050 + 65536] * np.hanning(65536)
    spectrum, freqs = np.abs(np.fft.rfft(segment)), np.fft.rfftfreq(65536, 1 / 44100)
    band = (freqs > 300) & (freqs < 600)
    assert abs(freqs[band][np.argmax(spectrum[band])] - 440.0) < 1.0


def test_streaming_equals_one_pass_chunk_by_chunk(base):
    """Plain and refined (the base's render path), chunk by chunk against a single pass over the clip."""
    mel = DISTILL_MEL.mel(torch.from_numpy(harmonic_tone(200, 30.0)))[None]  # 2583 frames
    refine = base.refine_iterations
    assert refine > 0
    with torch.inference_mode():
        one_pass = {0: base.generator(mel)[0, 0],
                    refine: torch.cat(list(base.generator.stream(mel, mel.shape[-1], refine)), dim=-1)[0]}
        for chunk in (100, 512):
            for iterations, whole in one_pass.items():
                streamed = torch.cat(list(base.generator.stream(mel, chunk, iterations)), dim=-1)[0]
                assert_equal_but_rounding(streamed, whole, iterations)
    # What generate does: log-mels arrive in chunks (here of 700 frames) and audio leaves in the
    # generator's chunks of 512 frames, so progress and cancel come every 6 s of audio.
    chunks = list(vocode_stream(base, iter(mel[0].split(700, dim=-1)), mel.shape[-1]))
    assert [len(chunk) for chunk in chunks[:-1]] == [512 * DISTILL_MEL.hop_length] * (len(chunks) - 1) == [262144] * 5
    assert_equal_but_rounding(torch.from_numpy(np.concatenate(chunks)), one_pass[refine], refine)


def assert_equal_but_rounding(a: torch.Tensor, b: torch.Tensor, refine: int) -> None:
    """Equal up to float rounding, which Griffin-Lim's normalisation of near-silent bins amplifies
    (measured on this 30 s tone: at most 3e-4, RMS 6e-6)."""
    error = (a - b).abs()
    assert error.max() < (1e-3 if refine else 1e-5), error.max()
    assert error.square().mean().sqrt() < 1e-5, error.square().mean().sqrt()


def test_the_refinement_makes_the_spectrogram_consistent(base):
    """Each Griffin-Lim iteration must bring the re-analysed magnitude closer to the one it renders."""
    generator = base.generator
    wave = torch.from_numpy(harmonic_tone(150, 2.0) + band_noise(2.0, 2000, 8000, seed=1) * 0.1)
    mel = DISTILL_MEL.mel(wave.float())[None]
    with torch.inference_mode():
        target = generator.prior(mel).exp()
        _, phase = generator.spectrum(mel)
        errors = []
        for iterations in (0, 2, 8):
            spectrum = generator.refine(target.log(), phase, iterations)
            heard = analysis_stft(generator.trim(generator.overlap_add(spectrum), mel.shape[-1]), generator.config,
                                  generator.window).abs()
            errors.append(float((heard - target).abs().mean() / target.mean()))
    assert errors[0] > errors[1] > errors[2], errors


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    make_example_corpus(root / "sounds", files=5, seconds=1.5, seed=4)
    run_cli("train", str(root / "sounds"), "--name", "plain", "--steps", "10", "--batch-size", "4",
            env={"DISTILL_HOME": str(root / "home"), **HIFIGAN})
    return root / "home" / "models" / "plain.distill"


def bigvgan_weights(tmp_path, monkeypatch, present: bool) -> None:
    """Tiny BigVGAN weights in a fresh cache (or none); no Hub can be reached either way."""
    files = weight_files(TINY_BIGVGAN, seed=5)
    if present:
        place_in_cache(tmp_path / "hf-cache", files)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "pin.json", files)))
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:9")  # the discard port: any request would fail
    for name in (WEIGHTS_ENV, "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("present", [False, True])
def test_auto_uses_the_base_unless_bigvgan_weights_are_here(model, tmp_path, monkeypatch, present):
    bigvgan_weights(tmp_path, monkeypatch, present)
    result = run_cli("generate", str(model), "-d", "0.5", "--seed", "1", "-o", str(tmp_path / "out"), "--json",
                     env=BOTH)
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["vocoder"] == ("bigvgan" if present else "hifigan-base")
    assert "universal vocoder that uses this model's mel recipe" in record["reason"]
    note = "vocoder 'bigvgan' would be preferred but its weights are not on this machine"
    assert any(note in warning for warning in record["warnings"]) != present


def test_compare_skips_what_needs_a_download_and_starts_none(model, tmp_path, monkeypatch):
    bigvgan_weights(tmp_path, monkeypatch, present=False)
    report = json.loads(run_cli("vocoders", "compare", str(model), "--json", env=BOTH).stdout)
    assert [row["name"] for row in report["rows"] if row["kind"] != "baseline"] == ["hifigan-base"]
    (skipped,) = report["skipped"]
    assert skipped["name"] == "bigvgan" and "not on this machine" in skipped["reason"]
    assert f"distill vocoders compare {load_model(model).name} --download" in skipped["fix"]
    table = run_cli("vocoders", "compare", str(model), env=BOTH).stdout
    assert "skipped bigvgan: its weights are not on this machine; to include it: distill vocoders compare" in table


def test_fine_tuning_starts_from_the_base_and_bundles_float16(model, tmp_path):
    path = tmp_path / "tuned.distill"
    shutil.copyfile(model, path)
    env = {"DISTILL_HOME": str(tmp_path / "home"), **HIFIGAN}
    record = json.loads(run_cli("train-vocoder", str(path), "--steps", "3", "--batch-size", "2", "--json",
                                env=env).stdout)
    state = load_model(path).vocoder_state["hifigan"]
    config, weights, provenance = load_base()
    assert state.training["from"] == "base" and state.training["base"]["steps"] == provenance["steps"]
    assert state.config["generator"] == config.to_dict()
    assert state.weights.keys() == weights.keys()
    assert all(value.dtype == torch.float16 for value in state.weights.values())
    params = sum(value.numel() for value in weights.values())
    assert 2 * params <= record["bytes_added"] < 2 * params + 64_000
    moved = [key for key in weights if not torch.equal(state.weights[key].float(), weights[key].half().float())]
    assert moved, "three steps of fine-tuning changed no weight"
    assert set(state.training["figures"]["rows"]) == {"hifigan", "hifigan-base"}
    assert record["warnings"] == []  # a fine-tuned state is not 'under-trained'
    result = run_cli("train-vocoder", str(path), "--resume", "--from-scratch", "--steps", "4", env=env, expect=1)
    assert "was fine-tuned from the base" in result.stderr and "leave out --from-scratch" in result.stderr
