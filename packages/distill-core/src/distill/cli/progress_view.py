"""The API's progress events on a terminal: one tqdm bar per phase on stderr (hidden when stderr is
not a terminal), messages as lines, and Ctrl-C turned into the API's cancellation."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import click

from .. import Interrupted, Progress

HIDDEN_METRICS = ("step", "seconds", "adversarial")


class ProgressView:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.bar: Any = None
        self.phase = ""

    def __call__(self, event: Progress) -> None:
        if event.message is not None:
            # Above the bar, which carries on: closing it for a message (a training preview, say) would
            # restart its clock and its ETA at the next step.
            with self._above_bar():
                if event.warning:
                    click.echo(event.message, err=True)
                else:
                    self.say(event.message)
            return
        if self.bar is None or event.phase != self.phase:
            self._open(event)
        bar = self.bar
        if event.total and bar.total != event.total:
            bar.total = event.total
        if bar.n == 0 and event.step > 1:  # a resumed run: start where it left off, not at a burst of speed
            bar.n = bar.last_print_n = event.step - 1
        metrics = {k: f"{v:.3g}" for k, v in event.metrics.items() if k not in HIDDEN_METRICS}
        if metrics:
            bar.set_postfix(metrics | {"steps/s": f"{bar.format_dict.get('rate') or 0:.2f}"}, refresh=False)
        bar.update(event.step - bar.n)

    def _open(self, event: Progress) -> None:
        from tqdm import tqdm

        self.close()
        self.phase = event.phase
        render = event.phase.startswith("render")
        self.bar = tqdm(total=event.total or None, desc=event.phase.removeprefix("render "), file=sys.stderr,
                        mininterval=1.0, disable=None if render else False, leave=not render,
                        unit="s" if render else "step", unit_scale=0.1 if render else False)

    def _above_bar(self) -> contextlib.AbstractContextManager[Any]:
        from tqdm import tqdm

        return tqdm.external_write_mode(file=sys.stderr) if self.bar is not None else contextlib.nullcontext()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextlib.contextmanager
def interruptible(view: ProgressView) -> Iterator[Any]:
    """Ctrl-C as the API's cancel token; an interrupted training prints how to resume and exits 130."""
    try:
        with cancel_on_sigint() as cancel:
            yield cancel
    except Interrupted as stop:
        view.close()
        saved = f"; checkpoint saved to {stop.checkpoint}" if stop.checkpoint else ""
        click.echo(f"\nInterrupted at step {stop.step}{saved}.", err=True)
        if stop.resume:
            click.echo(f"Resume with: {stop.resume}", err=True)
        sys.exit(130)
    finally:
        view.close()


@contextlib.contextmanager
def cancel_on_sigint() -> Iterator[threading.Event]:
    """An Event the first Ctrl-C sets (the operation stops cleanly); a second Ctrl-C aborts at once."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum: int, frame: object) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        print("\nstopping at the next safe point (press Ctrl-C again to abort at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)
