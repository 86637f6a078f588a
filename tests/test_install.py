"""The Colab path: installing d2lite into an environment that already has torch never touches torch.

Builds the project's wheel, makes a fresh venv holding this machine's torch and numpy (as Colab has
its own), installs the wheel as the notebooks' install cell does, and runs the first lesson as a
script.
It installs torch into a new venv, so it runs where a local torch wheel makes that quick (pip's
find-links, as on CI) or when D2LITE_INSTALL_TEST=1; CI never skips it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TORCH = torch.__version__.split("+")[0]
LESSON = ROOT / "notebooks" / "01_preliminaries" / "tensors.py"

pytestmark = pytest.mark.slow  # builds a wheel and a venv, installs torch into it


def local_torch_wheel() -> bool:
    """True when pip's find-links folders hold this torch's wheel (no multi-GB download)."""
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    for config in (Path("/etc/pip.conf"), Path.home() / ".config/pip/pip.conf"):
        if config.exists():
            folders += [line.split("=", 1)[1].strip() for line in config.read_text().splitlines()
                        if line.strip().startswith("find-links")]
    return any(Path(f).glob(f"torch-{TORCH}*.whl") for f in folders if Path(f).is_dir())


def sh(*cmd, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stderr[-3000:]}"
    return result


def torch_files(python: Path) -> tuple[str, str]:
    """(version, RECORD listing) of the torch installed for `python`."""
    code = ("import importlib.metadata as m; d = m.distribution('torch'); "
            "print(d.version); print(d.read_text('RECORD'))")
    out = sh(python, "-c", code).stdout
    version, record = out.split("\n", 1)
    return version, record


@pytest.mark.skipif(not (os.environ.get("CI") or os.environ.get("D2LITE_INSTALL_TEST")
                         or local_torch_wheel()),
                    reason="installs torch into a new venv; set D2LITE_INSTALL_TEST=1 to run it")
def test_colab_style_install_keeps_torch_and_runs_a_lesson(tmp_path):
    wheels = tmp_path / "wheels"
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, ROOT)
    wheel = next(wheels.glob("d2lite-*.whl"))

    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    sh(base, "-m", "venv", venv)
    python = venv / "bin" / "python"
    sh(python, "-m", "pip", "install", "-q", f"torch=={TORCH}", "numpy")
    before = torch_files(python)

    report = tmp_path / "report.json"
    sh(python, "-m", "pip", "install", "-q", "--report", report, wheel)
    installed = [item["metadata"]["name"].lower()
                 for item in json.loads(report.read_text())["install"]]
    assert "torch" not in installed, f"pip installed torch again: {installed}"
    assert torch_files(python) == before, "torch's version or files changed"
    assert "d2lite" in installed

    sh(python, "-c", "import d2lite; print(d2lite.__version__)", cwd=tmp_path)
    script = tmp_path / "tensors_lesson.py"
    jupytext.write(jupytext.read(LESSON), script, fmt="py:percent")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": ""}
    result = sh(python, script, cwd=tmp_path, env=env, timeout=300)
    assert "Traceback" not in result.stderr
