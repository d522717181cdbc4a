"""The `distill` command line. Modules here import torch only inside the commands that need it."""

from __future__ import annotations

import click

from .. import DistillError, __version__
from .generate_cmd import generate_command
from .model_cmd import model_group
from .plugins_cmd import plugins_command
from .preset_cmd import preset_group
from .train_cmd import train_command
from .train_vocoder_cmd import train_vocoder_command
from .ui_cmd import ui_command
from .vocoders_cmd import vocoders_group


class DistillGroup(click.Group):
    """Built-in commands plus the ones plugins add; plugins load only when a listing or an
    unknown command name needs them, so `distill --version` and built-ins stay fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from .. import plugin_commands

        return sorted(set(super().list_commands(ctx)) | set(plugin_commands()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            from .. import plugin_commands

            command = plugin_commands().get(cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DistillError as exc:
            raise click.ClickException(exc.cli_message) from exc


@click.group(cls=DistillGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distill")
def cli() -> None:
    """Train a generative instrument on your own recordings, and play it.

    \b
      distill train ./sounds --name field
      distill generate field -d 10 --vocoder auto
    """


cli.add_command(generate_command)
cli.add_command(model_group)
cli.add_command(plugins_command)
cli.add_command(preset_group)
cli.add_command(train_command)
cli.add_command(train_vocoder_command)
cli.add_command(ui_command)
cli.add_command(vocoders_group)


def main() -> None:
    cli(prog_name="distill")
