"""Hooks of the example plugin. Kept light: the vocoder module (and torch) load only when needed."""

import click
from distill.plugin import hookimpl


@hookimpl
def register_vocoders(register):
    from .vocoders import FittedGriffinLim, GriffinLim, GriffinLim22k

    register(GriffinLim)
    register(GriffinLim22k)
    register(FittedGriffinLim)


@hookimpl
def register_commands(cli):
    @cli.command(name="griffinlim-info")
    def griffinlim_info():
        """Show the Griffin-Lim plugin's settings."""
        from .vocoders import ITERATIONS

        click.echo(f"griffinlim: {ITERATIONS} iterations, momentum 0.99")
