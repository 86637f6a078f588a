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
# # Linear regression, concisely
#
# In [Linear Regression](linear_regression.ipynb) you wrote every part of training yourself: the
# parameters, the loss, the update and the reset of the gradients. Here you hand those parts to
# PyTorch's building blocks, `nn.Module`, `nn.Linear`, `nn.MSELoss` and `torch.optim.SGD`, and feed
# the data through a `DataLoader`. You will check that the concise loop takes exactly the same steps
# as the one written by hand, then replace the loop by a single call to `d2lite.fit`, read its
# source, and test from the outside that it does what the source says.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import ast
import inspect
import textwrap
import time

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import d2lite

# %% [markdown]
# ## The meal machine as a module
#
# A framework earns its keep by taking the formulas out of your code. PyTorch
# ([Paszke et al., 2019](../../book/references.md)) keeps the pieces of a network in `torch.nn` and
# the update rules in `torch.optim`. Using them for a straight line through three points is a
# sledgehammer to crack a nut, but it is the clearest place to see what each piece does.
#
# Start with the model. In PyTorch a model is a **[module](../../book/glossary.md#term-module)**
# (模块): a class that subclasses `nn.Module`, creates its layers in `__init__` and says how to
# compute the output in `forward`. The meal machine's rule $\hat{y} = wx + b$ is one
# **[linear layer](../../book/glossary.md#term-linear-layer)** (线性层, also called a fully connected
# layer), `nn.Linear(1, 1)`: one input feature, one output. It creates the weight and the bias for
# you, which replaces the two `torch.tensor(..., requires_grad=True)` lines of the hand-written
# loop.

