"""Generate: a model, its sliders and presets, variation, morph, blend, the vocoder, export settings;
results as players, spectrograms and files, each kept as a take (takes_panel.py). Releasing a control
renders a short preview; Generate renders in full. Renders run in the page's own request (not the job
runner), with progress and a Cancel that stops between chunks."""

from __future__ import annotations

import html
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

import distill

from .. import DEPTHS, FORMATS, NORMALIZE, DistillError, ExportSettings, Interrupted, Progress, model_info
from . import takes_panel
from .parts import Context, TabHooks, guarded, model_names, said, session
from .views import error_html, file_url, note_html, spectrogram
from .words import ui_message

MAX_SLIDERS = 6  # sliders.MAX_SLIDERS; named controls: at most 4 qualities and 2 characters
MAX_CLIPS = 8  # result cards in the page (the CLI's --count goes to 1000)
MAX_BLEND = 4
MAX_SECONDS = 600.0  # the page's longest clip (the CLI renders longer ones)
MAX_SEED = 2**31 - 1
PREVIEW_SECONDS = 3.0
KEEP_PREVIEWS = 20  # preview renders kept on disk (the latest; a starred one is copied into the takes)
RATES = [22050, 32000, 44100, 48000, 88200, 96000]

# The controls a take records and Recall puts back, in the order the handlers receive them; then the
# uploaded sounds (used by a render, never recalled: the upload may be gone).
CONTROLS = ["model", "seconds", "count", "seed", "evolution", "temperature", "prior", "vocoder", "variation", "morph",
            "morph_a_seed", "morph_b_seed", "format", "rate", "depth", "normalize",
            *[f"slider_{i}" for i in range(MAX_SLIDERS)], *[f"blend_{i}" for i in range(MAX_BLEND)],
            *[f"blend_weight_{i}" for i in range(MAX_BLEND)]]
SOUNDS = ["from_audio", "morph_a_audio", "morph_b_audio"]
FIELDS = [*CONTROLS, *SOUNDS]  # what a render's handlers receive, in this order
SOUND_LABELS = {"from_audio": "Sound", "morph_a_audio": "…or from a sound", "morph_b_audio": "…or to a sound"}
LABELS = {"model": "Model", "seconds": "Duration", "count": "Clips", "seed": "Seed", "morph_a_seed": "From seed",
          "morph_b_seed": "To seed", **SOUND_LABELS}  # the fields `problems` can name


def _step(slider: dict[str, Any]) -> float:
    """A step a person reads: tenths of semitones and dB, hundredths on −1 … +1 scales; the old
    sliders, a hundredth of their range."""
    if "unit" in slider:
        return 0.1 if slider["unit"] else 0.01
    return (slider["high"] - slider["low"]) / 100


def model_sliders(name: str) -> list[dict[str, Any]]:
    """The sliders of a library model, from its header (no torch): what the slider controls show."""
    return model_info(name).sliders()


def new_folder(parent: Path) -> Path:
    """A new folder for one render's clips: a page never replaces a clip another result still shows."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=parent))


def problems(chosen: dict[str, Any]) -> dict[str, str]:
    """What is wrong with the settings, by control, in the page's words (shown beside each one)."""
    found = {}
    name = chosen["model"]
    if not name:
        found["model"] = "pick a model: train one in the Train tab, or import one in the Library tab"
    elif name not in model_names():
        found["model"] = f"{name!r} is no longer in the library (deleted or renamed): pick another model"
    seconds = chosen["seconds"]
    if seconds is None or not 0.1 <= float(seconds) <= MAX_SECONDS:
        shown = "nothing" if seconds is None else f"{float(seconds):g} s"
        found["seconds"] = (f"{shown} is not a duration the page renders: type 0.1 to {MAX_SECONDS:g} seconds "
                            "(the command line renders longer clips)")
    if chosen["count"] is None or not 1 <= int(chosen["count"]) <= MAX_CLIPS:
        found["count"] = f"the page renders 1 to {MAX_CLIPS} clips at a time (the command line makes more)"
    for key in ("seed", "morph_a_seed", "morph_b_seed"):
        value = chosen[key]
        if value is None or not 0 <= int(value) <= MAX_SEED:
            found[key] = f"a seed is a whole number from 0 to {MAX_SEED}"
    for key in SOUNDS:
        used = chosen[key] and (key == "from_audio" or chosen["morph"])
        if used:
            try:
                distill.check_sound(chosen[key], Path(chosen[key]).name)
            except DistillError as exc:
                found[key] = ui_message(exc)
    return found


