"""The frame-rate generator: ConvNeXt blocks on the mel frames (Vocos), a magnitude that is the mel
filterbank's pseudo-inverse times a learnt correction (FreeV), and a phase that is integrated over time
from a predicted instantaneous frequency, then synthesised by an inverse STFT laid out exactly like
distill's analysis frames.

Why the phase is integrated: a convolutional network gives identical outputs for identical inputs, so
for a steady tone it would predict the same phase in every frame; the overlap-add of identical frames
repeats every hop, which moves a 440 Hz tone to 430.7 Hz (5 x 44100 / 512). Predicting each frame's
phase *advance* instead (the bin's centre frequency plus a bounded deviation) and summing it over time
gives a steady tone a steadily turning phase, as the recording had. A per-frame offset on top carries
what an advance cannot: the phase pattern across bins of one frame (transients, the window's shape).

The running sum makes the output depend on every earlier frame's phase advance, so long clips are
rendered by `stream`, which carries that sum (and the overlap-add) from chunk to chunk and equals a
single pass; windows rendered independently and crossfaded would not.

`refine` is the base's render path (docs/benchmarks.md, "Where the gap is"): the learnt magnitude only
reproduces the mel after overlap-add with its own phase, so the base renders the mel pseudo-inverse's
magnitude instead, with its predicted phase as the starting point of a few fast Griffin-Lim iterations.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from distill.plugin import MelReader, fast_griffin_lim
from torch import nn

from .frame_config import FrameGeneratorConfig

MAX_LOG_MAGNITUDE = 8.0  # e^8 ≈ 2981: above any real STFT magnitude of [-1, 1] audio at n_fft 2048
TAU = 2 * math.pi
REFINE_REACH = 4  # frames per Griffin-Lim iteration that a chunk's refinement reaches beyond it


class ConvNeXtBlock(nn.Module):
    """Depthwise convolution over time, then a per-frame MLP, as a scaled residual step."""

    def __init__(self, dim: int, intermediate: int, kernel: int, scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class FrameGenerator(nn.Module):
    """Log-mels [B, n_mels, T] -> waveform [B, 1, T * hop], frame t centred on sample t * hop + hop / 2."""

    pinv: torch.Tensor
    window: torch.Tensor
    centred: torch.Tensor

    def __init__(self, config: FrameGeneratorConfig, filterbank: torch.Tensor) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Conv1d(c.n_mels, c.dim, c.kernel, padding=c.kernel // 2)
        self.norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(c.dim, c.intermediate, c.kernel, 1 / c.layers)
                                    for _ in range(c.layers))
        self.final_norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.head = nn.Linear(c.dim, 3 * c.n_freqs)  # magnitude correction, phase offset, advance deviation
        # The untrained generator renders the prior's magnitude, each bin turning at its nearest peak's frequency.
        nn.init.zeros_(self.head.weight[: c.n_freqs])
        nn.init.zeros_(self.head.weight[2 * c.n_freqs :])
        nn.init.zeros_(self.head.bias)
        # Buffers, not parameters: derived from the recipe, rebuilt on load, never stored with the weights.
        self.register_buffer("pinv", torch.linalg.pinv(filterbank.double()).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(c.n_fft, periodic=True), persistent=False)
        self.register_buffer("centred", math.pi * (torch.arange(c.n_freqs) % 2).float()[:, None], persistent=False)

    @property
    def reach(self) -> int:
        """Mel frames each way that one frame's predictions depend on (the convolutions' reach)."""
        return (self.config.kernel // 2) * (self.config.layers + 1)

    def predict(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per frame and bin [B, n_freqs, T]: ln magnitude, phase offset, and phase advance since the last frame."""
        x = self.embed(mel)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)
        correction, offset, deviation = out.chunk(3, dim=1)
        prior = self.prior(mel)
        log_magnitude = torch.clamp(prior + correction, max=MAX_LOG_MAGNITUDE)
        # The network corrects, within ±π, the advance of the spectral peak each bin belongs to. Its offset
        # adds to π k: the phase pattern of a sinusoid whose window is centred in the frame (bins of one peak
        # alternate in sign), so the untrained generator already renders steady partials whole.
        advance = self.peak_advance(prior) + math.pi * torch.tanh(deviation)
        return log_magnitude, offset + self.centred, advance

    def prior(self, mel: torch.Tensor) -> torch.Tensor:
        """ln of the magnitude the mel filterbank's pseudo-inverse gives [B, n_freqs, T]."""
        return torch.log(torch.clamp(self.pinv @ torch.exp(mel), min=1e-5))

    def peak_advance(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """The phase advance per frame of the nearest spectral peak, for every bin [B, n_freqs, T]: a phase
        vocoder's peak locking. Peaks of the magnitude prior are located to a fraction of a bin by a
        parabola through their log-magnitudes; each bin turns at the frequency of the peak nearest to it."""
        with torch.no_grad():
            x = log_magnitude
            left, right = F.pad(x, (0, 0, 1, 0), value=-1e9)[:, :-1], F.pad(x, (0, 0, 0, 1), value=-1e9)[:, 1:]
            peak = (x > left) & (x >= right)
            curvature = left - 2 * x + right
            shift = torch.where(peak & (curvature < 0), 0.5 * (left - right) / curvature.clamp(max=-1e-6),
                                torch.zeros_like(x)).clamp(-0.5, 0.5)
            bins = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)[None, :, None].expand_as(x)
            # The last peak at or below each bin and the first at or above it: running max / min of peak indices.
            below = torch.cummax(torch.where(peak, bins, torch.full_like(x, -1e9)), dim=1).values
            above = torch.flip(torch.cummin(torch.flip(torch.where(peak, bins, torch.full_like(x, 1e9)), [1]),
                                            dim=1).values, [1])
            nearest = torch.where((bins - below) <= (above - bins), below, above)
            nearest = torch.where(nearest.abs() > 1e8, bins, nearest)  # no peak at all: the bin's own centre
            position = nearest + torch.gather(shift, 1, nearest.long().clamp(0, x.shape[1] - 1))
            return torch.remainder(2 * math.pi * position * self.config.hop_length / self.config.n_fft, 2 * math.pi)

    def spectrum(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The predicted ln magnitude and phase [B, n_freqs, T] of every frame, the phase summed from frame 0."""
        log_magnitude, offset, advance = self.predict(mel)  # summed in float64, as `stream` does
        return log_magnitude, offset + torch.remainder(torch.cumsum(advance.double(), dim=2), TAU).float()

    def overlap_add(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Inverse STFT of complex frames [B, n_freqs, T] by weighted overlap-add: [B, (T - 1) * hop + n_fft]
        samples from (n_fft - hop) / 2 before frame 0's centre-hop, divided by the window-square envelope."""
        frames = torch.fft.irfft(spectrum, n=self.config.n_fft, dim=1) * self.window[:, None]
        envelope = self.add_overlapping(self.window.square()[None, :, None].expand(1, -1, frames.shape[-1]))
        return self.add_overlapping(frames) / envelope.clamp(min=1e-8)

    def add_overlapping(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames [B, n_fft, T] laid hop apart and summed, [B, (T - 1) * hop + n_fft]: n_fft / hop shifted
        adds of hop-long pieces (torch's `fold` does the same 10x slower here)."""
        c = self.config
        batch, _, steps = frames.shape
        pieces = c.n_fft // c.hop_length
        blocks = frames.reshape(batch, pieces, c.hop_length, steps).transpose(2, 3)  # [B, piece, T, hop]
        out = frames.new_zeros(batch, steps + pieces - 1, c.hop_length)
        for k in range(pieces):
            out[:, k : k + steps] += blocks[:, k]
        return out.reshape(batch, -1)

    def synthesise(self, log_magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Waveform [B, 1, T * hop] of all T frames: the inverse of distill's reflect-padded analysis."""
        return self.trim(self.overlap_add(polar_spectrum(log_magnitude, phase)), phase.shape[-1])[:, None]

    def trim(self, wave: torch.Tensor, steps: int) -> torch.Tensor:
        """The T * hop samples of an overlap-add of T frames that the frames' hops cover."""
        start = (self.config.n_fft - self.config.hop_length) // 2
        return wave[:, start : start + steps * self.config.hop_length]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.synthesise(*self.spectrum(mel)).clamp(-1.0, 1.0)

    def refine(self, log_magnitude: torch.Tensor, phase: torch.Tensor, iterations: int) -> torch.Tensor:
        """The frames [B, n_freqs, T] of `log_magnitude` as a complex spectrum, with the phase after
        `iterations` of fast Griffin-Lim from `phase`: each iteration brings the spectrogram closer to
        one that a wave has."""
        magnitude = torch.exp(log_magnitude)
        frames = phase.shape[-1]
        angles = fast_griffin_lim(magnitude, torch.polar(torch.ones_like(phase), phase), iterations,
                                  stft=lambda wave: analysis_stft(wave, self.config, self.window),
                                  istft=lambda spectrum: self.trim(self.overlap_add(spectrum), frames))
        return magnitude * angles

    def stream(self, mel: torch.Tensor | MelReader, chunk: int = 512, refine: int = 0,
               frames: int | None = None) -> Iterator[torch.Tensor]:
        """The waveform of `forward(mel)`, [B, samples] chunk by chunk, `chunk` frames at a time: memory
        depends on the chunk, not the clip. `mel` is a tensor [B, n_mels, T] or a `MelReader` over chunks
        [n_mels, t] adding up to `frames` (read once, in order: the clip need never be whole). Each
        chunk's predictions see `reach` frames of context each way, the phase sum carries over in float64,
        and the frames that overlap a chunk's samples are all added, so the result equals one pass (up to
        float rounding).

        With `refine` > 0 each chunk renders the pseudo-inverse magnitude with its phase refined (`refine`),
        over frames that reach `REFINE_REACH` frames per iteration further each way: a Griffin-Lim iteration
        carries a chunk edge's error about 3 frames inwards, so the frames kept are those it cannot reach."""
        c = self.config
        if isinstance(mel, MelReader):
            assert frames is not None, "a stream of mel chunks needs its total length"
            reader = mel
            window = lambda start, stop: reader.window(start, stop)[None]  # noqa: E731
        else:
            frames, tensor = mel.shape[-1], mel
            window = lambda start, stop: tensor[..., start:stop]  # noqa: E731
        hop = c.hop_length
        spill = c.n_fft // hop // 2  # frames before and after a sample range that overlap it
        margin = spill + REFINE_REACH * refine  # frames predicted each way beyond the chunk
        chunk = max(chunk, margin + 1)  # the carried phase sum must end inside the chunk
        start_pad = (c.n_fft - hop) // 2
        total: torch.Tensor | float = 0.0  # the phase sum up to frame lo - 1 (float64)
        for first in range(0, frames, chunk):
            last = min(first + chunk, frames)
            lo, hi = max(0, first - margin), min(frames, last + margin)
            context = window(max(0, lo - self.reach), min(frames, hi + self.reach))
            skip = lo - max(0, lo - self.reach)
            log_magnitude, offset, advance = (x[..., skip : skip + hi - lo] for x in self.predict(context))
            running = total + torch.cumsum(advance.double(), dim=2)
            phase = offset + torch.remainder(running, TAU).float()
            if last < frames:  # the next chunk's frames start at `last - margin`
                index = last - margin - lo - 1
                total = torch.remainder(running[..., index : index + 1], TAU)
            if refine:
                spectrum = self.refine(self.prior(context[..., skip : skip + hi - lo]), phase, refine)
            else:
                spectrum = polar_spectrum(log_magnitude, phase)
            sounding = slice(max(0, first - spill) - lo, min(frames, last + spill) - lo)  # frames heard in the chunk
            wave = self.overlap_add(spectrum[..., sounding])
            begin = first * hop - (max(0, first - spill) * hop - start_pad)  # the wave starts before the chunk
            yield wave[:, begin : begin + (last - first) * hop].clamp(-1.0, 1.0)


def polar_spectrum(log_magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """The complex spectrum [B, n_freqs, T] of a ln magnitude and a phase."""
    magnitude = torch.exp(log_magnitude)
    return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))


def analysis_stft(wave: torch.Tensor, config: FrameGeneratorConfig, window: torch.Tensor) -> torch.Tensor:
    """The complex STFT [B, n_freqs, T] behind distill's mels (reflect-padded, not centred): what
    `FrameGenerator.synthesise` inverts."""
    pad = (config.n_fft - config.hop_length) // 2
    padded = F.pad(wave[:, None], (pad, pad), mode="reflect")[:, 0]
    return torch.stft(padded, config.n_fft, config.hop_length, window=window, center=False, return_complex=True)


def frame_generator(config: FrameGeneratorConfig, filterbank: torch.Tensor,
                    weights: dict[str, torch.Tensor] | None = None) -> FrameGenerator:
    """A generator, with `weights` loaded (cast to float32) when given."""
    generator = FrameGenerator(config, filterbank)
    if weights is not None:
        generator.load_state_dict({key: value.float() for key, value in weights.items()})
    return generator
