"""The web UI's long jobs (training, vocoder training, a weights download): one at a time per server
process, run in a thread of their own, so closing the browser never stops one and every open page
sees the same progress. Stopping the server cancels the running job the way Ctrl-C does (training
saves a checkpoint first). No Gradio here."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from .. import DistillError, Interrupted, Progress
from .words import control_for, ui_message

log = logging.getLogger("distill.ui")

# Metrics that are counters, clocks or flags, not losses: shown in words, never plotted.
NOT_LOSSES = frozenset({"step", "seconds", "adversarial"})
MAX_POINTS = 2000  # loss-curve points kept: every step of short runs, every other one beyond, and so on


@attrs.define
class Job:
    """What a job has done so far; the pages read it as `JobRunner.job` every second."""

    kind: str  # "train", "train-vocoder" or "download"
    label: str  # for people: "training 'field'"
    target: str = ""  # the model it trains, or the vocoder it downloads
    cancel: threading.Event = attrs.field(factory=threading.Event)
    state: str = "running"  # running, finished, cancelled or failed
    started: float = attrs.field(factory=time.monotonic)
    last: Progress | None = None  # the latest step event
    curve: list[dict[str, Any]] = attrs.field(factory=list)  # {"step", "loss", "value"} rows
    log: list[str] = attrs.field(factory=list)  # messages, skipped-file report first
    previews: list[Path] = attrs.field(factory=list)
    downloads: dict[str, tuple[int, int]] = attrs.field(factory=dict)  # file -> (bytes done, total)
    result: Any = None
    error: str | None = None
    resume: str = ""  # the command that continues a cancelled training
    control: str | None = None  # the control a failure's message belongs beside (words.control_for)
    ended: float | None = None
    _every: int = 1

    @property
    def running(self) -> bool:
        return self.state == "running"

    def on_progress(self, event: Progress) -> None:
        """The API's progress callback."""
        if event.message is not None:
            said = ui_message(event.hint or event.message)  # the page's words, not the command line's
            self.log.append(("warning: " if event.warning and not said.startswith("warning") else "") + said)
            if event.file is not None:
                self.previews.append(event.file)
            return
        self.last = event
        if event.step % self._every == 0:
            self.curve.extend({"step": event.step, "loss": name, "value": float(value)}
                              for name, value in event.metrics.items()
                              if name not in NOT_LOSSES and _plottable(value))
            if len({row["step"] for row in self.curve}) > MAX_POINTS:  # halve the resolution, keep the span
                self._every *= 2
                self.curve = [row for row in self.curve if row["step"] % self._every == 0]

    def on_download(self, filename: str, done: int, total: int) -> None:
        """The download-progress callback of a vocoder backend."""
        self.downloads[filename] = (done, total)


def _plottable(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class JobRunner:
    """Runs at most one job at a time; `start` refuses a second one with a message naming the first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.job: Job | None = None  # the running job, or the last one
        self.changes = 0  # counts ended jobs and library edits: pages refresh their model lists when it moves

    def start(self, kind: str, label: str, work: Callable[[Job], Any], target: str = "",
              continues: bool = False) -> Job:
        """Run `work(job)` in a thread. With `continues` (a Resume), the new job keeps the loss curve,
        previews and log of the last job when that one was of the same kind and target."""
        with self._lock:
            last = self.job
            if last is not None and last.running:
                raise DistillError(f"{last.label} is running: wait for it to finish, or cancel it first "
                                   "(one long job at a time)")
            job = self.job = Job(kind, label, target)
            if continues and last is not None and (last.kind, last.target) == (kind, target):
                job.curve, job.previews, job.log, job._every = list(last.curve), list(last.previews), list(last.log), \
                    last._every
            self._thread = threading.Thread(target=self._run, args=(job, work), name=f"distill-{kind}", daemon=True)
            self._thread.start()
        return job

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        try:
            job.result = work(job)
            job.state = "finished"
        except Interrupted as exc:
            job.state, job.error, job.resume = "cancelled", ui_message(exc), exc.resume
        except DistillError as exc:
            job.state, job.error, job.control = "failed", ui_message(exc), control_for(exc)
        except Exception as exc:  # a bug: the page gets one line, the server log the traceback
            log.exception("%s failed", job.label)
            job.state = "failed"
            job.error = f"unexpected error ({type(exc).__name__}: {exc}); details are in the server log"
        finally:
            job.ended = time.monotonic()
            self.changed()

    def changed(self) -> None:
        """Tell every open page the library or the vocoders changed."""
        with self._lock:
            self.changes += 1

    def cancel(self) -> bool:
        """Ask the running job to stop at its next safe point; False when none runs."""
        job = self.job
        if job is None or not job.running:
            return False
        job.cancel.set()
        return True

    def shutdown(self, timeout: float = 600.0) -> None:
        """Cancel the running job and wait for it to save its checkpoint."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(timeout)