# %%
class MealMachine(nn.Module):
    """The line y_hat = w x + b: a module holding one nn.Linear, 1 input, 1 output."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)  # creates w (1, 1) and b (1,) and registers them

    def forward(self, x):              # x: (n, 1), one example per row
        return self.linear(x)          # (n, 1)


# %% [markdown]
# Because `self.linear` is assigned inside a module, its parameters are registered with it:
# `named_parameters()` finds them, and so will the optimiser. They start at small random values.
# The weight has shape `(1, 1)`, one row per output and one column per input, because
# `nn.Linear` stores $\mathbf{W}$ as (outputs, inputs) and computes
# $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$.

# %% tags=["nbval-check-output"]
d2lite.seed_everything(0)
machine = MealMachine()
for name, p in machine.named_parameters():
    print(f"{name}: shape {tuple(p.shape)}, requires_grad={p.requires_grad}")

# %% [markdown]
# A layer expects one example per *row*, so the three days go in a column of shape `(3, 1)`;
# the source notes write them as a row and transpose. Calling the module, `machine(x)`, runs
# `forward` (through `nn.Module.__call__`, which also runs any hooks). Let's confirm that it
# computes $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$.

# %%
x = torch.tensor([[1.0], [2.0], [3.0]])  # (3, 1): the days, one per row
y = torch.tensor([[3.0], [5.0], [8.0]])  # (3, 1): the dishes
W, b = machine.linear.weight, machine.linear.bias
print("machine(x) has shape", tuple(machine(x).shape))
assert torch.allclose(machine(x), x @ W.T + b), "nn.Linear should compute X W^T + b"

# %% [markdown]
# Next come the loss and the update rule. `nn.MSELoss()` is the mean squared error as an object:
# `loss_fn(y_hat, y)` returns $\frac{1}{n}\sum_i (\hat{y}_i - y_i)^2$. `torch.optim.SGD` is an
# **[optimiser](../../book/glossary.md#term-optimiser)** (优化器): it is handed the model's parameters
# once, and afterwards `optimizer.step()` moves each of them against its gradient, and
# `optimizer.zero_grad()` resets the gradients. The training loop shrinks to four lines, which match
# the hand-written loop of the previous lesson line for line:
#
# | hand-written loop ([Linear Regression](linear_regression.ipynb)) | with `torch.nn` and `torch.optim` |
# |---|---|
# | `w = torch.tensor(0.0, requires_grad=True)`, the same for `b` | `nn.Linear(1, 1)` inside a module |
# | `loss = ((w * x + b - y) ** 2).mean()` | `loss = loss_fn(machine(x), y)` |
# | `loss.backward()` | `loss.backward()` |
# | `w -= lr * w.grad` under `torch.no_grad()`, the same for `b` | `optimizer.step()` |
# | `w.grad.zero_()`, `b.grad.zero_()` | `optimizer.zero_grad()` |
#
# The source notes train with learning rate 0.01 for 10,000 iterations. We use the previous
# lesson's 0.1 and 1000 iterations; the random start does not matter, because the loss is convex.

# %%
optimizer = torch.optim.SGD(machine.parameters(), lr=0.1)
loss_fn = nn.MSELoss()
for _ in range(1000):
    loss = loss_fn(machine(x), y)  # forward pass and loss
    optimizer.zero_grad()          # reset the gradients
    loss.backward()                # fill w.grad and b.grad
    optimizer.step()               # w -= lr * w.grad, the same for b
w_line, b_line = machine.linear.weight.item(), machine.linear.bias.item()
print(f"w = {w_line:.4f}, b = {b_line:.4f}, loss = {loss.item():.5f}")
assert abs(w_line - 2.5) < 1e-3 and abs(b_line - 1 / 3) < 1e-3, "expected 2.5 and 1/3"
assert abs(loss.item() - 1 / 18) < 1e-5, f"final loss {loss.item():.6f} is not 1/18"

# %% [markdown]
# Do the notes' settings get there too? They do, from the same start, but they need all of their
# 10,000 steps: with learning rate 0.01, the error along the shallow direction of the loss shrinks
# by only $1 - 0.01 \cdot 0.240$ per step (the previous lesson worked out that eigenvalue), so after
# 1000 steps $b$ is still more than 0.05 away. The function below is the loop above, started from
# a fresh `MealMachine` whose weight and bias are set to 0, the previous lesson's start, so that
# how far the short run gets does not depend on a random draw.

# %%
def train_line(lr, steps):
    """The loop above from w = b = 0, trained by SGD; return w and b."""
    model = MealMachine()
    nn.init.zeros_(model.linear.weight)  # the previous lesson's start
    nn.init.zeros_(model.linear.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.linear.weight.item(), model.linear.bias.item()


w_notes, b_notes = train_line(lr=0.01, steps=10_000)
w_short, b_short = train_line(lr=0.01, steps=1000)
print(f"lr 0.01: after 10,000 steps w = {w_notes:.4f}, b = {b_notes:.4f}; "
      f"after 1000: w = {w_short:.4f}, b = {b_short:.4f}")
assert abs(w_notes - 2.5) < 1e-3 and abs(b_notes - 1 / 3) < 1e-3, "10,000 steps do"
assert abs(b_short - 1 / 3) > 0.05, f"1000 steps should fall short, b = {b_short:.4f}"

# %% [markdown]
# The line is the one the normal equations gave in [Linear Regression](linear_regression.ipynb):
# $w = 2.5$, $b = \tfrac{1}{3}$, with loss $\tfrac{1}{18}$. The source notes print the optimiser's
# `param_groups` to read off the answer. That works because the optimiser does not copy the
# parameters: it holds the very tensors that live in the model, so `step()` changes the model in
# place.

# %%
held = optimizer.param_groups[0]["params"]
print(f"the optimizer holds {len(held)} tensors, lr {optimizer.param_groups[0]['lr']}")
assert held[0] is machine.linear.weight and held[1] is machine.linear.bias, "the same"

# %% [markdown]
# ## Synthetic data with a known answer
#
# Three points are too few to show minibatches, so let's make more data. We choose a true weight
# vector $\mathbf{w} = (2, -3.4)^\top$ and bias $b = 4.2$, draw 1000 examples with two features
# each from a standard normal distribution, and compute their labels with a little noise:
#
# $$
# \mathbf{y} = \mathbf{X}\mathbf{w} + b + \boldsymbol{\epsilon}, \qquad
# \epsilon_i \sim \mathcal{N}(0,\, 0.01^2).
# $$
#
# Such **[synthetic data](../../book/glossary.md#term-synthetic-data)** (合成数据) is the best test
# bench for a training loop: you know the answer it should find. The noise also tells you the best
# loss any model can reach. Even the true parameters miss each label by its $\epsilon_i$, so their
# mean squared error is about $0.01^2 = 10^{-4}$. We also draw 200 more examples as validation data,
# to measure the loss on examples the model has not trained on.

# %%
true_w, true_b = torch.tensor([2.0, -3.4]), 4.2


def synthetic_data(n, generator):
    """n examples of y = X w + b + noise, drawn from generator: X (n, 2), y (n, 1)."""
    X = torch.randn(n, 2, generator=generator)
    y = X @ true_w + true_b + 0.01 * torch.randn(n, generator=generator)  # (n,)
    return X, y[:, None]             # labels as a column, like the model's output


data_rng = torch.Generator().manual_seed(0)  # the data's own generator: fixed data
X, y = synthetic_data(1000, data_rng)
X_val, y_val = synthetic_data(200, data_rng)
floor = ((X @ true_w + true_b - y[:, 0]) ** 2).mean().item()
print(f"X: {tuple(X.shape)}, y: {tuple(y.shape)}; true parameters' MSE {floor:.2e}")
assert 0.8e-4 < floor < 1.2e-4, f"the noise floor {floor:.2e} should be about 1e-4"

# %% [markdown]
# ## Datasets and data loaders
#
# With 1000 examples you no longer compute each gradient on all of them. Instead you take a
# **[minibatch](../../book/glossary.md#term-minibatch)** (小批量) of a few examples, step on its
# gradient, take the next minibatch, and so on. One pass over all the data is an
# **[epoch](../../book/glossary.md#term-epoch)** (轮). Following the gradient of a random minibatch
# is **[stochastic gradient descent](../../book/glossary.md#term-stochastic-gradient-descent)**
# (随机梯度下降, SGD) ([Robbins and Monro, 1951](../../book/references.md)), which is where
# `torch.optim.SGD` gets its name. Each step is cheap, and its gradient, although noisy, points
# downhill on average. The optimisers lesson of this chapter compares it with full-batch gradient
# descent.
#
# PyTorch splits the job in two. A **[dataset](../../book/glossary.md#term-dataset)** (数据集) answers
# two questions, how many examples there are (`len`) and what example `i` is (`dataset[i]`);
# `TensorDataset` answers them for tensors that share their first dimension. A
# **[data loader](../../book/glossary.md#term-data-loader)** (数据加载器) draws minibatches from a
# dataset: `DataLoader(dataset, batch_size=10, shuffle=True)` deals out the examples in a new random
# order every epoch, ten at a time, and stacks each ten into one tensor. The
# **[batch size](../../book/glossary.md#term-batch-size)** (批量大小) is a hyperparameter like the
# learning rate.

# %% tags=["nbval-check-output"]
dataset = TensorDataset(X, y)
features, label = dataset[0]
print(f"{len(dataset)} examples; example 0: features {tuple(features.shape)}, "
      f"label {tuple(label.shape)}")
loader = DataLoader(dataset, batch_size=10, shuffle=True)
X_batch, y_batch = next(iter(loader))
print(f"{len(loader)} batches per epoch; a batch: X {tuple(X_batch.shape)}, "
      f"y {tuple(y_batch.shape)}")

# %% [markdown]
# Each epoch deals out every example exactly once: collect the labels of one epoch, sort them,
# and you get the sorted labels of the dataset.

# %%
one_epoch = torch.cat([y_batch for _, y_batch in loader])  # (1000, 1), shuffled
assert torch.equal(one_epoch.sort(dim=0).values, y.sort(dim=0).values), "each one once"
assert not torch.equal(one_epoch, y), "the order should be shuffled"

# %% [markdown]
# ## Minibatch SGD by hand
#
# First the manual version, as in the previous lesson but on minibatches. For a fair comparison
# with the concise version later, both must start from the same parameters and see the batches in
# the same order. So we create one `nn.Linear(2, 1)` now, keep a copy of its random starting
# values in `init`, and start every run from that copy. The order comes from the loader's
# shuffling, which draws from PyTorch's global random generator: calling
# `d2lite.seed_everything(1)` at the start of a run fixes it.
#
# The loop has five phases, marked in the comments: move the batch to the device, forward pass,
# loss, backward pass, and step, followed by the reset of the gradients. With a GPU,
# `d2lite.try_gpu()` returns it and the parameters live there; on the CPU the move does nothing.
# We take the learning rate 0.03 and three epochs, and record the parameters after every step.

# %%
device = d2lite.try_gpu()
d2lite.seed_everything(0)
init = {k: v.clone() for k, v in nn.Linear(2, 1).state_dict().items()}  # (1, 2), (1,)


def train_manual(loader, lr=0.03, epochs=3, seed=1):
    """Minibatch SGD written out: w (2,), b (1,) and the parameters after each step."""
    w = init["weight"].T.clone().to(device).requires_grad_()  # (2, 1) for X @ w
    b = init["bias"].clone().to(device).requires_grad_()      # (1,)
    d2lite.seed_everything(seed)                              # fixes the shuffling
    trajectory = []                                           # (w1, w2, b) per step
    for _ in range(epochs):
        for X_batch, y_batch in loader:
            X_batch, y_batch = X_batch.to(device), y_batch.to(device)  # move the batch
            y_hat = X_batch @ w + b                    # forward: (batch, 1)
            loss = ((y_hat - y_batch) ** 2).mean()     # loss
            loss.backward()                            # backward
            with torch.no_grad():                      # step
                w -= lr * w.grad
                b -= lr * b.grad
            w.grad.zero_()
            b.grad.zero_()
            trajectory.append(torch.cat([w.flatten(), b]).tolist())
    return w.detach().flatten(), b.detach(), torch.tensor(trajectory)


# %% [markdown]
# How large may the learning rate be? [Linear Regression](linear_regression.ipynb) showed that
# gradient descent on a squared loss converges when $\eta < 2/\lambda_{\max}$, where
# $\lambda_{\max}$ is the largest eigenvalue of the Hessian
# $\mathbf{H} = \frac{2}{n}\mathbf{X}^\top\mathbf{X}$ (with a column of ones for the bias). Our
# features are independent with mean 0 and variance 1, so $\mathbf{H} \approx 2\mathbf{I}$ and all
# three eigenvalues are close to 2. The bound is about 1 (0.91 for our sample), and 0.03 leaves a
# wide margin for the noise of minibatch gradients. Along an eigenvector with eigenvalue $\lambda$
# each step shrinks the error by $1 - 0.03\lambda$, about $1 - 0.03 \cdot 2 = 0.94$, so one epoch of
# 100 steps shrinks it by about $0.94^{100} \approx 0.002$. The cell computes this factor for each
# of our three eigenvalues; even the slowest direction shrinks by less than 0.003.

# %%
X1 = torch.cat([X, torch.ones(1000, 1)], dim=1)  # (1000, 3): features and a 1s column
eigenvalues = torch.linalg.eigvalsh(2 / 1000 * X1.T @ X1)  # (3,), ascending
bound = 2 / eigenvalues[-1].item()
shrink = (1 - 0.03 * eigenvalues) ** 100  # (3,): one epoch's factor per eigenvector
print("eigenvalues of the Hessian:", [round(v, 3) for v in eigenvalues.tolist()])
print(f"bound 2 / lambda_max = {bound:.2f};  "
      f"one epoch shrinks by {[round(v, 4) for v in shrink.tolist()]}")
assert ((eigenvalues > 1.7) & (eigenvalues < 2.3)).all(), "eigenvalues should be near 2"
assert round(bound, 2) == 0.91, f"the bound is {bound:.3f}, not about 0.91"
assert abs(0.94**100 - 0.002) < 1e-4, "0.94 ** 100 is about 0.002"
assert 0.001 < shrink.max() < 0.003, f"an epoch shrinks errors {shrink.max():.4f}-fold"

# %% [markdown]
# Train, and compare with the truth. The estimates should land within 0.05 of $(2, -3.4)$ and
# $4.2$; in fact they land within 0.01.

# %%
w_manual, b_manual, trajectory = train_manual(loader)
error_manual = max((w_manual.cpu() - true_w).abs().max().item(),
                   abs(b_manual.item() - true_b))
print(f"w = {[round(v, 4) for v in w_manual.tolist()]}, b = {b_manual.item():.4f}; "
      f"largest error {error_manual:.4f}")
assert error_manual < 0.01, f"an estimate is {error_manual:.4f} off: not within 0.01"
d2lite.record("error_manual", error_manual)

# %% [markdown]
# [Figure 1](#fig-linear-regression-concise-trajectory) follows the three parameters through the
# 300 steps, with the true values dotted.
# From their random start they head straight for the truth and arrive within 0.05 of it during
# the first epoch (the dashed line), as the factor $0.002$ predicted. By the third epoch they
# only wobble around the answer, by less than 0.003, pushed by the noise of each minibatch.

# %% mystnb={"figure": {"caption": "The three parameters during three epochs of minibatch SGD (batch size 10, learning rate 0.03), with the true values dotted; the dashed line marks the end of epoch 1.", "name": "fig-linear-regression-concise-trajectory"}}
fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
names, truths = ["$w_1$", "$w_2$", "$b$"], [2.0, -3.4, 4.2]
for j, (name, truth) in enumerate(zip(names, truths, strict=True)):
    line, = ax.plot(range(1, 301), trajectory[:, j], label=f"{name} (true {truth:g})")
    ax.axhline(truth, color=line.get_color(), linestyle=":")
ax.axvline(100, color="gray", linestyle="--", lw=1)
ax.set(xlabel="step", ylabel="parameter value", title="Estimates during minibatch SGD")
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# The numbers behind [Figure 1](#fig-linear-regression-concise-trajectory):

# %%
error_epoch1 = (trajectory[99] - torch.tensor(truths)).abs().max().item()
wobble = (trajectory[200:] - torch.tensor(truths)).abs().max().item()
print(f"largest error after epoch 1: {error_epoch1:.4f}; during epoch 3: {wobble:.4f}")
assert error_epoch1 < 0.05, f"after one epoch an estimate is {error_epoch1:.3f} away"
assert wobble < 0.003, f"during epoch 3 an estimate strays {wobble:.4f} from the truth"
d2lite.record("error_epoch1", error_epoch1)
d2lite.record("wobble", wobble)

# %% [markdown]
# ## The same loop, concisely
#
# Now the concise version: `nn.Linear(2, 1)` for the model, started from the same `init`;
# `nn.MSELoss()` for the loss; `torch.optim.SGD` for the step. The loop keeps the same five
# phases, but the formulas are gone: the forward pass is `net(X_batch)`, and `optimizer.step()`
# updates every parameter the model has, however many there are.

# %%
def train_concise(loader, lr=0.03, epochs=3, seed=1):
    """The same minibatch SGD, with nn.Linear, nn.MSELoss and optim.SGD; return it."""
    net = nn.Linear(2, 1).to(device)
    net.load_state_dict(init)                         # the same start as train_manual
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    d2lite.seed_everything(seed)                      # the same order of batches
    for _ in range(epochs):
        for X_batch, y_batch in loader:
            X_batch, y_batch = X_batch.to(device), y_batch.to(device)  # move the batch
            loss = loss_fn(net(X_batch), y_batch)     # forward, loss
            optimizer.zero_grad()
            loss.backward()                           # backward
            optimizer.step()                          # step
    return net


# %% [markdown]
# Same start, same batches in the same order, same learning rate, same number of steps: the two
# versions should end at the same parameters. They do, to within $10^{-6}$.

# %%
net = train_concise(loader)
gap = max((net.weight.detach().flatten() - w_manual).abs().max().item(),
          (net.bias.detach() - b_manual).abs().max().item())
print(f"concise: w = {[round(v, 4) for v in net.weight.flatten().tolist()]}, "
      f"b = {net.bias.item():.4f}; largest gap to the manual loop {gap:.1e}")
assert gap < 1e-6, f"the concise and manual versions differ by {gap:.1e}"

# %% [markdown]
# ## The same with `d2lite.fit`
#
# The concise loop is short, but you would still write it again for every model, together with
# the things a real run needs: progress bars, a loss curve, checks on validation data. The book
# keeps all of that in one function, `d2lite.fit`. You give it the model, the data, the loss and
# the optimiser; it returns a `History` of the loss per epoch.
#
# We start once more from `init` with the same seed, so `fit` should again end at the same
# parameters. The validation data goes in as a plain list holding one batch, which `fit` accepts
# like any other iterable of `(X, y)` pairs. (A second `DataLoader` would also work, but iterating
# a `DataLoader` draws a random number from the global generator even when it does not shuffle,
# which would change the training order from the second epoch on; the first two lines of the cell
# show it.) By default `fit` prints nothing and draws nothing (`verbose=True` adds progress
# bars, `plot=True` a live plot); we draw its curves ourselves below.

# %%
rng = torch.get_rng_state()
iter(DataLoader(dataset, batch_size=200))  # no shuffling, yet it draws a random seed
assert not torch.equal(rng, torch.get_rng_state()), "the DataLoader used the global RNG"
net_fit = nn.Linear(2, 1)
net_fit.load_state_dict(init)
d2lite.seed_everything(1)                  # the same order of batches as train_manual
history = d2lite.fit(net_fit, loader, loss_fn=nn.MSELoss(), epochs=3,
                     optimizer=torch.optim.SGD(net_fit.parameters(), lr=0.03),
                     val_data=[(X_val, y_val)], device=device)


def gap_to_manual(net):
    """Largest difference between net's parameters and those of the manual loop."""
    return max((net.weight.detach().flatten() - w_manual).abs().max().item(),
               (net.bias.detach() - b_manual).abs().max().item())


