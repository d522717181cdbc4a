"""Training examples: random frame-aligned segments drawn across all files, with augmentations that
suit a vocoder. Everything random comes from one generator, so a resumed run draws the same batches."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import attrs
import torch
from distill.plugin import DistillError, MelSpec, read_audio

from .settings import VocoderSettings


@attrs.frozen(eq=False)
class Batch:
    mel: torch.Tensor  # [B, n_mels, frames]: the generator's input
    audio: torch.Tensor  # [B, 1, frames * hop]: what it should produce

    def to(self, device: str | torch.device) -> Batch:
        return Batch(self.mel.to(device, non_blocking=True), self.audio.to(device, non_blocking=True))


class TrainingAudio:
    """The corpus in memory: each file's waveform, its whole-file mel and (optionally) the VAE's
    reconstruction of that mel. Segments take their input frames from the whole-file mel, so edge
    frames see their real neighbours exactly as they will when a whole clip is rendered."""

    def __init__(
        self, files: list[Path], mel_spec: MelSpec, segment: int,
        reconstruct: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.mel_spec, self.hop = mel_spec, mel_spec.hop_length
        self.frames = segment // self.hop
        self.audio: list[torch.Tensor] = []
        self.mels: list[torch.Tensor] = []
        self.recons: list[torch.Tensor] = []
        for path in files:
            wave = torch.from_numpy(read_audio(path, mel_spec.sample_rate).audio)
            if len(wave) < segment:  # a file shorter than one example: complete it with silence
                wave = torch.nn.functional.pad(wave, (0, segment - len(wave)))
            with torch.inference_mode():
                mel = mel_spec.mel(wave)
                recon = reconstruct(mel) if reconstruct is not None else None
            self.audio.append(wave)
            self.mels.append(mel)
            if recon is not None:
                self.recons.append(recon)
        if not self.audio:
            raise DistillError("no training audio: the model's corpus has no usable files")
        self.weights = torch.tensor([m.shape[-1] - self.frames + 1.0 for m in self.mels], dtype=torch.float64)

    @property
    def seconds(self) -> float:
        return sum(len(a) for a in self.audio) / self.mel_spec.sample_rate

    def sample(self, settings: VocoderSettings, generator: torch.Generator) -> Batch:
        """`settings.batch_size` random segments (files drawn with replacement, weighted by length, so a
        single short file, or fewer files than the batch size, is fine)."""
        rows, frames, hop = settings.batch_size, self.frames, self.hop
        picks = torch.multinomial(self.weights, rows, replacement=True, generator=generator).tolist()
        draws = torch.rand(rows, 4, generator=generator, dtype=torch.float64).tolist()
        mels, waves = [], []
        floor = math.log(self.mel_spec.log_floor)
        for index, (start_draw, recon_draw, gain_draw, sign_draw) in zip(picks, draws, strict=True):
            start = int(start_draw * (self.mels[index].shape[-1] - frames + 1))
            source = self.recons if self.recons and recon_draw < settings.vae_fraction else self.mels
            mel = source[index][:, start : start + frames]
            wave = self.audio[index][start * hop : (start + frames) * hop]
            peak = float(wave.abs().max())
            gain_db = settings.gain_db * (1.5 * gain_draw - 1.0)  # [-gain_db, +gain_db / 2]
            gain = min(10 ** (gain_db / 20), 0.99 / peak) if peak > 0 else 1.0
            sign = -1.0 if settings.polarity and sign_draw < 0.5 else 1.0
            # A gain g moves a log-mel by ln g (exactly, above the floor); the sign does not change it.
            mels.append(torch.clamp(mel + math.log(gain), min=floor))
            waves.append(wave * (gain * sign))
        return Batch(torch.stack(mels), torch.stack(waves)[:, None])
