"""Griffin-Lim: a phase for a magnitude by iteration. distill uses it only as a baseline (the
benchmarks' and `vocoders compare`'s reference row) and the example plugin renders with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .melspec import MelSpec

ITERATIONS = 32
MOMENTUM = 0.99  # fast Griffin-Lim (Perraudin et al. 2013)


def griffin_lim(mel: torch.Tensor, spec: MelSpec, iterations: int = ITERATIONS, seed: int = 0,
                inverse: torch.Tensor | None = None) -> torch.Tensor:
    """Log-mels [..., n_mels, T] -> waveform [..., spec.num_samples(T)]: `inverse` (default: the
    filterbank's pseudo-inverse) gives a magnitude, fast Griffin-Lim a phase."""
    import torch

    mel = mel.float()
    frames = mel.shape[-1]
    inverse = torch.linalg.pinv(spec.filterbank()) if inverse is None else inverse
    amplitude = torch.clamp(inverse.to(mel.device) @ spec.decompress(mel), min=0.0)
    magnitude = amplitude.sqrt() if spec.power == 2.0 else amplitude
    window = spec.window().to(mel.device)

    def stft(wave: torch.Tensor) -> torch.Tensor:
        return torch.stft(wave, spec.n_fft, spec.hop_length, spec.win_length, window, return_complex=True)

    def istft(spectrum: torch.Tensor) -> torch.Tensor:
        return torch.istft(spectrum, spec.n_fft, spec.hop_length, spec.win_length, window, length=length)

    # The "reflect" recipe's frame i is centred on sample i*hop + hop/2: run Griffin-Lim on the signal
    # shifted by hop/2 with centred frames, then shift back.
    length = (frames - 1) * spec.hop_length
    phase = torch.rand(magnitude.shape, generator=torch.Generator().manual_seed(seed)) * 2 * torch.pi
    angles = torch.polar(torch.ones_like(magnitude), phase.to(mel.device))
    wave = istft(magnitude * fast_griffin_lim(magnitude, angles, iterations, stft, istft))
    if spec.padding == "reflect":
        half = spec.hop_length // 2
        wave = torch.nn.functional.pad(wave, (half, spec.hop_length - half))
    return torch.clamp(wave, -1.0, 1.0)


def fast_griffin_lim(magnitude: torch.Tensor, angles: torch.Tensor, iterations: int,
                     stft: Callable[[torch.Tensor], torch.Tensor],
                     istft: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The unit phasors after `iterations` of fast Griffin-Lim from `angles` (complex, one per bin and
    frame of `magnitude`); `stft` and `istft` are the analysis and synthesis the spectrogram belongs to."""
    import torch

    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        rebuilt = stft(istft(magnitude * angles))
        angles = rebuilt - previous * (MOMENTUM / (1 + MOMENTUM))
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    return angles