w_fit, b_fit = net_fit.weight.detach().flatten().cpu(), net_fit.bias.item()
error_fit = max((w_fit - true_w).abs().max().item(), abs(b_fit - true_b))
print(f"fit: {history}; gap to the manual loop {gap_to_manual(net_fit):.1e}; "
      f"largest error {error_fit:.4f}")
assert gap_to_manual(net_fit) < 1e-6, "fit and the manual loop take the same steps"
assert error_fit < 0.05, f"an estimate is {error_fit:.3f} from the truth (allowed 0.05)"

# %% [markdown]
# `history.plot()` draws the curves that `fit` recorded, shown in
# [Figure 2](#fig-linear-regression-concise-history); we switch the loss axis to a log scale and
# add the noise floor, the loss of the true parameters, as a dotted line.

# %% mystnb={"figure": {"caption": "The training and validation loss that d2lite.fit recorded per epoch, on a log scale, with the noise floor (the loss of the true parameters) dotted.", "name": "fig-linear-regression-concise-history"}}
ax = history.plot()[0]  # the loss Axes (metrics, when there are any, on the right)
ax.axhline(floor, color="gray", linestyle=":", label="noise floor")
ax.set(yscale="log")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
ax.legend()
plt.show()

# %% [markdown]
# Look at the first epoch. The validation loss, measured at the end of the epoch, is already below
# $5 \cdot 10^{-4}$, close to the noise floor of $10^{-4}$, yet the training loss is more than a
# thousand times higher. That is not a sign of trouble: the training loss of an epoch is the
# average over its batches, taken while the model was still learning, and the first batches of
# epoch 1 met the random start. From the second epoch on both losses sit between
# $0.5 \cdot 10^{-4}$ and $2 \cdot 10^{-4}$, at the floor, where no model can beat the noise.

