"""Library: every model with its facts; info, rename, delete (confirmed), import and export of
`.distill` files, re-running the slider analysis, and presets. All through the library's own rules
(atomic writes, checked names, the safe loader)."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr
import pandas as pd

import distill

from .. import (
    DistillError,
    delete_model,
    delete_preset,
    export_model,
    import_model,
    list_models,
    model_info,
    rename_model,
)
from .parts import Context, TabHooks, guarded, model_names
from .views import facts_html, note_html

COLUMNS = ["name", "files", "minutes of audio", "steps", "sliders", "bundled vocoders", "size (MB)", "created"]


def table() -> pd.DataFrame:
    rows = [[e.name, e.files, round(e.seconds / 60, 1) if e.seconds else None, e.steps, ", ".join(e.sliders),
             ", ".join(e.vocoders) or "–", round(e.size / 1e6, 1), e.created] if e.error is None else
            [e.name, None, None, None, "", f"unreadable: {e.error}", round(e.size / 1e6, 1), ""]
            for e in list_models()]
    return pd.DataFrame(rows, columns=COLUMNS)


def info(name: str | None) -> str:
    if not name and not model_names():
        return note_html("The library is empty: train a model in the Train tab, or import a .distill file.")
    if not name:
        return note_html("Pick a model to see its facts.")
    model = model_info(name)
    return facts_html(model, model.path.stat().st_size)


def presets_html(presets: dict[str, dict[str, float]] | None) -> str:
    """A model's presets (None: no model chosen)."""
    if presets is None:
        return ""
    if not presets:
        return note_html("no presets (save one in the Generate tab)")
    return "<ul>" + "".join(f"<li><b>{html.escape(p)}</b>: " + ", ".join(f"{html.escape(k)} {v:.3g}"
                                                                           for k, v in values.items()) + "</li>"
                            for p, values in sorted(presets.items())) + "</ul>"


def build(context: Context) -> TabHooks:
    models = gr.Dataframe(table(), interactive=False, elem_id="lib-table", label="Models")
    with gr.Row():
        model = context.picker("Model", "lib-model")
    facts = gr.HTML(elem_id="lib-info")
    with gr.Row():
        new_name = gr.Textbox(label="New name", elem_id="lib-new-name")
        rename = gr.Button("Rename", elem_id="lib-rename")
        confirm = gr.Checkbox(False, label="Yes, delete this model, its presets and checkpoints",
                              elem_id="lib-confirm")
        delete = gr.Button("Delete", variant="stop", elem_id="lib-delete")
    with gr.Row():
        upload = gr.File(label="Import a .distill file", file_types=[".distill"], elem_id="lib-import-file")
        import_name = gr.Textbox(label="Import as (default: the name inside)", elem_id="lib-import-name")
        do_import = gr.Button("Import", elem_id="lib-import")
    with gr.Row():
        export = gr.Button("Export the model file", elem_id="lib-export")
        exported = gr.File(label="Exported", interactive=False, elem_id="lib-export-file")
        analyze = gr.Button("Re-run the slider analysis", elem_id="lib-analyze")
    gr.Markdown("#### Presets")
    presets = gr.HTML(elem_id="lib-presets")
    with gr.Row():
        preset = gr.Dropdown([], label="Preset", elem_id="lib-preset")
        drop_preset = gr.Button("Delete preset", elem_id="lib-preset-delete")
    message = gr.HTML(elem_id="lib-message")

    def show(name: str | None, keep: str | None = None) -> list[Any]:
        """A model's facts, presets and presets menu (showing `keep` while it exists, else the first)."""
        found = model_info(name).presets() if name else None
        names = sorted(found or {})
        return [info(name), presets_html(found),
                gr.update(choices=names, value=keep if keep in names else (names[0] if names else None)),
                gr.skip()]  # the message of an edit that changed the model stays

    shown = [facts, presets, preset, message]
    model.change(guarded(show, len(shown)), inputs=model, outputs=shown, api_visibility="private")

    def changed(text: str) -> list[Any]:
        """After an edit: the table and this page's picker now, every other page at its next tick."""
        context.runner.changed()
        names = model_names()
        return [table(), gr.update(choices=names, value=names[0] if names else None), note_html(text)]


    edited = [models, model, message]

    def on_rename(name: str | None, new: str) -> list[Any]:
        if not name:
            raise DistillError("pick a model first")
        dest = rename_model(name, new.strip())
        result = changed(f"renamed {name!r} to {new.strip()!r}")
        result[1] = gr.update(choices=model_names(), value=dest.name.removesuffix(".distill"))
        return result

    rename.click(guarded(on_rename, 3), inputs=[model, new_name], outputs=edited, api_visibility="private")

    def on_delete(name: str | None, sure: bool) -> list[Any]:
        if not name:
            raise DistillError("pick a model first")
        if not sure:
            raise DistillError(f"tick the box to confirm deleting {name!r}: its file, presets and checkpoints go")
        removed = delete_model(name)
        models_now, picker, note = changed(f"deleted {name!r}: " + ", ".join(str(p) for p in removed))
        return [models_now, picker, False, note]

    delete.click(guarded(on_delete, 4), inputs=[model, confirm], outputs=[models, model, confirm, message],
                 api_visibility="private")

    def on_import(file: str | None, label: str) -> list[Any]:
        if not file:
            raise DistillError("choose a .distill file to import")
        dest = import_model(file, name=label.strip() or None)
        result = changed(f"imported {dest.name.removesuffix('.distill')!r}")
        result[1] = gr.update(choices=model_names(), value=dest.name.removesuffix(".distill"))
        return result

    do_import.click(guarded(on_import, 3), inputs=[upload, import_name], outputs=edited, api_visibility="private")

    def on_export(name: str | None) -> list[Any]:
        if not name:
            raise DistillError("pick a model first")
        folder = context.folder / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        dest = export_model(name, folder, overwrite=True)
        return [str(dest), note_html(f"exported {name!r}: download it above")]

    export.click(guarded(on_export, 2), inputs=model, outputs=[exported, message], api_visibility="private")

    def on_analyze(name: str | None) -> list[Any]:
        if not name:
            raise DistillError("pick a model first")
        sliders = distill.analyze(name)
        context.runner.changed()
        return [info(name), note_html("sliders: " + ", ".join(f"{s.name} [{s.low:.2f} … {s.high:.2f}]"
                                                              for s in sliders))]

    analyze.click(guarded(on_analyze, 2), inputs=model, outputs=[facts, message], api_visibility="private")

    def on_drop(name: str | None, chosen: str | None) -> list[Any]:
        if not name or not chosen:
            raise DistillError("pick a model and one of its presets")
        delete_preset(name, chosen)
        return [*show(name)[1:3], note_html(f"deleted preset {chosen!r}")]

    drop_preset.click(guarded(on_drop, 3), inputs=[model, preset], outputs=[presets, preset, message],
                      api_visibility="private")

    def refresh(name: str | None, chosen: str | None) -> list[Any]:
        if not name or name not in model_names():
            return [table(), gr.skip(), gr.skip(), gr.skip()]
        try:
            return [table(), *show(name, chosen)[:3]]
        except DistillError:
            return [table(), gr.skip(), gr.skip(), gr.skip()]

    return TabHooks(changing=[models, facts, presets, preset], refresh=refresh, watch=[model, preset],
                    on_load=(guarded(show, len(shown)), [model], shown))
