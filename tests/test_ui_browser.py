"""The web UI in a real browser: `distill ui` runs as a subprocess on a free port with a library of its
own, and headless Chromium (Debian's, driven by Playwright) uses it as a person would. Screenshots of
every tab are kept in tests/artifacts/ui/ (docs/ui.md shows them).

Skipped, with the reason, where Playwright or a Chromium binary is missing (`nox -s tests` installs
both where it can: see noxfile.py)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile
from bigvgan_weights import COMMIT, REPO_ID, TINY, weight_files, write_pin
from conftest import DISTILL_EXE, run_cli
from distill.examples import make_example_corpus
from distill.modelfile import load_model, read_header, save_model
from distill.sliders import Control, describe, header_sliders
from distill_bigvgan.pin import PIN_ENV
from distill_bigvgan.weights import ENDPOINT_ENV
from hub_standin import FakeHub, serve

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)

ARTIFACTS = Path(__file__).parent / "artifacts" / "ui"
PLUGINS = "distill-hifigan,distill-bigvgan"
LAUNCH_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]  # Chromium calls nothing outside


class Server:
    """`distill ui` in a subprocess; `url` once it serves."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen([DISTILL_EXE, "ui", "--no-browser", "--port", "0"], env=env,
                                        stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
        self.started = time.monotonic()
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until the server prints its URL (or dies)
        match = re.search(r"http://\S+/", line)
        assert match, (line, log.read_text())
        self.url = match[0]
        self.cold_start = time.monotonic() - self.started

    def stop(self) -> str:
        """SIGTERM (what a service manager sends); returns what it printed while stopping."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=120)
        return out


def environment(home: Path, hub: FakeHub, **extra: str) -> dict[str, str]:
    scratch = home / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    outer = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env = {**outer, "DISTILL_HOME": str(home / "library"), "DISTILL_LOAD_PLUGINS": PLUGINS,
           "HF_HUB_CACHE": str(home / "hf-cache"), ENDPOINT_ENV: hub.endpoint,
           PIN_ENV: str(write_pin(home / "pin.json", weight_files(TINY, seed=3))),
           "TMPDIR": str(scratch), "XDG_RUNTIME_DIR": str(scratch), "XDG_CACHE_HOME": str(home / "xdg-cache"),
           "XDG_CONFIG_HOME": str(home / "xdg-config"), **extra}
    return env


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    with serve(FakeHub(pause=1.5)) as fake:  # slow enough that the page shows a download under way
        fake.add(REPO_ID, COMMIT, weight_files(TINY, seed=3))
        yield fake


@pytest.fixture(scope="module")
def site(tmp_path_factory, hub) -> Iterator[dict[str, Any]]:
    """A library with one tiny model, `distill ui` serving it, and a Chromium to look at it."""
    home = tmp_path_factory.mktemp("ui")
    env = environment(home, hub)
    make_example_corpus(home / "sounds", files=5, seconds=1.5, seed=4)
    run_cli("train", str(home / "sounds"), "--name", "tiny", "--steps", "10", "--batch-size", "4",
            env={"DISTILL_HOME": env["DISTILL_HOME"], "DISTILL_LOAD_PLUGINS": PLUGINS})
    server = Server(env, home / "server.log")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield {"home": home, "env": env, "server": server, "browser": browser}
        finally:
            browser.close()
            server.stop()


def open_page(site: dict[str, Any], tab: str | None = None) -> Any:
    page = site["browser"].new_page(viewport={"width": 1280, "height": 1400})
    page.goto(site["server"].url)
    page.wait_for_selector("#gen-go")
    if tab:
        page.locator(f"#tab-{tab}-button").click()
    return page


def pick(page: Any, elem_id: str, option: str) -> None:
    """Choose `option` (its visible text, or the start of it) in the dropdown `elem_id`."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()


def options(page: Any, elem_id: str) -> list[str]:
    """The choices the dropdown `elem_id` offers now."""
    page.locator(f"#{elem_id} input").click()
    try:
        page.get_by_role("option").first.wait_for(timeout=10000)
    except playwright.Error:
        shoot(page, f"failed-{elem_id}")
        raise
    shown = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    page.locator(f"#{elem_id} input").blur()  # a focused dropdown does not open again on a click
    return [s.strip().splitlines()[-1] for s in shown]  # without the ✓ of the chosen one


