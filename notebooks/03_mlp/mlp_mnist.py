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
# # Recognising handwritten digits with an MLP
#
# Everything from the last lessons comes together here: you build a network that reads a
# handwritten digit and says which one it is. In this lesson you prepare the MNIST images, build
# the source notes' 784 → 28 → 10 network with ReLU and a log-softmax output, see why
# log-softmax followed by the negative log-likelihood is exactly the cross-entropy, compare two
# sets of training settings on a validation split over three training runs each, train with
# Adam for three epochs to above 95.5 % test accuracy, and look at the digits it still gets
# wrong. Along the way you meet training
# and evaluation modes, `torch.no_grad()`, and checkpoints that let an interrupted run carry on
# as if it had never stopped.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import math
import tempfile
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from pathlib import Path
from torch import nn
from torch.nn import functional as F

# %% [markdown]
# ## The data: MNIST
#
# MNIST ([LeCun et al., 1998](../../book/references.md)) holds 70,000 greyscale pictures of
# handwritten digits, 28 × 28 pixels each, written by employees of the US Census Bureau and by
# high-school students: 60,000 to train on and 10,000 to test on. It is the "hello world" of
# deep learning, small enough to train on a laptop in seconds. `d2lite.data.load_mnist()`
# returns the two splits as tensors, with pixels scaled to $[0, 1]$ and labels as integers 0 to
# 9.

# %%
device = d2lite.try_gpu()
(X_all_raw, y_all), (X_test_raw, y_test) = d2lite.data.load_mnist(verbose=False)
print("train:", tuple(X_all_raw.shape), X_all_raw.dtype, "labels", tuple(y_all.shape))
print("test: ", tuple(X_test_raw.shape), X_test_raw.dtype, "labels",
      tuple(y_test.shape))

# %%
assert X_all_raw.shape == (60_000, 1, 28, 28), f"train images {X_all_raw.shape}"
assert X_test_raw.shape == (10_000, 1, 28, 28), f"test images {X_test_raw.shape}"
assert 0 <= X_all_raw.min() and X_all_raw.max() <= 1, "pixels should lie in [0, 1]"
assert sorted(y_all.unique().tolist()) == list(range(10)), "labels should be 0-9"

# %% [markdown]
# This lesson compares training settings, so, as in
# [the regularisation lesson](regularization.ipynb), it holds out a
# [validation set](../../book/glossary.md#term-validation-set): 5,999 of the 60,000 training
# images, a tenth of each digit (rounded), on which the comparison is made. The 10,000 test
# images are opened once, at the end.

# %%
(X_train_raw, y_train), (X_val_raw, y_val) = d2lite.data.train_val_split(
    X_all_raw, y_all, val_fraction=0.1, seed=0)
print(f"{len(y_train):,} training, {len(y_val):,} validation, "
      f"{len(y_test):,} test images")
assert (len(y_train), len(y_val)) == (54_001, 5_999), "expected 54,001 and 5,999 images"

# %% [markdown]
# The notes standardise every pixel with the z-score, $x \mapsto (x - \mu) / \sigma$, using the
# constants $\mu = 0.1307$ and $\sigma = 0.3081$. They are not magic: they are the mean and the
# standard deviation of all the training pixels, as
# [the data pipeline lesson](data_pipeline.ipynb) showed; the 54,001 images of our training
# split give the same four digits. After standardising, every pixel is on the same centred
# scale, mean 0 and standard deviation 1, the round bowl that
# [the optimisers lesson](../02_linear/optimizers.ipynb) showed gradient descent likes. The
# validation and test images get the *training* mean and deviation, because you may not peek at
# them.

# %%
mean, std = X_train_raw.mean().item(), X_train_raw.std().item()
print(f"training pixels: mean {mean:.4f}, std {std:.4f}")
assert abs(mean - 0.1307) < 5e-5 and abs(std - 0.3081) < 5e-5, "the constants differ"
X_train, X_val, X_test = ((X - mean) / std                 # each (n, 1, 28, 28)
                          for X in (X_train_raw, X_val_raw, X_test_raw))
assert abs(X_train.mean()) < 1e-4 and abs(X_train.std() - 1) < 1e-4, "not standardised"

# %% [markdown]
# `d2lite.data.batches` cuts the tensors into minibatches: a new random order of the 54,001
# training images in every epoch, and the validation and test images in fixed chunks of 1,000
# (order does not matter for measuring). With 64 images per batch, one epoch is
# $\lceil 54001 / 64 \rceil = 844$ steps. Passing `device=` moves the data to the GPU once, up
# front, when there is one. Fixing the seed makes the shuffling, and the random weights below,
# the same on every run.

