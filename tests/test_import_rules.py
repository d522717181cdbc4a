"""The house's import rules (issue 26), read from the source: the CLI and the web UI reach distill
only through its API (`import distill` / `from .. import NAME`, NAME public), a vocoder backend only
through `distill.plugin`, no module imports one of a higher layer (docs/development.md), and no two
modules import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import distill
import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
CORE = PACKAGES / "distill-core" / "src" / "distill"
LAYERS = [  # bottom up: each module of distill-core (or subpackage) by its first name under distill
    ["errors", "names", "humanize", "files", "atomic", "threads", "devices", "progress", "checkpoint"],
    ["audio", "melspec", "mrstft", "griffinlim", "melconvert", "audio_metrics", "descriptors"],  # signal
    ["plugin", "plugins"],  # the plugin surface (hooks, the vocoder contract, the host; plugins: its old address)
    ["vae", "conditioning", "sliders", "latents", "prior", "model", "modelfile", "library", "slider_presets",
     "ingest", "uploads", "train_settings", "training", "export", "examples", "takes"],  # the model and its files
    ["pipeline", "previews", "vocoders", "controls", "calibration"],  # rendering and measuring
    ["api"],
    ["cli", "ui", "demo"],  # the faces
]


def imports(path: Path, package: str) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, names) of every import in a module of `package` (e.g. "distill.cli")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):  # level 1 is `package` itself, 2 its parent …
            base = package.split(".")
            parent = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join(parent + ([node.module] if node.module else []))
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def module_graph(root: Path = CORE) -> dict[str, set[str]]:
    """Which modules of distill-core each one imports (at the top or inside a function): `from P import
    name` needs P.name when that is a module, else P. The package facade `distill` (which imports the
    whole API, and which modules read `__version__` from) is left out."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (path, name if path.name == "__init__.py" else name.rsplit(".", 1)[0])
    graph = {}
    for name, (path, package) in modules.items():
        needs = set()
        for _, module, names in imports(path, package):
            subs = {f"{module}.{n}" for n in names} & modules.keys()
            needs |= subs or {module}
        graph[name] = {m for m in needs if m in modules and m not in (name, "distill")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def breaches_of_the_door(face: str, core: Path = CORE) -> list[str]:
    """What a face package (cli, ui) imports from distill other than its public names and itself."""
    own = f"distill.{face}"
    public = set(distill.__all__)
    out = []
    for path in sorted((core / face).rglob("*.py")):
        for line, module, names in imports(path, own):
            where = f"{path.relative_to(core)}:{line}"
            if module == own or module.startswith(own + "."):
                continue
            if module == "distill" and names:
                out += [f"{where} distill.{n}" for n in names if n not in public]
            elif module.startswith("distill.") and not (face == "cli" and module == "distill.ui"):
                out.append(f"{where} {module}")
    return out


@pytest.mark.parametrize("face", ["cli", "ui"])
def test_the_faces_use_only_the_api(face):
    assert breaches_of_the_door(face) == []


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a module of a higher layer than the importer's (a module missing from LAYERS is one)."""
    def layer(module: str) -> int:
        first = module.split(".")[1] if "." in module else "api"  # the package's facade is the API's
        return next((i for i, names in enumerate(LAYERS) if first in names), -1)

    out = [f"{m} is in no layer" for m in graph if layer(m) < 0]
    return out + [f"{a} -> {b}" for a, needs in sorted(graph.items()) for b in sorted(needs) if layer(b) > layer(a)]


def test_the_demo_and_the_examples_use_only_the_api():
    """The demo is a face too (it shows progress as the CLI does and synthesises its corpus with
    examples.py, which needs nothing of distill)."""
    allowed = {"distill", "distill.cli.progress_view", "distill.examples"}
    found = []
    for name in ("demo.py", "examples.py"):
        for line, module, names in imports(CORE / name, "distill"):
            if module == "distill":
                found += [f"{name}:{line} distill.{n}" for n in names if n not in distill.__all__]
            elif module.startswith("distill.") and (module not in allowed or name == "examples.py"):
                found.append(f"{name}:{line} {module}")
    assert found == []


def test_no_module_imports_a_higher_layer():
    assert upward(module_graph()) == []


def test_no_module_imports_one_that_imports_it():
    assert cycles(module_graph()) == []


def test_backends_use_only_the_plugin_api():
    out = []
    for path in sorted(PACKAGES.glob("distill-*/src/distill_*/**/*.py")):
        for line, module, _ in imports(path, path.parent.name):  # relative imports stay in the backend
            if (module == "distill" or module.startswith("distill.")) and module != "distill.plugin":
                out.append(f"{path.relative_to(PACKAGES)}:{line} {module}")
    assert out == []


def test_the_rules_catch_a_breach(tmp_path):
    """The rules read relative imports right: a CLI module reaching into distill.library is caught, two
    modules importing each other (one inside a function) are a cycle, signal code importing the
    pipeline runs upward, and a new module must be given a layer."""
    core = tmp_path / "distill"
    face = core / "cli"
    face.mkdir(parents=True)
    (face / "bad.py").write_text("from ..library import resolve_model\nfrom .. import model_info, _private\n"
                                 "from .output import echo_json\nimport distill.modelfile\n")
    assert [b.split(" ", 1)[1] for b in breaches_of_the_door("cli", core)] == [
        "distill.library", "distill._private", "distill.modelfile"]
    (face / "__init__.py").write_text("def main():\n    from .bad import echo_json\n")
    (face / "output.py").write_text("from . import bad\n")
    assert cycles(module_graph(core)) == [["distill.cli.bad", "distill.cli.output"]]
    (core / "melspec.py").write_text("from .pipeline import x\n")
    (core / "pipeline.py").write_text("")
    (core / "extra.py").write_text("")
    assert upward(module_graph(core)) == ["distill.extra is in no layer", "distill.melspec -> distill.pipeline"]
