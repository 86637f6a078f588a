"""The live widgets under ipywidgets 7, as Colab has long shipped (d2lite needs ipywidgets>=7.6).

Installs ipywidgets 7 (and the one package it needs that 8 does not, ipython_genutils) into a
folder of its own, puts it in front of this environment on PYTHONPATH, and runs the live-widget
tests of test_widgets.py there: building the forms, their controls, and a Run All in a kernel
(which inherits the path) read back from the stored widget state. Skipped when the package index
cannot be reached.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # pip installs ipywidgets 7, then runs pytest in a subprocess


@pytest.fixture(scope="module")
def ipywidgets7(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("ipywidgets7")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), "ipywidgets>=7.6,<8", "ipython_genutils"],
        capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.skip(f"cannot install ipywidgets 7 (package index unreachable?): "
                    f"{result.stderr.strip().splitlines()[-1:]}")
    return target


def test_live_widgets_under_ipywidgets_7(ipywidgets7, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ipywidgets7), str(ROOT)])}
    version = subprocess.run([sys.executable, "-c", "import ipywidgets; print(ipywidgets."
                              "__version__)"], env=env, capture_output=True, text=True)
    assert version.stdout.startswith("7."), version.stdout + version.stderr
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(ROOT / "tests" / "test_widgets.py"), "-k", "live"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0 and " passed" in result.stdout, result.stdout[-3000:]
    assert "skipped" not in result.stdout, result.stdout[-3000:]