# %%
train_loss, val_loss = history["train_loss"], history["val_loss"]
print("train loss per epoch:", [f"{v:.2e}" for v in train_loss])
print("val loss per epoch:  ", [f"{v:.2e}" for v in val_loss])
assert val_loss[0] < 5e-4, f"after one epoch the validation loss is {val_loss[0]:.2e}"
assert train_loss[0] > 1000 * val_loss[0], "epoch 1's train loss has the early steps"
later = [*train_loss[1:], *val_loss[1:]]
assert all(0.5e-4 < v < 2e-4 for v in later), f"from epoch 2 on, about 1e-4: {later}"
d2lite.record("val_loss_epoch1", val_loss[0])

# %% [markdown]
# ## Inside `fit`
#
# `fit` is not magic, and you should not have to take that on trust. `inspect.getsource` returns
# the source of any Python function, so let's print the inner loop of `d2lite.fit`, the part that
# runs once per batch. Python's own parser, the `ast` module, finds it for us: it is the `for`
# statement over `train_data` whose body calls `backward()`. (The docstring shows a plain version
# of the same loop; the parser skips it, since a docstring is text, not code.)

# %%
source = textwrap.dedent(inspect.getsource(d2lite.fit))
loop = next(node for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.For) and "train_data" in ast.unparse(node.iter)
            and ".backward()" in ast.unparse(node))
