"""The web UI's page: five tabs on the Python API, and the timer that keeps every open page in step
with the job runner (the tabs' shared pieces are in parts.py). Imported only by `distill ui`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from . import compare_tab, generate_tab, library_tab, train_tab, vocoders_tab
from .jobs import JobRunner
from .parts import Context, refreshed_pickers

CSS = """
.distill-error { color: #b00020; border: 1px solid #b00020; border-radius: 6px; padding: 6px 10px; }
.distill-note { color: #555; }
.distill-bar { width: 60%; height: 12px; vertical-align: middle; }
.distill-facts th, .distill-compare th { text-align: left; padding-right: 1em; }
.distill-listen audio { width: 220px; }
"""


def build_app(runner: JobRunner, folder: Path) -> gr.Blocks:
    context = Context(runner, folder)
    with gr.Blocks(title="distill", analytics_enabled=False) as app:
        gr.Markdown("# distill\nTurn your own recordings into a generative instrument.")
        with gr.Tabs():
            with gr.Tab("Generate", id="generate", elem_id="tab-generate"):
                tabs = [generate_tab.build(context)]
            with gr.Tab("Train", id="train", elem_id="tab-train"):
                tabs.append(train_tab.build(context))
            with gr.Tab("Vocoders", id="vocoders", elem_id="tab-vocoders"):
                tabs.append(vocoders_tab.build(context))
            with gr.Tab("Library", id="library", elem_id="tab-library"):
                tabs.append(library_tab.build(context))
            with gr.Tab("Compare vocoders", id="compare", elem_id="tab-compare"):
                tabs.append(compare_tab.build(context))
        for tab in tabs:
            if tab.on_load:
                fn, inputs, outputs = tab.on_load
                app.load(fn, inputs=inputs, outputs=outputs, api_visibility="private")

        # Every page polls the one job runner: progress shows in every open page, and when a job ends
        # (a model trained, a vocoder bundled, weights downloaded) the pickers and menus refresh.
        seen = gr.State(-1)  # a page opened later refreshes its menus at its first tick (models made meanwhile)
        pickers = context.model_pickers
        ticking = [c for tab in tabs for c in tab.ticking]
        changing = [c for tab in tabs for c in tab.changing]
        watch = [c for tab in tabs for c in tab.watch]

        def tick(last_seen: int, *watched: Any) -> list[Any]:
            job = runner.job
            views = [view for tab in tabs if tab.render for view in tab.render(job)]
            if runner.changes == last_seen:
                return [*views, *[gr.skip()] * (len(pickers) + len(changing)), last_seen]
            updates, at = [], 0
            for tab in tabs:
                if tab.refresh:
                    updates += tab.refresh(*watched[at : at + len(tab.watch)])
                at += len(tab.watch)
            return [*views, *refreshed_pickers(len(pickers)), *updates, runner.changes]

        gr.Timer(1.0).tick(tick, inputs=[seen, *watch], outputs=[*ticking, *pickers, *changing, seen],
                           api_visibility="private", show_progress="hidden", queue=False)
    return app
