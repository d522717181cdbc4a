"""The offline demo: `python -m distill.demo [OUTPUT_DIR]` (what `nox -s demo` runs).

It synthesises an example corpus, trains a model on it, and generates clips through the
auto-selected vocoder, running the same `distill` commands a user would type (printed as it goes).
It never fakes a result: every file it names was rendered by the pipeline.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

# CPU minutes of `distill train-vocoder` (fine-tuning the shipped base on the demo corpus): the whole demo
# stays within 10 minutes here; the train-vocoder run measures whether it beat the base, and auto picks
# the better of the two.
VOCODER_MINUTES = 2


def _distill(*args: str, env: dict[str, str], show: bool = True) -> str:
    click.echo(f"\n$ distill {shlex.join(args)}")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "distill.cli", *args], env=env, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"`distill {shlex.join(args)}` failed (exit {result.returncode})")
    if show:
        click.echo(result.stdout.rstrip())
    click.echo(f"  ({time.monotonic() - started:.0f} s)")
    return result.stdout


@click.command()
@click.argument("output", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"))
def main(output: Path) -> None:
    from .examples import make_example_corpus

    started = time.monotonic()
    output = output.resolve()
    env = {**os.environ, "DISTILL_HOME": str(output / "library")}  # keep the demo out of your own library
    corpus = output / "example-corpus"
    make_example_corpus(corpus, files=20, seconds=3.0)
    click.echo(f"example corpus: 20 synthesised recordings (tones, plucks, noise textures) in {corpus}")

    _distill("train", str(corpus), "--name", "demo", "--overwrite", "--restart", env=env)
    vocoders = json.loads(_distill("vocoders", "--json", env=env, show=False))
    if not vocoders:
        raise click.ClickException("no vocoder is installed: pip install \"distill[bigvgan]\"")
    click.echo("  installed: " + ", ".join(f"{v['name']} ({v['kind']}, weights {v['weights']})" for v in vocoders))
    if any(v["name"] == "hifigan" for v in vocoders):  # a short fine-tune of the base, bundled into the model
        _distill("train-vocoder", "demo", "--backend", "hifigan", "--minutes", str(VOCODER_MINUTES), "--restart",
                 env=env)
    if {v["name"] for v in vocoders} <= {"griffinlim", "griffinlim-22k", "griffinlim-fitted"}:
        click.echo("note: the only vocoder installed is the Griffin-Lim example plugin (tests/plugins/"
                   "distill-griffinlim): an honest stand-in until a neural vocoder is installed or trained; "
                   "expect a phasey, metallic sound.")

    clips = output / "clips"
    model = env["DISTILL_HOME"] + "/models/demo.distill"
    first, second = sorted(corpus.glob("*.wav"))[:2]
    runs = {
        "prior": ["-d", "8", "--seed", "1", "--evolution", "0.5"],
        "slider": ["-d", "8", "--seed", "1", "--slider", "0=2.0"],
        "morph": ["-d", "6", "--seed", "2", "--morph", str(first), str(second)],
        "variation": ["-d", "4", "--seed", "3", "--from-audio", str(first), "--variation", "0.4"],
    }
    warnings: set[str] = set()
    for name, args in runs.items():
        out = _distill("generate", model, "--vocoder", "auto", "--output", str(clips / f"{name}.wav"), "--overwrite",
                       "--json", *args, env=env, show=False)
        for line in out.splitlines():
            record = json.loads(line)
            warnings.update(record["warnings"])
            click.echo(f"  -> {record['path']}: {record['seconds']} s, vocoder {record['vocoder']} "
                       f"({record['reason']})")
    for warning in sorted(warnings):
        click.echo(f"warning: {warning}")
    click.echo(f"\ndemo finished in {(time.monotonic() - started) / 60:.1f} minutes; clips in {clips}")


if __name__ == "__main__":
    sys.exit(main())
