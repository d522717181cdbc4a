"""Train: recordings from a folder on this machine or uploaded into the library, a name, a preset or a
number of steps; Start, Cancel (a checkpoint is saved) and Resume. Training runs as the job runner's
job, so its progress, loss curve and preview clips show in every open page."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr
import pandas as pd

import distill

from .. import TRAIN_PRESETS, DistillError, add_recordings
from .jobs import Job
from .parts import Context, TabHooks, guarded, training_panel
from .views import job_html, log_text, note_html, previews_html

KINDS = ("train",)


def loss_frame(job: Job | None, kinds: tuple[str, ...]) -> pd.DataFrame | None:
    """The loss curve, or None before the first point: an empty frame would type the loss column as
    numbers, and the plot then never draws its lines."""
    rows = job.curve if job is not None and job.kind in kinds else []
    return pd.DataFrame(rows) if rows else None


def build(context: Context) -> TabHooks:
    gr.Markdown("Train a model on a folder of recordings: a path on the machine running distill, or files "
                "uploaded into a new folder of the library.")
    with gr.Row():
        folder = gr.Textbox(label="Folder of recordings", placeholder="/path/to/sounds", elem_id="train-folder",
                            scale=3)
        name = gr.Textbox(label="Model name", placeholder="default: the folder's name", elem_id="train-name")
    with gr.Accordion("…or upload recordings", open=False):
        uploads = gr.File(label="Audio files", file_count="multiple", elem_id="train-upload")
        upload_name = gr.Textbox(label="New recordings folder name", elem_id="train-upload-name")
        upload = gr.Button("Upload into the library", elem_id="train-upload-go")
    with gr.Row():
        preset = gr.Dropdown(list(TRAIN_PRESETS), value="auto", label="Preset", elem_id="train-preset")
        steps = gr.Number(0, label="Steps (0: the preset's)", precision=0, minimum=0, elem_id="train-steps")

    def launch(source: str, model: str, chosen: str, count: float, resuming: bool) -> str:
        if not source.strip():
            raise DistillError("give the folder of recordings to train on (or upload some)")
        label = model.strip() or None

        def work(job: Job) -> Any:
            return distill.train(source.strip(), label, preset=chosen, steps=int(count) or None, resume=resuming,
                             progress=job.on_progress, cancel=job.cancel)

        what = "resuming" if resuming else "training"
        job = context.runner.start("train", f"{what} {label or source.strip()!r}", work)
        return note_html(f"{job.label}: progress below")

    panel = training_panel(context, "train", "train", "Start training", launch, [folder, name, preset, steps])
    message = panel.message
    with gr.Row():
        log = gr.Textbox(label="Log", lines=10, max_lines=10, interactive=False, elem_id="train-log", scale=2)
        previews = gr.HTML(label="Previews", elem_id="train-previews")

    def on_upload(files: list[str] | None, label: str) -> list[Any]:
        if not files:
            raise DistillError("choose audio files to upload first")
        if not label.strip():
            raise DistillError("give the new recordings folder a name")
        dest, skipped = add_recordings(files, label.strip())
        lines = [f"uploaded into {dest}"] + [f"skipped {s.relative}: {s.reason}" for s in skipped]
        return [str(dest), label.strip(), note_html("; ".join(lines))]

    upload.click(guarded(on_upload, 3), inputs=[uploads, upload_name], outputs=[folder, name, message],
                 api_visibility="private")

    def render(job: Job | None) -> list[Any]:
        mine = job is not None and job.kind in KINDS
        finished = ""
        if mine and job is not None and job.state == "finished":
            result = job.result
            finished = (f'<div id="train-result">saved <b>{html.escape(result.name)}</b>: {result.steps} steps, '
                        f"{result.files} files; sliders: {html.escape(', '.join(result.sliders))}</div>")
        return [job_html(job, KINDS) + finished, loss_frame(job, KINDS), log_text(job, KINDS),
                previews_html(job.previews if mine and job is not None else [])]

    return TabHooks(ticking=[panel.status, panel.plot, log, previews], render=render)
