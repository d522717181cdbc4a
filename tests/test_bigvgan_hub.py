"""Getting the BigVGAN weights: real `hf_hub_download` calls against a real HTTP stand-in for the Hub on
127.0.0.1 (tests/hub_standin.py), each test with its own Hugging Face cache."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import torch
from bigvgan_weights import (
    COMMIT,
    REPO_ID,
    TINY,
    config_with,
    one_thread,  # noqa: F401  (an autouse fixture)
    weight_files,
    write_pin,
)
from conftest import run_cli
from distill import DistillError
from distill.ui.words import control_for, ui_message
from distill_bigvgan import is_bigvgan_cached
from distill_bigvgan.backend import BigVGAN
from distill_bigvgan.pin import PIN_ENV, load_pin
from distill_bigvgan.weights import ENDPOINT_ENV, WEIGHTS_ENV, cached_path
from hub_standin import FakeHub, serve

FILES = weight_files(TINY, seed=3)
CHECKPOINT = "bigvgan_generator.pt"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The stand-in Hub serving the tiny generator at the pinned commit; distill pointed at it."""
    with serve(FakeHub()) as fake:
        fake.add(REPO_ID, COMMIT, FILES)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "pin.json", FILES)))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv(WEIGHTS_ENV, raising=False)
        yield fake


def cached(name: str) -> Path:
    return cached_path(load_pin(), name)


def render_one_frame_block() -> torch.Tensor:
    vocoder = BigVGAN.load()
    return vocoder.render(torch.full((1, 128, 20), -5.0))


def test_first_download_reports_progress_into_the_standard_cache(hub, tmp_path):
    assert not is_bigvgan_cached() and not BigVGAN.weights_present()
    seen: dict[str, list[tuple[int, int]]] = {}
    BigVGAN.download(progress=lambda name, done, total: seen.setdefault(name, []).append((done, total)))
    assert set(seen) == set(FILES)
    for name, calls in seen.items():
        assert calls[-1] == (len(FILES[name]), len(FILES[name]))
        assert [done for done, _ in calls] == sorted(done for done, _ in calls)  # only forward
    assert cached(CHECKPOINT) == tmp_path / "hf-cache" / f"models--{REPO_ID.replace('/', '--')}" / "snapshots" / \
        COMMIT / CHECKPOINT
    assert cached(CHECKPOINT).read_bytes() == FILES[CHECKPOINT]
    assert {r.path.rsplit("/", 1)[1] for r in hub.requests} == set(FILES)  # never the discriminator file
    assert is_bigvgan_cached()


def test_once_cached_loading_makes_no_request(hub, monkeypatch):
    BigVGAN.download()
    before = len(hub.requests)
    audio = render_one_frame_block()
    assert audio.shape == (1, 20 * 512) and torch.isfinite(audio).all()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    BigVGAN.download()  # already there: nothing to fetch, so offline is fine
    assert len(hub.requests) == before


def test_interrupted_download_resumes_where_it_stopped(hub, tmp_path, monkeypatch):
    # huggingface_hub writes whole 10 MB chunks, so resuming needs a file past the first chunk: a 15 MB one.
    files = weight_files(config_with(upsample_initial_channel=512, resblock_kernel_sizes=[3],
                                     resblock_dilation_sizes=[[1]]))
    size = len(files[CHECKPOINT])
    hub.add(REPO_ID, COMMIT, files)
    monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "big-pin.json", files)))
    hub.drop_after[CHECKPOINT] = size - 1000
    progress: list[int] = []
    BigVGAN.download(progress=lambda name, done, total: progress.append(done) if name == CHECKPOINT else None)
    first, second = hub.gets(CHECKPOINT)
    assert first.range is None and second.range is not None
    resumed_at = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert size // 3 < resumed_at < size - 1000  # it continued from what it had, not from the start
    assert cached(CHECKPOINT).read_bytes() == files[CHECKPOINT]
    assert progress[-1] == size and max(progress) == size


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repo_id": "nvidia/no-such-vocoder"}, "has no repository nvidia/no-such-vocoder"),
        ({"revision": "f" * 40}, f"has no revision {'f' * 40}"),
        ({"missing": CHECKPOINT}, f"has no file {CHECKPOINT}"),
    ],
)
def test_missing_repository_revision_or_file(hub, tmp_path, monkeypatch, change, message):
    if "missing" in change:
        hub.add(REPO_ID, COMMIT, {"config.json": FILES["config.json"]})
    else:
        monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "other-pin.json", FILES, **change)))
    with pytest.raises(DistillError, match=message):
        BigVGAN.download()
    assert any(r.method == "HEAD" for r in hub.requests)


def test_checksum_mismatch_is_refused_and_evicted(hub, tmp_path, monkeypatch):
    wrong = {"size": len(FILES[CHECKPOINT]), "sha256": "0" * 64}
    monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "pin.json", FILES, override={CHECKPOINT: wrong})))
    with pytest.raises(DistillError, match=f"SHA-256 {hashlib.sha256(FILES[CHECKPOINT]).hexdigest()} instead of "
                                           f"the pinned {'0' * 64}.*removed from the cache"):
        BigVGAN.download()
    assert not cached(CHECKPOINT).exists() and not is_bigvgan_cached()
    with pytest.raises(DistillError, match="SHA-256"):
        BigVGAN.load()  # loading tries again, and refuses again


