"""The web UI's parts that need no browser: the uploads into the library, renaming, the vocoder menu,
comparison renderings, the job runner, the escaping of file data in pages, and the CLI entry
(`distill ui` without Gradio, other commands never importing it)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import soundfile
from conftest import run_cli
from distill import DistillError, add_recordings, compare_vocoders, import_model, rename_model, vocoder_choices
from distill.examples import make_example_corpus
from distill.library import checkpoint_dir, model_path, presets_path, recordings_dir
from distill.modelfile import read_header
from distill.progress import Progress
from distill.slider_presets import load_presets


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_LOAD_PLUGINS", "distill-hifigan")
    make_example_corpus(tmp_path / "sounds", files=5, seconds=1.0, seed=2)
    run_cli("train", str(tmp_path / "sounds"), "--name", "tiny", "--steps", "4", "--batch-size", "2")
    return "tiny"


def test_uploads_become_a_library_folder_of_usable_audio_under_safe_names(tmp_path):
    made = make_example_corpus(tmp_path / "incoming", files=3, seconds=1.0, seed=1)
    odd = tmp_path / "odd"
    odd.mkdir()
    renamed = [odd / "..%2F..%2Fescape.wav", odd / "a b;rm -rf.WAV", odd / "tone-000.wav"]
    for source, target in zip(made, renamed, strict=True):
        target.write_bytes(source.read_bytes())
    (odd / "notes.txt").write_text("not audio")
    (odd / "broken.flac").write_bytes(b"fLaC not really")
    (odd / "copy.wav").write_bytes(made[0].read_bytes())  # a duplicate of the first
    folder, skipped = add_recordings(sorted(odd.iterdir()), "field")
    assert folder == recordings_dir("field") and folder.is_dir()
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == ["2F..-2Fescape.wav", "a-b-rm--rf.wav", "tone-000.wav"]
    assert all(p.parent == folder for p in folder.iterdir())  # nothing left the folder
    reasons = {s.relative: s.kind for s in skipped}
    assert reasons == {"notes.txt": "not-audio", "broken.flac": "unreadable", "copy.wav": "duplicate"}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging folder left
    with pytest.raises(DistillError, match="already exists"):
        add_recordings(made, "field")


def test_uploads_with_nothing_usable_are_refused_and_leave_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("words")
    (tmp_path / "b.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(DistillError, match=r"none of the uploaded files can be trained on.*a\.txt.*b\.wav"):
        add_recordings([tmp_path / "a.txt", tmp_path / "b.wav"], "empty")
    assert not recordings_dir("empty").exists()
    assert not list(recordings_dir("empty").parent.iterdir())
    with pytest.raises(DistillError, match="invalid recordings folder name"):
        add_recordings([tmp_path / "b.wav"], "../up")


def test_rename_moves_the_file_its_name_presets_and_checkpoints(model):
    run_cli("preset", "save", model, "soft", "--slider", "0=0.1")
    checkpoint_dir(model).mkdir(parents=True, exist_ok=True)
    (checkpoint_dir(model) / "marker").write_text("x")
    result = run_cli("model", "rename", model, "field")
    assert "renamed 'tiny' to 'field'" in result.output
    assert not model_path("tiny").exists() and read_header(model_path("field"))["name"] == "field"
    assert "soft" in load_presets("field") and not presets_path("tiny").exists()
    assert (checkpoint_dir("field") / "marker").exists() and not checkpoint_dir("tiny").exists()
    import_model(model_path("field"), name="other")
    with pytest.raises(DistillError, match=r"other\.distill already exists"):
        rename_model("field", "other")
    assert model_path("field").exists()


def test_vocoder_menu_lists_what_can_render_and_what_auto_picks(model, monkeypatch):
    choices = vocoder_choices(model)
    assert [(o.name, o.status) for o in choices.options] == [("hifigan-base", "weights present")]
    assert choices.auto == "hifigan-base" and "universal" in choices.reason
    monkeypatch.setenv("DISTILL_LOAD_PLUGINS", "")
    from distill.plugin import host as plugins

    plugins._hosts.clear()
    nothing = vocoder_choices(model)
    assert nothing.options == [] and nothing.auto is None and "no vocoder can render" in nothing.reason


def test_comparison_keeps_each_held_out_file_and_every_rendering_and_reports_each_stage(model, tmp_path):
    stages = []
    result = compare_vocoders(model, renderings=tmp_path / "listen", steps=stages.append)
    assert [(e.phase, e.step, e.total) for e in stages] == [
        ("pitch of the held-out recordings", 0, 3), ("render and measure hifigan-base", 1, 3),
        ("render and measure griffin-lim 32 it (baseline)", 2, 3), ("measured", 3, 3)]
    assert result.renderings and len(result.renderings) == result.files
    for files in result.renderings.values():
        assert list(files) == ["original", "hifigan-base", "griffin-lim 32 it (baseline)"]
        lengths = {soundfile.info(str(path)).frames for path in files.values()}
        assert len(lengths) == 1 and all(path.parent.parent == tmp_path / "listen" for path in files.values())


def test_the_job_runner_runs_one_job_at_a_time_and_cancels_on_shutdown():
    from distill.progress import Interrupted
    from distill.ui.jobs import MAX_POINTS, JobRunner

    runner = JobRunner()
    started = threading.Event()

    def work(job):
        for step in range(1, 10**6):
            job.on_progress(Progress("train", step, 10**6, {"l1": 1.0 / step, "step": float(step)}))
            started.set()
            if job.cancel.is_set():
                raise Interrupted(step, None, "distill train … --resume")
            time.sleep(0.0005)

    job = runner.start("train", "training 'a'", work)
    started.wait(10)
    with pytest.raises(DistillError, match="training 'a' is running"):
        runner.start("download", "downloading", lambda job: None)
    time.sleep(0.5)
    runner.shutdown(timeout=10)
    assert job.state == "cancelled" and job.resume.endswith("--resume") and runner.changes == 1
    assert {row["loss"] for row in job.curve} == {"l1"}  # the step counter is not a loss
    assert len({row["step"] for row in job.curve}) <= MAX_POINTS
    again = runner.start("download", "downloading", lambda job: 1 / 0)  # a bug in a job: a message, not a crash
    runner.shutdown(timeout=10)
    assert again.state == "failed" and "ZeroDivisionError" in again.error


def test_file_data_is_escaped_in_the_pages(tmp_path):
    from distill import ModelInfo
    from distill.ui.views import facts_html

    header = {"name": "<script>alert(1)</script>", "training": {"corpus_path": "<img src=x onerror=alert(1)>"},
              "sliders": {"sliders": [{"name": "<b>", "low": 0, "high": 1, "default": 0.5}]}, "vocoder_state": {}}
    page = facts_html(ModelInfo(tmp_path / "m.distill", header), 10)
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page


def test_other_commands_never_import_gradio():
    code = ("import sys\nfrom distill.cli import main\nsys.argv = ['distill', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('gradio' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().endswith("False"), result.stderr
    assert " ui " in result.stdout or "\n  ui" in result.stdout


def test_distill_ui_without_gradio_says_what_to_install():
    code = ("import sys\nsys.modules['gradio'] = None\nfrom distill.cli import main\n"
            "sys.argv = ['distill', 'ui', '--no-browser']\nmain()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'pip install "distill[ui]"' in result.stderr