# %%
d2lite.seed_everything(0)
train_data = d2lite.data.batches(X_train, y_train, batch_size=64, device=device)
val_data = d2lite.data.batches(X_val, y_val, 1000, shuffle=False, device=device)
test_data = d2lite.data.batches(X_test, y_test, 1000, shuffle=False, device=device)
X, y = next(iter(train_data))
print("one batch:", tuple(X.shape), tuple(y.shape),
      "| batches per epoch:", len(train_data))
assert len(train_data) == math.ceil(54_001 / 64) == 844

# %% [markdown]
# ## The network: 784 → 28 → 10
#
# The notes' recogniser is the simplest
# [multilayer perceptron](../../book/glossary.md#term-multilayer-perceptron) that does the job
# ([Figure 1](#fig-mlp-mnist-network)). The $28 \times 28 = 784$ pixels are laid out in one row
# and form the input layer. A single [hidden layer](../../book/glossary.md#term-hidden-layer) of
# 28 neurons with ReLU activations condenses them into 28 features; the notes pick 28 for no
# deeper reason than that it is small, and you can try other widths in the exercises. The output
# layer turns those 28 features into 10 scores, one per digit, and a log-softmax turns the scores
# into log-probabilities:
#
# $$
# \mathbf{h} = \mathrm{ReLU}(\mathbf{W}_1 \mathbf{x} + \mathbf{b}_1), \qquad
# \mathbf{o} = \mathbf{W}_2 \mathbf{h} + \mathbf{b}_2, \qquad
# \log \hat{\mathbf{y}} = \operatorname{log\_softmax}(\mathbf{o}),
# $$
#
# with $\mathbf{W}_1$ of shape $(28, 784)$ and $\mathbf{W}_2$ of shape $(10, 28)$. Every pixel
# feeds every hidden neuron and every hidden neuron feeds every output, so the diagram draws a
# few units of each layer and lets the dots stand for the rest.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The notes' digit recogniser: 784 input pixels, a hidden layer of 28 ReLU units and 10 outputs, one per digit, fully connected (a few units of each layer drawn, the dots stand for the rest).", "name": "fig-mlp-mnist-network"}}
d2lite.diagrams.draw_network(
    [["$x_1$", "$x_2$", "...", "$x_{784}$"], ["$h_1$", "$h_2$", "...", "$h_{28}$"],
     ["$o_0$", "...", "$o_9$"]],
    layer_names=["input\n784 pixels", "hidden\n28 ReLU units", "output\n10 digits"],
    figsize=(5, 3))

# %% [markdown]
# The class below writes the network down, keeping the notes' names for the two layers.

# %%
class MnistMLP(nn.Module):
    """784 -> 28 (ReLU) -> 10, returning log-probabilities (batch, 10)."""

    def __init__(self, num_hidden=28):
        super().__init__()
        self.hidden_layer = nn.Linear(28 * 28, num_hidden)
        self.output_layer = nn.Linear(num_hidden, 10)

    def logits(self, X):
        X = X.reshape(-1, 28 * 28)                 # (batch, 1, 28, 28) -> (batch, 784)
        return self.output_layer(F.relu(self.hidden_layer(X)))   # (batch, 10)

    def forward(self, X):
        return F.log_softmax(self.logits(X), dim=-1)              # (batch, 10)


# %% [markdown]
# Each neuron of the hidden layer has one weight per pixel and one bias; each output neuron has
# one weight per hidden neuron and one bias. That makes $784 \cdot 28 + 28 + 28 \cdot 10 + 10 =
# 22{,}270$ parameters, small by today's standards.

# %% tags=["nbval-check-output"]
net = MnistMLP()
for name, p in net.named_parameters():
    print(f"{name:20s} {str(tuple(p.shape)):10s} {p.numel():6,d}")
num_params = sum(p.numel() for p in net.parameters())
print(f"total {num_params:,d}")
assert num_params == 784 * 28 + 28 + 28 * 10 + 10 == 22_270, f"{num_params} parameters"

# %% [markdown]
# ## Log-softmax and the negative log-likelihood
#
# Why log-softmax instead of softmax? Softmax exponentiates its inputs, and $e^{1000}$ does not
# fit in a float. PyTorch's `softmax` dodges the overflow by subtracting the largest score
# first, but the probabilities of the unlikely classes then round to 0, and their logarithm
# becomes $-\infty$. `log_softmax` works with logarithms throughout,
# $\log \operatorname{softmax}(\mathbf{o})_k = o_k - \log \sum_j e^{o_j}$, and stays finite.
# Here are three scores far apart, pushed through all three ways. Written out by hand, $e^{1000}$
# becomes `inf`, and $\infty / \infty$ is `nan` (not a number).

