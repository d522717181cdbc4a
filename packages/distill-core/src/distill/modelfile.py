"""The `.distill` file, format 4: one safetensors file holding a whole trained model.

safetensors metadata: {"format": "distill", "format_version": "4", "distill": <JSON header>,
"data_sha256": <SHA-256 of the tensor data section>}; tensors:
`vae.<state-dict key>`, `sliders.components`, `sliders.center`, `sliders.scales`, `prior.<key>` (the
learned prior, whose kind, config and training record are the header's "prior") and
`vocoder.<backend>.<key>`, and `sliders.directions` (latent offsets of controls that have them). The
header's "sliders" holds the old sliders ("sliders") and, from format 4, the named controls with their
calibration ("controls", "rejected", "calibration"). Format 3 is format 4 without controls; format 2
is format 3 without a learned prior: such models load and generate with the Gaussian prior. Loading
never runs code from the file (no pickle, no torch.load).
`read_header` parses the header by hand, so listing a library imports neither torch nor numpy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from .atomic import atomic_output
from .errors import DistillError, Fix
from .files import open_regular, parse_json, sha256_of
from .melspec import MelSpec
from .model import DistillModel, PriorState
from .plugin.contract import VocoderState
from .sliders import Control, Slider, SliderAnalysis

if TYPE_CHECKING:
    import torch

FORMAT_NAME = "distill"
FORMAT_VERSION = 4
REQUIRED_KEYS = (
    "name", "id", "created", "distill_version", "mel_spec", "vae_config", "sliders", "training", "vocoder_state"
)  # fmt: skip
_DICT_KEYS = ("mel_spec", "vae_config", "sliders", "training", "vocoder_state")
SLIDER_TENSORS = ("sliders.components", "sliders.center", "sliders.scales")
DIRECTIONS = "sliders.directions"
MAX_HEADER_BYTES = 8_000_000  # a distill header (500 files' training record included) is well under 1 MB
DIGEST_KEY = "data_sha256"  # SHA-256 of the tensor data section, in the safetensors metadata
_DIGEST_PLACEHOLDER = "digest-pending-" + "0" * 49  # as long as a hex SHA-256
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_V1_PICKLE = "(pickle-based) model, which cannot be loaded safely (unpickling can run arbitrary code)"
UPGRADE_HINT = "pip install -U distill"


# -- errors: each names the file and says what to do ----------------------------------------------
def _corrupt(path: Path, detail: str) -> NoReturn:
    raise DistillError(f"{path} is truncated or corrupt ({detail}); re-export or retrain it")


def _not_distill(path: Path, found: str) -> NoReturn:
    raise DistillError(
        f"{path} is not a distill model file (found: {found}); "
        "give a .distill file made by `distill train` or `distill model export`"
    )


def _v1(path: Path, why: str) -> NoReturn:
    raise DistillError(f"{path} is a distill v1 {why}", Fix("retrain"))


def _newer(path: Path, version: int) -> NoReturn:
    raise DistillError(
        f"{path} was written by a newer distill (model format {version}; this version reads format "
        f"{FORMAT_VERSION}); upgrade: {UPGRADE_HINT}"
    )


# -- reading the header without torch -------------------------------------------------------------
def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a .distill file (name, id, mel_spec, ...), after checking the whole file's
    structure: kind, format version, header JSON and that the tensor data is all there. The tensor
    data itself is not read: `verify_model_file` checks it against the digest stored at saving."""
    return _read(Path(path))[0]


