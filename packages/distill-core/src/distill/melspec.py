"""Mel recipes: `MelSpec` says how a waveform becomes a log-mel spectrogram, and computes it.

distill uses one recipe everywhere (`DISTILL_MEL`, the one BigVGAN-v2 44 kHz was trained on), so the
VAE's mels are the vocoder's mels. Other recipes exist for plugins; `melconvert` maps between them.
torch and numpy are imported inside functions: the CLI must start without them.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import numpy as np
    import torch

MEL_SCALES = ("slaney", "htk")
LOG_KINDS = ("ln", "log10", "log1p", "none")
PADDINGS = ("reflect", "center")


def _one_of(options: tuple[str | None, ...]) -> Any:
    return attrs.validators.in_(options)


@attrs.frozen(kw_only=True)
class MelSpec:
    """A complete mel recipe. Two specs are interchangeable exactly when they compare equal."""

    sample_rate: int = 44100
    n_fft: int = 2048
    win_length: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None: the Nyquist frequency
    mel_scale: str = attrs.field(default="slaney", validator=_one_of(MEL_SCALES))
    norm: str | None = attrs.field(default="slaney", validator=_one_of(("slaney", None)))
    power: float = attrs.field(default=1.0, validator=attrs.validators.in_((1.0, 2.0)))  # 1 magnitude, 2 power
    magnitude_eps: float = 1e-9  # magnitude = sqrt(re² + im² + eps), as BigVGAN computes it
    log: str = attrs.field(default="ln", validator=_one_of(LOG_KINDS))
    log_floor: float = 1e-5  # values are clamped to this before ln / log10
    # "reflect": reflect-pad (n_fft - hop) / 2 each side, frames = samples // hop (BigVGAN, HiFi-GAN);
    # "center": torch.stft(center=True), frames = samples // hop + 1 (librosa's default).
    padding: str = attrs.field(default="reflect", validator=_one_of(PADDINGS))

    def __attrs_post_init__(self) -> None:
        if self.win_length > self.n_fft or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError(f"inconsistent mel recipe: {self}")
        if not 0 <= self.fmin < self.fmax_hz <= self.sample_rate / 2:
            raise ValueError(f"mel recipe needs 0 <= fmin < fmax <= sample_rate / 2: {self}")

    @property
    def fmax_hz(self) -> float:
        return self.sample_rate / 2 if self.fmax is None else float(self.fmax)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def silence(self) -> float:
        """The compressed value of an all-zero input."""
        return float(self.compress_scalar(0.0))

    def describe(self) -> str:
        amplitude = "magnitude" if self.power == 1.0 else "power"
        return (
            f"{self.sample_rate} Hz, {self.n_mels} {self.mel_scale} mels, n_fft {self.n_fft}, "
            f"hop {self.hop_length}, {amplitude}, {self.log}"
        )

    # -- time axis ---------------------------------------------------------------------------
    def num_frames(self, num_samples: int) -> int:
        frames = num_samples // self.hop_length
        return frames + 1 if self.padding == "center" else frames

    def num_samples(self, num_frames: int) -> int:
        """The length of audio that `num_frames` frames describe (a vocoder's output length)."""
        return (num_frames - 1 if self.padding == "center" else num_frames) * self.hop_length

    def frame_times(self, num_frames: int) -> np.ndarray:
        """Centre of each frame's analysis window, in seconds."""
        import numpy as np

        offset = 0.0 if self.padding == "center" else self.hop_length / 2
        return (np.arange(num_frames) * self.hop_length + offset) / self.sample_rate

    # -- amplitude compression ---------------------------------------------------------------
    def compress(self, mel: torch.Tensor) -> torch.Tensor:
        import torch

        if self.log == "ln":
            return torch.log(torch.clamp(mel, min=self.log_floor))
        if self.log == "log10":
            return torch.log10(torch.clamp(mel, min=self.log_floor))
        if self.log == "log1p":
            return torch.log1p(mel)
        return mel

    def decompress(self, values: torch.Tensor) -> torch.Tensor:
        import torch

        if self.log == "ln":
            return torch.exp(values)
        if self.log == "log10":
            return torch.pow(10.0, values)
        if self.log == "log1p":
            return torch.expm1(values)
        return values

    def compress_scalar(self, value: float) -> float:
        if self.log == "ln":
            return math.log(max(value, self.log_floor))
        if self.log == "log10":
            return math.log10(max(value, self.log_floor))
        if self.log == "log1p":
            return math.log1p(value)
        return value

    # -- analysis ----------------------------------------------------------------------------
    def filterbank(self) -> torch.Tensor:
        """The mel filterbank, [n_mels, n_fft // 2 + 1], float32."""
        import numpy as np
        import torch

        return torch.from_numpy(np.array(_filterbank(self), dtype=np.float32))

    def window(self) -> torch.Tensor:
        import torch

        return torch.hann_window(self.win_length, periodic=True)

    def mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """Compressed mel spectrogram of waveform [..., samples] -> [..., n_mels, frames].

        Works on a single clip or a batch, on any device; float32 in, float32 out.
        """
        import torch

        wave = waveform.float()
        lead = wave.shape[:-1]
        wave = wave.reshape(-1, wave.shape[-1])
        if self.padding == "reflect":
            pad = (self.n_fft - self.hop_length) // 2
            wave = torch.nn.functional.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            wave,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window().to(wave.device),
            center=self.padding == "center",
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        amplitude = torch.sqrt(spec.real.square() + spec.imag.square() + self.magnitude_eps)
        if self.power == 2.0:
            amplitude = amplitude.square()
        mel = torch.matmul(self.filterbank().to(wave.device), amplitude)
        return self.compress(mel).reshape(*lead, self.n_mels, mel.shape[-1])

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelSpec:
        unknown = set(data) - {field.name for field in attrs.fields(cls)}
        if unknown:
            raise ValueError(f"unknown mel recipe fields: {sorted(unknown)}")
        return cls(**data)


# The recipe of BigVGAN-v2 44 kHz 128-band 512x, used by distill end to end.
DISTILL_MEL = MelSpec()


def hz_to_mel(hz: np.ndarray | float, scale: str) -> np.ndarray:
    import numpy as np

    hz = np.asarray(hz, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    # Slaney: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def mel_to_hz(mels: np.ndarray, scale: str) -> np.ndarray:
    import numpy as np

    mels = np.asarray(mels, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    linear = mels * (200.0 / 3)
    log_part = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mels - 15.0))
    return np.where(mels >= 15.0, log_part, linear)


@functools.lru_cache(maxsize=16)
def _filterbank(spec: MelSpec) -> np.ndarray:
    """Triangular mel filters on the STFT bin grid (librosa.filters.mel's formula), float64."""
    import numpy as np

    fft_freqs = np.linspace(0.0, spec.sample_rate / 2, spec.n_freqs)
    edges_mel = np.linspace(
        hz_to_mel(spec.fmin, spec.mel_scale), hz_to_mel(spec.fmax_hz, spec.mel_scale), spec.n_mels + 2
    )
    edges = mel_to_hz(edges_mel, spec.mel_scale)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if spec.norm == "slaney":  # each filter has unit area
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights.setflags(write=False)
    return weights
