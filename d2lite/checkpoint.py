"""Checkpoints: a plain dict of `state_dict()`s plus counters, written atomically, read safely.

Writing goes through a temporary file and `os.replace`, so a crash never leaves half a checkpoint;
reading uses `torch.load(weights_only=True)`, which runs no code from the file.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn


def save_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, **state) -> Path:
    """Write `{"model": ..., "optimizer": ..., **state}` to `path` atomically; return the path.

    The dict goes to a temporary file in the same folder, is flushed and fsync'ed, then renamed over
    `path` (`os.replace`), so a crash leaves the old checkpoint or the new one, never half of one.
    `state` values must be tensors, numbers, strings, lists or dicts (`weights_only` loading).

    Example:
        >>> save_checkpoint("ckpt.pt", model, optimizer, epoch=3)   # doctest: +SKIP
    """
    path = Path(path)
    checkpoint = {"model": model.state_dict(),
                  "optimizer": optimizer.state_dict() if optimizer is not None else None, **state}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left over when writing failed
    if os.name == "posix":  # make the rename itself durable
        folder = os.open(path.parent, os.O_RDONLY)
        os.fsync(folder)
        os.close(folder)
    return path


def load_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load a `save_checkpoint` file into `model` (and `optimizer`); return the whole dict.

    Loads with `weights_only=True` (no arbitrary code runs) onto the CPU; `load_state_dict` then
    copies into the model wherever it lives.

    Example:
        >>> state = load_checkpoint("ckpt.pt", model, optimizer); state["epoch"]   # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint(): no checkpoint at {path}; write one with "
                                "save_checkpoint() or fit(..., checkpoint=path)")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        if checkpoint.get("optimizer") is None:
            raise ValueError(f"load_checkpoint(): {path} holds no optimizer state; leave out "
                             "optimizer, or save with save_checkpoint(path, model, optimizer)")
        optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint
