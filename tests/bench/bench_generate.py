"""Generation speed and memory: peak RSS of `distill generate` for 10 s and 10 min clips, each in a
fresh process, through a bundled HiFi-GAN (a few training steps: speed and memory do not depend on
how well it was trained) and through the shipped base (goal: 10 min <= 1.5 x the 10 s figure).

Run: python tests/bench/bench_generate.py [bigvgan]   (bigvgan: full-size random weights instead; the
10-minute render then takes about 40 minutes here, so `nox -s bench` runs the HiFi-GAN variant)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from distill.examples import make_example_corpus

EXE = str(Path(sys.executable).with_name("distill"))


def peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command in a fresh process; return (wall seconds, its peak RSS in MB, stdout)."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
        "print(out)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True)
    first, _, rest = result.stdout.partition("\n")
    seconds, megabytes = first.split()
    return float(seconds), float(megabytes), rest


def bigvgan_weights(folder: Path) -> dict[str, str]:
    """Full-size BigVGAN files with random weights, and a pin naming them: the environment that uses them."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared weight helpers
    from bigvgan_weights import write_full_size

    return write_full_size(folder)


def run(vocoder: str = "hifigan") -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DISTILL_HOME": str(Path(tmp) / "home")}
        corpus = Path(tmp) / "corpus"
        make_example_corpus(corpus, files=8, seconds=2.0)
        subprocess.run([EXE, "train", str(corpus), "--name", "bench", "--steps", "50"], env=env, check=True,
                       capture_output=True)
        if vocoder == "hifigan":
            subprocess.run([EXE, "train-vocoder", "bench", "--backend", "hifigan", "--steps", "10", "--batch-size",
                            "2"], env=env, check=True, capture_output=True)
        else:
            env.update(bigvgan_weights(Path(tmp) / "bigvgan"))
        for name in ("hifigan", "hifigan-base") if vocoder == "hifigan" else (vocoder,):
            rss = {}
            for seconds in (10, 600):
                wall, rss[seconds], out = peak_rss_mb([EXE, "generate", "bench", "-d", str(seconds), "--seed", "1",
                                                       "-o", tmp, "--overwrite", "--json", "--vocoder", name], env)
                record = json.loads(out.strip().splitlines()[-1])
                rows.append({"benchmark": f"generate {seconds} s ({record['vocoder']})", "seconds": round(wall, 1),
                             "x real time": round(seconds / wall, 2), "peak RSS (MB)": round(rss[seconds])})
                print(rows[-1], flush=True)
            rows.append({"benchmark": f"peak RSS 10 min / 10 s ({name})", "ratio": round(rss[600] / rss[10], 2),
                         "goal": "<= 1.5"})
    return rows


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for row in run(*sys.argv[1:2]):
        print(row)
