"""The rules every lesson notebook follows (see README.md), each a small function tested twice:
on every notebook of the book, and on small notebooks written here that break it on purpose.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from book_config import repository_url, toc_files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
MAX_BYTES = 2 * 1024 * 1024
MAX_CELL_LINES = 30
# Outputs must not leak where this machine keeps files (the book is read on other machines).
ABSOLUTE_PATH = re.compile(r"(/work/|/home/|/root/|/Users/|/tmp/|[A-Z]:\\\\Users)")


def install_lines() -> list[str]:
    """The Colab install lines every notebook's first code cell starts with."""
    return [
        "import importlib.util, subprocess, sys",
        "if importlib.util.find_spec(\"d2lite\") is None:  # on Colab: install the book's helpers",
        f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", "
        f"\"git+{repository_url()}\"], check=True)",
    ]


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


# Each rule takes (notebook, path) and returns a list of problems, empty when the rule holds.

def rule_kernel(nb, path):
    name = nb.metadata.get("kernelspec", {}).get("name")
    return [] if name == "python3" else [f"kernel is {name!r}, expected 'python3'"]


def rule_executed(nb, path):
    counts = [c.get("execution_count") for c in code_cells(nb) if c.source.strip()]
    if counts != list(range(1, len(counts) + 1)):
        return [f"execution counts are {counts}, expected 1..{len(counts)} in order: "
                "run `make execute`"]
    return []


def rule_no_errors(nb, path):
    return [f"code cell {i} stored an error output ({out.get('ename')})"
            for i, c in enumerate(code_cells(nb), 1) for out in c.get("outputs", [])
            if out.get("output_type") == "error"]


def rule_no_absolute_paths(nb, path):
    problems = []
    for i, cell in enumerate(code_cells(nb), 1):
        for out in cell.get("outputs", []):
            match = ABSOLUTE_PATH.search(json.dumps(out))
            if match:
                problems.append(f"code cell {i} output shows a path of this machine ({match[0]})")
    return problems


def rule_title(nb, path):
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown":
        return ["the first cell must be markdown: '# Title' and what the reader will learn"]
    lines = first.source.strip().splitlines()
    if not lines or not re.match(r"# \S", lines[0]):
        return ["the first cell must start with '# Title'"]
    if not "".join(lines[1:]).strip():
        return ["after the title, the first cell must say what the reader will learn"]
    return []


def rule_summary_and_exercises(nb, path):
    headings = {line.strip() for c in nb.cells if c.cell_type == "markdown"
                for line in c.source.splitlines()}
    return [f"missing a '{h}' section" for h in ("## Summary", "## Exercises") if h not in headings]


def rule_has_lesson_check(nb, path):
    has = any(line.lstrip().startswith("assert ") for c in code_cells(nb)
              for line in c.source.splitlines())
    return [] if has else ["no lesson check: add an `assert` after the experiment it is about"]


def rule_first_code_cell(nb, path):
    cells = code_cells(nb)
    if not cells:
        return ["no code cell"]
    lines = cells[0].source.splitlines()
    expected = install_lines()
    if lines[:len(expected)] != expected:
        return ["the first code cell must start with the Colab install lines of "
                "tools/lesson_template.py (repository URL from _config.yml)"]
    rest = ast.parse("\n".join(lines[len(expected):]))
    if any(not isinstance(s, ast.Import | ast.ImportFrom) for s in rest.body):
        return ["the first code cell may only import (after the install lines)"]
    return []


def rule_no_star_import(nb, path):
    return [f"code cell {i} uses `import *`" for i, c in enumerate(code_cells(nb), 1)
            if re.search(r"^\s*from\s+\S+\s+import\s+\*", c.source, re.M)]


def rule_short_cells(nb, path):
    return [f"code cell {i} has {n} lines (at most {MAX_CELL_LINES})"
            for i, c in enumerate(code_cells(nb), 1)
            if (n := len(c.source.splitlines())) > MAX_CELL_LINES]


def rule_size(nb, path):
    size = path.stat().st_size
    return [] if size < MAX_BYTES else [f"file is {size / 1e6:.1f} MB (at most 2 MB)"]


def rule_paired_source(nb, path):
    source = path.with_suffix(".py")
    if not source.exists():
        return [f"no jupytext source {source.name} beside it"]
    paired = jupytext.read(source)
    mine = [(c.cell_type, c.source.strip()) for c in nb.cells]
    theirs = [(c.cell_type, c.source.strip()) for c in paired.cells]
    if mine != theirs:
        return [f"cells differ from {source.name}: edit the .py and run `make execute`"]
    return []


RULES = [rule_kernel, rule_executed, rule_no_errors, rule_no_absolute_paths, rule_title,
         rule_summary_and_exercises, rule_has_lesson_check, rule_first_code_cell,
         rule_no_star_import, rule_short_cells, rule_size, rule_paired_source]


def notebook_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ---- the book's notebooks ----

def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/<chapter>/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__.removeprefix("rule_"))
def test_notebook_follows_rule(path, rule):
    problems = rule(nbformat.read(path, as_version=4), path)
    assert not problems, f"{notebook_id(path)}: " + "; ".join(problems)


