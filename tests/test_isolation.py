"""No test can see the machine's own distill or Hugging Face settings: conftest clears or replaces
every variable distill reads, and a test proves it by running a probe under hostile outer values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bigvgan_weights import TINY as TINY_BIGVGAN
from bigvgan_weights import weight_files, write_pin
from conftest import CLEARED_ENV, PRIVATE_ENV
from distill.vocoders.selection import select_vocoder
from test_modelfile import make_model


def test_probe_sees_only_its_own_environment(tmp_path):
    """Run in the suite as it is, and by the test below under a hostile outer environment."""
    for name in CLEARED_ENV:
        assert name not in os.environ, name
    for name, folder in PRIVATE_ENV.items():
        assert os.environ[name] == str(tmp_path / folder), name
    model = make_model()
    model.vocoder_state = {}
    # Every installed plugin loads and BigVGAN has no weights here: the shipped base is auto's choice.
    assert select_vocoder(model).backend.name == "hifigan-base"


def test_hostile_outer_variables_do_not_reach_a_test(tmp_path):
    files = weight_files(TINY_BIGVGAN, seed=5)
    weights = tmp_path / "weights"
    weights.mkdir()
    for name, data in files.items():
        (weights / name).write_bytes(data)
    hostile = {
        "DISTILL_BIGVGAN_WEIGHTS": str(weights),  # usable BigVGAN weights: auto would pick BigVGAN
        "DISTILL_BIGVGAN_PIN": str(write_pin(tmp_path / "pin.json", files)),
        "DISTILL_BIGVGAN_PRECISION": "nonsense",
        "DISTILL_LOAD_PLUGINS": "distill-griffinlim",
        "DISTILL_HF_ENDPOINT": "http://127.0.0.1:9",
        "DISTILL_HOME": str(tmp_path / "outer-home"),
        "HF_HOME": str(tmp_path / "outer-hf"),
        "HF_HUB_CACHE": str(tmp_path / "outer-hf" / "hub"),
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "XDG_CACHE_HOME": str(tmp_path / "outer-cache"),
    }
    probe = f"{Path(__file__)}::test_probe_sees_only_its_own_environment"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", probe],
                            env={**os.environ, **hostile}, capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
    for folder in ("outer-home", "outer-hf", "outer-cache"):
        assert not (tmp_path / folder).exists(), folder  # nothing was written where the outer values point
