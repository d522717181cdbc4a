"""Griffin-Lim phase reconstruction for any distill MelSpec."""

from __future__ import annotations

from distill.plugin import DISTILL_MEL, MelSpec, VocoderBase, VocoderState, griffin_lim

ITERATIONS = 32

FITTED_MIN_FRAMES = 2000  # fewer training frames than this: warn that quality may be limited


def _pseudo_inverse(spec: MelSpec):
    import torch

    return torch.linalg.pinv(spec.filterbank())


class GriffinLim(VocoderBase):
    name = "griffinlim"
    kind = "universal"
    mel_spec = DISTILL_MEL
    priority = -100  # a baseline: any real vocoder of the same rank wins
    description = "Griffin-Lim, 32 iterations (example plugin)"

    def render(self, mel):
        return griffin_lim(mel, self.mel_spec, ITERATIONS, inverse=_pseudo_inverse(self.mel_spec))


class GriffinLim22k(GriffinLim):
    """A universal backend on another recipe, so distill has to convert mels for it."""

    name = "griffinlim-22k"
    mel_spec = MelSpec(
        sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256, n_mels=80,
        mel_scale="htk", norm=None, power=2.0, log="log10", log_floor=1e-10, padding="center",
    )
    priority = -50
    description = "Griffin-Lim on 22.05 kHz / 80 HTK mels (example plugin)"


class FittedGriffinLim(VocoderBase):
    """Per model: a mel-to-spectrum map fitted by least squares on the model's own audio."""

    name = "griffinlim-fitted"
    kind = "per-model"
    mel_spec = DISTILL_MEL
    description = "Griffin-Lim with a mel inverse fitted per model (example plugin)"

    def __init__(self, inverse, device: str = "cpu") -> None:
        super().__init__(device)
        self.inverse = inverse

    @classmethod
    def load(cls, state=None, device="cpu"):
        if state is None:
            from distill.plugin import DistillError

            raise DistillError("griffinlim-fitted needs a state: run `distill train-vocoder MODEL` first")
        return cls(state.weights["inverse"], device)

    @classmethod
    def state_warning(cls, state):
        frames = state.training.get("frames", 0)
        if frames < FITTED_MIN_FRAMES:
            return f"griffinlim-fitted was fitted on only {frames} frames; quality may be limited"
        return None

    @classmethod
    def train(cls, run):
        """The TrainableVocoder protocol: one least-squares fit (no steps, so no checkpoints)."""
        import soundfile
        import torch

        mel_spec = run.mel_spec
        mels, spectra = [], []
        for path in run.audio_files:
            wave = torch.from_numpy(soundfile.read(path, dtype="float32", always_2d=True)[0].mean(axis=1))
            mels.append(mel_spec.decompress(mel_spec.mel(wave)))
            pad = (mel_spec.n_fft - mel_spec.hop_length) // 2
            padded = torch.nn.functional.pad(wave[None, None], (pad, pad), mode="reflect")[0, 0]
            stft = torch.stft(padded, mel_spec.n_fft, mel_spec.hop_length, window=mel_spec.window(),
                              center=False, return_complex=True)
            spectra.append(stft.abs())
        m, s = torch.cat(mels, dim=1).double(), torch.cat(spectra, dim=1).double()
        ridge = 1e-3 * torch.trace(m @ m.T) / m.shape[0]
        inverse = s @ m.T @ torch.linalg.inv(m @ m.T + ridge * torch.eye(m.shape[0], dtype=m.dtype))
        if run.progress:
            run.progress(1, 1, {"seconds": 0.0})
        return VocoderState(
            backend=cls.name, version="0.1.0", config={"mel_spec": mel_spec.to_dict()},
            weights={"inverse": inverse.float()}, training={"frames": int(m.shape[1]), "steps": 1, "seconds": 0.0},
        )

    def render(self, mel):
        return griffin_lim(mel, self.mel_spec, ITERATIONS, inverse=self.inverse)
