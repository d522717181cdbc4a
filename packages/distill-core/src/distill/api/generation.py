"""`distill generate`: render clips of new material, variations, morphs and blends, each with its
sidecar; and replay a clip from its sidecar, bit for bit."""

from __future__ import annotations

import math
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .. import __version__
from ..errors import DistillError, Fix, Hint
from ..progress import Interrupted, ProgressCallback, Reporter
from .sidecar import Sidecar, sidecar_path

if TYPE_CHECKING:
    import numpy as np

    from ..export import ExportSettings
    from ..pipeline import GenerationSettings, LoadedModel


@attrs.frozen
class Clip:
    path: Path
    sidecar: Path
    seconds: float
    seed: int
    warnings: list[str]  # level warnings of this clip (e.g. turned down so it cannot clip)


@attrs.frozen
class Generated:
    clips: list[Clip]
    vocoder: str
    reason: str
    warnings: list[str]  # about the whole run: clamped sliders, device, blending, the vocoder choice
    hints: list[Hint] = attrs.field(factory=list)  # the same warnings, each with the fix it names (a Hint)


def generate(
    model: str | os.PathLike[str], *, seconds: float = 5.0, count: int = 1, seed: int | None = None,
    evolution: float = 0.5, sliders: Mapping[str, float] | None = None, preset: str | None = None,
    from_audio: str | os.PathLike[str] | None = None, variation: float = 0.0, morph: tuple[str, str] | None = None,
    blend: Sequence[tuple[str, float]] = (), prior: str = "auto", temperature: float = 1.0,
    vocoder: str = "auto", device: str = "auto", export: ExportSettings | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None, overwrite: bool = False,
    progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
) -> Generated:
    """Render `count` clips of MODEL (a library name, id prefix or .distill path) with a JSON sidecar
    each. Clip i uses seed + i (default: a random seed); files are named MODEL-SEED.EXT in
    `output_dir` (default: the current folder) unless `output` names the one clip. `prior`: "learned",
    "gaussian", or "auto" (the learned prior where the model has one)."""
    from ..export import ExportSettings
    from ..files import check_regular
    from ..names import safe_stem
    from ..pipeline import GenerationSettings, check_sliders
    from ..slider_presets import get_preset

    export = export or ExportSettings.create()
    if output and count > 1:
        raise DistillError("an output file name names one clip; give an output folder for several")
    if from_audio:
        check_regular(from_audio, "--from-audio file")
    for endpoint in morph or ():
        if not endpoint.removeprefix("seed:").isdigit():
            if not Path(endpoint).exists():
                raise DistillError(f"--morph endpoint {endpoint!r} is neither an audio file nor seed:N")
            check_regular(endpoint, "--morph audio file")
    primary = load(model)
    stored = get_preset(primary.model.name, preset) if preset else None
    values = dict(stored.controls if stored else {}) | dict(sliders or {})
    checked = check_sliders(primary.analysis, values, stored.legacy if stored else None)
    warnings = list(checked.warnings)
    if prior == "auto":
        prior = "learned" if primary.model.prior is not None else "gaussian"
        if primary.model.prior is None:
            warnings.append(f"model {primary.model.name!r} was trained before distill learned a prior: its new "
                            "material comes from the Gaussian prior (retrain it for material that moves like "
                            "its recordings)")
    base = GenerationSettings(
        seconds=seconds, seed=0, evolution=evolution, sliders=tuple(checked.legacy.items()),
        controls=tuple(checked.controls.items()), prior=prior, temperature=temperature,
        from_audio=str(Path(from_audio).resolve()) if from_audio else None, variation=variation,
        morph=(morph[0], morph[1]) if morph else None, blend=tuple((ref, float(w)) for ref, w in blend),
    )
    first_seed = secrets.randbelow(2**31) if seed is None else seed
    stem = safe_stem(primary.model.name, "clip")  # the header's name never steers where files go
    jobs = []
    for i in range(count):
        path = Path(output) if output else Path(output_dir or ".") / f"{stem}-{first_seed + i}.{export.extension}"
        jobs.append((attrs.evolve(base, seed=first_seed + i), path))
    return _render(primary, jobs, export, vocoder, device, warnings, named=output is not None, overwrite=overwrite,
                   progress=progress, cancel=cancel)


