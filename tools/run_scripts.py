"""Run every lesson as a plain Python script and record its time: the book on a GPU machine.

A lesson's source, `notebooks/<chapter>/<name>.py`, is a jupytext `py:percent` file, so it is
already a Python script: its Markdown cells are comments. This runs each one in a fresh process
(no Jupyter needed, which GPU images often lack), with `d2lite` importable from this checkout, and
writes `notebooks/timings-gpu.csv` (`notebook,seconds,device`). Every lesson check is an `assert`,
so a lesson that exits with an error failed a check (or crashed) on that device.

    python tools/run_scripts.py                            # every lesson, on the GPU if any
    python tools/run_scripts.py notebooks/04_cnn/*.py      # some lessons
    python tools/run_scripts.py --out /tmp/t.csv --log-dir /tmp/logs
    python tools/run_scripts.py --jobs 4                   # 4 at a time (one GPU, many cores)

It runs on the CPU too (that is how it is tested); the device column says which one ran.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from execute import lesson_sources  # noqa: E402  (tools/ is not a package)


def device_name() -> str:
    """'cuda:<GPU name>' when torch sees a GPU, else 'cpu' (what `d2lite.try_gpu()` picks)."""
    import torch
    return f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"


def lesson_name(source: Path) -> str:
    """The notebook's name as timings.csv writes it: '04_cnn/resnet.ipynb'."""
    try:
        return source.relative_to(ROOT / "notebooks").with_suffix(".ipynb").as_posix()
    except ValueError:  # a script outside notebooks/
        return source.with_suffix(".ipynb").name


def run_lesson(source: Path, log_dir: Path | None, timeout: float,
               env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run one lesson in a fresh interpreter from its own folder, with `env` added to this
    process's environment; return (seconds, exit code, its output)."""
    env = dict(os.environ, MPLBACKEND="Agg", D2LITE_WIDGETS="static", **(env or {}),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, source.name], cwd=source.parent, env=env,
                              capture_output=True, text=True, timeout=timeout)
        code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        code, output = 124, f"timed out after {timeout:.0f} s\n{err.stdout or ''}{err.stderr or ''}"
    seconds = time.perf_counter() - start
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{source.stem}.log").write_text(output, encoding="utf-8")
    if code != 0:  # show where it failed: the end of the traceback
        print("\n".join(output.splitlines()[-15:]), flush=True)
    return seconds, code, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", type=Path, help="lesson .py or .ipynb files")
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks" / "timings-gpu.csv")
    parser.add_argument("--log-dir", type=Path, help="write each lesson's output here")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per lesson")
    parser.add_argument("--jobs", type=int, default=1, help="lessons run at the same time")
    args = parser.parse_args(argv)
    sources = [p.resolve().with_suffix(".py") for p in args.lessons] or lesson_sources()
    device, rows, failed = device_name(), [], []
    print(f"running {len(sources)} lessons as scripts on {device}, {args.jobs} at a time",
          flush=True)

    def one(source: Path) -> None:
        name = lesson_name(source)
        seconds, code, _ = run_lesson(source, args.log_dir, args.timeout)
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name:55s} {seconds:7.1f} s  {status}", flush=True)
        rows.append({"notebook": name, "seconds": f"{seconds:.3f}", "device": device})
        if code != 0:
            failed.append(name)

    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:  # threads only wait on the lesson processes
        list(pool.map(one, sources))
    wall = time.perf_counter() - start
    rows.sort(key=lambda row: row["notebook"])
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["notebook", "seconds", "device"])
        writer.writeheader()
        writer.writerows(rows)
    total = sum(float(r["seconds"]) for r in rows)
    print(f"{len(rows) - len(failed)} of {len(rows)} lessons passed on {device}: "
          f"{wall:.1f} s wall clock, lesson times sum to {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
