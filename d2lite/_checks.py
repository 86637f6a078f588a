"""fit's and evaluate's internals: checks that say in plain words what is wrong with their
arguments or their first batch. They run once, before training (one forward pass in eval mode,
random state restored), and are private: readers meet them only as error messages."""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from d2lite.device import autocast_context, rng_state, set_rng_state, to_device

_CLASSIFICATION = (nn.CrossEntropyLoss, nn.NLLLoss, F.cross_entropy, F.nll_loss)
_REGRESSION = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, F.mse_loss, F.l1_loss)
_BINARY = (nn.BCEWithLogitsLoss, nn.BCELoss, F.binary_cross_entropy_with_logits,
           F.binary_cross_entropy)
_DEVICE_CLUES = ("same device", "expected device", "weight type (torch.cuda", "MPS device")


def _is(loss_fn, kinds: tuple) -> bool:
    """True when loss_fn is one of `kinds` (a function) or an instance of one (a class)."""
    return any(loss_fn is k or (isinstance(k, type) and isinstance(loss_fn, k)) for k in kinds)


def _name(loss_fn) -> str:
    return type(loss_fn).__name__ if isinstance(loss_fn, nn.Module) else getattr(
        loss_fn, "__name__", "loss_fn")


def _describe(x) -> str:
    return f"a tensor {tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else (
        f"a {type(x).__name__}")


def call_model(model: nn.Module, X):
    """`model(X)`, or `model(*X)` when X is a tuple of inputs (seq2seq).

    Example:
        >>> call_model(torch.add, (torch.ones(2), torch.ones(2)))
        tensor([2., 2.])
    """
    return model(*X) if isinstance(X, (tuple, list)) else model(X)


def check_arguments(model, loss_fn, optimizer, epochs, callbacks, grad_clip, amp,
                    device: torch.device, checkpoint, resume, scheduler=None,
                    scheduler_step="epoch") -> None:
    """Raise a clear error for an argument `fit` cannot use.

    Example:
        >>> check_arguments(nn.Linear(2, 1), nn.MSELoss, None, 1, [], None, None,
        ...                 torch.device("cpu"), None, False)
        Traceback (most recent call last):
        TypeError: fit(): loss_fn is the class MSELoss; pass an instance: loss_fn=nn.MSELoss()
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"fit(): got model of type {type(model).__name__}; expected a "
                        "torch.nn.Module such as nn.Sequential(...)")
    if isinstance(loss_fn, type):
        raise TypeError(f"fit(): loss_fn is the class {loss_fn.__name__}; pass an instance: "
                        f"loss_fn=nn.{loss_fn.__name__}()")
    if not callable(loss_fn):
        raise TypeError(f"fit(): got loss_fn={loss_fn!r}; expected a function of (y_hat, y) such "
                        "as nn.CrossEntropyLoss()")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"fit(): got epochs={epochs!r}; expected a whole number >= 1")
    if amp not in (None, "bf16", "fp16"):
        raise ValueError(f"fit(): got amp={amp!r}; expected None, 'bf16' or 'fp16'")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(f"fit(): amp='fp16' needs a CUDA GPU (for its GradScaler) but the device "
                         f"is {device.type}; use amp='bf16' or amp=None")
    if grad_clip is not None and (isinstance(grad_clip, bool) or
                                  not isinstance(grad_clip, (int, float)) or grad_clip <= 0):
        raise ValueError(f"fit(): got grad_clip={grad_clip!r}; expected None or a positive "
                         "gradient norm such as 1.0")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit(): got scheduler_step={scheduler_step!r}; expected 'epoch' or "
                         "'batch' (OneCycleLR and warm-up schedules step every batch)")
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise TypeError("fit(): ReduceLROnPlateau steps on a validation loss, which fit's "
                        "scheduler= does not pass; step it in a callback instead: an object "
                        "whose on_epoch_end(state) calls "
                        "scheduler.step(state.history['val_loss'][-1])")
    if resume and checkpoint is None:
        raise ValueError("fit(): resume=True needs checkpoint=path, the file to resume from")
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"fit(): got callbacks={callbacks!r}; expected a list, e.g. "
                        "callbacks=[d2lite.EarlyStopping()]")
    for callback in callbacks:
        if isinstance(callback, type):
            raise TypeError(f"fit(): callbacks holds the class {callback.__name__}; pass an "
                            f"instance: {callback.__name__}()")
        if not hasattr(callback, "on_epoch_end"):
            raise TypeError(f"fit(): callback {callback!r} has no on_epoch_end(state) method")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("fit(): the model has no trainable parameters (none with "
                         "requires_grad=True), so there is nothing to train")
    ids = {id(p) for p in params}
    if optimizer is not None and not any(id(p) in ids for group in optimizer.param_groups
                                         for p in group["params"]):
        raise ValueError("fit(): the optimizer holds none of this model's trainable parameters; "
                         "build it after the model: torch.optim.SGD(model.parameters(), lr=0.1)")


def check_data(who: str, name: str, data) -> None:
    """Raise a clear error when `data` is not a re-iterable source of (X, y) batches.

    Example:
        >>> check_data("fit", "train_data", iter([(torch.ones(2), torch.ones(2))]))
        Traceback (most recent call last):
        TypeError: fit(): train_data is a one-shot iterator (list_iterator) that would be empty \