# %% tags=["nbval-check-output"]
scores = torch.tensor([1000.0, 0.0, -1000.0])
naive = torch.log(torch.exp(scores) / torch.exp(scores).sum())
print("log(exp / sum exp):", naive.tolist())
print("log(softmax):      ", torch.log(torch.softmax(scores, dim=0)).tolist())
print("log_softmax:       ", F.log_softmax(scores, dim=0).tolist())
assert naive[0].isnan() and not naive.isfinite().any(), "exp(1000) should overflow"
assert (torch.log(torch.softmax(scores, dim=0))[1:] == -math.inf).all(), "log(0) = -inf"
exact = torch.tensor([0.0, -1000.0, -2000.0])
assert torch.allclose(F.log_softmax(scores, dim=0), exact), "log_softmax is not exact"

# %% [markdown]
# The network returns log-probabilities, so the loss only has to pick the right one out. For an
# example of class $y$ the cross-entropy between the one-hot target and the prediction is
# $-\sum_k [k = y] \log \hat{y}_k = -\log \hat{y}_y$: every term but one is zero. The labels are
# therefore stored as class indices (one integer per image) rather than one-hot rows of ten
# numbers, which saves memory and computes the same thing. `F.nll_loss`, the negative
# log-likelihood loss of [softmax regression](../02_linear/softmax_regression.ipynb), does
# exactly this pick and
# averages over the batch. So log-softmax followed by `nll_loss` is the cross-entropy of the raw
# scores, which is what `F.cross_entropy` computes in one call. Let's check all four ways on a
# batch.

# %%
with torch.no_grad():
    log_probs = net(X.cpu())                                   # (64, 10)
    logits = net.logits(X.cpu())                               # (64, 10)
y_cpu = y.cpu()
one_hot = F.one_hot(y_cpu, num_classes=10).float()             # (64, 10)
losses = {"one-hot sum": -(one_hot * log_probs).sum(dim=1).mean(),
          "pick by index": -log_probs[torch.arange(len(y_cpu)), y_cpu].mean(),
          "F.nll_loss": F.nll_loss(log_probs, y_cpu),
          "F.cross_entropy(logits)": F.cross_entropy(logits, y_cpu)}
for name, value in losses.items():
    print(f"{name:24s} {value:.6f}")
reference = losses["F.nll_loss"]
assert all(abs(v - reference) < 1e-6 for v in losses.values()), "the losses differ"

# %% [markdown]
# All four agree. In your own networks, returning raw scores and using `nn.CrossEntropyLoss`
# is the more common style; returning log-probabilities and using `nll_loss`, as the notes do,
# is the same computation split differently.
#
# The untrained network knows nothing yet, so its ten probabilities should be close to
# $1/10$ each, and its loss close to $-\log(1/10) = \ln 10 \approx 2.303$.

# %%
print(f"untrained loss: {losses['F.nll_loss']:.3f}, ln 10 = {math.log(10):.3f}")
assert abs(losses["F.nll_loss"] - math.log(10)) < 0.2, "untrained loss not near ln 10"

# %% [markdown]
# ## Testing: evaluation mode and `no_grad`
#
# Before training, write the test that will judge the network, as the notes do. Two switches
# matter when you only want predictions:
#
# - `net.eval()` puts every layer into
#   **[evaluation mode](../../book/glossary.md#term-evaluation-mode)** (评估模式), and
#   `net.train()` back into **[training mode](../../book/glossary.md#term-training-mode)**
#   (训练模式). The flag `net.training` tells layers such as
#   dropout and batch normalisation, which you meet later, to behave differently while testing.
#   This network has no such layer, so both modes give the same outputs, but setting the mode is a
#   habit worth having from the start.
# - `torch.no_grad()` tells autograd not to record the computation. Nothing will call
#   `backward()` on a test loss, so storing the graph would only cost memory and time.
#
# The prediction is the class with the highest log-probability, `argmax` over the last
# dimension; the accuracy is the share of predictions that match the labels.

# %%
def test(net, data):
    """Mean loss and accuracy of `net` on (X, y) batches, without gradients."""
    net.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for X, y in data:
            log_probs = net(X)                                 # (batch, 10)
            total_loss += F.nll_loss(log_probs, y, reduction="sum").item()
            correct += (log_probs.argmax(dim=-1) == y).sum().item()
            count += len(y)
    net.train()
    return total_loss / count, correct / count


# %% [markdown]
# The loop adds up losses and correct answers per example and divides once at the end, so a
# smaller last batch would not count more than its share. Let's check the two switches and run
# the function on the untrained network, on the validation split: it should do no better than a
# guess, right around one time in ten.

# %%
net.to(device)
with torch.no_grad():
    out = net(X)
assert not out.requires_grad and out.grad_fn is None, "no_grad should record no graph"
assert net(X).grad_fn is not None, "outside no_grad autograd records the graph"
net.eval()
assert not net.training and not net.hidden_layer.training, "eval() reaches every layer"
assert torch.equal(net(X), net.train()(X)), "no dropout here: both modes agree"
loss0, acc0 = test(net, val_data)
print(f"untrained: validation loss {loss0:.3f}, accuracy {acc0:.3f}")
assert net.training and 0.02 < acc0 < 0.25, f"accuracy {acc0:.3f} is not near a guess"

