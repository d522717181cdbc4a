"""Generation: every path (prior, sliders, variation, morph, blend) goes through one pipeline,
latents -> log-mels -> one vocoder instance -> audio chunks, so training previews, `distill generate`
and replays all sound the same for the same settings.

Latents are drawn whole (16 numbers per 93 ms frame: 0.4 MB for 10 minutes); the decoder turns them
into log-mels in overlapping windows and the vocoder renders those in overlapping windows joined by
raised-cosine crossfades, so memory stays flat however long the clip is; audio leaves this module as
a stream of chunks (see export.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from . import latents as lat
from .errors import DistillError, Fix
from .melspec import MelSpec
from .model import DistillModel
from .plugin.contract import VocoderBase
from .prior import TrainedPrior
from .sliders import SliderAnalysis
from .vae import MelVAE

MAX_SECONDS = 600.0
MIN_SECONDS = 0.1
MAX_BLENDS = 4
PRIORS = ("learned", "gaussian")
DECODE_FRAMES = 2048  # log-mel frames (24 s) decoded at a time
DECODE_MARGIN = 16  # latent frames of context each side: over twice the decoder's receptive field


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
    prior: str = "gaussian"  # what sidecars written before the learned prior used
    controls: tuple[tuple[str, float], ...] = ()  # named controls; `sliders` are the legacy ones (sliders.py)

    def __attrs_post_init__(self) -> None:
        if self.prior not in PRIORS:
            raise DistillError(f"--prior must be one of {', '.join(PRIORS)}, got {self.prior!r}")
        if not 0.05 <= self.temperature <= 2.0:
            raise DistillError(f"--temperature must be between 0.05 and 2, got {self.temperature:g}")
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
        data["controls"] = tuple((str(k), float(v)) for k, v in data.get("controls", ()))
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
        self._prior: TrainedPrior | None = None

    def trained_prior(self, settings: GenerationSettings) -> TrainedPrior | None:
        """The learned prior when the settings ask for it (None: the Gaussian prior), built on first use
        so that a model whose prior cannot be built still generates with the Gaussian one."""
        from .prior import KINDS

        state, where = self.model.prior, self.path or self.model.name
        if settings.prior == "gaussian":
            return None
        if state is None:
            raise DistillError(f"model {self.model.name!r} has no learned prior (it was trained before distill "
                               "learned one)", Fix("gaussian-prior"))
        if state.kind not in KINDS:
            raise DistillError(f"{where} has a learned prior of kind {state.kind!r}, which this distill does not "
                               "know (a newer version made it; pip install -U distill upgrades it)",
                               Fix("gaussian-prior"))
        if self._prior is None:
            try:
                self._prior = TrainedPrior.from_tensors(state.config, state.tensors)
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise DistillError(f"{where} has a damaged learned prior ({type(exc).__name__})",
                                   Fix("gaussian-prior")) from None
        return self._prior

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

    def new_material(self, settings: GenerationSettings, frames: int, evolution: float,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents [latent_dim, frames] drawn from the prior the settings name, and what the decoder is
        told where the prior plays that too (else None)."""
        prior = self.trained_prior(settings)
        if prior is None:
            return lat.prior_latents(self.analysis, frames, self.latent_rate, evolution, generator,
                                     settings.temperature), None
        return lat.learned_latents(prior, self.analysis, frames, self.latent_rate, evolution, generator,
                                   settings.temperature)

    def endpoint(self, settings: GenerationSettings, source: str, frames: int) -> torch.Tensor:
        """A morph endpoint: an audio file, or `seed:N` (new material drawn with seed N)."""
        match = re.fullmatch(r"(?:seed:)?(\d+)", source)
        if match and not Path(source).exists():
            return self.new_material(settings, frames, 0.3, torch.Generator().manual_seed(int(match.group(1))))[0]
        return lat.fit_length(self.encode_file(Path(source)), frames)

    @torch.inference_mode()
    def latents(self, settings: GenerationSettings, frames: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents [latent_dim, frames] for the settings, and what the decoder is told where the learned
        prior played it (else None: the `describe` head reads it from the latents)."""
        generator = torch.Generator().manual_seed(settings.seed)
        told = None
        if settings.from_audio:
            z = lat.fit_length(self.encode_file(Path(settings.from_audio)), frames)
            prior = self.trained_prior(settings)
            if prior is None:
                z = lat.variation(z, self.analysis, settings.variation, self.latent_rate, generator)
            elif settings.variation > 0:
                own = self.vae.describe(z[None])[0] if prior.prior.qualities else None
                z, told = lat.learned_variation(z, prior, self.analysis, settings.variation, self.latent_rate,
                                                generator, own)
        elif settings.morph:
            z = lat.morph(self.endpoint(settings, settings.morph[0], frames),
                          self.endpoint(settings, settings.morph[1], frames))
        else:
            z, told = self.new_material(settings, frames, settings.evolution, generator)
        z = lat.apply_sliders(z, self.analysis, dict(settings.sliders))
        return lat.apply_controls(z, self.analysis, dict(settings.controls)), told

    def conditions(self, z: torch.Tensor, settings: GenerationSettings,
                   played: torch.Tensor | None = None) -> torch.Tensor | None:
        """What a conditioned decoder is told for latents [latent_dim, L]: the qualities the prior
        played (`played`, [conditions, L]) or else its head predicts, shifted by the settings' controls
        of them (None: a decoder without conditions)."""
        if not self.vae.conditions:
            return None
        from . import conditioning

        told = self.vae.describe(z[None]) if played is None else played[None]
        shifts = {}
        for name, value in settings.controls:
            control = self.analysis.control(name)
            if control.channel >= 0:
                shifts[conditioning.CONDITIONS[control.channel]] = value * control.scale
        return conditioning.shifted(told, self.vae, shifts)[0]

    @torch.inference_mode()
    def mel_chunks(self, settings: GenerationSettings, mel_frames: int) -> Iterator[torch.Tensor]:
        """Log-mels [n_mels, ≤ DECODE_FRAMES] for the settings (blending excluded), decoded a window at
        a time with DECODE_MARGIN latent frames of context on each side, so memory stays flat."""
        z, played = self.latents(settings, self.vae.latent_frames(mel_frames))
        told = self.conditions(z, settings, played)
        per_chunk = DECODE_FRAMES // self.vae.downsample
        for start in range(0, z.shape[-1], per_chunk):
            lo, hi = max(0, start - DECODE_MARGIN), min(z.shape[-1], start + per_chunk + DECODE_MARGIN)
            mel = self.vae.decode(z[None, :, lo:hi], None if told is None else told[None, :, lo:hi])[0]
            first = (start - lo) * self.vae.downsample
            stop = min(first + DECODE_FRAMES, mel_frames - start * self.vae.downsample + first)
            yield mel[:, first:stop]

    def mel(self, settings: GenerationSettings, mel_frames: int) -> torch.Tensor:
        """Log-mels [n_mels, mel_frames] for the settings (blending excluded), whole."""
        return torch.cat(list(self.mel_chunks(settings, mel_frames)), dim=-1)


@attrs.frozen
class SliderValues:
    """Slider values checked against a model: its controls, and legacy sliders (models made before
    controls, and their old presets and sidecars), by canonical name, clamped to their safe ranges."""

    controls: dict[str, float]
    legacy: dict[str, float]
    warnings: list[str]


def check_sliders(analysis: SliderAnalysis, values: dict[str, float],
                  legacy: dict[str, float] | None = None) -> SliderValues:
    """`values` name controls (by name or index); a model without controls reads them as its legacy
    sliders, as it always did. `legacy` values (an old preset's) always name legacy sliders."""
    checked: dict[str, dict[str, float]] = {"controls": {}, "legacy": {}}
    warnings = []
    asked = [("legacy", key, value) for key, value in (legacy or {}).items()]
    asked += [("controls" if analysis.controls else "legacy", key, value) for key, value in values.items()]
    for kind, key, value in asked:
        slider = analysis.control(key) if kind == "controls" else analysis.by_name(key)
        unit = getattr(slider, "unit", "")
        if not math.isfinite(value):
            raise DistillError(f"slider {slider.name!r} = {value} is not a finite number; give a value in "
                               f"[{slider.low:g}, {slider.high:g}]{' ' + unit if unit else ''}")
        clamped = min(max(value, slider.low), slider.high)
        if clamped != value:
            warnings.append(f"slider {slider.name!r} = {value:g} is outside its safe range "
                            f"[{slider.low:g}, {slider.high:g}]{' ' + unit if unit else ''}; using {clamped:g}")
        checked[kind][slider.name] = clamped
    return SliderValues(checked["controls"], checked["legacy"], warnings)


def mel_frames_for(seconds: float, spec: MelSpec) -> int:
    """Frames that cover `seconds` of audio (with a frame of margin; output is cut to exact length)."""
    return max(1, math.ceil(seconds * spec.sample_rate / spec.hop_length)) + 1


def mixed_chunks(parts: list[tuple[Iterator[torch.Tensor], float]]) -> Iterator[torch.Tensor]:
    """The weighted sum of log-mel streams that share one chunking (DECODE_FRAMES)."""
    for chunks in zip(*(stream for stream, _ in parts), strict=True):
        yield sum((weight * chunk for chunk, (_, weight) in zip(chunks, parts, strict=True)),
                  start=torch.zeros_like(chunks[0]))


def vocode_stream(vocoder: VocoderBase, mel: torch.Tensor | Iterable[torch.Tensor],
                  frames: int | None = None) -> Iterator[np.ndarray]:
    """Waveform chunks (float32, at the vocoder's rate) of log-mels [n_mels, frames] in the vocoder's
    recipe (one tensor, or a stream of chunks adding up to `frames`), as `vocoder.stream` renders them;
    the clip's length is held to what `frames` last, whatever a backend yields."""
    if isinstance(mel, torch.Tensor):
        frames, mel = mel.shape[-1], [mel]
    assert frames is not None, "a stream of log-mel chunks needs its total length"
    remaining = vocoder.output_samples(frames)
    for chunk in vocoder.stream(mel, frames):
        audio = chunk.detach().float().cpu().numpy()[:remaining]
        remaining -= len(audio)
        if len(audio):
            yield audio
    if remaining > 0:
        yield np.zeros(remaining, np.float32)


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


def _blended(model: LoadedModel, settings: GenerationSettings) -> GenerationSettings:
    """A blended model follows the clip's seed, path and duration without its sliders, through its own
    learned prior when the clip uses one and it has one."""
    prior = "learned" if settings.prior == "learned" and model.model.prior is not None else "gaussian"
    return attrs.evolve(settings, sliders=(), controls=(), prior=prior)


def clip_chunks(
    primary: LoadedModel, settings: GenerationSettings, vocoder: VocoderBase,
    blends: list[tuple[LoadedModel, float, VocoderBase]] = (),  # type: ignore[assignment]
) -> Iterator[np.ndarray]:
    """Audio chunks at `vocoder.sample_rate` for one clip. Sliders belong to the primary model;
    blended models follow the same seed, path and duration."""
    frames = mel_frames_for(settings.seconds, primary.mel_spec)
    mel = primary.mel_chunks(settings, frames)
    if not blends:
        yield from vocode_stream(vocoder, mel, frames)
        return
    share = 1.0 - sum(weight for _, weight, _ in blends)
    if blend_mode(primary, [m for m, _, _ in blends]) == "mel":
        parts = [(mel, share)] + [(model.mel_chunks(_blended(model, settings), frames), weight)
                                  for model, weight, _ in blends]
        yield from vocode_stream(vocoder, mixed_chunks(parts), frames)
        return
    if any(own.sample_rate != vocoder.sample_rate for _, _, own in blends):
        raise DistillError("blended models are rendered by vocoders of different sample rates", Fix("one-vocoder"))
    others = []
    for model, weight, own in blends:  # each as long as the clip, in frames of its own recipe
        length = mel_frames_for(settings.seconds, model.mel_spec)
        others.append((vocode_stream(own, model.mel_chunks(_blended(model, settings), length), length), weight))
    yield from mixed_audio(vocode_stream(vocoder, mel, frames), share, others)


def mixed_audio(primary: Iterator[np.ndarray], share: float,
                others: list[tuple[Iterator[np.ndarray], float]]) -> Iterator[np.ndarray]:
    """The weighted sum of audio streams, chunked as `primary` is and as long as it (a shorter stream
    adds silence): each model of an audio-domain blend renders chunk by chunk beside the others."""
    pending = [np.zeros(0, np.float32) for _ in others]
    for chunk in primary:
        mix = share * chunk
        for i, (stream, weight) in enumerate(others):
            while len(pending[i]) < len(chunk) and (more := next(stream, None)) is not None:
                pending[i] = np.concatenate([pending[i], more])
            part, pending[i] = pending[i][: len(chunk)], pending[i][len(chunk) :]
            mix[: len(part)] += weight * part
        yield mix.astype(np.float32)
