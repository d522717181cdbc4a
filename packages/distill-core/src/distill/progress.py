"""Progress and cancellation: every shape of progress callback distill has, in one place.

An operation of the Python API takes `progress` (a ProgressCallback, called with one `Progress` event
per step, phase change or message) and `cancel` (a `threading.Event`). Setting `cancel` makes
training save a checkpoint after the current step, and a render stop between chunks; both then raise
`Interrupted`. A plugin reports to distill in two plainer shapes, which the API turns into events: a
vocoder's trainer calls a StepProgress, a download a DownloadProgress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from .errors import DistillError, Fix, Hint


@attrs.frozen
class Progress:
    """One event: a step of `phase` (with `total`, 0 when unknown, and metrics such as losses), or a
    `message` to show (`warning` when it is one), with the `file` it is about when there is one (a
    training preview clip). `message` is in the command line's words; `hint` holds it as a Hint (what
    went wrong and its Fix), for a face that says fixes in its own words."""

    phase: str
    step: int = 0
    total: int = 0
    metrics: Mapping[str, float] = attrs.field(factory=dict)
    elapsed: float = 0.0  # seconds since the operation started
    eta: float | None = None  # seconds left, when it can be estimated
    message: str | None = None
    warning: bool = False
    file: Path | None = None
    hint: Hint | None = None  # the message, structured (set with every message)


ProgressCallback = Callable[[Progress], None]
# A trainer's progress(step, total_steps, metrics): total_steps is 0 when the run is bounded by time, not
# steps; metrics hold its latest losses and "seconds" (training time so far, resumed runs included).
StepProgress = Callable[[int, int, Mapping[str, float]], None]
DownloadProgress = Callable[[str, int, int], None]  # progress(filename, bytes_done, bytes_total)


class Interrupted(DistillError):
    """Raised when `cancel` was set (or Ctrl-C pressed). Training saved a checkpoint first: `step`,
    `checkpoint`, and `resume`, the command that continues it (also the value of its Fix, "resume": a
    page says "press Resume" instead); a cancelled render wrote nothing."""

    def __init__(self, step: int, checkpoint: Path | None, resume: str = "", *, message: str | None = None) -> None:
        where = f"; checkpoint saved to {checkpoint}" if checkpoint else ""
        super().__init__(message or f"interrupted at step {step}{where}", Fix("resume", resume) if resume else None)
        self.step, self.checkpoint, self.resume = step, checkpoint, resume


class Reporter:
    """Sends Progress events for one operation, adding elapsed time and an ETA from the steps done
    since it started (so a resumed run's ETA is not inflated by the steps it skipped)."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.started = time.monotonic()
        self.first: tuple[str, int, float] | None = None  # phase, step and time the ETA counts from

    def step(self, phase: str, step: int, total: int = 0, metrics: Mapping[str, float] | None = None) -> None:
        now = time.monotonic()
        if self.first is None or self.first[0] != phase or self.first[1] > step:
            self.first = (phase, step, now)
        done, since = step - self.first[1], now - self.first[2]
        eta = (total - step) * since / done if total and done > 0 else None
        self.send(Progress(phase, step, total, dict(metrics or {}), now - self.started, eta))

    def say(self, message: str | Hint, warning: bool = False, phase: str = "message", file: Path | None = None) -> None:
        hint = Hint.of(message)
        self.send(Progress(phase, message=hint.cli_message, warning=warning, elapsed=time.monotonic() - self.started,
                           file=file, hint=hint))

    def send(self, event: Progress) -> None:
        if self.callback is not None:
            self.callback(event)
