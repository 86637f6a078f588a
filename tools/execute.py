"""Execute lessons in a fresh kernel on the CPU and store their outputs (what `make execute` runs).

Each lesson's source is its jupytext `py:percent` file (`notebooks/<chapter>/<name>.py`); the
executed `.ipynb` beside it is what nbval tests and the book shows.
Timings go to `notebooks/timings.csv`.

    python tools/execute.py                                  # every lesson
    python tools/execute.py notebooks/01_preliminaries/tensors.py
"""
from __future__ import annotations

import csv
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "notebooks" / "timings.csv"


def lesson_sources() -> list[Path]:
    """Every paired lesson source under notebooks/, in book order (by path)."""
    return sorted(p for p in (ROOT / "notebooks").glob("*/*.py") if p.with_suffix(".ipynb").exists()
                  or p.read_text(encoding="utf-8").startswith("# ---"))


def execute(source: Path, record: Path | None = None) -> float:
    """Run `source` top to bottom in a fresh python3 kernel, write the .ipynb, return seconds.
    The values the lesson names with `d2lite.record` go to the file `record`."""
    # Imported here, so tools/run_scripts.py can use lesson_sources() where Jupyter is absent.
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    # Stored outputs are CPU ones (even where a GPU exists), with the kernel-free widgets.
    # OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning, which on a busy
    # 2-core machine made small training runs 10-40x slower.
    os.environ.update(CUDA_VISIBLE_DEVICES="", D2LITE_WIDGETS="static", OMP_WAIT_POLICY="PASSIVE",
                      D2LITE_RECORD=str(record or os.devnull))
    os.environ.pop("D2LITE_SEED_OFFSET", None)  # stored outputs are seed 0's
    client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)  # widget state would load ipywidgets' JavaScript from a CDN
    stable_cell_ids(nb)
    nbformat.write(nb, source.with_suffix(".ipynb"))
    return seconds


def stable_cell_ids(nb) -> None:
    """Name each cell by its position and source, so re-running a lesson does not rewrite every id
    (jupytext draws random ones) and the diff shows only what changed."""
    for i, cell in enumerate(nb.cells):
        cell.id = hashlib.sha1(f"{i}:{cell.source}".encode()).hexdigest()[:8]


def write_timings(new: dict[str, float]) -> None:
    """Merge `new` ({notebook: seconds}) into notebooks/timings.csv, keeping other rows."""
    from sweep import locked  # two `make execute` at once each keep the other's rows
    with locked(TIMINGS):
        merge_timings(new)


def merge_timings(new: dict[str, float]) -> None:
    rows = {}
    if TIMINGS.exists():
        with TIMINGS.open(newline="") as f:
            rows = {r["notebook"]: r for r in csv.DictReader(f)}
    for name, seconds in new.items():
        rows[name] = {"notebook": name, "seconds": f"{seconds:.1f}", "device": "cpu"}
    with TIMINGS.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["notebook", "seconds", "device"])
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows))


def main(argv: list[str]) -> int:
    import tempfile

    import sweep  # the stored run is the sweep table's 'stored' row
    sources = [Path(a).resolve().with_suffix(".py") for a in argv] or lesson_sources()
    timings = {}
    for source in sources:
        name = source.relative_to(ROOT / "notebooks").with_suffix(".ipynb").as_posix()
        print(f"executing {name} ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            record = Path(tmp) / "record.jsonl"
            timings[name] = execute(source, record)
            values = sweep.read_values(record)
        print(f"  {timings[name]:.1f} s", flush=True)
        write_timings({name: timings[name]})
        sweep.write_rows([sweep.make_row(source, "stored", {}, True, timings[name], "",
                                         values)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
