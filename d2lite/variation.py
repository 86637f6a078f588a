"""What the variation sweep (`make sweep`) varies and records: a seed offset for training, read
from `$D2LITE_SEED_OFFSET`, and `record`, which writes a lesson's named results where the sweep
reads them. A lesson's data (samples, splits) never uses the offset: only its training does."""
from __future__ import annotations

import json
import math
import os

OFFSET_VARIABLE = "D2LITE_SEED_OFFSET"
RECORD_VARIABLE = "D2LITE_RECORD"
OFFSET_STRIDE = 1000  # offset k moves seed s to s + 1000 k: far from the seeds lessons use


def seed_offset() -> int:
    """Return the training-seed offset k from `$D2LITE_SEED_OFFSET` (0 when unset).

    Example:
        >>> seed_offset()   # unset outside a sweep
        0
    """
    text = os.environ.get(OFFSET_VARIABLE, "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise ValueError(f"seed_offset(): ${OFFSET_VARIABLE}={text!r}; expected a whole "
                         f"number >= 0 (unset it, or e.g. `export {OFFSET_VARIABLE}=1`)")
    return int(text)


def training_seed(seed: int) -> int:
    """Return the seed training should use: `seed` shifted by 1000 times the sweep's offset.
    `seed_everything` and `Batches(seed=...)` call it; data seeds (`train_val_split`, an explicit
    `torch.Generator`) do not, so every variant trains on the same data.

    Example:
        >>> training_seed(7)   # 7 + 1000 * 0 outside a sweep
        7
    """
    return seed + OFFSET_STRIDE * seed_offset()


def record(name: str, value: float) -> None:
    """Record a lesson's named result (an accuracy, a loss, a chosen rate) for the sweep's table
    `notebooks/sweep.csv`; outside `make sweep` and `make execute` it does nothing.

    Args:
        name: a short identifier, e.g. "test_acc".
        value: a number (a 0-d tensor or NumPy scalar is converted).

    Example:
        >>> record("test_acc", 0.912)   # written only where $D2LITE_RECORD names a file
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"record(): got name={name!r}; expected an identifier such as "
                         "'test_acc'")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"record(): {name!r} got a {type(value).__name__}; expected a "
                        "number (use .item() for a tensor)") from None
    if not math.isfinite(number):
        raise ValueError(f"record(): {name!r} got {number}; expected a finite number")
    path = os.environ.get(RECORD_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({name: number}) + "\n")