lines = source.splitlines()[loop.lineno - 1:loop.end_lineno]    # the loop and its body
print(textwrap.dedent("\n".join(lines)))

# %% [markdown]
# Every phase of your manual loop is there, in the same order:
#
# | phase | manual loop | `d2lite.fit` |
# |---|---|---|
# | move the batch | `X_batch.to(device)` | `to_device(X, device)` (also handles tuples of inputs) |
# | forward | `X_batch @ w + b` | `_forward(...)`, which calls the model |
# | loss | `((y_hat - y_batch) ** 2).mean()` | `loss_fn(y_hat, y)` |
# | backward | `loss.backward()` | `optimizer.zero_grad(...)`, then `scaler.scale(loss).backward()` |
# | step | `w -= lr * w.grad`, then zero the gradients | `scaler.step(optimizer)` |
#
# The rest is logging and extras that switch themselves off unless you ask for them. `autocast`
# only changes anything with mixed precision (`amp="bf16"` or `"fp16"`). The gradient scaler, which
# guards `fp16` gradients against underflow, is created disabled otherwise, so that
# `scaler.scale(loss)` hands back `loss` itself and `scaler.step(optimizer)` simply calls
# `optimizer.step()`. The clipping runs only when you pass `grad_clip=...`.
#
# Reading code is one thing; testing what it does is better. The gap below $10^{-6}$ between
# `fit` and your manual loop, measured above, already shows that without `amp` and `grad_clip`
# they take the same steps. Two more claims can be tested from the outside, by their effects:
#
# - `fit` zeroes the gradients before each backward pass, your loop after each step; either way
#   every backward pass starts from zero. So stale gradients left in the parameters before the
#   call must make no difference: the run still ends where the manual loop did.
# - Clipping the gradient norm to $\theta$ limits every step to length $\eta\,\theta$. With
#   `grad_clip=1e-3`, one epoch of 100 steps at $\eta = 0.03$ can move the parameters by at most
#   $100 \cdot 0.03 \cdot 10^{-3} = 0.003$ from where they started, while the unclipped run moved
#   them all the way to the truth, more than 1 away.