def fill(page: Any, elem_id: str, value: str) -> None:
    """Type `value` into the text or number box `elem_id`."""
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(value)


def text(page: Any, selector: str) -> str:
    """What `selector` shows: a text box's value, or the element's text."""
    box = page.locator(f"{selector} textarea")
    return box.input_value() if box.count() else page.locator(selector).inner_text()


def press(page: Any, button: str, selector: str, pattern: str, timeout: float = 60.0) -> str:
    """Click the button `button` (an elem_id), then wait for `pattern` in `selector`'s text."""
    page.locator(f"#{button}").click()
    return wait_for_text(page, selector, pattern, timeout)


def wait_for_text(page: Any, selector: str, pattern: str, timeout: float = 60.0) -> str:
    """Poll `selector`'s text until `pattern` (a regex) is found in it; returns the text."""
    deadline = time.monotonic() + timeout
    while True:
        found = text(page, selector) if page.locator(selector).count() else ""
        if re.search(pattern, found):
            return found
        assert time.monotonic() < deadline, f"{selector} never showed {pattern!r}; it shows {found!r}"
        time.sleep(0.2)


def download(page: Any, selector: str) -> list[tuple[str, bytes]]:
    """The files behind the download links in `selector`, fetched as the browser would."""
    links = page.locator(f"{selector} a.download-link")
    links.first.wait_for()
    return [(links.nth(i).get_attribute("download"), page.request.get(links.nth(i).get_attribute("href")).body())
            for i in range(links.count())]


def wait_for_option(page: Any, elem_id: str, option: str, timeout: float = 30.0) -> None:
    """Wait until the dropdown `elem_id` offers `option` (menus refresh within a second of a change)."""
    deadline = time.monotonic() + timeout
    while option not in (shown := options(page, elem_id)):
        assert time.monotonic() < deadline, f"{elem_id} never offered {option!r}: {shown}"
        time.sleep(0.5)


CLI_WORDS = re.compile(r"(?<![\w-])--[a-z]|\b(?:DISTILL|HF_HUB)_[A-Z_]+|`distill ")


def no_cli_words(page: Any) -> None:
    """The page's messages name its buttons and fields, never an option, a variable or a command."""
    shown = " ".join(page.locator(".distill-error, .distill-note, #gen-vocoder-info, #gen-message, "
                                  "[id$=-status]").all_inner_texts())
    assert not CLI_WORDS.search(shown), shown


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_generate_with_a_slider_and_a_vocoder(site):
    page = open_page(site)
    slider = page.locator("#gen-slider-0")
    slider.wait_for(state="visible")
    first = header_sliders(read_header(Path(site["env"]["DISTILL_HOME"]) / "models" / "tiny.distill"))[0]
    span = page.locator("#gen-slider-0 input[type=range]")
    low, high = float(span.get_attribute("min") or "nan"), float(span.get_attribute("max") or "nan")
    assert (low, high) == (first["low"], first["high"])
    wanted = round(low + 0.75 * (high - low), 2)
    box = page.locator("#gen-slider-0 input[type=number]")
    box.fill(str(wanted))
    box.press("Enter")
    assert re.search(r"auto.*picks.*hifigan-base", text(page, "#gen-vocoder-info"))
    pick(page, "gen-vocoder", "hifigan-base (weights present)")
    fill(page, "gen-duration", "2.5")
    fill(page, "gen-seed", "7")
    press(page, "gen-go", "#gen-message", r"1 clip with hifigan-base")
    page.locator("#gen-spec-0 img").wait_for()
    files = dict(download(page, "#gen-files-0"))
    assert set(files) == {"tiny-7.wav", "tiny-7.wav.json"}
    audio, rate = soundfile.read(io.BytesIO(files["tiny-7.wav"]))
    assert rate == 48000 and len(audio) == round(2.5 * 48000)
    sidecar = json.loads(files["tiny-7.wav.json"])
    assert sidecar["vocoder"]["name"] == "hifigan-base"
    assert sidecar["settings"]["sliders"][0][1] == pytest.approx(wanted, abs=0.01)  # a briefly trained model's
    shoot(page, "generate")
    fill(page, "gen-duration", "600")  # a long render can be cancelled
    page.locator("#gen-go").click()
    page.locator("#gen-audio-0 .progress-text, #gen-message .progress-text").first.wait_for(timeout=30000)
    press(page, "gen-cancel", "#gen-cancel-message", r"cancelling")
    wait_for_text(page, "#gen-message", r"render cancelled after")
    page.close()


