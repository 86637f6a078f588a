"""The reader's self-check, `python -m d2lite`: versions, the device found, and the local datasets.

It downloads nothing; each dataset file found in $D2LITE_DATA or the cache is sha256-checked.
"""
from __future__ import annotations

import platform
import sys

import numpy as np
import torch

import d2lite
from d2lite.hub import cache_dir, data_dir, locate
from d2lite.registry import REGISTRY


def _device_line() -> str:
    device = d2lite.try_gpu()
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)}; {d2lite.num_gpus()} CUDA GPU(s))"
    if device.type == "mps":
        return "mps (Apple silicon GPU)"
    return "cpu (no CUDA or MPS GPU found; lessons run on the CPU, just slower)"


def _dataset_line(name: str) -> tuple[str, bool]:
    """One line on dataset `name`, and whether a local file of it is damaged."""
    found = [(entry.name, *locate(name, entry.name)) for entry in REGISTRY[name]]
    damaged = [f"{path} has the wrong sha256" for _, path, ok in found if path and not ok]
    verified = [path for _, path, ok in found if ok]
    where = sorted({"D2LITE_DATA" if data_dir() and data_dir() in path.parents else "cache"
                    for path in verified})
    line = f"{len(verified)}/{len(found)} files verified"
    line += f" (in {' and '.join(where)})" if verified else ""
    missing = len(found) - len(verified) - len(damaged)
    line += f"; {missing} missing, downloaded on first use" if missing else ""
    if damaged:
        line += "; " + "; ".join(damaged) + ": replace or delete it"
    return f"  {name:<14} {line}", bool(damaged)


def main() -> int:
    """Print the self-check; return 1 when a local dataset file is damaged, else 0.

    Example:
        >>> import contextlib, io
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main()
        >>> out.getvalue().startswith("d2lite "), code
        (True, 0)
    """
    root = data_dir()
    lines = [
        f"d2lite {d2lite.__version__} self-check",
        f"  python   {platform.python_version()} ({sys.executable})",
        f"  torch    {torch.__version__}    numpy {np.__version__}",
        f"  device   {_device_line()}",
        f"  data     D2LITE_DATA={root}" + ("" if root is None or root.is_dir() else
                                           "  (this folder does not exist)")
        if root is not None else "  data     D2LITE_DATA is not set (datasets go to the cache)",
        f"  cache    {cache_dir()}  (set D2LITE_CACHE to move it)",
        "datasets (sha256-checked; nothing is downloaded here):",
    ]
    checked = [_dataset_line(name) for name in REGISTRY]
    lines += [line for line, _ in checked]
    any_damaged = any(damaged for _, damaged in checked)
    if any_damaged:
        lines.append("Some files are damaged: delete them (cache) or replace them (D2LITE_DATA).")
    print("\n".join(lines))
    return 1 if any_damaged else 0


if __name__ == "__main__":
    sys.exit(main())
