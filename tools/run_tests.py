"""Everything `make test` checks, in order, ending with one honest summary line.

Steps: ruff; the unit tests (tests/, without the browser check); every docstring example in
d2lite (`pytest --doctest-modules d2lite`, data from $D2LITE_DATA); every lesson under nbval in a
fresh kernel; the book build with warnings as errors; the browser check of every built page. A
failing step does not hide the later ones: all run, and the exit status is non-zero if any failed.

`make test NB=notebooks/04_cnn/resnet.py` (or `python tools/run_tests.py <lessons>`) checks only the
named lessons: nbval in a fresh kernel, then the lesson rules for them.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "_build" / "reports"
BIN = Path(sys.executable).parent


def run(title: str, cmd: list[str], env: dict | None = None) -> tuple[int, str]:
    """Run `cmd` from the project root, echoing its output; return (exit code, output)."""
    print(f"\n=== {title}: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, env={**os.environ, **(env or {})})
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    code = proc.wait()
    print(f"=== {title}: exit {code} in {time.perf_counter() - start:.0f} s", flush=True)
    return code, "".join(lines)


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a pytest JUnit XML report."""
    if not path.exists():
        return 0, 0, 0
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return tests - failed - skipped, failed, skipped


def pytest(title: str, report: str, args: list[str],
           env: dict | None = None) -> tuple[int, tuple[int, int, int]]:
    xml = REPORTS / f"{report}.xml"
    xml.unlink(missing_ok=True)
    code, _ = run(title, [str(BIN / "pytest"), "-p", "no:cacheprovider", f"--junitxml={xml}",
                          *args], env)
    return code, junit_counts(xml)


def nbval(notebooks: list[str]) -> tuple[int, set[str]]:
    """Run lessons under nbval, a fresh kernel each, as `make execute` ran them (static widgets,
    idle OpenMP threads asleep); outputs are compared only in cells tagged nbval-check-output.
    Return (exit code, names of the notebooks that failed)."""
    code, _ = pytest("notebooks", "notebooks", ["--nbval-lax", "--nbval-current-env",
                                                 "-o", "testpaths=", *notebooks],
                     env={"D2LITE_WIDGETS": "static", "OMP_WAIT_POLICY": "PASSIVE"})
    # nbval counts cells; a notebook passes when none of its cells failed.
    failed = notebook_failures(REPORTS / "notebooks.xml")
    if code and not failed:  # nbval stopped before reporting cells: count every notebook failed
        failed = set(notebooks)
    return code, failed


def test_lessons(paths: list[str]) -> int:
    """The quick check of a few lessons: nbval on each, then the lesson rules for them."""
    notebooks = [str(Path(p).with_suffix(".ipynb")) for p in paths]
    code, failed = nbval(notebooks)
    names = " or ".join(Path(p).stem for p in paths)
    rules_code, rules = pytest("lesson rules", "rules",
                               ["tests/test_notebook_rules.py", "-k", names])
    print(f"\nmake test NB=...: {len(notebooks) - len(failed)} of {len(notebooks)} notebooks "
          f"passed; {rules[0]} rule checks passed ({rules[1]} failed)")
    return 1 if code or rules_code else 0


def main(argv: list[str]) -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    if argv:
        return test_lessons(argv)
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*/*.ipynb"))
    failures = []

    code, _ = run("lint", [str(BIN / "ruff"), "check", "."])
    if code:
        failures.append("ruff")

    code, unit = pytest("unit tests", "unit", ["tests", "--ignore=tests/test_browser.py"])
    if code:
        failures.append("unit tests")

    code, docs = pytest("doctests", "doctests", ["--doctest-modules", "-o", "testpaths=", "d2lite"])
    if code:
        failures.append("doctests")

    code, nb_failed = nbval(notebooks)
    if code:
        failures.append("notebooks")

    code, out = run("book", [str(BIN / "jupyter-book"), "build", ".", "-W", "--keep-going",
                                  "--quiet"])
    warnings = len(re.findall(r"\bWARNING\b|\bERROR\b", out))
    if code or warnings:
        failures.append("book build")

    code, browser = pytest("browser check", "browser", ["tests/test_browser.py"])
    if code:
        failures.append("browser check")

    passed_nbs = len(notebooks) - len(nb_failed)
    print(f"\nmake test: {unit[0]} unit tests passed ({unit[1]} failed, {unit[2]} skipped); "
          f"{docs[0]} doctests passed ({docs[1]} failed); {passed_nbs} of {len(notebooks)} "
          f"notebooks passed; book built with {warnings} "
          f"warnings; {browser[0]} browser checks passed ({browser[1]} failed)")
    if failures:
        print("FAILED: " + ", ".join(failures))
    book_ok = "book build" not in failures
    total_passed = unit[0] + docs[0] + passed_nbs + browser[0] + book_ok
    total_failed = (unit[1] + docs[1] + len(nb_failed) + browser[1] + (not book_ok)
                    + ("ruff" in failures))
    print(f"total: {total_passed} passed, {total_failed} failed")
    return 1 if failures else 0


def notebook_failures(path: Path) -> set[str]:
    """Names of notebooks with at least one failing cell in an nbval JUnit report."""
    if not path.exists():
        return set()
    failed = set()
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(case.get("classname", "") or case.get("file", ""))
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
