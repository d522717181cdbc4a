"""The offline demo: `python -m distill.demo [OUTPUT_DIR]` (what `nox -s demo` runs).

It synthesises an example corpus, trains a model on it, fine-tunes a vocoder for it when a trainable
one is installed, and generates clips through the auto-selected vocoder, all through the Python API
(`distill.train`, `distill.train_vocoder`, `distill.generate`), printing what it does as it goes.
It never fakes a result: every file it names was rendered by the pipeline. `--quick` runs the same
path on a tiny corpus with a few steps (what the test suite runs).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

# CPU minutes of vocoder fine-tuning: the whole demo stays within 10 minutes here; train_vocoder
# measures whether it beat the base, and auto picks the better of the two.
VOCODER_MINUTES = 2.0
CLIPS: dict[str, tuple[float, dict[str, Any], str]] = {  # name: (seconds, generate() arguments, what it is)
    "prior": (8.0, {"seed": 1, "evolution": 0.5},
              "new material from the learned prior: sounds that unfold as the recordings do"),
    "prior-gaussian": (8.0, {"seed": 1, "evolution": 0.5, "prior": "gaussian"},
                       "the same seed through the older Gaussian prior, a smooth wander through the recordings' "
                       "colours, to compare"),
    "slider": (8.0, {"seed": 1, "sliders": "SLIDER"}, "the prior's new material with the slider SLIDER"),
    "morph": (6.0, {"seed": 2, "morph": ("FIRST", "SECOND")}, "a morph from FIRST to SECOND"),
    "variation": (4.0, {"seed": 3, "from_audio": "FIRST", "variation": 0.4},
                  "a variation of FIRST: each moment moved 40 % of the way towards the prior's continuation"),
}


@click.command()
@click.argument("output", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"))
@click.option("--quick", is_flag=True, help="A tiny corpus and a few steps: the whole path in well under a minute.")
def main(output: Path, quick: bool) -> None:
    import distill as api

    from .cli.progress_view import ProgressView
    from .examples import make_example_corpus

    started = time.monotonic()
    output = output.resolve()
    os.environ["DISTILL_HOME"] = str(output / "library")  # keep the demo out of your own library
    view = ProgressView(click.echo)
    corpus = output / "example-corpus"
    files, seconds = (4, 1.0) if quick else (20, 3.0)
    make_example_corpus(corpus, files=files, seconds=seconds)
    click.echo(f"example corpus: {files} synthesised recordings (tones, plucks, noise textures) in {corpus}")

    click.echo("\n# distill.train")
    api.train(corpus, "demo", overwrite=True, restart=True, progress=view, steps=20 if quick else None)
    vocoders = api.vocoder_list()
    if not vocoders:
        raise click.ClickException('no vocoder is installed: pip install "distill[hifigan]"')
    click.echo("installed vocoders: " + ", ".join(f"{v.name} ({v.kind})" for v in vocoders))
    if any(v.trainable for v in vocoders):  # a short fine-tune, bundled into the model
        click.echo("\n# distill.train_vocoder")
        short: dict[str, Any] = {"steps": 2, "batch_size": 2, "segment": 4096}
        api.train_vocoder("demo", restart=True, progress=view, **(short if quick else {"minutes": VOCODER_MINUTES}))

    clips = output / "clips"
    first, second = (str(p) for p in sorted(corpus.glob("*.wav"))[:2])
    setting, said = _slider(api.model_info("demo").sliders())
    words = {"FIRST": Path(first).name, "SECOND": Path(second).name, "SLIDER": said}
    warnings: set[str] = set()
    click.echo("\n# distill.generate")
    for name, (length, arguments, what) in CLIPS.items():
        resolved: dict[str, Any] = {key: setting if value == "SLIDER" else _endpoints(value, first, second)
                                    for key, value in arguments.items()}
        if "loudness" in resolved.get("sliders", {}):  # peak normalisation would undo it
            resolved["export"] = api.ExportSettings.create(normalize="none")
        result = api.generate("demo", seconds=1.0 if quick else length, output=clips / f"{name}.wav",
                              overwrite=True, progress=view, **resolved)
        warnings.update(result.warnings)
        for placeholder, word in words.items():
            what = what.replace(placeholder, word)
        for clip in result.clips:
            warnings.update(clip.warnings)
            click.echo(f"  -> {clip.path}: {what}; {clip.seconds:g} s, vocoder {result.vocoder} ({result.reason})")
    for warning in sorted(warnings):
        click.echo(f"warning: {warning}")
    click.echo(f"\ndemo finished in {(time.monotonic() - started) / 60:.1f} minutes; clips in {clips}")


def _slider(sliders: list[dict[str, Any]]) -> tuple[dict[str, float], str]:
    """The demo's slider setting, and its words: a named slider (loudness only if it is the only one)
    halfway up, with what it was measured to do (a model too briefly trained for any: its first slider of any kind)."""
    controls = [s for s in sliders if "info" in s]  # named sliders and characters; old sliders have no info
    qualities = [s for s in controls if not s["name"].startswith("character")]
    # loudness last: the other qualities are heard whatever the level
    named = sorted(qualities, key=lambda s: s["name"] == "loudness") or controls
    if named:  # what it does halfway up its range, as measured
        return {named[0]["name"]: named[0]["high"] / 2}, named[0]["info"]
    first = sliders[0]
    return {"0": 2.0}, f"{first['name']!r} moved to +2.0 (its range: {first['low']:.1f} to {first['high']:.1f})"


def _endpoints(value: Any, first: str, second: str) -> Any:
    """The demo's FIRST and SECOND placeholders as the corpus' first two files."""
    names = {"FIRST": first, "SECOND": second}
    if isinstance(value, tuple):
        return tuple(names.get(v, v) for v in value)
    return names.get(value, value) if isinstance(value, str) else value


if __name__ == "__main__":
    sys.exit(main())
