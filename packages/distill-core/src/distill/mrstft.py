"""The multi-resolution STFT distance: spectral convergence plus log-magnitude L1, averaged over FFT
sizes around distill's 2048/512 analysis, so fine time and fine frequency detail both count. One
implementation serves as a vocoder's training loss (it keeps the graph) and as a comparison metric."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop)


def multi_resolution_stft(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The distance of waveforms `generated` from `target` ([L] or [B, L]), differentiable."""
    import torch

    total = torch.zeros((), device=generated.device)
    for n_fft, hop in STFT_RESOLUTIONS:
        fake, real = _magnitude(generated, n_fft, hop), _magnitude(target, n_fft, hop)
        convergence = torch.linalg.norm(real - fake) / torch.linalg.norm(real).clamp(min=1e-7)
        total = total + convergence + (fake.log() - real.log()).abs().mean()
    return total / len(STFT_RESOLUTIONS)


def _magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    import torch

    window = torch.hann_window(n_fft, device=wave.device)
    spec = torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)
    return torch.sqrt(spec.real.square() + spec.imag.square() + 1e-7)
