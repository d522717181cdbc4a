"""HiFi-GAN benchmarks: our generator and training step against a straightforward (jik876-style)
HiFi-GAN V2 written out below, on the same config, weights, batch and segment, in the same run;
and (long, opt-in) how quality grows with CPU-minutes of `distill train-vocoder`.

Run:  python tests/bench/bench_hifigan.py             inference and training speed (a few minutes)
      python tests/bench/bench_hifigan.py --design    design A/B runs in steps (warm-up, VAE pairs; ~1 h)
      python tests/bench/bench_hifigan.py --quality   quality after 5, 15, 30 and 60 minutes (~1.8 h)
`--workdir DIR` keeps the demo corpus and its model between runs. Speeds are noisy on a shared
machine (±20-30 %): compare rows of one run, as ratios.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from distill.melspec import DISTILL_MEL
from torch import nn
from torch.nn import AvgPool1d, Conv1d, Conv2d, ConvTranspose1d

EXE = str(Path(sys.executable).with_name("distill"))
PLUGINS = {"DISTILL_LOAD_PLUGINS": "distill-hifigan,distill-griffinlim"}

# ==================================================================================================
# The reference: HiFi-GAN V2 as the published code writes it (jik876/hifi-gan models.py, train.py),
# for distill's recipe (128 mels, hop 512: rates 8, 8, 4, 2). Straightforward on purpose.
# ==================================================================================================
LRELU_SLOPE = 0.1
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from torch.nn.utils import remove_weight_norm, spectral_norm, weight_norm


def init_weights(m: nn.Module, mean: float = 0.0, std: float = 0.01) -> None:
    if m.__class__.__name__.find("Conv") != -1:
        m.weight.data.normal_(mean, std)


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return int((kernel_size * dilation - dilation) / 2)


def _wn(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return weight_norm(module)


class RefResBlock1(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3, dilation: tuple[int, ...] = (1, 3, 5)) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList([_wn(Conv1d(channels, channels, kernel_size, 1, dilation=d,
                                                padding=get_padding(kernel_size, d))) for d in dilation])
        self.convs1.apply(init_weights)
        self.convs2 = nn.ModuleList([_wn(Conv1d(channels, channels, kernel_size, 1, dilation=1,
                                                padding=get_padding(kernel_size, 1))) for _ in dilation])
        self.convs2.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            xt = F.leaky_relu(x, LRELU_SLOPE)
            xt = c1(xt)
            xt = F.leaky_relu(xt, LRELU_SLOPE)
            xt = c2(xt)
            x = xt + x
        return x

    def remove_weight_norm(self) -> None:
        for layer in [*self.convs1, *self.convs2]:
            remove_weight_norm(layer)


class RefGenerator(nn.Module):
    def __init__(self, rates: tuple[int, ...] = (8, 8, 4, 2), kernels: tuple[int, ...] = (16, 16, 8, 4)) -> None:
        super().__init__()
        self.num_kernels = 3
        self.num_upsamples = len(rates)
        self.conv_pre = _wn(Conv1d(128, 128, 7, 1, padding=3))
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(rates, kernels, strict=True)):
            self.ups.append(_wn(ConvTranspose1d(128 // (2**i), 128 // (2 ** (i + 1)), k, u, padding=(k - u) // 2)))
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = 128 // (2 ** (i + 1))
            for k, d in zip((3, 7, 11), ((1, 3, 5),) * 3, strict=True):
                self.resblocks.append(RefResBlock1(ch, k, d))
        self.conv_post = _wn(Conv1d(ch, 1, 7, 1, padding=3))
        self.ups.apply(init_weights)
        self.conv_post.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        for i in range(self.num_upsamples):
            x = F.leaky_relu(x, LRELU_SLOPE)
            x = self.ups[i](x)
            xs = None
            for j in range(self.num_kernels):
                if xs is None:
                    xs = self.resblocks[i * self.num_kernels + j](x)
                else:
                    xs += self.resblocks[i * self.num_kernels + j](x)
            x = xs / self.num_kernels
        x = F.leaky_relu(x)
        x = self.conv_post(x)
        return torch.tanh(x)

    def remove_weight_norm(self) -> None:
        for layer in self.ups:
            remove_weight_norm(layer)
        for block in self.resblocks:
            block.remove_weight_norm()
        remove_weight_norm(self.conv_pre)
        remove_weight_norm(self.conv_post)


class RefDiscriminatorP(nn.Module):
    def __init__(self, period: int, kernel_size: int = 5, stride: int = 3) -> None:
        super().__init__()
        self.period = period
        self.convs = nn.ModuleList([
            _wn(Conv2d(1, 32, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            _wn(Conv2d(32, 128, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            _wn(Conv2d(128, 512, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            _wn(Conv2d(512, 1024, (kernel_size, 1), (stride, 1), padding=(get_padding(5, 1), 0))),
            _wn(Conv2d(1024, 1024, (kernel_size, 1), 1, padding=(2, 0))),
        ])
        self.conv_post = _wn(Conv2d(1024, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fmap = []
        b, c, t = x.shape
        if t % self.period != 0:
            n_pad = self.period - (t % self.period)
            x = F.pad(x, (0, n_pad), "reflect")
            t = t + n_pad
        x = x.view(b, c, t // self.period, self.period)
        for layer in self.convs:
            x = F.leaky_relu(layer(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class RefMPD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList([RefDiscriminatorP(p) for p in (2, 3, 5, 7, 11)])

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor) -> tuple[list, list, list, list]:
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for d in self.discriminators:
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            fmap_rs.append(fmap_r)
            y_d_gs.append(y_d_g)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs


class RefDiscriminatorS(nn.Module):
    def __init__(self, use_spectral_norm: bool = False) -> None:
        super().__init__()
        norm_f = spectral_norm if use_spectral_norm else _wn
        self.convs = nn.ModuleList([
            norm_f(Conv1d(1, 128, 15, 1, padding=7)),
            norm_f(Conv1d(128, 128, 41, 2, groups=4, padding=20)),
            norm_f(Conv1d(128, 256, 41, 2, groups=16, padding=20)),
            norm_f(Conv1d(256, 512, 41, 4, groups=16, padding=20)),
            norm_f(Conv1d(512, 1024, 41, 4, groups=16, padding=20)),
            norm_f(Conv1d(1024, 1024, 41, 1, groups=16, padding=20)),
            norm_f(Conv1d(1024, 1024, 5, 1, padding=2)),
        ])
        self.conv_post = norm_f(Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fmap = []
        for layer in self.convs:
            x = F.leaky_relu(layer(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class RefMSD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList([RefDiscriminatorS(True), RefDiscriminatorS(), RefDiscriminatorS()])
        self.meanpools = nn.ModuleList([AvgPool1d(4, 2, padding=2), AvgPool1d(4, 2, padding=2)])

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor) -> tuple[list, list, list, list]:
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for i, d in enumerate(self.discriminators):
            if i != 0:
                y = self.meanpools[i - 1](y)
                y_hat = self.meanpools[i - 1](y_hat)
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            fmap_rs.append(fmap_r)
            y_d_gs.append(y_d_g)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs


def feature_loss(fmap_r: list, fmap_g: list) -> torch.Tensor:
    loss = 0
    for dr, dg in zip(fmap_r, fmap_g, strict=True):
        for rl, gl in zip(dr, dg, strict=True):
            loss += torch.mean(torch.abs(rl - gl))
    return loss * 2


def discriminator_loss(disc_real_outputs: list, disc_generated_outputs: list) -> torch.Tensor:
    loss = 0
    for dr, dg in zip(disc_real_outputs, disc_generated_outputs, strict=True):
        loss += torch.mean((1 - dr) ** 2) + torch.mean(dg**2)
    return loss


def generator_loss(disc_outputs: list) -> torch.Tensor:
    loss = 0
    for dg in disc_outputs:
        loss += torch.mean((1 - dg) ** 2)
    return loss


def reference_train_step(generator: nn.Module, mpd: nn.Module, msd: nn.Module, optim_g: Any, optim_d: Any,
                         x: torch.Tensor, y: torch.Tensor) -> None:
    """The body of jik876's training loop (mel computed with distill's recipe, as ours is)."""
    y_mel = DISTILL_MEL.mel(y.squeeze(1))
    y_g_hat = generator(x)
    y_g_hat_mel = DISTILL_MEL.mel(y_g_hat.squeeze(1))
    optim_d.zero_grad()
    y_df_hat_r, y_df_hat_g, _, _ = mpd(y, y_g_hat.detach())
    y_ds_hat_r, y_ds_hat_g, _, _ = msd(y, y_g_hat.detach())
    loss_disc_all = discriminator_loss(y_ds_hat_r, y_ds_hat_g) + discriminator_loss(y_df_hat_r, y_df_hat_g)
    loss_disc_all.backward()
    optim_d.step()
    optim_g.zero_grad()
    loss_mel = F.l1_loss(y_mel, y_g_hat_mel) * 45
    y_df_hat_r, y_df_hat_g, fmap_f_r, fmap_f_g = mpd(y, y_g_hat)
    y_ds_hat_r, y_ds_hat_g, fmap_s_r, fmap_s_g = msd(y, y_g_hat)
    loss_gen_all = (generator_loss(y_ds_hat_g) + generator_loss(y_df_hat_g) + feature_loss(fmap_s_r, fmap_s_g)
                    + feature_loss(fmap_f_r, fmap_f_g) + loss_mel)
    loss_gen_all.backward()
    optim_g.step()


# ==================================================================================================
# Speed
# ==================================================================================================
def _best(fn: Any, rounds: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _test_mel(seconds: float) -> torch.Tensor:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from signals import band_noise, harmonic_tone

    wave = harmonic_tone(196, seconds) + band_noise(seconds, 1500, 9000, seed=1)
    wave[len(wave) // 3 : len(wave) // 2] *= 0.001  # a quiet passage too
    return DISTILL_MEL.mel(torch.from_numpy(wave))


def _weights(workdir: Path | None) -> dict[str, torch.Tensor]:
    """A trained generator's weights when a --quality run left one, else fixed random ones."""
    from distill_hifigan.config import GeneratorConfig
    from distill_hifigan.networks import Generator, fold_weight_norm

    trained = workdir / "quality" / "demo-15min.distill" if workdir else None
    if trained and trained.exists():
        from distill.modelfile import load_model

        return load_model(trained).vocoder_state["hifigan"].weights
    torch.manual_seed(0)
    generator = fold_weight_norm(Generator(GeneratorConfig()))
    for parameter in generator.parameters():
        parameter.data.normal_(0.0, 0.03)
    return generator.state_dict()


