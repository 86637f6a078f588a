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
# # Batch normalisation
#
# Print the layers of a ResNet and you will find a `BatchNorm2d` between almost every
# convolution and its ReLU (other designs place it elsewhere: this chapter's DenseNet puts it
# before each convolution, and recent networks such as ConvNeXt use layer normalisation
# instead). In this lesson you build that layer from scratch: it standardises
# every channel with the statistics of the current minibatch while training, and with running
# averages of them at test time. You check your version against `nn.BatchNorm2d` number for
# number, see where the layer goes and why the convolution before it needs no bias, and measure
# what it buys: at the learning rate used here the same CNN trains much faster with it, and
# with sigmoid activations it trains at all.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import itertools
import math
import matplotlib.pyplot as plt
from torch import nn
from torch.nn import functional as F

# %% [markdown]
# ## Standardising what the layers see
#
# Before a picture enters a network you standardise its pixels with the z-score,
# $x \mapsto (x - \mu) / \sigma$, as in [the MNIST lesson](../03_mlp/mlp_mnist.ipynb): with
# inputs of mean 0 and standard deviation 1, the first layer's outputs start at a moderate
# scale, and gradient descent takes similar steps in every direction. But a convolution's output, a
# [feature map](../../book/glossary.md#term-feature-map), is a picture too, and it is the input
# of the next layer. Nothing keeps its scale in check: as the weights of the earlier layers
# change, the distribution of what every later layer sees drifts, and each layer has to keep
# adapting to a moving target. Ioffe and Szegedy called this drift
# **[internal covariate shift](../../book/glossary.md#term-internal-covariate-shift)**
# (内部协变量偏移) ([Ioffe and Szegedy, 2015](../../book/references.md)). Their fix is to
# standardise inside the network too, layer by layer, with statistics computed on the fly:
# **[batch normalisation](../../book/glossary.md#term-batch-normalisation)** (批量规范化, BN).
# Whether the drift is what BN cures was doubted later:
# [Santurkar et al., 2018](../../book/references.md) added drift on purpose after every BN layer
# and training was not hurt, and they traced BN's help to a smoother loss surface, whose
# gradients change more predictably from step to step. The name stuck; the layer works
# whatever the explanation.
#
# For a minibatch $\mathcal{B}$ of $m$ values $x_1, \dots, x_m$ of one feature, BN computes
#
# $$
# \mu_\mathcal{B} = \frac{1}{m}\sum_{i=1}^m x_i, \qquad
# \sigma_\mathcal{B}^2 = \frac{1}{m}\sum_{i=1}^m (x_i - \mu_\mathcal{B})^2, \qquad
# \hat{x}_i = \frac{x_i - \mu_\mathcal{B}}{\sqrt{\sigma_\mathcal{B}^2 + \epsilon}}, \qquad
# y_i = \gamma\, \hat{x}_i + \beta . \tag{1}
# $$
#
# The first three steps are the z-score, with a small $\epsilon$ (PyTorch: $10^{-5}$) so that a
# feature that happens to be constant does not divide by zero. The last step gives the
# standardisation back some freedom: the **scale** $\gamma$ and the **shift** $\beta$ are
# parameters learned by gradient descent like any weight, one pair per feature. Starting from
# $\gamma = 1, \beta = 0$, the network begins standardised, and it can move away from mean 0 and
# variance 1 where that helps; with $\gamma = \sigma_\mathcal{B}$ and $\beta = \mu_\mathcal{B}$ it
# could even undo the normalisation.
#
# ## Which numbers are averaged together
#
# For a dense layer the "feature" is one output neuron. Take the notes' example: a batch of 5
# examples through a layer of 10 neurons gives a $(5, 10)$ output, and BN computes 10 means and
# 10 variances, each over the 5 examples. For a convolutional layer the output is
# $(\text{batch}, \text{channels}, h, w)$, and a channel's feature map is one feature seen at
# every position: the same kernel made all of its values. So BN averages each channel over the
# batch *and* over all positions, and there are as many means as channels, however large the
# batch or the maps ([Figure 1](#fig-batch_norm-axes)). The cell computes both sets of means
# and checks them against PyTorch's layers: after one training batch, a fresh
# `nn.BatchNorm1d` or `nn.BatchNorm2d` holds a tenth of each batch mean in its running mean
# (why a tenth comes below), so it must average over exactly these axes.

