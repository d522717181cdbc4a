"""Hostile but realistic input through the real CLI: crafted model files, sidecars and presets,
named pipes, non-finite numbers, concurrent runs, kill -9 and a full disk. Each class of problem
has a test here that failed before its fix; the files are crafted by the tests."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import DISTILL_EXE, run_cli, small_model
from distill.atomic import FreeName, claim, write_json
from distill.export import ExportSettings, write_audio
from distill.modelfile import load_model, save_model

pytestmark = pytest.mark.usefixtures("griffin_lim_only")  # the example plugin renders (conftest)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A small trained model file, and its recordings beside it in `sounds/`."""
    return small_model(tmp_path_factory.mktemp("hostile"))


def _home() -> Path:
    return Path(os.environ["DISTILL_HOME"])


def _refused(result, *fragments: str) -> None:
    """A clean refusal: exit 1, one 'Error:' paragraph naming what is wrong, no traceback."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- security: names from files never become paths outside the output folder ------------------------
@pytest.mark.parametrize("name", ["../../escape", "ABSOLUTE", "..", "a/../../b", ".hidden", "-rf"])
def test_a_stored_model_name_never_steers_where_clips_go(trained, tmp_path, name):
    model = load_model(trained)
    model.name = str(tmp_path / "elsewhere" / "abs") if name == "ABSOLUTE" else name
    crafted = tmp_path / "models" / "crafted.distill"
    crafted.parent.mkdir()
    save_model(model, crafted)
    out = tmp_path / "deep" / "out"
    record = json.loads(run_cli("generate", str(crafted), "-o", str(out), "-d", "0.2", "--seed", "1",
                                "--json").stdout)
    clip = Path(record["path"])
    assert clip.parent == out and not clip.name.startswith((".", "-"))
    assert _files_under(tmp_path) == sorted([crafted, clip, clip.with_name(clip.name + ".json")])

    # A sidecar whose clip name was tampered with replays beside the sidecar, never elsewhere.
    sidecar = clip.with_name(clip.name + ".json")
    data = json.loads(sidecar.read_text())
    data["file"] = "../../../replayed-outside.wav"
    sidecar.write_text(json.dumps(data))
    replayed = Path(json.loads(run_cli("generate", "--replay", str(sidecar), "--json").stdout)["path"])
    assert replayed.parent == out and replayed.name == "replayed-outside-replay.wav"
    assert not list(tmp_path.glob("**/replayed-outside.wav"))


def test_a_crafted_name_cannot_reach_a_presets_file(trained, tmp_path):
    model = load_model(trained)
    model.name = "../../etc/passwd"
    save_model(model, tmp_path / "crafted.distill")
    _refused(run_cli("generate", str(tmp_path / "crafted.distill"), "--preset", "warm", "-o", str(tmp_path),
                     expect=None), "invalid model name")


def _safetensors(path: Path, header: bytes, data: bytes = b"") -> Path:
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


def _distill_header(distill: str) -> bytes:
    meta = {"format": "distill", "format_version": "2", "distill": distill}
    return json.dumps({"__metadata__": meta}).encode()


CRAFTED_HEADERS = {
    "nested 1 MB": b'{"__metadata__": ' + b"[" * 500_000 + b"]" * 500_000 + b"}",
    "nested distill": _distill_header("[" * 100_000 + "]" * 100_000),
    "nested value": _distill_header(json.dumps({"name": "x"})[:-1] + ', "training": ' + "{\"a\": " * 5000 + "1"
                                    + "}" * 5000 + "}"),
    "NaN": b'{"__metadata__": {"format": "distill", "format_version": NaN}}',
    "huge number": _distill_header(json.dumps({"name": "x"})[:-1] + ', "training": {"steps": 1e999}}'),
    "UTF-16": ('{"__metadata__": ' + "[" * 100 + "]" * 100 + "}").encode("utf-16-le"),
    "wrong types": b'{"__metadata__": {"format": "distill", "format_version": ["2"]}, "x": 5}',
    "bad tensor": _distill_header("{}")[:-1] + b', "x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}',
}


@pytest.mark.parametrize("kind", CRAFTED_HEADERS)
def test_crafted_headers_are_refused_cleanly_everywhere(trained, tmp_path, kind):
    crafted = _safetensors(tmp_path / "crafted.distill", CRAFTED_HEADERS[kind], b"\0" * 4)
    for args in (["model", "info", str(crafted)], ["model", "import", str(crafted), "--name", "crafted"],
                 ["generate", str(crafted), "-o", str(tmp_path / "out")]):
        _refused(run_cli(*args, expect=None), str(crafted), "re-export or retrain")
    assert not (tmp_path / "out").exists()

    # Dropped into the library, it is listed as unreadable and every other model still shows.
    run_cli("model", "import", str(trained))
    (_home() / "models" / "crafted.distill").write_bytes(crafted.read_bytes())
    listing = run_cli("model", "list").stdout
    assert "field" in listing and "crafted" in listing and "truncated or corrupt" in listing
    entries = json.loads(run_cli("model", "list", "--json").stdout)
    assert {e["name"]: bool(e["error"]) for e in entries} == {"crafted": True, "field": False}


def test_a_flipped_bit_in_the_tensor_data_is_caught(trained, tmp_path):
    data = bytearray(trained.read_bytes())
    (header_length,) = struct.unpack("<Q", data[:8])
    data[8 + header_length + len(data[8 + header_length:]) // 2] ^= 0x10
    flipped = tmp_path / "flipped.distill"
    flipped.write_bytes(bytes(data))
    for args in (["model", "info", str(flipped)], ["model", "import", str(flipped), "--name", "flipped"],
                 ["generate", str(flipped), "-o", str(tmp_path / "out")]):
        _refused(run_cli(*args, expect=None), str(flipped), "does not match the checksum", "re-export or retrain")
    assert run_cli("model", "list", "--json").stdout.strip() == "[]" and not (tmp_path / "out").exists()
    run_cli("model", "info", str(trained))  # the intact file passes the same check


class Payload:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["DISTILL_HOME"]) / "pwned",))


def test_a_crafted_checkpoint_is_refused_without_unsafe_advice(trained):
    folder = _home() / "checkpoints" / "field"
    folder.mkdir(parents=True)
    torch.save({"format": "distill-training-checkpoint", "step": Payload()}, folder / "vae.ckpt")
    result = run_cli("train", str(trained.parents[2] / "sounds"), "--name", "field", "--steps", "10", "--resume",
                     expect=None)
    _refused(result, "is not a checkpoint that distill wrote", "--restart", str(folder / "vae.ckpt"))
    assert "weights_only" not in result.stderr
    assert not (_home() / "pwned").exists()


# -- files that are not regular files: refused at once, never waited on ------------------------------
def _distill_subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    """A fresh process with a deadline: a FIFO that blocks shows up as a timeout, not a hung suite."""
    return subprocess.run([DISTILL_EXE, *args], capture_output=True, text=True, timeout=120)


def test_named_pipes_are_refused_wherever_a_file_is_read(trained, tmp_path):
    run_cli("model", "import", str(trained))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for name in ("pipe.distill", "pipe.wav", "pipe.json"):
        os.symlink(fifo, tmp_path / name)
    os.mkfifo(_home() / "models" / "zzz.distill")
    os.mkfifo(_home() / "models" / "field.presets.json")
    checkpoints = _home() / "checkpoints" / "field"
    checkpoints.mkdir(parents=True)
    os.mkfifo(checkpoints / "vae.ckpt")
    out = str(tmp_path / "out")
    cases = [
        ["model", "import", str(tmp_path / "pipe.distill")],
        ["model", "info", str(tmp_path / "pipe.distill")],
        ["generate", str(tmp_path / "pipe.distill"), "-o", out],
        ["generate", "field", "--from-audio", str(tmp_path / "pipe.wav"), "-o", out],
        ["generate", "field", "--morph", str(tmp_path / "pipe.wav"), "seed:1", "-o", out],
        ["generate", "--replay", str(tmp_path / "pipe.json")],
        ["generate", "field", "--preset", "warm", "-o", out],
        ["train", str(trained.parents[2] / "sounds"), "--name", "field", "--resume", "--overwrite"],
    ]
    for args in cases:
        result = _distill_subprocess(*args)
        assert result.returncode == 1 and "named pipe (FIFO)" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    listing = _distill_subprocess("model", "list")
    assert listing.returncode == 0 and "field" in listing.stdout and "named pipe (FIFO)" in listing.stdout


# -- numbers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "option"), [
    (["generate", "MODEL", "--slider", "0=nan"], "--slider"),
    (["generate", "MODEL", "--slider", "0=inf"], "--slider"),
    (["generate", "MODEL", "--blend", "MODEL:nan"], "--blend"),
    (["generate", "MODEL", "-d", "nan"], "--duration"),
    (["generate", "MODEL", "--evolution", "inf"], "--evolution"),
    (["generate", "MODEL", "--variation", "-inf"], "--variation"),
    (["preset", "save", "MODEL", "warm", "--slider", "0=nan"], "--slider"),
    (["train", "SOUNDS", "--lr", "nan"], "--lr"),
    (["train", "SOUNDS", "--epochs", "nan"], "--epochs"),
    (["train", "SOUNDS", "--epochs", "inf"], "--epochs"),
    (["train-vocoder", "MODEL", "--minutes", "nan"], "--minutes"),
])  # fmt: skip
def test_non_finite_numbers_are_refused_at_the_option(trained, tmp_path, args, option):
    args = [str(trained) if a == "MODEL" else str(trained.parents[2] / "sounds") if a == "SOUNDS"
            else a.replace("MODEL", str(trained)) for a in args]
    args += ["-o", str(tmp_path / "out")] if args[0] == "generate" else []
    result = run_cli(*args, expect=2)
    assert option in result.stderr and "finite number" in result.stderr
    assert not (_home() / "models").exists() or not list((_home() / "models").iterdir())


def test_non_finite_numbers_in_files_are_refused(trained, tmp_path):
    run_cli("model", "import", str(trained))
    (_home() / "models" / "field.presets.json").write_text('{"warm": {"sliders": {"0": NaN}}}')
    _refused(run_cli("generate", "field", "--preset", "warm", "-o", str(tmp_path), expect=None),
             "field.presets.json", "NaN is not a JSON number")
    record = json.loads(run_cli("generate", "field", "-d", "0.2", "--seed", "1", "--json", "-o",
                                str(tmp_path / "a")).stdout)
    sidecar = Path(record["path"] + ".json")
    sidecar.write_text(sidecar.read_text().replace('"evolution": 0.5', '"evolution": NaN'))
    _refused(run_cli("generate", "--replay", str(sidecar), expect=None), str(sidecar), "NaN")
    with pytest.raises(ValueError):
        write_json(tmp_path / "x.json", {"value": float("nan")})  # nothing distill writes holds a bare NaN
    assert not (tmp_path / "x.json").exists()


def test_an_explicitly_empty_name_is_an_error(trained):
    _refused(run_cli("train", str(trained.parents[2] / "sounds"), "--name", "", expect=None),
             "invalid model name ''")


# -- output paths, concurrent runs, kill -9 -----------------------------------------------------------
def test_missing_folders_are_made_but_a_file_in_the_way_is_refused(trained, tmp_path):
    run_cli("generate", str(trained), "-d", "0.2", "--output", str(tmp_path / "new" / "dir" / "x.wav"))
    assert (tmp_path / "new" / "dir" / "x.wav").is_file()
    (tmp_path / "plain").write_text("a file")
    _refused(run_cli("generate", str(trained), "-d", "0.2", "--output", str(tmp_path / "plain" / "x.wav"),
                     expect=None), str(tmp_path / "plain"), "is not a folder")


def test_replay_writes_into_the_folder_given(trained, tmp_path):
    record = json.loads(run_cli("generate", str(trained), "-d", "0.3", "--seed", "4", "--json", "-o",
                                str(tmp_path / "a")).stdout)
    replayed = json.loads(run_cli("generate", "--replay", record["path"] + ".json", "-o", str(tmp_path / "b"),
                                  "--json").stdout)
    assert Path(replayed["path"]).parent == tmp_path / "b"
    assert np.array_equal(soundfile.read(record["path"])[0], soundfile.read(replayed["path"])[0])


def test_a_name_taken_while_rendering_is_never_overwritten(tmp_path):
    """The race two concurrent runs hit, made deterministic: the target appears mid-render."""
    export = ExportSettings.create("wav", sample_rate=44100)
    target = tmp_path / "clip.wav"

    def chunks():
        yield np.zeros(4410, dtype=np.float32)
        target.write_bytes(b"the other run's clip")
        (tmp_path / "clip_2.wav.json").write_text("{}")  # a sidecar claims a name too
        yield np.full(4410, 0.1, dtype=np.float32)

    free = FreeName(companion=lambda clip: clip.with_name(clip.name + ".json"))
    write_audio(chunks(), 44100, 0.2, target, export, publish=free)
    assert free.path == tmp_path / "clip_3.wav" and len(soundfile.read(free.path)[0]) == 8820
    assert target.read_bytes() == b"the other run's clip"

    with pytest.raises(FileExistsError):
        write_audio(chunks(), 44100, 0.2, target, export, publish=claim)
    assert target.read_bytes() == b"the other run's clip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav", "clip_2.wav.json", "clip_3.wav"]


def test_concurrent_runs_with_the_same_seed_keep_both_clips(trained, tmp_path):
    args = [DISTILL_EXE, "generate", str(trained), "-d", "4", "--seed", "9", "--json", "-o", str(tmp_path)]
    runs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    paths = [json.loads(out)["path"] for code, out, _ in results if code == 0]
    for code, _, err in results:
        assert code == 0 or "already exists" in err, err  # lost the up-front check: refused, nothing written
    assert len(set(paths)) == len(paths) >= 1
    clips = sorted(p for p in tmp_path.iterdir() if p.suffix == ".wav")
    assert [str(p) for p in clips] == sorted(paths)
    for clip in clips:
        assert json.loads(clip.with_name(clip.name + ".json").read_text())["file"] == clip.name


def test_kill_9_mid_render_leaves_no_scratch_and_the_next_run_cleans_up(trained, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    env = {**os.environ, "TMPDIR": str(scratch)}
    process = subprocess.Popen([DISTILL_EXE, "generate", str(trained), "-d", "300", "-o", str(out)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".") and f"-{process.pid}-" in left[0] and ".distill-" in left[0]
    assert not [p for p in out.iterdir() if p.suffix == ".f32"]  # the big float scratch is in TMPDIR
    assert [p.suffix for p in scratch.iterdir()] == [".f32"]
    run_cli("generate", str(trained), "-d", "0.2", "--seed", "1", "-o", str(out))
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the dead run's temp file is gone


def test_a_full_disk_is_reported_by_every_writer_and_leaves_no_partial_file(trained, tmp_path):
    """generate's export, model export, model import (copied, and rewritten under another name), train's
    checkpoint and model, and train-vocoder's bundle, each onto a file system too small for it."""
    small, medium = tmp_path / "small", tmp_path / "medium"
    small.mkdir()
    medium.mkdir()
    size = trained.stat().st_size
    # The small disk has more than 1 MB free, so only the error itself can say it is full (safetensors
    # words it its own way), but too little for the model or a 20 s clip; the medium one holds one copy
    # of the model, not two.
    assert size > 2_500_000
    mounts = (f"mount -t tmpfs -o size=2m tmpfs {small} && "
              f"mount -t tmpfs -o size={size + 100_000} tmpfs {medium}")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mounts],
                           capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"this machine cannot mount a small tmpfs for the test ({probe.stderr.strip()})")
    home, corpus = f"DISTILL_HOME={small}/home", trained.parents[2] / "sounds"
    writers = {
        "generate": f"{DISTILL_EXE} generate {trained} -d 20 --seed 1 -o {small}/clips",
        "export": f"{DISTILL_EXE} model export {trained} {small}/copy.distill",
        "import": f"{home} {DISTILL_EXE} model import {trained}",
        "import-renamed": f"{home} {DISTILL_EXE} model import {trained} --name other",
        "train": f"{home} {DISTILL_EXE} train {corpus} --name fresh --steps 3 --batch-size 2",
        "train-vocoder": (f"DISTILL_LOAD_PLUGINS=distill-hifigan {DISTILL_EXE} train-vocoder {medium}/m.distill "
                          "--backend hifigan --steps 2 --batch-size 2 --segment 4096"),
    }
    script = "; ".join([mounts, f"cp {trained} {medium}/m.distill",
                        *(f"{command}; echo {name}=$?" for name, command in writers.items()),
                        f"cmp {trained} {medium}/m.distill && echo unchanged",
                        f"echo files:; find {small} {medium} -type f"])
    result = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                            capture_output=True, text=True, timeout=600)
    assert all(f"{name}=1" in result.stdout for name in writers), (result.stdout, result.stderr)
    assert result.stderr.count(f"no space left on the disk holding {small}") == 5, result.stderr
    assert result.stderr.count(f"no space left on the disk holding {medium}") == 1, result.stderr
    assert "MB needed" in result.stderr and "Traceback" not in result.stderr
    # Nothing partial anywhere, and the model that was to get a vocoder is as it was.
    assert "unchanged" in result.stdout and result.stdout.split("files:")[1].split() == [f"{medium}/m.distill"]
