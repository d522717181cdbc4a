"""How many CPU threads torch's operators use, fitted to the machine as it is now.

A musician's computer is never idle. torch's default (one OpenMP thread per core, each spinning at
every barrier) collapses beside other work: one of distill's threads is descheduled and the others
spin, waiting for it, at every operator. Measured on 2 cores beside one busy process, the VAE's
training fell to 22 % of its idle speed with two threads and kept 56 % with one (docs/benchmarks.md,
"Sharing the machine"). Passive waiting helps less (45 %) and costs 35 % of the idle speed, so
distill keeps the spinning pool and instead uses only the CPUs that nothing else is using: heavy
loops call `fit_threads()` once per step or chunk, and every `REVISIT_SECONDS` it measures the other
processes' CPU use (/proc/stat less this process's own time) and sets the calling thread's count.

`DISTILL_THREADS=N` fixes the count (and turns the fitting off). No torch import at module level:
the CLI imports this at start-up.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

from .errors import DistillError

ENV = "DISTILL_THREADS"
REVISIT_SECONDS = 2.0  # how long a change in the machine's load can go unnoticed
# A reading older than this describes the past (a job that has since ended): measure afresh for a moment,
# long enough that a kernel thread's few 10 ms ticks of CPU time stay under SPARE_SHARE.
STALE_SECONDS = 4.0
FRESH_SAMPLE_SECONDS = 0.2
# Other work of more than this many CPUs costs a thread: measured, a process busy 30 % of the time
# already halves the speed of two spinning threads on 2 cores (and one thread loses nothing to it).
SPARE_SHARE = 0.2
PROC_STAT = Path("/proc/stat")


def fixed_threads() -> int | None:
    """The count `DISTILL_THREADS` fixes, or None when distill chooses."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise DistillError(f"{ENV}={value!r} is not a number of threads: set it to a whole number of at least 1 "
                           f"(for example {ENV}=1), or unset it to let distill fit the threads to the machine")
    return int(value)


def available_cpus() -> int:
    """CPUs this process may run on: its affinity, capped by a cgroup CPU quota (containers)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def default_threads() -> int:
    """torch's own default count: what every render used before distill fitted its threads, so what an
    older clip's replay needs. Read before distill first changes the count."""
    global _torch_default
    if _torch_default is None:
        import torch

        _torch_default = torch.get_num_threads()
    return _torch_default


_torch_default: int | None = None


def _busy_seconds() -> float | None:
    """CPU-seconds all CPUs have spent busy since boot (time stolen by the hypervisor included: it is
    contention too), or None where /proc/stat is not there (macOS, Windows)."""
    try:
        with PROC_STAT.open() as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class LoadMeter:
    """The CPUs' worth of work that other processes did between two readings."""

    def __init__(self) -> None:
        self.last: tuple[float, float, float] | None = None  # (wall, busy, own CPU)
        self.estimate = 0.0
        self.lock = threading.Lock()

    def reading(self) -> tuple[float, float, float] | None:
        busy = _busy_seconds()
        return None if busy is None else (time.monotonic(), busy, time.process_time())

    def other_cpus(self) -> float | None:
        with self.lock:
            now = self.reading()
            if now is None:
                return None
            if self.last is None or now[0] - self.last[0] > STALE_SECONDS:
                time.sleep(FRESH_SAMPLE_SECONDS)
                self.last, now = now, self.reading()
                assert now is not None
            wall, busy, own = (b - a for a, b in zip(self.last, now, strict=True))
            if wall >= FRESH_SAMPLE_SECONDS / 2:  # a shorter span says too little: keep the last estimate
                self.last, self.estimate = now, max(0.0, busy - own) / wall
            return self.estimate


def threads_for(other_cpus: float, cpus: int) -> int:
    """The thread count for `cpus` CPUs with `other_cpus` of them in use by other processes."""
    taken = math.ceil(other_cpus - SPARE_SHARE) if other_cpus > SPARE_SHARE else 0
    return max(1, cpus - taken)


_meter = LoadMeter()
_local = threading.local()  # OpenMP's thread count belongs to the thread that sets it


def fit_threads() -> int:
    """Set and return the calling thread's torch thread count: `DISTILL_THREADS` when set, else the
    CPUs that other processes leave free, revisited at most every REVISIT_SECONDS (cheap to call often)."""
    fixed = fixed_threads()
    if fixed is not None:
        return use_threads(fixed)
    if time.monotonic() - getattr(_local, "fitted", -math.inf) < REVISIT_SECONDS:
        return int(_local.threads)
    other = _meter.other_cpus()
    threads = use_threads(available_cpus() if other is None else threads_for(other, available_cpus()))
    _local.fitted = time.monotonic()
    return threads


def use_threads(count: int) -> int:
    """Set the calling thread's torch thread count to `count`, as it is. Results depend on it in the last
    bits (how sums are split), so a replay renders with the count its clip was made with."""
    import torch

    default_threads()  # read torch's own default before it changes
    if getattr(_local, "threads", None) != count:
        torch.set_num_threads(count)
        _local.threads = count
    _local.fitted = -math.inf  # the next fit measures afresh
    return count