def test_every_notebook_is_in_the_toc():
    listed = set(toc_files())
    missing = [notebook_id(p) for p in NOTEBOOKS
               if p.relative_to(ROOT).with_suffix("").as_posix() not in listed]
    assert not missing, f"notebooks not listed in _toc.yml: {missing}"


def test_every_toc_entry_exists():
    dead = [f for f in sorted(toc_files())
            if not any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb"))]
    assert not dead, f"_toc.yml lists files that do not exist: {dead}"


# ---- the rules themselves, on notebooks that break them ----

def make_notebook(tmp_path: Path, cells: list[tuple[str, str]], name="lesson") -> Path:
    """Write a small executed-looking notebook and its paired source; return the .ipynb path."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    count = 0
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            count += 1
            nb.cells.append(nbformat.v4.new_code_cell(source, execution_count=count))
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    jupytext.write(nb, path.with_suffix(".py"), fmt="py:percent")
    return path


def good_cells() -> list[tuple[str, str]]:
    return [("markdown", "# A lesson\n\nYou will learn to add."),
            ("code", "\n".join(install_lines()) + "\nimport math"),
            ("markdown", "## Adding"),
            ("code", "x = 1 + 1\nassert x == 2, 'one and one make two'"),
            ("markdown", "## Summary\n\nAdding works."),
            ("markdown", "## Exercises\n\n1. Add three.")]


def problems_of(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [p for rule in RULES for p in rule(nb, path)]


def test_a_good_notebook_passes(tmp_path):
    assert problems_of(make_notebook(tmp_path, good_cells())) == []


BROKEN = {
    "no title": lambda c: [("markdown", "Some text")] + c[1:],
    "title only": lambda c: [("markdown", "# A lesson")] + c[1:],
    "no summary": lambda c: c[:4] + c[5:],
    "no exercises": lambda c: c[:5],
    "no assert": lambda c: c[:3] + [("code", "x = 1 + 1")] + c[4:],
    "no install lines": lambda c: c[:1] + [("code", "import math")] + c[2:],
    "first cell computes": lambda c: c[:1] + [("code", c[1][1] + "\nx = 1")] + c[2:],
    "star import": lambda c: c + [("code", "from math import *")],
    "long cell": lambda c: c + [("code", "\n".join(f"x{i} = {i}" for i in range(31)))],
}


@pytest.mark.parametrize("change", BROKEN, ids=list(BROKEN))
def test_a_broken_notebook_fails(tmp_path, change):
    path = make_notebook(tmp_path, BROKEN[change](good_cells()))
    assert problems_of(path), f"the rules missed: {change}"


def test_rules_catch_stored_state(tmp_path):
    path = make_notebook(tmp_path, good_cells())
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"]["name"] = "julia"
    code_cells(nb)[1].execution_count = 5
    code_cells(nb)[1].outputs = [nbformat.v4.new_output("error", ename="AssertionError",
                                                        evalue="", traceback=[]),
                                 nbformat.v4.new_output("stream", text="/work/main/x.csv\n")]
    nbformat.write(nb, path)
    found = " | ".join(problems_of(path))
    for words in ("kernel is 'julia'", "execution counts", "error output", "path of this machine"):
        assert words in found, f"expected a problem mentioning {words!r}, got: {found}"


def test_rules_catch_a_stale_source_and_a_big_file(tmp_path):
    path = make_notebook(tmp_path, good_cells())
    path.with_suffix(".py").write_text(path.with_suffix(".py").read_text().replace("1 + 1", "2"))
    with path.open("a") as f:
        f.write(" " * MAX_BYTES)
    found = " | ".join(problems_of(path))
    assert "cells differ from lesson.py" in found and "MB (at most 2 MB)" in found, found


def nbval(path: Path) -> subprocess.CompletedProcess:
    """Run nbval on one notebook in a fresh kernel, as `make test` does."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--nbval-lax", "--nbval-current-env", str(path)],
                          cwd=path.parent, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


def executed(tmp_path: Path, cells: list[tuple[str, str]]) -> Path:
    """A notebook executed for real, so its stored outputs are genuine."""
    from nbclient import NotebookClient

    path = make_notebook(tmp_path, cells)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3").execute()
    nbformat.write(nb, path)
    return path


def test_nbval_passes_a_good_notebook(tmp_path):
    cells = good_cells() + [("code", "# NBVAL_CHECK_OUTPUT\nprint(6 * 7)")]
    result = nbval(executed(tmp_path, cells))
    assert result.returncode == 0, result.stdout[-2000:]


def test_nbval_fails_when_a_lesson_check_fails(tmp_path):
    path = executed(tmp_path, good_cells())
    nb = nbformat.read(path, as_version=4)
    code_cells(nb)[1].source = "x = 1 + 2\nassert x == 2, 'one and one make two'"
    nbformat.write(nb, path)
    result = nbval(path)
    assert result.returncode != 0 and "one and one make two" in result.stdout, result.stdout[-2000:]


def test_nbval_fails_when_a_checked_output_is_stale(tmp_path):
    path = executed(tmp_path, good_cells() + [("code", "# NBVAL_CHECK_OUTPUT\nprint(6 * 7)")])
    nb = nbformat.read(path, as_version=4)
    code_cells(nb)[-1].outputs[0]["text"] = "41\n"
    nbformat.write(nb, path)
    result = nbval(path)
    assert result.returncode != 0 and "41" in result.stdout, result.stdout[-2000:]
