"""The offline demo: `python -m distill.demo [OUTPUT_DIR]` (what `nox -s demo` runs).

It synthesises an example corpus, then runs as much of the pipeline as exists, and prints what it
chose and wrote. It never fakes a result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import click


@click.command()
@click.argument("output", type=click.Path(path_type=Path), default=Path("demo-output"))
def main(output: Path) -> None:
    import soundfile
    import torch

    from .examples import make_example_corpus
    from .melspec import DISTILL_MEL
    from .selection import load_vocoder, select_vocoder

    corpus = make_example_corpus(output / "corpus", files=20, seconds=3.0)
    click.echo(f"example corpus: {len(corpus)} files in {output / 'corpus'}")

    class CorpusModel:  # until training lands: the corpus' own mels stand in for a model's
        mel_spec = DISTILL_MEL
        vocoder_state: ClassVar[dict] = {}

    choice = select_vocoder(CorpusModel())
    click.echo(f"vocoder: {choice.backend.name} ({choice.reason})")
    for warning in choice.warnings:
        click.echo(f"warning: {warning}", err=True)
    vocoder = load_vocoder(choice, DISTILL_MEL)
    wave, _ = soundfile.read(corpus[0], dtype="float32")
    audio = vocoder.render(DISTILL_MEL.mel(torch.from_numpy(wave))[None])[0]
    path = output / f"resynthesised-{corpus[0].stem}.wav"
    soundfile.write(path, audio.numpy(), vocoder.sample_rate)
    click.echo(f"wrote {path}: {corpus[0].name} resynthesised from its mel by {choice.backend.name}")


if __name__ == "__main__":
    sys.exit(main())
