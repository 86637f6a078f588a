# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A tour of d2lite
#
# The lessons lean on a small helper package, `d2lite`, so that each one can spend its lines on
# its own idea. Nothing in it is magic: this lesson shows what each part does, and checks the
# claims the other lessons rely on: that `fit` is the plain training loop you wrote in
# chapter 2, that a run interrupted and resumed from a checkpoint ends exactly where an
# uninterrupted run does, and that every data file is the one the book was checked with.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import inspect
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

import d2lite

# %% [markdown]
# ## What is in the package
#
# Each module holds one concern, and each is short enough to read in one sitting:
#
# | module | what it holds |
# |---|---|
# | `d2lite.train` | `fit`, `evaluate`, `History`, `EarlyStopping` |
# | `d2lite.checkpoint` | `save_checkpoint`, `load_checkpoint`, `load_model` |
# | `d2lite.metrics` | `accuracy`, `Perplexity`, and how metrics are added up |
# | `d2lite.data`, `d2lite.hub` | the data sets' loaders, in-memory `batches`, the download hub |
# | `d2lite.text` | tokens, `Vocab`, language-model batches, BLEU |
# | `d2lite.device`, `d2lite.distributed` | `try_gpu`, seeds, mixed precision, torchrun |
# | `d2lite.plots`, `d2lite.widgets` | figures and the interactive widgets |
# | `d2lite.models` | the book's models, for later lessons to reuse |
#
# The first lines of `fit`'s documentation say what it is:

# %%
print("\n".join(inspect.getdoc(d2lite.fit).splitlines()[:19]))

# %% [markdown]
# ## `fit` is the plain loop
#
# To check that claim, train the same network twice from the same seed on the same batches:
# once with the loop written out, once with `fit`. The network has dropout, so the two runs
# must also draw the same random numbers. The data are 6,000 Fashion-MNIST images, with 1,000
# more held out for validation.

# %%
(X, y), _ = d2lite.data.load_fashion_mnist()
(X_train, y_train), (X_val, y_val) = d2lite.data.train_val_split(
    X[:7000], y[:7000], val_fraction=1 / 7, seed=0)
train_data = d2lite.data.batches(X_train, y_train, batch_size=100, seed=0)
val_data = d2lite.data.batches(X_val, y_val, batch_size=500, shuffle=False)


def make_net():
    d2lite.seed_everything(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(128, 10))


