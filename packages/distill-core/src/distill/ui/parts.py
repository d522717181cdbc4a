"""What the web UI's tabs share: the page context (job runner, model pickers that refresh when the
library changes, render cancellation), readable errors, and the training panel."""

from __future__ import annotations

import functools
import html
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import gradio as gr
import pandas as pd

from .. import DistillError, list_models
from .jobs import Job, JobRunner
from .views import error_html, field_note, job_html, note_html
from .words import ui_message

log = logging.getLogger("distill.ui")


@attrs.define
class Picker:
    """A model menu and the note beside it that says when its model went away."""

    dropdown: Any
    note: Any
    label: str
    first: bool  # shows the first model when none (or a vanished one) is chosen; else stays empty


@attrs.define
class Context:
    """What the tabs share."""

    runner: JobRunner
    folder: Path  # where the UI writes what it serves: generated/, compare/, exports/, previews/
    cancels: dict[str, threading.Event] = attrs.field(factory=dict)  # per page session: its render's token
    rendering: set[str] = attrs.field(factory=set)  # page sessions with a render under way
    pickers: list[Picker] = attrs.field(factory=list)  # every model menu, refreshed together
    ids: dict[str, str] = attrs.field(factory=dict)  # every model name seen -> its id (follows renames)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def claim(self, page: str) -> bool:
        """Mark a page session as rendering; False when it already is (a double click)."""
        with self._lock:
            if page in self.rendering:
                return False
            self.rendering.add(page)
            return True

    def cancel_token(self, request: gr.Request | None) -> threading.Event:
        key = session(request)
        token = self.cancels[key] = threading.Event()
        return token

    def picker(self, label: str, elem_id: str, first: bool = True, **kwargs: Any) -> gr.Dropdown:
        """A model menu (with a note under it) showing the first model (or none, with `first=False`).
        It accepts a value that is no longer among its choices, so a model renamed or deleted meanwhile
        reaches the handler (which says so) instead of failing Gradio's validation with a bare "Error";
        and at the next tick every page's menus follow the library (`refreshed_pickers`)."""
        names = model_names()
        with gr.Column(scale=kwargs.pop("scale", 1), min_width=160):
            dropdown = gr.Dropdown(choices=names, value=names[0] if names and first else None, label=label,
                                   elem_id=elem_id, allow_custom_value=True, **kwargs)
            note = gr.HTML(elem_id=f"{elem_id}-note")
        dropdown.input(lambda: "", outputs=note, api_visibility="private", queue=False)  # a new pick clears it
        self.pickers.append(Picker(dropdown, note, label, first))
        return dropdown

    def refreshed_pickers(self, values: tuple[Any, ...], before: set[str] | None) -> list[Any]:
        """Updates for every menu (then every note) after the library changed: the choices now; a model
        that was there `before` (this page's last look) and is gone now is followed to its new name (a
        model with its id that was not there before: an imported copy keeps the id too) or dropped with
        a note. A page's first look (`before` None) fills its empty main menus. Other values are left
        alone: a menu's value can be older than an edit this page just made."""
        entries = [entry for entry in list_models() if entry.error is None]
        names = [entry.name for entry in entries]
        self.ids.update({entry.name: entry.id for entry in entries if entry.id})
        menus, notes = [], []
        for picker, value in zip(self.pickers, values, strict=True):
            if before is None and not value:  # the page's first look
                menus.append(gr.update(choices=names, value=names[0] if picker.first and names else None))
                notes.append(gr.skip())
                continue
            if before is None or value not in before or value in names:  # nothing this page showed went away
                menus.append(gr.update(choices=names))
                notes.append(gr.skip())
                continue
            renamed = next((e.name for e in entries if e.id and e.id == self.ids.get(value) and e.name not in before),
                           None)
            instead = renamed or (names[0] if picker.first and names else None)
            menus.append(gr.update(choices=names, value=instead))
            if renamed:
                notes.append(note_html(f"{value!r} was renamed to {renamed!r}: {picker.label} follows it"))
            else:
                shown = f": showing {instead!r}" if instead else f": {picker.label} is empty now"
                notes.append(note_html(f"{value!r} is no longer in the library (deleted, or renamed in another "
                                       f"program){shown}"))
        return [*menus, *notes]


def session(request: gr.Request | None) -> str:
    return request.session_hash if request is not None and request.session_hash else "-"


