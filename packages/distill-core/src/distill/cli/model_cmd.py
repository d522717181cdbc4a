"""`distill model`: the model library (list, info, delete, import, export).

These commands start without torch. `list` reads file headers only; `info` and `export` also check
the tensor data against its stored checksum; `import` loads the whole file to validate it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import human_size
from .output import echo_json, echo_table

if TYPE_CHECKING:
    from .. import ModelInfo


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _created(stamp: str) -> str:
    """ISO 8601 UTC -> 'YYYY-MM-DD HH:MM' (the table has no room for seconds and offsets)."""
    return stamp[:16].replace("T", " ") if stamp else "-"


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _compact(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.group("model")
def model_group() -> None:
    """Manage the model library: list, inspect, delete, import and export trained models.

    NAME is a model's name, a prefix of its id (4+ hex digits) or the path of a .distill file.
    """


@model_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """List the models in the library."""
    from .. import list_models

    entries = list_models()
    if as_json:
        echo_json([entry.as_dict() for entry in entries])
        return
    if not entries:
        click.echo("(no models yet: distill train DIR --name NAME)")
        return
    echo_table(
        ["NAME", "ID", "CREATED", "FILES", "AUDIO", "STEPS", "SLIDERS", "VOCODERS", "SIZE"],
        [
            [e.name, "?", "-", "-", "-", "-", "-", "unreadable", human_size(e.size)]
            if e.error
            else [
                e.name,
                e.id or "-",
                _created(e.created),
                _dash(e.files),
                _duration(e.seconds),
                _dash(e.steps),
                len(e.sliders),
                ",".join(e.vocoders) or "-",
                human_size(e.size),
            ]
            for e in entries
        ],
    )
    for entry in entries:
        if entry.error:
            click.echo(f"\n{entry.name}: {entry.error}")


@model_group.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: the whole file header.")
def info_command(name: str, as_json: bool) -> None:
    """Show everything a model file records: mel recipe, sliders, vocoders, training."""
    from .. import model_info

    model = model_info(name, verify=True)
    path, header = model.path, model.header
    size = path.stat().st_size
    if as_json:
        echo_json({"path": str(path), "size": size, **header})
        return
    _echo_info(model, size)


def _prior_line(prior: Any) -> str:
    if not isinstance(prior, dict):
        return ("gaussian (trained before distill learned a prior; retrain for new material that moves like "
                "the recordings)")
    record: dict[str, Any] = prior["training"] if isinstance(prior.get("training"), dict) else {}
    return f"learned ({_compact(prior.get('kind'), 20)}, {_compact(record.get('steps'), 10)} steps, " \
           f"{_compact(record.get('seconds'), 10)} s)"


def _echo_info(model: ModelInfo, size: int) -> None:
    from .. import MelSpec

    path, header = model.path, model.header

    try:
        recipe = MelSpec.from_dict(header["mel_spec"]).describe()
    except (TypeError, ValueError):
        recipe = "(not a valid recipe)"
    fields = {
        "id": header["id"] or "-",
        "file": f"{path} ({human_size(size)})",
        "created": header["created"] or "-",
        "distill": header["distill_version"] or "-",
        "mel recipe": recipe,
        "": " ".join(f"{k}={v}" for k, v in header["mel_spec"].items()),
        "vae": " ".join(f"{k}={_compact(v, 40)}" for k, v in header["vae_config"].items()) or "-",
        "prior": _prior_line(header.get("prior")),
    }
    click.echo(header["name"])
    for key, value in fields.items():
        click.echo(f"  {key:<11} {value}")
    click.echo("\ntraining")
    for key, value in header["training"].items():
        click.echo(f"  {key}: {_compact(value)}")
    _echo_sliders(model)
    states = header["vocoder_state"]
    click.echo("\nbundled vocoders" + ("" if states else ": none (any installed universal vocoder renders it)"))
    for backend, state in states.items():
        click.echo(f"  {backend} (version {state.get('version', '?')})")
        for key, value in state.get("training", {}).items():
            click.echo(f"    {key}: {_compact(value)}")


def _echo_sliders(model: ModelInfo) -> None:
    """Named sliders with what each was measured to do, else the old sliders; then why a quality is
    not offered."""
    analysis = model.header["sliders"]
    controls = model.sliders() if analysis.get("controls") else []
    if controls:
        click.echo("\nsliders (measured on rendered probes; see docs/usage.md)")
        echo_table(["  #", "NAME", "RANGE", "WHAT IT DOES"],
                   [[f"  {i}", c["name"], f"{c['low']:g} .. {c['high']:g} {c['unit']}".rstrip(), c["info"]]
                    for i, c in enumerate(controls)])
    else:
        sliders = analysis["sliders"]
        click.echo("\nsliders" + ("" if sliders else ": none"))
        if sliders:
            echo_table(["  #", "NAME", "RANGE", "DEFAULT", "VARIANCE", "STRONGEST CORRELATION"],
                       [[f"  {i}", *_slider_row(slider)] for i, slider in enumerate(sliders)])
    for label, why in model.not_offered():
        click.echo(f"  {label}: {why}")


def _slider_row(slider: dict[str, Any]) -> list[str]:
    try:
        correlations = slider.get("correlations") or {}
        strongest = max(correlations.items(), key=lambda kv: abs(kv[1]), default=None)
        return [
            str(slider["name"]),
            f"{slider['low']:.3g} .. {slider['high']:.3g}",
            f"{slider['default']:.3g}",
            f"{100 * slider['explained_variance']:.1f}%",
            f"{strongest[0]} r={strongest[1]:+.2f}" if strongest else "-",
        ]
    except (KeyError, TypeError, ValueError):
        return [str(slider.get("name", "?")), "(malformed)", "-", "-", "-"]


@model_group.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
def delete_command(name: str, yes: bool) -> None:
    """Delete a library model with its presets and training checkpoints."""
    from .. import delete_model, model_files

    targets = model_files(name)
    if not yes:
        label = targets[0].name.removesuffix(".distill")  # the library name, however NAME was given
        listing = "".join(f"\n  {target}" for target in targets)
        click.confirm(f"Delete model {label!r}:{listing}\nProceed?", abort=True)
    for target in delete_model(name):
        click.echo(f"removed {target}")


@model_group.command("rename")
@click.argument("name")
@click.argument("new_name")
def rename_command(name: str, new_name: str) -> None:
    """Rename a library model (its file, the name inside it, its presets and checkpoints)."""
    from .. import rename_model

    dest = rename_model(name, new_name)
    click.echo(f"renamed {name!r} to {new_name!r} ({dest})")


@model_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Library name to use (default: the name stored in the file).")
@click.option("--overwrite", is_flag=True, help="Replace a library model of the same name.")
def import_command(path: Path, name: str | None, overwrite: bool) -> None:
    """Check a .distill file fully and copy it into the library."""
    from .. import import_model

    dest = import_model(path, name=name, overwrite=overwrite)
    click.echo(f"imported {path} as {dest.name.removesuffix('.distill')!r} ({dest})")


@model_group.command("export")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace an existing file at PATH.")
def export_command(name: str, path: Path, overwrite: bool) -> None:
    """Copy a library model to PATH (a file, or a folder to put NAME.distill in)."""
    from .. import export_model

    dest = export_model(name, path, overwrite=overwrite)
    click.echo(f"exported {name} to {dest}")


@model_group.command("analyze")
@click.argument("name")
@click.option("--audio", type=click.Path(file_okay=False, path_type=Path),
              help="The training recordings, if they moved since training.")
def analyze_command(name: str, audio: Path | None) -> None:
    """Re-run the slider analysis of NAME on its training recordings."""
    from .. import analyze
    from .progress_view import ProgressView

    sliders = analyze(name, audio, progress=ProgressView(click.echo))
    click.echo(f"sliders of {name!r}: " + ", ".join(f"{s.name} [{s.low:.2f} … {s.high:.2f}]" for s in sliders))