# %%
d2lite.seed_everything(0)
dense_out = torch.randn(5, 10)                     # (batch, neurons)
conv_out = torch.randn(5, 3, 7, 7)                 # (batch, channels, h, w)
dense_mean = dense_out.mean(dim=0)                 # (10,): over the batch
conv_mean = conv_out.mean(dim=(0, 2, 3))           # (3,): over batch, height and width
print("dense layer:", tuple(dense_out.shape), "->", dense_mean.numel(), "means")
print("conv layer: ", tuple(conv_out.shape), "->", conv_mean.numel(),
      "means, each over", 5 * 7 * 7, "numbers")
for layer, out, mean in [(nn.BatchNorm1d(10), dense_out, dense_mean),
                         (nn.BatchNorm2d(3), conv_out, conv_mean)]:
    layer(out)                                     # one batch in training mode
    torch.testing.assert_close(layer.running_mean, 0.1 * mean)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Which numbers BN averages together (shaded, outlined): for the dense layer's output of the cell above, one feature over the batch; for the convolution's output, drawn as a block of batch x channels x positions, one channel over the batch and all positions.", "name": "fig-batch_norm-axes"}}
d2lite.diagrams.batch_norm_axes(dense_out.shape, conv_out.shape)

# %% [markdown]
# ## Training mode and evaluation mode
#
# Batch statistics raise a question: what happens at test time, when you classify a single
# picture? One example has no spread to divide by, and a prediction should not change with
# whatever other pictures happen to share its batch. So BN keeps a second pair of statistics,
# the **running mean** and **running variance** of each feature, and uses them in evaluation
# mode. They are updated after every training batch with the
# [exponentially weighted moving average](../../book/glossary.md#term-exponentially-weighted-moving-average)
# of [the optimisers lesson](../02_linear/optimizers.ipynb):
#
# $$
# \bar{\mu} \leftarrow \rho\, \bar{\mu} + (1 - \rho)\, \mu_\mathcal{B}, \qquad
# \bar{\sigma}^2 \leftarrow \rho\, \bar{\sigma}^2 + (1 - \rho)\, \tfrac{n}{n-1}\,
# \sigma_\mathcal{B}^2 . \tag{2}
# $$
#
# The decay $\rho$ is the EWMA's $\beta$ of that lesson, renamed here so it is not confused
# with BN's shift $\beta$. PyTorch calls $1 - \rho$ the `momentum` of the layer (default 0.1,
# so $\rho = 0.9$: an average over roughly the last 10 batches). Two more details of PyTorch's
# convention: the running averages start at $\bar{\mu} = 0$, $\bar{\sigma}^2 = 1$ with no bias
# correction, and the running variance stores the unbiased estimate, the batch variance times
# $n / (n - 1)$, where $n$ is the number of values averaged per feature. This is why you switch
# a network with `net.train()` and `net.eval()`: the mode tells every BN layer which pair of
# statistics to use.
#
# Here is equation (1) with equation (2) in one function, for dense outputs (2-D) and feature
# maps (4-D) alike.

