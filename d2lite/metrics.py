"""Metrics for `fit` and `evaluate`: a metric maps `(y_hat, y)` to `(sum, count)` for one batch;
the value is `sum / count` over all batches, through `metric.finish` if it has one
(`d2lite.models.Perplexity`).
`Meter` adds them up without syncing the GPU per batch."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Return (number of correct predictions, number of predictions) for one batch.

    Args:
        y_hat: logits. Classes: `(batch, num_classes)`, or `(batch, steps, num_classes)` with the
            classes last, or `(batch, num_classes, steps)` as `nn.CrossEntropyLoss` takes them.
            Binary: `(batch,)` logits of the same shape as `y`; positive means class 1.
        y: class indices `(batch,)` or `(batch, steps)`; binary targets 0/1 (int or float).

    The sum stays on y_hat's device (no synchronisation); `fit` adds them up and divides once.

    Example:
        >>> y_hat = torch.tensor([[2.0, 0.1], [0.3, 0.9], [0.8, 0.2]])
        >>> correct, count = accuracy(y_hat, torch.tensor([0, 1, 1]))
        >>> int(correct), count
        (2, 3)
    """
    if not isinstance(y_hat, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"accuracy(): got y_hat of type {type(y_hat).__name__} and y of type "
                        f"{type(y).__name__}; expected two tensors")
    if y_hat.shape == y.shape:  # binary logits
        predicted = (y_hat > 0).to(y.dtype)
    elif y_hat.shape[:-1] == y.shape:  # classes in the last dimension
        predicted = y_hat.argmax(dim=-1)
    elif y_hat.dim() == y.dim() + 1 and y_hat.shape[:1] + y_hat.shape[2:] == y.shape:
        predicted = y_hat.argmax(dim=1)  # (batch, classes, steps) as CrossEntropyLoss takes it
    else:
        raise ValueError(f"accuracy(): got logits {tuple(y_hat.shape)} for targets "
                         f"{tuple(y.shape)}; expected (batch, num_classes) logits for (batch,) "
                         "class indices, or the same shape for binary logits")
    return (predicted == y).sum(), y.numel()


def _batch_size(y) -> int:
    first = y[0] if isinstance(y, (tuple, list)) else y
    return first.shape[0] if isinstance(first, torch.Tensor) and first.dim() > 0 else 1


class Meter:
    """Sums of the loss and the metrics over one pass; they stay on the device until `sync`.

    Example:
        >>> meter = Meter({"accuracy": accuracy}, torch.device("cpu"))
        >>> logits, labels = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])
        >>> meter.add(torch.tensor(0.5), logits, labels)
        >>> meter.totals()
        {'loss': 0.5, 'accuracy': 0.5}
    """

    def __init__(self, metrics: dict[str, Callable], device: torch.device):
        self.metrics, self.device = metrics, device
        # float64 sums lose nothing over an epoch; Apple's MPS has no float64, so float32 there
        self.dtype = torch.float32 if device.type == "mps" else torch.float64
        self.pending: list[torch.Tensor] = []  # losses not yet added up, on the device
        self.sizes: list[int] = []  # their batch sizes
        self.batches, self.loss_sum, self.count = 0, 0.0, 0
        self.sums, self.counts = dict.fromkeys(metrics, 0), dict.fromkeys(metrics, 0)

    def add(self, loss: torch.Tensor | None, y_hat, y) -> None:
        if loss is not None:
            self.pending.append(loss.detach())
            self.sizes.append(_batch_size(y))
        self.batches += 1
        y_hat = y_hat.detach() if isinstance(y_hat, torch.Tensor) else y_hat
        for name, metric in self.metrics.items():
            total, count = metric(y_hat, y)
            self.sums[name] = self.sums[name] + total
            self.counts[name] = self.counts[name] + count

    def sync(self) -> int | None:
        """Add up the pending losses (one synchronisation); return the first nan/inf batch."""
        if not self.pending:
            return None
        losses = torch.stack(self.pending).reshape(-1).to(self.dtype)  # (pending,)
        sizes = torch.tensor(self.sizes, dtype=self.dtype, device=losses.device)
        total, first = float((losses * sizes).sum()), self.batches - len(self.pending)
        bad = (~torch.isfinite(losses)).nonzero() if not math.isfinite(total) else []
        self.loss_sum, self.count = self.loss_sum + total, self.count + sum(self.sizes)
        self.pending, self.sizes = [], []
        return first + int(bad[0]) if len(bad) else None

    def check(self, epoch: int, optimizer: torch.optim.Optimizer) -> float:
        """Stop with an explanation at a nan/inf loss; return the mean loss so far."""
        bad = self.sync()
        if bad is not None:
            lr = optimizer.param_groups[0]["lr"]
            raise FloatingPointError(
                f"fit(): the loss became nan or inf at epoch {epoch + 1}, batch {bad + 1} "
                f"(learning rate {lr:g}); try a smaller learning rate (e.g. {lr / 10:g}), "
                "grad_clip=1.0, or check the data for nan/inf values")
        return self.loss_sum / max(self.count, 1)

    def totals(self, world: int = 1) -> dict[str, float]:
        """{"loss": mean loss, name: metric} over all batches (and all processes under torchrun)."""
        self.sync()
        names = list(self.metrics)
        values = [self.loss_sum, self.count, *(self.sums[n] for n in names),
                  *(self.counts[n] for n in names)]
        sums = torch.stack([torch.as_tensor(v, device=self.device).to(self.dtype).reshape(())
                            for v in values])  # (2 + 2 * metrics,)
        if world > 1:
            torch.distributed.all_reduce(sums)
        loss_sum, count, *rest = sums.tolist()
        result = {"loss": loss_sum / count} if count else {}
        for name, total, n in zip(names, rest[:len(names)], rest[len(names):], strict=True):
            finish = getattr(self.metrics[name], "finish", None)
            result[name] = (finish(total / n) if finish else total / n) if n else math.nan
        return result


def named_metrics(who: str, metrics) -> dict[str, Callable]:
    """{name: metric} from None, one function, a list of functions or a dict.

    Example:
        >>> list(named_metrics("fit", [accuracy])), named_metrics("fit", None)
        (['accuracy'], {})
    """
    if metrics is None:
        return {}
    if callable(metrics):
        metrics = [metrics]
    if isinstance(metrics, (list, tuple)):
        metrics = {getattr(m, "__name__", type(m).__name__.lower()): m for m in metrics}
    if not isinstance(metrics, dict) or not all(callable(m) for m in metrics.values()):
        raise TypeError(f"{who}(): got metrics={metrics!r}; expected a function of (y_hat, y), a "
                        "list of them or a dict {name: function}, e.g. metrics=[d2lite.accuracy]")
    if "loss" in metrics:
        raise ValueError(f"{who}(): 'loss' is reserved for loss_fn; give the metric another name")
    return metrics
