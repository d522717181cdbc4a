"""BigVGAN-v2 44 kHz speed, memory and the cost of fewer bits (bf16, fp16, int8): our implementation
(distill-bigvgan) against the reference (PyPI `bigvgan==2.4.1`) on the same random weights, in the same run.
Every measurement runs in a fresh process (speed, peak RSS and page faults of that process alone),
under glibc's default allocator and again with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736.

Ours renders the way `distill generate` does (windows joined by crossfades, `distill.pipeline.vocode_stream`);
the reference renders in one pass, as upstream's inference does. Both get a short warm-up render first.
Run: python tests/bench/bench_bigvgan.py  (about 20 minutes on the 2-core development machine)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TUNED = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736"}
ALLOCATORS = {"glibc default": {}, "glibc tuned": TUNED}
SPEED_SECONDS = (5, 20)
MEMORY_SECONDS = 60  # with the 5 s and 20 s renders: peak memory against length
SIXTEEN_BITS = ("bf16", "fp16")  # opt-in formats, measured for the record
# Threads per measurement (default: torch's, one per core). On a machine shared with other jobs,
# BIGVGAN_BENCH_THREADS=1 gives steadier ratios: two OpenMP threads stall whenever one is descheduled.
THREADS_ENV = "BIGVGAN_BENCH_THREADS"


def _weights(folder: Path) -> Path:
    """config.json and bigvgan_generator.pt of the full 44 kHz generator with random weights, written
    by the reference implementation in the official layout, and a pin naming them."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared weight helpers
    from bigvgan_weights import write_full_size

    write_full_size(folder)
    return folder


def _music_mel(seconds: float) -> Any:
    import numpy as np
    import torch
    from distill.examples import pluck, texture, tone
    from distill.melspec import DISTILL_MEL

    rng = np.random.default_rng(1)
    mix = tone(rng, seconds) + pluck(rng, seconds) + 0.5 * texture(rng, seconds)
    return DISTILL_MEL.mel(torch.from_numpy(mix.astype(np.float32)))


def _reference(folder: Path) -> Any:
    import torch
    from bigvgan.bigvgan import BigVGAN
    from bigvgan.env import AttrDict

    model = BigVGAN(AttrDict(json.loads((folder / "config.json").read_text())), use_cuda_kernel=False)
    model.load_state_dict(torch.load(folder / "bigvgan_generator.pt", weights_only=True)["generator"])
    model.remove_weight_norm()
    return model.eval()


class Renderer:
    """One implementation, loaded once: mel [128, frames] -> waveform (numpy)."""

    def __init__(self, impl: str, folder: Path, precision: str = "fp32") -> None:
        self.impl = impl
        if impl == "reference":
            self.model = _reference(folder)
        else:
            from distill_bigvgan.backend import BigVGAN

            os.environ["DISTILL_BIGVGAN_WEIGHTS"] = str(folder)
            os.environ["DISTILL_BIGVGAN_PIN"] = str(folder / "pin.json")
            os.environ["DISTILL_BIGVGAN_PRECISION"] = precision
            self.model = BigVGAN.load(device="cpu")

    def __call__(self, mel: Any) -> Any:
        import numpy as np
        import torch
        from distill.melspec import DISTILL_MEL
        from distill.pipeline import vocode_stream

        if self.impl == "reference":
            with torch.inference_mode():
                return self.model(mel[None])[0, 0].numpy()
        return np.concatenate(list(vocode_stream(self.model, mel, DISTILL_MEL)))