# %% [markdown]
# `d2lite.evaluate` does the same work (evaluation mode, `no_grad`, sums divided at the end), so
# from now on you can use it and get the same numbers.

# %%
result = d2lite.evaluate(net, val_data, loss_fn=F.nll_loss, metrics=[d2lite.accuracy])
print({k: round(v, 4) for k, v in result.items()})
assert abs(result["loss"] - loss0) < 1e-5 and abs(result["accuracy"] - acc0) < 1e-9

# %% [markdown]
# ## Training with Adam
#
# The notes train with Adam ([Kingma and Ba, 2015](../../book/references.md)), which you wrote
# from scratch in [the optimisers lesson](../02_linear/optimizers.ipynb): it gives every
# parameter its own step size from running averages of its gradients and of their squares. They
# make three passes over the training set, three epochs, in batches of 128 with Adam's default
# learning rate $10^{-3}$. This lesson changes two of those settings, and you will see below, on
# the validation split, what the two together buy: batches of 64 images instead of 128, so that
# an epoch takes twice as many steps, and a learning rate of 0.003 that halves after every
# epoch. Large steps early cover ground fast; smaller steps later settle the weights into a
# minimum instead of bouncing around it. Such a plan for the step size is a
# **[learning-rate schedule](../../book/glossary.md#term-learning-rate-schedule)** (学习率调度);
# `ExponentialLR(optimizer, gamma=0.5)` is this one, and `fit` steps it once per epoch.
#
# The function below builds the three objects that change during training. You will call it
# again when you resume from a checkpoint.

# %%
def make_model(lr=0.003, gamma=0.5):
    """A new MnistMLP on `device` with Adam and, unless gamma is None, ExponentialLR."""
    net = MnistMLP().to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = None
    if gamma is not None:
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    return net, optimizer, scheduler


# %% [markdown]
# `d2lite.fit` runs the loop the notes write by hand: for every batch it zeroes the gradients,
# computes the loss, calls `backward()` and steps the optimiser, with the model in training mode;
# after every epoch it switches to evaluation mode and measures the validation data under
# `no_grad()`. The notes also save the model and the optimiser as they go; `checkpoint=` does that
# after every epoch. The file goes into a temporary folder that disappears at the end of the
# lesson.

# %%
workdir = tempfile.TemporaryDirectory()            # removed at the end of the lesson
ckpt_path = Path(workdir.name) / "mnist_mlp.pt"
d2lite.seed_everything(0)
net, optimizer, scheduler = make_model()
history = d2lite.fit(net, train_data, loss_fn=F.nll_loss, optimizer=optimizer,
                     scheduler=scheduler, epochs=3, val_data=val_data,
                     metrics=[d2lite.accuracy], checkpoint=ckpt_path)

# %% [markdown]
# [Figure 2](#fig-mlp-mnist-curves) shows the loss and the accuracy after each epoch: both the
# training and the validation loss fall, and the validation accuracy climbs.

# %% mystnb={"figure": {"caption": "Loss and accuracy of the 784-28-10 network over three epochs, on the training batches (averaged over each epoch) and on the 5,999 validation images.", "name": "fig-mlp-mnist-curves"}}
axes = history.plot()
axes[0].figure.set_size_inches(6.5, 2.8)              # two panels across the page
for ax in axes:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# The checks on the curves: the validation accuracy rises every epoch and the validation loss
# falls, the training loss falls by less each epoch, and the learning rate has been halved
# three times.

# %%
for epoch in range(len(history)):
    print(f"epoch {epoch + 1}: train loss {history['train_loss'][epoch]:.4f}, "
          f"validation loss {history['val_loss'][epoch]:.4f}, "
          f"accuracy {history['val_accuracy'][epoch]:.4f}")
val_acc, val_loss = history["val_accuracy"], history["val_loss"]
loss = history["train_loss"]
assert val_acc[0] < val_acc[1] < val_acc[2], f"val accuracy did not rise: {val_acc}"
assert val_loss[0] > val_loss[1] > val_loss[2], f"val loss did not fall: {val_loss}"
assert loss[0] - loss[1] > loss[1] - loss[2] > 0, f"training loss: {loss}"
assert abs(optimizer.param_groups[0]["lr"] - 0.003 / 2 ** 3) < 1e-12, "lr not halved 3x"

# %% [markdown]
# One thing in the curves may surprise you: in the first epoch the validation loss lies below
# the training loss, although the network never trained on those images. The training loss is
# an average over all the batches of the epoch, most of them seen while the network was still
# poor; the validation loss is measured at the end of the epoch, with the weights the epoch
# ended with.

# %%
assert history["val_loss"][0] < history["train_loss"][0], "val loss above train loss"

