"""The model library and `distill model …`, through the real functions and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import run_cli, run_distill
from distill import DistillError, library
from distill.cli import cli
from distill.library import (
    checkpoint_dir,
    delete_model,
    export_model,
    import_model,
    list_models,
    model_path,
    models_dir,
    presets_path,
    resolve_model,
    save_to_library,
)
from distill.modelfile import load_model, read_header
from test_modelfile import make_model


def _library(*names: str) -> dict[str, str]:
    """Save models named `names` (ids 1111abcd0001, 2222abcd0002, ...); returns name -> id."""
    ids = {}
    for i, name in enumerate(names, start=1):
        ids[name] = f"{i}{i}{i}{i}abcd{i:04d}"
        save_to_library(make_model(name, model_id=ids[name], seed=i))
    return ids


def test_paths_live_under_distill_home(tmp_path):
    home = tmp_path / "distill-home"
    assert library.library_root() == home
    assert model_path("field") == home / "models" / "field.distill"
    assert presets_path("field") == home / "models" / "field.presets.json"
    assert checkpoint_dir("field") == home / "checkpoints" / "field"


@pytest.mark.parametrize("name", ["", ".hidden", "-dash", "a/b", "with space", "x" * 65, "naïve"])
def test_invalid_names_are_refused(name):
    with pytest.raises(DistillError, match=r"invalid model name .*letters, digits"):
        model_path(name)


def test_save_to_library_refuses_to_replace_unless_asked():
    _library("field")
    with pytest.raises(DistillError, match=r"already exists .*distill model delete field"):
        save_to_library(make_model("field", seed=5), overwrite=False)
    save_to_library(make_model("field", model_id="00000000000f", seed=5))
    assert read_header(model_path("field"))["id"] == "00000000000f"


def test_listing_shows_every_model_and_survives_a_corrupt_one():
    _library("field", "birds")
    (models_dir() / "broken.distill").write_bytes(b"\0" * 40)
    (models_dir() / ".field.distill.abc123.tmp").write_bytes(b"half a save")  # a crashed save
    presets_path("field").write_text("{}")

    entries = {e.name: e for e in list_models()}
    assert list(entries) == ["birds", "broken", "field"]
    field = entries["field"]
    assert (field.id, field.files, field.seconds, field.steps) == ("1111abcd0001", 12, 185.4, 2000)
    assert field.sliders == ["brightness", "character 1"] and field.vocoders == ["griffinlim-fitted"]
    assert field.size == model_path("field").stat().st_size and field.error is None
    assert "not a distill model file (found: 40 bytes of unknown data)" in entries["broken"].error

    table = run_cli("model", "list").stdout
    header, *rows = table.splitlines()
    assert header.split() == ["NAME", "ID", "CREATED", "FILES", "AUDIO", "STEPS", "SLIDERS", "VOCODERS", "SIZE"]
    expected = ["field", "1111abcd0001", "2026-05-09", "07:35", "12", "3:05", "2000", "2", "griffinlim-fitted"]
    assert rows[2].split()[:9] == expected
    assert "broken: " in table and "40 bytes of unknown data" in table

    listed = json.loads(run_cli("model", "list", "--json").stdout)
    assert [m["name"] for m in listed] == ["birds", "broken", "field"]
    assert listed[2]["path"] == str(model_path("field")) and listed[2]["sliders"] == ["brightness", "character 1"]
    assert listed[1]["error"].startswith(str(models_dir() / "broken.distill"))


def test_empty_library():
    assert list_models() == []
    assert run_cli("model", "list").stdout.strip() == "(no models yet: distill train DIR --name NAME)"
    assert json.loads(run_cli("model", "list", "--json").stdout) == []
    with pytest.raises(DistillError, match=r"library at .*distill-home is empty: train one with train\(DIR, NAME\)"
                       ) as caught:
        resolve_model("field")
    assert "is empty: train one with `distill train DIR --name NAME`" in caught.value.cli_message


def test_resolve_by_path_name_and_id_prefix(tmp_path):
    _library("field", "birds")
    outside = tmp_path / "elsewhere.distill"
    outside.write_bytes(model_path("birds").read_bytes())
    assert resolve_model("field") == model_path("field")
    assert resolve_model(str(outside)) == outside
    assert resolve_model("2222") == model_path("birds")
    assert resolve_model("1111ABCD") == model_path("field")  # ids match case-insensitively
    save_to_library(make_model("copy", model_id="1111ffff0003"))
    assert resolve_model("1111a") == model_path("field")
    with pytest.raises(DistillError, match=r"id prefix '1111' matches several models: copy \(1111ffff0003\), field"):
        resolve_model("1111")
    with pytest.raises(DistillError) as unknown:
        resolve_model("feild")
    assert "no model named 'feild' in the library at" in str(unknown.value)
    assert "available: birds, copy, field" in str(unknown.value)
    with pytest.raises(DistillError, match=r"model file not found: nowhere/x\.distill"):
        resolve_model("nowhere/x.distill")


def test_info_shows_the_whole_header():
    _library("field")
    text = run_cli("model", "info", "1111").stdout  # by id prefix
    for fragment in (
        "field",
        "id          1111abcd0001",
        "mel recipe  44100 Hz, 128 slaney mels, n_fft 2048, hop 512, magnitude, ln",
        "latent_dim=4",
        "seconds: 185.4",
        "losses: [1.5, 0.25]",
        "brightness   -4 .. 8 st  brightness +4 st: measured +3.7 st ± 0.3; loudness +0.4 dB",
        "character 1  -1 .. 1",
        "no density slider: why not",
        "griffinlim-fitted (version 1.0)",
        "steps: 300",
    ):
        assert fragment in text, fragment
    info = json.loads(run_cli("model", "info", "field", "--json").stdout)
    assert info["path"] == str(model_path("field")) and info["training"]["steps"] == 2000
    assert info["mel_spec"]["n_mels"] == 128 and info["sliders"]["sliders"][1]["name"] == "axis 1"
    assert info["vocoder_state"]["griffinlim-fitted"]["training"] == {"steps": 300, "seconds": 12.5}
    assert "no model named 'nope'" in run_cli("model", "info", "nope", expect=1).stderr


def test_delete_asks_first_and_removes_presets_and_checkpoints():
    _library("field", "birds")
    presets_path("field").write_text("{}")
    checkpoint_dir("field").mkdir(parents=True)
    (checkpoint_dir("field") / "vae.ckpt").write_bytes(b"x")

    kept = CliRunner().invoke(cli, ["model", "delete", "field"], input="n\n")
    assert kept.exit_code == 1, kept.output
    assert "Delete model 'field':" in kept.stdout and str(checkpoint_dir("field")) in kept.stdout
    assert model_path("field").exists() and checkpoint_dir("field").exists()

    assert CliRunner().invoke(cli, ["model", "delete", "field"], input="y\n").exit_code == 0
    assert not model_path("field").exists()
    assert not presets_path("field").exists() and not checkpoint_dir("field").exists()
    assert model_path("birds").exists()

    removed = run_cli("model", "delete", "birds", "--yes").stdout
    assert f"removed {model_path('birds')}" in removed
    assert list_models() == []
    assert "library at" in run_cli("model", "delete", "birds", "--yes", expect=1).stderr


def test_delete_clears_an_interrupted_run_and_never_touches_files_outside(tmp_path):
    checkpoint_dir("half").mkdir(parents=True)  # training was interrupted: no model file yet
    assert delete_model("half") == [checkpoint_dir("half")]
    outside = tmp_path / "mine.distill"
    _library("field")
    outside.write_bytes(model_path("field").read_bytes())
    with pytest.raises(DistillError, match="is not in the model library"):
        delete_model(str(outside))
    assert outside.exists()


def test_import_and_export(tmp_path):
    _library("field")
    exports = tmp_path / "exports"
    exports.mkdir()
    result = run_cli("model", "export", "field", str(exports))
    exported = exports / "field.distill"
    assert str(exported) in result.stdout
    assert exported.read_bytes() == model_path("field").read_bytes()
    assert "already exists: pass --overwrite" in run_cli("model", "export", "field", str(exported), expect=1).stderr
    run_cli("model", "export", "field", str(exported), "--overwrite")
    assert "folder" in run_cli("model", "export", "field", str(tmp_path / "no" / "x.distill"), expect=1).stderr

    # Importing a file of the same name clashes; --name renames (and the header follows); --overwrite replaces.
    clash = run_cli("model", "import", str(exported), expect=1).stderr
    assert "a model named 'field' is already in the library" in clash and "--overwrite" in clash
    run_cli("model", "import", str(exported), "--name", "field-copy")
    assert load_model(model_path("field-copy")).name == "field-copy"
    other = tmp_path / "other.distill"
    other.write_bytes(b"")
    save_to_library(make_model("field", model_id="9999abcd0009", seed=9))
    run_cli("model", "import", str(exported), "--overwrite")
    assert read_header(model_path("field"))["id"] == "1111abcd0001"
    assert "found: empty file" in run_cli("model", "import", str(other), expect=1).stderr
    assert sorted(e.name for e in list_models()) == ["field", "field-copy"]
    assert [p.name for p in models_dir().iterdir() if p.name.endswith(".tmp")] == []

    with pytest.raises(DistillError, match="invalid model name"):
        import_model(exported, name="bad name")
    assert export_model("field-copy", tmp_path / "copy.distill") == tmp_path / "copy.distill"


def _without_torch(code: str) -> list[str]:
    """Run `code` in a fresh interpreter; it prints whether torch and numpy got imported."""
    code += "; print('torch' in sys.modules, 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-2:]


def test_listing_reads_headers_without_torch():
    _library("field", "birds")
    code = "import sys; from distill.library import list_models, resolve_model; assert len(list_models()) == 2"
    assert _without_torch(code + "; resolve_model('2222')") == ["False", "False"]


def test_model_list_runs_without_torch():
    _library("field", "birds")
    code = (
        "import sys; from click.testing import CliRunner; from distill.cli import cli; "
        "r = CliRunner().invoke(cli, ['model', 'list']); assert r.exit_code == 0, r.output; assert 'birds' in r.output"
    )
    assert _without_torch(code) == ["False", "False"]

    listed = run_distill("model", "list", "--json")  # the installed console script, in a fresh process
    assert [m["name"] for m in json.loads(listed.stdout)] == ["birds", "field"]