def render(chosen: dict[str, Any], *, seconds: float, count: int, folder: Path, export: ExportSettings | None,
           report: Any = None, cancel: Any = None) -> tuple[distill.Generated, list[str]]:
    """`distill.generate` with the page's settings; a blend slot whose model is gone is left out, with a
    note (it never stops the render)."""
    name = chosen["model"]
    found = model_sliders(name)
    names, notes, blends = model_names(), [], []
    for i in range(MAX_BLEND):
        other, weight = chosen[f"blend_{i}"], float(chosen[f"blend_weight_{i}"] or 0.0)
        if other and weight > 0:
            if other in names:
                blends.append((other, weight))
            else:
                notes.append(f"Blend model {i + 1}: {other!r} is no longer in the library, so it was left out")
    if not chosen["morph"] and (chosen["morph_a_audio"] or chosen["morph_b_audio"]):
        notes.append("the morph sounds were not used: tick Morph to morph between them")
    morph = None
    if chosen["morph"]:
        morph = (chosen["morph_a_audio"] or f"seed:{int(chosen['morph_a_seed'])}",
                 chosen["morph_b_audio"] or f"seed:{int(chosen['morph_b_seed'])}")
    result = distill.generate(
        name, seconds=seconds, count=count, seed=int(chosen["seed"]), evolution=float(chosen["evolution"]),
        sliders={str(i): float(chosen[f"slider_{i}"]) for i in range(len(found))},
        from_audio=chosen["from_audio"], variation=float(chosen["variation"]) if chosen["from_audio"] else 0.0,
        morph=morph, blend=blends, prior=chosen["prior"] or "auto", temperature=float(chosen["temperature"]),
        vocoder=chosen["vocoder"] or "auto", export=export, output_dir=folder, progress=report, cancel=cancel)
    return result, notes


def export_settings(chosen: dict[str, Any]) -> ExportSettings:
    depth = None if chosen["depth"] == "default" else chosen["depth"]
    return ExportSettings.create(chosen["format"], depth, sample_rate=int(chosen["rate"]),
                                 normalize=chosen["normalize"])


def recordable(chosen: dict[str, Any]) -> dict[str, Any]:
    """The controls a take keeps (plain JSON values)."""
    return {key: chosen[key] for key in CONTROLS}


def chosen_of(values: tuple[Any, ...]) -> dict[str, Any]:
    """A render handler's values by field name."""
    return dict(zip(FIELDS, values, strict=True))


