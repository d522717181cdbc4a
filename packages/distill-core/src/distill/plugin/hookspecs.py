"""The hooks a distill plugin can implement (plugins import `hookimpl` from `distill.plugin`).

A plugin is a module exposed through the `distill` entry-point group, for example in its
pyproject.toml:  [project.entry-points.distill]  myvocoder = "distill_myvocoder"
Keep the module light (no torch at import time): `distill --help` imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .contract import VocoderBase

hookspec = pluggy.HookspecMarker("distill")
hookimpl = pluggy.HookimplMarker("distill")


@hookspec
def register_vocoders(register: Callable[[type[VocoderBase]], None]) -> None:
    """Call `register(SomeVocoder)` for each `VocoderBase` subclass this plugin provides."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the `distill` command line with `cli.add_command(...)`."""