def worker(task: dict[str, Any]) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    import numpy as np
    import torch

    if os.environ.get(THREADS_ENV):
        torch.set_num_threads(int(os.environ[THREADS_ENV]))
    folder = Path(task["weights"])
    if task["kind"] == "quality":  # 16 and 8 bits vs fp32 (ours), and ours vs the reference, on music-like input
        from distill.vocoders.compare import snr_db

        mel = _music_mel(task["seconds"])
        fp32 = Renderer("ours", folder, "fp32")
        ours = torch.from_numpy(fp32(mel))
        snrs = {f"{p}_snr_db": snr_db(ours, torch.from_numpy(Renderer("ours", folder, p)(mel))) for p in SIXTEEN_BITS}
        reference = Renderer("reference", folder)(mel)
        return {**snrs, "int8_snr_db": snr_db(ours, torch.from_numpy(_int8_simulated(fp32, mel))),
                "parity": float(np.abs(ours.numpy() - reference).max()), "rms": float(ours.std())}
    if task["kind"] == "conv speed":
        return _conv_speed()
    started = time.perf_counter()
    render = Renderer(task["impl"], folder, task.get("precision", "fp32"))
    load_seconds = time.perf_counter() - started
    render(_music_mel(0.5))  # warm-up
    mel = _music_mel(task["seconds"])
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    audio = render(mel)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert len(audio) == mel.shape[-1] * 512 and np.isfinite(audio).all()
    return {
        "render_s": seconds, "load_s": load_seconds, "x_rt": task["seconds"] / seconds,
        "peak_rss_mb": _peak_rss_mb(), "minor_faults": after.ru_minflt - before.ru_minflt,
        "system_s": after.ru_stime - before.ru_stime, "threads": torch.get_num_threads(),
    }


def _int8_simulated(render: Renderer, mel: Any) -> Any:
    """What int8 convolutions would cost in quality, simulated in fp32: every dense convolution's weights
    rounded to int8 per channel (of dim 0) and its input to 8 bits per tensor (min/max range)."""
    import torch
    from distill_bigvgan.generator import Conv, UpConv

    def to_8_bits(x: torch.Tensor) -> torch.Tensor:
        low, step = x.min(), (x.max() - x.min()).clamp(min=1e-12) / 255
        return torch.round((x - low) / step) * step + low

    originals = {cls: cls.forward for cls in (Conv, UpConv)}
    weights = {m: m.weight.data for m in render.model.generator.modules() if isinstance(m, Conv | UpConv)}
    try:
        for module, weight in weights.items():
            scale = weight.abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12) / 127
            module.weight.data = torch.round(weight / scale) * scale
        for cls, forward in originals.items():
            cls.forward = lambda self, x, forward=forward: forward(self, to_8_bits(x))  # type: ignore[method-assign]
        return render(mel)
    finally:  # the generator is built once per process: leave it as it was
        for cls, forward in originals.items():
            cls.forward = forward  # type: ignore[method-assign]
        for module, weight in weights.items():
            module.weight.data = weight


def _conv_speed() -> dict[str, Any]:
    """One of the model's dense convolutions (384 channels, kernel 7, dilation 3, 32768 samples) as ours
    runs it (channels-last) in fp32, bf16 and fp16, and as PyTorch's quantized int8 convolution (fbgemm,
    VNNI), best of 5 each; plus the cost of converting the signal to 8 bits and back."""
    import warnings

    import torch
    import torch.ao.nn.quantized.functional as qF

    warnings.filterwarnings("ignore", category=UserWarning)  # quantized tensors are deprecated upstream
    torch.backends.quantized.engine = "fbgemm"
    channels, kernel, dilation, length = 384, 7, 3, 32768
    x = torch.randn(1, channels, 1, length).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(channels, channels, 1, kernel) * 0.05, torch.zeros(channels)
    padding = (0, dilation * (kernel - 1) // 2)
    xq = torch.quantize_per_tensor(x, 0.05, 128, torch.quint8)
    wq = torch.quantize_per_channel(weight, torch.full((channels,), 0.002), torch.zeros(channels, dtype=torch.long),
                                    0, torch.qint8)

    def best(fn: Any) -> float:
        fn()
        times = []
        for _ in range(5):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times) * 1e3

    def float_conv(dtype: torch.dtype) -> float:
        xd, wd, bd = x.to(dtype), weight.to(dtype).contiguous(memory_format=torch.channels_last), bias.to(dtype)
        return best(lambda: torch.nn.functional.conv2d(xd, wd, bd, 1, padding, (1, dilation)))

    times = {f"{name}_ms": float_conv(dtype) for name, dtype in
             (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16))}
    times["int8_ms"] = best(lambda: qF.conv2d(xq, wq, bias, 1, padding, (1, dilation), scale=0.05, zero_point=128))
    times["quantize_dequantize_ms"] = best(lambda: torch.quantize_per_tensor(x, 0.05, 128, torch.quint8).dequantize())
    return times