@attrs.define
class TabHooks:
    """How a tab follows the job runner: `render(job)` fills `ticking` every second; `refresh(*watch
    values)` fills `changing` when a job ends (a new model, a bundled vocoder, downloaded weights);
    `on_load` fills the tab for the first time a page opens."""

    ticking: list[Any] = attrs.field(factory=list)
    render: Callable[[Job | None], list[Any]] | None = None
    changing: list[Any] = attrs.field(factory=list)
    refresh: Callable[..., list[Any]] | None = None
    watch: list[Any] = attrs.field(factory=list)
    on_load: tuple[Callable[..., Any], list[Any], list[Any]] | None = None


def model_names() -> list[str]:
    return [entry.name for entry in list_models() if entry.error is None]


def guarded(fn: Callable[..., Any], outputs: int, message_at: int = -1) -> Callable[..., Any]:
    """`fn`, whose output number `message_at` (default: the last) is the tab's message: an error a user can
    cause becomes that message, in the page's words (the other outputs stay as they were); anything else
    is logged with its traceback and summarised."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DistillError as exc:
            message = said(exc)
        except Exception as exc:
            log.exception("%s failed", fn.__name__)
            message = f"unexpected error ({type(exc).__name__}: {exc}); details are in the server log"
        if outputs == 1:
            return error_html(message)
        shown: list[Any] = [gr.skip()] * outputs
        shown[message_at] = error_html(message)
        return shown

    return wrapper


def said(exc: DistillError) -> str:
    """An error in the page's words (its buttons and fields, not the command line's options)."""
    return ui_message(exc)


@attrs.define
class TrainingPanel:
    """What a training tab shows besides its buttons: its message, the job's status and loss plot."""

    message: Any
    status: Any
    plot: Any


def training_panel(context: Context, prefix: str, kind: str, start_label: str, launch: Callable[..., str],
                   inputs: list[Any], validator: Callable[..., list[Any]] | None = None) -> TrainingPanel:
    """The controls of a training tab (elem_ids `PREFIX-start` …). Start and Resume call
    `launch(*inputs, start_over, resuming=...)` once `validator(*inputs)` (messages beside the fields) lets
    them (`start_over`: the Start over box, a restart);
    Cancel stops the running job of `kind`, which saves a checkpoint after its current step."""
    with gr.Row():
        start = gr.Button(start_label, variant="primary", elem_id=f"{prefix}-start")
        over = gr.Checkbox(False, label="Start over (discards an interrupted run's checkpoint)",
                           elem_id=f"{prefix}-restart")
        cancel = gr.Button("Cancel (keeps a checkpoint)", elem_id=f"{prefix}-cancel")
        resume = gr.Button("Resume", elem_id=f"{prefix}-resume")
    message = gr.HTML(elem_id=f"{prefix}-message")
    status = gr.HTML(elem_id=f"{prefix}-status")
    plot = gr.LinePlot(x="step", y="value", color="loss", label="Losses", elem_id=f"{prefix}-plot", height=260,
                       color_title="loss")
    def checked(*values: Any) -> list[Any]:
        return [*validator(*values[:-1]), gr.validate(True, "")] if validator else []

    for button, resuming in ((start, False), (resume, True)):
        button.click(guarded(functools.partial(launch, resuming=resuming), 1), inputs=[*inputs, over],
                     outputs=message, api_visibility="private", validator=checked)

    def stop() -> str:
        job = context.runner.job
        if job is not None and job.kind == kind and context.runner.cancel():
            return note_html("cancelling: a checkpoint is saved after the current step")
        return note_html("nothing of this kind is running")

    cancel.click(stop, outputs=message, api_visibility="private", queue=False)
    return TrainingPanel(message, status, plot)


# The plot's colours, given here so the legend drawn beside it matches (Gradio's own legend shows its title
# but not its entries).
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d"]


def loss_plot(job: Job | None, kinds: tuple[str, ...]) -> tuple[Any, str]:
    """The loss curve (None before the first point: an empty frame would type the loss column as
    numbers, and the plot then never draws its lines) and its legend."""
    rows = job.curve if job is not None and job.kind in kinds else []
    if not rows:
        return None, ""
    names = list(dict.fromkeys(row["loss"] for row in rows))
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    legend = "".join(f'<span class="distill-key"><span style="background:{colors[n]}"></span>{html.escape(n)}</span>'
                     for n in names)
    return gr.update(value=pd.DataFrame(rows), color_map=colors), f'<div class="distill-legend">{legend}</div>'


def training_views(job: Job | None, kinds: tuple[str, ...], controls: tuple[str, ...], finished: str = ""
                   ) -> list[Any]:
    """What a training tab shows of its job every second: a failure about one of the tab's `controls`
    (beside them), the status with `finished` and the plot's legend, and the loss plot."""
    plot, legend = loss_plot(job, kinds)
    return [field_note(job, kinds, controls), job_html(job, kinds) + finished + legend, plot]
