"""The training loop: `fit` (one readable loop: first-batch checks, AMP, progress bars, a live
plot, resumable checkpoints, torchrun), `evaluate`, `History` and `EarlyStopping`."""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from d2lite._checks import call_model, check_arguments, check_data, check_first_batch
from d2lite.checkpoint import load_checkpoint, save_checkpoint
from d2lite.device import autocast_context, rng_state, set_rng_state, to_device, try_gpu
from d2lite.distributed import init_distributed, set_epoch, shard_data
from d2lite.metrics import Meter, named_metrics
from d2lite.plots import LivePlot, plot_history

__all__ = ["EarlyStopping", "FitState", "History", "evaluate", "fit"]

Metrics = Callable | Sequence[Callable] | dict[str, Callable] | None  # what `metrics=` takes
LOG_EVERY = 50  # batches between the only syncs inside an epoch (nan check, progress bar)


class History:
    """Per-epoch numbers from `fit`, one list per curve, read by name.

    The names are "train_loss", "train_<metric>", "val_loss", "val_<metric>" (the val_ ones when
    `fit` got `val_data`) and "seconds": `history["val_accuracy"][-1]` is the last epoch's
    validation accuracy.

    Example:
        >>> h = History()
        >>> h.append({"loss": 0.9, "accuracy": 0.6}, {"accuracy": 0.7}, seconds=1.0)
        >>> h.append({"loss": 0.5, "accuracy": 0.8}, {"accuracy": 0.8}, seconds=1.0)
        >>> h["val_accuracy"][-1], len(h), h.curves()
        (0.8, 2, ['train_loss', 'train_accuracy', 'val_accuracy'])
    """

    def __init__(self, curves: dict[str, list[float]] | None = None):
        self.data: dict[str, list[float]] = {k: list(v) for k, v in (curves or {}).items()}

    def __getitem__(self, name: str) -> list[float]:
        if name not in self.data:
            raise KeyError(f"History(): no curve named {name!r}; it has {self.curves()} "
                           "(val_* curves need fit(..., val_data=...))")
        return self.data[name]

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def __len__(self) -> int:
        return len(self.data.get("train_loss", []))

    def __repr__(self) -> str:
        last = ", ".join(f"{k} {self.data[k][-1]:.4g}" for k in self.curves() if self.data[k])
        return f"History({len(self)} epochs: {last})"

    def curves(self) -> list[str]:
        """The names of the curves (everything but "seconds"), in the order they were added."""
        return [k for k in self.data if k != "seconds"]

    def append(self, train: dict[str, float], val: dict[str, float], seconds: float) -> None:
        """Add one epoch: `train` and `val` map "loss" and metric names to that epoch's value."""
        for prefix, numbers in (("train_", train), ("val_", val)):
            for name, value in numbers.items():
                self.data.setdefault(prefix + name, []).append(value)
        self.data.setdefault("seconds", []).append(seconds)

    def to_dict(self) -> dict[str, list[float]]:
        """A plain dict of lists (what checkpoints store; `History(d)` reads it back)."""
        return {k: list(v) for k, v in self.data.items()}

    def plot(self) -> list:
        """Draw the loss curves (and the metrics beside them); return the Axes (a figure as a
        cell's last value would be shown twice in Jupyter)."""
        return plot_history({k: self.data[k] for k in self.curves()}).axes


@dataclass
class FitState:
    """What a callback's `on_epoch_end(state)` sees: the objects being trained and the epoch that
    just ended; it sets `state.stop = True` to end training there.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> state = FitState(model, torch.optim.SGD(model.parameters()), History(), epochs=5)
        >>> state.epoch, state.stop, state.verbose
        (0, False, False)
    """

    model: nn.Module  # under torchrun, the DistributedDataParallel wrapper of your model
    optimizer: torch.optim.Optimizer
    history: History
    epochs: int
    epoch: int = 0  # 0-based index of the epoch that just ended
    stop: bool = False
    verbose: bool = False  # fit's verbose: callbacks print only when it is True