def verify_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`read_header`, plus a streamed SHA-256 of the tensor data against the digest in the header
    (files saved before digests were stored pass on their structure alone)."""
    path = Path(path)
    info, meta, data_start = _read(path)
    if meta.get(DIGEST_KEY) is not None:
        with open_regular(path, "model file") as file:
            file.seek(data_start)
            _check_digest(path, meta, sha256_of(file))
    return info


def _check_digest(path: Path, meta: dict[str, str], digest: str) -> None:
    if digest != meta[DIGEST_KEY]:
        _corrupt(path, "its tensor data does not match the checksum stored when it was saved")


def _read(path: Path) -> tuple[dict[str, Any], dict[str, str], int]:
    """The distill header, the safetensors metadata, and where the tensor data starts."""
    header, data_start, data_bytes = _read_safetensors_header(path)
    meta, info = _check_metadata(path, header)
    _check_tensor_entries(path, header, data_bytes)
    return info, meta, data_start


def _read_safetensors_header(path: Path) -> tuple[dict[str, Any], int, int]:
    """The parsed safetensors header, where the data starts and its length; rejects anything else."""
    with open_regular(path, "model file") as file:
        size = os.fstat(file.fileno()).st_size
        try:
            head = file.read(9)
            if size == 0:
                _not_distill(path, "empty file")
            length = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else None
            # A safetensors header is JSON, so it starts with "{" right after the 8-byte length.
            if length is None or head[8:9] != b"{":
                _reject_unknown(path, head, size)
            if length > MAX_HEADER_BYTES:
                _corrupt(path, f"the header claims {length} bytes (a distill header is under {MAX_HEADER_BYTES})")
            if length < 2:
                _corrupt(path, f"the header claims {length} bytes")
            if length > size - 8:
                _corrupt(path, f"the header claims {length} bytes but only {size - 8} follow")
            raw = head[8:] + file.read(length - 1)
        except OSError as exc:
            raise DistillError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        header = parse_json(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        _corrupt(path, f"the safetensors header is not valid JSON: {exc}")
    if not isinstance(header, dict):
        _corrupt(path, "the safetensors header is not a JSON object")
    return header, 8 + length, size - 8 - length


def _reject_unknown(path: Path, head: bytes, size: int) -> NoReturn:
    # v1 models were torch.save pickles: a zip archive holding data.pkl, or (legacy) a bare pickle.
    if head.startswith(b"PK\x03\x04"):
        if _zip_holds_pickle(path):
            _v1(path, _V1_PICKLE)
        _not_distill(path, "a zip archive")
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle PROTO opcode, protocols 2-5
        _v1(path, _V1_PICKLE)
    _not_distill(path, f"{size} bytes of unknown data")


def _zip_holds_pickle(path: Path) -> bool:
    """Reads only the zip directory: nothing is unpickled."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith(".pkl") for name in archive.namelist())
    except Exception:  # any damage at all: zipfile raises many types on crafted input
        return True  # a damaged torch.save archive is still a v1 model