def _race(contenders: dict[str, Any], rounds: int = 4) -> dict[str, float]:
    """Best time of each contender, measured in alternation so a change in the machine's load hits all."""
    for fn in contenders.values():
        fn()  # warm up (oneDNN builds its kernels on first use)
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, fn in contenders.items():
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def inference_rows(workdir: Path | None = None) -> list[dict[str, Any]]:
    from distill.pipeline import vocode_stream
    from distill.plugin.contract import VocoderState
    from distill_hifigan.backend import FineTunedVocoder
    from distill_hifigan.config import GeneratorConfig
    from distill_hifigan.denormals import flush_denormals

    weights = _weights(workdir)
    reference = RefGenerator()
    reference.remove_weight_norm()
    reference.load_state_dict(weights)
    reference.eval()
    state = VocoderState("hifigan", "bench", {"generator": GeneratorConfig().to_dict()}, weights)
    ours = FineTunedVocoder.load(state)
    bf16 = copy.deepcopy(ours.generator).to(torch.bfloat16)
    rows = []
    for seconds in (5.0, 20.0):
        mel = _test_mel(seconds)

        def reference_ftz(mel: torch.Tensor = mel) -> torch.Tensor:
            with flush_denormals():
                return reference(mel[None])

        def ours_bf16(mel: torch.Tensor = mel) -> torch.Tensor:
            with flush_denormals():
                return bf16(mel[None].bfloat16()).float()

        with torch.inference_mode():
            times = _race({
                "reference": lambda mel=mel: reference(mel[None]),
                "reference + flush-to-zero": reference_ftz,
                "ours": lambda mel=mel: ours.render(mel[None]),
                "ours, windows": lambda mel=mel: list(vocode_stream(ours, mel, DISTILL_MEL)),
                "ours, bfloat16": ours_bf16,
            })
            expected = reference(mel[None])[0, 0]
            same = float((ours.render(mel[None])[0] - expected).abs().max())
            bf16_cost = float((DISTILL_MEL.mel(ours_bf16()[0, 0]) - DISTILL_MEL.mel(expected)).abs().mean())
        base = min(times["reference"], times["reference + flush-to-zero"])
        labels = {"reference": "reference V2 generator (jik876-style)", "ours": "ours, one pass",
                  "ours, windows": f"ours, {FineTunedVocoder.window_frames}-frame windows (what generate runs)",
                  "ours, bfloat16": "ours in bfloat16 (AVX-512-BF16; no AMX here)"}
        extra = {"ours": {"max |ours - reference|": f"{same:.1e}"},
                 "ours, bfloat16": {"log-mel L1 vs float32": round(bf16_cost, 4)}}
        rows += [{"benchmark": f"inference {seconds:g} s: {labels.get(key, key)}",
                  "x real time": round(seconds / value, 1), "vs reference": round(base / value, 2),
                  **extra.get(key, {})} for key, value in times.items()]
        for printed in rows[-5:]:
            print(printed, flush=True)
    return rows


