"""`distill generate MODEL`: finished audio files from a trained model, through the auto-selected vocoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import DEPTHS, DEVICES, FORMATS, NORMALIZE
from .numbers import FINITE, finite_number
from .progress_view import ProgressView, interruptible

if TYPE_CHECKING:
    from .. import Generated



def _parse_pairs(values: tuple[str, ...], option: str, separator: str) -> list[tuple[str, float]]:
    pairs = []
    for value in values:
        key, found, number = value.rpartition(separator)
        try:
            if not found or not key:
                raise ValueError
            pairs.append((key, finite_number(number)))
        except ValueError:
            raise click.BadParameter(f"expected KEY{separator}NUMBER with a finite number, got {value!r}",
                                     param_hint=option) from None
    return pairs


@click.command("generate")
@click.argument("model_ref", metavar="MODEL", required=False)
@click.option("-d", "--duration", type=FINITE, default=5.0, show_default=True, help="Seconds (0.1 to 600).")
@click.option("-n", "--count", type=click.IntRange(1, 1000), default=1, show_default=True, help="Number of clips.")
@click.option("--seed", type=click.IntRange(min=0), help="Clip i uses seed + i (default: a random seed).")
@click.option("--evolution", type=FINITE, default=0.5, show_default=True,
              help="0 = holds one character, 1 = changes quickly (prior sampling).")
@click.option("--prior", type=click.Choice(["auto", "learned", "gaussian"]), default="auto", show_default=True,
              help="learned: how the recordings unfold; gaussian: the older smooth wander; auto: learned "
                   "where the model has it.")
@click.option("--temperature", type=FINITE, default=1.0, show_default=True,
              help="Prior sampling: below 1 tamer, above 1 wilder (0.05 to 2).")
@click.option("--slider", "sliders", multiple=True, metavar="NAME=VALUE", help="Set a slider (name or index).")
@click.option("--preset", help="Start from a saved slider preset (see `distill preset`).")
@click.option("--from-audio", type=click.Path(path_type=Path), help="Make a variation of this sound.")
@click.option("--variation", type=FINITE, default=0.0, show_default=True, help="With --from-audio: 0 = rebuild it.")
@click.option("--morph", nargs=2, metavar="A B", help="Travel from A to B (audio files or seed:N).")
@click.option("--blend", "blends", multiple=True, metavar="MODEL:WEIGHT", help="Mix in another model (up to 4).")
@click.option("--vocoder", default="auto", show_default=True, help="A backend name, or auto.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--sample-rate", type=int, default=48000, show_default=True, help="Export sample rate.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="wav", show_default=True)
@click.option("--bit-depth", type=click.Choice(DEPTHS), help="WAV: 16, 24 (default), 32f; FLAC: 16, 24.")
@click.option("--normalize", type=click.Choice(NORMALIZE), default="peak", show_default=True,
              help="peak: to -1 dBFS; lufs: to -14 LUFS; none: as rendered. Never clips.")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for the files.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File name (one clip).")
@click.option("--overwrite", is_flag=True, help="Replace existing files.")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per file on stdout.")
@click.option("--replay", "replay_from", type=click.Path(dir_okay=False, path_type=Path),
              help="Re-render from a sidecar .json.")
def generate_command(
    model_ref: str | None, duration: float, count: int, seed: int | None, evolution: float, prior: str,
    temperature: float, sliders: tuple[str, ...], preset: str | None, from_audio: Path | None, variation: float,
    morph: tuple[str, str] | None, blends: tuple[str, ...], vocoder: str, device: str, sample_rate: int,
    fmt: str, bit_depth: str | None, normalize: str, output_dir: Path | None, output: Path | None,
    overwrite: bool, as_json: bool, replay_from: Path | None,
) -> None:
    """Generate audio from MODEL (a name, id or .distill path)."""
    from .. import ExportSettings, generate, replay

    if replay_from:
        view = ProgressView(click.echo)
        with interruptible(view) as cancel:
            result = replay(replay_from, output=output, output_dir=output_dir, overwrite=overwrite, device=device,
                            progress=view, cancel=cancel)
        return _print(result, as_json)
    if model_ref is None:
        raise click.UsageError("give a MODEL (or --replay FILE.json)")
    if output and count > 1:
        raise click.UsageError("--output names one file; use -o/--output-dir with --count")
    export = ExportSettings.create(fmt, bit_depth, sample_rate=sample_rate, normalize=normalize)
    view = ProgressView(click.echo)
    with interruptible(view) as cancel:
        result = generate(
            model_ref, seconds=duration, count=count, seed=seed, evolution=evolution,
            sliders=dict(_parse_pairs(sliders, "--slider", "=")), preset=preset, from_audio=from_audio,
            variation=variation, morph=morph, blend=_parse_pairs(blends, "--blend", ":"), prior=prior,
            temperature=temperature, vocoder=vocoder,
            device=device, export=export, output_dir=output_dir, output=output, overwrite=overwrite,
            progress=view, cancel=cancel,
        )
    _print(result, as_json)


def _print(result: Generated, as_json: bool) -> None:
    if not as_json:
        click.echo(f"vocoder: {result.vocoder} — {result.reason}", err=True)
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    for clip in result.clips:
        if as_json:
            click.echo(json.dumps({"path": str(clip.path), "seconds": clip.seconds, "seed": clip.seed,
                                   "vocoder": result.vocoder, "reason": result.reason,
                                   "warnings": result.warnings + clip.warnings}))
        else:
            for warning in clip.warnings:
                click.echo(f"warning: {warning}", err=True)
            click.echo(f"{clip.path}  ({clip.seconds:g} s, seed {clip.seed})")