# %% [markdown]
# ### What the two changes buy
#
# Were the two changes worth it? That is a question about training settings, so the
# validation split answers it. But one training run is one draw: another random start and
# another order of the batches give another final accuracy, and two recipes can differ by less
# than that run-to-run noise. So train each recipe three times, from seeds 0, 1 and 2, for the
# same budget of three epochs: the notes' own recipe (batches of 128, `Adam(lr=1e-3)`, no
# schedule) and this lesson's, whose seed-0 run is the one above.

# %%
def train_recipe(seed, data, lr, gamma):
    """A new network trained for 3 epochs from `seed` on `data` with Adam at `lr` and,
    unless gamma is None, the schedule; returns (network, optimizer, history)."""
    d2lite.seed_everything(seed)
    model, opt, sched = make_model(lr=lr, gamma=gamma)
    model_history = d2lite.fit(model, data, loss_fn=F.nll_loss, optimizer=opt,
                               scheduler=sched, epochs=3, val_data=val_data,
                               metrics=[d2lite.accuracy])
    return model, opt, model_history


seeds = [0, 1, 2]
notes_data = d2lite.data.batches(X_train, y_train, batch_size=128, device=device)
notes_runs = [train_recipe(seed, notes_data, lr=1e-3, gamma=None) for seed in seeds]
lesson_runs = [(net, optimizer, history)]               # seed 0: the run above
lesson_runs += [train_recipe(seed, train_data, lr=0.003, gamma=0.5)
                for seed in seeds[1:]]
notes_net, notes_optimizer, notes_history = notes_runs[0]

# %% [markdown]
# The table lists each run's validation accuracy and loss after the three epochs, then the
# mean over the three seeds and the spread (largest minus smallest) within each recipe.

# %%
def last(runs, key):
    """The last epoch's `key` ("val_accuracy" or "val_loss") of each run."""
    return [run_history[key][-1] for _, _, run_history in runs]

def average(values):
    return sum(values) / len(values)

our_accs = last(lesson_runs, "val_accuracy")
notes_accs = last(notes_runs, "val_accuracy")
our_losses, notes_losses = last(lesson_runs, "val_loss"), last(notes_runs, "val_loss")
print("seed   | accuracy: lesson  notes' | loss: lesson  notes'")
for i, seed in enumerate(seeds):
    print(f"{seed:<6} |           {our_accs[i]:.4f}  {notes_accs[i]:.4f} |       "
          f"{our_losses[i]:.4f}  {notes_losses[i]:.4f}")
for name, stat in (("mean", average), ("spread", lambda v: max(v) - min(v))):
    print(f"{name:6} |           {stat(our_accs):.4f}  {stat(notes_accs):.4f} |       "
          f"{stat(our_losses):.4f}  {stat(notes_losses):.4f}")
our_acc = history["val_accuracy"][-1]                   # the seed-0 run, used below

# %% [markdown]
# Two things are robust here. Every run with the lesson's settings ends with a lower
# validation loss than every run of the notes' recipe, its worst beating their best. And on
# average over the seeds the lesson's settings read more than half a point more of the
# validation digits. The spread within each recipe is the run-to-run noise: it is why one pair
# of runs, one seed each, could not settle the question. With twice the budget the notes'
# recipe closes most of the gap (exercise 2), so what the changes buy is speed.

# %%
acc_gain = average(our_accs) - average(notes_accs)
print(f"mean gain in validation accuracy: {100 * acc_gain:.2f} points")
assert max(our_losses) < min(notes_losses), f"ours {our_losses}, notes' {notes_losses}"
d2lite.record("val_loss_margin", min(notes_losses) - max(our_losses))
assert acc_gain > 0.005, f"the lesson's settings gain only {100 * acc_gain:.2f} points"
d2lite.record("val_acc_gain", acc_gain)

# %% [markdown]
# ### Testing once
#
# The comparison is made. Now open the test set, once, and measure all six networks on it.
# The lesson's check is about the recipe, not about one run: averaged over its three runs,
# this lesson's recipe reads at least 95.5 % of the 10,000 test digits correctly after three
# epochs, while the notes' recipe, the baseline, averages below that floor in the same budget.
# (The notes report about 96 % for their own run, which trained on all 60,000 images from
# another random start.) For both recipes the test digits also come out a little easier than
# the validation digits, by less than a point and a half on average: a held-out split and a
# test set collected separately need not agree exactly.

# %%
def test_accuracy(model):
    return d2lite.evaluate(model, test_data, loss_fn=F.nll_loss,
                           metrics=[d2lite.accuracy])["accuracy"]

