"""The shipped base vocoder (`hifigan-base`, no fine-tuning) against Griffin-Lim, resynthesising
held-out audio from its true mels, on two corpora no vocoder trained on:

- demo: the demo corpus' held-out files (distill.examples: tones, plucks, textures; seed 0, 20 x 3 s,
  every tenth file, as `distill train` holds them out);
- real: the freedesktop sound theme (Debian `sound-theme-freedesktop`, CC-BY-SA-3.0 / CC-BY-3.0 /
  GPL-2+): recorded speech, a bell, a camera shutter, paper and chimes, 35 files.

Metrics from distill.audio_metrics (ViSQOL on the files joined with gaps). Griffin-Lim runs with two
seeds (its random initial phase): their spread is the noise of its rows; the base is deterministic.
The base renders the mel pseudo-inverse's magnitude with its phase refined by a few Griffin-Lim
iterations; a row without that refinement (its learnt magnitude and phase) shows what it changes.
Also: steady tones (level and frequency kept), the periodic artefacts of upsampling (tones at multiples
of 44100 / 8 = 5512.5 Hz) and of per-frame phase (multiples of 86.13 Hz), and speed against HiFi-GAN V2.

Run:  python tests/bench/run.py base                     the rows above (a few minutes)
      python tests/bench/bench_base.py --quality 5 15 30  `train-vocoder --minutes M` on the demo model,
                                                          from the base and from scratch (~2 x sum(M) min)
          [--corpus real] [--only-base]                   ... on a model of the freedesktop sounds; base only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from distill.audio import read_audio
from distill.griffinlim import griffin_lim
from distill.melspec import DISTILL_MEL
from distill.vocoders.compare import measure, reference_pitch

THEME = Path("/usr/share/sounds/freedesktop/stereo")


def demo_clips() -> list[tuple[str, np.ndarray]]:
    import tempfile

    from distill.examples import make_example_corpus

    with tempfile.TemporaryDirectory() as folder:
        paths = make_example_corpus(Path(folder), files=20, seconds=3.0)
        return [(p.name, read_audio(p, DISTILL_MEL.sample_rate).audio) for p in paths[::10]]


def real_clips() -> list[tuple[str, np.ndarray]]:
    if not THEME.is_dir():
        raise SystemExit(f"{THEME} is missing: apt-get install sound-theme-freedesktop")
    return [(p.name, read_audio(p, DISTILL_MEL.sample_rate).audio) for p in sorted(THEME.glob("*.oga"))]


def renderer(vocoder: Any, refine: int | None = None) -> Any:
    """Mel -> waveform through `vocoder` as `generate` streams it, with `refine` Griffin-Lim iterations
    instead of the backend's own when given (0: its learnt magnitude and phase alone)."""
    from distill.pipeline import vocode_stream

    if refine is not None:
        vocoder.refine_iterations = refine

    def render(mel: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.from_numpy(np.concatenate(list(vocode_stream(vocoder, mel, DISTILL_MEL))))

    return render


def base_renderer(refine: int | None = None) -> Any:
    """The base as `generate` renders it, or with `refine` Griffin-Lim iterations instead of its own."""
    from distill_hifigan.backend import PretrainedBase

    return renderer(PretrainedBase.load(), refine)


def rows_for(corpus: str, clips: list[tuple[str, np.ndarray]], renderers: dict[str, Any]) -> list[dict[str, Any]]:
    pitch = reference_pitch(clips, DISTILL_MEL)
    rows = []
    for name, render in renderers.items():
        row = measure(render, clips, DISTILL_MEL, pitch)
        rows.append({"corpus": corpus, "vocoder": name, "ViSQOL": round(row.visqol, 3),
                     "MR-STFT": round(row.mr_stft, 3), "log-mel L1": round(row.log_mel_l1, 3),
                     "pitch err cents": None if row.pitch_cents is None else round(row.pitch_cents, 1),
                     "voicing err %": round(100 * (row.voicing_error or 0.0), 1), "speed x": round(row.speed, 1)})
        print(rows[-1], flush=True)
    return rows


def griffin_lim_renderers() -> dict[str, Any]:
    return {f"Griffin-Lim {n} it, seed {seed}": (lambda mel, n=n, s=seed: griffin_lim(mel, DISTILL_MEL, n, seed=s))
            for n in (32, 60) for seed in (0, 1)}


def peak_above_surroundings_db(wave: np.ndarray, frequency: float, rate: int = 44100) -> float:
    """How far the spectrum at `frequency` (±2 bins) stands above the median of the 400 Hz around it."""
    n = 1 << 15
    frames = [wave[i : i + n] * np.hanning(n) for i in range(0, len(wave) - n + 1, n // 2)] or [
        np.pad(wave, (0, n - len(wave))) * np.hanning(n)]
    power = np.mean([np.abs(np.fft.rfft(f)) ** 2 for f in frames], axis=0)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    centre = int(np.argmin(np.abs(freqs - frequency)))
    around = (np.abs(freqs - frequency) < 200) & (np.abs(freqs - frequency) > 10)
    return float(10 * np.log10(power[centre - 2 : centre + 3].max() / np.median(power[around])))


def artefact_rows(renderers: dict[str, Any]) -> list[dict[str, Any]]:
    """Steady tones (no vibrato) and a noise texture: level gap, the strongest partial's frequency error,
    and the tonal artefacts of upsampling (k x 5512.5 Hz, on the texture) against the original's."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from signals import band_noise, harmonic_tone

    texture = band_noise(6.0, 300, 16000, seed=3)
    rows = []
    for name, render in {"original": lambda mel: None, **renderers}.items():
        row: dict[str, Any] = {"vocoder": name}
        for f0 in (110.0, 440.0):
            tone = harmonic_tone(f0, 4.0, vibrato=0.0)
            with torch.inference_mode():
                out = render(DISTILL_MEL.mel(torch.from_numpy(tone)))
            out = tone if out is None else np.asarray(out)[: len(tone)]
            inner = slice(22050, len(tone) - 22050)
            level = 10 * np.log10(np.mean(out[inner] ** 2) / np.mean(tone[inner] ** 2))
            row[f"{f0:g} Hz level dB"] = round(float(level), 2)
            segment = out[inner][: 1 << 16] * np.hanning(1 << 16)
            freqs = np.fft.rfftfreq(1 << 16, 1 / 44100)
            band = (freqs > 0.7 * f0) & (freqs < 1.3 * f0)
            row[f"{f0:g} Hz heard at"] = round(float(freqs[band][np.argmax(np.abs(np.fft.rfft(segment))[band])]), 1)
        with torch.inference_mode():
            out = render(DISTILL_MEL.mel(torch.from_numpy(texture)))
        out = texture if out is None else np.asarray(out)
        row["5512.5 Hz tones dB"] = round(max(peak_above_surroundings_db(out, k * 5512.5) for k in (1, 2, 3)), 1)
        rows.append({"corpus": "steady tones, texture", **row})
        print(rows[-1], flush=True)
    return rows


def speed_rows() -> list[dict[str, Any]]:
    """Inference at 20 s and a training step, against HiFi-GAN V2 (random weights: speed does not depend
    on training), timed in alternation in the same run."""
    from distill_hifigan.base import load_base
    from distill_hifigan.config import DiscriminatorConfig, GeneratorConfig
    from distill_hifigan.data import Batch
    from distill_hifigan.denormals import flush_denormals
    from distill_hifigan.fast import FastGenerator
    from distill_hifigan.frame_generator import frame_generator
    from distill_hifigan.networks import Discriminators, Generator, fold_weight_norm
    from distill_hifigan.settings import BASE_REFINE_ITERATIONS, FINETUNE, VocoderSettings
    from distill_hifigan.step import FrameNetworks, Networks

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench_hifigan import _race
    from signals import band_noise, harmonic_tone

    mel = DISTILL_MEL.mel(torch.from_numpy(harmonic_tone(196, 20.0) + band_noise(20.0, 1500, 9000, seed=1)))[None]
    torch.manual_seed(0)
    hifigan = fold_weight_norm(Generator(GeneratorConfig()))
    for parameter in hifigan.parameters():
        parameter.data.normal_(0.0, 0.03)
    fast = FastGenerator(hifigan.eval())
    config, weights, _ = load_base()
    base = frame_generator(config, DISTILL_MEL.filterbank(), weights).eval()
    with torch.inference_mode(), flush_denormals():
        best = _race({"base": lambda: torch.cat(list(base.stream(mel, refine=BASE_REFINE_ITERATIONS)), -1),
                      "unrefined": lambda: torch.cat(list(base.stream(mel)), -1), "hifigan": lambda: fast(mel)})
    seconds = 20.0
    rows = [{"corpus": "speed", "vocoder": "inference, 20 s of audio",
             "base x real time": round(seconds / best["base"], 1),
             "base without refinement x real time": round(seconds / best["unrefined"], 1),
             "HiFi-GAN V2 x real time": round(seconds / best["hifigan"], 1),
             "ratio": round(best["hifigan"] / best["base"], 2)}]
    print(rows[-1], flush=True)

    def batch(settings: VocoderSettings) -> Batch:
        length = settings.batch_size * settings.segment
        seconds = length / 44100 + 0.1
        wave = torch.from_numpy(harmonic_tone(220, seconds) + band_noise(seconds, 500, 8000))
        y = wave[:length].reshape(settings.batch_size, 1, settings.segment)
        return Batch(DISTILL_MEL.mel(y[:, 0]), y)

    old = VocoderSettings()
    discriminators = Discriminators(DiscriminatorConfig(width=old.disc_width))
    old_nets = Networks(Generator(GeneratorConfig()), discriminators, old, "cpu")
    tuned = FrameNetworks(frame_generator(config, DISTILL_MEL.filterbank(), weights), FINETUNE, "cpu")
    noise = torch.Generator().manual_seed(0)
    old_batch, new_batch = batch(old), batch(FINETUNE)
    with flush_denormals():
        best = _race({"fine-tune": lambda: tuned.step(new_batch, DISTILL_MEL, FINETUNE, False, noise),
                      "adversarial": lambda: old_nets.step(old_batch, DISTILL_MEL, old, True, noise),
                      "warm-up": lambda: old_nets.step(old_batch, DISTILL_MEL, old, False, noise)}, rounds=3)
    audio = {"fine-tune": FINETUNE.batch_size * FINETUNE.segment, "adversarial": old.batch_size * old.segment,
             "warm-up": old.batch_size * old.segment}
    labels = {"fine-tune": f"fine-tuning step from the base, batch {FINETUNE.batch_size} x {FINETUNE.segment}",
              "adversarial": f"HiFi-GAN V2 adversarial step, batch {old.batch_size} x {old.segment}",
              "warm-up": f"HiFi-GAN V2 warm-up step, batch {old.batch_size} x {old.segment}"}
    for name, label in labels.items():
        rows.append({"corpus": "speed", "vocoder": label, "s/step": round(best[name], 3),
                     "audio s per step-second": round(audio[name] / 44100 / best[name], 2)})
        print(rows[-1], flush=True)
    return rows


def base_renderers() -> dict[str, Any]:
    return {"hifigan-base": base_renderer(), "hifigan-base, no refinement": base_renderer(0),
            "hifigan-base, 32 refining it": base_renderer(32)}


def run() -> list[dict[str, Any]]:
    renderers = {**base_renderers(), **griffin_lim_renderers()}
    rows = rows_for("demo", demo_clips(), renderers) + rows_for("real", real_clips(), renderers)
    return rows + artefact_rows({"hifigan-base": renderers["hifigan-base"], "Griffin-Lim 32 it, seed 0":
                                 renderers["Griffin-Lim 32 it, seed 0"]}) + speed_rows()


def state_renderer(model: Path, refine: int = 0) -> Any:
    """A model's bundled hifigan state as `generate` renders it, or refined as the base is (`refine`)."""
    from distill.modelfile import load_model
    from distill_hifigan.backend import FineTunedVocoder

    return renderer(FineTunedVocoder.load(load_model(model).vocoder_state["hifigan"]), refine)


def real_model(workdir: Path) -> tuple[Path, dict[str, str]]:
    """A model trained with `distill train` on the freedesktop sounds (kept in workdir)."""
    import os

    from bench_hifigan import PLUGINS, _distill

    home = workdir / "home-real"
    env = {**os.environ, "DISTILL_HOME": str(home), **PLUGINS}
    model = home / "models" / "real.distill"
    if not model.exists():
        real_clips()  # the check that the sounds are installed
        _distill("train", str(THEME), "--name", "real", "--overwrite", "--restart", env=env)
    return model, env


def quality_rows(workdir: Path, minutes: list[float], corpus: str = "demo",
                 origins: tuple[str, ...] = ("base", "scratch")) -> list[dict[str, Any]]:
    """`distill train-vocoder --minutes M` on the corpus' model from the base (and from scratch), measured
    on the model's held-out files beside the base alone and Griffin-Lim; plus each one's artefact row."""
    import shutil

    from bench_hifigan import _distill, demo_model
    from distill.modelfile import load_model
    from distill.vocoders.compare import held_out_audio
    from distill_hifigan.settings import BASE_REFINE_ITERATIONS

    model, env = demo_model(workdir) if corpus == "demo" else real_model(workdir)
    clips, _ = held_out_audio(load_model(model))
    renderers = {"hifigan-base": base_renderer(), **griffin_lim_renderers()}
    for m in minutes:
        for origin in origins:
            path = workdir / "quality" / f"{corpus}-{origin}-{m:g}min.distill"
            if not path.exists():
                path.parent.mkdir(exist_ok=True)
                shutil.copyfile(model, path)
                started = time.monotonic()
                _distill("train-vocoder", str(path), "--backend", "hifigan", "--minutes", str(m), "--restart",
                         *(["--from-scratch"] if origin == "scratch" else []), env=env)
                print(f"{path.name}: {(time.monotonic() - started) / 60:.1f} min", flush=True)
            steps = load_model(path).vocoder_state["hifigan"].training["steps"]
            renderers[f"from {origin}, {m:g} min ({steps} steps)"] = state_renderer(path)
            if origin == "base":
                renderers[f"from base, {m:g} min, refined as the base"] = state_renderer(path, BASE_REFINE_ITERATIONS)
    return rows_for(f"{corpus} model held-out", clips, renderers) + artefact_rows(
        {k: v for k, v in renderers.items() if "Griffin" not in k})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quality", nargs="+", type=float, metavar="MINUTES")
    parser.add_argument("--corpus", choices=["demo", "real"], default="demo")
    parser.add_argument("--only-base", action="store_true", help="fine-tune from the base only, not from scratch")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    if args.quality:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="distill-bench-base-"))
        origins = ("base",) if args.only_base else ("base", "scratch")
        print(table(quality_rows(workdir, args.quality, args.corpus, origins)))
    else:
        print(table(run()))