def _check_metadata(path: Path, header: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        _not_distill(path, "safetensors without distill metadata")
    if not all(isinstance(value, str) for value in meta.values()):
        _corrupt(path, "the safetensors metadata holds values that are not strings")
    if DIGEST_KEY in meta and not re.fullmatch(r"[0-9a-f]{64}", meta[DIGEST_KEY]):
        _corrupt(path, "its stored checksum is malformed")
    try:
        version = int(meta.get("format_version", ""))
    except (TypeError, ValueError):
        _corrupt(path, f"format_version {meta.get('format_version')!r} is not a number")
    if version == 1:
        _v1(path, "model, a format this version no longer reads")
    if version > FORMAT_VERSION:
        _newer(path, version)
    if version < 1:
        _corrupt(path, f"unknown format_version {version}")
    try:
        info = parse_json(meta["distill"])
    except (KeyError, TypeError, ValueError) as exc:
        _corrupt(path, f"the distill metadata is missing or not valid JSON ({exc})")
    if not isinstance(info, dict):
        _corrupt(path, "the distill metadata is not a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in info]
    if missing:
        _corrupt(path, f"the header lacks {', '.join(missing)}")
    wrong = [key for key in _DICT_KEYS if not isinstance(info[key], dict)]
    wrong += [key for key in ("name", "id", "created", "distill_version") if not isinstance(info[key], str)]
    if wrong or not isinstance(info["sliders"].get("sliders"), list):
        _corrupt(path, f"malformed header fields: {', '.join(wrong) or 'sliders'}")
    return meta, info


def _check_tensor_entries(path: Path, header: dict[str, Any], data_bytes: int) -> None:
    """Every tensor entry has the shape the safetensors format defines, and the data is all there."""
    expected = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not (isinstance(entry, dict) and entry.keys() == {"dtype", "shape", "data_offsets"}):
            _corrupt(path, f"tensor {key!r} has a malformed entry")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            _corrupt(path, f"tensor {key!r} has an unknown dtype")
        if not (isinstance(shape, list) and len(shape) <= 8 and all(_is_count(n) for n in shape)):
            _corrupt(path, f"tensor {key!r} has a malformed shape")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
                and offsets[0] <= offsets[1]):
            _corrupt(path, f"tensor {key!r} has no valid data offsets")
        if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[dtype]:
            _corrupt(path, f"tensor {key!r} does not fit its shape and dtype")
        expected = max(expected, offsets[1])
    if data_bytes < expected:
        _corrupt(path, f"the tensor data is {data_bytes} bytes but the header says {expected}")
    if data_bytes > expected:
        _corrupt(path, f"{data_bytes - expected} unexpected bytes after the tensor data")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 48


# -- loading ----------------------------------------------------------------------------------------
def load_model(path: str | os.PathLike[str]) -> DistillModel:
    """The model stored in a .distill file; a DistillError says why a file cannot be loaded."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    info, meta, data_start = _read(path)  # rejects pickles, foreign and damaged files before any tensor is built
    try:  # the file is read once: its digest checked, then its tensors built from the same bytes
        with open_regular(path, "model file") as file:
            whole = file.read()
    except OSError as exc:
        raise DistillError(f"cannot read {path}: {exc.strerror or exc}") from None
    if meta.get(DIGEST_KEY) is not None:
        _check_digest(path, meta, hashlib.sha256(memoryview(whole)[data_start:]).hexdigest())
    try:
        tensors = load(whole)
    except (SafetensorError, OSError) as exc:
        _corrupt(path, str(exc))
    try:
        return _build(path, info, tensors)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        _corrupt(path, f"{type(exc).__name__}: {exc}")


def _build(path: Path, info: dict[str, Any], tensors: dict[str, torch.Tensor]) -> DistillModel:
    states = {
        backend: VocoderState(
            backend=backend, version=state["version"], config=state["config"], training=state["training"]
        )
        for backend, state in info["vocoder_state"].items()
    }
    vae: dict[str, torch.Tensor] = {}
    for key, tensor in tensors.items():
        if key.startswith("vae."):
            vae[key.removeprefix("vae.")] = tensor
        elif key.startswith("vocoder."):
            backend = _vocoder_backend(key, states)
            if backend is None:
                _corrupt(path, f"tensor {key!r} belongs to no bundled vocoder")
            states[backend].weights[key.removeprefix(f"vocoder.{backend}.")] = tensor
        elif key not in (*SLIDER_TENSORS, DIRECTIONS) and not key.startswith("prior."):
            _corrupt(path, f"unexpected tensor {key!r}")
    for key in SLIDER_TENSORS:
        if key not in tensors:
            _corrupt(path, f"tensor {key!r} is missing")
    prior = None
    if info.get("prior") is not None:
        spec = info["prior"]
        if not (isinstance(spec, dict) and isinstance(spec.get("config"), dict)
                and isinstance(spec.get("training"), dict) and isinstance(spec.get("kind"), str)):
            _corrupt(path, "malformed header field: prior")
        prior = PriorState(kind=spec["kind"], config=spec["config"], training=spec["training"],
                           tensors={k.removeprefix("prior."): t for k, t in tensors.items() if k.startswith("prior.")})
    elif any(key.startswith("prior.") for key in tensors):
        _corrupt(path, "it holds prior tensors but no prior in its header")
    analysis = info["sliders"]
    controls = [Control(**control) for control in analysis.get("controls") or []]
    if any(c.row >= 0 for c in controls) and DIRECTIONS not in tensors:
        _corrupt(path, f"tensor {DIRECTIONS!r} is missing")
    sliders = SliderAnalysis(
        sliders=[Slider(**slider) for slider in analysis["sliders"]],
        components=tensors["sliders.components"],
        center=tensors["sliders.center"],
        scales=tensors["sliders.scales"],
        controls=controls,
        directions=tensors.get(DIRECTIONS),
        rejected={str(k): str(v) for k, v in (analysis.get("rejected") or {}).items()},
        calibration=dict(analysis.get("calibration") or {}),
    )
    return DistillModel(
        name=info["name"],
        id=info["id"],
        mel_spec=MelSpec.from_dict(info["mel_spec"]),
        vae_config=info["vae_config"],
        vae_weights=vae,
        sliders=sliders,
        training=info["training"],
        vocoder_state=states,
        prior=prior,
        created=info["created"],
        distill_version=info["distill_version"],
    )


def _vocoder_backend(key: str, backends: dict[str, Any]) -> str | None:
    """The backend a `vocoder.<backend>.<key>` tensor belongs to (backend names may hold dots)."""
    matches = [name for name in backends if key.startswith(f"vocoder.{name}.")]
    return max(matches, key=len) if matches else None


# -- saving -----------------------------------------------------------------------------------------
def save_model(model: DistillModel, path: str | os.PathLike[str]) -> None:
    """Write `model` to `path` atomically: readers see the old file or the new one, never a part."""
    from safetensors.torch import save_file

    from . import __version__

    path = Path(path)
    header = {
        "name": model.name,
        "id": model.id,
        "created": model.created,
        "distill_version": model.distill_version or __version__,
        "mel_spec": model.mel_spec.to_dict(),
        "vae_config": model.vae_config,
        "sliders": _slider_header(model.sliders),
        "training": model.training,
        "vocoder_state": {
            name: {"version": state.version, "config": state.config, "training": state.training}
            for name, state in model.vocoder_state.items()
        },
        "prior": None if model.prior is None else {
            "kind": model.prior.kind, "config": model.prior.config, "training": model.prior.training},
    }
    try:
        header_json = json.dumps(_json_numbers(header), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DistillError(f"cannot save model {model.name!r} to {path}: its metadata is not JSON ({exc})") from None
    metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "distill": header_json,
                DIGEST_KEY: _DIGEST_PLACEHOLDER}
    tensors = _tensors(model)
    if not path.parent.is_dir():
        raise DistillError(f"cannot save {path}: the folder {path.parent} does not exist; create it first")
    size = sum(t.numel() * t.element_size() for t in tensors.values()) + len(header_json)
    with atomic_output(path, size_hint=size) as temp:
        save_file(tensors, str(temp), metadata=metadata)
        _store_digest(temp)


def _json_numbers(value: Any) -> Any:
    """`value` with NaN and infinities (a diverged loss, say) as null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_numbers(item) for item in value]
    return value


