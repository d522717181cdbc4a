# ruff: noqa: F811  (the fixtures `site` and `hub` come from test_ui_browser)
"""The web UI as an instrument (issue 27), in a real browser: takes that survive a reload, Recall,
A/B at the same position, previews on release, keyboard shortcuts, menus that follow the library,
messages beside the fields, and the training guidance. Each bug of the issue is a test written from
the steps it lists. Same server and browser set-up as test_ui_browser.py (its own library)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from test_ui_browser import (  # noqa: F401  (hub, site: fixtures)
    fill,
    hub,
    open_page,
    options,
    pick,
    press,
    shoot,
    site,
    text,
    wait_for_option,
    wait_for_text,
)


def models(site: dict[str, Any]) -> Path:
    return Path(site["env"]["DISTILL_HOME"]) / "models"


def takes(page: Any) -> list[str]:
    """The names of the takes listed, newest first."""
    return page.locator("#gen-takes .take-name").evaluate_all("boxes => boxes.map(b => b.value)")


def take_button(page: Any, index: int, action: str) -> Any:
    return page.locator("#gen-takes .distill-take").nth(index).locator(f"button[data-{action}]")


def offered(page: Any, elem_id: str) -> list[str]:
    """The choices of the dropdown `elem_id` now, none when it offers nothing."""
    page.locator(f"#{elem_id} input").click()
    try:
        page.get_by_role("option").first.wait_for(timeout=3000)
        shown = page.get_by_role("option").all_inner_texts()
    except Exception:
        shown = []
    page.keyboard.press("Escape")
    page.locator(f"#{elem_id} input").blur()
    return [s.strip().splitlines()[-1] for s in shown]


def key(page: Any, name: str) -> None:
    """Press a key with nothing focused (keys typed into a field stay the field's)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press(name)


def upload(page: Any, elem_id: str, path: Path) -> None:
    """Choose `path` in the upload box `elem_id` (Gradio's audio box opens a file chooser)."""
    with page.expect_file_chooser() as chooser:
        try:
            page.locator(f"#{elem_id} button.upload-container").click(timeout=10000)
        except Exception:
            shoot(page, f"failed-upload-{elem_id}")
            raise
    chooser.value.set_files(str(path))


def unfold(page: Any, label: str, inside: str) -> None:
    """Open the accordion `label` until `inside` (a selector in it) shows."""
    for _ in range(3):
        page.get_by_text(label, exact=True).click()
        try:
            page.locator(inside).first.wait_for(state="visible", timeout=3000)
            return
        except Exception:
            continue
    shoot(page, "failed-unfold")
    raise AssertionError(f"the accordion {label!r} did not open")


def generate(page: Any, pattern: str = r"1 clip with") -> None:
    press(page, "gen-go", "#gen-message", pattern, timeout=120)


def test_takes_survive_a_reload_and_recall_restores_every_control(site):
    page = open_page(site)
    pick(page, "gen-model", "tiny")
    fill(page, "gen-duration", "1.5")
    fill(page, "gen-seed", "11")
    page.locator("#gen-preview-on input").uncheck()
    for control, value in (("gen-evolution", "0.8"), ("gen-temperature", "1.5"), ("gen-slider-0", "0.25")):
        page.locator(f"#{control} input[type=number]").fill(value)
        page.locator(f"#{control} input[type=number]").press("Enter")
    page.locator("#gen-prior label", has_text="gaussian").click()
    unfold(page, "Export", "#gen-format")
    pick(page, "gen-format", "flac")
    generate(page)
    assert takes(page)[0] == "tiny seed 11"
    page.reload()
    page.wait_for_selector("#gen-takes .distill-take")
    assert takes(page)[0] == "tiny seed 11"  # on disk in the library: a reload keeps it
    # change what Recall must put back, then recall
    fill(page, "gen-duration", "4")
    fill(page, "gen-seed", "3")
    for control in ("gen-evolution", "gen-temperature", "gen-slider-0"):
        page.locator(f"#{control} input[type=number]").fill("0.1")
        page.locator(f"#{control} input[type=number]").press("Enter")
    page.locator("#gen-prior label", has_text="learned").click()
    page.locator("#gen-takes .distill-take").first.locator("button[data-act=recall]").click()
    wait_for_text(page, "#takes-message", r"recalled 'tiny seed 11'")
    deadline = time.monotonic() + 10
    while page.locator("#gen-seed input").input_value() != "11":
        assert time.monotonic() < deadline, "Recall did not put the seed back"
        time.sleep(0.2)
    assert float(page.locator("#gen-duration input").input_value()) == 1.5
    for control, value in (("gen-evolution", 0.8), ("gen-temperature", 1.5), ("gen-slider-0", 0.25)):
        assert float(page.locator(f"#{control} input[type=number]").input_value()) == pytest.approx(value), control
    assert page.locator("#gen-prior input[value=gaussian]").is_checked()
    unfold(page, "Export", "#gen-format")  # closed again after the reload
    assert page.locator("#gen-format input").input_value() == "flac"
    # star, rename, then delete (a second click confirms)
    row = page.locator("#gen-takes .distill-take").first
    row.locator("button[data-act=star]").click()
    wait_for_text(page, "#takes-message", r"starred 'tiny seed 11'")
    assert "★" in page.locator("#gen-takes .distill-take").first.inner_text()
    page.locator("#gen-takes .take-name").first.fill("the good one")
    page.locator("#gen-takes .distill-take").first.locator("button[data-act=rename]").click()
    wait_for_text(page, "#takes-message", r"renamed 'tiny seed 11' to 'the good one'")
    assert takes(page)[0] == "the good one"
    href = page.locator("#gen-takes .distill-take a[download]").first.get_attribute("href")
    assert page.request.get(site["server"].url.rstrip("/") + href).body()[:4] == b"fLaC"
    delete = page.locator("#gen-takes .distill-take").first.locator("button[data-act=delete]")
    delete.click()
    assert "the good one" in takes(page)  # not yet: a second click confirms
    delete.click()
    wait_for_text(page, "#takes-message", r"deleted 'the good one'")
    assert "the good one" not in takes(page)
    page.close()


def test_ab_switches_between_two_takes_at_the_same_position(site):
    page = open_page(site)
    pick(page, "gen-model", "tiny")
    fill(page, "gen-duration", "3")
    fill(page, "gen-count", "2")
    page.locator("#gen-count input[type=number]").press("Enter")
    generate(page, r"2 clips with")
    rows = page.locator("#gen-takes .distill-take")
    rows.nth(0).locator("button[data-ab=a]").click()
    rows.nth(1).locator("button[data-ab=b]").click()
    player = page.locator("#ab-audio")
    first = player.get_attribute("src")
    page.wait_for_function("() => document.querySelector('#ab-audio').readyState >= 1")
    player.evaluate("a => { a.muted = true; a.currentTime = 1.25; }")
    key(page, "b")  # the keyboard's B: the same position in the other take
    page.wait_for_function("() => document.querySelector('#ab-audio').readyState >= 1 && "
                           "Math.abs(document.querySelector('#ab-audio').currentTime - 1.25) < 0.05")
    assert player.get_attribute("src") != first
    page.locator("#ab-switch").click()  # and back
    page.wait_for_function(f"() => document.querySelector('#ab-audio').getAttribute('src') === {first!r}")
    page.wait_for_function("() => Math.abs(document.querySelector('#ab-audio').currentTime - 1.25) < 0.05")
    assert "▶ A:" in text(page, "#ab-side")
    shoot(page, "takes")
    page.close()


def test_releasing_a_slider_renders_a_preview_and_the_keys_step_seeds(site):
    page = open_page(site)
    pick(page, "gen-model", "tiny")
    fill(page, "gen-seed", "20")
    page.locator("#gen-seed input").press("Enter")
    wait_for_text(page, "#gen-preview-info", r"preview of seed 20", timeout=60)
    page.locator("#gen-slider-0 input[type=range]").click(position={"x": 30, "y": 5})  # press and release
    info = wait_for_text(page, "#gen-preview-info", r"preview of seed 20 .* in \d+\.\d+ s", timeout=60)
    assert page.locator("#preview-audio").get_attribute("src")
    key(page, "ArrowRight")  # the next seed, and its preview
    wait_for_text(page, "#gen-preview-info", r"preview of seed 21", timeout=60)
    assert page.locator("#gen-seed input").input_value() == "21"
    key(page, "ArrowLeft")
    wait_for_text(page, "#gen-preview-info", r"preview of seed 20", timeout=60)
    player = page.locator("#preview-audio")
    player.evaluate("a => { a.muted = true; a.pause(); }")  # the preview may be playing by itself
    key(page, " ")  # space plays the current take, and pauses it
    page.wait_for_function("() => !document.querySelector('#preview-audio').paused")
    key(page, " ")
    page.wait_for_function("() => document.querySelector('#preview-audio').paused")
    before = takes(page)
    press(page, "gen-preview-star", "#takes-message", r"kept 'tiny seed 20 \(preview\)' as a starred take")
    assert takes(page)[0] == "tiny seed 20 (preview)" and len(takes(page)) == len(before) + 1
    assert re.search(r"in (\d+\.\d+) s", info)
    page.close()


def test_bad_input_gets_a_message_beside_its_field(site, tmp_path):
    page = open_page(site)
    pick(page, "gen-model", "tiny")
    page.locator("#gen-preview-on input").uncheck()  # no previews arriving while the test clicks
    for value, shown in (("-5", "-5 s"), ("0", "0 s"), ("100000", "100000 s")):
        fill(page, "gen-duration", value)
        page.locator("#gen-go").click()
        wait_for_text(page, "#gen-duration", re.escape(shown) + r" is not a duration the page renders")
    fill(page, "gen-duration", "1")
    box = page.locator("#gen-count input[type=number]")
    box.fill("50")
    box.press("Enter")
    wait_for_text(page, "#gen-count", r"50 is above this slider's range: it is set to its maximum, 8")
    box.fill("1")
    box.press("Enter")
    slider = page.locator("#gen-slider-0 input[type=number]")
    slider.fill("9999")
    slider.press("Enter")
    wait_for_text(page, "#gen-slider-0", r"9999 is above this slider's range")
    # a text file named .wav: refused when it is uploaded, by its own name
    fake = tmp_path / "notes.wav"
    fake.write_text("these are words, not sound")
    unfold(page, "Variation of a sound", "#gen-from-audio")
    upload(page, "gen-from-audio", fake)
    note = wait_for_text(page, "#gen-from-audio-note", r"notes\.wav is not a sound distill can read")
    assert "cache" not in note
    page.locator("#gen-from-audio button[aria-label='Clear']").first.click()
    # a sound uploaded for a morph switches Morph on
    sound = next((Path(site["home"]) / "sounds").glob("*.wav"))
    unfold(page, "Morph between two sounds or seeds", "#gen-morph")
    upload(page, "gen-morph-b-audio", sound)
    wait_for_text(page, "#gen-morph-b-audio-note", r"Morph is on")
    assert page.locator("#gen-morph input").is_checked()
    page.locator("#gen-morph input").uncheck()
    # a double click renders once
    before = len(takes(page))
    page.locator("#gen-go").dblclick()
    wait_for_text(page, "#gen-message", r"(?s)1 clip with.*morph sounds were not used", timeout=120)
    time.sleep(2)
    assert len(takes(page)) == before + 1
    # Train: a name of only spaces, negative steps
    page.locator("#tab-train-button").click()
    fill(page, "train-folder", str(site["home"] / "sounds"))
    fill(page, "train-name", "   ")
    fill(page, "train-steps", "-5")
    page.locator("#train-start").click()
    wait_for_text(page, "#train-name div.validation-error", r"only spaces")
    wait_for_text(page, "#train-steps div.validation-error", r"type 0")
    assert "No job running" in text(page, "#train-status")
    shoot(page, "input-errors")
    page.close()


def test_menus_follow_renames_and_deletions_in_every_page(site):
    shutil.copy(models(site) / "tiny.distill", models(site) / "corpus.distill")
    page, other = open_page(site), open_page(site, "library")
    unfold(page, "Blend with other models", "#gen-blend-weight-0")
    wait_for_option(page, "gen-blend-model-0", "corpus")
    pick(page, "gen-blend-model-0", "corpus")
    page.locator("#gen-blend-weight-0 input[type=number]").fill("0.5")
    page.locator("#gen-blend-weight-0 input[type=number]").press("Enter")
    wait_for_option(other, "lib-model", "corpus")
    pick(other, "lib-model", "corpus")
    other.locator("#lib-confirm input").check()
    press(other, "lib-delete", "#lib-message", r"deleted 'corpus'")
    wait_for_text(page, "#gen-blend-model-0-note", r"'corpus' is no longer in the library.*empty now", timeout=30)
    assert page.locator("#gen-blend-model-0 input").input_value() == ""
    fill(page, "gen-duration", "1")
    generate(page)  # the next action works
    assert "Error" not in text(page, "#gen-message")
    # a rename in one page: the other page's menu follows it
    pick(page, "gen-model", "tiny")
    wait_for_option(other, "lib-model", "tiny")
    pick(other, "lib-model", "tiny")
    fill(other, "lib-new-name", "tiny-2")
    press(other, "lib-rename", "#lib-message", r"renamed 'tiny' to 'tiny-2'")
    wait_for_text(page, "#gen-model-note", r"'tiny' was renamed to 'tiny-2'", timeout=30)
    assert page.locator("#gen-model input").input_value() == "tiny-2"
    fill(other, "lib-new-name", "tiny")
    press(other, "lib-rename", "#lib-message", r"renamed 'tiny-2' to 'tiny'")
    wait_for_text(page, "#gen-model-note", r"'tiny-2' was renamed to 'tiny'", timeout=30)
    # presets: one saved in this page, deleted in the other; this page's menu drops it
    fill(page, "gen-preset-name", "soft")
    press(page, "gen-preset-save", "#gen-message", r"saved preset 'soft'")
    wait_for_option(other, "lib-preset", "soft")
    pick(other, "lib-preset", "soft")
    press(other, "lib-preset-delete", "#lib-message", r"deleted preset 'soft'")
    deadline = time.monotonic() + 30
    while "soft" in offered(page, "gen-preset"):
        assert time.monotonic() < deadline, "the Generate page still offers the deleted preset"
        time.sleep(0.5)
    page.close()
    other.close()


def test_pages_say_what_is_true(site):
    page = open_page(site, "library")
    wait_for_text(page, "#lib-info", r"tiny")
    assert "library is empty" not in text(page, "#lib-info") and "no presets" in text(page, "#lib-presets")
    page.locator("#tab-generate-button").click()
    pick(page, "gen-model", "tiny")
    wait_for_text(page, "#gen-vocoder-info", r"auto.*picks")
    pick(page, "gen-vocoder", "hifigan-base")
    wait_for_text(page, "#gen-vocoder-info", r"hifigan-base.*renders this model \(chosen here\)")
    # a cancelled render shows no clip as its result
    fill(page, "gen-duration", "1")
    generate(page)
    page.locator("#gen-audio-0").wait_for(state="visible")
    fill(page, "gen-duration", "600")
    page.locator("#gen-go").click()
    page.locator("#gen-audio-0 .progress-text, #gen-message .progress-text").first.wait_for(timeout=30000)
    press(page, "gen-cancel", "#gen-cancel-message", r"cancelling")
    wait_for_text(page, "#gen-message", r"render cancelled after .*nothing was written")
    page.locator("#gen-audio-0").wait_for(state="hidden")
    assert "interrupted at step" not in text(page, "#gen-message")
    page.close()


def test_training_presets_show_steps_and_time_and_resume_keeps_the_curve(site):
    page = open_page(site, "train")
    fill(page, "train-folder", str(site["home"] / "sounds"))
    page.locator("#train-estimate").click()
    wait_for_text(page, "#train-estimates", r"5 files, 0:0\d of audio; times from \d+ ms per training step")
    shown = options(page, "train-preset")
    assert any(re.fullmatch(r"sketch: 400 steps, about \d+:\d\d", s) for s in shown), shown
    assert any(s.startswith("auto (conservative): ") for s in shown), shown
    fill(page, "train-steps", "2000")
    press(page, "train-start", "#train-status", r"(?s)training 'sounds'.*train step [1-9]")  # the model's name
    status = press(page, "train-cancel", "#train-status", r"cancelled", timeout=120)
    first = re.search(r"loss curve from step (\d+)", status)
    assert first, status
    stopped = int(re.search(r"train step (\d+)", status)[1])
    fill(page, "train-steps", str(stopped + 40))  # a resumed run may change its length
    press(page, "train-resume", "#train-status", r"resuming 'sounds'")
    done = wait_for_text(page, "#train-status", rf"saved sounds: {stopped + 40} steps", timeout=300)
    assert f"loss curve from step {first[1]}" in done  # the curve goes on instead of restarting
    shoot(page, "train-resumed")
    page.close()
