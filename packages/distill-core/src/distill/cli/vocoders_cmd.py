"""`distill vocoders`: the installed vocoder backends."""

from __future__ import annotations

from pathlib import Path

import click

from ..devices import DEVICES
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


@vocoders_group.command("download")
@click.argument("name")
def download_command(name: str) -> None:
    """Download the weights of vocoder NAME ahead of time (then it works offline)."""
    import sys

    from tqdm import tqdm

    from ..errors import DistillError
    from ..plugins import installed_vocoders

    vocoders = installed_vocoders()
    if name not in vocoders:
        raise DistillError(f"vocoder {name!r} is not installed (installed: {', '.join(vocoders) or 'none'})")
    bars: dict[str, tqdm] = {}

    def progress(filename: str, done: int, total: int) -> None:
        if filename not in bars:
            bars[filename] = tqdm(total=total, desc=filename, unit="B", unit_scale=True, file=sys.stderr)
        bars[filename].update(done - bars[filename].n)

    try:
        vocoders[name].backend.download(progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    click.echo(f"{name}: weights are on this machine")


@vocoders_group.command("compare")
@click.argument("model_ref", metavar="MODEL")
@click.option("--audio", type=click.Path(file_okay=False, path_type=Path),
              help="The model's recordings, if they moved since it was trained.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compare_command(model_ref: str, audio: Path | None, device: str, as_json: bool) -> None:
    """Resynthesise MODEL's held-out recordings with every usable vocoder and measure each."""
    from ..devices import resolve_device
    from ..library import resolve_model
    from ..modelfile import load_model
    from ..vocoder_compare import compare

    model = load_model(resolve_model(model_ref))
    rows, note = compare(model, audio, resolve_device(device)[0])
    if as_json:
        echo_json({"model": model.name, "measured_on": note, "rows": [row.as_dict() for row in rows]})
        return
    click.echo(f"{model.name}: resynthesis of {note}")
    echo_table(
        ["VOCODER", "KIND", "LOG-MEL L1", "MR-STFT", "SNR dB", "SPEED"],
        [[r.name, r.kind, f"{r.log_mel_l1:.3f}", f"{r.mr_stft:.3f}", f"{r.snr_db:.1f}", f"{r.speed:.1f}x"]
         for r in rows],
    )
    click.echo("lower is better for LOG-MEL L1 and MR-STFT; SPEED is x real time on this machine")