def _store_digest(path: Path) -> None:
    """Write the SHA-256 of the tensor data over the placeholder of the same length in the header,
    so the digest covers exactly the bytes safetensors wrote and no offset moves."""
    with open(path, "r+b") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = file.read(length)
        digest = hashlib.sha256()
        while block := file.read(1 << 20):
            digest.update(block)
        marker = f'"{_DIGEST_PLACEHOLDER}"'.encode()
        if header.count(marker) != 1:
            raise RuntimeError("safetensors wrote the digest placeholder in an unexpected form")
        file.seek(8 + header.index(marker) + 1)
        file.write(digest.hexdigest().encode())


def _slider_header(analysis: SliderAnalysis) -> dict[str, Any]:
    header: dict[str, Any] = {"sliders": [attrs.asdict(slider) for slider in analysis.sliders]}
    if analysis.controls or analysis.calibration:
        header.update(controls=[attrs.asdict(c) for c in analysis.controls], rejected=analysis.rejected,
                      calibration=analysis.calibration)
    return header


def _tensors(model: DistillModel) -> dict[str, torch.Tensor]:
    import torch

    def own(tensor: torch.Tensor) -> torch.Tensor:
        # safetensors refuses tensors that share storage (tied weights, views): give each its own copy.
        return tensor.detach().to("cpu").clone(memory_format=torch.contiguous_format)

    tensors = {f"vae.{key}": own(t) for key, t in model.vae_weights.items()}
    tensors["sliders.components"] = own(model.sliders.components)
    tensors["sliders.center"] = own(model.sliders.center)
    tensors["sliders.scales"] = own(model.sliders.scales)
    if model.sliders.directions is not None and len(model.sliders.directions):
        tensors[DIRECTIONS] = own(model.sliders.directions)
    if model.prior is not None:
        tensors.update({f"prior.{key}": own(t) for key, t in model.prior.tensors.items()})
    for backend, state in model.vocoder_state.items():
        for key, tensor in state.weights.items():
            full = f"vocoder.{backend}.{key}"
            if _vocoder_backend(full, model.vocoder_state) != backend:
                raise DistillError(f"cannot save model {model.name!r}: vocoder tensor {full!r} is ambiguous")
            tensors[full] = own(tensor)
    return tensors


