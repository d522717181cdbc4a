"""`distill plugins`: what the `distill` entry-point group holds and whether each plugin works."""

from __future__ import annotations

import click

from .output import echo_json, echo_table


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins, the hooks they implement, and any error they raised."""
    from .. import plugin_status

    infos = plugin_status()
    if as_json:
        echo_json([info.as_dict() for info in infos])
        return
    if not infos:
        click.echo("No plugins installed. Vocoder backends: pip install \"distill[bigvgan,hifigan]\"")
        return
    echo_table(
        ["PLUGIN", "DISTRIBUTION", "VERSION", "HOOKS", "STATUS"],
        [
            [i.name, i.distribution, i.version, ",".join(i.hooks) or "-", "; ".join(i.errors) or "ok"]
            for i in infos
        ],
    )
