"""The model loader against a few thousand mutated files (fixed seed, bounded time): every outcome is a
model or a DistillError — no other exception, no hang, and no code from the file ever runs."""

from __future__ import annotations

import json
import os
import random
import struct
import time
from pathlib import Path

import pytest
import torch
from distill import DistillError
from distill.modelfile import load_model, read_header, save_model
from test_modelfile import make_model

CASES = 3000
SLOWEST_CASE_SECONDS = 5.0  # a hang shows up as one case this slow


class Payload:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["DISTILL_HOME"]) / "pwned",))


def _mutations(original: bytes, rng: random.Random):
    """Byte-level damage to the whole file and structural damage to the header's JSON."""
    (length,) = struct.unpack("<Q", original[:8])
    header = json.loads(original[8 : 8 + length])
    data = original[8 + length :]
    values = [None, True, -1, 2**70, 1e308, "", "x" * 1000, [], {}, [[[[[]]]]], {"a": {"b": {}}}, [0, -5], "F32"]

    def pack(new_header: object, body: bytes = data) -> bytes:
        raw = json.dumps(new_header).encode()
        return struct.pack("<Q", len(raw)) + raw + body

    while True:
        kind = rng.randrange(8)
        blob = bytearray(original)
        if kind == 0:  # flip bits anywhere
            for _ in range(rng.randint(1, 4)):
                blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
            yield "flip", bytes(blob)
        elif kind == 1:  # flip bits in the header
            for _ in range(rng.randint(1, 3)):
                blob[8 + rng.randrange(length)] ^= 1 << rng.randrange(8)
            yield "header flip", bytes(blob)
        elif kind == 2:  # truncate
            yield "truncate", bytes(blob[: rng.randrange(len(blob))])
        elif kind == 3:  # a lying length prefix
            yield "length", struct.pack("<Q", rng.choice([0, 1, length - 1, length + 1, 2**63, 2**64 - 1])) + blob[8:]
        elif kind == 4:  # a tensor entry's field replaced
            name = rng.choice([k for k in header if k != "__metadata__"])
            entry = dict(header[name])
            entry[rng.choice(["dtype", "shape", "data_offsets", "extra"])] = rng.choice(values)
            yield "tensor entry", pack({**header, name: entry})
        elif kind == 5:  # a field of the distill header replaced
            info = json.loads(header["__metadata__"]["distill"])
            path = [rng.choice(list(info))]
            if isinstance(info[path[0]], dict) and info[path[0]] and rng.random() < 0.5:
                path.append(rng.choice(list(info[path[0]])))
            target = info
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = rng.choice(values)
            meta = {**header["__metadata__"], "distill": json.dumps(info)}
            yield "distill field", pack({**header, "__metadata__": meta})
        elif kind == 6:  # metadata entries replaced or removed
            meta = dict(header["__metadata__"])
            key = rng.choice([*meta, "format_version", "data_sha256"])
            if rng.random() < 0.3:
                meta.pop(key, None)
            else:
                meta[key] = rng.choice([str(v) for v in values] + ["1", "3", "99", "[" * 200])
            yield "metadata", pack({**header, "__metadata__": meta})
        else:  # random bytes inserted into the header
            at = 8 + rng.randrange(length)
            blob[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            yield "insert", bytes(blob)


def test_mutated_model_files_give_a_model_or_a_clear_error(tmp_path):
    good = tmp_path / "good.distill"
    save_model(make_model(), good)
    original = good.read_bytes()
    pickled = tmp_path / "pickled.distill"
    torch.save({"x": Payload()}, pickled)
    rng = random.Random(1234)
    outcomes: dict[str, int] = {}
    slowest = 0.0
    target = tmp_path / "case.distill"
    cases = _mutations(original, rng)
    for i in range(CASES):
        kind, blob = next(cases) if i % 50 else ("pickle", pickled.read_bytes())
        target.write_bytes(blob)
        started = time.monotonic()
        for read in (read_header, load_model):
            try:
                read(target)
                outcome = "loaded"
            except DistillError as exc:
                assert str(target) in str(exc), (kind, str(exc))
                outcome = "refused"
            except Exception as exc:  # pragma: no cover - the failure this test exists to catch
                pytest.fail(f"case {i} ({kind}): {type(exc).__name__}: {exc}")
        slowest = max(slowest, time.monotonic() - started)
        outcomes[f"{kind}: {outcome}"] = outcomes.get(f"{kind}: {outcome}", 0) + 1
    assert slowest < SLOWEST_CASE_SECONDS, slowest
    assert not (Path(os.environ["DISTILL_HOME"]) / "pwned").exists()
    # The mutations really reach the loader's checks: most are refused, and the pickles always are.
    refused = sum(n for key, n in outcomes.items() if key.endswith("refused"))
    assert refused > 0.9 * CASES and outcomes.get("pickle: refused") == CASES // 50, outcomes