# %%
def batch_norm(X, gamma, beta, running_mean, running_var, training,
               decay=0.9, eps=1e-5):
    """Batch normalization of X: (batch, features) or (batch, channels, h, w).

    Training mode: the batch's statistics, and an in-place update of the running ones
    (EWMA with `decay` = 1 - PyTorch's momentum). Evaluation mode: the running ones.
    """
    dims = (0,) if X.dim() == 2 else (0, 2, 3)     # all axes but the feature axis
    shape = (1, -1) if X.dim() == 2 else (1, -1, 1, 1)      # to broadcast per feature
    if training:
        mean = X.mean(dim=dims)                                 # (features,)
        var = X.var(dim=dims, correction=0)                     # (features,), biased
        n = X.numel() // X.shape[1]                             # values per feature
        with torch.no_grad():
            running_mean.mul_(decay).add_((1 - decay) * mean)
            running_var.mul_(decay).add_((1 - decay) * var * n / (n - 1))
    else:
        mean, var = running_mean, running_var
    X_hat = (X - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * X_hat + beta.reshape(shape)


# %% [markdown]
# A layer wraps the function: it owns $\gamma$ and $\beta$ as parameters and the running
# statistics as **buffers**, tensors that belong to the module's state (they are saved in its
# `state_dict` and move with `.to(device)`) but receive no gradient. The names `weight` and
# `bias` for $\gamma$ and $\beta$ are PyTorch's.

# %%
class BatchNorm(nn.Module):
    """Batch normalization; X: (batch, features) or (batch, channels, h, w)."""

    def __init__(self, num_features, decay=0.9, eps=1e-5):
        super().__init__()
        self.decay, self.eps = decay, eps
        self.weight = nn.Parameter(torch.ones(num_features))        # gamma
        self.bias = nn.Parameter(torch.zeros(num_features))         # beta
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, X):
        return batch_norm(X, self.weight, self.bias, self.running_mean,
                          self.running_var, self.training, self.decay, self.eps)


# %% [markdown]
# In training mode, with $\gamma = 1$ and $\beta = 0$, every channel of the output should have
# mean 0 and standard deviation 1 over the batch, whatever the input's scale. The input here
# has per-channel means of about 3, -1 and 10 and very different spreads.

# %%
def per_channel(T):
    """Each channel's mean and standard deviation as short strings."""
    means, stds = T.mean(dim=(0, 2, 3)), T.std(dim=(0, 2, 3), correction=0)
    return ([f"{round(m.item(), 2) + 0.0:.2f}" for m in means],   # + 0.0: -0.0 -> 0.0
            [f"{s:.2f}" for s in stds])


d2lite.seed_everything(0)
bn = BatchNorm(3)
X = torch.randn(16, 3, 8, 8) * torch.tensor([1.0, 5.0, 0.1]).reshape(1, 3, 1, 1) \
    + torch.tensor([3.0, -1.0, 10.0]).reshape(1, 3, 1, 1)     # (16, 3, 8, 8)
Y = bn(X)

# %%
print("input:  means {}, stds {}".format(*per_channel(X)))
print("output: means {}, stds {}".format(*per_channel(Y)))
assert Y.mean(dim=(0, 2, 3)).abs().max() < 1e-5, "each channel should have mean 0"
assert (Y.std(dim=(0, 2, 3), correction=0) - 1).abs().max() < 1e-3, "and std 1"

# %% [markdown]
# ## Checking against `nn.BatchNorm2d`
#
# Now the real test: does the scratch layer compute exactly what PyTorch's does? Both get the
# same random $\gamma$ and $\beta$, then see five training batches whose statistics change from
# batch to batch. After every batch the outputs must agree, and so must the gradients of a loss
# with respect to the input, $\gamma$ and $\beta$. Note the argument: your `decay=0.9` is
# PyTorch's `momentum=0.1`.

# %%
d2lite.seed_everything(0)
ours, theirs = BatchNorm(4, decay=0.9), nn.BatchNorm2d(4, momentum=0.1)
with torch.no_grad():
    for p in (ours.weight, ours.bias):
        p.copy_(torch.randn(4))
theirs.load_state_dict(ours.state_dict(), strict=False)   # theirs also counts batches

# %% [markdown]
# Which loss? Not the plain sum of the outputs: a channel's outputs always add up to $\beta$
# times their number, whatever the input (the $\hat{x}_i$ have mean 0), so the gradient of that
# sum with respect to the input is zero for both layers, and two zeros agreeing would prove
# little. The sum of the *cubed* outputs has a gradient that depends on every step of
# equation (1).

