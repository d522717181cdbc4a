"""What the web UI's tabs share: the page context (job runner, model pickers that refresh when the
library changes, render cancellation), readable errors, and the training panel."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import gradio as gr

from .. import DistillError, list_models
from .jobs import Job, JobRunner
from .views import error_html, note_html

log = logging.getLogger("distill.ui")


@attrs.define
class Context:
    """What the tabs share."""

    runner: JobRunner
    folder: Path  # where the UI writes what it serves: generated/, compare/, exports/
    cancels: dict[str, threading.Event] = attrs.field(factory=dict)  # per page session: its render's token
    model_pickers: list[Any] = attrs.field(factory=list)  # every model dropdown, refreshed together

    def cancel_token(self, request: gr.Request | None) -> threading.Event:
        key = request.session_hash if request is not None and request.session_hash else "-"
        token = self.cancels[key] = threading.Event()
        return token

    def picker(self, label: str, elem_id: str, first: bool = True, **kwargs: Any) -> gr.Dropdown:
        """A model dropdown showing the first model (or none, with `first=False`). It accepts a value that is
        not (or no longer) among its choices: a model renamed or deleted meanwhile (in another page, or
        before a late refresh of this one) reaches the handler, which says it is gone, instead of failing
        Gradio's validation with a bare "Error" (seen on a busy machine, after a rename)."""
        names = model_names()
        dropdown = gr.Dropdown(choices=names, value=names[0] if names and first else None, label=label,
                               elem_id=elem_id, allow_custom_value=True, **kwargs)
        self.model_pickers.append(dropdown)
        return dropdown


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


def refreshed_pickers(count: int) -> list[Any]:
    names = model_names()
    return [gr.update(choices=names)] * count


def guarded(fn: Callable[..., Any], outputs: int) -> Callable[..., Any]:
    """`fn`, whose last output is the tab's message: an error a user can cause becomes that message (the
    other outputs stay as they were); anything else is logged with its traceback and summarised."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DistillError as exc:
            message = exc.cli_message
        except Exception as exc:
            log.exception("%s failed", fn.__name__)
            message = f"unexpected error ({type(exc).__name__}: {exc}); details are in the server log"
        shown = error_html(message)
        return (*[gr.skip()] * (outputs - 1), shown) if outputs > 1 else shown

    return wrapper


@attrs.define
class TrainingPanel:
    """What a training tab shows besides its buttons: its message, the job's status and loss plot."""

    message: Any
    status: Any
    plot: Any


def training_panel(context: Context, prefix: str, kind: str, start_label: str, launch: Callable[..., str],
                   inputs: list[Any]) -> TrainingPanel:
    """The controls of a training tab (elem_ids `PREFIX-start` …). Start and Resume call
    `launch(*inputs, resuming=...)`; Cancel stops the running job of `kind`, which saves a checkpoint
    after its current step."""
    with gr.Row():
        start = gr.Button(start_label, variant="primary", elem_id=f"{prefix}-start")
        cancel = gr.Button("Cancel (keeps a checkpoint)", elem_id=f"{prefix}-cancel")
        resume = gr.Button("Resume", elem_id=f"{prefix}-resume")
    message = gr.HTML(elem_id=f"{prefix}-message")
    status = gr.HTML(elem_id=f"{prefix}-status")
    plot = gr.LinePlot(x="step", y="value", color="loss", label="Losses", elem_id=f"{prefix}-plot", height=260)
    for button, resuming in ((start, False), (resume, True)):
        button.click(guarded(functools.partial(launch, resuming=resuming), 1), inputs=inputs, outputs=message,
                     api_visibility="private")

    def stop() -> str:
        job = context.runner.job
        if job is not None and job.kind == kind and context.runner.cancel():
            return note_html("cancelling: a checkpoint is saved after the current step")
        return note_html("nothing of this kind is running")

    cancel.click(stop, outputs=message, api_visibility="private", queue=False)
    return TrainingPanel(message, status, plot)
