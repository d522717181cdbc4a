"""Train: recordings from a folder on this machine or uploaded into the library, a name, a preset or a
number of steps; Start, Cancel (a checkpoint is saved) and Resume. Training runs as the job runner's
job, so its progress, loss curve and preview clips show in every open page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr

import distill

from .. import TRAIN_PRESETS, DistillError, add_recordings
from .jobs import Job
from .parts import Context, TabHooks, guarded, said, training_panel, training_views
from .views import clock, error_html, log_text, note_html, previews_html

KINDS = ("train",)


def build(context: Context) -> TabHooks:
    gr.Markdown("Train a model on a folder of recordings: a path on the machine running distill, or files "
                "uploaded into a new folder of the library.")
    with gr.Row():
        folder = gr.Textbox(label="Folder of recordings", placeholder="/path/to/sounds", elem_id="train-folder",
                            scale=3)
        name = gr.Textbox(label="Model name", placeholder="default: the folder's name", elem_id="train-name")
    fields_note = gr.HTML(elem_id="train-fields-note")  # a training's failure about the folder or the name
    with gr.Accordion("…or upload recordings", open=False):
        uploads = gr.File(label="Audio files", file_count="multiple", elem_id="train-upload")
        upload_name = gr.Textbox(label="New recordings folder name", elem_id="train-upload-name")
        upload = gr.Button("Upload into the library", elem_id="train-upload-go")
    with gr.Row():
        preset = gr.Dropdown(list(TRAIN_PRESETS), value="auto", label="Preset", elem_id="train-preset",
                             info="each with its steps and time once the folder is timed (Enter in the folder box)")
        steps = gr.Number(0, label="Steps (0: the preset's)", precision=0, elem_id="train-steps")
        time_it = gr.Button("Time each preset for this folder", elem_id="train-estimate")
    estimates = gr.HTML(elem_id="train-estimates")

    def estimate(source: str, chosen: str) -> list[Any]:
        """Each preset's steps and time for this corpus, from a short timing on this machine now."""
        if not source.strip():
            return [gr.update(choices=list(TRAIN_PRESETS)), ""]
        try:
            found = distill.training_estimates(source.strip())
        except DistillError as exc:
            return [gr.update(choices=list(TRAIN_PRESETS)), error_html(said(exc))]
        labels = [(f"{p.preset}{f' ({p.runs})' if p.runs != p.preset else ''}: {p.steps} steps, about "
                   f"{clock(p.seconds)}", p.preset) for p in found.presets]
        return [gr.update(choices=labels, value=chosen),
                note_html(f"{found.files} files, {clock(found.audio_seconds)} of audio; times from "
                          f"{found.step_seconds * 1000:.0f} ms per training step on this machine now")]

    # Not on leaving the folder box: that event would swallow a click on Start made from the box.
    for event in (folder.submit, time_it.click):
        event(estimate, inputs=[folder, preset], outputs=[preset, estimates], api_visibility="private",
              trigger_mode="always_last")

    def model_name(source: str, model: str) -> str:
        return model.strip() or Path(source.strip()).expanduser().resolve().name

    def launch(source: str, model: str, chosen: str, count: float, over: bool, resuming: bool) -> str:
        name = model_name(source, model)

        def work(job: Job) -> Any:
            return distill.train(source.strip(), name, preset=chosen, steps=int(count) or None, resume=resuming,
                                 restart=over and not resuming, progress=job.on_progress, cancel=job.cancel)

        job = context.runner.start("train", f"{'resuming' if resuming else 'training'} {name!r}", work,
                                   target=name, continues=resuming)
        return note_html(f"{job.label}: progress below")

    def validate(source: str, model: str, chosen: str, count: float | None) -> list[Any]:
        folder_problem = "" if source.strip() else "type the folder of recordings (or upload some below)"
        name_problem = ("only spaces: type a name, or leave the box empty to use the folder's name"
                        if model and not model.strip() else "")
        steps_problem = "" if count is not None and count >= 0 else "type 0 (the preset's) or a number of steps"
        return [gr.validate(not folder_problem, folder_problem), gr.validate(not name_problem, name_problem),
                gr.validate(True, ""), gr.validate(not steps_problem, steps_problem)]

    panel = training_panel(context, "train", "train", "Start training", launch, [folder, name, preset, steps],
                           validator=validate)
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
                 api_visibility="private").success(estimate, inputs=[folder, preset], outputs=[preset, estimates],
                                                   api_visibility="private")

    def render(job: Job | None) -> list[Any]:
        mine = job is not None and job.kind in KINDS
        finished = ""
        if mine and job is not None and job.state == "finished":
            result = job.result
            finished = (f'<div id="train-result">saved <b>{html.escape(result.name)}</b>: {result.steps} steps, '
                        f"{result.files} files; sliders: {html.escape(', '.join(result.sliders))}</div>")
        return [*training_views(job, KINDS, ("folder", "model-name", "steps"), finished), log_text(job, KINDS),
                previews_html(job.previews if mine and job is not None else [])]

    return TabHooks(ticking=[fields_note, panel.status, panel.plot, log, previews], render=render)
