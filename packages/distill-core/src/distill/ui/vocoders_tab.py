"""Vocoders: the installed backends and their weights (Download, with live bytes, speed and ETA), and
training a per-model vocoder (Start / Cancel / Resume, live losses, the bundled result). Downloads
and training run as the job runner's jobs."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

import distill

from .. import DistillError, vocoder_list
from .jobs import Job
from .parts import Context, TabHooks, guarded, training_panel, training_views
from .views import download_html, log_text, note_html
from .words import ui_message

KINDS = ("train-vocoder",)


def backends_html() -> str:
    rows = []
    for vocoder in vocoder_list():
        rows.append(f"<tr><td>{html.escape(vocoder.name)}</td><td>{vocoder.kind}</td><td>{vocoder.weights}</td>"
                    f"<td>{html.escape(vocoder.description)}</td></tr>")
    if not rows:
        return note_html('No vocoder installed: pip install "distill[hifigan]" or "distill[bigvgan]"')
    return ('<table class="distill-facts" id="voc-backends"><tr><th>backend</th><th>kind</th><th>weights</th>'
            "<th></th></tr>" + "".join(rows) + "</table>")


def downloadable() -> list[str]:
    return [vocoder.name for vocoder in vocoder_list() if vocoder.weights == "not downloaded"]


def trainable_backends() -> list[str]:
    return [vocoder.name for vocoder in vocoder_list() if vocoder.trainable]


def build(context: Context) -> TabHooks:
    gr.Markdown("### Installed vocoders")
    table = gr.HTML(backends_html(), elem_id="voc-table")
    with gr.Row():
        missing = downloadable()
        weights = gr.Dropdown(missing, value=missing[0] if missing else None, label="Weights to download",
                              elem_id="voc-download-name")
        download = gr.Button("Download", elem_id="voc-download")
    download_status = gr.HTML(elem_id="voc-download-status")

    gr.Markdown("### Train a vocoder for a model\nFine-tunes the pretrained base on the model's own recordings "
                "and bundles the result into the model file; `auto` uses it only where it measures better.")
    with gr.Row():
        model = context.picker("Model", "voc-model")
        backends = trainable_backends()
        backend = gr.Dropdown(["auto", *backends], value="auto", label="Backend", elem_id="voc-backend")
        steps = gr.Number(0, label="Steps (0: by minutes or the default)", precision=0, elem_id="voc-steps")
        minutes = gr.Number(0, label="Minutes (0: by steps)", elem_id="voc-minutes")
    fields_note = gr.HTML(elem_id="voc-fields-note")  # a vocoder training's failure about these fields

    def launch(name: str | None, chosen: str, count: float, budget: float, over: bool, resuming: bool) -> str:
        if not name:
            raise DistillError("pick a model first (train one in the Train tab)")

        def work(job: Job) -> Any:
            return distill.train_vocoder(name, backend=None if chosen == "auto" else chosen, steps=int(count) or None,
                                     minutes=float(budget) or None, resume=resuming,
                                     restart=over and not resuming, progress=job.on_progress,
                                     cancel=job.cancel)

        job = context.runner.start("train-vocoder", f"{'resuming' if resuming else 'training'} a vocoder for "
                                   f"{name!r}", work, target=name, continues=resuming)
        return note_html(f"{job.label}: progress below")

    def validate(name: str | None, chosen: str, count: float | None, budget: float | None) -> list[Any]:
        bad_steps = count is None or count < 0
        bad_minutes = budget is None or budget < 0
        return [gr.validate(bool(name), "pick a model first (train one in the Train tab)"), gr.validate(True, ""),
                gr.validate(not bad_steps, "type 0 (by minutes or the default) or a number of steps"),
                gr.validate(not bad_minutes, "type 0 (by steps) or a number of minutes")]

    panel = training_panel(context, "voc", "train-vocoder", "Start", launch, [model, backend, steps, minutes],
                           validator=validate)
    message = panel.message
    log = gr.Textbox(label="Log", lines=8, max_lines=8, interactive=False, elem_id="voc-log")

    def on_download(name: str | None) -> str:
        if not name:
            raise DistillError("every installed vocoder already has its weights")

        def work(job: Job) -> None:
            distill.download_vocoder(name, job.on_download)

        context.runner.start("download", f"downloading {name!r} weights", work, target=name)
        return ""  # the download's own line below shows it, and its outcome

    download.click(guarded(on_download, 1), inputs=weights, outputs=message, api_visibility="private")

    def render(job: Job | None) -> list[Any]:
        finished = ""
        if job is not None and job.kind in KINDS and job.state == "finished":
            result = job.result
            auto, why = result.auto
            finished = (f'<div id="voc-result">bundled <b>{html.escape(result.backend)}</b> into '
                        f"{html.escape(str(result.path))} ({result.bytes_added / 1e6:+.1f} MB, {result.steps} steps)"
                        f"<br>auto now picks <b>{html.escape(auto)}</b>: {html.escape(ui_message(why))}"
                        + "".join(f"<br>⚠ {html.escape(ui_message(w))}" for w in result.warnings) + "</div>")
        downloads = download_html(job)
        if job is not None and job.kind == "download" and job.state == "finished":
            downloads += '<div id="voc-download-done">the weights are on this machine</div>'
        return [*training_views(job, KINDS, ("model", "backend", "steps", "vocoder"), finished), log_text(job, KINDS),
                downloads]

    def refresh() -> list[Any]:
        left = downloadable()
        return [backends_html(), gr.update(choices=left, value=left[0] if left else None),
                gr.update(choices=["auto", *trainable_backends()])]

    return TabHooks(ticking=[fields_note, panel.status, panel.plot, log, download_status], render=render,
                    changing=[table, weights, backend], refresh=refresh)
