"""Generate: a model, its sliders and presets, variation, morph, blend, the vocoder, export settings;
results as players, spectrograms and files. Renders run in the page's own request (not the job
runner), with progress and a Cancel that stops between chunks."""

from __future__ import annotations

import html
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

import distill

from .. import DEPTHS, FORMATS, NORMALIZE, DistillError, ExportSettings, Progress, model_info
from .parts import Context, TabHooks, guarded
from .views import error_html, note_html, spectrogram

MAX_SLIDERS = 6  # sliders.MAX_SLIDERS; named controls: at most 4 qualities and 2 characters
MAX_CLIPS = 8  # result cards in the page (the CLI's --count goes to 1000)
MAX_BLEND = 4
RATES = [22050, 32000, 44100, 48000, 88200, 96000]


def _step(slider: dict[str, Any]) -> float:
    """A step a person reads: tenths of semitones and dB, hundredths on −1 … +1 scales; the old
    sliders, a hundredth of their range."""
    if "unit" in slider:
        return 0.1 if slider["unit"] else 0.01
    return (slider["high"] - slider["low"]) / 100


def model_sliders(name: str) -> list[dict[str, Any]]:
    """The sliders of a library model, from its header (no torch): what the slider controls show."""
    return model_info(name).sliders()


def render_folder(context: Context) -> Path:
    """A new folder for one render's clips: a page never replaces a clip another result still shows."""
    parent = context.folder / "generated"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=parent))


