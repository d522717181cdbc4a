"""Problems and hints in each face's own words (issue 27): a DistillError (or a Hint, for a warning)
says what went wrong, and names its fix as a Fix of a closed vocabulary; the CLI says the fix with
options and commands, a Python caller with keyword arguments, the web page with its buttons and fields
(distill.ui.words), beside the control it is about."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import distill
import pytest
from conftest import run_cli, small_model
from distill import DistillError, Fix, Hint, Interrupted, VocoderState
from distill.errors import ACTIONS
from distill.plugin.host import installed_vocoders
from distill.progress import Reporter
from distill.ui.words import CONTROLS, PAGE, control_for, fix_words, ui_message
from distill.vocoders.selection import select_vocoder

OPTION = re.compile(r"(?<![\w-])--[a-z]")
VARIABLE = re.compile(r"\b(?:DISTILL|HF)_[A-Z_]+\b")


def page_words_only(text: str) -> str:
    """`text`, after checking it names no option, variable or command (what the page must never show)."""
    assert not OPTION.search(text) and not VARIABLE.search(text) and "`" not in text, text
    return text


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A small trained model file, and its recordings beside it in `sounds/`."""
    return small_model(tmp_path_factory.mktemp("faces"))


# -- the vocabulary ------------------------------------------------------------------------------
def test_every_action_has_words_in_all_three_faces():
    assert set(PAGE) == set(ACTIONS)
    for action in ACTIONS:
        fix = Fix(action, "hifigan")
        cli, python, page = fix.words("cli"), fix.words("python"), fix_words(fix)
        assert cli and python and page, action
        assert not OPTION.search(python), (action, python)  # keyword arguments, never options
        page_words_only(page)
        assert PAGE[action][1] in CONTROLS, action
    with pytest.raises(ValueError, match="unknown fix action 'reboot'"):
        Fix("reboot")


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_fix_written_in_cli_words_reads_the_same_on_the_page(action):
    """A plugin's message with the fix in CLI words and no Fix behaves as before (the CLI shows it as
    it is) and reads on the page as the structured one does."""
    structured = DistillError("the thing went wrong", Fix(action, "hifigan"))
    legacy = DistillError(structured.cli_message)
    assert legacy.fix is None and legacy.message == legacy.cli_message == structured.cli_message
    assert ui_message(legacy) == ui_message(structured)
    assert control_for(legacy) == control_for(structured) == PAGE[action][1]


def test_a_message_without_a_fix_is_rewritten_where_recognised():
    cases = {
        "--temperature must be between 0.05 and 2, got 5": ("Temperature must be between 0.05 and 2, got 5",
                                                             "temperature"),
        "griffinlim-fitted needs a state: run `distill train-vocoder MODEL` first":
            ("griffinlim-fitted needs a state: train one in the Vocoders tab first (Start), or pick another in the "
             "Vocoder menu", "vocoder"),
        "DISTILL_BIGVGAN_PRECISION='fp8': choose one of auto, fp32":
            ("the BigVGAN precision distill was started with ('fp8'): choose one of auto, fp32", "vocoder"),
        "no interrupted run of 'drums' to resume; drop --resume to start training":
            ("no interrupted run of 'drums' to resume; press Start instead of Resume", "start"),
        "nothing to act on here": ("nothing to act on here", None),
        "an option it does not know: --frobnicate": ("an option it does not know: --frobnicate", None),
    }
    for message, (page, control) in cases.items():
        assert (ui_message(message), control_for(message)) == (page, control)
        assert (ui_message(DistillError(message)), ui_message(Hint(message))) == (page, page)
    # the legacy path as before: the CLI shows the text as it is, Python callers get keyword arguments
    odd = DistillError("/takes/my--take.wav (--resume X): run `distill train DIR --name N`, or add --overwrite")
    assert odd.cli_message == odd.message and odd.fix is None
    assert str(odd) == "/takes/my--take.wav (resume=X): run `distill train DIR --name N`, or add overwrite=True"


def test_hints_and_interruptions_carry_their_fix():
    hint = Hint("several trainable vocoders are installed; training 'hifigan'", Fix("backend"))
    assert hint.cli_message.endswith("training 'hifigan': choose another with --backend NAME")
    assert str(hint).endswith(": choose another with backend=NAME")
    assert ui_message(hint).endswith(": pick another in the Backend menu") and control_for(hint) == "backend"
    events: list[distill.Progress] = []
    Reporter(events.append).say(hint)
    assert events[0].message == hint.cli_message and events[0].hint == hint

    command = "distill train sounds --name cut --resume"
    stop = Interrupted(12, Path("vae.ckpt"), command)
    assert stop.fix == Fix("resume", command) and stop.resume == command
    assert stop.cli_message == f"interrupted at step 12; checkpoint saved to vae.ckpt: resume with `{command}`"
    assert str(stop).endswith(": call it again with resume=True")
    assert ui_message(stop) == "interrupted at step 12; checkpoint saved to vae.ckpt: press Resume"
    assert control_for(stop) == "resume"
    cancelled = Interrupted(3, None, message="render cancelled after 0.3 s of 2.0 s; nothing was written")
    assert cancelled.fix is None and ui_message(cancelled) == cancelled.cli_message


