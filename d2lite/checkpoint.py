"""Checkpoints: a plain dict of `state_dict()`s and counters (and the model's constructor
arguments for `load_model`), written atomically, read with `torch.load(weights_only=True)`."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def _unwrap(model: nn.Module) -> nn.Module:
    """The model itself, also when torchrun's DistributedDataParallel wraps it."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def _is_plain(value) -> bool:
    """True for numbers, strings, None and lists, tuples and str-keyed dicts of them."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, (int, float, str, type(None)))


def save_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, *,
                    model_args: dict | None = None, **state) -> Path:
    """Write `{"model": ..., "optimizer": ..., "model_args": ..., **state}` atomically to `path`:
    a temporary file, fsync'ed, renamed over `path`, so a crash never leaves half a checkpoint.
    `model_args`: the model's constructor arguments (numbers, strings, lists, dicts), for
    `load_model`; `state` values: tensors, numbers, strings, lists or dicts.

    Example:
        >>> import tempfile; folder = tempfile.mkdtemp()
        >>> model = nn.Linear(3, 2)
        >>> path = save_checkpoint(f"{folder}/linear.pt", model, epoch=3,
        ...                        model_args={"in_features": 3, "out_features": 2})
        >>> path.name, load_checkpoint(path, nn.Linear(3, 2))["epoch"]
        ('linear.pt', 3)
    """
    path = Path(path)
    if model_args is not None and not _is_plain(model_args):
        raise TypeError(f"save_checkpoint(): model_args={model_args!r} must be a dict of numbers,"
                        " strings, lists and dicts (what a weights-only load can read back)")
    checkpoint = {"model": _unwrap(model).state_dict(), "model_args": model_args,
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


def _read(path: Path) -> dict:
    """The checkpoint dict at `path`, with errors that say what to do."""
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint(): no checkpoint at {path}; write one with "
                                "save_checkpoint() or fit(..., checkpoint=path)")
    try:
        if not zipfile.is_zipfile(path):  # torch.save writes a zip; a cut one has lost its end
            raise RuntimeError("not a complete zip archive, as torch.save writes")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError) as error:
        raise ValueError(f"load_checkpoint(): {path} ({path.stat().st_size:,} bytes) is truncated"
                         f" or damaged ({str(error).splitlines()[0]}); it was cut short while "
                         "being written or copied: copy it again, or delete it and train "
                         "again") from error
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(f"load_checkpoint(): {path} is not a save_checkpoint() file; a plain "
                         "state_dict loads with model.load_state_dict(torch.load(path))")
    return checkpoint


def load_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load a `save_checkpoint` file into `model` (and `optimizer`); return the whole dict. It is
    read onto the CPU with `weights_only=True` (no code runs) and copied wherever the model lives.

    Example:
        >>> import tempfile; path = f"{tempfile.mkdtemp()}/ckpt.pt"
        >>> model = nn.Linear(3, 2); optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> _ = save_checkpoint(path, model, optimizer, epoch=3)
        >>> load_checkpoint(path, model, optimizer)["epoch"]
        3
    """
    return _load_into(Path(path), _read(Path(path)), _unwrap(model), optimizer)


def _load_into(path: Path, checkpoint: dict, model: nn.Module,
               optimizer: torch.optim.Optimizer | None) -> dict:
    """Copy a checkpoint dict (read from `path`) into `model` and `optimizer`; return the dict."""
    weights, own = checkpoint["model"], model.state_dict()
    for key in [*own, *(k for k in weights if k not in own)]:
        mine, saved = own.get(key), weights.get(key)
        if mine is None or saved is None or mine.shape != saved.shape:
            args = checkpoint.get("model_args")
            fix = (f"build it with the saved model_args={args}, or use load_model()" if args
                   else "build the model with the same class and arguments as the saved one")
            shape = lambda t: "missing" if t is None else tuple(t.shape)
            raise ValueError(f"load_checkpoint(): {path} holds another architecture than this "
                             f"{type(model).__name__}: the first tensor that differs is {key!r}, "
                             f"{shape(saved)} in the file but {shape(mine)} in the model; {fix}")
    model.load_state_dict(weights)
    if optimizer is not None:
        if checkpoint.get("optimizer") is None:
            raise ValueError(f"load_checkpoint(): {path} holds no optimizer state; leave out "
                             "optimizer, or save with save_checkpoint(path, model, optimizer)")
        optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint


def load_model(path: str | os.PathLike, cls: type[nn.Module]) -> nn.Module:
    """Rebuild a model saved with `model_args`: `cls(**model_args)` holding the saved weights.

    Example:
        >>> import tempfile; path = f"{tempfile.mkdtemp()}/linear.pt"
        >>> _ = save_checkpoint(path, nn.Linear(3, 2), model_args={"in_features": 3,
        ...                                                        "out_features": 2})
        >>> load_model(path, nn.Linear)
        Linear(in_features=3, out_features=2, bias=True)
    """
    checkpoint = _read(Path(path))  # read once: the arguments and the weights
    args = checkpoint.get("model_args")
    if args is None:
        raise ValueError(f"load_model(): {path} was saved without model_args; build the model "
                         "yourself and use load_checkpoint(path, model), or save with "
                         "save_checkpoint(path, model, model_args={...})")
    model = cls(**args)
    _load_into(Path(path), checkpoint, model, None)
    return model