# %%
net_loop = make_net()
optimizer = torch.optim.SGD(net_loop.parameters(), lr=0.1, momentum=0.9)
d2lite.seed_everything(1)
for epoch in range(3):
    train_data.set_epoch(epoch)         # this epoch's seeded order (fit does the same)
    net_loop.train()
    for X_batch, y_batch in train_data:
        loss = F.cross_entropy(net_loop(X_batch), y_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

net_fit = make_net()
d2lite.seed_everything(1)
optimizer = torch.optim.SGD(net_fit.parameters(), lr=0.1, momentum=0.9)
history = d2lite.fit(net_fit, train_data, loss_fn=nn.CrossEntropyLoss(), epochs=3,
                     optimizer=optimizer,
                     val_data=val_data, metrics=[d2lite.accuracy], device="cpu")
for p_loop, p_fit in zip(net_loop.parameters(), net_fit.parameters(), strict=True):
    torch.testing.assert_close(p_fit, p_loop)
print("the same weights after 3 epochs")

# %% [markdown]
# What `fit` adds around the loop: checks of the first batch (a model that cannot take the
# data gets an error naming both shapes), moving batches to the device, mixed precision,
# gradient clipping, a scheduler stepped per epoch or per batch, validation after every
# epoch, callbacks, checkpoints, progress bars, a live plot, and `torchrun`. The first-batch
# check runs the model once in evaluation mode and then restores the random state, which is
# why the weights above agree (to float32 rounding).
#
# ## History and plots
#
# `fit` returns a `History`: one list per curve, one entry per epoch, read by name.
# `history.plot()` draws the losses and the metrics in two panels
# ([Figure 1](#fig-d2lite-tour-history)).

# %%
print(history.curves())
print("validation accuracy per epoch:", [round(a, 3) for a in history["val_accuracy"]])
assert history["val_accuracy"][-1] > 0.75, history["val_accuracy"]

# %% mystnb={"figure": {"caption": "The History of the 3-epoch run, drawn by history.plot(): losses on the left, accuracies on the right.", "name": "fig-d2lite-tour-history"}}
history.plot();

# %% [markdown]
# In Jupyter, `fit(..., plot=True)` redraws this figure after every epoch, so you watch
# training as it happens (in a script it draws once at the end), and `verbose=True` adds
# progress bars. Both are off by default: `fit` prints and draws nothing unless asked.
#
# ## Metrics
#
# A metric is a function of one batch's outputs and targets that returns a pair
# `(sum, count)`; `fit` adds the pairs up over the epoch and divides once at the end, so the
# result is exact however the batches are sized (a mean of batch means would weight a short
# last batch too much). Writing your own takes three lines. Here is top-3 accuracy: the
# prediction counts as right when the true class is among the three highest scores.

# %%
def top3_accuracy(y_hat, y):
    """(number of examples whose class is in the top 3 scores, number of examples)."""
    top3 = y_hat.topk(3, dim=1).indices                     # (batch, 3)
    return (top3 == y[:, None]).any(dim=1).sum(), len(y)


scores = d2lite.evaluate(net_fit, val_data, metrics={"top1": d2lite.accuracy,
                                                     "top3": top3_accuracy})
print({name: round(value, 4) for name, value in scores.items()})
assert scores["top3"] >= scores["top1"] + 0.05, scores

# %% [markdown]
# ## Callbacks
#
# After every epoch, `fit` calls `on_epoch_end(state)` on each callback. `state` holds the
# model, the optimiser, the history so far and the epoch's index; setting `state.stop = True`
# ends training after that epoch. `d2lite.EarlyStopping` is such a callback. A callback of
# your own can record anything, for example the learning rate a scheduler sets:

# %%
class RecordLR:
    def __init__(self):
        self.lrs = []

    def on_epoch_end(self, state):
        self.lrs.append(state.optimizer.param_groups[0]["lr"])


net = make_net()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
halve = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
record = RecordLR()
d2lite.fit(net, train_data, loss_fn=nn.CrossEntropyLoss(), epochs=3,
           optimizer=optimizer, scheduler=halve,
           callbacks=[record], device="cpu")
print("learning rate after each epoch:", record.lrs)
assert record.lrs == [0.05, 0.025, 0.0125]

# %% [markdown]
# ## Checkpoints and resuming
#
# Long runs get interrupted: a laptop sleeps, Colab disconnects. With `checkpoint=path`, `fit`
# saves everything needed to continue after every epoch: the weights, the optimiser's state
# (momentum buffers), the scheduler's, the history, and the random number generators' states.
# The file is written to a temporary name and renamed into place, so a crash while saving never
# leaves half a checkpoint; it is read back with `torch.load(..., weights_only=True)`, which runs
# no code from the file.
#
# The test of a checkpoint is that resuming changes nothing. Run 4 epochs without a break; then
# run the same training but interrupt it after epoch 2 (a callback raises `KeyboardInterrupt`,
# as pressing Stop in Jupyter would) and start again with `resume=True`.

# %%
folder = Path(tempfile.mkdtemp())


def train(epochs, checkpoint, resume=False, callbacks=()):
    net = make_net()
    d2lite.seed_everything(1)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    history = d2lite.fit(net, train_data, loss_fn=nn.CrossEntropyLoss(), epochs=epochs,
                         optimizer=optimizer, val_data=val_data, checkpoint=checkpoint,
                         resume=resume, callbacks=list(callbacks), device="cpu")
    return net, history


class Interrupt:
    def on_epoch_end(self, state):
        if state.epoch == 1:                      # the second epoch has just ended
            raise KeyboardInterrupt


# %%
net_straight, history_straight = train(4, folder / "straight.pt")
try:
    train(4, folder / "interrupted.pt", callbacks=[Interrupt()])
except KeyboardInterrupt:
    print("interrupted; the checkpoint holds", d2lite.load_checkpoint(
        folder / "interrupted.pt", make_net())["epoch"], "finished epoch(s)")
net_resumed, history_resumed = train(4, folder / "interrupted.pt", resume=True)
print("validation loss, straight:", [round(v, 4) for v in history_straight["val_loss"]])
print("validation loss, resumed: ", [round(v, 4) for v in history_resumed["val_loss"]])

# %% [markdown]
# The interruption came after epoch 2 ended but before its checkpoint was written (callbacks
# run first), so the file held epoch 1, and the resumed run redid epoch 2 from there, with the
# same batches (their order depends on the seed and the epoch only) and the same dropout masks
# (the generators' states were restored). It ends with the same weights and the same history:

# %%
for p, q in zip(net_straight.parameters(), net_resumed.parameters(), strict=True):
    torch.testing.assert_close(q, p)
assert history_resumed["val_loss"] == history_straight["val_loss"]
print("resumed = uninterrupted")

# %% [markdown]
# To reuse a model in another notebook, save its constructor's arguments with it
# (`model_args`), and `d2lite.load_model` rebuilds it without you repeating them:

# %%
lenet = d2lite.models.LeNet(num_classes=10)
d2lite.save_checkpoint(folder / "lenet.pt", lenet, model_args={"num_classes": 10})
rebuilt = d2lite.load_model(folder / "lenet.pt", d2lite.models.LeNet)
torch.testing.assert_close(rebuilt.eval()(X_val[:4]), lenet.eval()(X_val[:4]))
saved = d2lite.load_checkpoint(folder / "lenet.pt", rebuilt)
print("rebuilt:", type(rebuilt).__name__, "from", saved["model_args"])

# %% [markdown]
# ## The data hub
#
# Lessons call loaders such as `d2lite.data.load_fashion_mnist()`. Behind them,
# `d2lite.hub.fetch(name, file)` finds each file: first in the folder named by the environment
# variable `D2LITE_DATA` (a shared copy, as on this book's test machine), then in a cache
# (`~/.cache/d2lite`, or `D2LITE_CACHE`), and otherwise downloads it from its canonical URL,
# trying mirrors in turn. Every file is checked against the SHA-256 checksum in
# `d2lite.registry`, so a truncated download or a changed file upstream is caught before a
# lesson trains on it. Downloads land in a temporary file that is renamed into place only once
# checked. `python -m d2lite` reports what it finds, without downloading. Its first lines name
# your Python, your data folder and your cache; the cell prints the rest.

# %%
report = subprocess.run([sys.executable, "-m", "d2lite"], capture_output=True,
                        text=True).stdout.splitlines()
start = next(i for i, line in enumerate(report) if line.startswith("datasets"))
print("\n".join(report[start:]))  # the lines above it name this machine's folders

# %% [markdown]
# You can run the same check yourself on one file: hash it and compare with the registry.

# %%
entry = d2lite.registry.REGISTRY["fashion-mnist"][0]
path, ok = d2lite.hub.locate("fashion-mnist", entry.name)
print(entry.name, entry.size, "bytes, from", entry.sources[0].url)
if path is not None:
    assert d2lite.hub.sha256sum(path) == entry.sha256 and ok
    print("sha256 matches:", entry.sha256[:16], "...")

# %% [markdown]
# (The file is found here because the loader above fetched it; `path` is None only on a
# machine that has never loaded Fashion-MNIST.)
#
# ## The model package
#
# Chapters 4 to 7 build about twenty models. A lesson that teaches a model builds it in its
# own cells, so you read every line, and then checks that the class in `d2lite.models`, given
# the same weights, computes the same outputs. Later lessons import the package's class instead
# of repeating the code. The contract is in the package's own documentation:

# %% tags=["nbval-check-output"]
print(inspect.getdoc(d2lite.models).split("\n\n")[1])
print("models:", ", ".join(d2lite.models.__all__))

# %% [markdown]
# ## Summary
#
# - `fit` is the plain loop plus checks, devices, mixed precision, schedulers, validation,
#   callbacks, checkpoints and plots; with the same seed it gives the same weights.
# - A metric returns `(sum, count)` per batch; a callback has `on_epoch_end(state)`.
# - Checkpoints hold everything needed to resume, and resuming gives the uninterrupted result.
# - The data hub looks in `D2LITE_DATA`, then its cache, then downloads, and checks every file.
# - `d2lite.models` holds each model the book teaches, checked against the lesson's own code.

# %% [markdown]
# ## Exercises
#
# 1. Write a metric `mean_confidence` that returns the average probability the network gives
#    its predicted class, and evaluate it on the validation batches. Is it higher or lower than
#    the accuracy?

# %% tags=["hide-cell"]
def mean_confidence(y_hat, y):
    """(sum of the top softmax probability per example, number of examples)."""
    return y_hat.softmax(dim=1).max(dim=1).values.sum(), len(y)


result = d2lite.evaluate(net_fit, val_data, metrics={"accuracy": d2lite.accuracy,
                                                     "confidence": mean_confidence})
print({name: round(value, 4) for name, value in result.items()})
net_fit.eval()
with torch.no_grad():                 # the same mean, by hand, over every example
    top = torch.cat([net_fit(X).softmax(dim=1).max(dim=1).values for X, _ in val_data])
assert abs(result["confidence"] - top.mean().item()) < 1e-5, "not the mean top prob."
assert abs(result["confidence"] - result["accuracy"]) < 0.15, "far from calibrated"

# %% [markdown]
# 2. Use `d2lite.EarlyStopping(monitor="val_accuracy", mode="max", patience=1)` on a run of
#    20 epochs with a learning rate of 0.5. How many epochs does it run?

# %% tags=["hide-cell"]
net = make_net()
stopped = d2lite.fit(net, train_data, loss_fn=nn.CrossEntropyLoss(), epochs=20,
                     optimizer=torch.optim.SGD(net.parameters(), lr=0.5),
                     val_data=val_data, metrics=[d2lite.accuracy], device="cpu",
                     callbacks=[d2lite.EarlyStopping("val_accuracy", patience=1,
                                                    mode="max")])
print("epochs run:", len(stopped), [round(a, 3) for a in stopped["val_accuracy"]])
assert len(stopped) < 20, "patience 1 should stop a noisy run early"
acc = stopped["val_accuracy"]
assert acc[-1] <= max(acc[:-1]), "it stops only after an epoch without improvement"
