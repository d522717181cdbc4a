"""Where the weights are: files named by DISTILL_BIGVGAN_WEIGHTS, or the Hugging Face cache, downloaded
on first use with `hf_hub_download` at the pinned commit.

A cached file is found by the cache's documented layout (`models--ORG--NAME/snapshots/COMMIT/FILE`),
so a warm cache is read without importing huggingface_hub and without any network call. Sizes and
SHA-256 hashes are checked against the pin where it records them; a file that fails is downloaded
again (or, offline, reported with what to do).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from distill.plugin import DistillError, Fix, sha256_file

from .pin import CHECKPOINT_FILE, CONFIG_FILE, FILES, FilePin, Pin, load_pin

WEIGHTS_ENV = "DISTILL_BIGVGAN_WEIGHTS"  # a folder holding config.json and bigvgan_generator.pt, copied by hand
ENDPOINT_ENV = "DISTILL_HF_ENDPOINT"  # another Hub (a mirror, or the tests' stand-in); read on every call
Progress = Callable[[str, int, int], None]


@attrs.frozen
class WeightFiles:
    config: Path
    checkpoint: Path
    from_cache: bool  # False: from DISTILL_BIGVGAN_WEIGHTS (never re-downloaded)


def hub_cache_dir() -> Path:
    """The standard Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub), read now rather than at import."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "huggingface" / "hub"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cached_path(pin: Pin, name: str) -> Path:
    folder = "models--" + pin.repo_id.replace("/", "--")
    return hub_cache_dir() / folder / "snapshots" / pin.revision / name


def file_problem(path: Path, expected: FilePin, hash_it: bool = True) -> str | None:
    """Why `path` is not the pinned file (missing, wrong size, wrong SHA-256), or None."""
    try:
        size = path.stat().st_size
    except OSError:
        return "missing"
    if expected.size is not None and size != expected.size:
        return f"{size} bytes instead of {expected.size} (a partial or damaged file)"
    if hash_it and expected.sha256 is not None:
        digest = sha256_file(path)
        if digest != expected.sha256:
            return f"SHA-256 {digest} instead of the pinned {expected.sha256}"
    return None


def is_cached() -> bool:
    """Whether the weights are on this machine (hand-copied or cached with the pinned sizes). Cheap:
    hashes are checked when the model loads."""
    manual = os.environ.get(WEIGHTS_ENV)
    if manual:
        return all((Path(manual) / name).is_file() for name in FILES)
    pin = load_pin()
    return all(file_problem(cached_path(pin, name), pin.files[name], hash_it=False) is None for name in FILES)


def locate(progress: Progress | None = None) -> WeightFiles:
    """The weight files, downloading what the cache lacks (or holds damaged) unless offline."""
    manual = os.environ.get(WEIGHTS_ENV)
    if manual:
        return _manual_files(Path(manual).expanduser(), load_pin())
    return download(progress)


def download(progress: Progress | None = None, refetch: tuple[str, ...] = ()) -> WeightFiles:
    """Make sure both pinned files are in the cache: fetch what is missing, damaged, or listed in `refetch`."""
    pin = load_pin()
    problems = {}
    for name in FILES:
        path = cached_path(pin, name)
        problem = "unreadable" if name in refetch else file_problem(path, pin.files[name])
        if problem is None:
            if progress:
                progress(name, path.stat().st_size, path.stat().st_size)
        else:
            problems[name] = problem
    if problems and offline():
        raise _unavailable(pin, problems, "this machine is set to work offline", Fix("go-online", "bigvgan"))
    if problems and progress is None:
        print(f"distill-bigvgan: downloading {', '.join(problems)} of {pin.repo_id} into the Hugging Face cache "
              f"{hub_cache_dir()} (once)", file=sys.stderr)
    for name, problem in problems.items():
        _fetch(pin, name, progress, force=problem != "missing")
    return WeightFiles(cached_path(pin, CONFIG_FILE), cached_path(pin, CHECKPOINT_FILE), from_cache=True)


