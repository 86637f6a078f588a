"""Devices and seeds: CUDA, then Apple's MPS, then the CPU; repeatable runs; moving batches and
mixed precision for `fit`. Only `seed_everything` and `set_rng_state` change global state."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from d2lite.variation import training_seed


def _mps_available() -> bool:
    """True when Apple's Metal backend (MPS) can run tensors on this machine."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def num_gpus() -> int:
    """Return the number of accelerators torch can use: CUDA devices, else 1 for MPS, else 0.

    Example:
        >>> num_gpus() >= 0
        True
    """
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1 if _mps_available() else 0


def try_gpu(i: int = 0) -> torch.device:
    """Return accelerator `i` if there is one (CUDA first, then MPS), else the CPU.

    Example:
        >>> X = torch.ones(2, 3, device=try_gpu())   # on the GPU when there is one
    """
    if not isinstance(i, int) or i < 0:
        raise ValueError(f"try_gpu(): got i={i!r}; expected a device index >= 0")
    if torch.cuda.is_available():
        return torch.device(f"cuda:{i}" if i < torch.cuda.device_count() else "cpu")
    return torch.device("mps" if _mps_available() and i == 0 else "cpu")


def seed_everything(seed: int = 0) -> int:
    """Seed Python's, NumPy's and torch's generators (CPU and every GPU) so runs repeat; return
    the seed used, so a notebook can print it. The variation sweep shifts it: with
    `$D2LITE_SEED_OFFSET=k` the seed used is `seed + 1000 k` (`d2lite.variation.training_seed`).

    Example:
        >>> seed_everything(42)
        42
        >>> a = torch.rand(2); _ = seed_everything(42); bool((a == torch.rand(2)).all())
        True
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed_everything(): got seed={seed!r}; expected an int in [0, 2**32)")
    seed = training_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CPU, CUDA and MPS generators
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here
    return seed


def rng_state() -> dict:
    """Return the state of every random generator (torch CPU and CUDA, NumPy, Python) as tensors,
    lists and numbers, which a `torch.load(..., weights_only=True)` checkpoint can hold.

    Example:
        >>> state = rng_state(); a = torch.rand(2); set_rng_state(state)
        >>> bool((a == torch.rand(2)).all())
        True
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss_next],
    }


def set_rng_state(state: dict) -> None:
    """Restore the generators from `rng_state()`'s dict (CUDA's when the GPU count matches).

    Example:
        >>> state = rng_state(); first = random.random(); set_rng_state(state)
        >>> random.random() == first
        True
    """
    torch.set_rng_state(state["torch"])
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if state["cuda"] and len(state["cuda"]) == gpus:
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def autocast_context(device: torch.device, amp: str | None):
    """Return the mixed-precision context for `amp` (None, "bf16" or "fp16") on `device`.

    bf16 works on CPU and CUDA; fp16 needs CUDA (and a GradScaler, which `fit` adds).

    Example:
        >>> with autocast_context(torch.device("cpu"), "bf16"):
        ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
        torch.bfloat16
    """
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[amp])


def to_device(x, device: torch.device):
    """Move a tensor, or a tuple/list of tensors (a multi-input batch), to `device`.

    Example:
        >>> X, y = to_device((torch.ones(2, 3), torch.zeros(2)), torch.device("cpu"))
    """
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, (tuple, list)):
        return type(x)(to_device(v, device) for v in x)
    return x