def test_named_sliders_show_their_unit_and_what_they_were_measured_to_do(site):
    """A model's named sliders (their calibration is written here: the page shows what a model stores)."""
    library = Path(site["env"]["DISTILL_HOME"]) / "models"
    model = load_model(library / "tiny.distill")
    brightness = Control("brightness", "st", -1, [-8.0, -4.0, 4.0, 8.0], -4.0, 8.0, 0.93, 0.08,
                         {"loudness": [-0.1, 0.05]}, channel=1)
    model.name, model.sliders.controls = "tuned", [brightness]
    save_model(model, library / "tuned.distill")
    page = open_page(site)
    try:
        pick(page, "gen-model", "tuned")
        slider = page.locator("#gen-slider-0")
        wait_for_text(page, "#gen-slider-0", r"brightness \(st\)")
        assert describe(brightness) in slider.inner_text()  # "brightness +4 st: measured +3.7 st ± 0.32; …"
        span = page.locator("#gen-slider-0 input[type=range]")
        assert (float(span.get_attribute("min") or "nan"), float(span.get_attribute("max") or "nan")) == (-4.0, 8.0)
        assert not page.locator("#gen-slider-1").is_visible()
    finally:
        page.close()
        (library / "tuned.distill").unlink()


def test_train_shows_skipped_files_progress_in_every_page_then_cancel_and_resume(site):
    folder = site["home"] / "new-sounds"
    make_example_corpus(folder, files=6, seconds=1.5, seed=9)
    (folder / "notes.txt").write_text("not audio")
    page, other = open_page(site, "train"), open_page(site, "train")
    fill(page, "train-folder", str(folder))
    fill(page, "train-name", "fresh")
    fill(page, "train-steps", "150")
    press(page, "train-start", "#train-log", r"skipped notes\.txt: not audio")
    wait_for_text(page, "#train-status", r"train step [1-9]\d* / 150")
    wait_for_text(other, "#train-status", r"training 'fresh'.*running")  # a second page sees the same job
    other.locator("#tab-vocoders-button").click()  # a second long job is refused meanwhile
    press(other, "voc-start", "#voc-message", r"training 'fresh' is running: wait for it to finish")
    assert "training 'fresh' is (one long job at a time)" in text(other, "#voc-status")  # not "No job running"
    status = press(page, "train-cancel", "#train-status", r"cancelled")
    assert "Resume" in status and "--resume" not in status  # the page's button, not the command line's option
    assert re.search(r"l1.*kl", text(page, "#train-status .distill-legend"))  # the plot's legend, beside it
    checkpoint = Path(site["env"]["DISTILL_HOME"]) / "checkpoints" / "fresh" / "vae.ckpt"
    assert checkpoint.is_file()
    shoot(page, "train")
    press(page, "train-resume", "#train-status", r"saved fresh: 150 steps", timeout=300)
    assert not checkpoint.exists()
    other.locator("#tab-generate-button").click()  # the new model is offered without a reload
    wait_for_option(other, "gen-model", "fresh")
    page.close()
    other.close()


def test_train_a_vocoder_and_the_generate_menu_offers_it(site):
    page = open_page(site, "vocoders")
    # The page refreshes its menus at its first tick: when the earlier test trained "fresh", pick after
    # that, or on a busy machine the refresh puts the first model back and "fresh" gets the vocoder.
    if (Path(site["env"]["DISTILL_HOME"]) / "models" / "fresh.distill").exists():
        wait_for_option(page, "voc-model", "fresh")
    pick(page, "voc-model", "tiny")
    fill(page, "voc-steps", "10")
    press(page, "voc-start", "#voc-status", r"train step \d+ / 10")
    result = wait_for_text(page, "#voc-status", r"bundled hifigan into", timeout=300)
    assert "auto now picks" in result
    assert not CLI_WORDS.search(text(page, "#voc-log")), text(page, "#voc-log")  # the log in the page's words too
    shoot(page, "vocoders")
    page.locator("#tab-generate-button").click()
    pick(page, "gen-model", "tiny")
    wait_for_option(page, "gen-vocoder", "hifigan (bundled, 10 steps)")
    page.close()


