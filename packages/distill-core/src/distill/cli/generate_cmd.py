"""`distill generate MODEL`: finished audio files from a trained model, through the auto-selected vocoder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..devices import DEVICES
from .numbers import FINITE, finite_number

if TYPE_CHECKING:
    import numpy as np

FORMAT_CHOICES = ("wav", "flac", "ogg", "mp3")


def _parse_pairs(values: tuple[str, ...], option: str, separator: str) -> list[tuple[str, float]]:
    pairs = []
    for value in values:
        key, found, number = value.rpartition(separator)
        try:
            if not found or not key:
                raise ValueError
            pairs.append((key, finite_number(number)))
        except ValueError:
            raise click.BadParameter(f"expected KEY{separator}NUMBER with a finite number, got {value!r}",
                                     param_hint=option) from None
    return pairs


@click.command("generate")
@click.argument("model_ref", metavar="MODEL", required=False)
@click.option("-d", "--duration", type=FINITE, default=5.0, show_default=True, help="Seconds (0.1 to 600).")
@click.option("-n", "--count", type=click.IntRange(1, 1000), default=1, show_default=True, help="Number of clips.")
@click.option("--seed", type=click.IntRange(min=0), help="Clip i uses seed + i (default: a random seed).")
@click.option("--evolution", type=FINITE, default=0.5, show_default=True,
              help="0 = holds one character, 1 = changes quickly (prior sampling).")
@click.option("--slider", "sliders", multiple=True, metavar="NAME=VALUE", help="Set a slider (name or index).")
@click.option("--preset", help="Start from a saved slider preset (see `distill preset`).")
@click.option("--from-audio", type=click.Path(path_type=Path), help="Make a variation of this sound.")
@click.option("--variation", type=FINITE, default=0.0, show_default=True, help="With --from-audio: 0 = rebuild it.")
@click.option("--morph", nargs=2, metavar="A B", help="Travel from A to B (audio files or seed:N).")
@click.option("--blend", "blends", multiple=True, metavar="MODEL:WEIGHT", help="Mix in another model (up to 4).")
@click.option("--vocoder", default="auto", show_default=True, help="A backend name, or auto.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--sample-rate", type=int, default=48000, show_default=True, help="Export sample rate.")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="wav", show_default=True)
@click.option("--bit-depth", type=click.Choice(["16", "24", "32f"]), help="WAV: 16, 24 (default), 32f; FLAC: 16, 24.")
@click.option("--normalize", type=click.Choice(["peak", "lufs", "none"]), default="peak", show_default=True,
              help="peak: to -1 dBFS; lufs: to -14 LUFS; none: as rendered. Never clips.")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for the files.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File name (one clip).")
@click.option("--overwrite", is_flag=True, help="Replace existing files.")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per file on stdout.")
@click.option("--replay", type=click.Path(dir_okay=False, path_type=Path), help="Re-render from a sidecar .json.")
def generate_command(
    model_ref: str | None, duration: float, count: int, seed: int | None, evolution: float,
    sliders: tuple[str, ...], preset: str | None, from_audio: Path | None, variation: float,
    morph: tuple[str, str] | None, blends: tuple[str, ...], vocoder: str, device: str, sample_rate: int,
    fmt: str, bit_depth: str | None, normalize: str, output_dir: Path | None, output: Path | None,
    overwrite: bool, as_json: bool, replay: Path | None,
) -> None:
    """Generate audio from MODEL (a name, id or .distill path)."""
    import secrets

    from ..errors import DistillError
    from ..export import ExportSettings
    from ..files import check_regular
    from ..generate import GenerationSettings
    from ..names import safe_stem
    from ..slider_presets import get_preset

    if replay:
        return _replay(replay, output, output_dir, overwrite, as_json, device)
    if model_ref is None:
        raise click.UsageError("give a MODEL (or --replay FILE.json)")
    if output and count > 1:
        raise click.UsageError("--output names one file; use -o/--output-dir with --count")
    if from_audio:
        check_regular(from_audio, "--from-audio file")
    for endpoint in morph or ():
        if not endpoint.removeprefix("seed:").isdigit():
            if not Path(endpoint).exists():
                raise DistillError(f"--morph endpoint {endpoint!r} is neither an audio file nor seed:N")
            check_regular(endpoint, "--morph audio file")
    export = ExportSettings.create(fmt, bit_depth, sample_rate=sample_rate, normalize=normalize)
    primary = _load(model_ref)
    values = dict(get_preset(primary.model.name, preset)) if preset else {}
    values.update(_parse_pairs(sliders, "--slider", "="))
    from ..generate import check_sliders

    checked, warnings = check_sliders(primary.analysis, values)
    blend_pairs = _parse_pairs(blends, "--blend", ":")
    base = GenerationSettings(
        seconds=duration, seed=0, evolution=evolution, sliders=tuple(checked.items()),
        from_audio=str(from_audio.resolve()) if from_audio else None, variation=variation,
        morph=(morph[0], morph[1]) if morph else None, blend=tuple(blend_pairs),
    )
    first_seed = secrets.randbelow(2**31) if seed is None else seed
    jobs = []
    stem = safe_stem(primary.model.name, "clip")  # the header's name never steers where files go
    for i in range(count):
        settings = _with_seed(base, first_seed + i)
        path = output or (output_dir or Path(".")) / f"{stem}-{first_seed + i}.{export.extension}"
        jobs.append((settings, path))
    _check_targets([path for _, path in jobs], export, overwrite)
    _render_jobs(primary, jobs, export, vocoder, device, warnings, as_json, named=output is not None,
                 overwrite=overwrite)


def _with_seed(settings: Any, seed: int) -> Any:
    import attrs

    return attrs.evolve(settings, seed=seed)


def _load(ref: str) -> Any:
    from ..generate import LoadedModel
    from ..library import resolve_model
    from ..modelfile import load_model

    path = resolve_model(ref)
    loaded = LoadedModel(load_model(path))
    loaded.path = path  # type: ignore[attr-defined]
    return loaded


def _check_targets(paths: list[Path], export: Any, overwrite: bool) -> None:
    from ..errors import DistillError

    for path in paths:
        if path.suffix.lower() != f".{export.extension}":
            raise DistillError(f"{path} does not end in .{export.extension}; match --output to --format")
        blocked = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise DistillError(f"cannot write {path}: {blocked} exists and is not a folder; "
                               "choose another output path (missing folders are created)")
        if not overwrite and (path.exists() or _sidecar_path(path).exists()):
            raise DistillError(f"{path} already exists; choose another name or add --overwrite")


def _render_jobs(
    primary: Any, jobs: list[tuple[Any, Path]], export: Any, requested: str, device: str, notes: list[str],
    as_json: bool, vocoder_name_for_replay: str | None = None, named: bool = True, overwrite: bool = False,
) -> None:
    """Render each job to its path. Without `overwrite` a file that appears meanwhile (another run) is
    never replaced: a name the user gave fails clearly, a made-up name moves on to the next free one."""
    import datetime

    from .. import __version__
    from ..atomic import FreeName, claim, replace, write_json
    from ..devices import resolve_device
    from ..errors import DistillError
    from ..export import write_audio
    from ..generate import blend_mode, clip_chunks
    from ..selection import load_vocoder, select_vocoder

    torch_device, device_note = resolve_device(device)
    warnings = list(notes) + ([device_note] if device_note else [])
    choice = select_vocoder(primary.model, vocoder_name_for_replay or requested)
    warnings += choice.warnings
    vocoder = load_vocoder(choice, primary.mel_spec, torch_device)
    blend_models = [(_load(ref), weight) for ref, weight in jobs[0][0].blend]
    blends = []
    for model, weight in blend_models:
        own = select_vocoder(model.model, choice.backend.name if requested != "auto" else "auto")
        blends.append((model, weight, load_vocoder(own, model.mel_spec, torch_device)))
    mode = blend_mode(primary, [m for m, _ in blend_models]) if blend_models else None
    if mode:
        warnings.append(f"blending {len(blends) + 1} models in the {mode} domain"
                        + (" (they share one mel recipe)" if mode == "mel" else " (their mel recipes differ)"))
    if not as_json:
        click.echo(f"vocoder: {choice.backend.name} — {choice.reason}", err=True)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    for settings, path in jobs:
        tags = {
            "title": f"{primary.model.name} #{settings.seed}",
            "artist": f"distill model {primary.model.name}",
            "software": f"distill {__version__}",
            "comment": f"model={primary.model.id} seed={settings.seed} vocoder={choice.backend.name}",
        }
        chunks = _with_progress(clip_chunks(primary, settings, vocoder, blends), vocoder.sample_rate,
                                settings.seconds, path.name)
        publish = replace if overwrite else claim if named else FreeName(companion=_sidecar_path)
        try:
            level = write_audio(chunks, vocoder.sample_rate, settings.seconds, path, export, tags, publish)
        except FileExistsError:
            raise DistillError(f"{path} appeared while this clip was rendering (another distill run?); it was "
                               "left as it is and this clip discarded: choose another --output, or add "
                               "--overwrite") from None
        path = publish.path if isinstance(publish, FreeName) and publish.path else path
        sidecar = {
            "distill_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "file": path.name,
            "seconds": settings.seconds,
            "samples": level["samples"],
            "model": {"name": primary.model.name, "id": primary.model.id, "path": str(primary.path.resolve())},
            "blend": [{"name": m.model.name, "id": m.model.id, "path": str(m.path.resolve()), "weight": w}
                      for m, w, _ in blends],
            "blend_mode": mode,
            "settings": settings.to_dict(),
            "export": export.to_dict(),
            "vocoder": {"name": choice.backend.name, "reason": choice.reason, "warnings": list(choice.warnings)},
            "level": level,
        }
        write_json(_sidecar_path(path), sidecar)
        record = {"path": str(path), "seconds": settings.seconds, "seed": settings.seed,
                  "vocoder": choice.backend.name, "reason": choice.reason,
                  "warnings": warnings + level["warnings"]}
        if as_json:
            click.echo(json.dumps(record))
        else:
            for warning in level["warnings"]:
                click.echo(f"warning: {warning}", err=True)
            click.echo(f"{path}  ({settings.seconds:g} s, seed {settings.seed})")


def _sidecar_path(clip: Path) -> Path:
    return clip.with_name(clip.name + ".json")


def _with_progress(chunks: Iterator[np.ndarray], rate: int, seconds: float, label: str) -> Iterator[np.ndarray]:
    """A progress bar in seconds of audio on stderr (tqdm hides it when stderr is not a terminal)."""
    import sys

    from tqdm import tqdm

    with tqdm(total=round(seconds, 1), desc=label, unit="s", file=sys.stderr, disable=None, leave=False) as bar:
        for chunk in chunks:
            bar.update(min(len(chunk) / rate, bar.total - bar.n))
            yield chunk


def _replay(sidecar_path: Path, output: Path | None, output_dir: Path | None, overwrite: bool, as_json: bool,
            device: str) -> None:
    from ..errors import DistillError
    from ..export import ExportSettings
    from ..files import read_json
    from ..generate import GenerationSettings
    from ..names import safe_stem

    sidecar = read_json(sidecar_path, "sidecar")
    try:
        settings = GenerationSettings.from_dict(sidecar["settings"])
        export = ExportSettings(**sidecar["export"])
        model_info, vocoder_name, clip = sidecar["model"], sidecar["vocoder"]["name"], sidecar["file"]
        model_path, model_id = model_info["path"], model_info["id"]
        if not all(isinstance(value, str) for value in (vocoder_name, clip, model_path, model_id)):
            raise TypeError("model, vocoder and file must be text")
    except (ValueError, KeyError, TypeError) as exc:
        raise DistillError(f"{sidecar_path} is not a distill sidecar ({exc})") from exc
    ref = model_path if Path(model_path).is_file() else model_id
    primary = _load(ref)
    if primary.model.id != model_id:
        raise DistillError(f"the model at {ref} is not the one that made this clip (id {model_id}); "
                           "it was retrained or replaced")
    stem = safe_stem(Path(clip).stem, "clip")  # a name read from a file never leaves the sidecar's folder
    target = output or (output_dir or sidecar_path.parent) / f"{stem}-replay.{export.extension}"
    _check_targets([target], export, overwrite)
    _render_jobs(primary, [(settings, target)], export, "auto", device, [], as_json, vocoder_name,
                 named=output is not None, overwrite=overwrite)
