"""Compare vocoders: `distill vocoders compare` for a model, plus every held-out recording as players
side by side (the original, then each backend's rendering), to hear whether training paid off."""

from __future__ import annotations

import shutil

import gradio as gr

import distill

from .. import DistillError, Progress, safe_stem
from .parts import Context, TabHooks, guarded
from .views import comparison_html


def build(context: Context) -> TabHooks:
    with gr.Row():
        model = context.picker("Model", "cmp-model")
        save = gr.Checkbox(False, label="Store the figures in the model (auto ranks its bundled vocoders by them)",
                           elem_id="cmp-save")
        run = gr.Button("Compare", variant="primary", elem_id="cmp-run")
    result = gr.HTML(elem_id="cmp-result")
    message = gr.HTML(elem_id="cmp-message")

    def on_compare(name: str | None, store: bool, progress: gr.Progress = gr.Progress()  # noqa: B008
                   ) -> list[str]:
        if not name:
            raise DistillError("pick a model first")
        progress(None, desc="reading the held-out recordings")

        def stage(event: Progress) -> None:
            progress((event.step, event.total), desc=event.phase)

        folder = context.folder / "compare" / safe_stem(name, "model")
        shutil.rmtree(folder, ignore_errors=True)  # last comparison's renderings
        compared = distill.compare_vocoders(name, save=store, renderings=folder, steps=stage)
        if store:
            context.runner.changed()
        return [f'<div id="cmp-done">{comparison_html(compared)}</div>', ""]

    run.click(guarded(on_compare, 2), inputs=[model, save], outputs=[result, message], api_visibility="private")
    return TabHooks()
