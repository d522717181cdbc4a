"""Generation: every path (prior, sliders, variation, morph, blend) goes through one pipeline,
latents -> log-mels -> one vocoder instance -> audio chunks, so training previews, `distill generate`
and replays all sound the same for the same settings.

The vocoder renders in overlapping windows joined by raised-cosine crossfades, so memory stays flat
however long the clip is; audio leaves this module as a stream of chunks (see export.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from . import latents as lat
from .errors import DistillError
from .melspec import MelSpec
from .model import DistillModel
from .sliders import SliderAnalysis
from .vae import MelVAE
from .vocoders.contract import VocoderBase

MAX_SECONDS = 600.0
MIN_SECONDS = 0.1
MAX_BLENDS = 4


@attrs.frozen
class GenerationSettings:
    """Everything that decides the sound (export settings are separate). Stored in every sidecar."""

    seconds: float
    seed: int
    evolution: float = 0.5
    sliders: tuple[tuple[str, float], ...] = ()
    from_audio: str | None = None
    variation: float = 0.0
    morph: tuple[str, str] | None = None
    blend: tuple[tuple[str, float], ...] = ()
    temperature: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not MIN_SECONDS <= self.seconds <= MAX_SECONDS:
            raise DistillError(f"duration must be between {MIN_SECONDS} and {MAX_SECONDS:.0f} seconds "
                               f"(10 minutes), got {self.seconds:g}")
        for label, value in (("evolution", self.evolution), ("variation", self.variation)):
            if not 0.0 <= value <= 1.0:
                raise DistillError(f"--{label} must be between 0 and 1, got {value:g}")
        if self.from_audio and self.morph:
            raise DistillError("give --from-audio or --morph, not both")
        if len(self.blend) > MAX_BLENDS:
            raise DistillError(f"blend at most {MAX_BLENDS} other models at once, got {len(self.blend)}")
        if self.blend and not 0 < sum(w for _, w in self.blend) < 1:
            raise DistillError("--blend weights must each be positive and add up to less than 1 "
                               "(the rest is this model's share)")

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationSettings:
        data = dict(data)
        data["sliders"] = tuple((str(k), float(v)) for k, v in data.get("sliders", ()))
        data["blend"] = tuple((str(k), float(v)) for k, v in data.get("blend", ()))
        data["morph"] = tuple(data["morph"]) if data.get("morph") else None
        return cls(**data)


class LoadedModel:
    """A model ready to generate: its VAE built once."""

    def __init__(self, model: DistillModel, path: Path | None = None) -> None:
        self.model, self.path = model, path  # path: the file it came from, recorded in sidecars
        self.vae = MelVAE(**model.vae_config)
        self.vae.load_state_dict(model.vae_weights)
        self.vae.eval()

    @property
    def mel_spec(self) -> MelSpec:
        return self.model.mel_spec

    @property
    def analysis(self) -> SliderAnalysis:
        return self.model.sliders

    @property
    def latent_rate(self) -> float:
        return self.mel_spec.sample_rate / self.mel_spec.hop_length / self.vae.downsample

    @torch.inference_mode()
    def encode_file(self, path: Path) -> torch.Tensor:
        """Posterior-mean latents [latent_dim, frames] of an audio file."""
        from .audio import read_audio

        if not path.is_file():
            raise DistillError(f"audio file not found: {path}")
        audio = read_audio(path, self.mel_spec.sample_rate).audio
        if len(audio) < self.mel_spec.n_fft:
            raise DistillError(f"{path} is too short to encode (under {self.mel_spec.n_fft} samples)")
        mean, _ = self.vae.encode(self.mel_spec.mel(torch.from_numpy(audio))[None])
        return mean[0]

    def endpoint(self, source: str, frames: int) -> torch.Tensor:
        """A morph endpoint: an audio file, or `seed:N` (a prior path drawn with seed N)."""
        match = re.fullmatch(r"(?:seed:)?(\d+)", source)
        if match and not Path(source).exists():
            generator = torch.Generator().manual_seed(int(match.group(1)))
            return lat.prior_latents(self.analysis, frames, self.latent_rate, 0.3, generator)
        return lat.fit_length(self.encode_file(Path(source)), frames)

    def latents(self, settings: GenerationSettings, frames: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(settings.seed)
        if settings.from_audio:
            encoded = lat.fit_length(self.encode_file(Path(settings.from_audio)), frames)
            z = lat.variation(encoded, self.analysis, settings.variation, self.latent_rate, generator)
        elif settings.morph:
            z = lat.morph(self.endpoint(settings.morph[0], frames), self.endpoint(settings.morph[1], frames))
        else:
            z = lat.prior_latents(self.analysis, frames, self.latent_rate, settings.evolution, generator,
                                  settings.temperature)
        return lat.apply_sliders(z, self.analysis, dict(settings.sliders))

    @torch.inference_mode()
    def mel(self, settings: GenerationSettings, mel_frames: int) -> torch.Tensor:
        """Log-mels [n_mels, mel_frames] for the settings (blending excluded)."""
        z = self.latents(settings, self.vae.latent_frames(mel_frames))
        return self.vae.decode(z[None])[0, :, :mel_frames]


def check_sliders(analysis: SliderAnalysis, values: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """Slider values by canonical name, clamped to the safe range, with a warning for each clamp."""
    checked, warnings = {}, []
    for key, value in values.items():
        slider = analysis.by_name(key)
        if not math.isfinite(value):
            raise DistillError(f"slider {slider.name!r} = {value} is not a finite number; give a value in "
                               f"[{slider.low:g}, {slider.high:g}]")
        clamped = min(max(value, slider.low), slider.high)
        if clamped != value:
            warnings.append(f"slider {slider.name!r} = {value:g} is outside its safe range "
                            f"[{slider.low:g}, {slider.high:g}]; using {clamped:g}")
        checked[slider.name] = clamped
    return checked, warnings


def mel_frames_for(seconds: float, spec: MelSpec) -> int:
    """Frames that cover `seconds` of audio (with a frame of margin; output is cut to exact length)."""
    return max(1, math.ceil(seconds * spec.sample_rate / spec.hop_length)) + 1


def output_samples(frames: int, model_spec: MelSpec, vocoder: VocoderBase) -> int:
    return round(model_spec.num_samples(frames) * vocoder.sample_rate / model_spec.sample_rate)


@torch.inference_mode()
def vocode_stream(vocoder: VocoderBase, mel: torch.Tensor, model_spec: MelSpec) -> Iterator[np.ndarray]:
    """Waveform chunks (float32, at the vocoder's rate) for log-mels [n_mels, frames], rendered in
    windows of `vocoder.window_frames` overlapping by `vocoder.overlap_frames`; neighbouring renders
    are crossfaded with a raised cosine across the overlap. Memory depends on the window, not the clip."""
    frames = mel.shape[-1]
    window, overlap = vocoder.window_frames, vocoder.overlap_frames
    step = window - overlap
    fade = output_samples(overlap, model_spec, vocoder)
    cross = min(fade, output_samples(vocoder.crossfade_frames or overlap, model_spec, vocoder))
    lead = (fade - cross) // 2  # overlap samples taken from the previous window alone, before the crossfade
    ramp = np.concatenate([np.zeros(lead, np.float32),
                           (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, cross, dtype=np.float64))).astype(np.float32),
                           np.ones(fade - lead - cross, np.float32)])
    pending: np.ndarray | None = None  # the previous window's tail, waiting to be crossfaded
    for start in range(0, frames, step):
        stop = min(start + window, frames)
        wanted = output_samples(stop, model_spec, vocoder) - output_samples(start, model_spec, vocoder)
        audio = vocoder.render(mel[None, :, start:stop].to(vocoder.device))[0].float().cpu().numpy()
        audio = np.pad(audio, (0, max(0, wanted - len(audio))))[:wanted]
        if pending is not None:
            n = min(fade, len(pending), len(audio))
            audio[:n] = pending[:n] * (1 - ramp[:n]) + audio[:n] * ramp[:n]
        last = stop >= frames
        if last:
            yield audio
            return
        pending = audio[-fade:].copy()
        yield audio[:-fade]


def blend_mode(primary: LoadedModel, others: list[LoadedModel]) -> str:
    """"mel" when every model shares the primary's mel recipe (mix log-mels, one vocoder pass);
    "audio" when recipes differ (each model is vocoded on its own and the waveforms are mixed).
    Latents of separately trained models live in unrelated coordinates, so they are never averaged."""
    rates = {m.model.name: m.mel_spec.sample_rate for m in [primary, *others]}
    if len(set(rates.values())) > 1:
        listing = ", ".join(f"{name}: {rate} Hz" for name, rate in rates.items())
        raise DistillError(f"cannot blend models of different sample rates ({listing}); blend models "
                           "trained with the same sample rate")
    return "mel" if all(m.mel_spec == primary.mel_spec for m in others) else "audio"


def clip_chunks(
    primary: LoadedModel, settings: GenerationSettings, vocoder: VocoderBase,
    blends: list[tuple[LoadedModel, float, VocoderBase]] = (),  # type: ignore[assignment]
) -> Iterator[np.ndarray]:
    """Audio chunks at `vocoder.sample_rate` for one clip. Sliders belong to the primary model;
    blended models follow the same seed, path and duration."""
    frames = mel_frames_for(settings.seconds, primary.mel_spec)
    mel = primary.mel(settings, frames)
    if not blends:
        yield from vocode_stream(vocoder, mel, primary.mel_spec)
        return
    others = attrs.evolve(settings, sliders=())
    share = 1.0 - sum(weight for _, weight, _ in blends)
    if blend_mode(primary, [m for m, _, _ in blends]) == "mel":
        mixed = share * mel
        for model, weight, _ in blends:
            mixed = mixed + weight * model.mel(others, frames)
        yield from vocode_stream(vocoder, mixed, primary.mel_spec)
        return
    mix = share * np.concatenate(list(vocode_stream(vocoder, mel, primary.mel_spec)))
    for model, weight, own_vocoder in blends:
        if own_vocoder.sample_rate != vocoder.sample_rate:
            raise DistillError("blended models are rendered by vocoders of different sample rates; "
                               "choose one vocoder for all with --vocoder")
        audio = np.concatenate(list(vocode_stream(own_vocoder, model.mel(others, frames), model.mel_spec)))
        mix[: len(audio)] += weight * audio[: len(mix)]
    yield mix.astype(np.float32)
