"""tools/run_scripts.py, the script that runs every lesson as a plain script on a GPU machine: it
must work on the CPU too (that is where it is tested), time each lesson and report failures."""
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import run_scripts  # noqa: E402


def test_runs_lessons_and_reports_a_failed_check(tmp_path, capsys):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text("# %% [markdown]\n# A lesson.\n\n# %%\nimport d2lite\nassert 1 + 1 == 2\n")
    bad.write_text("# %%\nratio = 9.1\nassert 7 < ratio < 9, f'ratio {ratio}'\n")
    out = tmp_path / "timings.csv"
    code = run_scripts.main([str(good), str(bad), "--out", str(out), "--jobs", "2",
                             "--log-dir", str(tmp_path / "logs")])
    assert code == 1
    printed = capsys.readouterr().out
    assert "AssertionError: ratio 9.1" in printed and "1 of 2 lessons passed on cpu" in printed
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["notebook"], r["device"]) for r in rows] == [("bad.ipynb", "cpu"),
                                                             ("good.ipynb", "cpu")]
    assert all(float(r["seconds"]) >= 0 for r in rows)  # a number; how large is the host's
    assert (tmp_path / "logs" / "bad.log").read_text().count("AssertionError") == 1
