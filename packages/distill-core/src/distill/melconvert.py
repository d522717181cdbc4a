"""Mapping log-mels of one recipe onto another, for a vocoder trained on a different recipe.

Steps: undo the log; estimate the linear spectrum with a regularised inverse of the source
filterbank; regrid it to the target's STFT bins (in Hz) and rescale its level; apply the target
filterbank; resample the time axis by frame-centre times (in seconds, so hop and padding
conventions cannot stretch or shift it); apply the target's log. `tests/test_melconvert.py`
checks it by a round trip: waveform -> mel A -> convert -> mel B against mel B of the waveform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .melspec import MelSpec, _filterbank

if TYPE_CHECKING:
    import torch


class MelConverter:
    def __init__(self, source: MelSpec, target: MelSpec, regularization: float = 1e-3) -> None:
        import numpy as np
        import torch

        self.source, self.target = source, target
        bank = _filterbank(source)  # [n_src, K_src]
        gram = bank @ bank.T
        ridge = regularization * np.trace(gram) / len(gram)
        inverse = bank.T @ np.linalg.inv(gram + ridge * np.eye(len(gram)))  # [K_src, n_src]

        src_hz = np.linspace(0, source.sample_rate / 2, source.n_freqs)
        dst_hz = np.linspace(0, target.sample_rate / 2, target.n_freqs)
        regrid = np.zeros((target.n_freqs, source.n_freqs))
        position = dst_hz / (src_hz[1] - src_hz[0])
        inside = dst_hz <= src_hz[-1]  # above the source's Nyquist there is nothing to carry over
        lower = np.minimum(np.floor(position).astype(int), source.n_freqs - 2)
        frac = position - lower
        rows = np.nonzero(inside)[0]
        regrid[rows, lower[rows]] = 1 - frac[rows]
        regrid[rows, lower[rows] + 1] = frac[rows]
        # A smooth (noise-like) spectrum has STFT magnitude proportional to sqrt(sample_rate * sum(w²)).
        level = np.sqrt(
            target.sample_rate * float((target.window() ** 2).sum())
            / (source.sample_rate * float((source.window() ** 2).sum()))
        )
        self._inverse = torch.from_numpy(inverse).float()
        self._forward = torch.from_numpy(_filterbank(target) @ regrid * level).float()  # [n_dst, K_src]
        self._regrid = torch.from_numpy(regrid * level).float()
        self._target_bank = target.filterbank()

    def num_frames(self, source_frames: int) -> int:
        samples = self.source.num_samples(source_frames) * self.target.sample_rate / self.source.sample_rate
        return self.target.num_frames(round(samples))

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """Compressed source mels [..., n_src, T_src] -> compressed target mels [..., n_dst, T_dst]."""
        import torch

        device = mel.device
        linear = self.source.decompress(mel.float())
        spectrum = torch.clamp(torch.matmul(self._inverse.to(device), linear), min=0.0)
        if self.source.power == 2.0:
            spectrum = torch.sqrt(spectrum)
        if self.target.power == 2.0:
            target_mel = torch.matmul(
                self._target_bank.to(device), torch.matmul(self._regrid.to(device), spectrum).square()
            )
        else:
            target_mel = torch.matmul(self._forward.to(device), spectrum)
        return self.target.compress(self._resample_time(target_mel))

    def _resample_time(self, mel: torch.Tensor) -> torch.Tensor:
        import numpy as np
        import torch

        src_frames = mel.shape[-1]
        src_t = self.source.frame_times(src_frames)
        dst_t = self.target.frame_times(self.num_frames(src_frames))
        position = np.clip(np.interp(dst_t, src_t, np.arange(src_frames)), 0, src_frames - 1)
        lower = np.minimum(np.floor(position).astype(np.int64), max(src_frames - 2, 0))
        frac = torch.from_numpy(position - lower).float().to(mel.device)
        lower_t = torch.from_numpy(lower).to(mel.device)
        upper_t = torch.clamp(lower_t + 1, max=src_frames - 1)
        return mel[..., lower_t] * (1 - frac) + mel[..., upper_t] * frac