def build(context: Context) -> TabHooks:
    with gr.Row():
        model = context.picker("Model", "gen-model", scale=3)
        duration = gr.Number(5.0, label="Duration (s)", minimum=0.1, maximum=600, elem_id="gen-duration")
        count = gr.Slider(1, MAX_CLIPS, 1, step=1, label="Clips", elem_id="gen-count")
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="gen-seed")
        dice = gr.Button("Random seed", elem_id="gen-dice", scale=0, min_width=120)
    with gr.Row():
        evolution = gr.Slider(0.0, 1.0, 0.5, step=0.01, label="Evolution (0 holds one character, 1 changes quickly)",
                              elem_id="gen-evolution", scale=3)
        temperature = gr.Slider(0.05, 2.0, 1.0, step=0.05, label="Temperature (below 1 tamer, above 1 wilder)",
                                elem_id="gen-temperature", scale=2)
        prior = gr.Radio(["auto", "learned", "gaussian"], value="auto", label="Prior", elem_id="gen-prior",
                         info="learned: moves like the recordings; gaussian: the older smooth wander", scale=2)
    with gr.Row():
        sliders = [gr.Slider(-1, 1, 0, label=f"slider {i}", visible=False, elem_id=f"gen-slider-{i}")
                   for i in range(MAX_SLIDERS)]
    with gr.Row():
        preset = gr.Dropdown([], label="Preset", elem_id="gen-preset", allow_custom_value=False)
        apply_preset = gr.Button("Apply preset", elem_id="gen-preset-apply")
        preset_name = gr.Textbox(label="Save the sliders as preset", placeholder="name", elem_id="gen-preset-name")
        save_preset = gr.Button("Save preset", elem_id="gen-preset-save")
    with gr.Accordion("Variation of a sound", open=False):
        from_audio = gr.Audio(type="filepath", sources=["upload"], label="Sound", elem_id="gen-from-audio")
        variation = gr.Slider(0.0, 2.0, 0.3, step=0.05, label="Variation (0 rebuilds it)", elem_id="gen-variation")
    with gr.Accordion("Morph between two sounds or seeds", open=False):
        morph_on = gr.Checkbox(False, label="Morph", elem_id="gen-morph")
        with gr.Row():
            morph_a_seed = gr.Number(1, label="From seed", precision=0, minimum=0, elem_id="gen-morph-a-seed")
            morph_a_audio = gr.Audio(type="filepath", sources=["upload"], label="…or from a sound",
                                     elem_id="gen-morph-a-audio")
            morph_b_seed = gr.Number(2, label="To seed", precision=0, minimum=0, elem_id="gen-morph-b-seed")
            morph_b_audio = gr.Audio(type="filepath", sources=["upload"], label="…or to a sound",
                                     elem_id="gen-morph-b-audio")
    with gr.Accordion("Blend with other models", open=False):
        blend = []
        for i in range(MAX_BLEND):
            with gr.Row():
                blend.append((context.picker(f"Blend model {i + 1}", f"gen-blend-model-{i}", first=False),
                              gr.Slider(0.0, 1.0, 0.0, step=0.05, label="Weight", elem_id=f"gen-blend-weight-{i}")))
    with gr.Row():
        vocoder = gr.Dropdown([("auto", "auto")], value="auto", label="Vocoder", elem_id="gen-vocoder", scale=2)
        vocoder_info = gr.HTML(elem_id="gen-vocoder-info")
    with gr.Accordion("Export", open=False), gr.Row():
        fmt = gr.Dropdown(list(FORMATS), value="wav", label="Format", elem_id="gen-format")
        rate = gr.Dropdown(RATES, value=48000, label="Sample rate", elem_id="gen-rate")
        depth = gr.Dropdown(["default", *DEPTHS], value="default", label="Bit depth", elem_id="gen-depth")
        normalize = gr.Dropdown(list(NORMALIZE), value="peak", label="Normalise", elem_id="gen-normalize")
    with gr.Row():
        go = gr.Button("Generate", variant="primary", elem_id="gen-go")
        cancel = gr.Button("Cancel", elem_id="gen-cancel")
    message = gr.HTML(elem_id="gen-message")
    cards = []
    for i in range(MAX_CLIPS):
        with gr.Group(visible=False) as card:
            audio = gr.Audio(label=f"Clip {i + 1}", interactive=False, elem_id=f"gen-audio-{i}")
            image = gr.Image(label="Spectrogram", interactive=False, elem_id=f"gen-spec-{i}", height=140)
            files = gr.File(label="Clip and sidecar", file_count="multiple", interactive=False,
                            elem_id=f"gen-files-{i}")
        cards.append((card, audio, image, files))

    def vocoder_updates(name: str | None) -> list[Any]:
        if not name:
            return [gr.update(choices=[("auto", "auto")], value="auto"), ""]
        choices = distill.vocoder_choices(name)
        auto = f"auto ({choices.auto})" if choices.auto else "auto (nothing can render this model)"
        options = [(auto, "auto"), *[(o.label, o.name) for o in choices.options]]
        picks = (f"<b>auto</b> picks <b>{html.escape(choices.auto)}</b>: {html.escape(choices.reason)}"
                 if choices.auto else html.escape(choices.reason))
        notes = "".join(f"<br>⚠ {html.escape(w)}" for w in choices.warnings)
        return [gr.update(choices=options, value="auto"), f'<div id="gen-auto-reason">{picks}{notes}</div>']

    def on_model(name: str | None) -> list[Any]:
        if not name:
            return [*[gr.update(visible=False)] * MAX_SLIDERS, gr.update(choices=[], value=None),
                    *vocoder_updates(None), ""]
        found = model_sliders(name)
        updates = [gr.update(visible=True, minimum=s["low"], maximum=s["high"], value=s["default"],
                             label=f"{s['name']} ({s['unit']})" if s.get("unit") else s["name"],
                             info=s.get("info"), step=_step(s)) if i < len(found)
                   else gr.update(visible=False) for i, s in enumerate(found + [{}] * (MAX_SLIDERS - len(found)))]
        presets = sorted(model_info(name).presets())
        return [*updates[:MAX_SLIDERS], gr.update(choices=presets, value=presets[0] if presets else None),
                *vocoder_updates(name), ""]

    model_outputs = [*sliders, preset, vocoder, vocoder_info, message]
    model.change(guarded(on_model, len(model_outputs)), inputs=model, outputs=model_outputs,
                 api_visibility="private")
    dice.click(lambda: random.randrange(2**31), outputs=seed, api_visibility="private")

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

    apply_preset.click(guarded(on_apply, MAX_SLIDERS + 1), inputs=[model, preset], outputs=[*sliders, message],
                       api_visibility="private")

    def on_save(name: str | None, preset_label: str, *values: float) -> list[Any]:
        if not name:
            raise DistillError("pick a model first")
        if not preset_label.strip():
            raise DistillError("give the preset a name")
        found = model_sliders(name)
        saved, clamped = distill.save_preset(name, preset_label.strip(),
                                                {str(i): float(v) for i, (_, v) in enumerate(zip(found, values,
                                                                                                  strict=False))})
        presets = sorted(model_info(name).presets())
        text = f"saved preset {preset_label.strip()!r}: " + ", ".join(f"{k} {v:.3g}" for k, v in saved.items())
        return [gr.update(choices=presets, value=preset_label.strip()), note_html("; ".join([text, *clamped]))]

    save_preset.click(guarded(on_save, 2), inputs=[model, preset_name, *sliders], outputs=[preset, message],
                      api_visibility="private")

    def on_generate(request: gr.Request, progress: gr.Progress = gr.Progress(), *values: Any  # noqa: B008
                    ) -> list[Any]:
        # Gradio hands the request and a progress tracker only to leading positional parameters.
        (name, seconds, clips, first_seed, evolve, heat, which_prior, chosen_vocoder, audio_file, vary, morphing,
         a_seed, a_audio, b_seed, b_audio, fmt_, rate_, depth_, normalize_), rest = values[:19], values[19:]
        if not name:
            raise DistillError("no model picked: train one in the Train tab, or import one in the Library tab")
        slider_values = rest[:MAX_SLIDERS]
        blends = [(m, float(w)) for m, w in zip(rest[MAX_SLIDERS::2], rest[MAX_SLIDERS + 1 :: 2], strict=True)
                  if m and w and w > 0]
        found = model_sliders(name)
        token = context.cancel_token(request)

        def report(event: Progress) -> None:
            if event.total:
                progress((event.step, event.total), desc=event.phase)

        export = ExportSettings.create(fmt_, None if depth_ == "default" else depth_, sample_rate=int(rate_),
                                       normalize=normalize_)
        result = distill.generate(
            name, seconds=float(seconds), count=int(clips), seed=int(first_seed), evolution=float(evolve),
            sliders={str(i): float(v) for i, (_, v) in enumerate(zip(found, slider_values, strict=False))},
            from_audio=audio_file, variation=float(vary) if audio_file else 0.0,
            morph=(a_audio or f"seed:{int(a_seed)}", b_audio or f"seed:{int(b_seed)}") if morphing else None,
            blend=blends, prior=which_prior or "auto", temperature=float(heat), vocoder=chosen_vocoder or "auto",
            export=export, output_dir=render_folder(context),
            progress=report, cancel=token)
        updates: list[Any] = []
        for i in range(MAX_CLIPS):
            if i < len(result.clips):
                clip = result.clips[i]
                updates += [gr.update(visible=True), gr.update(value=str(clip.path), label=clip.path.name),
                            spectrogram(clip.path), [str(clip.path), str(clip.sidecar)]]
            else:
                updates += [gr.update(visible=False), None, None, None]
        notes = [*result.warnings, *(w for clip in result.clips for w in clip.warnings)]
        summary = (f"{len(result.clips)} clip{'s' if len(result.clips) != 1 else ''} with "
                   f"<b>{html.escape(result.vocoder)}</b>: {html.escape(result.reason)}"
                   + "".join(f"<br>⚠ {html.escape(n)}" for n in notes))
        return [*updates, f'<div id="gen-done">{summary}</div>']

    outputs = [part for card in cards for part in card]
    inputs = [model, duration, count, seed, evolution, temperature, prior, vocoder, from_audio, variation, morph_on,
              morph_a_seed, morph_a_audio, morph_b_seed, morph_b_audio, fmt, rate, depth, normalize, *sliders,
              *[part for pair in blend for part in pair]]
    go.click(guarded(on_generate, len(outputs) + 1), inputs=inputs, outputs=[*outputs, message],
             api_visibility="private", concurrency_limit=None)

    def on_cancel(request: gr.Request) -> str:
        token = context.cancels.get(request.session_hash or "-")
        if token is None:
            return note_html("nothing is rendering")
        token.set()
        return note_html("cancelling: the render stops after the current chunk")

    cancel_message = gr.HTML(elem_id="gen-cancel-message")
    cancel.click(on_cancel, outputs=cancel_message, api_visibility="private", queue=False)

    def refresh(name: str | None) -> list[Any]:
        try:
            return vocoder_updates(name)
        except DistillError as exc:
            return [gr.skip(), error_html(exc.cli_message)]

    return TabHooks(changing=[vocoder, vocoder_info], refresh=refresh, watch=[model],
                    on_load=(guarded(on_model, len(model_outputs)), [model], model_outputs))
