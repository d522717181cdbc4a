"""Plugin discovery through the real entry points of the installed example plugins
(tests/plugins/distill-griffinlim works; tests/plugins/distill-broken is broken on purpose)."""

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import distill.plugin
from conftest import run_cli, run_distill
from distill.plugin import hookimpl
from distill.plugin.host import get_plugins


def test_plugins_json_lists_working_and_broken_plugins():
    result = run_cli("plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["griffinlim"]["status"] == "ok"
    assert plugins["griffinlim"]["distribution"] == "distill-griffinlim"
    assert plugins["griffinlim"]["hooks"] == ["register_commands", "register_vocoders"]
    assert plugins["broken-import"]["status"] == "error"
    assert "RuntimeError: distill-broken fails to import on purpose" in plugins["broken-import"]["errors"][0]
    errors = plugins["broken-hooks"]["errors"]
    assert any("register() takes a VocoderBase subclass" in e for e in errors)
    assert any("register_commands failed: ValueError" in e for e in errors)


def test_broken_plugin_never_takes_a_command_down():
    result = run_distill("vocoders")
    assert "griffinlim" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("distill: warning")]
    # one line per broken plugin, naming it and what to do
    assert len(warnings) == 2
    assert any("'broken-import'" in w and "import failed: RuntimeError" in w and "distill plugins" in w
               for w in warnings)
    assert any("'broken-hooks'" in w and "register_vocoders failed: TypeError" in w and "distill plugins" in w
               for w in warnings)


def test_vocoders_json_describes_backends():
    rows = {r["name"]: r for r in json.loads(run_cli("vocoders", "--json").stdout)}
    assert {"griffinlim", "griffinlim-22k", "griffinlim-fitted"} <= set(rows)
    assert rows["griffinlim"]["kind"] == "universal"
    assert rows["griffinlim"]["sample_rate"] == 44100
    assert rows["griffinlim-22k"]["mel_spec"]["n_mels"] == 80
    assert rows["griffinlim-fitted"]["weights"] == "per model"
    assert rows["griffinlim"]["package"] == "distill-griffinlim"


def test_plugin_commands_appear_and_run():
    assert "griffinlim-info" in run_cli("--help").stdout
    assert "32 iterations" in run_cli("griffinlim-info").stdout


def test_load_plugins_empty_loads_none():
    env = {"DISTILL_LOAD_PLUGINS": ""}
    assert json.loads(run_cli("plugins", "--json", env=env).stdout) == []
    assert json.loads(run_cli("vocoders", "--json", env=env).stdout) == []
    assert "griffinlim-info" not in run_cli("--help", env=env).stdout


def test_load_plugins_names_distributions():
    env = {"DISTILL_LOAD_PLUGINS": "distill-griffinlim"}
    result = run_distill("plugins", "--json", env=env)
    assert [p["name"] for p in json.loads(result.stdout)] == ["griffinlim"]
    assert "warning" not in result.stderr  # the broken plugin was never imported
    env = {"DISTILL_LOAD_PLUGINS": " distill_broken "}  # normalised like pip names
    names = {p["name"] for p in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert names == {"broken-import", "broken-hooks"}


def test_help_and_plugins_do_not_import_torch():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from distill.cli import cli\n"
        "for args in (['--help'], ['plugins'], ['--version']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class InProcessPlugin:
    """A stub plugin registered in-process (no package), declaring fewer arguments than the hookspecs
    pass: `register_commands` takes none, as a plugin written before a hook gained one would."""

    called: ClassVar[list[str]] = []

    @hookimpl
    def register_vocoders(self, register):
        from distill_griffinlim.vocoders import GriffinLim

        class Stub(GriffinLim):
            name = "in-process-stub"

        register(Stub)

    @hookimpl
    def register_commands(self):
        self.called.append("register_commands")


def test_in_process_plugins_get_only_the_arguments_they_declare():
    get_plugins().register(InProcessPlugin(), name="stub")
    rows = {r["name"]: r for r in json.loads(run_cli("vocoders", "--json").stdout)}
    assert rows["in-process-stub"]["package"] == "(in-process)"
    result = run_cli("--help")
    assert InProcessPlugin.called == ["register_commands"]
    assert "stub" not in result.stderr  # no warning: the short signature is pluggy's contract, not an error
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "--json").stdout)}
    assert plugins["stub"]["status"] == "ok" and plugins["stub"]["hooks"] == ["register_commands",
                                                                               "register_vocoders"]


PLUGIN_SOURCES = ["packages/distill-bigvgan/src", "packages/distill-hifigan/src", "tests/plugins"]


def test_backends_import_only_the_plugin_surface():
    """distill-bigvgan, distill-hifigan and the example plugins are the templates third parties copy:
    they import from `distill.plugin` (or the top-level `distill`), never a private module."""
    root = Path(__file__).parent.parent
    offending = []
    for folder in PLUGIN_SOURCES:
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                           else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                offending += [f"{path.relative_to(root)}: {m}" for m in modules
                              if m.startswith("distill.") and m != "distill.plugin"]
    assert offending == []
    assert set(distill.plugin.__all__) >= {"hookimpl", "VocoderBase", "VocoderState", "VocoderTrainingRun",
                                           "Interrupted", "DownloadProgress", "read_audio", "save_checkpoint",
                                           "load_checkpoint", "resolve_device"}


class Impostor:
    """A second plugin registering a vocoder under a name another package already holds."""

    @hookimpl
    def register_vocoders(self, register):
        from distill_griffinlim.vocoders import GriffinLim

        class Copy(GriffinLim):
            name = "griffinlim"

        register(Copy)


def test_a_vocoder_name_that_is_taken_is_refused_and_the_first_one_kept():
    get_plugins().register(Impostor(), name="impostor")
    rows = {r["name"]: r for r in json.loads(run_cli("vocoders", "--json").stdout)}
    assert rows["griffinlim"]["package"] == "distill-griffinlim"
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "--json").stdout)}
    assert plugins["impostor"]["status"] == "error"
    assert any("vocoder name 'griffinlim' is already taken by distill-griffinlim" in e
               for e in plugins["impostor"]["errors"])
