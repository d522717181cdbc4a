"""The model library: one `.distill` file per model in `<root>/models/`, and nothing to keep in sync.

The root is `DISTILL_HOME` when set, else the platform's user data folder. There is no index: a
listing reads each file's header (never torch), so it always shows exactly what is on disk.
Training checkpoints live apart, in `<root>/checkpoints/<name>/`, so the models folder holds only
models and their presets; recordings uploaded through the web UI go to `<root>/recordings/<name>/`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import platformdirs

from .atomic import atomic_output
from .errors import DistillError, Fix, Hint
from .files import open_regular
from .modelfile import load_model, read_header, save_model, verify_model_file
from .names import NAME_PATTERN, check_name

if TYPE_CHECKING:
    from .model import DistillModel

HOME_ENV = "DISTILL_HOME"
SUFFIX = ".distill"
ID_PREFIX = re.compile(r"[0-9a-fA-F]{4,}")


# -- where things live ------------------------------------------------------------------------------
def library_root() -> Path:
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser().absolute() if home else platformdirs.user_data_path("distill")


def models_dir() -> Path:
    return library_root() / "models"


def model_path(name: str) -> Path:
    return models_dir() / f"{check_name(name)}{SUFFIX}"


def presets_path(name: str) -> Path:
    return models_dir() / f"{check_name(name)}.presets.json"


def checkpoint_dir(name: str) -> Path:
    return library_root() / "checkpoints" / check_name(name)


def recordings_dir(name: str) -> Path:
    return library_root() / "recordings" / check_name(name, "recordings folder")


# -- listing ----------------------------------------------------------------------------------------
@attrs.define
class ModelEntry:
    """One model file as the listing sees it; `error` is set (and the rest mostly empty) when the file
    cannot be read, so one bad file never breaks the listing."""

    name: str  # the library name: the file name without `.distill`
    path: Path
    size: int
    id: str = ""
    created: str = ""
    files: int | None = None
    seconds: float | None = None
    steps: int | None = None
    sliders: list[str] = attrs.field(factory=list)
    vocoders: list[str] = attrs.field(factory=list)
    error: str | None = None  # in the command line's words
    problem: Hint | None = None  # the same, with its Fix: for a face that says fixes in its own words

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self, filter=lambda field, _: field.name != "problem"), "path": str(self.path)}


def library_state() -> tuple[tuple[str, int, int], ...]:
    """What changes when a model or its presets are added, edited, renamed or deleted (by any process):
    each file's name, size and modification time. Cheap: no file is opened."""
    folder = models_dir()
    found = []
    for entry in os.scandir(folder) if folder.is_dir() else []:
        if entry.name.startswith("."):
            continue
        try:
            info = entry.stat()
        except OSError:
            continue
        found.append((entry.name, info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


def list_models() -> list[ModelEntry]:
    folder = models_dir()
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        if path.name.startswith("."):  # a temp file of a save in progress, or a crashed one
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue  # deleted while we were listing
        entries.append(_entry(path, size))
    return entries


def _entry(path: Path, size: int) -> ModelEntry:
    entry = ModelEntry(name=path.name.removesuffix(SUFFIX), path=path, size=size)
    try:
        header = read_header(path)
    except DistillError as exc:
        entry.error, entry.problem = exc.cli_message, exc.hint
        return entry
    training = header["training"]
    files = training.get("files")
    entry.id = header["id"]
    entry.created = header["created"]
    entry.files = len(files) if isinstance(files, list) else _number(files, int)
    entry.seconds = _number(training.get("seconds"), float)
    entry.steps = _number(training.get("steps"), int)
    analysis = header["sliders"]  # the named sliders; models made before them: their old sliders
    offered = analysis.get("controls") if isinstance(analysis.get("controls"), list) else []
    entry.sliders = [str(s.get("name", "?")) for s in offered or analysis["sliders"] if isinstance(s, dict)]
    entry.vocoders = sorted(header["vocoder_state"])
    return entry


def _number(value: object, kind: type[int] | type[float]) -> Any:
    return kind(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- finding a model --------------------------------------------------------------------------------
def resolve_model(ref: str) -> Path:
    """The model file `ref` names: an existing file path, a library name, or a unique id prefix."""
    candidate = Path(ref).expanduser()
    if candidate.is_file() or (candidate.exists() and not candidate.is_dir()):
        return candidate  # a FIFO or device too: opening it says what it is, without blocking
    if NAME_PATTERN.fullmatch(ref) and model_path(ref).is_file():
        return model_path(ref)
    if "/" in ref or os.sep in ref or ref in (".", ".."):  # a path, not a name: say what is wrong with it
        if candidate.is_dir():
            raise DistillError(f"{ref} is a folder, not a model; give a model name, id or the path of a .distill file")
        raise DistillError(f"model file not found: {ref}; check the path, or see `distill model list`")
    entries = list_models()
    if ID_PREFIX.fullmatch(ref):
        matches = [e for e in entries if e.id and e.id.lower().startswith(ref.lower())]
        if len(matches) == 1:
            return matches[0].path
        if matches:
            found = ", ".join(f"{e.name} ({e.id})" for e in matches)
            raise DistillError(f"id prefix {ref!r} matches several models: {found}; give more digits or the name")
    if not entries:
        raise DistillError(
            f"no model {ref!r}: the model library at {library_root()} is empty", Fix("train-or-import"),
        )
    names = ", ".join(e.name for e in entries)
    raise DistillError(
        f"no model named {ref!r} in the library at {models_dir()}; available: {names} "
        "(a model can also be given by id prefix or by the path of its .distill file)"
    )


def recordings(model: DistillModel, audio: str | os.PathLike[str] | None = None) -> Path:
    """Where a model's recordings are: `audio` when given, else the folder its training recorded."""
    recorded = model.training.get("corpus_path")
    folder = Path(audio) if audio else Path(recorded) if isinstance(recorded, str) and recorded else None
    if folder is None:
        raise DistillError(f"model {model.name!r} does not record where its recordings are", Fix("audio"))
    if not folder.is_dir():
        raise DistillError(f"the recordings of model {model.name!r} are not at {folder} any more",
                           Fix("audio-moved"))
    return folder


# -- changing the library ---------------------------------------------------------------------------
def save_to_library(model: DistillModel, overwrite: bool = True) -> Path:
    path = model_path(model.name)
    if not overwrite and path.exists():
        raise DistillError(
            f"a model named {model.name!r} already exists ({path}); "
            f"choose another name or delete it first: distill model delete {model.name}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, path)
    return path


def model_files(ref: str) -> list[Path]:
    """What deleting `ref` removes: its model file, presets file and checkpoint folder, those that exist.

    A model whose file is gone but whose checkpoints remain (an interrupted training) can be named too.
    """
    try:
        path = resolve_model(ref)
    except DistillError:
        if not (NAME_PATTERN.fullmatch(ref) and (checkpoint_dir(ref).exists() or presets_path(ref).exists())):
            raise
        path = model_path(ref)
    if path.exists() and path.resolve().parent != models_dir().resolve():
        raise DistillError(
            f"{path} is not in the model library at {models_dir()}; only library models are deleted here "
            "(remove the file yourself if you mean to)"
        )
    name = path.name.removesuffix(SUFFIX)
    targets = [path]
    if NAME_PATTERN.fullmatch(name):  # a file dropped in by hand may have any name
        targets += [presets_path(name), checkpoint_dir(name)]
    return [target for target in targets if target.exists()]


def delete_model(name: str) -> list[Path]:
    """Remove a library model with its presets and checkpoints; returns what was removed."""
    removed = model_files(name)
    for target in removed:
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    return removed


def rename_model(ref: str, new_name: str) -> Path:
    """Give a library model another name: the name in its header, its file, presets and checkpoints."""
    source = resolve_model(ref)
    if source.resolve().parent != models_dir().resolve():
        raise DistillError(f"{source} is not in the model library at {models_dir()}; import it first")
    dest = model_path(new_name)
    old_name = source.name.removesuffix(SUFFIX)
    moving = [(presets_path(old_name), presets_path(new_name)), (checkpoint_dir(old_name), checkpoint_dir(new_name))
              ] if NAME_PATTERN.fullmatch(old_name) else []  # a file dropped in by hand has nothing beside it
    taken = [target for target in [dest, *(new for _, new in moving)] if target.exists()]
    if taken:
        raise DistillError(f"cannot rename {old_name!r} to {new_name!r}: {taken[0]} already exists; pick another "
                           "name, or delete that model first (`distill model delete NAME`)")
    model = load_model(source)
    model.name = new_name
    save_model(model, dest)  # the new file is complete before anything of the old one goes
    for old, new in moving:
        if old.exists():
            os.replace(old, new)
    source.unlink()
    return dest


def import_model(path: str | os.PathLike[str], name: str | None = None, overwrite: bool = False) -> Path:
    """Copy a .distill file into the library, as `name` or the name it carries; returns its library path."""
    source = Path(path).expanduser()
    model = load_model(source)  # full validation: nothing unreadable enters the library
    if name is not None:
        target = check_name(name)
    elif NAME_PATTERN.fullmatch(model.name):
        target = model.name
    else:
        raise DistillError(f"{source} carries the name {model.name!r}, not a valid model name", Fix("import-name"))
    dest = model_path(target)
    if dest.exists():
        if dest.resolve() == source.resolve():
            return dest  # already this library's file
        if not overwrite:
            raise DistillError(f"a model named {target!r} is already in the library ({dest})", Fix("import-as"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    if target == model.name:
        _copy(source, dest)  # byte for byte
    else:
        model.name = target  # the header must agree with the library name
        save_model(model, dest)
    return dest


def export_model(ref: str, dest: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Copy a model out of the library to `dest` (a file, or a folder to put `<name>.distill` in)."""
    source = resolve_model(ref)
    verify_model_file(source)  # never hand out a corrupt file
    target = Path(dest).expanduser()
    if target.is_dir():
        target = target / source.name
    if not target.parent.is_dir():
        raise DistillError(f"cannot export to {target}: the folder {target.parent} does not exist; create it first")
    if target.exists():
        if target.resolve() == source.resolve():
            raise DistillError(f"{target} is the model file itself; export it to another path")
        if not overwrite:
            raise DistillError(f"{target} already exists", Fix("overwrite-file"))
    _copy(source, target)
    return target


def _copy(source: Path, dest: Path) -> None:
    with (
        open_regular(source, "model file") as file,
        atomic_output(dest, os.fstat(file.fileno()).st_size) as temp,
        open(temp, "wb") as out,
    ):
        shutil.copyfileobj(file, out)