# %%
batch_means = []
for step in range(5):
    X = (torch.randn(8, 4, 6, 6) * (step + 1) + step).requires_grad_()  # (8, 4, 6, 6)
    Y_ours, Y_theirs = ours(X), theirs(X)
    torch.testing.assert_close(Y_ours, Y_theirs)
    grads_ours = torch.autograd.grad((Y_ours ** 3).sum(), [X, *ours.parameters()])
    grads_theirs = torch.autograd.grad((Y_theirs ** 3).sum(), [X, *theirs.parameters()])
    for g_ours, g_theirs in zip(grads_ours, grads_theirs, strict=True):
        # float32 sums in another order (other CPUs, a GPU) differ in the last digits
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-4, atol=1e-4)
    batch_means.append(X.detach().mean(dim=(0, 2, 3)))
torch.testing.assert_close(ours.running_mean, theirs.running_mean)
torch.testing.assert_close(ours.running_var, theirs.running_var)
print("training mode: outputs, gradients and running statistics agree after 5 batches")

# %% [markdown]
# PyTorch's running mean is indeed the plain EWMA of the five batch means, started at 0 with
# $\rho = 1 - \text{momentum} = 0.9$ and no bias correction. The cell recomputes it from the
# stored batch means, without looking at either layer's code.

# %%
ewma = torch.zeros(4)
for mean in batch_means:
    ewma = 0.9 * ewma + 0.1 * mean
print("EWMA of batch means:", [f"{v:.4f}" for v in ewma])
print("theirs.running_mean:", [f"{v:.4f}" for v in theirs.running_mean])
torch.testing.assert_close(theirs.running_mean, ewma)

# %% [markdown]
# In evaluation mode both layers switch to the running statistics. The outputs agree again, and
# a picture now gets the same output alone as inside a batch. In training mode it does not:
# there, its output depends on the other examples of the batch.

# %%
X = torch.randn(8, 4, 6, 6) * 3 + 2                    # (8, 4, 6, 6)
ours.eval()
theirs.eval()
with torch.no_grad():
    torch.testing.assert_close(ours(X), theirs(X))
    alone_eval = (ours(X[:1]) - ours(X)[:1]).abs().max().item()
    ours.train()
    alone_train = (ours(X[:1]) - ours(X)[:1]).abs().max().item()
print(f"one picture alone vs in its batch: eval mode differs by {alone_eval:.1e}, "
      f"training mode by {alone_train:.2f}")
assert alone_eval < 1e-6 < 0.1 < alone_train

# %% [markdown]
# How quickly do the running statistics settle? Feed a fresh `nn.BatchNorm2d` 60 batches of 32
# random pictures from one fixed distribution, with mean 2 in every channel, and follow one
# channel. The batch means scatter around 2; the running mean starts at 0 and climbs towards 2
# along the EWMA's curve, $2\,(1 - 0.9^t)$ after $t$ batches, give or take the noise it
# averages.

# %%
d2lite.seed_everything(1)
layer = nn.BatchNorm2d(1)
batch_mean_curve, running_curve = [], []
for _ in range(60):
    X = torch.randn(32, 1, 4, 4) * 1.5 + 2                     # (32, 1, 4, 4)
    layer(X)
    batch_mean_curve.append(X.mean().item())
    running_curve.append(layer.running_mean.item())
after_30 = running_curve[29]
print(f"running mean after 30 batches {after_30:.3f}, noiseless EWMA "
      f"{2 * (1 - 0.9 ** 30):.3f}")
assert abs(after_30 - 2 * (1 - 0.9 ** 30)) < 0.1 and abs(running_curve[0] - 0.2) < 0.05

# %% mystnb={"figure": {"caption": "The mean of one channel in each of 60 training batches (dots) and the running mean of nn.BatchNorm2d (line), which starts at 0 and approaches the true mean 2 as an EWMA with decay 0.9.", "name": "fig-batch_norm-running"}}
fig, ax = plt.subplots(figsize=(5.5, 3))
steps = range(1, 61)
ax.plot(steps, batch_mean_curve, ".", color="gray", label="batch mean")
ax.plot(steps, running_curve, "-", label="running mean (EWMA)")
ax.axhline(2, color="black", lw=0.8, ls=":", label="true mean")
ax.set(xlabel="training batch", ylabel="mean of the channel")
ax.legend();