def test_download_bigvgan_weights_with_progress_in_the_page(site):
    page = open_page(site, "vocoders")
    assert "not downloaded" in text(page, "#voc-table")
    pick(page, "voc-download-name", "bigvgan")
    # while it runs, a file with bytes done / total (the line before the first file's bytes is not enough)
    press(page, "voc-download", "#voc-download-status",
          r"(?s)downloading 'bigvgan' weights — running.*(config\.json|bigvgan_generator\.pt).*/")
    wait_for_text(page, "#voc-download-status", r"the weights are on this machine", timeout=60)
    wait_for_text(page, "#voc-table", r"bigvgan\s+universal\s+present")
    page.locator("#tab-generate-button").click()
    pick(page, "gen-model", "tiny")
    wait_for_option(page, "gen-vocoder", "bigvgan (weights present)")
    page.close()


def test_library_and_comparison_pages(site, tmp_path):
    page = open_page(site, "library")
    # A page opened after a model was trained refreshes its menus at its first tick: pick after it, or the
    # refresh can put the first model back into the menu (issue 27: menus that stay true).
    wait_for_option(page, "lib-model", "fresh")
    pick(page, "lib-model", "tiny")
    wait_for_text(page, "#lib-info", r"vocoder hifigan.*bundled")
    page.locator("#lib-export").click()
    exported = dict(download(page, "#lib-export-file"))
    assert list(exported) == ["tiny.distill"]
    copy = tmp_path / "copy.distill"
    copy.write_bytes(exported["tiny.distill"])
    page.locator("#lib-import-file input[type=file]").set_input_files(str(copy))
    fill(page, "lib-import-name", "twin")
    press(page, "lib-import", "#lib-message", r"imported 'twin'")
    fill(page, "lib-new-name", "twin-renamed")
    press(page, "lib-rename", "#lib-message", r"renamed 'twin' to 'twin-renamed'")
    press(page, "lib-delete", "#lib-message", r"tick the box to confirm")
    page.locator("#lib-confirm input").check()
    press(page, "lib-delete", "#lib-message", r"deleted 'twin-renamed'")
    wait_for_text(page, "#lib-table", r"^(?![\s\S]*twin)")  # within a tick, on a busy machine
    shoot(page, "library")

    page.locator("#tab-compare-button").click()
    pick(page, "cmp-model", "tiny")
    press(page, "cmp-run", "#cmp-result", r"render and measure", timeout=120)  # each stage, not a bare 0.0%
    wait_for_text(page, "#cmp-result", r"griffin-lim 32 it", timeout=300)
    players = page.locator("#cmp-result table.distill-listen audio")
    names = page.locator("#cmp-result table.distill-listen tr").first.inner_text()
    assert all(n in names for n in ("original", "hifigan", "hifigan-base", "bigvgan"))
    box, width = page.locator("#cmp-result table.distill-listen").bounding_box(), page.viewport_size["width"]
    assert box["x"] + box["width"] <= width  # the grid fits the page (it scrolls inside its box)
    first = players.first.get_attribute("src")
    audio, rate = soundfile.read(io.BytesIO(page.request.get(site["server"].url.rstrip("/") + first).body()))
    assert rate == 44100 and len(audio) > 0
    shoot(page, "compare")
    page.close()


