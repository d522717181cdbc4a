"""Training previews: a short clip at every checkpoint, rendered through the same latents ->
vocoder -> export pipeline as `distill generate`, so what you hear is what the model will do."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import DistillError, Fix, Hint
from .export import ExportSettings, write_audio
from .melspec import MelSpec
from .model import DistillModel
from .pipeline import GenerationSettings, LoadedModel, clip_chunks
from .plugin.contract import VocoderBase
from .sliders import analyze
from .vae import MelVAE
from .vocoders.selection import load_vocoder, select_vocoder

PREVIEW_SECONDS = 3.0


class PreviewMaker:
    def __init__(self, folder: Path, mels: list[torch.Tensor], mel_spec: MelSpec, device: str) -> None:
        self.folder, self.mels, self.mel_spec = folder, mels, mel_spec
        self.vocoder: VocoderBase | None = None
        self.note: str | Hint = ""  # what the log says about previews
        probe = DistillModel(name="preview", id="preview", mel_spec=mel_spec, vae_config={}, vae_weights={},
                             sliders=None, training={})  # type: ignore[arg-type]
        try:
            choice = select_vocoder(probe)
            if choice.backend.weights_present() is False:  # a preview never starts a large download
                name = choice.backend.name
                self.note = Hint(f"previews skipped: vocoder {name!r} has not downloaded its weights yet",
                                 Fix("download", name))
                return
            self.vocoder = load_vocoder(choice, mel_spec, device)
            self.note = f"previews: every checkpoint, in {folder}, vocoded by {choice.backend.name}"
        except DistillError as exc:
            self.note = Hint(f"previews skipped: {exc.message}", exc.fix)

    def __call__(self, step: int, vae: MelVAE) -> Path | None:
        if self.vocoder is None:
            return None
        was_training = vae.training
        vae.eval()
        try:
            model = DistillModel(name="preview", id="preview", mel_spec=self.mel_spec, vae_config=vae.config,
                                 vae_weights={k: v.detach().cpu() for k, v in vae.state_dict().items()},
                                 sliders=analyze(vae, self.mels), training={})
            settings = GenerationSettings(seconds=PREVIEW_SECONDS, seed=0)
            path = self.folder / f"step-{step:06d}.wav"
            write_audio(clip_chunks(LoadedModel(model), settings, self.vocoder), self.vocoder.sample_rate,
                        PREVIEW_SECONDS, path, ExportSettings.create("wav", sample_rate=self.vocoder.sample_rate))
            return path
        finally:
            vae.train(was_training)