def _manual_files(folder: Path, pin: Pin) -> WeightFiles:
    for name in FILES:
        problem = file_problem(folder / name, pin.files[name])
        if problem:
            raise DistillError(
                f"the hand-copied BigVGAN weights in {folder}: {name} is {problem}. The folder must hold config.json "
                f"and bigvgan_generator.pt of {pin.repo_id} (revision {pin.revision[:12]})",
                Fix("weights-folder", "bigvgan"),
            )
    return WeightFiles(folder / CONFIG_FILE, folder / CHECKPOINT_FILE, from_cache=False)


def _unavailable(pin: Pin, problems: dict[str, str], why: str, fix: Fix | None = None) -> DistillError:
    listing = ", ".join(f"{name} ({problem})" for name, problem in problems.items())
    return DistillError(
        f"the BigVGAN weights are not usable on this machine: {listing}, and they cannot be downloaded now "
        f"({why}). They are config.json and bigvgan_generator.pt of {pin.repo_id} at revision {pin.revision[:12]}, "
        f"kept in the Hugging Face cache {hub_cache_dir()}", fix or Fix("download-or-copy", "bigvgan"),
    )


def _fetch(pin: Pin, name: str, progress: Progress | None, force: bool) -> None:
    from huggingface_hub import errors, hf_hub_download

    from . import __version__

    where = f"{name} of {pin.repo_id} at revision {pin.revision[:12]}"
    try:
        hf_hub_download(
            pin.repo_id, name, revision=pin.revision, cache_dir=hub_cache_dir(),
            endpoint=os.environ.get(ENDPOINT_ENV) or None, force_download=force,
            library_name="distill-bigvgan", library_version=__version__,
            tqdm_class=_forwarding_bar(progress, name) if progress else None,
        )  # fmt: skip
    except errors.GatedRepoError:
        raise DistillError(f"the Hub refuses {where}: the repository is gated; accept its terms on the Hub "
                           "and log in with `hf auth login`") from None
    except errors.RepositoryNotFoundError:
        raise DistillError(f"the Hub has no repository {pin.repo_id} (or it is private): check the pin in "
                           f"{pin.source}") from None
    except errors.RevisionNotFoundError:
        raise DistillError(f"the Hub has no revision {pin.revision} of {pin.repo_id}: the pin in {pin.source} "
                           "names a commit that does not exist there") from None
    except errors.LocalEntryNotFoundError as exc:  # no connection, and nothing cached
        raise _unavailable(pin, {name: "missing"}, f"the Hub could not be reached: {_cause(exc)}") from None
    except errors.EntryNotFoundError:
        raise DistillError(f"the Hub has no file {where}: check the pin in {pin.source}") from None
    except (errors.HfHubHTTPError, OSError) as exc:
        raise DistillError(f"downloading {where} failed: {exc}", Fix("retry-download", "bigvgan")) from None
    problem = file_problem(cached_path(pin, name), pin.files[name])
    if problem:
        _evict(cached_path(pin, name))
        raise DistillError(f"the downloaded {where} is {problem}: the file on the Hub is not the pinned one, "
                           f"or it was damaged in transfer. It was removed from the cache; check the pin in "
                           f"{pin.source}, then try again", Fix("retry-download", "bigvgan"))


def _cause(exc: BaseException) -> str:
    """The innermost exception of a chain (the connection error behind huggingface_hub's)."""
    for _ in range(10):
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return f"{type(exc).__name__}: {exc}"


def _evict(pointer: Path) -> None:
    """Remove a cached file: the snapshot's link and the blob it points at."""
    blob = pointer.resolve()
    for path in {pointer, blob}:
        path.unlink(missing_ok=True)


def _forwarding_bar(progress: Progress, name: str) -> type[Any]:
    """A tqdm class for `hf_hub_download(tqdm_class=...)` that draws nothing and reports to `progress`."""
    from tqdm import tqdm

    class ForwardingBar(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)  # huggingface_hub passes its own bar's name; plain tqdm rejects it
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.done = int(kwargs.get("initial") or 0)
            self.expected = int(kwargs.get("total") or 0)
            progress(name, self.done, self.expected)

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            progress(name, self.done, self.expected)
            return None

    return ForwardingBar