def build(context: Context) -> TabHooks:
    takes = distill.Takes(context.folder / "generated")
    c: dict[str, Any] = {}
    with gr.Row():
        c["model"] = model = context.picker("Model", "gen-model", scale=3)
        c["seconds"] = gr.Number(5.0, label="Duration (s)", elem_id="gen-duration")
        c["count"] = gr.Slider(1, MAX_CLIPS, 1, step=1, label="Clips", elem_id="gen-count",
                               info=f"at most {MAX_CLIPS} in the page")
        c["seed"] = seed = gr.Number(0, label="Seed", precision=0, elem_id="gen-seed")
        with gr.Column(scale=0, min_width=150):
            with gr.Row():
                previous = gr.Button("◀ Seed", elem_id="gen-seed-prev", min_width=60, size="sm")
                following = gr.Button("Seed ▶", elem_id="gen-seed-next", min_width=60, size="sm")
            dice = gr.Button("Random seed", elem_id="gen-dice", size="sm")
    with gr.Row():
        c["evolution"] = gr.Slider(0.0, 1.0, 0.5, step=0.01, label="Evolution (0 holds one character, 1 changes "
                                   "quickly)", elem_id="gen-evolution", scale=3)
        c["temperature"] = gr.Slider(0.05, 2.0, 1.0, step=0.05, label="Temperature (below 1 tamer, above 1 wilder)",
                                     elem_id="gen-temperature", scale=2)
        c["prior"] = gr.Radio(["auto", "learned", "gaussian"], value="auto", label="Prior", elem_id="gen-prior",
                              info="learned: moves like the recordings; gaussian: the older smooth wander", scale=2)
    with gr.Row():
        sliders = [gr.Slider(-1, 1, 0, label=f"slider {i}", visible=False, elem_id=f"gen-slider-{i}")
                   for i in range(MAX_SLIDERS)]
    c.update({f"slider_{i}": slider for i, slider in enumerate(sliders)})
    with gr.Row():
        preset = gr.Dropdown([], label="Preset", elem_id="gen-preset", allow_custom_value=False)
        apply_preset = gr.Button("Apply preset", elem_id="gen-preset-apply")
        preset_name = gr.Textbox(label="Save the sliders as preset", placeholder="name", elem_id="gen-preset-name")
        save_preset = gr.Button("Save preset", elem_id="gen-preset-save")
    with gr.Accordion("Variation of a sound", open=False):
        c["from_audio"] = gr.Audio(type="filepath", sources=["upload"], label="Sound", elem_id="gen-from-audio")
        sound_notes = {"from_audio": gr.HTML(elem_id="gen-from-audio-note")}
        c["variation"] = gr.Slider(0.0, 2.0, 0.3, step=0.05, label="Variation (0 rebuilds it)",
                                   elem_id="gen-variation")
    with gr.Accordion("Morph between two sounds or seeds", open=False):
        c["morph"] = gr.Checkbox(False, label="Morph (on by itself when a sound is uploaded here)",
                                 elem_id="gen-morph")
        with gr.Row():
            c["morph_a_seed"] = gr.Number(1, label="From seed", precision=0, elem_id="gen-morph-a-seed")
            with gr.Column():
                c["morph_a_audio"] = gr.Audio(type="filepath", sources=["upload"], label=SOUND_LABELS["morph_a_audio"],
                                              elem_id="gen-morph-a-audio")
                sound_notes["morph_a_audio"] = gr.HTML(elem_id="gen-morph-a-audio-note")
            c["morph_b_seed"] = gr.Number(2, label="To seed", precision=0, elem_id="gen-morph-b-seed")
            with gr.Column():
                c["morph_b_audio"] = gr.Audio(type="filepath", sources=["upload"], label=SOUND_LABELS["morph_b_audio"],
                                              elem_id="gen-morph-b-audio")
                sound_notes["morph_b_audio"] = gr.HTML(elem_id="gen-morph-b-audio-note")
    with gr.Accordion("Blend with other models", open=False):
        for i in range(MAX_BLEND):
            with gr.Row():
                c[f"blend_{i}"] = context.picker(f"Blend model {i + 1}", f"gen-blend-model-{i}", first=False)
                c[f"blend_weight_{i}"] = gr.Slider(0.0, 1.0, 0.0, step=0.05, label="Weight",
                                                   elem_id=f"gen-blend-weight-{i}")
    with gr.Row():
        c["vocoder"] = vocoder = gr.Dropdown([("auto", "auto")], value="auto", label="Vocoder", elem_id="gen-vocoder",
                                             scale=2)
        vocoder_info = gr.HTML(elem_id="gen-vocoder-info")
    with gr.Accordion("Export", open=False), gr.Row():
        c["format"] = gr.Dropdown(list(FORMATS), value="wav", label="Format", elem_id="gen-format")
        c["rate"] = gr.Dropdown(RATES, value=48000, label="Sample rate", elem_id="gen-rate")
        c["depth"] = gr.Dropdown(["default", *DEPTHS], value="default", label="Bit depth", elem_id="gen-depth")
        c["normalize"] = gr.Dropdown(list(NORMALIZE), value="peak", label="Normalise", elem_id="gen-normalize")
    inputs = [c[key] for key in FIELDS]
    with gr.Row():
        with gr.Column(scale=2):
            preview_on = gr.Checkbox(True, label=f"Preview: render {PREVIEW_SECONDS:g} s when a control is released",
                                     elem_id="gen-preview-on")
            preview = gr.HTML(elem_id="gen-preview")
            preview_info = gr.HTML(elem_id="gen-preview-info")
        star_seed = gr.Button("☆ Keep this preview as a starred take", elem_id="gen-preview-star", scale=1)
    last_preview = gr.State(None)  # {"clip", "controls", "vocoder"}: what "keep" stores
    with gr.Row():
        go = gr.Button("Generate", variant="primary", elem_id="gen-go")
        cancel = gr.Button("Cancel", elem_id="gen-cancel")
    message = gr.HTML(elem_id="gen-message")
    cancel_message = gr.HTML(elem_id="gen-cancel-message")
    cards = []
    for i in range(MAX_CLIPS):
        with gr.Group(visible=False) as card:
            audio = gr.Audio(label=f"Clip {i + 1}", interactive=False, elem_id=f"gen-audio-{i}")
            image = gr.Image(label="Spectrogram", interactive=False, elem_id=f"gen-spec-{i}", height=140)
            files = gr.File(label="Clip and sidecar", file_count="multiple", interactive=False,
                            elem_id=f"gen-files-{i}")
        cards.append((card, audio, image, files))
    pending = gr.State(None)  # a recalled take's controls, applied when its model's sliders are shown
    panel = takes_panel.build(context, takes)

    def keep(clip: Path, controls: dict[str, Any], vocoder: str, seconds: float, suffix: str = "",
             starred: bool = False) -> distill.Take:
        """Keep a clip under `takes.folder` as a take, with its picture."""
        spectrogram(clip).save(clip.with_suffix(".png"))
        return takes.add(clip, controls=controls, vocoder=vocoder, seconds=seconds, starred=starred,
                         name=f"{controls['model']} seed {controls['seed']}{suffix}")

    # --- the model, its sliders, presets and vocoders ---------------------------------------------------------

    def vocoder_note(choices: distill.VocoderChoices, chosen: str | None) -> str:
        reason = ui_message(choices.why)
        picks = (f"<b>auto</b> picks <b>{html.escape(choices.auto)}</b>: {html.escape(reason)}"
                 if choices.auto else html.escape(reason))
        notes = "".join(f"<br>⚠ {html.escape(ui_message(w))}" for w in choices.hints)
        if chosen and chosen != "auto":
            label = next((o.label for o in choices.options if o.name == chosen), chosen)
            return (f'<div id="gen-vocoder-chosen"><b>{html.escape(label)}</b> renders this model (chosen here). '
                    f'<span class="distill-note">{picks}</span></div>')
        return f'<div id="gen-auto-reason">{picks}{notes}</div>'

    def vocoder_updates(name: str | None, keep: str | None = None) -> list[Any]:
        if not name:
            return [gr.update(choices=[("auto", "auto")], value="auto"), ""]
        choices = distill.vocoder_choices(name)
        auto = f"auto ({choices.auto})" if choices.auto else "auto (nothing can render this model)"
        options = [(auto, "auto"), *[(o.label, o.name) for o in choices.options]]
        value = keep if keep in {o.name for o in choices.options} else "auto"
        return [gr.update(choices=options, value=value), vocoder_note(choices, value)]

    def on_model(name: str | None, recalled: dict[str, Any] | None) -> list[Any]:
        use = recalled if recalled and recalled.get("model") == name else {}
        if not name or name not in model_names():
            return [*[gr.update(visible=False)] * MAX_SLIDERS, gr.update(choices=[], value=None),
                    *vocoder_updates(None), gr.skip(), None]
        found = model_sliders(name)
        updates = []
        for i in range(MAX_SLIDERS):
            if i >= len(found):
                updates.append(gr.update(visible=False))
                continue
            s = found[i]
            value = use.get(f"slider_{i}", s["default"])
            updates.append(gr.update(visible=True, minimum=s["low"], maximum=s["high"], value=value,
                                     label=f"{s['name']} ({s['unit']})" if s.get("unit") else s["name"],
                                     info=s.get("info"), step=_step(s)))
        presets = sorted(model_info(name).presets())
        # The message stays as it is: a page's load and a pick both run this, and may finish after a render's
        # outcome, which must not vanish.
        return [*updates, gr.update(choices=presets, value=presets[0] if presets else None),
                *vocoder_updates(name, use.get("vocoder")), gr.skip(), None]

    model_outputs = [*sliders, preset, vocoder, vocoder_info, message, pending]
    model.change(guarded(on_model, len(model_outputs), message_at=-2), inputs=[model, pending], outputs=model_outputs,
                 api_visibility="private")
    def on_vocoder(name: str | None, chosen: str | None) -> str:
        return vocoder_note(distill.vocoder_choices(name), chosen) if name else ""

    vocoder.input(guarded(on_vocoder, 1), inputs=[model, vocoder], outputs=vocoder_info, api_visibility="private")

    def on_apply(name: str | None, chosen: str | None) -> list[Any]:
        if not name or not chosen:
            raise DistillError("pick a model and one of its presets first")
        values = model_info(name).presets().get(chosen, {})
        found = model_sliders(name)
        updates = []
        for i in range(MAX_SLIDERS):
            value = values.get(found[i]["name"], values.get(str(i))) if i < len(found) else None
            updates.append(gr.update(value=value) if value is not None else gr.skip())
        return [*updates, note_html(f"applied preset {chosen!r}")]

    applied = apply_preset.click(guarded(on_apply, MAX_SLIDERS + 1), inputs=[model, preset],
                                 outputs=[*sliders, message], api_visibility="private")

    def on_save(name: str | None, preset_label: str, *values: float) -> list[Any]:
        if not name:
            raise DistillError("pick a model first")
        if not preset_label.strip():
            raise DistillError("give the preset a name in the box beside Save preset")
        found = model_sliders(name)
        saved, clamped = distill.save_preset(name, preset_label.strip(),
                                             {str(i): float(v) for i, (_, v) in enumerate(zip(found, values,
                                                                                               strict=False))})
        presets = sorted(model_info(name).presets())
        text = f"saved preset {preset_label.strip()!r}: " + ", ".join(f"{k} {v:.3g}" for k, v in saved.items())
        return [gr.update(choices=presets, value=preset_label.strip()), note_html("; ".join([text, *clamped]))]

    save_preset.click(guarded(on_save, 2), inputs=[model, preset_name, *sliders], outputs=[preset, message],
                      api_visibility="private")

    # --- seeds and uploads ------------------------------------------------------------------------------------

    def step_seed(value: float | None, by: int) -> int:
        return min(MAX_SEED, max(0, int(value or 0) + by))

    previous.click(lambda v: step_seed(v, -1), inputs=seed, outputs=seed, api_visibility="private", queue=False)
    following.click(lambda v: step_seed(v, 1), inputs=seed, outputs=seed, api_visibility="private", queue=False)
    dice.click(lambda: random.randrange(MAX_SEED), outputs=seed, api_visibility="private", queue=False)

    def on_upload(key: str) -> Any:
        def check(path: str | None) -> list[Any]:
            if not path:
                return ["", gr.skip()]
            try:
                seconds = distill.check_sound(path, Path(path).name)
            except DistillError as exc:
                return [error_html(said(exc)), gr.skip()]
            if key == "from_audio":
                return [note_html(f"{Path(path).name}: {seconds:.1f} s; Generate varies it"), gr.skip()]
            return [note_html(f"{Path(path).name}: {seconds:.1f} s; Morph is on"), True]
        return check

    for key in SOUNDS:
        c[key].change(guarded(on_upload(key), 2), inputs=c[key], outputs=[sound_notes[key], c["morph"]],
                      api_visibility="private")

    # --- Generate ---------------------------------------------------------------------------------------------

    def validate(*values: Any) -> list[Any]:
        found = problems(chosen_of(values))
        return [gr.validate(key not in found, found.get(key, "")) for key in FIELDS]

    def on_generate(request: gr.Request, progress: gr.Progress = gr.Progress(), *values: Any  # noqa: B008
                    ) -> list[Any]:
        # Gradio hands the request and a progress tracker only to leading positional parameters.
        chosen = chosen_of(values)  # checked by `validate` before this runs (the event has no API route)
        page = session(request)
        if not context.claim(page):  # a second click while the first render runs: ignored
            return [gr.skip()] * (len(card_outputs) + 2)
        token = context.cancel_token(request)

        def report(event: Progress) -> None:
            if event.total:
                progress((event.step, event.total), desc=event.phase)

        progress(None, desc="loading the model and its vocoder")
        try:
            result, notes = render(chosen, seconds=float(chosen["seconds"]), count=int(chosen["count"]),
                                   folder=new_folder(takes.folder), export=export_settings(chosen), report=report,
                                   cancel=token)
        except Interrupted as stop:
            hidden = [gr.update(visible=False), None, None, None] * MAX_CLIPS
            return [*hidden, gr.skip(), note_html(f"{said(stop)}; the earlier takes are below")]
        finally:
            context.rendering.discard(page)
        updates: list[Any] = []
        for i in range(MAX_CLIPS):
            if i < len(result.clips):
                clip = result.clips[i]
                take = keep(clip.path, {**recordable(chosen), "seed": clip.seed}, result.vocoder, clip.seconds)
                updates += [gr.update(visible=True), gr.update(value=str(clip.path), label=clip.path.name),
                            str(take.picture), [str(clip.path), str(clip.sidecar)]]
            else:
                updates += [gr.update(visible=False), None, None, None]
        warnings = [*notes, *map(ui_message, result.hints), *(w for clip in result.clips for w in clip.warnings)]
        summary = (f"{len(result.clips)} clip{'s' if len(result.clips) != 1 else ''} with "
                   f"<b>{html.escape(result.vocoder)}</b>: {html.escape(ui_message(result.reason))}"
                   + "".join(f"<br>⚠ {html.escape(n)}" for n in warnings))
        return [*updates, panel.listing(), f'<div id="gen-done">{summary}</div>']

    card_outputs = [part for card in cards for part in card]
    go.click(guarded(on_generate, len(card_outputs) + 2), inputs=inputs,
             outputs=[*card_outputs, panel.takes, message], api_visibility="private", concurrency_limit=None,
             validator=validate, trigger_mode="once")

    def on_cancel(request: gr.Request) -> str:
        token = context.cancels.get(session(request))
        if token is None or session(request) not in context.rendering:
            return note_html("nothing is rendering")
        token.set()
        return note_html("cancelling: the render stops after the current chunk")

    cancel.click(on_cancel, outputs=cancel_message, api_visibility="private", queue=False)

    # --- Preview ----------------------------------------------------------------------------------------------

    def on_preview(enabled: bool, *values: Any) -> list[Any]:
        if not enabled:
            return [gr.skip()] * 3
        chosen = chosen_of(values)
        found = problems({**chosen, "seconds": PREVIEW_SECONDS, "count": 1})
        if found:
            key = next(iter(found))
            return [gr.skip(), note_html(f"no preview: {LABELS[key]}: {found[key]}"), gr.skip()]
        started = time.perf_counter()
        folder = new_folder(context.folder / "previews")
        result, _ = render(chosen, seconds=PREVIEW_SECONDS, count=1, folder=folder, export=None)
        took = time.perf_counter() - started
        _prune(context.folder / "previews")
        clip = result.clips[0]
        player = (f'<audio id="preview-audio" controls autoplay src="{html.escape(file_url(clip.path))}"'
                  f' data-seconds="{took:.3f}"></audio>')
        info = (f'<span id="gen-preview-latency">{PREVIEW_SECONDS:g} s preview of seed {clip.seed} with '
                f"{html.escape(result.vocoder)} in {took:.2f} s</span>")
        kept = {"clip": str(clip.path), "controls": {**recordable(chosen), "seconds": PREVIEW_SECONDS, "count": 1},
                "vocoder": result.vocoder}
        return [player, info, kept]

    preview_outputs = [preview, preview_info, last_preview]
    wired: dict[str, Any] = dict(fn=guarded(on_preview, 3, message_at=1), inputs=[preview_on, *inputs],
                                 outputs=preview_outputs, api_visibility="private", trigger_mode="always_last",
                                 concurrency_limit=1, concurrency_id="preview", show_progress="hidden")
    for slider in [*sliders, c["evolution"], c["temperature"], c["variation"]]:
        slider.release(**wired)
    for choice in (seed, c["prior"], vocoder):
        (choice.change if choice is seed else choice.input)(**wired)
    applied.then(**wired)

    def on_keep(kept: dict[str, Any] | None) -> list[Any]:
        if not kept:
            raise DistillError("nothing to keep yet: release a slider or step the seed to hear a preview")
        source = Path(kept["clip"])
        folder = new_folder(takes.folder)
        for path in (source, source.with_name(source.name + ".json")):
            shutil.copy2(path, folder / path.name)
        take = keep(folder / source.name, kept["controls"], kept["vocoder"], PREVIEW_SECONDS, " (preview)",
                    starred=True)
        return [panel.listing(), note_html(f"kept {take.name!r} as a starred take")]

    star_seed.click(guarded(on_keep, 2), inputs=last_preview, outputs=[panel.takes, panel.message],
                    api_visibility="private")

    # --- Recall -----------------------------------------------------------------------------------------------

    def recall(take: distill.Take, current_model: str | None) -> list[Any]:
        """The take's controls back in the page; its sliders wait for its model's ranges when the model
        changes (on_model applies them)."""
        kept = dict(take.controls)
        if kept.get("model") == current_model and current_model in model_names():
            offered = {o.name for o in distill.vocoder_choices(current_model).options}
            if kept.get("vocoder") not in offered:  # gone since (a bundled vocoder retrained away, a plugin removed)
                kept["vocoder"] = "auto"
        updates = [gr.update(value=kept[key]) if key in kept and key != "model" else gr.skip() for key in CONTROLS]
        updates[0] = gr.update(value=kept.get("model"))
        waiting = kept if kept.get("model") != current_model else None
        return [*updates, waiting]

    panel.wire_recall(recall, model, [c[key] for key in CONTROLS] + [pending])

    def refresh(name: str | None, chosen_vocoder: str | None, chosen_preset: str | None) -> list[Any]:
        if not name or name not in model_names():
            return [gr.skip()] * 4
        try:
            presets = sorted(model_info(name).presets())
            return [*vocoder_updates(name, chosen_vocoder),
                    gr.update(choices=presets, value=chosen_preset if chosen_preset in presets else
                              (presets[0] if presets else None)), panel.listing()]
        except DistillError as exc:
            return [gr.skip(), error_html(said(exc)), gr.skip(), gr.skip()]

    return TabHooks(changing=[vocoder, vocoder_info, preset, panel.takes], refresh=refresh,
                    watch=[model, vocoder, preset],
                    on_load=(guarded(on_model, len(model_outputs), message_at=-2), [model, pending], model_outputs))


def _prune(folder: Path) -> None:
    """Keep the latest KEEP_PREVIEWS preview renders."""
    renders = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in renders[:-KEEP_PREVIEWS]:
        shutil.rmtree(old, ignore_errors=True)
