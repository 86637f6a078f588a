"""Tests for the reader's self-check, `python -m d2lite` (d2lite/__main__.py)."""
import os
import platform
import subprocess
import sys

import pytest
import torch

import d2lite
from d2lite.__main__ import main
from d2lite.registry import REGISTRY


def test_self_check_reports_versions_device_places_and_damaged_files(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setenv("D2LITE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("D2LITE_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the labels")
    assert main() == 1  # a damaged file is worth a non-zero exit
    out = capsys.readouterr().out
    assert out.startswith(f"d2lite {d2lite.__version__} self-check\n")
    assert f"python   {platform.python_version()}" in out
    assert f"torch    {torch.__version__}" in out
    assert f"device   {d2lite.try_gpu()}" in out
    assert f"data     D2LITE_DATA={tmp_path / 'data'}\n" in out
    assert f"cache    {tmp_path / 'cache'}  (set D2LITE_CACHE to move it)" in out
    assert f"mnist          0/4 files verified; 3 missing, downloaded on first use; {bad} has the" \
           " wrong sha256: replace or delete it" in out
    assert "ptb            0/3 files verified; 3 missing, downloaded on first use" in out
    assert all(f"  {name} " in out for name in REGISTRY)


def test_self_check_without_d2lite_data(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("D2LITE_DATA", raising=False)
    monkeypatch.setenv("D2LITE_CACHE", str(tmp_path / "cache"))
    assert main() == 0
    assert "D2LITE_DATA is not set (datasets go to the cache)" in capsys.readouterr().out


@pytest.mark.skipif(not os.environ.get("D2LITE_DATA"), reason="needs D2LITE_DATA (CI sets it)")
def test_python_m_d2lite_verifies_every_dataset(capsys):
    assert main() == 0  # how long it takes is a benchmark's question, not a test's
    capsys.readouterr()
    result = subprocess.run([sys.executable, "-m", "d2lite"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, files in REGISTRY.items():
        line = f"{name:<14} {len(files)}/{len(files)} files verified (in D2LITE_DATA)"
        assert line in result.stdout
