"""`distill vocoders`: the installed vocoder backends."""

from __future__ import annotations

import click

from ..vocoder import VocoderBase
from .output import echo_json, echo_table


def _weights(backend: type[VocoderBase]) -> str:
    if backend.kind != "universal":
        return "per model"
    return {None: "not needed", True: "present", False: "not downloaded"}[backend.weights_present()]


@click.group("vocoders", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def vocoders_group(ctx: click.Context, as_json: bool) -> None:
    """List the installed vocoder backends (mel-spectrogram to waveform)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..plugins import installed_vocoders

    vocoders = installed_vocoders()
    if as_json:
        echo_json(
            [
                {
                    "name": name,
                    "kind": r.backend.kind,
                    "priority": r.backend.priority,
                    "sample_rate": r.backend.mel_spec.sample_rate,
                    "mel_spec": r.backend.mel_spec.to_dict(),
                    "package": r.plugin.distribution,
                    "version": r.plugin.version,
                    "weights": _weights(r.backend),
                    "description": r.backend.description,
                }
                for name, r in vocoders.items()
            ]
        )
    elif not vocoders:
        click.echo('No vocoder installed. Install one: pip install "distill[bigvgan]" or "distill[hifigan]"')
    else:
        echo_table(
            ["NAME", "KIND", "RATE", "MEL RECIPE", "PACKAGE", "WEIGHTS"],
            [
                [
                    name,
                    r.backend.kind,
                    r.backend.mel_spec.sample_rate,
                    r.backend.mel_spec.describe(),
                    f"{r.plugin.distribution} {r.plugin.version}",
                    _weights(r.backend),
                ]
                for name, r in vocoders.items()
            ],
        )
