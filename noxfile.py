"""Developer and CI sessions. Every install is constrained to torch==2.13.0 (the local CPU build):
an unpinned torch would pull gigabytes of CUDA wheels.

    nox -s demo        set up and run the offline demo on a synthesised example corpus
    nox -s tests       set up and run the test suite (what CI runs)
    nox -s slow        only the slow checks (full-size BigVGAN parity, long renders)
    nox -s bench       the benchmarks (tests/bench/run.py; `nox -s bench -- bigvgan` for one)
    nox -s mutation    mutation testing (mutmut) of the auto-selector and the model file
    nox -s pretrain    rebuild the base vocoder's corpus and weights (needs fluidsynth; hours on a CPU)
    nox -s lint        ruff
    nox -s typecheck   mypy on the packages
"""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
TORCH = "torch==2.13.0"
PACKAGES = [str(p) for p in sorted((ROOT / "packages").iterdir()) if (p / "pyproject.toml").exists()]
PACKAGES_WITH_UI = [p + "[ui]" if p.endswith("distill-core") else p for p in PACKAGES]  # the core's web UI extra
TEST_PLUGINS = [str(p) for p in sorted((ROOT / "tests" / "plugins").iterdir()) if (p / "pyproject.toml").exists()]
TEST_TOOLS = ["pytest>=8", "pytest-timeout", "librosa>=0.10", "scipy", "hatchling>=1.26"]
# The browser tests drive Debian's Chromium with Playwright's Python package (its own browser download
# cannot work offline); pinned because Playwright expects a browser build of its own version's era.
BROWSER_TOOLS = ["playwright==1.65.2"]
# The reference BigVGAN is a test and benchmark oracle, never a dependency. Its wheel declares heavy
# requirements (tensorboard, pesq, nnaudio, auraloss, ...) that `bigvgan.bigvgan` never imports: install
# it without them, plus what that module does import (numpy, torch, librosa, scipy and tqdm come anyway).
REFERENCE_BIGVGAN = ["bigvgan==2.4.1"]
REFERENCE_IMPORTS = ["matplotlib", "librosa>=0.10", "scipy"]
# The generation benchmark's embedding (its weights ship in the wheel): installed without its pins of
# numpy and librosa, which are too old for this Python; it runs with current ones.
BENCH_EMBEDDING = ["aisfx==0.1.2"]


def constraints(session: nox.Session) -> tuple[str, str]:
    path = Path(session.create_tmp()) / "constraints.txt"
    path.write_text(TORCH + "\n")
    return ("-c", str(path))


def install_reference(session: nox.Session) -> None:
    session.install(*constraints(session), *REFERENCE_IMPORTS)
    session.install("--no-deps", *REFERENCE_BIGVGAN)


def install_packages(session: nox.Session, *extra: str) -> None:
    """This repository's packages, editable (the core with its web UI extra), plus the example plugins
    installed as a user would."""
    editable = [arg for package in PACKAGES_WITH_UI for arg in ("-e", package)]
    session.install(*constraints(session), *editable, *extra)
    # Plugins are reinstalled every time so the entry points always match their source.
    session.install("--no-deps", "--force-reinstall", *TEST_PLUGINS)


@nox.session
def demo(session: nox.Session) -> None:
    """Install distill as a user would (the meta-package with every extra) and run the offline demo."""
    session.install(*constraints(session), ".[all]")
    session.run("python", "-m", "distill.demo", *(session.posargs or ["demo-output"]))


def ensure_chromium(session: nox.Session) -> None:
    """Debian's Chromium for the browser tests: installed when missing and this is root on Debian (CI);
    elsewhere the browser tests skip and say why."""
    import os
    import shutil

    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "chromium", external=True,
                    env={"DEBIAN_FRONTEND": "noninteractive"})
    else:
        session.warn("no Chromium here and no root to apt-get install chromium: the browser tests will skip")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, with the web UI in a real browser (slow checks excluded; `nox -s slow` runs them)."""
    install_packages(session, *TEST_TOOLS, *BROWSER_TOOLS)
    install_reference(session)
    ensure_chromium(session)
    # One line per test as it finishes (with the run's progress in %), and the slowest at the end.
    session.run("pytest", "-v", "--durations=15", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """Only the slow checks (full-size parity, long renders)."""
    install_packages(session, *TEST_TOOLS)
    install_reference(session)
    session.run("pytest", "-m", "slow", *session.posargs)


MUTATION_TARGETS = ["distill/vocoders/selection.py", "distill/modelfile.py"]
MUTATION_TESTS = ["tests/test_selection.py", "tests/test_modelfile.py", "tests/test_modelfile_fuzz.py"]


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing (mutmut) of the auto-selector and the model file with the tests that cover them.
    mutmut expects a src/ layout: it runs in a scratch copy of distill-core's src/ and the tests."""
    import shutil

    install_packages(session, *TEST_TOOLS, "mutmut>=3.3")
    work = Path(session.create_tmp()).resolve() / "mutation"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "packages" / "distill-core" / "src", work / "src")
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("plugins", "bench", "__pycache__"))
    only = ", ".join(f'"src/{target}"' for target in MUTATION_TARGETS)
    tests = ", ".join(f'"{test}"' for test in MUTATION_TESTS)
    (work / "pyproject.toml").write_text(
        f'[tool.mutmut]\nsource_paths = ["src"]\nonly_mutate = [{only}]\n'
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
        'process_isolation = "forkserver"\n'  # torch's thread pool does not survive a plain fork
        '[tool.pytest.ini_options]\nmarkers = ["slow: long-running checks"]\naddopts = "-m \'not slow\'"\n'
    )
    session.chdir(work)
    session.run("mutmut", "run", *session.posargs, success_codes=[0, 1], env={"OMP_NUM_THREADS": "1"})
    session.run("mutmut", "results")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, one table (tests/bench/run.py); posargs pick modules, e.g. `nox -s bench -- bigvgan`."""
    install_packages(session, *TEST_TOOLS, *BROWSER_TOOLS)
    install_reference(session)
    session.install("--no-deps", *BENCH_EMBEDDING)
    ensure_chromium(session)
    session.run("python", "tests/bench/run.py", *session.posargs)


@nox.session
def pretrain(session: nox.Session) -> None:
    """Rebuild the corpus and the weights of the base vocoder shipped in distill-hifigan (resumable:
    run it again to continue; posargs go to the script, e.g. `nox -s pretrain -- --steps 30000`).
    Needs Debian's fluidsynth and fluid-soundfont-gm (apt-get install fluidsynth fluid-soundfont-gm)."""
    install_packages(session, "mido>=1.3")
    session.run("python", "packages/distill-hifigan/pretrain/pretrain.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "packages", "tests", "noxfile.py", "hatch_build.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install(*constraints(session), "mypy", *[arg for p in PACKAGES_WITH_UI for arg in ("-e", p)])
    session.run("mypy", *[str(Path(p) / "src") for p in PACKAGES])
