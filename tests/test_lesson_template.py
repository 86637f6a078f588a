"""tools/lesson_template.py is a lesson that passes every rule of tests/test_notebook_rules.py as it
stands: executed in a fresh kernel, its notebook has a title and goals, an assert, a Summary and
Exercises with collapsed (hide-cell) solutions that assert."""
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from test_notebook_rules import RULES

ROOT = Path(__file__).resolve().parents[1]


def test_the_lesson_template_follows_every_rule(tmp_path):
    nb = jupytext.read(ROOT / "tools" / "lesson_template.py")
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "template.ipynb"
    nbformat.write(nb, path)
    jupytext.write(nb, path.with_suffix(".py"), fmt="py:percent")
    problems = [f"{rule.__name__}: {p}" for rule in RULES for p in rule(nb, path)]
    assert not problems, problems
    solutions = [c for c in nb.cells if "hide-cell" in c.metadata.get("tags", [])]
    assert len(solutions) >= 2 and all("assert " in c.source for c in solutions)