def training_rows(batch: int = 8, segment: int = 8192) -> list[dict[str, Any]]:
    from distill_hifigan.config import DiscriminatorConfig, GeneratorConfig
    from distill_hifigan.data import Batch
    from distill_hifigan.denormals import flush_denormals
    from distill_hifigan.networks import Discriminators, Generator
    from distill_hifigan.settings import VocoderSettings
    from distill_hifigan.step import Networks, train_step

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from signals import band_noise, harmonic_tone

    seconds = batch * segment / 44100
    wave = torch.from_numpy(harmonic_tone(220, seconds) + band_noise(seconds, 500, 8000))
    y = wave[: batch * segment].reshape(batch, 1, segment)
    mel = DISTILL_MEL.mel(y[:, 0])
    rows: list[dict[str, Any]] = []

    def reference_setup() -> tuple[Any, ...]:
        torch.manual_seed(0)
        generator, mpd, msd = RefGenerator(), RefMPD(), RefMSD()
        optim_g = torch.optim.AdamW(generator.parameters(), 2e-4, betas=(0.8, 0.99))
        optim_d = torch.optim.AdamW([*msd.parameters(), *mpd.parameters()], 2e-4, betas=(0.8, 0.99))
        return generator, mpd, msd, optim_g, optim_d

    def ours(width: float, adversarial: bool) -> Any:
        torch.manual_seed(0)
        settings = VocoderSettings(batch_size=batch, segment=segment, disc_width=width)
        nets = Networks(Generator(GeneratorConfig()), Discriminators(DiscriminatorConfig(width=width)), settings, "cpu")
        noise = torch.Generator().manual_seed(0)
        return lambda: train_step(nets, Batch(mel, y), DISTILL_MEL, settings, adversarial, noise)

    def timed(label: str, step: Any, rounds: int = 2, **extra: Any) -> float:
        seconds = _best(step, rounds)
        rows.append({"benchmark": f"training step, batch {batch} x {segment}: {label}", "s/step": round(seconds, 2),
                     **extra})
        print(rows[-1], flush=True)
        return seconds

    parts = reference_setup()
    reference = timed("reference (full discriminators, as published)", lambda: reference_train_step(*parts, mel, y),
                      rounds=1)
    with flush_denormals():
        parts = reference_setup()
        reference_ftz = timed("reference + flush-to-zero", lambda: reference_train_step(*parts, mel, y), rounds=1)
        base = min(reference, reference_ftz)
        full = timed("ours, full discriminators", ours(1.0, True), rounds=1)
        rows[-1]["vs reference"] = round(base / full, 2)
        for width in (0.25, 0.125):
            seconds = timed(f"ours, discriminators at {width:g} width", ours(width, True))
            rows[-1]["vs reference"] = round(base / seconds, 2)
        seconds = timed("ours, generator-only warm-up (mel + MR-STFT)", ours(0.125, False))
        rows[-1]["vs reference"] = round(base / seconds, 2)
    return rows