# %% [markdown]
# [Figure 2](#fig-batch_norm-running) shows the two kinds of statistics: each batch's own mean,
# noisy, used in training; and their running average, smooth, used in evaluation.
#
# ## Where BN goes, and why the layer before needs no bias
#
# BN standardises a layer's pre-activations, so it sits right after the convolution or the
# linear layer and before the activation: `conv → BN → ReLU` and `linear → BN → ReLU`. The
# convolutional net of [the MNIST CNN lesson](cnn_mnist.ipynb), `d2lite.models.LeNet`, takes
# `batch_norm=True` to put it there; its first layers show the order
# ([Figure 3](#fig-batch_norm-position)). This is the original paper's placement, not the only
# one: the notes describe the common practice of their day as BN *after* the ReLU, and
# pre-activation networks (this chapter's DenseNet) put BN and ReLU before each convolution.
# All three are in use; this lesson keeps the paper's.

# %%
net = d2lite.models.LeNet(batch_norm=True)
print(net.features[:4])
assert [type(m) for m in net.features[:3]] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Batch normalisation in LeNet(batch_norm=True), input at the bottom: after the first convolution and after the first dense layer, before their ReLU, with the shapes from a forward pass. Red: what each BN layer averages over.", "name": "fig-batch_norm-position"}}
d2lite.diagrams.batch_norm_position(net, (1, 1, 28, 28))

# %% [markdown]
# Placed there, BN makes the bias of the layer before it useless. Adding a constant $b$ to
# every value of a channel raises its batch mean by exactly $b$, and subtracting the mean
# removes it again: BN's own $\beta$ does the job of the bias. That is why you will see
# `nn.Conv2d(..., bias=False)` before a `BatchNorm2d` in the residual networks of the next
# lesson. The cell checks it: in training mode, a convolution with a random bias and the same
# convolution without one give the same output after BN.

# %%
d2lite.seed_everything(0)
conv = nn.Conv2d(3, 5, kernel_size=3)
conv_no_bias = nn.Conv2d(3, 5, kernel_size=3, bias=False)
with torch.no_grad():
    conv_no_bias.weight.copy_(conv.weight)
    conv.bias.normal_(0, 10)                           # a large bias, to make the point
bn_train = nn.BatchNorm2d(5)
X = torch.randn(8, 3, 10, 10)
gap = (bn_train(conv(X)) - bn_train(conv_no_bias(X))).abs().max().item()
print(f"largest difference with and without the bias: {gap:.1e}")
assert gap < 1e-4, "BN should cancel the bias"

# %% [markdown]
# ## Training with and without BN
#
# What does BN buy? The notes' answer: it does not let a network learn anything it could not
# learn without it, but it smooths the loss landscape so that gradient descent gets there much
# faster, and it makes choices workable that normally fail: plain SGD with a large learning
# rate, and even sigmoid activations. Let's measure it on Fashion-MNIST, with 10 % of the
# training images held out as a validation split, on which the losses below are measured.

# %%
device = d2lite.try_gpu()
(X_all, y_all), _ = d2lite.data.load_fashion_mnist(verbose=False)
(X_train, y_train), (X_val, y_val) = d2lite.data.train_val_split(X_all, y_all, 0.1,
                                                                  seed=0)
val_data = d2lite.data.batches(X_val, y_val, 1000, shuffle=False, device=device)
print("train:", tuple(X_train.shape), "validation:", tuple(X_val.shape))
assert len(X_train) == 54_000 and len(X_val) == 6_000

# %% [markdown]
# The experiment trains the same LeNet twice from the same seed, once without BN and once with
# it, for a fixed budget of 200 steps of 128 images (less than one epoch), with plain SGD. It
# records the loss of every step and, at the end, the loss on the validation split in evaluation
# mode, which for BN means with its running statistics. First the network: `make_lenet`
# swaps every ReLU of `d2lite.models.LeNet` for another activation if asked.