def replay(
    sidecar: str | os.PathLike[str], *, output: str | os.PathLike[str] | None = None,
    output_dir: str | os.PathLike[str] | None = None, overwrite: bool = False, device: str = "auto",
    progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
) -> Generated:
    """Render a clip again from its sidecar, bit for bit, into `output`, or NAME-replay.EXT in
    `output_dir` (default: beside the sidecar)."""
    from ..names import safe_stem

    sidecar = Path(sidecar)
    record = Sidecar.read(sidecar)
    model_path, model_id = record.model["path"], record.model["id"]
    ref = model_path if Path(model_path).is_file() else model_id
    primary = load(ref)
    if primary.model.id != model_id:
        raise DistillError(f"the model at {ref} is not the one that made this clip (id {model_id}); "
                           "it was retrained or replaced")
    stem = safe_stem(Path(record.file).stem, "clip")  # a name read from a file never leaves the chosen folder
    export = record.export
    target = Path(output) if output else Path(output_dir or sidecar.parent) / f"{stem}-replay.{export.extension}"
    return _render(primary, [(record.settings, target)], export, record.vocoder["name"], device, [],
                   named=output is not None, overwrite=overwrite, progress=progress, cancel=cancel,
                   threads=record.threads)


KEEP_LOADED = 4  # models kept ready, by their file's identity: a page that renders again reads nothing
_loaded: OrderedDict[tuple[object, ...], LoadedModel] = OrderedDict()
_loading = threading.Lock()


def load(ref: str | os.PathLike[str]) -> LoadedModel:
    """A model ready to generate, from a library name, id prefix or .distill path. The last few loaded
    are kept while their files are unchanged (distill replaces a model file whole, a new file)."""
    from ..library import resolve_model
    from ..modelfile import load_model
    from ..pipeline import LoadedModel
    from .runs import file_identity

    path = resolve_model(str(ref))
    key = (str(path.resolve()), *file_identity(path))
    with _loading:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    model = LoadedModel(load_model(path), path)
    with _loading:
        _loaded[key] = model
        while len(_loaded) > KEEP_LOADED:
            _loaded.popitem(last=False)
    return model


def clip_log_mel(path: str | os.PathLike[str]) -> np.ndarray:
    """The log-mels [n_mels, frames] of an audio file (its channels mixed) in distill's own recipe
    (DISTILL_MEL): what a page draws of a clip."""
    import numpy as np
    import torch

    from ..audio import read_audio
    from ..melspec import DISTILL_MEL

    audio = read_audio(Path(path), DISTILL_MEL.sample_rate).audio
    with torch.inference_mode():
        return DISTILL_MEL.mel(torch.from_numpy(np.ascontiguousarray(audio))).numpy()


def check_targets(paths: Sequence[Path], export: ExportSettings, overwrite: bool) -> None:
    for path in paths:
        if path.suffix.lower() != f".{export.extension}":
            raise DistillError(f"{path} does not end in .{export.extension}", Fix("match-format"))
        blocked = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise DistillError(f"cannot write {path}: {blocked} exists and is not a folder; "
                               "choose another output path (missing folders are created)")
        if not overwrite and (path.exists() or sidecar_path(path).exists()):
            raise DistillError(f"{path} already exists", Fix("overwrite-file"))


