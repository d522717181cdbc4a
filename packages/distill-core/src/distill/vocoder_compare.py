"""Did a vocoder pay off? Resynthesise a model's held-out recordings from their mels with every
installed backend that can render the model, and measure each against the original audio.

Metrics (all on the model's own recipe, at its sample rate):
- log-mel L1: mean |log-mel(output) - log-mel(original)| in nats, what the ear hears as timbre;
- MR-STFT: multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged over
  FFT sizes 512, 1024 and 2048), which also sees the fine harmonic detail a mel blurs;
- SNR in dB: waveform error, phase included (vocoders rarely keep the original phase: often ≤ 0 dB);
- speed: seconds of audio rendered per second of wall time (× real time), windows included.
A Griffin-Lim row (32 iterations, computed here, not a registered vocoder) is the baseline.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import torch

from .audio import read_audio, resample
from .errors import DistillError
from .generate import vocode_stream
from .melspec import MelSpec
from .selection import load_vocoder, select_vocoder

if TYPE_CHECKING:
    from .model import DistillModel
    from .plugins import RegisteredVocoder

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
MAX_SECONDS = 60.0  # of held-out audio measured: enough for stable numbers, quick to render
BASELINE = "griffin-lim 32 it (baseline)"


@attrs.frozen
class Row:
    name: str
    kind: str  # "bundled", "universal", "converted" or "baseline"
    log_mel_l1: float
    mr_stft: float
    snr_db: float
    speed: float  # × real time
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "warnings": list(self.warnings)}


# -- metrics ----------------------------------------------------------------------------------------
def log_mel_l1(reference: torch.Tensor, output: torch.Tensor, spec: MelSpec) -> float:
    return float((spec.mel(output) - spec.mel(reference)).abs().mean())


def mr_stft_distance(reference: torch.Tensor, output: torch.Tensor) -> float:
    total = 0.0
    for n_fft, hop in STFT_RESOLUTIONS:
        window = torch.hann_window(n_fft)
        ref, out = (torch.stft(x, n_fft, hop, window=window, return_complex=True).abs() + 1e-5
                    for x in (reference, output))
        total += float(torch.linalg.norm(ref - out) / torch.linalg.norm(ref))
        total += float((ref.log() - out.log()).abs().mean())
    return total / len(STFT_RESOLUTIONS)


def snr_db(reference: torch.Tensor, output: torch.Tensor) -> float:
    error = float((reference - output).square().sum())
    return 10 * float(np.log10(float(reference.square().sum()) / max(error, 1e-20)))


# -- the baseline -----------------------------------------------------------------------------------
def griffin_lim(mel: torch.Tensor, spec: MelSpec, iterations: int = 32, seed: int = 0) -> torch.Tensor:
    """Log-mels [n_mels, T] -> waveform [spec.num_samples(T)]: the filterbank's pseudo-inverse gives a
    magnitude, fast Griffin-Lim (momentum 0.99) a phase. A baseline only: distill registers no such vocoder."""
    frames = mel.shape[-1]
    magnitude = torch.clamp(torch.linalg.pinv(spec.filterbank()) @ spec.decompress(mel.float()), min=0.0)
    if spec.power == 2.0:
        magnitude = magnitude.sqrt()
    window, hop, n_fft = spec.window(), spec.hop_length, spec.n_fft

    def forward(wave: torch.Tensor) -> torch.Tensor:
        return torch.stft(wave, n_fft, hop, spec.win_length, window, return_complex=True)

    def inverse(spectrum: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spectrum, n_fft, hop, spec.win_length, window, length=length)

    # distill's frame i is centred on sample i * hop + hop / 2 ("reflect" recipe): reconstruct with centred
    # frames and shift by half a hop afterwards.
    length = (frames - 1) * spec.hop_length
    phase = torch.rand(magnitude.shape, generator=torch.Generator().manual_seed(seed)) * 2 * torch.pi
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        rebuilt = forward(inverse(magnitude * angles, length))
        angles = rebuilt - previous * (0.99 / 1.99)
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    wave = inverse(magnitude * angles, length)
    if spec.padding == "reflect":
        half = spec.hop_length // 2
        wave = torch.nn.functional.pad(wave, (half, spec.hop_length - half))
    return wave.clamp(-1.0, 1.0)


# -- what to measure --------------------------------------------------------------------------------
def held_out_audio(model: DistillModel, audio: Path | None = None) -> tuple[list[tuple[str, np.ndarray]], str]:
    """(relative name, waveform) of the model's held-out recordings, at most MAX_SECONDS in all, and a note."""
    recorded = model.training.get("corpus_path")
    folder = audio or (Path(recorded) if recorded else None)
    if folder is None or not folder.is_dir():
        where = f"at {folder}" if folder else "recorded in the model"
        raise DistillError(f"the recordings of {model.name!r} are not {where}: pass --audio DIR with their location")
    names = list(model.training.get("validation_files") or [])
    note = f"{len(names)} held-out recording{'s' if len(names) != 1 else ''} of {folder}"
    if not names:  # fewer than 4 files: nothing was held out
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        note = f"the model held out no recordings (too few files), so its training recordings in {folder}"
    clips, total = [], 0.0
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DistillError(f"held-out recording {path} is missing; pass --audio DIR if the recordings moved")
        try:
            wave = read_audio(path, model.mel_spec.sample_rate).audio
        except DistillError:
            continue  # a file training skipped as unreadable
        wave = wave[: int((MAX_SECONDS - total) * model.mel_spec.sample_rate)]
        if len(wave) < model.mel_spec.n_fft:
            continue
        clips.append((name, wave))
        total += len(wave) / model.mel_spec.sample_rate
        if total >= MAX_SECONDS:
            break
    if not clips:
        raise DistillError(f"no usable recordings to compare with in {folder}")
    return clips, note


