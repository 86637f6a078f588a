"""The variation sweep (`make sweep`): run lessons as scripts under other seeds, CPU kernels and
thread counts, and record each outcome in `notebooks/sweep.csv`.

A lesson's checks are claims about its method, so they must hold on every reader's machine, not
only on the one that stored its outputs. Each variant changes what a reader's machine changes:

    seed+1, seed+2   D2LITE_SEED_OFFSET=1 or 2: every training seed (initialisation, batch order,
                     dropout, sampling) moves; the data (samples, splits) stays as it is
    cpu-kernels      seed 0 on the CPU kernels this CPU does not pick by itself
                     (ATEN_CPU_CAPABILITY=default, or avx2 on a CPU without AVX2) and one thread
    cuda             seed 0 on the GPU (only with --device cuda, on a GPU machine)

Each row of sweep.csv: the lesson, a hash of its code cells, the variant, whether it passed, its
seconds, the failing check's message, and the values it named with `d2lite.record`. Under the
variants that keep seed 0 (cpu-kernels, cuda) a lesson also fails when a line that a cell tagged
`nbval-check-output` stored is missing from what it printed: such a cell must print only what is
the same on every machine. A test in
`make test` fails when a lesson's current code has no passing row for a default variant, so
changing a lesson means: `make execute NB=...`, then `make sweep NB=...`.

    python tools/sweep.py                                   # every lesson, default variants
    python tools/sweep.py notebooks/04_cnn/resnet.py        # one lesson
    python tools/sweep.py --variants seed+1 --jobs 2        # one variant, two lessons at a time
    python tools/sweep.py --device cuda                     # the GPU variant too
    python tools/sweep.py --missing                         # only what the record lacks
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from execute import lesson_sources  # noqa: E402  (tools/ is not a package)
from run_scripts import lesson_name, run_lesson  # noqa: E402

SWEEP = ROOT / "notebooks" / "sweep.csv"
FIELDS = ["lesson", "code_hash", "variant", "passed", "seconds", "message", "values", "env",
          "machine"]
DEFAULT_VARIANTS = ("seed+1", "seed+2", "cpu-kernels")


def code_hash(source: Path) -> str:
    """A hash of a lesson's code cells (its py:percent source), blind to Markdown and to blank
    lines around cells, so editing prose does not ask for a new sweep."""
    cells, current, markdown = [], [], True  # text before the first `# %%` is the header
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            if not markdown:
                cells.append("\n".join(current).strip())
            current, markdown = [], bool(re.match(r"# %% \[(markdown|md)\]", line))
        else:
            current.append(line)
    if not markdown:
        cells.append("\n".join(current).strip())
    return hashlib.sha256("\n# %%\n".join(cells).encode()).hexdigest()[:12]


def other_kernels(native: str) -> str:
    """The ATEN_CPU_CAPABILITY that differs most from this CPU's own choice: 'default' (no
    vector kernels) on x86 CPUs with AVX2 or AVX-512, 'avx2' on one without."""
    return "avx2" if native.lower() == "default" else "default"


def variants(device: str = "cpu") -> dict[str, dict[str, str]]:
    """Each variant's environment, by name: the default ones, and 'cuda' when asked for."""
    import torch
    kernels = other_kernels(torch.backends.cpu.get_cpu_capability())
    cpu = {"CUDA_VISIBLE_DEVICES": ""}  # a GPU machine still sweeps the CPU variants on the CPU
    table = {"seed+1": {**cpu, "D2LITE_SEED_OFFSET": "1"},
             "seed+2": {**cpu, "D2LITE_SEED_OFFSET": "2"},
             "cpu-kernels": {**cpu, "ATEN_CPU_CAPABILITY": kernels, "OMP_NUM_THREADS": "1"}}
    if device == "cuda":
        table["cuda"] = {}
    return table


def machine(env: dict[str, str]) -> str:
    """What ran a variant: 'cpu AVX512 -> default, 1 thread, torch 2.13.0+cpu' or the GPU."""
    import torch
    if env.get("CUDA_VISIBLE_DEVICES") != "" and torch.cuda.is_available():
        return f"cuda {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    native = torch.backends.cpu.get_cpu_capability()
    kernels = f" -> {env['ATEN_CPU_CAPABILITY']}" if "ATEN_CPU_CAPABILITY" in env else ""
    threads = env.get("OMP_NUM_THREADS") or str(torch.get_num_threads())
    return f"cpu {native}{kernels}, {threads} thread(s), torch {torch.__version__}"


