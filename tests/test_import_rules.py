"""The house's import rules (issue 26), read from the source: the CLI and the web UI reach distill
only through its API (`import distill` / `from .. import NAME`, NAME public), and a vocoder backend
only through `distill.plugin`."""

from __future__ import annotations

import ast
from pathlib import Path

import distill
import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
CORE = PACKAGES / "distill-core" / "src" / "distill"


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


def test_backends_use_only_the_plugin_api():
    out = []
    for path in sorted(PACKAGES.glob("distill-*/src/distill_*/**/*.py")):
        for line, module, _ in imports(path, path.parent.name):  # relative imports stay in the backend
            if (module == "distill" or module.startswith("distill.")) and module != "distill.plugin":
                out.append(f"{path.relative_to(PACKAGES)}:{line} {module}")
    assert out == []


def test_the_rules_catch_a_breach(tmp_path):
    """The rule reads relative imports right: a CLI module reaching into distill.library is caught."""
    face = tmp_path / "cli"
    face.mkdir()
    (face / "bad.py").write_text("from ..library import resolve_model\nfrom .. import model_info, _private\n"
                                 "from .output import echo_json\nimport distill.modelfile\n")
    assert [b.split(" ", 1)[1] for b in breaches_of_the_door("cli", tmp_path)] == [
        "distill.library", "distill._private", "distill.modelfile"]