def _render(
    primary: LoadedModel, jobs: list[tuple[GenerationSettings, Path]], export: ExportSettings, requested: str,
    device: str, notes: list[str], *, named: bool, overwrite: bool, progress: ProgressCallback | None,
    cancel: threading.Event | None, threads: int | None = None,
) -> Generated:
    """Render each job. Without `overwrite` a file that appears meanwhile (another run) is never
    replaced: a name the caller gave fails clearly, a made-up name moves on to the next free one.
    Each clip renders with one CPU thread count, fitted to the machine when it starts (or `threads`, a
    replay's), and its sidecar records it: the last bits of a render depend on it."""
    from ..atomic import FreeName, claim, replace
    from ..devices import resolve_device
    from ..export import write_audio
    from ..pipeline import blend_mode, clip_chunks
    from ..threads import fit_threads, use_threads
    from ..vocoders.selection import load_vocoder, select_vocoder

    check_targets([path for _, path in jobs], export, overwrite)
    report = Reporter(progress)
    torch_device, device_note = resolve_device(device)
    hints = [Hint(note) for note in [*notes, device_note] if note]
    choice = select_vocoder(primary.model, requested)
    hints += choice.hints
    vocoder = load_vocoder(choice, primary.mel_spec, torch_device)
    blend_models = [(load(ref), weight) for ref, weight in jobs[0][0].blend]
    blends = []
    for model, weight in blend_models:
        own = select_vocoder(model.model, choice.backend.name if requested != "auto" else "auto")
        blends.append((model, weight, load_vocoder(own, model.mel_spec, torch_device)))
    mode = blend_mode(primary, [m for m, _ in blend_models]) if blend_models else None
    if mode:
        hints.append(Hint(f"blending {len(blends) + 1} models in the {mode} domain"
                          + (" (they share one mel recipe)" if mode == "mel" else " (their mel recipes differ)")))
    clips = []
    for settings, path in jobs:
        tags = {
            "title": f"{primary.model.name} #{settings.seed}",
            "artist": f"distill model {primary.model.name}",
            "software": f"distill {__version__}",
            "comment": f"model={primary.model.id} seed={settings.seed} vocoder={choice.backend.name}",
        }
        clip_threads = use_threads(threads) if threads else fit_threads()
        chunks = _watched(clip_chunks(primary, settings, vocoder, blends), vocoder.sample_rate, settings.seconds,
                          path.name, report, cancel)
        publish = replace if overwrite else claim if named else FreeName(companion=sidecar_path)
        try:
            level = write_audio(chunks, vocoder.sample_rate, settings.seconds, path, export, tags, publish)
        except FileExistsError:
            raise DistillError(f"{path} appeared while this clip was rendering (another distill run?); it was "
                               "left as it is and this clip discarded", Fix("overwrite-file")) from None
        path = publish.path if isinstance(publish, FreeName) and publish.path else path
        Sidecar(file=path.name, settings=settings, export=export, threads=clip_threads,
                model={"name": primary.model.name, "id": primary.model.id, "path": _where(primary)},
                vocoder={"name": choice.backend.name, "reason": choice.reason, "warnings": list(choice.warnings)},
                seconds=settings.seconds, samples=level["samples"], blend_mode=mode, level=level,
                blend=[{"name": m.model.name, "id": m.model.id, "path": _where(m), "weight": w}
                       for m, w, _ in blends]).write(sidecar_path(path))
        clips.append(Clip(path=path, sidecar=sidecar_path(path), seconds=settings.seconds, seed=settings.seed,
                          warnings=list(level["warnings"])))
    return Generated(clips=clips, vocoder=choice.backend.name, reason=choice.reason,
                     warnings=[hint.cli_message for hint in hints], hints=hints)


def _where(model: LoadedModel) -> str | None:
    return str(model.path.resolve()) if model.path else None


def _watched(chunks: Iterator[np.ndarray], rate: int, seconds: float, label: str, report: Reporter,
             cancel: threading.Event | None) -> Iterator[np.ndarray]:
    """Progress in tenths of a second of audio; a set `cancel` stops the render (nothing is written)."""
    total, done = math.ceil(seconds * 10), 0.0
    report.step(f"render {label}", 0, total)  # before the first chunk, which waits for the model's first frames
    for chunk in chunks:
        if cancel is not None and cancel.is_set():
            raise Interrupted(round(done * 10), None,
                              message=f"render cancelled after {done:.1f} s of {seconds:.1f} s; nothing was written")
        done += len(chunk) / rate
        report.step(f"render {label}", min(round(done * 10), total), total)
        yield chunk




def check_sound(path: str | os.PathLike[str], shown_as: str | None = None) -> float:
    """The length in seconds of a sound to vary or morph from, read as `generate` will read it; a file
    that is not usable audio raises DistillError naming it as `shown_as` (an upload's own file name
    rather than the server's copy of it)."""
    from ..audio import AudioReadError, read_audio

    try:
        return read_audio(Path(path)).seconds
    except AudioReadError as exc:
        raise DistillError(f"{shown_as or path} is not a sound distill can read ({exc.detail}): choose a WAV, "
                           "FLAC, OGG or MP3 file") from None