def _usable(model: DistillModel, installed: dict[str, RegisteredVocoder]) -> list[str]:
    names = []
    for name, registered in installed.items():
        if name in model.vocoder_state or registered.backend.kind == "universal":
            names.append(name)
    return names


def _measure(render: Any, clips: list[tuple[str, np.ndarray]], spec: MelSpec) -> tuple[float, float, float, float]:
    mel_l1 = stft = snr = seconds = wall = 0.0
    for _, wave in clips:
        reference = torch.from_numpy(wave)
        mel = spec.mel(reference)
        reference = reference[: spec.num_samples(mel.shape[-1])]
        started = time.perf_counter()
        output = render(mel)
        wall += time.perf_counter() - started
        output = torch.nn.functional.pad(output, (0, max(0, len(reference) - len(output))))[: len(reference)]
        weight = len(reference) / spec.sample_rate
        mel_l1 += weight * log_mel_l1(reference, output, spec)
        stft += weight * mr_stft_distance(reference, output)
        snr += weight * snr_db(reference, output)
        seconds += weight
    return mel_l1 / seconds, stft / seconds, snr / seconds, seconds / max(wall, 1e-9)


def compare(model: DistillModel, audio: Path | None = None, device: str = "cpu") -> tuple[list[Row], str]:
    """Rows for every backend that can render `model` plus the Griffin-Lim baseline, best log-mel L1 first."""
    from .plugins import installed_vocoders

    clips, note = held_out_audio(model, audio)
    spec = model.mel_spec
    rows = []
    with torch.inference_mode():
        for name in _usable(model, installed := installed_vocoders()):
            choice = select_vocoder(model, name, installed)
            vocoder = load_vocoder(choice, spec, device)

            def render(mel: torch.Tensor, vocoder: Any = vocoder) -> torch.Tensor:
                audio_out = np.concatenate(list(vocode_stream(vocoder, mel, spec)))
                if vocoder.sample_rate != spec.sample_rate:
                    audio_out = resample(audio_out, vocoder.sample_rate, spec.sample_rate)
                return torch.from_numpy(np.ascontiguousarray(audio_out, dtype=np.float32))

            render(spec.mel(torch.from_numpy(clips[0][1][: 64 * spec.hop_length])))  # warm up, untimed
            kind = "bundled" if choice.state is not None else "converted" if choice.needs_conversion else "universal"
            rows.append(Row(name, kind, *_measure(render, clips, spec), warnings=choice.warnings))
        rows.append(Row(BASELINE, "baseline", *_measure(lambda mel: griffin_lim(mel, spec), clips, spec)))
    return sorted(rows, key=lambda row: row.log_mel_l1), note
