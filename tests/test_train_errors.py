"""fit explains what is wrong with its inputs in words a beginner understands: a table of bad
inputs, each with the error type and the message it must give."""
import re

import pytest
import torch
from torch import nn

import d2lite

torch.manual_seed(0)
X = torch.randn(64, 4)
LABELS = torch.randint(0, 3, (64,))
TARGETS = torch.randn(64)
GOOD = [(X[:32], LABELS[:32]), (X[32:], LABELS[32:])]


def classifier():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


class PlainTensorAttribute(nn.Module):
    """A weight kept as a plain attribute: model.to(device) cannot move it."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.scale = torch.ones(3, device="meta")  # stands for "left on another device"

    def forward(self, x):
        return self.linear(x) * self.scale


class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        with torch.no_grad():
            return self.linear(x)


def regression(**kwargs):
    return dict(model=nn.Linear(4, 1), loss_fn=nn.MSELoss(), **kwargs)


def classification(**kwargs):
    return dict(model=classifier(), loss_fn=nn.CrossEntropyLoss(), **kwargs)


def one_batch(X_, y_):
    return [(X_, y_)]


CASES = {
    # (fit arguments, error type, expected message)
    "regression output (64, 1) vs targets (64,)": (
        regression(train_data=one_batch(X, TARGETS)), ValueError,
        "fit(): the model returned (64, 1) for targets (64,); MSELoss would broadcast them"),
    "integer targets with MSELoss": (
        dict(model=nn.Linear(4, 1), loss_fn=nn.MSELoss(), train_data=one_batch(X, LABELS[:, None])),
        TypeError, "fit(): MSELoss got integer targets (torch.int64); regression targets must be "
        "floats: use y.float()"),
    "float class labels with CrossEntropyLoss": (
        classification(train_data=one_batch(X, LABELS.float())), TypeError,
        "fit(): CrossEntropyLoss got float targets (torch.float32, shape (64,)); class labels "
        "must be integers: use y.long()"),
    "one logit for ten classes": (
        dict(model=nn.Linear(4, 1), loss_fn=nn.CrossEntropyLoss(),
             train_data=one_batch(X, torch.arange(64) % 10)), ValueError,
        "fit(): the targets go up to 9 but the model returns 1 logits per example (classes 0..0);"
        " make the last layer output at least 10 values"),
    "logits without a class dimension": (
        dict(model=nn.Sequential(nn.Linear(4, 1), nn.Flatten(0)), loss_fn=nn.CrossEntropyLoss(),
             train_data=one_batch(X, LABELS)), ValueError,
        "fit(): the model returned (64,) for targets (64,), but CrossEntropyLoss needs one logit "
        "per class"),
    "sequence logits with the classes last": (
        dict(model=nn.Linear(4, 5), loss_fn=nn.CrossEntropyLoss(),
             train_data=one_batch(torch.randn(8, 6, 4), torch.randint(0, 5, (8, 6)))), ValueError,
        "fit(): the model returned (8, 6, 5) for targets (8, 6) with the classes last, but "
        "CrossEntropyLoss wants them in dim 1: return y_hat.permute(0, 2, 1)"),
    "BCEWithLogitsLoss with integer targets": (
        dict(model=nn.Linear(4, 1), loss_fn=nn.BCEWithLogitsLoss(),
             train_data=one_batch(X, (LABELS[:, None] > 0).long())), TypeError,
        "fit(): BCEWithLogitsLoss got integer targets (torch.int64); it needs float 0/1 targets"),
    "model and data on different devices": (
        dict(model=PlainTensorAttribute(), loss_fn=nn.CrossEntropyLoss(), train_data=GOOD),
        RuntimeError, "fit(): the model and the data are on different devices"),
    "empty data": (classification(train_data=[]), ValueError,
                   "fit(): train_data yielded no batches; check that the dataset is not empty"),
    "empty validation data": (classification(train_data=GOOD, val_data=[]), ValueError,
                              "fit(): val_data yielded no batches"),
    "a pair of tensors instead of batches": (
        classification(train_data=(X, LABELS)), TypeError,
        "fit(): train_data is a pair of tensors (X, y), not batches; use DataLoader("),
    "a generator (one pass only)": (
        classification(train_data=(b for b in GOOD)), TypeError,
        "fit(): train_data is a one-shot iterator (generator) that would be empty after one pass"),
    "batches of three tensors": (
        classification(train_data=[(X, LABELS, LABELS)]), ValueError,
        "fit(): each batch of train_data must be a pair (X, y); got 3 items"),
    "numpy batches": (
        classification(train_data=[(X.numpy(), LABELS)]), TypeError,
        "fit(): train_data's first batch has X of type ndarray; batches hold torch tensors"),
    "loss with reduction='none'": (
        dict(model=classifier(), loss_fn=nn.CrossEntropyLoss(reduction="none"), train_data=GOOD),
        ValueError, "fit(): loss_fn returned a tensor of shape (32,); it must return one number: "
        "use reduction='mean'"),
    "loss_fn given as a class": (
        dict(model=classifier(), loss_fn=nn.CrossEntropyLoss, train_data=GOOD), TypeError,
        "fit(): loss_fn is the class CrossEntropyLoss; pass an instance: "
        "loss_fn=nn.CrossEntropyLoss()"),
    "forward under no_grad": (
        dict(model=Frozen(), loss_fn=nn.CrossEntropyLoss(), train_data=GOOD), ValueError,
        "fit(): the loss does not depend on any trainable parameter"),
    "optimizer of another model": (
        classification(train_data=GOOD,
                       optimizer=torch.optim.SGD(classifier().parameters(), lr=0.1)),
        ValueError, "fit(): the optimizer holds none of this model's trainable parameters"),
    "no trainable parameters": (
        dict(model=nn.Flatten(), loss_fn=nn.MSELoss(), train_data=GOOD), ValueError,
        "fit(): the model has no trainable parameters"),
    "epochs=0": (classification(train_data=GOOD, epochs=0), ValueError,
                 "fit(): got epochs=0; expected a whole number >= 1"),
    "unknown amp": (classification(train_data=GOOD, amp="fp8"), ValueError,
                    "fit(): got amp='fp8'; expected None, 'bf16' or 'fp16'"),
    "fp16 on the CPU": (classification(train_data=GOOD, amp="fp16", device="cpu"), ValueError,
                        "fit(): amp='fp16' needs a CUDA GPU (for its GradScaler) but the device "
                        "is cpu; use amp='bf16'"),
    "negative grad_clip": (classification(train_data=GOOD, grad_clip=-1), ValueError,
                           "fit(): got grad_clip=-1; expected None or a positive gradient norm"),
    "resume without a checkpoint": (classification(train_data=GOOD, resume=True), ValueError,
                                    "fit(): resume=True needs checkpoint=path"),
    "a callback class": (classification(train_data=GOOD, callbacks=[d2lite.EarlyStopping]),
                         TypeError, "fit(): callbacks holds the class EarlyStopping; pass an "
                         "instance: EarlyStopping()"),
    "a callback that is not a list": (
        classification(train_data=GOOD, callbacks=d2lite.EarlyStopping()), TypeError,
        "fit(): got callbacks=<d2lite.train.EarlyStopping"),
    "a metric that returns a float": (
        classification(train_data=GOOD, metrics={"acc": lambda y_hat, y: 0.5}), TypeError,
        "fit(): metric 'acc' returned a float; a metric returns (sum, count) for the batch"),
    "a metric named loss": (classification(train_data=GOOD, metrics={"loss": d2lite.accuracy}),
                            ValueError, "fit(): 'loss' is reserved for loss_fn"),
    "a CUDA device on a machine without one": (
        classification(train_data=GOOD, device="cuda"), ValueError,
        "fit(): got device='cuda' but torch sees no CUDA GPU; use device=d2lite.try_gpu()"),
    "images into a Linear layer without Flatten": (
        dict(model=nn.Sequential(nn.Linear(784, 10)), loss_fn=nn.CrossEntropyLoss(),
             train_data=one_batch(torch.rand(8, 1, 28, 28), LABELS[:8])), ValueError,
        "fit(): train_data's X has shape (8, 1, 28, 28), and layer '0', Linear(in_features=784, "
        "out_features=10, bias=True), gets input (8, 1, 28, 28) but expects (..., 784) (mat1 and "
        "mat2 shapes cannot be multiplied (224x28 and 784x10)); flatten the examples first: put "
        "nn.Flatten() before it"),
    "a layer whose input size does not match the one before": (
        dict(model=nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(6, 3)),
             loss_fn=nn.CrossEntropyLoss(), train_data=GOOD), ValueError,
        "fit(): train_data's X has shape (32, 4), and layer '2', Linear(in_features=6, "
        "out_features=3, bias=True), gets input (32, 8) but expects (..., 6) (mat1 and mat2 shapes "
        "cannot be multiplied (32x8 and 6x3)); build it as nn.Linear(8, 3), or make what comes "
        "before it output 6 values"),
    "a convolution given the wrong number of channels": (
        dict(model=nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(2704, 3)),
             loss_fn=nn.CrossEntropyLoss(), train_data=one_batch(torch.rand(8, 1, 28, 28),
                                                                 LABELS[:8])), ValueError,
        "fit(): train_data's X has shape (8, 1, 28, 28), and layer '0', Conv2d(3, 4, "
        "kernel_size=(3, 3), stride=(1, 1)), gets input (8, 1, 28, 28), which it cannot take"),
    "nan in the data": (
        classification(train_data=[(torch.full((4, 4), float("nan")), LABELS[:4])]),
        FloatingPointError, "fit(): the loss of the first batch is nan before any training"),
}
if torch.cuda.is_available():
    del CASES["a CUDA device on a machine without one"]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_a_clear_message(name):
    kwargs, error, message = CASES[name]
    kwargs = {"plot": False, "verbose": False, "device": "cpu", **kwargs}
    model, data = kwargs.pop("model"), kwargs.pop("train_data")
    with pytest.raises(error, match=re.escape(message)):
        d2lite.fit(model, data, **kwargs)


def test_diverging_training_stops_naming_epoch_batch_and_learning_rate():
    torch.manual_seed(0)
    X_, y_ = torch.randn(400, 4) * 100, torch.randn(400, 1) * 100
    data = [(X_[i:i + 8], y_[i:i + 8]) for i in range(0, 400, 8)]
    net = nn.Linear(4, 1)
    with pytest.raises(FloatingPointError) as info:
        d2lite.fit(net, data, loss_fn=nn.MSELoss(), epochs=3, device="cpu", plot=False,
                   verbose=False, optimizer=torch.optim.SGD(net.parameters(), lr=10.0))
    assert re.fullmatch(r"fit\(\): the loss became nan or inf at epoch 1, batch \d+ \(learning "
                        r"rate 10\); try a smaller learning rate \(e\.g\. 1\), grad_clip=1\.0, or "
                        r"check the data for nan/inf values", str(info.value)), str(info.value)


def test_nan_batch_is_named_exactly():
    good, bad = (X[:8], TARGETS[:8, None]), (torch.full((8, 4), float("inf")), TARGETS[:8, None])
    net = nn.Linear(4, 1)
    with pytest.raises(FloatingPointError, match=r"at epoch 1, batch 8 \(learning rate 0\.01\)"):
        d2lite.fit(net, [good] * 7 + [bad], loss_fn=nn.MSELoss(), device="cpu", plot=False,
                   verbose=False, optimizer=torch.optim.SGD(net.parameters(), lr=0.01))