# %%
def fit_from_init(epochs, stale_grad=None, **options):
    """d2lite.fit from init with the batch order of train_manual; return the model."""
    net = nn.Linear(2, 1)
    net.load_state_dict(init)
    if stale_grad is not None:                  # leftovers that fit should ignore
        for p in net.parameters():
            p.grad = torch.full_like(p, stale_grad)
    d2lite.seed_everything(1)
    d2lite.fit(net, loader, loss_fn=nn.MSELoss(), epochs=epochs, device=device,
               optimizer=torch.optim.SGD(net.parameters(), lr=0.03), **options)
    return net


stale = fit_from_init(3, stale_grad=1e3)
clipped = fit_from_init(1, grad_clip=1e-3)
start_params = torch.cat([init["weight"].flatten(), init["bias"]])           # (3,)
moved = lambda net: (torch.cat([net.weight.detach().flatten(), net.bias.detach()]).cpu()
                     - start_params).norm().item()
print(f"stale gradients: gap {gap_to_manual(stale):.1e}; one clipped epoch moved "
      f"{moved(clipped):.4f}, the unclipped run {moved(net_fit):.2f}")
assert gap_to_manual(stale) < 1e-6, "fit should zero the gradients before each backward"
assert moved(clipped) <= 100 * 0.03 * 1e-3 + 1e-6, "clipped steps are at most lr * 1e-3"
assert moved(net_fit) > 1, "without grad_clip the parameters travel to the truth"

# %% [markdown]
# The disabled scaler can be tested the same way: `fit` creates one whenever `amp` is not
# `"fp16"`, and it must hand the loss through untouched.

# %%
scaler = torch.amp.GradScaler(device.type, enabled=False)  # as fit makes it, no fp16
loss = nn.MSELoss()(net_fit(X_val.to(device)), y_val.to(device))
assert scaler.scale(loss) is loss, "a disabled scaler should return the loss itself"

# %% [markdown]
# The rest of `fit`, which you can print the same way, is bookkeeping around this loop: before
# the first epoch it runs one batch through the model and loss and explains what is wrong if the
# shapes do not fit; it calls `model.train()` before each epoch and evaluates `val_data` in
# `model.eval()` mode under `torch.no_grad()`; it averages the loss over each epoch into the
# `History`; and it can draw a live plot, save checkpoints and run on several GPUs. Its docstring
# (`help(d2lite.fit)`) starts with the plain loop it replaces.
#
# ## Minibatches without a `DataLoader`
#
# A `DataLoader` is general: it can read examples from disk one at a time, decode images, run
# several worker processes. That generality has a price when the data is already one tensor in
# memory. For every batch it fetches the ten examples one by one through `dataset[i]` and then
# stacks them (the *collate* step). For tensors already in memory, a single indexing operation
# does the same job: shuffle the row indices once per epoch and take consecutive slices of them.
#
# That is what `d2lite.data.batches(X, y, batch_size, shuffle=True, seed=...)` does. It yields
# the same kind of `(X_batch, y_batch)` pairs, has a `len()`, and gives a new order on every pass
# over it. With a `seed`, pass number $e$ (counting from 0) is shuffled with seed `seed + e`, so a
# run repeats without touching the global random generator. With `device=...` it moves the data to
# the GPU once, up front, instead of once per batch.

