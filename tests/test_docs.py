"""The documentation is tested like code: every `distill ...` command line shown in README.md and
docs/*.md parses, every relative link resolves, and the example plugin in docs/plugins.md, built
from the page's own text, installs, is listed and renders a clip."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from conftest import DISTILL_EXE
from distill.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console"}
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
SEPARATORS = {"&&", "||", ";", "|"}
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
COMMAND = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*=\S*\s+)*distill\s")


def fenced_blocks(text: str) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """(language, [(line number, line), ...]) for each fenced code block of a Markdown text."""
    language, fence, body = "", "", []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if not fence:
            if match:
                fence, language, body = match.group(1), match.group(2).lower(), []
        elif match and match.group(1).startswith(fence) and not match.group(2):
            yield language, body
            fence = ""
        else:
            body.append((number, line))


def command_lines() -> Iterator[tuple[str, list[str]]]:
    """Every `distill ...` command in the shell blocks of the docs, as (where, argv): lines that start
    with `distill ` or `$ distill `, after any environment assignments. A line may hold several
    commands (`a && b`); continuation lines (ending in a backslash) are joined."""
    for page in PAGES:
        for language, body in fenced_blocks(page.read_text(encoding="utf-8")):
            if language not in SHELL_LANGUAGES:
                continue
            pending, start = "", 0
            for number, line in body:
                if not pending:
                    start = number
                pending += line
                if pending.endswith("\\"):
                    pending = pending[:-1] + " "
                    continue
                text, pending = pending.strip(), ""
                text = text.removeprefix("$ ")
                if not COMMAND.match(text):
                    continue
                words, command = shlex.split(text, comments=True), []
                while ENV_ASSIGNMENT.match(words[0]):  # DISTILL_LOAD_PLUGINS=... distill vocoders
                    words.pop(0)
                for word in [*words, "&&"]:
                    if word not in SEPARATORS:
                        command.append(word)
                        continue
                    if command and command[0] == "distill":
                        yield f"{page.relative_to(ROOT)}:{start}", command
                    command = []


def unparsed(ctx: click.Context) -> list[str]:
    """What a group left for its subcommand: the subcommand's name and its arguments."""
    protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args  # click < 8.2
    return [*protected, *ctx.args]


def parse(argv: list[str]) -> None:
    """Resolve `argv` through the command tree and parse the last command's arguments, as click does
    before invoking it; no callback runs. Raises click.UsageError (or BadParameter) on a bad line."""
    assert argv[0] == "distill"
    command: click.Command | None = cli
    name, args, parent = "distill", argv[1:], None
    while command is not None:
        ctx = command.make_context(name, list(args), parent=parent)
        if not isinstance(command, click.Group):
            return
        rest = unparsed(ctx)
        if not rest:
            return  # a group that runs alone (`distill vocoders`); make_context refuses one that cannot
        found, command, args = command.resolve_command(ctx, rest)
        name, parent = found or rest[0], ctx


def test_every_command_line_in_the_docs_parses() -> None:
    checked, failures = 0, []
    for where, argv in command_lines():
        checked += 1
        try:
            parse(argv)
        except click.exceptions.Exit as done:  # --help and --version print and exit
            if done.exit_code:
                failures.append(f"{where}: {shlex.join(argv)}: exit {done.exit_code}")
        except click.ClickException as error:
            failures.append(f"{where}: {shlex.join(argv)}: {error.format_message()}")
    assert failures == []
    assert checked > 20, f"only {checked} command lines found: is the collector broken?"


