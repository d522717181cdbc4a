"""The web UI: cold start (`distill ui` to its first page served), the page's time from Generate to a
playable 5 s clip against `distill generate` for the same clip (goal: within 1.2x), the quick preview's
latency (Seed ▶ clicked to the 3 s preview's player in the page; goal <= 1 s), and the server's memory
while idle and while rendering. Needs Playwright and Debian's Chromium (as the browser tests).

Run: python tests/bench/run.py ui
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

EXE = str(Path(sys.executable).with_name("distill"))
ROUNDS = 5


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process (`VmHWM`: its peak so far), from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status)[1]) / 1024  # type: ignore[index]


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, float]:
    started = time.perf_counter()
    server = subprocess.Popen([EXE, "ui", "--no-browser", "--port", "0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    url = re.search(r"http://\S+/", server.stdout.readline())[0]  # type: ignore[index]
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                if page.status == 200:
                    return server, url, time.perf_counter() - started
        except OSError:
            time.sleep(0.02)


def run() -> list[dict[str, Any]]:
    from distill.examples import make_example_corpus
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no Chromium: apt-get install chromium")
    work = Path(tempfile.mkdtemp(prefix="distill-bench-ui-"))
    env = {**os.environ, "DISTILL_HOME": str(work / "library"), "DISTILL_LOAD_PLUGINS": "distill-hifigan"}
    make_example_corpus(work / "sounds", files=5, seconds=1.5, seed=4)
    # the default network (the balanced preset's); a few steps: rendering time does not depend on them
    subprocess.run([EXE, "train", str(work / "sounds"), "--name", "tiny", "--steps", "20", "--preset", "balanced"],
                   env=env, check=True, capture_output=True)

    starts = []
    for _ in range(3):
        server, url, seconds = _serve(env)
        starts.append(seconds)
        server.terminate()
        server.wait(60)
    server, url, _ = _serve(env)
    rows: list[dict[str, Any]] = [{"benchmark": "cold start: `distill ui` to its first page served (median of 3)",
                                   "seconds": round(statistics.median(starts), 2),
                                   "spread": f"{min(starts):.2f}-{max(starts):.2f}"}]
    page_times, cli_times, previews, renders = [], [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#gen-slider-0", state="visible")
            time.sleep(3)
            idle = _rss_mb(server.pid)
            page.locator("#gen-preview-on input").uncheck()  # Generate alone first
            for seed in range(ROUNDS + 1):  # the first round warms the vocoder up: not counted
                page.locator("#gen-seed input").fill(str(seed))
                started = time.perf_counter()
                page.locator("#gen-go").click()
                link = f'#gen-files-0 a.download-link[download="tiny-{seed}.wav"]'
                page.wait_for_selector(link, state="attached", timeout=120_000)
                elapsed = time.perf_counter() - started
                begun = time.perf_counter()
                subprocess.run([EXE, "generate", "tiny", "-d", "5", "--seed", str(seed), "-o", str(work / "cli")],
                               env=env, check=True, capture_output=True)
                if seed:
                    page_times.append(elapsed)
                    cli_times.append(time.perf_counter() - begun)
            page.locator("#gen-preview-on input").check()
            for round_ in range(ROUNDS + 1):  # the first preview loads the model: not counted
                seed = int(page.locator("#gen-seed input").input_value()) + 1
                started = time.perf_counter()
                page.locator("#gen-seed-next").click()
                page.wait_for_function("seed => (document.querySelector('#gen-preview-latency') || {}).textContent"
                                       "?.includes(`seed ${seed} `)", arg=seed, timeout=120_000)
                if round_:
                    previews.append(time.perf_counter() - started)
                    shown = page.locator("#gen-preview-latency").inner_text()
                    renders.append(float(re.search(r"in (\d+\.\d+) s", shown)[1]))  # type: ignore[index]
            peak = _rss_mb(server.pid, "VmHWM")
            browser.close()
    finally:
        server.terminate()
        server.wait(60)
    ratio = statistics.median(page_times) / statistics.median(cli_times)
    rows += [
        {"benchmark": "5 s clip: Generate clicked to the clip's link in the page (median of 5)",
         "seconds": round(statistics.median(page_times), 2), "spread": f"{min(page_times):.2f}-{max(page_times):.2f}"},
        {"benchmark": "5 s clip: `distill generate` as a fresh process (median of 5)",
         "seconds": round(statistics.median(cli_times), 2), "spread": f"{min(cli_times):.2f}-{max(cli_times):.2f}"},
        {"benchmark": "page / CLI", "ratio": round(ratio, 2), "goal": "<= 1.2"},
        {"benchmark": "3 s preview: Seed ▶ clicked to its player in the page (median of 5)",
         "seconds": round(statistics.median(previews), 2), "spread": f"{min(previews):.2f}-{max(previews):.2f}",
         "goal": "<= 1"},
        {"benchmark": "3 s preview: its render on the server, as the page shows it (median of 5)",
         "seconds": round(statistics.median(renders), 2), "spread": f"{min(renders):.2f}-{max(renders):.2f}"},
        {"benchmark": "server memory, idle with one page open", "MB": round(idle)},
        {"benchmark": "server memory, peak after rendering", "MB": round(peak)},
    ]
    for row in rows:
        print(row, flush=True)
    return rows


if __name__ == "__main__":
    run()
