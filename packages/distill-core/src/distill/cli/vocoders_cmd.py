"""`distill vocoders`: the installed vocoder backends."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import click

from .. import DEVICES
from .output import echo_json, echo_table


class DownloadBars:
    """A download-progress callback drawing one tqdm bar per file on stderr."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}

    def __call__(self, filename: str, done: int, total: int) -> None:
        import sys

        from tqdm import tqdm

        if filename not in self.bars:
            self.bars[filename] = tqdm(total=total, desc=filename, unit="B", unit_scale=True, file=sys.stderr)
        self.bars[filename].update(done - self.bars[filename].n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@click.group("vocoders", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def vocoders_group(ctx: click.Context, as_json: bool) -> None:
    """List the installed vocoder backends (mel-spectrogram to waveform)."""
    if ctx.invoked_subcommand is not None:
        return
    from .. import vocoder_list

    vocoders = vocoder_list()
    if as_json:
        echo_json(
            [
                {
                    "name": v.name,
                    "kind": v.kind,
                    "priority": v.priority,
                    "sample_rate": v.mel_spec.sample_rate,
                    "mel_spec": v.mel_spec.to_dict(),
                    "package": v.package,
                    "version": v.version,
                    "weights": v.weights,
                    "description": v.description,
                }
                for v in vocoders
            ]
        )
    elif not vocoders:
        click.echo('No vocoder installed. Install one: pip install "distill[bigvgan]" or "distill[hifigan]"')
    else:
        echo_table(
            ["NAME", "KIND", "RATE", "MEL RECIPE", "PACKAGE", "WEIGHTS"],
            [
                [v.name, v.kind, v.mel_spec.sample_rate, v.mel_spec.describe(), f"{v.package} {v.version}", v.weights]
                for v in vocoders
            ],
        )


@vocoders_group.command("download")
@click.argument("name")
def download_command(name: str) -> None:
    """Download the weights of vocoder NAME ahead of time (then it works offline)."""
    from .. import download_vocoder

    progress = DownloadBars()
    try:
        download_vocoder(name, progress)
    finally:
        progress.close()
    click.echo(f"{name}: weights are on this machine")


@vocoders_group.command("compare")
@click.argument("model_ref", metavar="MODEL")
@click.option("--audio", type=click.Path(file_okay=False, path_type=Path),
              help="The model's recordings, if they moved since it was trained.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("--download", is_flag=True,
              help="Download the weights of backends that lack them, then compare them too.")
@click.option("--save", is_flag=True,
              help="Store the figures in the model's bundled vocoders: --vocoder auto ranks them by these.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compare_command(model_ref: str, audio: Path | None, device: str, download: bool, save: bool,
                    as_json: bool) -> None:
    """Resynthesise MODEL's held-out recordings with every usable vocoder and measure each."""
    from .. import compare_vocoders, model_info

    model = model_info(model_ref)
    path, header = model.path, model.header
    bars = DownloadBars()
    try:
        result = compare_vocoders(path, audio=audio, device=device, download=download, save=save, progress=bars)
    finally:
        bars.close()
    saved = bool(save and header["vocoder_state"])
    if as_json:
        echo_json({"model": header["name"], "measured_on": result.note, "rows": [row.as_dict() for row in result.rows],
                   "skipped": [attrs.asdict(s) for s in result.skipped], "saved": saved})
        return
    click.echo(f"{header['name']}: resynthesis of {result.note}")

    def cents(value: float | None) -> str:
        return "-" if value is None or math.isnan(value) else f"{value:.0f}"

    echo_table(
        ["VOCODER", "KIND", "VISQOL", "LOG-MEL L1", "MR-STFT", "PITCH ERR (cents)", "VOICING ERR", "SNR dB", "SPEED"],
        [[r.name, r.kind, f"{r.visqol:.2f}", f"{r.log_mel_l1:.3f}", f"{r.mr_stft:.3f}", cents(r.pitch_cents),
          f"{100 * (r.voicing_error or 0):.0f}%", f"{r.snr_db:.1f}", f"{r.speed:.1f}x"] for r in result.rows],
    )
    click.echo("higher is better for VISQOL (identical audio: 4.73); lower for the others; SPEED is x real time here")
    for skipped in result.skipped:
        click.echo(f"skipped {skipped.name}: {skipped.reason}; to include it: {skipped.fix}")
    if save:
        click.echo(f"stored these figures in {path}'s bundled vocoders" if saved
                   else "nothing to store: the model carries no bundled vocoder")