# %%
def make_lenet(batch_norm, activation=nn.ReLU):
    """d2lite's LeNet, with or without BN, with `activation` in place of every ReLU."""
    net = d2lite.models.LeNet(batch_norm=batch_norm)
    for block in (net.features, net.head):
        for i, layer in enumerate(block):
            if isinstance(layer, nn.ReLU):
                block[i] = activation()
    return net.to(device)


# %% [markdown]
# Then the training: a plain loop over the first 200 batches of a shuffled epoch, with SGD
# unless another optimiser is named.

# %%
def train_steps(batch_norm, lr, activation=nn.ReLU, steps=200, seed=0,
                optimizer_class=torch.optim.SGD):
    """Train make_lenet(...) for `steps` batches; return step and validation losses."""
    d2lite.seed_everything(seed)
    net = make_lenet(batch_norm, activation).train()
    optimizer = optimizer_class(net.parameters(), lr=lr)
    train_data = d2lite.data.batches(X_train, y_train, 128, seed=seed, device=device)
    losses = []
    for X, y in itertools.islice(train_data, steps):        # one pass is enough
        loss = F.cross_entropy(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    val_loss = d2lite.evaluate(net, val_data, loss_fn=F.cross_entropy)["loss"]
    return losses, val_loss


# %% [markdown]
# First with ReLU and SGD at learning rate 0.1. The cell prints the validation loss of both
# runs.

# %%
relu_plain, relu_plain_val = train_steps(batch_norm=False, lr=0.1)
relu_bn, relu_bn_val = train_steps(batch_norm=True, lr=0.1)
print(f"ReLU, SGD 0.1, 200 steps: validation loss {relu_plain_val:.3f} without BN, "
      f"{relu_bn_val:.3f} with BN")

# %% [markdown]
# Then the choice the notes call hopeless without BN: sigmoid activations, whose gradients
# shrink by a factor of at least 4 in every layer ([activations](../03_mlp/activations.ipynb)),
# with SGD at the large learning rate 0.9.

# %%
sig_plain, sig_plain_val = train_steps(batch_norm=False, lr=0.9, activation=nn.Sigmoid)
sig_bn, sig_bn_val = train_steps(batch_norm=True, lr=0.9, activation=nn.Sigmoid)
print(f"sigmoid, SGD 0.9, 200 steps: validation loss {sig_plain_val:.3f} without BN, "
      f"{sig_bn_val:.3f} with BN (guessing: ln 10 = {math.log(10):.3f})")

# %% [markdown]
# [Figure 4](#fig-batch_norm-training) shows the training losses, each averaged over the last
# 20 steps to calm the noise of single batches.

# %% mystnb={"figure": {"caption": "Training loss of the same LeNet without and with batch normalisation over 200 SGD steps on Fashion-MNIST (a moving average over 20 steps): with ReLU and learning rate 0.1 (left), with sigmoid and learning rate 0.9 (right).", "name": "fig-batch_norm-training"}}
def smooth(losses, k=20):
    return [sum(losses[max(0, i - k + 1):i + 1]) / len(losses[max(0, i - k + 1):i + 1])
            for i in range(len(losses))]


fig, axes = plt.subplots(1, 2, figsize=(6.5, 3), sharey=True)
for ax, (plain, with_bn), title in zip(
        axes, [(relu_plain, relu_bn), (sig_plain, sig_bn)],
        ["ReLU, SGD 0.1", "sigmoid, SGD 0.9"], strict=True):
    d2lite.plot(None, [smooth(plain), smooth(with_bn)], "step", "training loss",
                legend=["without BN", "with BN"], title=title, ax=ax)
fig.tight_layout()

# %% [markdown]
# With ReLU, both networks learn, but the one with BN gets much further in the same 200 steps.
# With sigmoid, the network without BN does not learn at all: its loss stays at
# $\ln 10 \approx 2.30$, the loss of a uniform guess over ten classes, while with BN it learns,
# and ends between the two ReLU networks: below the ReLU network without BN, above the one with
# it. The checks state this with margins inside what the book's sweep records for this code
# (seed 0, two other training seeds and other CPU kernels; `notebooks/sweep.csv` holds the
# values):
#
# - with ReLU, BN lowers the validation loss by at least 0.2;
# - with sigmoid, the network without BN stays within 0.05 of $\ln 10$;
# - with sigmoid and BN, the validation loss is below that of ReLU without BN and above that of
#   ReLU with BN. The second of these is the closest call: over the sweep the sigmoid network
#   with BN always ended above the ReLU network with BN, in one run only narrowly.

# %%
print(f"ReLU: BN lowers the validation loss by {relu_plain_val - relu_bn_val:.3f}")
assert relu_plain_val - relu_bn_val >= 0.2, f"{relu_plain_val:.3f} vs {relu_bn_val:.3f}"
assert abs(sig_plain_val - math.log(10)) < 0.05, f"without BN: {sig_plain_val:.3f}"
assert relu_bn_val < sig_bn_val < relu_plain_val, (relu_bn_val, sig_bn_val,
                                                   relu_plain_val)
for name, value in [("relu_plain_val", relu_plain_val), ("relu_bn_val", relu_bn_val),
                    ("sigmoid_plain_val", sig_plain_val),
                    ("sigmoid_bn_val", sig_bn_val)]:
    d2lite.record(name, value)

# %% [markdown]
# Vanishing gradients are not ReLU's only advantage over the sigmoid. The notes list two more:
# it is cheaper (a comparison, no exponential), and it outputs exact zeros for every negative
# input, so each example switches on only part of the network. They read that sparsity as a
# brake on overfitting. They also mention ReLU's variants, such as the leaky ReLU of
# [activations](../03_mlp/activations.ipynb) and the PReLU, a leaky ReLU whose slope for
# negative inputs is learned (`nn.PReLU`), which on some data sets train faster or end a little
# better.

# %% [markdown]
# A word of caution: these runs measure speed at one learning rate and one budget, and there BN
# wins clearly. They do not measure where each network would end with more time and its own
# best optimiser (exercise 3 tries Adam).
#
# The notes add a second effect, which the runs above do not measure: BN as a
# regulariser. In training mode an example is standardised with the statistics of the
# random minibatch it happens to be in, so its output changes from batch to batch (the
# evaluation-mode check above measured it: the same picture alone and in its batch differed
# by far more than rounding). That is noise injected into every layer, like a mild dropout
# ([regularisation](../03_mlp/regularization.ipynb)), and it is one reason networks with BN
# often need less dropout.
#
# ## Summary
#
# - Batch normalisation standardises each feature (each channel, for feature maps) with the
#   mean and variance of the current minibatch, then scales by a learned $\gamma$ and shifts by a
#   learned $\beta$, equation (1).
# - For a dense layer it averages over the batch; for a convolutional layer over the batch and
#   all positions, one mean and variance per channel.
# - In training mode it uses batch statistics and updates running ones, an EWMA with decay
#   $\rho$; PyTorch's `momentum` is $1 - \rho$ (default 0.1), starts at mean 0 and variance 1, and
#   stores the unbiased variance. In evaluation mode it uses the running statistics, so a
#   prediction does not depend on the rest of the batch. Always call `net.train()` and
#   `net.eval()`.
# - It goes after the convolution or linear layer and before the activation; the layer before it
#   needs no bias.
# - Trained for 200 steps with SGD, the same LeNet reaches a lower validation loss with BN; with
#   sigmoid activations it learns with BN and not at all without.
#
# ## Exercises
#
# 1. **BN for a dense layer.** Check that your `BatchNorm` on 2-D input `(batch, features)`
#    computes what `nn.BatchNorm1d` does, in training and in evaluation mode.

# %% tags=["hide-cell"]
d2lite.seed_everything(0)
ours1d, theirs1d = BatchNorm(6), nn.BatchNorm1d(6)
for step in range(3):
    X = torch.randn(10, 6) * (step + 2) - step               # (10, 6)
    torch.testing.assert_close(ours1d(X), theirs1d(X))
ours1d.eval()
theirs1d.eval()
torch.testing.assert_close(ours1d(X), theirs1d(X))
gap = (ours1d.running_var - theirs1d.running_var).abs().max().item()
print("BatchNorm on (batch, features) agrees with nn.BatchNorm1d in both modes")
assert gap < 1e-6, f"running variances differ by {gap}"

# %% [markdown]
# 2. **A batch of one.** In training mode, what does BN output for a dense layer when the batch
#    holds a single example? What does `nn.BatchNorm1d` do with such a batch, and why is that the
#    kinder behaviour?

# %% tags=["hide-cell"]
single = torch.randn(1, 6)
with torch.no_grad():
    ours1d.train()
    ours1d.bias.copy_(torch.arange(6.0))
    out = ours1d(single)
print("scratch BN on one example:", [f"{v:.3f}" for v in out[0]])
assert torch.allclose(out, ours1d.bias.detach()), "x - mean is 0: only beta is left"
try:
    nn.BatchNorm1d(6).train()(single)
    raised = False
except ValueError as error:
    raised = "more than 1 value per channel" in str(error)
assert raised, "PyTorch refuses a batch of one in training mode"

# %% [markdown]
# <details><summary>Answer</summary>
#
# Every value equals its own batch mean, so $\hat{x} = 0$ and the output is just $\beta$,
# whatever the input: the layer erases it, and the variance has one value to estimate from
# (its running update would even divide by $n - 1 = 0$). PyTorch raises an error instead of
# silently returning $\beta$.
#
# </details>
#
# 3. **BN and Adam.** Train the ReLU networks again with Adam at learning rate 0.001
#    (`train_steps(..., lr=1e-3, optimizer_class=torch.optim.Adam)`) and compare the
#    validation losses after 200 steps with and without BN. Does BN still help, and by as much
#    as with SGD? Why might an adaptive optimiser, which scales each weight's step by the size
#    of its recent gradients, depend less on BN?

# %% tags=["hide-cell"]
adam = {bn: train_steps(batch_norm=bn, lr=1e-3, optimizer_class=torch.optim.Adam)[1]
        for bn in (False, True)}
gaps = {"SGD 0.1": relu_plain_val - relu_bn_val, "Adam 0.001": adam[False] - adam[True]}
print("Adam, 200 steps, validation loss:",
      {f"BN {bn}": round(v, 3) for bn, v in adam.items()})
print("BN's gain:", {name: round(g, 3) for name, g in gaps.items()})
d2lite.record("adam_bn_gap", gaps["Adam 0.001"])
# BN still helps with Adam, but less: Adam divides each weight's step by the size of its
# recent gradients, which already evens out the badly scaled directions BN would fix.
assert 0.05 < gaps["Adam 0.001"] < gaps["SGD 0.1"], gaps

# %% [markdown]
# 4. **Folding BN into the convolution.** In evaluation mode BN is a fixed affine map per channel,
#    so it can be merged into the convolution before it, which is what inference libraries do.
#    Write the new weight and bias of a convolution that computes `bn(conv(X))` for a `bn` in
#    evaluation mode, and check the outputs agree.

# %% tags=["hide-cell"]
d2lite.seed_everything(0)
conv, bn = nn.Conv2d(3, 5, kernel_size=3), nn.BatchNorm2d(5)
with torch.no_grad():
    for tensor in (bn.running_mean, bn.weight, bn.bias):
        tensor.normal_()
    bn.running_var.uniform_(0.5, 2.0)
bn.eval()
scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)             # (5,)
folded = nn.Conv2d(3, 5, kernel_size=3)
with torch.no_grad():
    folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))   # (5, 3, 3, 3)
    folded.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
    X = torch.randn(2, 3, 9, 9)
    gap = (folded(X) - bn(conv(X))).abs().max().item()
print(f"folded conv vs conv + BN (evaluation mode): largest difference {gap:.1e}")
assert gap < 1e-5, "the folded convolution should compute conv followed by BN"
