"""`distill preset`: named slider settings stored beside a model in the library."""

from __future__ import annotations

import click

from .output import echo_json, echo_table


@click.group("preset")
def preset_group() -> None:
    """Save, list and delete slider presets of a model (use one with `generate --preset NAME`)."""


@preset_group.command("save")
@click.argument("model_ref", metavar="MODEL")
@click.argument("name")
@click.option("--slider", "sliders", multiple=True, required=True, metavar="NAME=VALUE")
def save_command(model_ref: str, name: str, sliders: tuple[str, ...]) -> None:
    """Save the given slider values as preset NAME of MODEL (values outside the safe range are clamped)."""
    from .. import model_info, save_preset
    from .generate_cmd import _parse_pairs

    values, warnings = save_preset(model_ref, name, dict(_parse_pairs(sliders, "--slider", "=")))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    model_name = model_info(model_ref).name
    click.echo(f"saved preset {name!r} of {model_name!r}: " + ", ".join(f"{k}={v:g}" for k, v in values.items()))


@preset_group.command("list")
@click.argument("model_ref", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True)
def list_command(model_ref: str, as_json: bool) -> None:
    """List the presets of MODEL."""
    from .. import model_info

    model = model_info(model_ref)
    name, presets = model.name, model.presets()
    if as_json:
        echo_json(presets)
    elif not presets:
        click.echo(f"{name!r} has no presets yet: distill preset save {name} NAME --slider SLIDER=VALUE")
    else:
        echo_table(["PRESET", "SLIDERS"],
                   [[p, ", ".join(f"{k}={v:g}" for k, v in values.items())] for p, values in presets.items()])


@preset_group.command("delete")
@click.argument("model_ref", metavar="MODEL")
@click.argument("name")
def delete_command(model_ref: str, name: str) -> None:
    """Delete preset NAME of MODEL."""
    from .. import delete_preset, model_info

    model_name = model_info(model_ref).name
    delete_preset(model_name, name)
    click.echo(f"deleted preset {name!r} of {model_name!r}")
