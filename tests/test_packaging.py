"""The meta-package installs this repository's packages; a release pins every sibling to one version."""

import email
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


def project(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text())["project"]


def test_all_packages_share_one_version_and_backends_pin_the_core():
    version = project(ROOT)["version"]
    assert {p.name: project(p)["version"] for p in PACKAGE_DIRS} == {p.name: version for p in PACKAGE_DIRS}
    for backend in ("distill-bigvgan", "distill-hifigan"):
        assert f"distill-core=={version}" in project(ROOT / "packages" / backend)["dependencies"]


def meta_requirements(tmp_path: Path, release: bool) -> dict[str, set[str]]:
    """Requires-Dist of the built meta-package wheel, grouped by extra ("" for the base)."""
    env = {**os.environ, "DISTILL_RELEASE": "1" if release else "0"}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), ROOT],
        check=True, env=env, capture_output=True,
    )
    (wheel,) = tmp_path.glob("distill-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
    grouped: dict[str, set[str]] = {}
    for line in metadata.get_all("Requires-Dist"):
        requirement, _, marker = line.partition(";")
        extra = re.search(r"extra == ['\"](\w+)['\"]", marker)
        grouped.setdefault(extra.group(1) if extra else "", set()).add(requirement.strip())
    return grouped


def test_meta_package_points_at_this_checkout(tmp_path):
    uri = {name: (ROOT / "packages" / name).as_uri() for name in ("distill-core", "distill-bigvgan", "distill-hifigan")}
    assert meta_requirements(tmp_path, release=False) == {
        "": {f"distill-core @ {uri['distill-core']}"},
        "bigvgan": {f"distill-bigvgan @ {uri['distill-bigvgan']}"},
        "hifigan": {f"distill-hifigan @ {uri['distill-hifigan']}"},
        "ui": {f"distill-core[ui] @ {uri['distill-core']}"},
        "all": {f"distill-bigvgan @ {uri['distill-bigvgan']}", f"distill-hifigan @ {uri['distill-hifigan']}",
                f"distill-core[ui] @ {uri['distill-core']}"},
    }


def test_release_build_pins_siblings_to_its_version(tmp_path):
    version = project(ROOT)["version"]
    assert meta_requirements(tmp_path, release=True) == {
        "": {f"distill-core=={version}"},
        "bigvgan": {f"distill-bigvgan=={version}"},
        "hifigan": {f"distill-hifigan=={version}"},
        "ui": {f"distill-core[ui]=={version}"},
        "all": {f"distill-bigvgan=={version}", f"distill-hifigan=={version}", f"distill-core[ui]=={version}"},
    }


def test_hifigan_wheel_carries_the_base_within_the_size_limit(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         ROOT / "packages" / "distill-hifigan"],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("distill_hifigan-*.whl")
    assert wheel.stat().st_size <= 15_000_000  # the limit for the wheel
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "distill_hifigan/data/base.safetensors" in names
    assert not any("pretrain" in name for name in names)  # the rebuild scripts stay in the repository