# %% tags=["nbval-check-output"]
fast = d2lite.data.batches(X, y, batch_size=10, seed=0)
X_batch, y_batch = next(iter(fast))
print(f"{len(fast)} batches per epoch; a batch: X {tuple(X_batch.shape)}, "
      f"y {tuple(y_batch.shape)}")

# %% [markdown]
# Like the loader, it deals every example exactly once per epoch. A new object with the same seed
# repeats the same order, a second pass over the same object gives a new one, and that second
# pass is the first pass of seed 1.

# %%
def epoch_labels(data):
    """The labels of one pass over data, in the order they came: (1000, 1)."""
    return torch.cat([y_batch for _, y_batch in data])


first = epoch_labels(d2lite.data.batches(X, y, 10, seed=0))
again = d2lite.data.batches(X, y, 10, seed=0)
assert torch.equal(epoch_labels(again), first), "the same seed, the same first epoch"
second = epoch_labels(again)
assert not torch.equal(second, first), "the next epoch should be shuffled anew"
seed_1 = epoch_labels(d2lite.data.batches(X, y, 10, seed=1))
assert torch.equal(second, seed_1), "pass e is shuffled with seed + e"
assert torch.equal(first.sort(dim=0).values, y.sort(dim=0).values), "each example once"

# %% [markdown]
# And it is faster. The cell times one epoch of each, taking the best of five tries so that other
# programs running on the machine disturb the comparison as little as possible. The numbers are
# for you to look at, not for the book to check: wall-clock times depend on your machine and on
# whatever else it is doing, so a lesson never asserts speed. The book measures it in
# `benchmarks/loader_speed.py`, which times the two on a full MNIST epoch and prints their
# ratio; its README records the figures.

# %%
def epoch_seconds(data, tries=5):
    """Best wall-clock time of one pass over data, in seconds."""
    times = []
    for _ in range(tries):
        began = time.perf_counter()
        for _ in data:
            pass
        times.append(time.perf_counter() - began)
    return min(times)


t_loader, t_fast = epoch_seconds(loader), epoch_seconds(fast)
print(f"one epoch: DataLoader {1000 * t_loader:.1f} ms, "
      f"d2lite.data.batches {1000 * t_fast:.1f} ms ({t_loader / t_fast:.0f}x)")

# %% [markdown]
# `fit` takes it like any other data. Trained from the same start for three epochs, the model
# again lands within 0.05 of the truth. (The batches come in a different order than the
# `DataLoader`'s, so the parameters are close to, but not the same as, those above.)

# %%
net_fast = nn.Linear(2, 1)
net_fast.load_state_dict(init)
train_data = d2lite.data.batches(X, y, batch_size=10, seed=0, device=device)
d2lite.fit(net_fast, train_data, loss_fn=nn.MSELoss(), epochs=3, device=device,
           optimizer=torch.optim.SGD(net_fast.parameters(), lr=0.03))
w_fast, b_fast = net_fast.weight.detach().cpu().flatten(), net_fast.bias.item()
error_fast = max((w_fast - true_w).abs().max().item(), abs(b_fast - true_b))
print(f"w = {[round(v, 4) for v in w_fast.tolist()]}, b = {b_fast:.4f}; largest error "
      f"{error_fast:.4f}")
assert error_fast < 0.05, f"an estimate is {error_fast:.3f} off (allowed: 0.05)"

# %% [markdown]
# ## Summary
#
# - A model is an `nn.Module`: layers created in `__init__`, the computation in `forward`.
#   `nn.Linear(d, 1)` holds the weight, stored as (outputs, inputs), and the bias, and computes
#   $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$ for one example per row.
# - `nn.MSELoss()` is the mean squared error; `torch.optim.SGD(model.parameters(), lr)` holds the
#   model's own parameter tensors, and `zero_grad()`, `backward()`, `step()` replace the
#   hand-written reset and update.
# - `TensorDataset` and `DataLoader` deal out shuffled minibatches; one pass is an epoch. For
#   tensors already in memory, `d2lite.data.batches` does the same by slicing.
# - With the same start, the same batch order and the same learning rate, the manual loop, the
#   concise loop and `d2lite.fit` end at the same parameters (to $10^{-6}$), all within 0.05 of
#   the true $\mathbf{w} = (2, -3.4)$, $b = 4.2$, with a loss at the noise floor $10^{-4}$.
# - `d2lite.fit` is that loop (move the batch, forward, loss, backward, step) plus bookkeeping;
#   `inspect.getsource` shows it, and tests of its behaviour (stale gradients ignored, steps
#   bounded by `grad_clip`) confirm it.
#
# ## Exercises
#
# 1. **Full batch.** Give `fit` the whole training set as one batch, `[(X, y)]`, so that every
#    epoch is a single step of gradient descent. How far from the truth are you after 3 epochs at
#    learning rate 0.03? The Hessian is about $2\mathbf{I}$: which learning rate should make one
#    step land almost on the answer? Check that with it, 3 epochs end with every estimate within
#    0.05 of the truth.