def failure_message(output: str) -> str:
    """The last `SomethingError: ...` line of a traceback (the failing check), or its last line."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Interrupt)\b", line)]
    return (errors or lines or [""])[-1].strip()[:300]


def exact_output_mismatch(source: Path, output: str) -> str:
    """The first stored line of a cell tagged nbval-check-output (the lines nbval compares
    exactly) that a run's output lacks, or '' when every one is there. Such a cell may print
    only what is the same on every machine; a variant without a seed offset shows whether it
    does."""
    notebook = source.with_suffix(".ipynb")
    if not notebook.exists():
        return ""
    printed = set(output.splitlines())
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if "nbval-check-output" not in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            for line in (text if isinstance(text, str) else "".join(text)).splitlines():
                if line.strip() and line not in printed:
                    return line
    return ""


def read_values(path: Path) -> dict[str, float]:
    """The values a run named with `d2lite.record`, the last of each name."""
    values = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            values.update(json.loads(line))
    return values


def read_rows(path: Path = SWEEP) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock beside `path`, so sweeps and `make execute` running at the same
    time each merge their rows instead of overwriting each other's."""
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def write_rows(new: list[dict[str, str]], path: Path = SWEEP) -> None:
    """Merge `new` into the table: one row per (lesson, variant), the newest kept."""
    with locked(path):
        rows = {(r["lesson"], r["variant"]): r for r in read_rows(path)}
        rows.update({(r["lesson"], r["variant"]): r for r in new})
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows[key] for key in sorted(rows))


def make_row(source: Path, variant: str, env: dict[str, str], passed: bool, seconds: float,
             message: str, values: dict[str, float]) -> dict[str, str]:
    return {"lesson": lesson_name(source), "code_hash": code_hash(source), "variant": variant,
            "passed": str(passed), "seconds": f"{seconds:.1f}", "message": message,
            "values": json.dumps(values, sort_keys=True),
            "env": " ".join(f"{k}={v}" for k, v in sorted(env.items())
                            if k != "CUDA_VISIBLE_DEVICES"),
            "machine": machine(env)}


def sweep_one(source: Path, variant: str, env: dict[str, str], threads: int, timeout: float,
              log_dir: Path | None) -> dict[str, str]:
    """Run one lesson under one variant; return its row."""
    env = {"OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE", **env}
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "record.jsonl"
        seconds, code, output = run_lesson(source, None, timeout,
                                           env={**env, "D2LITE_RECORD": str(record)})
        values = read_values(record)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{source.stem}.{variant}.log").write_text(output, encoding="utf-8")
    message = "" if code == 0 else failure_message(output)
    if code == 0 and "D2LITE_SEED_OFFSET" not in env:  # seed 0: exact outputs must match
        line = exact_output_mismatch(source, output)
        if line:
            code, message = 1, f"an nbval-check-output line differs here: {line[:200]!r}"
    return make_row(source, variant, env, code == 0, seconds, message, values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", type=Path, help="lesson .py or .ipynb files")
    parser.add_argument("--variants", nargs="+", help=f"default: {' '.join(DEFAULT_VARIANTS)}")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cuda adds the GPU variant")
    parser.add_argument("--jobs", type=int, default=1,
                        help="lessons at the same time; each gets cores / jobs threads")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per lesson")
    parser.add_argument("--out", type=Path, default=SWEEP)
    parser.add_argument("--log-dir", type=Path, help="write each run's output here")
    parser.add_argument("--missing", action="store_true",
                        help="skip runs that already have a row for the lesson's current code")
    args = parser.parse_args(argv)
    table = variants(args.device)
    names = args.variants or [*DEFAULT_VARIANTS, *(["cuda"] if args.device == "cuda" else [])]
    unknown = sorted(set(names) - set(table))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(table)}")
    sources = [p.resolve().with_suffix(".py") for p in args.lessons] or lesson_sources()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)  # jobs share the cores, not oversubscribe
    runs = [(source, name) for source in sources for name in names]
    if args.missing:  # resume a sweep: the same code under the same variant gives the same row
        done = {(r["lesson"], r["variant"], r["code_hash"]) for r in read_rows(args.out)}
        runs = [(source, name) for source, name in runs
                if (lesson_name(source), name, code_hash(source)) not in done]
    print(f"sweeping {len(sources)} lessons x {len(names)} variants ({', '.join(names)}): "
          f"{len(runs)} runs, {args.jobs} at a time with {threads} thread(s) each", flush=True)

    def one(run: tuple[Path, str]) -> dict[str, str]:
        source, name = run
        row = sweep_one(source, name, table[name], threads, args.timeout, args.log_dir)
        write_rows([row], args.out)  # as it goes: an interrupted sweep keeps what it measured
        status = "ok" if row["passed"] == "True" else f"FAILED: {row['message']}"
        print(f"{row['lesson']:45s} {name:12s} {float(row['seconds']):7.1f} s  {status}",
              flush=True)
        return row

    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:  # threads only wait on the lesson processes
        rows = list(pool.map(one, runs))
    failed = [r for r in rows if r["passed"] != "True"]
    print(f"{len(rows) - len(failed)} of {len(rows)} runs passed in "
          f"{time.perf_counter() - start:.0f} s; the record is {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
