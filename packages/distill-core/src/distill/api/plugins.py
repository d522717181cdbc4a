"""The installed plugins as the faces show them: each with the hooks it implements and any error it
raised, and the commands they add to the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

    from ..plugin.host import PluginInfo


def plugin_status() -> list[PluginInfo]:
    """Every plugin of the `distill` entry-point group, after running all its hooks (so their errors
    show)."""
    from ..plugin.host import get_plugins

    host = get_plugins()
    host.vocoders()
    host.commands()
    return list(host.plugins.values())


def plugin_commands() -> dict[str, click.Command]:
    """The commands plugins add to `distill`, by name."""
    from ..plugin.host import get_plugins

    return dict(get_plugins().commands().commands)