# %% tags=["hide-cell"]
def full_batch_error(lr, epochs=3):
    """Largest distance from the truth after `epochs` full-batch steps from init."""
    net = nn.Linear(2, 1)
    net.load_state_dict(init)
    d2lite.fit(net, [(X, y)], loss_fn=nn.MSELoss(), epochs=epochs, device=device,
               optimizer=torch.optim.SGD(net.parameters(), lr=lr))
    w, b = net.weight.detach().cpu().flatten(), net.bias.item()
    return max((w - true_w).abs().max().item(), abs(b - true_b))


slow, newton = full_batch_error(0.03), full_batch_error(0.5)
print(f"3 full-batch steps: lr 0.03 leaves an error {slow:.2f}, lr 0.5 {newton:.4f}")
assert slow > 1, "three small steps cannot cross a distance of about 5"
assert newton < 0.05, "with H close to 2I, lr = 1/2 lands near the answer in one step"

# %% [markdown]
# <details><summary>Answer</summary>
#
# Each step multiplies the error along an eigenvector by $1 - \eta\lambda$; with every
# $\lambda \approx 2$, $\eta = 1/2$ makes that factor almost 0, while $\eta = 0.03$ leaves
# $0.94^3 \approx 0.83$ of the error after three steps.
#
# </details>
#
# 2. **Your own linear layer.** Write a module `MyLinear(nn.Module)` that creates
#    `self.w = nn.Parameter(...)` of shape `(2, 1)` and `self.b = nn.Parameter(...)` of shape
#    `(1,)` and returns `X @ self.w + self.b`. Start it from `init` and train it with
#    `torch.optim.SGD` as in `train_concise`. Check that it has two parameters and that the
#    trained ones equal `w_manual` and `b_manual` to within $10^{-6}$.

# %% tags=["hide-cell"]
class MyLinear(nn.Module):
    """X @ w + b with w: (2, 1) and b: (1,), started from init."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(init["weight"].T.clone())  # (2, 1): init's weight.T
        self.b = nn.Parameter(init["bias"].clone())      # (1,)

    def forward(self, X):                                # X: (batch, 2)
        return X @ self.w + self.b                       # (batch, 1)


mine = MyLinear().to(device)
optimizer = torch.optim.SGD(mine.parameters(), lr=0.03)
d2lite.seed_everything(1)                             # train_manual's batch order
for _ in range(3):
    for X_batch, y_batch in loader:
        X_batch, y_batch = X_batch.to(device), y_batch.to(device)
        loss = nn.MSELoss()(mine(X_batch), y_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
gap_mine = max((mine.w.detach().flatten() - w_manual).abs().max().item(),
               (mine.b.detach() - b_manual).abs().max().item())
assert len(list(mine.parameters())) == 2, "nn.Parameter attributes are registered"
assert gap_mine < 1e-6, f"MyLinear and the manual loop differ by {gap_mine:.1e}"

# %% [markdown]
# 3. **Sum instead of mean.** Train with `nn.MSELoss(reduction="sum")`. Every gradient is now 10
#    times larger (the batch size), so which learning rate gives back the same training run?
#    Check with `d2lite.fit` that the parameters equal `w_manual` and `b_manual` to within
#    $10^{-5}$.

# %% tags=["hide-cell"]
summed = nn.Linear(2, 1)
summed.load_state_dict(init)
d2lite.seed_everything(1)
d2lite.fit(summed, loader, loss_fn=nn.MSELoss(reduction="sum"), epochs=3, device=device,
           optimizer=torch.optim.SGD(summed.parameters(), lr=0.003))
print(f"lr 0.003 on the summed loss: gap to manual {gap_to_manual(summed):.0e}")
assert gap_to_manual(summed) < 1e-5, "a 10x larger gradient needs a 10x smaller rate"

# %% [markdown]
# 4. **A shape mistake.** Pass `fit` the labels as `y[:, 0]`, shape `(1000,)`, instead of
#    `(1000, 1)`. What would `nn.MSELoss` do with a `(10, 1)` prediction and a `(10,)` target?
#    (Try `(torch.zeros(10, 1) - torch.arange(10.0)).shape`.) Read the message `fit` gives you.
# 5. **Read the rest of `fit`.** Print `inspect.getsource(d2lite.fit)` in full. Where does it call
#    `model.train()`, and where does it evaluate `val_data`? Why must the evaluation run under
#    `torch.no_grad()` and in `model.eval()` mode?
