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
MAX_LINE_CHARS = 88  # the width of a code cell in the book
MIN_SOLUTIONS = 2  # exercise solution cells tagged hide-cell, each with an assert
# A MyST role ({term}`x`, {cite}`key`, {doc}`path`, {ref}, {numref}, {eq}, ...) shows raw in
# JupyterLab and on Colab: lessons use ordinary Markdown links instead (see rule_no_myst_roles).
MYST_ROLE = re.compile(r"(?<!`)\{[a-z][\w:+-]*\}`")
FENCED = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
# Outputs must not leak where this machine keeps files (the book is read on other machines).
ABSOLUTE_PATH = re.compile(r"(/work/|/home/|/root/|/Users/|/tmp/|[A-Z]:\\\\Users)")


def install_lines() -> list[str]:
    """The Colab install lines every notebook's first code cell starts with: they say what they
    install, then install it (each line fits the book's 88-character code width)."""
    url = repository_url()
    return [
        "import importlib.util, subprocess, sys",
        "if importlib.util.find_spec(\"d2lite\") is None:  # on Colab: install the book's helpers",
        f"    print(\"Installing d2lite (the book's helpers) from {url.removeprefix('https://')}\")",
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",",
        f"                    \"git+{url}\"], check=True)",
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
    capitalised = [word for word in re.findall(r"[\w-]+", lines[0][2:])[1:]
                   if re.fullmatch(r"[A-Z][a-z-]+", word) and word not in PROPER_NOUNS]
    if capitalised:
        return [f"the title is in Title Case ({', '.join(capitalised)}); the book's titles are "
                "in sentence case: 'Linear regression, concisely'"]
    return []


PROPER_NOUNS = {"Transformer", "Bahdanau", "Adam", "Colab", "Jupyter", "Python"}


def rule_summary_and_exercises(nb, path):
    headings = {line.strip() for c in nb.cells if c.cell_type == "markdown"
                for line in c.source.splitlines()}
    return [f"missing a '{h}' section" for h in ("## Summary", "## Exercises") if h not in headings]


def exercises_start(nb) -> int:
    """Index of the cell holding the `## Exercises` heading (len(cells) when there is none)."""
    return next((k for k, c in enumerate(nb.cells) if c.cell_type == "markdown"
                 and any(line.strip() == "## Exercises" for line in c.source.splitlines())),
                len(nb.cells))


def rule_has_lesson_check(nb, path):
    """At least one `assert` in the lesson itself (exercise solutions do not count)."""
    has = any(line.lstrip().startswith("assert ") for c in nb.cells[:exercises_start(nb)]
              if c.cell_type == "code" for line in c.source.splitlines())
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


def rule_no_myst_roles(nb, path):
    """Lesson Markdown renders the same in the book, JupyterLab and Colab: no MyST roles."""
    problems = []
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "markdown":
            roles = sorted(set(MYST_ROLE.findall(FENCED.sub("", cell.source))))
            if roles:
                problems.append(
                    f"cell {i} uses the MyST role(s) {', '.join(r[:-1] for r in roles)}, which "
                    "show raw in JupyterLab and Colab: link to a lesson "
                    "`[text](../02_linear/linear_regression.ipynb)`, a term "
                    "`[text](../../book/glossary.md#term-...)`, a citation "
                    "`[Author et al., 1998](../../book/references.md)`, a figure "
                    "`[Figure 2](#fig-...)`")
    return problems


AMERICAN = re.compile(r"\b(?:optimi|normali|regulari|generali|tokeni|standardi|penali|minimi|"
                      r"maximi|memori|initiali|summari|visuali|vectori|paralleli|characteri|"
                      r"speciali|utili|emphasi|categori|randomi|quanti|synchroni|stabili|reali|"
                      r"recogni|organi)z(?:e|ed|es|ing|ation|ations|er|ers)\b", re.I)
NOT_PROSE = re.compile(r"```.*?```|`[^`]*`|\]\([^)]*\)|\$[^$]*\$|https?://\S+", re.S)


def rule_british_spelling(nb, path):
    """The book's prose is British (README, "Spelling"): normalisation, optimiser. Code, inline
    code, link targets and math keep their own spelling."""
    return [f"cell {i} spells {sorted(set(found))} the American way (the book writes optimiser, "
            "normalisation)"
            for i, cell in enumerate(nb.cells, 1) if cell.cell_type == "markdown"
            for found in [AMERICAN.findall(NOT_PROSE.sub("", cell.source))] if found]


DISPLAY_MATH = re.compile(r"\$\$(.*?)\$\$", re.S)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def rule_math_typesets(nb, path):
    """Every equation typesets: Sphinx wraps a display block holding `\\\\` in a `split`
    environment, where MathJax refuses `\\tag` (write the rows' ends as `\\cr` there); and no
    control character (a Python escape such as "\\a" in "\\approx" becomes one) in the text."""
    problems = []
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "markdown":
            continue
        if CONTROL.search(cell.source):
            problems.append(f"cell {i} holds a control character "
                            f"{CONTROL.search(cell.source).group()!r}: a backslash escape ate "
                            "a letter (write \\approx, not \"\\a\" in a Python string)")
        for block in DISPLAY_MATH.findall(cell.source):
            if "\\tag" in block and "\\\\" in block:
                problems.append(f"cell {i}: an equation with \\tag and \\\\ shows 'tag not "
                                "allowed in split environment' in the book; end its rows with "
                                "\\cr instead of \\\\")
    return problems


def rule_no_nbval_comments(nb, path):
    return [f"code cell {i} has a `# NBVAL_...` comment: tag the cell instead "
            "(jupytext: `# %% tags=[\"nbval-check-output\"]`)"
            for i, c in enumerate(code_cells(nb), 1)
            if re.search(r"^\s*#\s*NBVAL_\w+", c.source, re.M)]


def rule_line_width(nb, path):
    return [f"code cell {i} line {j} has {len(line)} characters (at most {MAX_LINE_CHARS}, "
            "the book's code width)"
            for i, c in enumerate(code_cells(nb), 1)
            for j, line in enumerate(c.source.splitlines(), 1) if len(line) > MAX_LINE_CHARS]


def rule_exercise_solutions(nb, path):
    """After `## Exercises`, at least two solution cells tagged hide-cell that assert the answer."""
    start = exercises_start(nb)
    solutions = [c for c in nb.cells[start + 1:] if c.cell_type == "code"
                 and "hide-cell" in c.metadata.get("tags", [])
                 and any(line.lstrip().startswith("assert ") for line in c.source.splitlines())]
    if len(solutions) < MIN_SOLUTIONS:
        return [f"{len(solutions)} exercise solution cell(s) after '## Exercises'; at least "
                f"{MIN_SOLUTIONS} code cells tagged hide-cell (jupytext: "
                "`# %% tags=[\"hide-cell\"]`) that compute the answer and assert it"]
    return []


NEXT_EXERCISE = re.compile(r"\s*(\d+\.|#|<details>)")


def rule_no_spoilers(nb, path):
    """The answer to an exercise stays inside what is collapsed: the Markdown right after a
    solution starts the next exercise ("3. ...") or holds its own answer in `<details>`, which
    JupyterLab, Colab and the book all show closed."""
    start = exercises_start(nb)
    cells = nb.cells[start + 1:]
    return [f"the Markdown after exercise solution {i} gives its answer away: "
            f"{after.source.strip()[:60]!r}; put it in the solution's output or in "
            "<details><summary>Answer</summary> ... </details>"
            for i, (cell, after) in enumerate(zip(cells, cells[1:], strict=False), 1)
            if cell.cell_type == "code" and "hide-cell" in cell.metadata.get("tags", [])
            and after.cell_type == "markdown" and not NEXT_EXERCISE.match(after.source)]


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


# Seeding that bypasses both routes of the variation sweep: training seeds go through
# d2lite.seed_everything (which the sweep's offset shifts), data through an explicit generator.
GLOBAL_SEEDING = re.compile(r"(?<![\w.])(torch\.(cuda\.|random\.)?manual_seed(_all)?|"
                            r"(np|numpy)\.random\.seed|random\.seed)\(")


def rule_seeding(nb, path):
    return [f"code cell {i} seeds a global generator with {m[0]}...): seed training with "
            "d2lite.seed_everything(k) and draw data from torch.Generator().manual_seed(k) "
            "(or np.random.default_rng(k)), so the sweep varies training and not the data"
            for i, c in enumerate(code_cells(nb), 1) for m in [GLOBAL_SEEDING.search(c.source)]
            if m]


def rule_diagrams(nb, path):
    """A diagram is one call to d2lite.diagrams in a cell the book hides (remove-input), shown
    as a numbered, captioned figure; no lesson draws a diagram with its own code (arrows with
    no text are drawing code)."""
    found = []
    for i, c in enumerate(code_cells(nb), 1):
        if "d2lite.diagrams." in c.source:
            figure = c.metadata.get("mystnb", {}).get("figure", {})
            if len(ast.parse(c.source).body) != 1:
                found.append(f"code cell {i} draws a diagram in more than one statement")
            if "remove-input" not in c.metadata.get("tags", []):
                found.append(f"code cell {i} draws a diagram; tag it remove-input")
            if not (figure.get("caption") and figure.get("name")):
                found.append(f"code cell {i} draws a diagram without a figure caption and name")
        if re.search(r"\.annotate\(\s*\"\"", c.source):
            found.append(f"code cell {i} draws arrows itself: use d2lite.diagrams")
    return found


MAX_FIGURE_PX = 700  # a 390-px phone shows a figure at half its size or more


def rule_figure_width(nb, path):
    """A figure is at most 700 CSS pixels wide (about 7 inches): a phone shrinks it at most to
    half, so the titles of a many-panel figure stay readable; draw fewer panels in a row."""
    return [f"code cell {i} draws a figure {w} px wide (at most {MAX_FIGURE_PX})"
            for i, c in enumerate(code_cells(nb), 1) for o in c.get("outputs", [])
            if (w := o.get("metadata", {}).get("image/png", {}).get("width", 0)) > MAX_FIGURE_PX]


RULES = [rule_kernel, rule_executed, rule_no_errors, rule_no_absolute_paths, rule_title,
         rule_summary_and_exercises, rule_has_lesson_check, rule_first_code_cell,
         rule_no_star_import, rule_short_cells, rule_size, rule_paired_source,
         rule_no_myst_roles, rule_no_nbval_comments, rule_line_width, rule_exercise_solutions,
         rule_seeding, rule_math_typesets, rule_no_spoilers, rule_diagrams,
         rule_figure_width, rule_british_spelling]


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

def make_notebook(tmp_path: Path, cells: list[tuple], name="lesson") -> Path:
    """Write a small executed-looking notebook and its paired source; return the .ipynb path.
    Each cell is (kind, source) or (kind, source, tags)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    count = 0
    for kind, source, *tags in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            count += 1
            nb.cells.append(nbformat.v4.new_code_cell(source, execution_count=count))
        if tags:
            nb.cells[-1].metadata["tags"] = list(tags[0])
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    jupytext.write(nb, path.with_suffix(".py"), fmt="py:percent")
    return path


def good_cells() -> list[tuple]:
    return [("markdown", "# A lesson\n\nYou will learn to add."),
            ("code", "\n".join(install_lines()) + "\nimport math"),
            ("markdown", "## Adding\n\nAs in [the first lesson](../01_preliminaries/"
                         "tensors.ipynb), a [tensor](../../book/glossary.md#term-tensor) adds "
                         "([Legendre, 1805](../../book/references.md)); see "
                         "[Figure 1](#fig-lesson-sum). Code such as `{x}` is fine."),
            ("code", "x = 1 + 1\nassert x == 2, 'one and one make two'"),
            ("markdown", "## Summary\n\nAdding works."),
            ("markdown", "## Exercises\n\n1. Add three."),
            ("code", "assert 1 + 1 + 1 == 3, 'three'", ["hide-cell"]),
            ("markdown", "2. Add four."),
            ("code", "four = 2 + 2\nassert four == 4, 'four'", ["hide-cell"])]


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
    "a term role": lambda c: c + [("markdown", "The {term}`tensor` adds.")],
    "a cite role": lambda c: c + [("markdown", "As {cite:p}`legendre1805` showed.")],
    "a doc role": lambda c: c[:2] + [("markdown", "See {doc}`tensors`.")] + c[2:],
    "a numref role": lambda c: c + [("markdown", "See {numref}`fig-lesson-sum`.")],
    "an NBVAL comment": lambda c: c + [("code", "# NBVAL_CHECK_OUTPUT\nprint(42)")],
    "a long code line": lambda c: c + [("code", "x = " + " + ".join(["1"] * 30))],
    "one solution": lambda c: c[:-2],
    "an untagged solution": lambda c: c[:-1] + [("code", c[-1][1])],
    "a solution without an assert": lambda c: c[:-1] + [("code", "four = 2 + 2",
                                                         ["hide-cell"])],
    "solutions before the exercises": lambda c: c[:3] + c[6:7] + c[8:9] + c[3:6] + c[7:8],
    "no assert": lambda c: c[:3] + [("code", "x = 1 + 1")] + c[4:],
    "no install lines": lambda c: c[:1] + [("code", "import math")] + c[2:],
    "first cell computes": lambda c: c[:1] + [("code", c[1][1] + "\nx = 1")] + c[2:],
    "star import": lambda c: c + [("code", "from math import *")],
    "long cell": lambda c: c + [("code", "\n".join(f"x{i} = {i}" for i in range(31)))],
    "a bare torch seed": lambda c: c + [("code", "import torch\ntorch.manual_seed(0)")],
    "a bare NumPy seed": lambda c: c + [("code", "import numpy as np\nnp.random.seed(0)")],
    "a bare Python seed": lambda c: c + [("code", "import random\nrandom.seed(0)")],
    "a tag in a split": lambda c: c + [("markdown", "$$\na \\\\ b \\tag{1}\n$$")],
    "a control character": lambda c: c + [("markdown", "$x \x07pprox 1$")],
    "an answer after its solution": lambda c: c + [("markdown", "The answer is four.")],
    "a Title Case title": lambda c: [("markdown", "# A Lesson On Adding\n\nYou will add.")]
    + c[1:],
}


def test_explicit_generators_are_not_global_seeding(tmp_path):
    cells = good_cells() + [("code", "import torch\ng = torch.Generator().manual_seed(0)\n"
                                     "import numpy as np\nrng = np.random.default_rng(0)")]
    assert problems_of(make_notebook(tmp_path, cells)) == []


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
    cells = good_cells() + [("code", "print(6 * 7)", ["nbval-check-output"])]
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
    path = executed(tmp_path, good_cells() + [("code", "print(6 * 7)", ["nbval-check-output"])])
    nb = nbformat.read(path, as_version=4)
    code_cells(nb)[-1].outputs[0]["text"] = "41\n"
    nbformat.write(nb, path)
    result = nbval(path)
    assert result.returncode != 0 and "41" in result.stdout, result.stdout[-2000:]
