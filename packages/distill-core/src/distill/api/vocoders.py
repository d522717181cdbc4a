"""The vocoders a model can use: which can render it and what `auto` picks, measuring them on its
held-out recordings (`distill vocoders compare`), and downloading a backend's weights."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..errors import DistillError, Hint
from .runs import load_for_update, unchanged

if TYPE_CHECKING:
    from ..melspec import MelSpec
    from ..progress import ProgressCallback
    from ..vocoders.compare import Comparison
    from ..vocoders.selection import VocoderOption


@attrs.frozen
class VocoderInfo:
    """An installed vocoder backend, as `distill vocoders` lists it."""

    name: str
    kind: str  # "universal" or "per-model"
    priority: int
    mel_spec: MelSpec
    package: str
    version: str
    weights: str  # in words: "present", "not downloaded", "not needed" or "per model"
    trainable: bool  # per model
    description: str


def vocoder_list() -> list[VocoderInfo]:
    """The installed vocoder backends, by name."""
    from ..plugin.contract import trainable, weights_status
    from ..plugin.host import installed_vocoders

    return [VocoderInfo(name, r.backend.kind, r.backend.priority, r.backend.mel_spec, r.plugin.distribution,
                        r.plugin.version, weights_status(r.backend), trainable(r.backend), r.backend.description)
            for name, r in installed_vocoders().items()]


def compare_vocoders(
    model: str | os.PathLike[str], *, audio: str | os.PathLike[str] | None = None, device: str = "cpu",
    download: bool = False, save: bool = False, progress: Callable[[str, int, int], None] | None = None,
    renderings: str | os.PathLike[str] | None = None, steps: ProgressCallback | None = None,
) -> Comparison:
    """Resynthesise the model's held-out recordings with every usable vocoder (and the Griffin-Lim
    baseline) and measure each; backends that would need a download are skipped unless `download`.
    `save` stores the figures in the model's bundled vocoders, which the vocoder choice `auto` ranks by.
    `renderings` (a folder) keeps each held-out file and every rendering of it, to listen to. `progress`
    hears a download's bytes, `steps` each stage of the measurement (a Progress event as it starts)."""
    from ..devices import resolve_device
    from ..library import resolve_model
    from ..modelfile import save_model
    from ..vocoders.compare import compare

    path = resolve_model(str(model))
    compared, identity = load_for_update(path)
    result = compare(compared, Path(audio) if audio else None, resolve_device(device)[0],
                     download=download, progress=progress, renderings=Path(renderings) if renderings else None,
                     steps=steps)
    current = unchanged(path, compared, identity, "the comparison ran") if save else compared
    if save and current.vocoder_state:
        for state in current.vocoder_state.values():
            state.training["figures"] = result.figures()
        save_model(current, path)
    return result


@attrs.frozen
class VocoderChoices:
    """What can render a model: the usable backends, and what `auto` picks (None: nothing can), why,
    and its warnings (under-trained, a mel conversion, a better backend not downloaded). `reason` and
    `warnings` are in the command line's words; `why` and `hints` are the same as Hints (what went
    wrong and its Fix), for a face that says fixes in its own words."""

    options: list[VocoderOption]
    auto: str | None
    reason: str
    warnings: list[str]
    why: Hint = attrs.field(factory=lambda: Hint(""))
    hints: list[Hint] = attrs.field(factory=list)


def vocoder_choices(model: str | os.PathLike[str]) -> VocoderChoices:
    """The installed backends that can render `model`, each with its state, and `auto`'s choice."""
    from ..library import resolve_model
    from ..modelfile import load_model
    from ..plugin.host import installed_vocoders
    from ..vocoders.selection import select_vocoder, vocoder_options

    loaded = load_model(resolve_model(str(model)))
    installed = installed_vocoders()
    options = vocoder_options(loaded, installed)
    try:
        choice = select_vocoder(loaded, "auto", installed)
    except DistillError as exc:
        return VocoderChoices(options, None, exc.cli_message, [], exc.hint)
    return VocoderChoices(options, choice.backend.name, choice.reason, list(choice.warnings), Hint(choice.reason),
                          list(choice.hints))


def download_vocoder(name: str, progress: Callable[[str, int, int], None] | None = None) -> None:
    """Fetch a backend's weights (e.g. BigVGAN's from the Hugging Face Hub), calling
    `progress(filename, bytes_done, bytes_total)` as bytes arrive."""
    from ..plugin.host import installed_vocoders

    vocoders = installed_vocoders()
    if name not in vocoders:
        raise DistillError(f"vocoder {name!r} is not installed (installed: {', '.join(vocoders) or 'none'})")
    vocoders[name].backend.download(progress)