def test_user_errors_are_readable_messages_in_the_page(site, tmp_path):
    page = open_page(site, "train")
    folder = page.locator("#train-folder textarea, #train-folder input").first
    name = page.locator("#train-name textarea, #train-name input").first
    folder.fill(str(tmp_path / "nowhere"))
    press(page, "train-start", "#train-status .distill-error", r"training folder does not exist")  # the job's outcome
    wait_for_text(page, "#train-fields-note", r"does not exist: .*: type the folder that holds your recordings")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("words")
    folder.fill(str(tmp_path / "texts"))
    press(page, "train-start", "#train-status .distill-error", r"no usable|not audio")
    folder.fill(str(site["home"] / "sounds"))
    name.fill("tiny")
    press(page, "train-start", "#train-status .distill-error", r"a model named 'tiny' already exists")
    wait_for_text(page, "#train-fields-note", r"already exists.*pick another Model name")  # beside the name
    no_cli_words(page)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    page.get_by_text("…or upload recordings").click()
    page.locator("#train-upload input[type=file]").set_input_files([str(broken), str(tmp_path / "texts" / "a.txt")])
    fill(page, "train-upload-name", "../escape")
    press(page, "train-upload-go", "#train-message .distill-error", r"invalid recordings folder name")
    fill(page, "train-upload-name", "bad-upload")
    press(page, "train-upload-go", "#train-message .distill-error", r"none of the uploaded files can be trained on")

    page.locator("#tab-library-button").click()
    fake = tmp_path / "fake.distill"
    fake.write_bytes(b"\x80\x04pickle, not a model" * 10)
    page.locator("#lib-import-file input[type=file]").set_input_files(str(fake))
    press(page, "lib-import", "#lib-message .distill-error", r"fake\.distill")

    page.locator("#tab-generate-button").click()
    pick(page, "gen-model", "fresh")
    (Path(site["env"]["DISTILL_HOME"]) / "models" / "fresh.distill").unlink()  # gone behind the page's back
    wait_for_text(page, "#gen-model-note", r"'fresh' is no longer in the library.*showing")  # dropped, said
    no_cli_words(page)
    shoot(page, "errors")
    assert "Traceback" not in page.content()
    page.close()


def test_offline_without_weights_and_no_vocoder_at_all(site, hub, tmp_path):
    """A second server with BigVGAN as the only vocoder, offline, weights not here; then with none."""
    library = site["env"]["DISTILL_HOME"]
    for plugins, expected in (("distill-bigvgan", r"could not be reached|offline|HF_HUB_OFFLINE"),
                              ("", r"no vocoder can render this model")):
        env = {**environment(tmp_path / (plugins or "none"), hub, HF_HUB_OFFLINE="1", DISTILL_LOAD_PLUGINS=plugins),
               "DISTILL_HOME": library}
        server = Server(env, tmp_path / f"server-{plugins or 'none'}.log")
        try:
            page = site["browser"].new_page()
            page.goto(server.url)
            page.wait_for_selector("#gen-go")
            pick(page, "gen-model", "tiny")
            wait_for_text(page, "#gen-vocoder-info", r"\w")  # the model's menus are filled: it is picked
            press(page, "gen-go", "#gen-message .distill-error", expected, timeout=120)
            no_cli_words(page)
            if plugins:
                page.locator("#tab-vocoders-button").click()
                press(page, "voc-download", "#voc-download-status .distill-error", expected)
                assert "downloading" not in text(page, "#voc-message")  # no stale line beside the failure
                no_cli_words(page)
            assert "Traceback" not in page.content()
            page.close()
        finally:
            server.stop()


def test_closing_the_browser_keeps_training_and_stopping_the_server_saves_a_checkpoint(site, tmp_path):
    """Last: it stops the module's server."""
    page = open_page(site, "train")
    fill(page, "train-folder", str(site["home"] / "sounds"))
    fill(page, "train-name", "long")
    fill(page, "train-steps", "100000")
    press(page, "train-start", "#train-status", r"train step [1-9]")
    page.close()  # the only page showing it goes
    time.sleep(2)
    again = open_page(site, "train")
    step = int(re.search(r"train step (\d+)", wait_for_text(again, "#train-status", r"running"))[1])
    wait_for_text(again, "#train-status", rf"train step (?!{step} )\d+")  # still moving
    again.close()
    printed = site["server"].stop()
    assert "stopping: cancelling training 'long'" in printed
    assert (Path(site["env"]["DISTILL_HOME"]) / "checkpoints" / "long" / "vae.ckpt").is_file()
    assert site["server"].process.returncode == 0
    print(f"cold start (distill ui to URL printed): {site['server'].cold_start:.1f} s", file=sys.stderr)
