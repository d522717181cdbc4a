"""Speed on a shared machine: VAE training steps/s, a 60 s render's speed (× real time, hifigan-base)
and `train-vocoder`'s steps/s, each idle, beside one busy process and beside two, with torch's fixed
default (`DISTILL_THREADS` = torch's count: what distill did before it fitted its threads) and with
distill's fitted threads, alternating in the same run. A busy process is a Python loop that never
sleeps (one CPU). Each measurement is a fresh process (a thread pool's start is part of the cost).
Goal (issue 24): beside one busy process, training and rendering keep >= 45 % of their idle speed;
idle within 10 % of the fixed default.

Run: python tests/bench/bench_contention.py [REPEATS]   (default 2: mean ± the repeats' spread)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SECONDS = 12.0  # per training measurement, after its warm-up steps
WARMUP_STEPS = 3
RENDER_SECONDS = 60.0
LOADS = {"idle": 0, "1 busy process": 1, "2 busy processes": 2}


def worker(workload: str, model: str) -> dict[str, float]:
    """One measurement in this (fresh) process: steps/s, or × real time for the render."""
    import distill

    if workload == "render":
        distill.generate(model, seconds=2.0, seed=0, vocoder="hifigan-base", output_dir=tempfile.mkdtemp())  # warm
        started = time.perf_counter()
        distill.generate(model, seconds=RENDER_SECONDS, seed=1, vocoder="hifigan-base", output_dir=tempfile.mkdtemp())
        return {"speed": RENDER_SECONDS / (time.perf_counter() - started)}
    times: list[float] = []
    cancel = threading.Event()

    def watch(event: distill.Progress) -> None:
        if event.phase == "train" and event.step:
            times.append(time.perf_counter())
            if len(times) > WARMUP_STEPS and times[-1] - times[WARMUP_STEPS] > SECONDS:
                cancel.set()

    try:
        if workload == "train":
            distill.train(Path(model).parent / "corpus", f"t{os.getpid()}", steps=100000, progress=watch,
                          cancel=cancel)
        else:
            distill.train_vocoder(model, backend="hifigan", steps=100000, progress=watch, cancel=cancel, restart=True)
    except distill.Interrupted:
        pass
    steps = len(times) - 1 - WARMUP_STEPS
    return {"speed": steps / (times[-1] - times[WARMUP_STEPS])}


def measure(workload: str, model: Path, fixed: str | None, busy: int, env: dict[str, str]) -> float:
    env = {**env, "DISTILL_THREADS": fixed} if fixed else {k: v for k, v in env.items() if k != "DISTILL_THREADS"}
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(1.0 if busy else 0.0)
        result = subprocess.run([sys.executable, __file__, "worker", workload, str(model)], env=env, check=True,
                                capture_output=True, text=True, timeout=900)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return float(json.loads(result.stdout.splitlines()[-1])["speed"])


def setup(root: Path, env: dict[str, str]) -> Path:
    """An example corpus of 32 s (so the default preset trains the default-size VAE), and a model trained
    on it to render and fine-tune."""
    from distill.examples import make_example_corpus

    make_example_corpus(root / "corpus", files=16, seconds=2.0)
    exe = str(Path(sys.executable).with_name("distill"))
    subprocess.run([exe, "train", str(root / "corpus"), "--name", "bench", "--steps", "30"], env=env, check=True,
                   capture_output=True)
    model = root / "bench.distill"
    (Path(env["DISTILL_HOME"]) / "models" / "bench.distill").rename(model)
    return model


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.2f} ± {statistics.pstdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"


def run(repeats: int = 2) -> list[dict]:
    import torch

    fixed = str(torch.get_num_threads())  # torch's own default: what distill used before
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DISTILL_HOME": str(Path(tmp) / "home"), "DISTILL_LOAD_PLUGINS": "distill-hifigan"}
        model = setup(Path(tmp), env)
        for workload, unit in (("train", "steps/s"), ("render", "× real time"), ("train-vocoder", "steps/s")):
            results: dict[tuple[str, str], list[float]] = {}
            for load, busy in LOADS.items():
                for _ in range(repeats):
                    for label, threads in ((f"fixed {fixed} threads (before)", fixed), ("fitted (now)", None)):
                        speed = measure(workload, model, threads, busy, env)
                        results.setdefault((label, load), []).append(speed)
                        print(workload, label, load, round(speed, 2), flush=True)
            for (label, load), values in results.items():
                idle = statistics.fmean(results[(label, "idle")])
                rows.append({"benchmark": f"contention: {workload}", "threads": label, "load": load,
                             unit: spread(values), "of idle": f"{statistics.fmean(values) / idle:.0%}"})
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        print(json.dumps(worker(sys.argv[2], sys.argv[3])))
    else:
        for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 2):
            print(row)