# -- real errors through real code paths ----------------------------------------------------------
def test_training_into_a_taken_name_or_resuming_nothing(trained):
    distill.import_model(trained)  # this test's library now holds 'field'
    sounds = trained.parents[2] / "sounds"
    with pytest.raises(DistillError) as taken:
        distill.train(sounds, "field", steps=2)
    problem = taken.value
    assert problem.fix == Fix("overwrite-model") and "a model named 'field' already exists" in problem.message
    assert problem.cli_message.endswith(": pick another --name, or add --overwrite to replace it")
    assert str(problem).endswith(": pick another name, or pass overwrite=True to replace it")
    page = page_words_only(ui_message(problem))
    assert page.endswith(": pick another Model name, or delete the old model in the Library tab")
    assert control_for(problem) == "model-name"
    result = run_cli("train", str(sounds), "--name", "field", expect=1)
    assert "pick another --name, or add --overwrite to replace it" in result.stderr

    with pytest.raises(DistillError) as nothing:
        distill.train(sounds, "other", resume=True)
    assert nothing.value.fix == Fix("drop-resume", "train") and "--resume" in nothing.value.cli_message
    assert page_words_only(ui_message(nothing.value)).endswith(": press Start training instead of Resume")
    assert control_for(nothing.value) == "start"

    copy = trained.parents[2] / "copy"
    copy.mkdir(exist_ok=True)
    with pytest.raises(DistillError) as clash:
        distill.import_model(distill.export_model("field", copy, overwrite=True))
    assert clash.value.fix == Fix("import-as") and "--name NAME" in clash.value.cli_message
    assert "give another name in Import as" in page_words_only(ui_message(clash.value))
    assert control_for(clash.value) == "import-name"


@pytest.mark.usefixtures("griffin_lim_only")
def test_asking_generate_for_a_vocoder_that_cannot_be_used(trained, tmp_path):
    with pytest.raises(DistillError) as per_model:
        distill.generate(trained, seconds=0.5, vocoder="griffinlim-fitted", output_dir=tmp_path)
    problem = per_model.value
    assert problem.fix == Fix("train-vocoder", "griffinlim-fitted")
    assert problem.cli_message.endswith(": run `distill train-vocoder MODEL --backend griffinlim-fitted` first")
    assert str(problem).endswith(": train one with train_vocoder(MODEL, backend='griffinlim-fitted') first")
    assert "train one in the Vocoders tab first (Backend griffinlim-fitted, then Start)" in page_words_only(
        ui_message(problem))
    assert control_for(problem) == "vocoder"
    result = run_cli("generate", str(trained), "-d", "0.5", "--vocoder", "griffinlim-fitted", "-o", str(tmp_path),
                     expect=1)
    assert "`distill train-vocoder MODEL --backend griffinlim-fitted` first" in result.stderr

    with pytest.raises(DistillError) as missing:
        distill.generate(trained, seconds=0.5, vocoder="bigvgan", output_dir=tmp_path)
    assert missing.value.fix == Fix("choose-vocoder") and "--vocoder NAME" in missing.value.cli_message
    assert page_words_only(ui_message(missing.value)).endswith(": pick another in the Vocoder menu")

    converted = distill.generate(trained, seconds=0.5, vocoder="griffinlim-22k", output_dir=tmp_path)
    assert converted.warnings == [hint.cli_message for hint in converted.hints]
    assert any("converts the model's mels" in ui_message(hint) for hint in converted.hints)
    assert "asked for by name" in converted.reason and "--" not in converted.reason
    choices = distill.vocoder_choices(trained)
    assert choices.why.message == choices.reason and choices.warnings == [h.cli_message for h in choices.hints]


def test_a_backend_warning_names_its_fix_for_each_face():
    hifigan = installed_vocoders()["hifigan"]
    model = SimpleNamespace(mel_spec=distill.DISTILL_MEL,  # what selection reads of a model
                            vocoder_state={"hifigan": VocoderState("hifigan", "0.1.0", training={"steps": 10})})
    choice = select_vocoder(model, installed={"hifigan": hifigan})
    (hint,) = choice.hints
    assert hint.fix == Fix("train-more", "3000")
    assert choice.warnings[0].endswith(": train further with `distill train-vocoder MODEL --resume --steps 3000`")
    assert page_words_only(ui_message(hint)).endswith(": set Steps to 3000 in the Vocoders tab and press Resume")


def test_the_page_words_need_no_gradio():
    import subprocess
    import sys

    code = "import sys, distill.ui.words; assert 'gradio' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