def run(workdir: Path | None = None) -> list[dict[str, Any]]:
    return inference_rows(workdir) + training_rows()


# ==================================================================================================
# Quality: the demo corpus, its model, held-out metrics
# ==================================================================================================
def _distill(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([EXE, *args], env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"distill {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def demo_model(workdir: Path, vae_steps: int | None = None) -> tuple[Path, dict[str, str]]:
    """The demo corpus (20 files x 3 s) and a model trained on it with `distill train` (kept in workdir);
    `vae_steps` shortens the VAE's training (design runs only need its held-out files and a VAE)."""
    from distill.examples import make_example_corpus

    home = workdir / ("home" if vae_steps is None else f"home-{vae_steps}")
    env = {**os.environ, "DISTILL_HOME": str(home), **PLUGINS}
    model = home / "models" / "demo.distill"
    if not model.exists():
        if not (workdir / "corpus").exists():
            make_example_corpus(workdir / "corpus", files=20, seconds=3.0)
        started = time.monotonic()
        steps = ["--steps", str(vae_steps)] if vae_steps else []
        _distill("train", str(workdir / "corpus"), "--name", "demo", "--overwrite", "--restart", *steps, env=env)
        print(f"demo model trained in {(time.monotonic() - started) / 60:.1f} min", flush=True)
    return model, env


def held_out(model_path: Path) -> tuple[list[np.ndarray], Any]:
    from distill.modelfile import load_model
    from distill.pipeline import LoadedModel
    from distill.vocoders.compare import held_out_audio

    model = load_model(model_path)
    clips, _ = held_out_audio(model)
    return [wave for _, wave in clips], LoadedModel(model).vae


def metrics(render: Any, clips: list[np.ndarray], vae: Any = None) -> dict[str, float]:
    """Held-out log-mel L1 and MR-STFT distance of resynthesis from the true mels (and, given the VAE,
    from its reconstructions: what generation actually feeds the vocoder)."""
    from distill.vocoders.compare import log_mel_l1, mr_stft_distance

    out: dict[str, list[float]] = {"log-mel L1": [], "MR-STFT": [], "VAE-mel log-mel L1": [], "VAE-mel MR-STFT": []}
    with torch.inference_mode():
        for wave in clips:
            reference = torch.from_numpy(wave)
            mel = DISTILL_MEL.mel(reference)
            reference = reference[: DISTILL_MEL.num_samples(mel.shape[-1])]
            inputs = [("", mel)] + ([("VAE-mel ", vae(mel[None], sample=False)[0][0])] if vae is not None else [])
            for prefix, source in inputs:
                audio = render(source)[: len(reference)]
                out[f"{prefix}log-mel L1"].append(log_mel_l1(reference, audio, DISTILL_MEL))
                out[f"{prefix}MR-STFT"].append(mr_stft_distance(reference, audio))
    return {key: round(float(np.mean(values)), 4) for key, values in out.items() if values}


def level_gaps(render: Any, model_path: Path) -> dict[str, float]:
    """Output level minus input level (RMS, dB) for each kind of file of the demo corpus (tone, pluck,
    texture), averaged over the files the vocoder trained on: where a generator falls short shows here."""
    from distill.audio import read_audio
    from distill.modelfile import load_model

    model = load_model(model_path)
    held = set(model.training["validation_files"])
    gaps: dict[str, list[float]] = {}
    with torch.inference_mode():
        for path in sorted(Path(model.training["corpus_path"]).glob("*.wav")):
            if path.name in held:
                continue
            wave = torch.from_numpy(read_audio(path, DISTILL_MEL.sample_rate).audio)
            mel = DISTILL_MEL.mel(wave)
            out = render(mel)
            gap = 20 * math.log10(float(out.square().mean().sqrt()) / float(wave.square().mean().sqrt()))
            gaps.setdefault(path.name.split("-")[0], []).append(gap)
    return {f"level gap {kind} dB": round(float(np.mean(values)), 1) for kind, values in gaps.items()}


def griffin_lim_rows(clips: list[np.ndarray], vae: Any) -> list[dict[str, Any]]:
    from distill.griffinlim import griffin_lim

    rows = []
    for iterations in (32, 60):
        rows.append({"vocoder": f"Griffin-Lim {iterations} it",
                     **metrics(lambda mel, n=iterations: griffin_lim(mel, DISTILL_MEL, n), clips, vae)})
        print(rows[-1], flush=True)
    return rows


def quality_rows(workdir: Path) -> list[dict[str, Any]]:
    """`distill train-vocoder --minutes M` on the demo model, M = 5, 15, 30, each a fresh run; then the
    30-minute run resumed to 60 minutes (`--resume --minutes 60`: 30 more minutes, all adversarial)."""
    from distill.modelfile import load_model
    from distill_hifigan.backend import FineTunedVocoder

    model, env = demo_model(workdir)
    clips, vae = held_out(model)
    rows = griffin_lim_rows(clips, vae)
    (workdir / "quality").mkdir(exist_ok=True)
    for minutes, start in ((5, model), (15, model), (30, model), (60, workdir / "quality" / "demo-30min.distill")):
        path = workdir / "quality" / f"demo-{minutes}min.distill"
        if not path.exists():
            resume = start != model  # the checkpoint the previous run left behind
            shutil.copyfile(start, path)
            if not resume:
                shutil.rmtree(Path(env["DISTILL_HOME"]) / "checkpoints" / "demo" / "hifigan", ignore_errors=True)
            _distill("train-vocoder", str(path), "--backend", "hifigan", "--minutes", str(minutes), "--json",
                     *(["--resume"] if resume else []), env=env)
        state = load_model(path).vocoder_state["hifigan"]
        vocoder = FineTunedVocoder.load(state)
        rows.append({"vocoder": f"hifigan after {minutes} min", "steps": state.training["steps"],
                     "warm-up steps": state.training["warmup_steps"],
                     **metrics(lambda mel, v=vocoder: v.render(mel[None])[0], clips, vae),
                     **level_gaps(lambda mel, v=vocoder: torch.as_tensor(v.render(mel[None])[0]), path)})
        print(rows[-1], flush=True)
    report = json.loads(_distill("vocoders", "compare", str(workdir / "quality" / "demo-15min.distill"), "--json",
                                 env=env))
    print(json.dumps(report, indent=1), flush=True)
    return rows


# ==================================================================================================
# Design runs: the same building blocks as `train-vocoder`, with the phase switch set by hand and
# held-out metrics every few hundred steps (x axis: steps; seconds are recorded too)
# ==================================================================================================
def design_curve(model: Path, label: str, steps: int, switch: int, vae_fraction: float, every: int = 100,
                 **change: Any) -> list[dict[str, Any]]:
    from distill.modelfile import load_model
    from distill_hifigan.config import DiscriminatorConfig, GeneratorConfig
    from distill_hifigan.data import TrainingAudio
    from distill_hifigan.denormals import flush_denormals
    from distill_hifigan.fast import FastGenerator
    from distill_hifigan.networks import Discriminators, Generator, fold_weight_norm

    def folded_copy(generator: Generator) -> Generator:
        """An inference copy of a training generator (deepcopy would share, and break, the parametrised class)."""
        copy = Generator(generator.config).to(next(generator.parameters()).device)
        copy.load_state_dict(generator.state_dict())
        fold_weight_norm(copy)
        return copy.eval().requires_grad_(False)
    from distill_hifigan.settings import VocoderSettings
    from distill_hifigan.step import Networks, train_step

    loaded = load_model(model)
    clips, vae = held_out(model)
    folder = Path(loaded.training["corpus_path"])
    held = set(loaded.training["validation_files"])
    files = [p for p in sorted(folder.glob("*.wav")) if p.name not in held]
    settings = VocoderSettings(vae_fraction=vae_fraction, **change)

    def reconstruct(mel: torch.Tensor) -> torch.Tensor:
        return vae(mel[None], sample=False)[0][0]

    audio = TrainingAudio(files, DISTILL_MEL, settings.segment, reconstruct)
    torch.manual_seed(0)
    nets = Networks(Generator(GeneratorConfig()), Discriminators(DiscriminatorConfig(width=settings.disc_width)),
                    settings, "cpu")
    sampler, noise = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    rows, wall, cpu = [], 0.0, 0.0
    with flush_denormals():
        for step in range(steps):
            adversarial = step >= switch
            lr = (settings.lr if adversarial else settings.warmup_lr) * settings.lr_decay**step
            nets.set_lr(lr)
            started, started_cpu = time.perf_counter(), time.process_time()
            train_step(nets, audio.sample(settings, sampler), DISTILL_MEL, settings, adversarial, noise)
            wall += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
            if (step + 1) % every == 0:
                generator = FastGenerator(folded_copy(nets.generator))
                rows.append({"variant": label, "step": step + 1, "wall s": round(wall), "cpu s": round(cpu),
                             **metrics(lambda mel, g=generator: g(mel[None])[0, 0], clips, vae)})
                print(rows[-1], flush=True)
    return rows


def design_rows(workdir: Path, steps: int = 600) -> list[dict[str, Any]]:
    model, _ = demo_model(workdir, vae_steps=400)
    rows = []
    rows += design_curve(model, "warm-up half, then adversarial; VAE pairs 0.25", steps, steps // 2, 0.25)
    rows += design_curve(model, "adversarial from step 0; VAE pairs 0.25", steps, 0, 0.25)
    rows += design_curve(model, "warm-up only; no VAE pairs", steps // 2, steps, 0.0)
    # the warm-up's learning rate and losses (docs/benchmarks.md, "Not there yet")
    rows += design_curve(model, "warm-up only, lr 3e-4; VAE pairs 0.25", steps, steps, 0.25, warmup_lr=3e-4)
    rows += design_curve(model, "warm-up only, lr 3e-4, mel loss alone; VAE pairs 0.25", steps, steps, 0.25,
                         warmup_lr=3e-4, stft_weight=0.0)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quality", action="store_true", help="the quality curve (about 1.8 h)")
    parser.add_argument("--design", action="store_true", help="the design A/B runs (about 1 h)")
    parser.add_argument("--workdir", type=Path, help="keep the demo corpus, model and results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.design:
            results = design_rows(workdir)
        elif args.quality:
            results = quality_rows(workdir)
        else:
            results = run(workdir)
        print(json.dumps(results, indent=1))