def _peak_rss_mb() -> float:
    """This process's peak resident memory since it started (VmHWM). Not ru_maxrss: after fork + exec
    that also counts the parent's memory at the fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _measure(task: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, __file__, "--worker", json.dumps(task)], capture_output=True,
                            text=True, env={**os.environ, **env}, timeout=3600)
    if result.returncode:
        raise RuntimeError(f"benchmark worker failed for {task}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _fastest() -> str:
    """The precision distill-bigvgan picks by default on this machine (its fastest acceptable mode)."""
    from distill_bigvgan.precision import choose_precision

    return choose_precision("cpu")


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        print(row, flush=True)

    fastest = _fastest()
    memory: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = _weights(Path(tmp))
        quality = _measure({"kind": "quality", "weights": str(folder), "seconds": 5}, {})
        for precision in (*SIXTEEN_BITS, "int8"):
            add({"benchmark": f"BigVGAN ours {precision}{' (simulated)' * (precision == 'int8')} vs ours fp32, "
                              "5 s music-like (SNR dB)",
                 "value": round(quality[f"{precision}_snr_db"], 1), "goal": ">= 30 dB for a fast mode"})
        speed = _measure({"kind": "conv speed", "weights": str(folder)}, {})
        formats = ("fp32", *SIXTEEN_BITS, "int8")
        add({"benchmark": f"one dense convolution (384 ch, k 7, 32768 samples): {' / '.join(formats)} ms "
                          "(+ 8-bit conversion)",
             "value": " / ".join(f"{speed[f'{p}_ms']:.0f}" for p in formats)
             + f" (+ {speed['quantize_dequantize_ms']:.0f})",
             "goal": ", ".join(f"{p} {speed['fp32_ms'] / speed[f'{p}_ms']:.2f}x fp32" for p in formats[1:])})
        add({"benchmark": "BigVGAN ours fp32 vs reference, 5 s (max abs)", "value": f"{quality['parity']:.1e}",
             "goal": "<= 1e-4"})
        for allocator, env in ALLOCATORS.items():
            for seconds in SPEED_SECONDS:
                base = {"kind": "speed", "weights": str(folder), "seconds": seconds}
                reference = _measure({**base, "impl": "reference"}, env)
                add(_speed_row("reference", "fp32", seconds, allocator, reference, reference))
                modes = ["fp32", *([] if fastest == "fp32" else [fastest])]
                if seconds == SPEED_SECONDS[0] and not env:  # for the record: not defaults here (precision.py)
                    modes += [p for p in SIXTEEN_BITS if p not in modes]
                for precision in modes:
                    ours = _measure({**base, "impl": "ours", "precision": precision}, env)
                    add(_speed_row("ours", precision, seconds, allocator, ours, reference))
                    if precision == fastest and not env:
                        memory[seconds] = round(ours["peak_rss_mb"])
        ours = _measure({"kind": "speed", "weights": str(folder), "seconds": MEMORY_SECONDS, "impl": "ours",
                         "precision": fastest}, {})
        peaks = ", ".join(f"{s} s: {mb} MB" for s, mb in memory.items())
        add({"benchmark": f"BigVGAN ours {fastest} {MEMORY_SECONDS} s, peak memory (glibc default)",
             "peak RSS MB": round(ours["peak_rss_mb"]), "x RT": round(ours["x_rt"], 3),
             "goal": f"<= 1500 MB, flat with length (shorter renders: {peaks})"})
    return rows


def _speed_row(impl: str, precision: str, seconds: int, allocator: str, result: dict[str, Any],
               reference: dict[str, Any]) -> dict[str, Any]:
    goal = "" if impl == "reference" else (">= 2x reference" if precision == "fp32" else ">= 5x reference")
    return {
        "benchmark": f"BigVGAN {impl} {precision} {seconds} s ({allocator})",
        "x RT": round(result["x_rt"], 3),
        "vs reference": f"{result['x_rt'] / reference['x_rt']:.2f}x",
        "peak RSS MB": round(result["peak_rss_mb"]),
        "minor faults": result["minor_faults"],
        "kernel s": round(result["system_s"], 1),
        "threads": result["threads"],
        "goal": goal,
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
    else:
        run()
