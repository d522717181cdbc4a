"""Cold-start wall time of commands that must feel instant (goal <= 0.3 s), median of 7 runs."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("distill"))


def run() -> list[dict]:
    rows = []
    for args in (["--version"], ["--help"], ["plugins"], ["model", "list"]):
        times = []
        for _ in range(7):
            started = time.perf_counter()
            subprocess.run([EXE, *args], check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        rows.append({"benchmark": f"distill {' '.join(args)} (cold start)",
                     "seconds": round(statistics.median(times), 3), "goal": "<= 0.3 s"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