def test_partial_cached_file_is_downloaded_again(hub, monkeypatch):
    BigVGAN.download()
    blob = cached(CHECKPOINT).resolve()
    blob.write_bytes(FILES[CHECKPOINT][:1000])  # a truncated blob
    assert not is_bigvgan_cached()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DistillError, match=r"bigvgan_generator.pt \(1000 bytes instead of .*partial or damaged"
                                           r".*download_vocoder\('bigvgan'\)"):
        BigVGAN.load()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    gets = len(hub.gets(CHECKPOINT))
    render_one_frame_block()
    assert len(hub.gets(CHECKPOINT)) == gets + 1 and cached(CHECKPOINT).read_bytes() == FILES[CHECKPOINT]


def test_unreadable_checkpoint_is_detected_without_pinned_hashes(hub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(PIN_ENV, str(write_pin(tmp_path / "null-pin.json")))  # sizes and hashes unknown
    BigVGAN.download()
    cached(CHECKPOINT).resolve().write_bytes(b"not a checkpoint" * 100)
    gets = len(hub.gets(CHECKPOINT))
    render_one_frame_block()
    assert "is not a readable PyTorch checkpoint" in capsys.readouterr().err
    assert len(hub.gets(CHECKPOINT)) == gets + 1


def test_offline_without_cache_says_how_to_get_the_weights(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DistillError) as error:
        BigVGAN.load()
    message = str(error.value)  # a Python caller's words
    assert "HF_HUB_OFFLINE is set" in message and "download_vocoder('bigvgan')" in message
    assert f"{WEIGHTS_ENV}=/that/folder" in message and "config.json (missing)" in message
    cli = error.value.cli_message  # the command line's
    assert "HF_HUB_OFFLINE is set" in cli and "`distill vocoders download bigvgan`" in cli
    assert f"{WEIGHTS_ENV}=/that/folder" in cli
    page = ui_message(error.value)  # the web page's: its own button, no variable or command
    assert "config.json (missing)" in page and "download them in the Vocoders tab (Download)" in page
    assert "HF_HUB" not in page and WEIGHTS_ENV not in page and "`" not in page and "--" not in page
    assert control_for(error.value) == "weights"
    assert hub.requests == []
    result = run_cli("vocoders", "download", "bigvgan", expect=1)
    assert "distill vocoders download bigvgan" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # huggingface_hub retries a refused connection with back-off for about 23 s
def test_unreachable_hub_gives_the_same_advice(hub, monkeypatch):
    with serve(FakeHub()) as gone:
        endpoint = gone.endpoint
    monkeypatch.setenv(ENDPOINT_ENV, endpoint)  # a port nobody listens on any more
    with pytest.raises(DistillError, match=r"could not be reached: .*download_vocoder\('bigvgan'\)") as error:
        BigVGAN.download()
    assert "`distill vocoders download bigvgan`" in error.value.cli_message


def test_weights_folder_copied_by_hand(hub, tmp_path, monkeypatch):
    folder = tmp_path / "copied"
    folder.mkdir()
    (folder / "config.json").write_bytes(FILES["config.json"])
    monkeypatch.setenv(WEIGHTS_ENV, str(folder))
    assert not is_bigvgan_cached()  # the checkpoint is still missing
    with pytest.raises(DistillError, match=re.escape(f"weights in {folder}: bigvgan_generator.pt is missing")) as error:
        BigVGAN.load()
    assert error.value.cli_message.endswith(f"or unset {WEIGHTS_ENV} to use the Hugging Face cache")
    assert WEIGHTS_ENV not in ui_message(error.value) and control_for(error.value) == "weights"
    (folder / CHECKPOINT).write_bytes(FILES[CHECKPOINT][:-1] + b"x")  # right size, wrong bytes
    with pytest.raises(DistillError, match=r"SHA-256 .* instead of the pinned"):
        BigVGAN.load()
    (folder / CHECKPOINT).write_bytes(FILES[CHECKPOINT])
    assert is_bigvgan_cached()
    assert render_one_frame_block().shape == (1, 20 * 512)
    assert hub.requests == []


def test_cli_lists_cache_state_and_downloads(hub):
    listing = run_cli("vocoders").stdout
    row = next(line for line in listing.splitlines() if line.startswith("bigvgan"))
    assert "universal" in row and "not downloaded" in row and "distill-bigvgan" in row
    result = run_cli("vocoders", "download", "bigvgan")
    assert "bigvgan: weights are on this machine" in result.stdout
    assert CHECKPOINT in result.stderr  # the progress bars
    row = next(line for line in run_cli("vocoders").stdout.splitlines() if line.startswith("bigvgan"))
    assert "present" in row