class EarlyStopping:
    """Callback: stop `fit` when `monitor` has not improved for `patience` epochs.

    Args:
        monitor: a curve of the `History`, e.g. "val_loss" or "val_accuracy".
        mode: "min" (a loss) or "max" (an accuracy).
        restore_best: load the weights of the best epoch when training ends. Off by default, so
            the returned model is the one the history's last row describes; when on, the model
            is the one of epoch `best_epoch` (0-based) instead, and `fit(..., verbose=True)`
            says so.

    Example:
        >>> stopper = EarlyStopping("train_loss", patience=2)
        >>> model = nn.Linear(2, 1); X, y = torch.randn(8, 2), torch.randn(8, 1)
        >>> history = fit(model, [(X, y)], loss_fn=nn.MSELoss(), epochs=10, callbacks=[stopper],
        ...               optimizer=torch.optim.SGD(model.parameters(), lr=0.0),  # never improves
        ...               device="cpu")
        >>> len(history), stopper.best_epoch   # stopped after 2 epochs without improvement
        (3, 0)
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 mode: str = "min", restore_best: bool = False):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping(): got mode={mode!r}; expected 'min' or 'max'")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best = restore_best
        self.best, self.best_epoch, self.best_weights, self.wait = math.inf, None, None, 0

    def on_epoch_end(self, state: FitState) -> None:
        history = state.history
        if self.monitor not in history:
            raise ValueError(f"EarlyStopping(): no curve named {self.monitor!r}; the history has "
                             f"{history.curves()} (val_* ones need val_data)")
        value = self.sign * history[self.monitor][-1]
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                self.best_weights = {k: v.detach().clone()
                                     for k, v in state.model.state_dict().items()}
        else:
            self.wait += 1
            state.stop = self.wait >= self.patience
        if (state.stop or state.epoch == state.epochs - 1) and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)
            if state.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1} "
                      f"(best {self.monitor}); the history's last row is epoch "
                      f"{state.epoch + 1}")


def _pick_device(who: str, device) -> torch.device:
    if device is None:  # under torchrun, process i takes GPU i
        return try_gpu(int(os.environ.get("LOCAL_RANK", "0")))
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{who}(): got device={str(device)!r} but torch sees no CUDA GPU; use "
                         "device=d2lite.try_gpu(), which falls back to the CPU")
    return device


def _bar(verbose: bool, **kwargs):
    """A tqdm progress bar (a widget in Jupyter, text elsewhere), shown only when `verbose`."""
    from tqdm.auto import tqdm

    return tqdm(disable=not verbose, **kwargs)


def _resume(checkpoint, model: nn.Module, optimizer, scheduler, scaler) -> tuple[History, int]:
    """Load `checkpoint` when it exists (weights, optimizer, scheduler, scaler, random state);
    return the history so far and the epoch to start at."""
    if not Path(checkpoint).exists():
        return History(), 0
    saved = load_checkpoint(checkpoint, model, optimizer)
    for obj, key in ((scheduler, "scheduler"), (scaler, "scaler")):
        if obj is not None and saved.get(key) is not None:
            obj.load_state_dict(saved[key])
    set_rng_state(saved["rng"])
    return History(saved["history"]), saved["epoch"]


def _save(checkpoint, model: nn.Module, optimizer, scheduler, scaler, history: History) -> None:
    """Write everything `_resume` reads back after `len(history)` epochs."""
    save_checkpoint(checkpoint, model, optimizer, epoch=len(history), history=history.to_dict(),
                    rng=rng_state(), scaler=scaler.state_dict() if scaler.is_enabled() else None,
                    scheduler=scheduler.state_dict() if scheduler is not None else None)


def _run_eval(model: nn.Module, data, loss_fn, metrics: dict, device: torch.device,
              amp: str | None) -> dict[str, float]:
    """Loss and metrics of `model` over `data`, in eval mode without gradients."""
    meter, was_training = Meter(metrics, device), model.training
    model.eval()
    with torch.no_grad(), autocast_context(device, amp):
        for X, y in data:
            X, y = to_device(X, device), to_device(y, device)
            y_hat = call_model(model, X)
            meter.add(loss_fn(y_hat, y) if loss_fn is not None else None, y_hat, y)
    model.train(was_training)
    return meter.totals()


def evaluate(model: nn.Module, data: Iterable, *, loss_fn: Callable | None = None,
             metrics: Metrics = None, device: torch.device | str | None = None
             ) -> dict[str, float]:
    """Return the mean loss and metrics of `model` over `data`: `{"loss": ..., "accuracy": ...}`.

    Args:
        data: (X, y) batches, as for `fit`.
        loss_fn: averaged over examples (batch-size weighted) as "loss"; left out when None.
        metrics: functions of (y_hat, y) returning (sum, count), a list or a dict {name: fn}.
        device: where to run; None means where the model's parameters are.

    The model runs in eval mode under `torch.no_grad()`, then goes back to its previous mode.

    Example:
        >>> from d2lite import accuracy
        >>> model = nn.Linear(2, 2); _ = nn.init.eye_(model.weight), nn.init.zeros_(model.bias)
        >>> X, y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]]), torch.tensor([0, 1, 0])
        >>> evaluate(model, [(X, y)], metrics=[accuracy])   # the last example is wrong
        {'accuracy': 0.6666666666666666}
    """
    metrics = named_metrics("evaluate", metrics)
    device = _pick_device("evaluate", device or next((p.device for p in model.parameters()), None)
                          or try_gpu())
    check_data("evaluate", "data", data)
    check_first_batch("evaluate", "data", model, data, loss_fn, metrics, device, None,
                      training=False)
    return _run_eval(model, data, loss_fn, metrics, device, None)


def fit(model: nn.Module, train_data: Iterable, *, loss_fn: Callable,
        optimizer: torch.optim.Optimizer | None = None, epochs: int = 1,
        val_data: Iterable | None = None, metrics: Metrics = None,
        device: torch.device | str | None = None, callbacks: Sequence = (),
        grad_clip: float | None = None, amp: str | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        scheduler_step: str = "epoch", checkpoint: str | os.PathLike | None = None,
        resume: bool = False, plot: bool = False, verbose: bool = False) -> History:
    """Train `model` on `train_data` for `epochs` epochs; return the per-epoch `History`.

    It is this plain loop (the numbers are the phases marked in fit's code), plus first-batch
    checks, AMP, progress bars, a live plot, checkpoints and torchrun:

        for epoch in range(epochs):
            model.train()
            for X, y in train_data:
                X, y = X.to(device), y.to(device)   # 1. move the batch to the device
                loss = loss_fn(model(X), y)         # 2. forward pass and loss
                optimizer.zero_grad()               # 3. backward pass
                loss.backward()
                optimizer.step()                    # 4. update the weights
            model.eval()                            # 5. end of epoch: validation, history
            with torch.no_grad():
                ...                                 #    loss and metrics on val_data
            ...                                     # 6. callbacks, checkpoint, plot

    Args:
        train_data, val_data: re-iterable (X, y) batches (a DataLoader, d2lite's in-memory
            batches, a list); X may be a tuple of inputs, passed as `model(*X)`.
        loss_fn: `loss_fn(y_hat, y)` -> the batch's mean loss, e.g. `nn.CrossEntropyLoss()`.
        optimizer: default `torch.optim.Adam(model.parameters(), lr=1e-3)`.
        metrics: `d2lite.accuracy`, a list of such (y_hat, y) -> (sum, count) functions, or a
            dict {name: function}; computed on the training batches and on val_data.
        device: default `d2lite.try_gpu()`; the model and every batch are moved there.
        callbacks: objects with `on_epoch_end(state)` (a `FitState`; set `state.stop = True` to
            stop after this epoch), e.g. `[d2lite.EarlyStopping()]`.
        grad_clip: clip the gradient norm to this value before each step.
        amp: None (float32 throughout), "bf16" or "fp16": `torch.autocast` on the device's own
            type. The CPU and CUDA take "bf16"; "fp16" needs CUDA and gets a GradScaler; on
            Apple's MPS, which autocast dtypes work depends on the torch version.
        scheduler: stepped after every epoch, or after every batch with
            `scheduler_step="batch"` (e.g. `OneCycleLR`). `ReduceLROnPlateau`, which steps on a
            validation loss, goes in a callback instead (fit's error message shows how).
        checkpoint: a path written (atomically, by rank 0) after every epoch; with `resume=True`
            an existing file is loaded and training continues at the next epoch.
        plot: a live plot of the curves (redrawn in Jupyter, one figure at the end elsewhere);
            after training, `history.plot()` draws the same figure.
        verbose: progress bars and callbacks' messages; False (the default) prints nothing.

    Under `torchrun --nproc_per_node=N` the model is wrapped in DistributedDataParallel, a
    DataLoader gets a DistributedSampler (a list of batches is dealt out round-robin), and only
    rank 0 prints, plots and saves. Every rank runs validation on all of val_data.

    Example:
        >>> from d2lite import accuracy
        >>> _ = torch.manual_seed(0); X = torch.randn(64, 2); y = (X[:, 0] > 0).long()
        >>> model = nn.Linear(2, 2)
        >>> history = fit(model, [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=20,
        ...               optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
        ...               metrics=[accuracy], device="cpu")
        >>> history.curves(), history["train_accuracy"][-1] > 0.9
        (['train_loss', 'train_accuracy'], True)
    """
    # 0. set up: check the arguments and the first batch, move the model, resume, split the data
    device = _pick_device("fit", device)
    check_arguments(model, loss_fn, optimizer, epochs, callbacks, grad_clip, amp, device,
                    checkpoint, resume, scheduler, scheduler_step)
    metrics = named_metrics("fit", metrics)
    model.to(device)
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if data is not None:
            check_data("fit", name, data)
            check_first_batch("fit", name, model, data, loss_fn, metrics, device, amp,
                              training=True)
    rank, world = init_distributed(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    history, start = (_resume(checkpoint, model, optimizer, scheduler, scaler) if resume
                      else (History(), 0))
    if world > 1:  # torchrun: the same model, its gradients averaged over the processes
        model = DistributedDataParallel(model, [device] if device.type == "cuda" else None)
        train_data = shard_data(train_data, rank, world)
    verbose, live = verbose and rank == 0, LivePlot() if plot and rank == 0 else None
    state = FitState(model, optimizer, history, epochs, verbose=verbose)
    autocast = autocast_context(device, amp)
    epoch_bar = _bar(verbose, desc="epochs", initial=start, total=epochs)
    for epoch in range(start, epochs):
        began, meter = time.perf_counter(), Meter(metrics, device)
        set_epoch(train_data, epoch)
        model.train()
        batch_bar = _bar(verbose, leave=False, desc=f"epoch {epoch + 1}",
                         total=len(train_data) if hasattr(train_data, "__len__") else None)
        for i, (X, y) in enumerate(train_data):
            # 1. move the batch to the device
            X, y = to_device(X, device), to_device(y, device)
            # 2. forward pass and loss (in bf16/fp16 when amp is set)
            with autocast:
                y_hat = call_model(model, X)
                loss = loss_fn(y_hat, y)
            # 3. backward pass (the scaler scales the loss for fp16), then clip the gradient norm
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            # 4. update the weights
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None and scheduler_step == "batch":
                scheduler.step()                    #    a new learning rate for the next batch
            # (log: sums stay on the device; every LOG_EVERY batches, one sync checks for nan)
            meter.add(loss, y_hat, y)
            batch_bar.update()
            if (i + 1) % LOG_EVERY == 0:
                batch_bar.set_postfix(loss=f"{meter.check(epoch, optimizer):.4f}", refresh=False)
        # 5. end of epoch: totals over all processes, validation, scheduler, history
        batch_bar.close()
        meter.check(epoch, optimizer)
        train = meter.totals(world)
        val = {} if val_data is None else _run_eval(model, val_data, loss_fn, metrics, device, amp)
        if scheduler is not None and scheduler_step == "epoch":
            scheduler.step()
        history.append(train, val, time.perf_counter() - began)
        # 6. callbacks, then checkpoint (rank 0), live plot and progress
        state.epoch = epoch
        for callback in callbacks:
            callback.on_epoch_end(state)
        if checkpoint is not None and rank == 0:
            _save(checkpoint, model, optimizer, scheduler, scaler, history)
        if live is not None:
            live.update({k: history[k] for k in history.curves()})
        epoch_bar.set_postfix({k: f"{history[k][-1]:.4f}" for k in history.curves()},
                              refresh=False)
        epoch_bar.update()
        if state.stop:
            break
    epoch_bar.close()
    if live is not None:
        live.close()
    return history