# -- links --------------------------------------------------------------------------------------------
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose(text: str) -> str:
    """The text outside fenced code blocks, with inline code spans removed."""
    code = {number for _, body in fenced_blocks(text) for number, _ in body}
    lines = [line for number, line in enumerate(text.splitlines(), 1) if number not in code and not FENCE.match(line)]
    return re.sub(r"`[^`\n]*`", "", "\n".join(lines))


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a page (lowercase, punctuation dropped, spaces to dashes)."""
    text = page.read_text(encoding="utf-8")
    code = {number for _, body in fenced_blocks(text) for number, _ in body}
    found = set()
    for number, line in enumerate(text.splitlines(), 1):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading and number not in code:
            found.add(re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-"))
    return found


def test_every_relative_link_in_the_docs_resolves() -> None:
    checked, broken = 0, []
    for page in PAGES:
        for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
            if SCHEME.match(target):
                continue
            checked += 1
            path, _, fragment = target.partition("#")
            destination = (page.parent / path).resolve() if path else page
            if not destination.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []
    assert checked > 20
    nav = re.findall(r":\s*([\w./-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(nav) == sorted(p.name for p in DOCS.glob("*.md")), "mkdocs.yml's nav lists every page once"


# -- the example plugin -------------------------------------------------------------------------------
EXAMPLE_FILE = re.compile(r"<!-- file: (\S+) -->\s*\n```[\w+-]*\n(.*?)\n```\s*$", re.DOTALL | re.MULTILINE)
EXAMPLE = "distill-myvocoder"


def example_files() -> dict[str, str]:
    return dict(EXAMPLE_FILE.findall((DOCS / "plugins.md").read_text(encoding="utf-8")))


def test_the_example_plugin_imports_only_the_plugin_surface() -> None:
    files = example_files()
    assert set(files) == {f"{EXAMPLE}/pyproject.toml", f"{EXAMPLE}/src/distill_myvocoder/__init__.py",
                          f"{EXAMPLE}/src/distill_myvocoder/vocoder.py"}
    for name, source in files.items():
        if not name.endswith(".py"):
            continue
        tree = ast.parse(source)
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        assert {m for m in imported if m.split(".")[0] == "distill"} <= {"distill.plugin"}, name
        top_level = [alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names]
        assert "torch" not in top_level, f"{name} imports torch at import time"


def test_the_example_plugin_builds_from_the_docs_and_renders(tmp_path: Path) -> None:
    import hatchling  # noqa: F401 - the example's build backend, used without build isolation (a test tool)
    import soundfile
    from distill.examples import make_example_corpus

    for name, source in example_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source + "\n", encoding="utf-8")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
                    "--no-deps", "--no-build-isolation", "--target", str(site), str(tmp_path / EXAMPLE)],
                   check=True, capture_output=True, text=True, timeout=300)
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "DISTILL_HOME": str(tmp_path / "home")}
    env.pop("DISTILL_LOAD_PLUGINS", None)

    def distill(*args: str, only_example: bool = False) -> str:
        extra = {"DISTILL_LOAD_PLUGINS": EXAMPLE} if only_example else {}
        result = subprocess.run([DISTILL_EXE, *args], env={**env, **extra}, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    listed = {row["name"]: row for row in json.loads(distill("vocoders", "--json"))}
    assert listed["myvocoder"]["package"] == EXAMPLE
    assert (listed["myvocoder"]["kind"], listed["myvocoder"]["weights"]) == ("universal", "not needed")
    plugins = {row["name"]: row for row in json.loads(distill("plugins", "--json"))}
    assert plugins["myvocoder"]["status"] == "ok" and plugins["myvocoder"]["hooks"] == ["register_vocoders"]

    make_example_corpus(tmp_path / "corpus", files=4, seconds=1.0, seed=1)
    distill("train", str(tmp_path / "corpus"), "--name", "t", "--steps", "5", "--batch-size", "4",
            only_example=True)
    out = tmp_path / "out"
    record = json.loads(distill("generate", "t", "-d", "0.5", "--vocoder", "myvocoder", "-o", str(out), "--json",
                                only_example=True).splitlines()[-1])
    assert record["vocoder"] == "myvocoder"
    info = soundfile.info(record["path"])
    assert Path(record["path"]).parent == out and Path(record["path"]).suffix == ".wav"
    assert (info.samplerate, info.frames) == (48000, 24000)
