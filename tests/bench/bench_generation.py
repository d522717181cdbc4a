"""New material against real recordings: does it move like the corpus? (KAD, gestures, novelty)

For each corpus (tests/bench/corpora.py: the synthetic example corpus, 40 real drum recordings, the 35
freedesktop sounds) a model is trained with `distill train`'s defaults (VAE, sliders, learned prior),
then these sets are rendered through the shipped base vocoder (`hifigan-base`), one clip per corpus
file with the file's length (seed = the file's index):

- real: the recordings themselves;
- vocoded: each recording's log-mels straight through the vocoder (no VAE): the renderer's ceiling,
  what no prior or decoder can get under;
- reconstructions: each recording encoded, decoded and vocoded (`--from-audio F --variation 0`), the
  autoencoder's ceiling;
- gaussian: new material from the Gaussian prior (`--prior gaussian`, what models had before);
- learned: new material from the learned prior (the default);
- and, with `--family texture`, an experiment kept out of the product: latent texture synthesis (a
  walk through the encoded corpus that jumps between frames with similar recent context).

KAD (×100, aisfx embeddings) of each set's half B against the real half A, over SPLITS random
half-splits: the floor is real B against real A (its spread is the noise of every KAD). The excess of
a set is its mean KAD minus the floor's mean, and counts as the floor's spread when it is within it.
New material is drawn DRAWS times with other seeds: its rows give the mean ± the spread of the draws.
Gestures are pooled over each whole set (every clip peak-normalised alike). Novelty: median distance
of each 1 s log-mel window to its nearest 1 s window of the model's training recordings; the held-out
recordings (the files `distill train` kept out) give the real figure.

Run:  python tests/bench/run.py generation                       every corpus (about 20 minutes)
      python tests/bench/bench_generation.py --corpus percussive [--family texture] [--figure PNG]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpora
import generation_metrics as gm

CACHE = Path(__file__).resolve().parents[2] / ".benchmarks" / "generation"
SPLITS = 20
DRAWS = 3  # sets of new material per prior, each with other seeds: the spread of their gestures
VOCODER = "hifigan-base"


def _clips(paths: list[Path]) -> list[np.ndarray]:
    from distill.audio import read_audio

    return [read_audio(p, gm.RATE).audio for p in paths]


def _peak(clips: list[np.ndarray]) -> list[np.ndarray]:
    return [0.9 * c / (np.abs(c).max() or 1.0) for c in clips]


def _generate(model: str, out: Path, **kwargs: Any) -> np.ndarray:
    import distill
    from distill.export import ExportSettings

    export = ExportSettings.create("wav", "32f", sample_rate=gm.RATE, normalize="none")
    result = distill.generate(model, vocoder=VOCODER, export=export, output=out, overwrite=True, **kwargs)
    return _clips([result.clips[0].path])[0]


def texture_latents(loaded: Any, frames: int, seed: int, files: list[np.ndarray]) -> Any:
    """The experiment: latent texture synthesis. Walk the encoded training files frame by frame; after
    each frame, with probability 1/8 (and at a file's end) jump to a random one of the 8 frames whose
    previous 3 frames are nearest to the last 3 played (whitened), never within 1 s of where it was."""
    import torch

    rng = np.random.default_rng(seed)
    encoded = [loaded.analysis.whiten(loaded.encode_file(p)).numpy() for p in files]
    where = [(i, t) for i, x in enumerate(encoded) for t in range(3, len(x))]
    context = np.stack([encoded[i][t - 3 : t].ravel() for i, t in where])
    i, t = where[rng.integers(len(where))]
    out = []
    for _ in range(frames):
        out.append(encoded[i][t])
        t += 1
        if t >= len(encoded[i]) or rng.random() < 1 / 8:
            recent = np.stack(out[-3:]).ravel() if len(out) >= 3 else context[rng.integers(len(context))]
            d = ((context - recent) ** 2).sum(1)
            d[[k for k, (j, s) in enumerate(where) if j == i and abs(s - t) < 11]] = np.inf
            i, t = where[int(rng.choice(np.argsort(d)[:8]))]
    return loaded.analysis.unwhiten(torch.tensor(np.stack(out), dtype=torch.float32))


def _vocoded(loaded: Any, mel: Any, seconds: float) -> np.ndarray:
    """Log-mels [n_mels, T] through the bench's vocoder, at the metrics' rate."""
    import librosa
    import torch
    from distill.pipeline import vocode_stream
    from distill.vocoders.selection import load_vocoder, select_vocoder

    vocoder = load_vocoder(select_vocoder(loaded.model, VOCODER), loaded.mel_spec, "cpu")
    with torch.inference_mode():
        audio = np.concatenate(list(vocode_stream(vocoder, mel, loaded.mel_spec)))
    return librosa.resample(audio, orig_sr=vocoder.sample_rate, target_sr=gm.RATE)[: int(seconds * gm.RATE)]


def _render_latents(loaded: Any, z: Any, seconds: float) -> np.ndarray:
    import torch
    from distill.pipeline import mel_frames_for

    with torch.inference_mode():
        mel = loaded.vae.decode(z[None])[0, :, : mel_frames_for(seconds, loaded.mel_spec)]
    return _vocoded(loaded, mel, seconds)


def _copy_synthesis(loaded: Any, path: Path, seconds: float) -> np.ndarray:
    import torch
    from distill.audio import read_audio

    audio = read_audio(path, loaded.mel_spec.sample_rate).audio
    with torch.inference_mode():
        mel = loaded.mel_spec.mel(torch.from_numpy(audio).float()[None])[0]
    return _vocoded(loaded, mel, seconds)


def measure_corpus(name: str, families: tuple[str, ...] = (), figure: Path | None = None,
                   retrain: bool = True, temperatures: tuple[float, ...] = (1.0,)) -> list[dict[str, Any]]:
    import distill

    os.environ.setdefault("DISTILL_HOME", str(CACHE / "home"))
    folder = corpora.CORPORA[name](CACHE / "corpora")
    files = sorted(folder.glob("*.wav"))
    started = time.perf_counter()
    if retrain:
        distill.train(folder, name, overwrite=True, restart=True)
    train_wall = time.perf_counter() - started
    loaded = distill.load(name)
    held_out = set(loaded.model.training["validation_files"])
    real = _clips(files)
    seconds = [max(0.1, len(c) / gm.RATE) for c in real]
    sets: dict[str, list[np.ndarray]] = {"real": real}
    sets["vocoded"] = [_copy_synthesis(loaded, f, s) for f, s in zip(files, seconds, strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.wav"
        sets["reconstructions"] = [_generate(name, out, seconds=s, from_audio=f, seed=0)
                                   for f, s in zip(files, seconds, strict=True)]
        for draw in range(DRAWS):  # new material is random: each draw uses other seeds
            sets[f"gaussian#{draw}"] = [_generate(name, out, seconds=s, seed=i + 1000 * draw, prior="gaussian")
                                        for i, s in enumerate(seconds)]
            for temperature in temperatures:
                key = "learned" if temperature == 1.0 else f"learned T={temperature:g}"
                sets[f"{key}#{draw}"] = [_generate(name, out, seconds=s, seed=i + 1000 * draw,
                                                   temperature=temperature) for i, s in enumerate(seconds)]
        t = time.perf_counter()
        _generate(name, out, seconds=60.0, seed=0)
        realtime = 60.0 / (time.perf_counter() - t)
    training_files = [f for f in files if f.name not in held_out]
    if "texture" in families:
        rate = loaded.latent_rate
        for draw in range(DRAWS):
            sets[f"texture#{draw}"] = [
                _render_latents(loaded, texture_latents(loaded, int(np.ceil(s * rate)) + 1, i + 1000 * draw,
                                                        training_files), s)
                for i, s in enumerate(seconds)]
    if figure:
        spectrogram_figure({k.removesuffix("#0"): v for k, v in sets.items() if "#" not in k or k.endswith("#0")},
                           figure)
    sets = {k: _peak(v) for k, v in sets.items()}

    embeddings = {k: gm.embed(v) for k, v in sets.items()}
    rng = np.random.default_rng(0)
    kads: dict[str, list[float]] = {k: [] for k in sets}
    for _ in range(SPLITS):
        order = rng.permutation(len(files))
        a, b = order[: len(files) // 2], order[len(files) // 2 :]
        for key, emb in embeddings.items():
            kads[key].append(gm.kad(emb[b], embeddings["real"][a]))
    floor, spread = float(np.mean(kads["real"])), float(np.std(kads["real"]))

    training = [c for c, f in zip(sets["real"], files, strict=True) if f.name not in held_out]
    held = [c for c, f in zip(sets["real"], files, strict=True) if f.name in held_out]
    real_modulation = gm.gestures(sets["real"])["modulation"]
    measured: dict[str, list[dict[str, float]]] = {}  # set -> one record per draw
    for key, clips in sets.items():
        g = gm.gestures(clips)
        measured.setdefault(key.split("#")[0], []).append({
            "kad": float(np.mean(kads[key])), "kad_spread": float(np.std(kads[key])),
            "onsets": g["onset_rate"], "sharpness": g["sharpness"], "range": g["dynamic_range"],
            "modulation": float(np.corrcoef(g["modulation"], real_modulation)[0, 1]),
            "novelty": gm.novelty(held if key == "real" else clips, training)})

    def show(records: list[dict[str, float]], field: str, digits: int) -> str:
        values = [r[field] for r in records]
        text = f"{np.mean(values):.{digits}f}"
        return text + (f" ± {np.std(values):.{digits}f}" if len(values) > 1 else "")

    prior_record = loaded.model.prior.training if loaded.model.prior else {}
    rows = []
    for key, records in measured.items():
        kad_mean = float(np.mean([r["kad"] for r in records]))
        rows.append({
            "corpus": f"{name} ({len(files)} files, {sum(seconds):.0f} s)",
            "set": key + (f" ({len(records)} draws)" if len(records) > 1 else ""),
            "KAD": f"{kad_mean:.1f} ± {np.mean([r['kad_spread'] for r in records]):.1f} (splits)"
                   + (f" ± {np.std([r['kad'] for r in records]):.1f} (draws)" if len(records) > 1 else ""),
            "excess": "floor" if key == "real" else f"{max(kad_mean - floor, spread):.1f}",
            "onsets/s": show(records, "onsets", 2),
            "sharpness": show(records, "sharpness", 2),
            "range dB": show(records, "range", 1),
            "modulation r": show(records, "modulation", 2),
            "novelty": show(records, "novelty", 2) + (" (held-out)" if key == "real" else ""),
        })
    vae_seconds = float(loaded.model.training["training_seconds"])
    rows.append({"corpus": rows[0]["corpus"], "set": "timing",
                 "KAD": f"VAE {vae_seconds:.0f} s, prior {prior_record.get('seconds', 0):.0f} s "
                        f"({100 * prior_record.get('seconds', 0) / vae_seconds:.0f} %), train wall {train_wall:.0f} s",
                 "excess": f"60 s clip at {realtime:.1f}x real time",
                 "novelty": f"prior best step {prior_record.get('best_step')}/{prior_record.get('steps')}"})
    return rows


def spectrogram_figure(sets: dict[str, list[np.ndarray]], path: Path) -> None:
    """Log-mel spectrograms of the first clips of each set, joined in a row per set."""
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in ("real", "reconstructions", "gaussian", "learned") if k in sets]
    fig, axes = plt.subplots(len(keys), 1, figsize=(11, 2.1 * len(keys)), sharex=True)
    for ax, key in zip(axes, keys, strict=True):
        joined = np.concatenate([np.concatenate([c, np.zeros(gm.RATE // 10, np.float32)]) for c in sets[key][:8]])
        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=joined[: 12 * gm.RATE], sr=gm.RATE, n_mels=96,
                                                                 hop_length=512), ref=np.max, top_db=80)
        ax.imshow(mel, origin="lower", aspect="auto", cmap="magma",
                  extent=(0, mel.shape[1] * 512 / gm.RATE, 0, 96))
        ax.set_ylabel(key, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1].set_xlabel("seconds (the first clips of each set, one after another)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def run() -> list[dict[str, Any]]:
    rows = []
    for name in corpora.CORPORA:
        rows += measure_corpus(name)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=list(corpora.CORPORA), action="append")
    parser.add_argument("--family", choices=["texture"], action="append", default=[])
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--temperature", type=float, action="append", default=[],
                        help="also measure the learned prior at this temperature")
    parser.add_argument("--reuse", action="store_true", help="measure the models already in the cache")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import table

    rows = []
    for corpus in args.corpus or list(corpora.CORPORA):
        rows += measure_corpus(corpus, tuple(args.family), args.figure, retrain=not args.reuse,
                               temperatures=(1.0, *args.temperature))
    print(table(rows))
