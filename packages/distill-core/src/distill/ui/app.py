"""The web UI's page: five tabs on the Python API, and the timer that keeps every open page in step
with the job runner (the tabs' shared pieces are in parts.py). Imported only by `distill ui`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from .. import library_state
from . import compare_tab, generate_tab, library_tab, train_tab, vocoders_tab
from .jobs import JobRunner
from .parts import Context

CSS = """
.distill-error { color: #b00020; border: 1px solid #b00020; border-radius: 6px; padding: 6px 10px; }
.distill-note { color: #555; }
.distill-bar { width: 60%; height: 12px; vertical-align: middle; }
.distill-facts th, .distill-compare th { text-align: left; padding-right: 1em; }
.distill-listen { display: block; max-width: 100%; overflow-x: auto; }
.distill-listen audio { width: 160px; }
.distill-clamped { color: #8a5a00; font-size: 0.9em; padding: 2px 6px; }
.distill-takes { display: flex; flex-direction: column; gap: 6px; }
.distill-take { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; border: 1px solid #ddd;
  border-radius: 6px; padding: 4px 8px; }
.distill-take img { width: 160px; height: 40px; }
.distill-take .take-name { width: 12em; }
.distill-take .take-about { color: #555; font-size: 0.9em; flex: 1 1 16em; }
.distill-take button, .distill-ab button { border: 1px solid #bbb; border-radius: 4px; padding: 1px 8px; }
.distill-take audio { height: 32px; }
.distill-legend { margin-top: 4px; }
.distill-key { margin-right: 1em; }
.distill-key span { display: inline-block; width: 1.4em; height: 3px; margin-right: 0.4em; vertical-align: middle; }
#gen-preview { min-height: 64px; }  /* a preview arriving does not move what is below it */
#gen-preview-info { min-height: 1.5em; }
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

        # Every page polls the one job runner and the library: progress shows in every open page, and when
        # a job ends or the library changes (here, in another page or another program) the menus follow.
        seen = gr.State(None)  # a page opened later refreshes its menus at its first tick
        menus = [picker.dropdown for picker in context.pickers]
        notes = [picker.note for picker in context.pickers]
        ticking = [c for tab in tabs for c in tab.ticking]
        changing = [c for tab in tabs for c in tab.changing]
        watch = [c for tab in tabs for c in tab.watch]

        def tick(last_seen: Any, *values: Any) -> list[Any]:
            job = runner.job
            views = [view for tab in tabs if tab.render for view in tab.render(job)]
            now = (runner.changes, library_state())
            if now == last_seen:
                return [*views, *[gr.skip()] * (2 * len(menus) + len(changing)), last_seen]
            picked, watched = values[: len(menus)], values[len(menus) :]
            updates, at = [], 0
            for tab in tabs:
                if tab.refresh:
                    updates += tab.refresh(*watched[at : at + len(tab.watch)])
                at += len(tab.watch)
            before = {file.removesuffix(".distill") for file, _, _ in last_seen[1]} if last_seen else None
            return [*views, *context.refreshed_pickers(picked, before), *updates, now]

        gr.Timer(1.0).tick(tick, inputs=[seen, *menus, *watch], outputs=[*ticking, *menus, *notes, *changing, seen],
                           api_visibility="private", show_progress="hidden", queue=False)
    return app