after one pass; pass a DataLoader or a list of batches
    """
    if isinstance(data, torch.Tensor) or (isinstance(data, tuple) and len(data) == 2 and all(
            isinstance(v, torch.Tensor) for v in data)):
        what = "a tensor" if isinstance(data, torch.Tensor) else "a pair of tensors (X, y)"
        raise TypeError(f"{who}(): {name} is {what}, not batches; use DataLoader("
                        "TensorDataset(X, y), batch_size=64) or d2lite.data.batches(X, y, 64)")
    if not isinstance(data, Iterable):
        raise TypeError(f"{who}(): {name} of type {type(data).__name__} is not iterable; "
                        "expected (X, y) batches such as a DataLoader")
    if isinstance(data, Iterator):
        raise TypeError(f"{who}(): {name} is a one-shot iterator ({type(data).__name__}) that "
                        "would be empty after one pass; pass a DataLoader or a list of batches")


def check_first_batch(who: str, name: str, model: nn.Module, data, loss_fn, metrics: dict,
                      device: torch.device, amp: str | None, *, training: bool) -> None:
    """Run the first batch through the model, loss_fn and metrics; explain what goes wrong.
    `who` names the caller in messages; with `training` the loss must have a gradient.

    Example:
        >>> data, cpu = [(torch.ones(4, 1, 28, 28), torch.zeros(4).long())], torch.device("cpu")
        >>> check_first_batch("fit", "train_data", nn.Linear(784, 10), data,  # doctest: +ELLIPSIS
        ...                   nn.CrossEntropyLoss(), {}, cpu, None, training=True)
        Traceback (most recent call last):
        ValueError: fit(): train_data's X has shape (4, 1, 28, 28), and the model, Linear(...), \
gets input (4, 1, 28, 28) but expects (..., 784) (...); flatten the examples first: put \
nn.Flatten() before it
    """
    saved = rng_state()  # taking a batch may draw random numbers (shuffling): give them back
    try:
        batch = next(iter(data), None)
    finally:
        set_rng_state(saved)
    if batch is None:
        raise ValueError(f"{who}(): {name} yielded no batches; check that the dataset is not "
                         "empty (and, with drop_last=True, not smaller than batch_size)")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        got = f"{len(batch)} items" if isinstance(batch, (tuple, list)) else _describe(batch)
        raise ValueError(f"{who}(): each batch of {name} must be a pair (X, y); got {got}. "
                         "Several inputs go in a tuple: ((X1, X2), y)")
    X, y = batch
    for part, value in (("X", X), ("y", y)):
        for item in value if isinstance(value, (tuple, list)) else [value]:
            if not isinstance(item, torch.Tensor):
                raise TypeError(f"{who}(): {name}'s first batch has {part} of type "
                                f"{type(item).__name__}; batches hold torch tensors: convert "
                                "with torch.as_tensor(...)")
    X, y, was_training = to_device(X, device), to_device(y, device), model.training
    model.eval()  # no dropout and no batch-norm update: this pass changes nothing
    running, hooks = [], []  # (name, layer, input shape) of the innermost layers now running
    for layer_name, layer in model.named_modules():
        if next(layer.children(), None) is None:
            hooks += [layer.register_forward_pre_hook(
                lambda layer, args, n=layer_name: running.append((n, layer, _shape(args)))),
                layer.register_forward_hook(lambda *_: running.pop() and None)]
    try:
        with torch.set_grad_enabled(training), autocast_context(device, amp):
            y_hat = call_model(model, X)
            if isinstance(y_hat, torch.Tensor) and isinstance(y, torch.Tensor):
                _check_output(who, loss_fn, y_hat, y)
            loss = loss_fn(y_hat, y) if loss_fn is not None else None
    except RuntimeError as error:
        if any(clue in str(error) for clue in _DEVICE_CLUES):
            raise RuntimeError(f"{who}(): the model and the data are on different devices "
                               f"({error}). {who}() moves the batches and the model's parameters "
                               f"and buffers to {device}; keep every tensor the model uses in an "
                               "nn.Parameter or a buffer (self.register_buffer), not a plain "
                               "attribute") from error
        if running:
            raise _layer_error(who, name, X, *running[-1], error) from error
        raise
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    if loss is not None:
        _check_loss(who, loss, training)
    for metric_name, metric in metrics.items():
        result = metric(y_hat.detach() if isinstance(y_hat, torch.Tensor) else y_hat, y)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"{who}(): metric {metric_name!r} returned {_describe(result)}; a "
                            "metric returns (sum, count) for the batch, e.g. "
                            "((y_hat.argmax(1) == y).sum(), len(y))")


def _check_output(who: str, loss_fn, y_hat: torch.Tensor, y: torch.Tensor) -> None:
    """Shape and dtype rules of the common losses (other loss functions are not checked)."""
    name = _name(loss_fn)
    got = f"the model returned {tuple(y_hat.shape)} for targets {tuple(y.shape)}"
    hint = (f"make them the same shape, e.g. y.reshape{tuple(y_hat.shape)}"
            if y.numel() == y_hat.numel() else "check the size of the last layer")
    if _is(loss_fn, _CLASSIFICATION):
        if y.is_floating_point() and y.shape != y_hat.shape:
            raise TypeError(f"{who}(): {name} got float targets ({y.dtype}, shape "
                            f"{tuple(y.shape)}); class labels must be integers: use y.long()")
        if y.is_floating_point():
            return  # class probabilities shaped like the logits
        if y_hat.dim() != y.dim() + 1:
            raise ValueError(f"{who}(): {got}, but {name} needs one logit per class: "
                             "(batch, num_classes) for (batch,) targets; make the last layer "
                             "output num_classes values")
        if y_hat.shape[:1] + y_hat.shape[2:] != y.shape:
            if y_hat.shape[:-1] == y.shape:  # (batch, steps, classes)
                raise ValueError(f"{who}(): {got} with the classes last, but {name} wants them in"
                                 f" dim 1: return y_hat.permute(0, 2, 1), or flatten both with "
                                 f"y_hat.reshape(-1, {y_hat.shape[-1]}) and y.reshape(-1)")
            raise ValueError(f"{who}(): {got}; {name} needs (batch, num_classes) logits for "
                             "(batch,) targets, so the first dimensions must agree")
        top, classes = int(y.max()), y_hat.shape[1]
        if top >= classes:
            raise ValueError(f"{who}(): the targets go up to {top} but the model returns "
                             f"{classes} logits per example (classes 0..{classes - 1}); make the "
                             f"last layer output at least {top + 1} values")
    elif _is(loss_fn, _REGRESSION):
        if not y.is_floating_point():
            raise TypeError(f"{who}(): {name} got integer targets ({y.dtype}); regression targets"
                            " must be floats: use y.float(), or nn.CrossEntropyLoss() for labels")
        if y_hat.shape != y.shape:
            raise ValueError(f"{who}(): {got}; {name} would broadcast them against each other "
                             f"and learn the wrong thing: {hint}")
    elif _is(loss_fn, _BINARY):
        if y_hat.shape != y.shape:
            raise ValueError(f"{who}(): {got}; {name} needs one logit per target: {hint}")
        if not y.is_floating_point():
            raise TypeError(f"{who}(): {name} got integer targets ({y.dtype}); it needs float "
                            "0/1 targets: use y.float()")


def _shape(args) -> tuple | None:
    first = args[0] if isinstance(args, (tuple, list)) and args else args
    return tuple(first.shape) if isinstance(first, torch.Tensor) else None


def _layer_error(who: str, name: str, X, layer_name: str, layer: nn.Module, got, error):
    """The error for a layer that cannot take what reaches it: both shapes, and the fix."""
    where = f"layer {layer_name!r}" if layer_name else "the model"
    shape = _shape(X) if isinstance(X, torch.Tensor) else [_shape(x) for x in X]
    start = f"{who}(): {name}'s X has shape {shape}, and {where}, {layer}, gets input {got}"
    if not isinstance(layer, nn.Linear) or got is None:
        return ValueError(f"{start}, which it cannot take ({error}); make the layers' sizes "
                          "match the data: print the shape after each layer to find where")
    if isinstance(X, torch.Tensor) and X.dim() > 2 and math.prod(X.shape[1:]) == layer.in_features:
        fix = "flatten the examples first: put nn.Flatten() before it"
    else:
        fix = (f"build it as nn.Linear({got[-1]}, {layer.out_features}), or make what comes "
               f"before it output {layer.in_features} values")
    return ValueError(f"{start} but expects (..., {layer.in_features}) ({error}); {fix}")


def _check_loss(who: str, loss, training: bool) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{who}(): loss_fn returned a {type(loss).__name__}; it must return a "
                        "tensor holding one number (the batch's mean loss)")
    if loss.numel() != 1:
        raise ValueError(f"{who}(): loss_fn returned a tensor of shape {tuple(loss.shape)}; it "
                         "must return one number: use reduction='mean' (the default) or .mean()")
    if training and not loss.requires_grad:
        raise ValueError(f"{who}(): the loss does not depend on any trainable parameter (its "
                         "requires_grad is False); do not run the forward pass under "
                         "torch.no_grad() or .detach() its output")
    value = float(loss.detach())
    if not math.isfinite(value):
        raise FloatingPointError(f"{who}(): the loss of the first batch is {value} before any "
                                 "training; check the data for nan/inf values")