our_tests = [test_accuracy(model) for model, _, _ in lesson_runs]
notes_tests = [test_accuracy(model) for model, _, _ in notes_runs]
test_acc = our_tests[0]                      # seed 0: the network studied below
mean_test, notes_mean_test = average(our_tests), average(notes_tests)
print("test accuracy for seeds", seeds)
print(f"  this lesson's settings {[round(a, 4) for a in our_tests]}, "
      f"mean {mean_test:.4f} ({100 * (mean_test - 0.955):+.2f} points from the floor)")
print(f"  notes' settings        {[round(a, 4) for a in notes_tests]}, "
      f"mean {notes_mean_test:.4f}")
assert mean_test >= 0.955, f"mean test accuracy {mean_test:.4f} is below 95.5 %"
d2lite.record("mean_test_acc", mean_test)
assert 0.93 < notes_mean_test < 0.955, f"notes' settings: {notes_mean_test:.4f}"
d2lite.record("notes_mean_test_acc", notes_mean_test)
for tests, accs in ((our_tests, our_accs), (notes_tests, notes_accs)):
    assert 0 < average(tests) - average(accs) < 0.015, "test and validation differ"

# %% [markdown]
# ## The digits it gets wrong
#
# About 4 % of the test digits, one in 25 or so, are still misread by the seed-0 network.
# Now that no choice depends on the test set any
# more, looking at those digits costs nothing, and it tells you more than the accuracy does. The
# cell predicts all 10,000 test digits at once, in evaluation mode and without gradients, and
# collects the ones whose prediction differs from the label.

# %%
net.eval()
with torch.no_grad():
    predicted = net(X_test.to(device)).argmax(dim=-1).cpu()   # (10000,)
wrong = (predicted != y_test).nonzero().squeeze(1)             # (num_wrong,)
print(f"{len(wrong)} of {len(y_test):,d} test digits misclassified")
assert len(wrong) == round((1 - test_acc) * len(y_test)), "disagrees with evaluate"
assert 0.035 < len(wrong) / len(y_test) < 0.045, "not about 4 % of the digits"

# %% [markdown]
# [Figure 3](#fig-mlp-mnist-mistakes) shows the first 18 of them, each titled with the
# network's answer and the true label. Some
# you might hesitate over yourself: an unusual stroke, a loop that is barely open. Others are
# clear to you but not to 28 hidden features computed from pixels whose neighbours the network
# does not know about. The convolutional networks of the next chapter make use of them.

# %% mystnb={"figure": {"caption": "The first 18 misclassified test digits, each titled with the network's answer and the true label.", "name": "fig-mlp-mnist-mistakes"}}
shown = wrong[:18]
pairs_shown = zip(predicted[shown].tolist(), y_test[shown].tolist(), strict=True)
titles = [f"{p} (true {t})" for p, t in pairs_shown]
d2lite.show_images(X_test_raw[shown, 0], num_rows=3, num_cols=6, titles=titles,
                   scale=1.1)
plt.show()

# %% [markdown]
# What does "does not know about neighbours" mean? Shuffle the 784 pixels of every test image in
# the same random order, and shuffle the columns of the first weight matrix to match: the network
# gives exactly the same outputs. To a fully connected layer the pixels are an unordered list, so
# a network trained on shuffled images would do just as well as this one; the shape of a stroke,
# which pixels touch which, is information it never uses.

# %%
perm = torch.randperm(28 * 28)
shuffled_net = MnistMLP().to(device)
shuffled_net.load_state_dict(net.state_dict())
with torch.no_grad():
    shuffled_weight = net.hidden_layer.weight[:, perm]                    # (28, 784)
    shuffled_net.hidden_layer.weight.copy_(shuffled_weight)
    shuffled_images = X_test.reshape(-1, 28 * 28)[:, perm].to(device)     # (10000, 784)
    outputs = net(X_test.to(device))                                      # (10000, 10)
    same = torch.allclose(shuffled_net(shuffled_images), outputs, atol=1e-5)
print("same outputs on shuffled pixels:", same)
assert same, "permuting inputs and weights together should not change the outputs"

# %% [markdown]
# Mistakes are not spread evenly over the $10 \cdot 9 = 90$ possible (true, predicted) pairs of
# digits. Counting them shows the most common confusions: the top three alone account for more
# than three times their even share of $3/90$ of the mistakes.

# %%
pairs = torch.stack([y_test[wrong], predicted[wrong]], dim=1)         # (num_wrong, 2)
counted, counts = pairs.unique(dim=0, return_counts=True)
top = counts.argsort(descending=True)[:3]
for (true, pred), count in zip(counted[top].tolist(), counts[top].tolist(),
                               strict=True):
    print(f"true {true} read as {pred}: {count} times")
share = counts[top].sum().item() / len(wrong)
print(f"the top three pairs make up {share:.0%} of the mistakes")
assert counts.sum() == len(wrong) and share > 3 * 3 / 90, f"top-three share {share:.2f}"

# %% [markdown]
# ## Checkpoints: saving and resuming
#
# Three epochs take seconds here; real models train for days, and a crash, a power cut or a
# time limit can stop them at any point. A
# **[checkpoint](../../book/glossary.md#term-checkpoint)** (检查点) is a snapshot of
# everything that training changes, written to disk so that a new process can carry on from
# it. The notes store two state dicts, the model's and the optimiser's, and load them at start-up
# if the files exist. `fit` writes one file after every epoch, a plain dictionary of those state
# dicts plus a few counters. `d2lite.load_checkpoint` reads it back into a model and optimiser and
# returns the whole dictionary, so let's look inside.

# %% tags=["nbval-check-output"]
restored, restored_optimizer, _ = make_model()
saved = d2lite.load_checkpoint(ckpt_path, restored, restored_optimizer)
print("checkpoint:", sorted(saved))
print("epoch:", saved["epoch"], "| model:", list(saved["model"]))
print("Adam's state of the first weight matrix:",
      sorted(saved["optimizer"]["state"][0]))
assert saved["epoch"] == 3 and len(saved["history"]["train_loss"]) == 3
assert saved["model_args"] is None, "fit does not know the constructor arguments"

# %% [markdown]
# Each entry has a reason to be there:
#
# - `model`: the weights and biases, the result of training;
# - `model_args`: the arguments to build the model again before loading the weights; `fit`
#   does not know them, so it is `None` here (`d2lite.save_checkpoint` takes them);
# - `optimizer`: Adam's running averages of every gradient (`exp_avg`) and squared gradient
#   (`exp_avg_sq`) and its step count; a fresh Adam would start these from zero and take
#   differently sized steps;
# - `scheduler`: how many times the learning rate has been halved;
# - `rng`: the state of the random number generators, so the next epoch shuffles the data as
#   it would have without the interruption;
# - `scaler`: empty here; it holds the loss scale of mixed-precision training on a GPU;
# - `epoch` and `history`: where to continue, and the curves so far.
#
# The notes point out another use: a saved model can be tested later without training it again.
# The restored copy gives exactly the trained network's validation accuracy.

# %%
_, restored_acc = test(restored, val_data)
print(f"restored model: validation accuracy {restored_acc:.4f}")
assert restored_acc == our_acc, f"{restored_acc} != {our_acc}: weights not restored"

# %% [markdown]
# Now simulate a crash. Start the same training again from the same seed, so from the same
# initial weights, but stop after two epochs, as if the machine went down. `fit` has written the
# checkpoint after each of them. This time nothing is printed or plotted.

# %%
interrupted_path = Path(workdir.name) / "interrupted.pt"
d2lite.seed_everything(0)
net2, optimizer2, scheduler2 = make_model()
history2 = d2lite.fit(net2, train_data, loss_fn=F.nll_loss, optimizer=optimizer2,
                      scheduler=scheduler2, epochs=2, val_data=val_data,
                      metrics=[d2lite.accuracy], checkpoint=interrupted_path)
interrupted = torch.load(interrupted_path, weights_only=True)
saved_loss = interrupted["history"]["train_loss"][-1]
print(f"checkpoint written after epoch 2, training loss {saved_loss:.4f}")

# %% [markdown]
# The "new session" builds a brand-new model, optimiser and schedule, with new random weights,
# and asks `fit` for three epochs with `resume=True`. Because the checkpoint file exists, `fit`
# loads it into the three objects, restores the random generators and the history, and runs only
# the missing third epoch.

# %%
net3, optimizer3, scheduler3 = make_model()              # fresh objects, fresh weights
history3 = d2lite.fit(net3, train_data, loss_fn=F.nll_loss, optimizer=optimizer3,
                      scheduler=scheduler3, epochs=3, val_data=val_data,
                      metrics=[d2lite.accuracy], checkpoint=interrupted_path,
                      resume=True)
print("resumed history:", [round(loss, 4) for loss in history3["train_loss"]])
print(f"fresh start, epoch 1: {history['train_loss'][0]:.4f} | "
      f"saved, epoch 2: {saved_loss:.4f} | "
      f"resumed, epoch 3: {history3['train_loss'][2]:.4f}")

# %% [markdown]
# The resumed run keeps the two earlier epochs in its history, and its first epoch of its own
# continues below the saved loss instead of starting again from the fresh-start loss of the
# first epoch. It even lands on the uninterrupted run's numbers: same weights, same optimiser
# state, same learning rate, same shuffled order, so the same third epoch.

# %%
resumed = history3["train_loss"]
assert len(history3) == 3 and resumed[:2] == history2["train_loss"], "history lost"
assert resumed[2] < saved_loss < history["train_loss"][0], "did not continue"
assert abs(resumed[2] - history["train_loss"][2]) < 1e-4, "differs from no crash"
resumed_acc = history3["val_accuracy"][-1]
print(f"validation accuracy: uninterrupted {our_acc:.4f}, resumed {resumed_acc:.4f}")
assert abs(resumed_acc - our_acc) < 1e-3, "the resumed run should match"


# %% [markdown]
# Finally, look at what the folder holds: exactly the two checkpoint files, one per run. `fit`
# writes each checkpoint to a temporary file first and renames it when complete, so that a crash
# in the middle of writing cannot leave a damaged checkpoint behind; none of those temporary
# files is left over. Then remove the folder and everything in it.

# %%
files = sorted(path.name for path in Path(workdir.name).iterdir())
print(files)
assert files == ["interrupted.pt", "mnist_mlp.pt"], f"the folder holds {files}"
workdir.cleanup()

# %% [markdown]
# ## Summary
#
# - MNIST has 60,000 training and 10,000 test images of 28 × 28 pixels; hold out a tenth of the
#   training images for validation. Standardise the pixels with the training split's mean 0.1307
#   and standard deviation 0.3081, validation and test images included.
# - The notes' recogniser is an MLP 784 → 28 → 10 with ReLU: 22,270 parameters. Trained with
#   Adam for three epochs with batches of 64 and a learning rate of 0.003 halved every epoch,
#   it reads more than 95.5 % of the test digits correctly, averaged over three training runs;
#   the notes' batches of 128 at a fixed rate of $10^{-3}$ fall short of that in the same
#   budget. On the validation split every run of the first recipe ends with a lower loss than
#   every run of the second: compare settings over several seeds, not on one run each.
# - Log-softmax followed by the negative log-likelihood equals the cross-entropy of the raw
#   scores; `log_softmax` stays finite where `log(softmax(...))` gives $-\infty$.
# - Test in evaluation mode (`net.eval()`) and under `torch.no_grad()`, and add up losses and
#   correct answers before dividing.
# - A checkpoint holds the model's and the optimiser's state dicts, the schedule, the random
#   state, the epoch and the history. `fit(..., checkpoint=path, resume=True)` continues an
#   interrupted run exactly where it stopped.
#
# ## Exercises
#
# 1. **Wider or narrower.** How many parameters does `MnistMLP(h)` have, as a formula in the
#    width $h$? Check it for 8, 28 and 128 hidden neurons. Then train the three widths (give
#    `make_model` a width argument) and plot the validation accuracy against the number of
#    parameters.

# %% tags=["hide-cell"]
# A solution. Hidden layer: 784 h weights + h biases; output layer: 10 h weights + 10
# biases; in all 795 h + 10.
for h in (8, 28, 128):
    count = sum(p.numel() for p in MnistMLP(h).parameters())
    print(f"width {h:3}: {count:,} parameters")
    assert count == 795 * h + 10, f"width {h}: {count} parameters"

# %% [markdown]
# 2. **The notes' recipe, longer.** Train the notes' network for three more epochs, six in all,
#    continuing from `notes_net` and its optimiser. Does it now reach this lesson's validation
#    accuracy after three? What does that say about what the two changes of this lesson buy?

# %% tags=["hide-cell"]
# A solution. Copy the notes' model and optimizer so that the objects above stay as
# they were, then train three more epochs. Six epochs of the notes' recipe close more
# than half of the average gap to three of ours: the changes buy speed. Whether they
# also buy a better end point would need six epochs of ours too.
longer_net, longer_optimizer, _ = make_model(lr=1e-3, gamma=None)
longer_net.load_state_dict(notes_net.state_dict())
longer_optimizer.load_state_dict(notes_optimizer.state_dict())
longer = d2lite.fit(longer_net, notes_data, loss_fn=F.nll_loss,
                    optimizer=longer_optimizer, epochs=3, val_data=val_data,
                    metrics=[d2lite.accuracy])
longer_acc, our_mean = longer["val_accuracy"][-1], average(our_accs)
print(f"notes' recipe after 3 epochs: {notes_accs[0]:.4f}, after 6: {longer_acc:.4f}; "
      f"this lesson's after 3 (mean of 3 seeds): {our_mean:.4f}")
assert longer_acc > notes_accs[0], "three more epochs should help"
assert our_mean - longer_acc < acc_gain / 2, "six epochs should close most of the gap"

# %% [markdown]
# 3. **Scores instead of log-probabilities.** Train a copy of the network whose `forward`
#    returns `self.logits(X)`, with `nn.CrossEntropyLoss()` as the loss, from
#    `seed_everything(0)`. Its first training loss should match `history["train_loss"][0]` to
#    $10^{-4}$. Why do the two runs agree?
# 4. **Forgetting the optimiser.** Repeat the interrupted run, but resume by loading only the
#    model (`d2lite.load_checkpoint` with the path and `net3` only), and train the third epoch
#    with a new Adam at learning rate 0.003 and no scheduler. Is the third epoch's loss still
#    below the saved one? Which of the checkpoint's entries did you leave out, and what did each
#    change?
