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
# # Residual networks
#
# A deeper network contains every shallower one, so it should never train worse. Yet it does. In
# this lesson you measure that puzzle on a small scale, see one reason for it (a stack of ReLU
# layers has a hard time passing its input through unchanged), and build the fix that made
# networks of a hundred layers trainable: the residual block, which adds its input back to its
# output. You finish with a small ResNet that classifies Fashion-MNIST above 89 % on the test set,
# trained in two epochs.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import itertools
import time
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from torch import nn
from torch.nn import functional as F

# %% [markdown]
# ## The data
#
# Fashion-MNIST, standardised with the training images' mean and standard deviation, with 10 %
# of the training images held out as a validation split for every choice; the test images are
# used once, at the end.

# %%
device = d2lite.try_gpu()
(X_all, y_all), (X_test, y_test) = d2lite.data.load_fashion_mnist(verbose=False)
mean, std = X_all.mean(), X_all.std()
X_all, X_test = (X_all - mean) / std, (X_test - mean) / std
split = d2lite.data.train_val_split(X_all, y_all, val_fraction=0.1, seed=0)
(X_train, y_train), (X_val, y_val) = split
val_data = d2lite.data.batches(X_val, y_val, 1000, shuffle=False, device=device)
print("train", tuple(X_train.shape), "| validation", tuple(X_val.shape))
assert len(X_train) == 54_000 and len(X_val) == 6_000

# %% [markdown]
# ## Deeper is not always better
#
# For years the rule of thumb was: as long as it does not overfit, a deeper network does better.
# [He et al., 2016](../../book/references.md) found that it stops being true. On CIFAR-10, their
# plain network of 56 layers had a higher error than one of 20 layers, on the test set *and on
# the training set*. A higher training error cannot be overfitting. Nor is it a lack of
# capacity: the 56-layer network could copy the 20-layer one and make its 36 extra layers pass
# their input through unchanged. Training just does not find that solution. This is called
# **[degradation](../../book/glossary.md#term-degradation)** (退化).
#
# You can see it in a few seconds. To keep it cheap, the images are shrunk to 7 × 7 by averaging
# 4 × 4 blocks of pixels, and the networks are narrow: 8 channels. Every network starts with a
# 3 × 3 convolution from 1 to 8 channels, then stacks pairs of 3 × 3 convolutions (padding 1, so
# the maps stay 7 × 7), each followed by a ReLU, and ends with a global average and a linear
# layer. There is no batch normalization, as in the plain nets of the notes. With `skip=True`,
# every pair adds its input back before its second ReLU, the change this lesson is about.

# %%
class PairNet(nn.Module):
    """A stem conv, `pairs` pairs of 3x3 convs (skips optional), average, linear."""

    def __init__(self, pairs, width=8, skip=False):
        super().__init__()
        self.stem = nn.Conv2d(1, width, kernel_size=3, padding=1)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, kernel_size=3, padding=1)
                                   for _ in range(2 * pairs))
        self.skip = skip
        self.head = nn.Linear(width, 10)

    def forward(self, X):
        X = F.relu(self.stem(X))                             # (batch, width, 7, 7)
        for i in range(0, len(self.convs), 2):
            Y = self.convs[i + 1](F.relu(self.convs[i](X)))
            X = F.relu(Y + X) if self.skip else F.relu(Y)
        return self.head(X.mean(dim=(2, 3)))                 # (batch, 10)


# %% [markdown]
# Each network trains for 100 steps of 64 images with Adam at learning rate 0.001, from the same
# seed and on the same batches. Since the question is how well a network *trains*, the measure
# is the training loss: the mean over the last 30 steps, which smooths the noise of single
# batches. The layers are so small that a second CPU thread only adds waiting, so the function
# runs on one thread and gives the setting back afterwards.

# %%
X_small = F.avg_pool2d(X_train, 4)                            # (54000, 1, 7, 7)


def train_steps(net, steps=100, seed=0):
    """Adam, lr 0.001, batches of 64; return the training loss of every step."""
    net.to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    data = d2lite.data.batches(X_small, y_train, 64, seed=seed, device=device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                  # tiny layers: a second thread only waits
    losses = []
    for X, y in itertools.islice(data, steps):
        loss = F.cross_entropy(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    torch.set_num_threads(threads)
    return losses


# %% [markdown]
# Two networks of 13 convolutional layers (the stem and 6 pairs): a plain one, and the same one
# with skips.

# %%
curves = {}
for name, skip in [("plain, 13 layers", False), ("skips, 13 layers", True)]:
    d2lite.seed_everything(0)
    curves[name] = train_steps(PairNet(pairs=6, skip=skip))
final = {name: sum(c[-30:]) / 30 for name, c in curves.items()}
for name, loss in final.items():
    print(f"{name:17s} mean training loss of the last 30 steps: {loss:.3f}")

# %% [markdown]
# [Figure 1](#fig-resnet-degradation) shows the two training curves.

# %% mystnb={"figure": {"caption": "Training loss on Fashion-MNIST shrunk to 7 x 7 (a moving average over 20 steps): a plain network of 13 convolutional layers, and the same network with skip connections.", "name": "fig-resnet-degradation"}}
def smooth(losses, k=20):
    return [sum(losses[max(0, i - k + 1):i + 1]) / len(losses[max(0, i - k + 1):i + 1])
            for i in range(len(losses))]


ax = d2lite.plot(None, [smooth(c) for c in curves.values()], "step", "training loss",
                 legend=list(curves), figsize=(5, 3))
plt.show()

# %% [markdown]
# The plain network hardly gets away from $\ln 10 \approx 2.30$, the loss of guessing among
# ten classes. The same 13 layers with skips learn, on the same batches. (At this tiny width a
# 3-layer plain network is slow too, and ends near the 13-layer one in 100 steps; the paper's
# 20- versus 56-layer comparison needs far more training than a lesson can afford.) The check
# states the gap with a margin below what the book's sweep measured, where the plain network's
# loss ended between 2.133 and 2.303 and the loss with skips between 1.443 and 1.774: the plain
# network ends at least 0.3 above the same network with skips.

# %%
gap = final["plain, 13 layers"] - final["skips, 13 layers"]
print(f"deep plain minus deep with skips: {gap:.3f}")
assert gap >= 0.3, f"plain {final['plain, 13 layers']:.3f}, with skips {gap:.3f} lower"
d2lite.record("plain_13_loss", final["plain, 13 layers"])
d2lite.record("skips_13_loss", final["skips, 13 layers"])

# %% [markdown]
# ## Why the identity is hard: ReLU throws information away
#
# Why can't 10 extra plain layers just learn to do nothing? The notes point to the activation
# function, with a picture from the MobileNetV2 paper
# ([Sandler et al., 2018](../../book/references.md)). Take a 2-D spiral, map it into $n$
# dimensions with a random $2 \times n$ matrix $T$, apply ReLU, and try to map it back to 2-D with
# the best linear map there is: the least-squares solution $W$ of
# $\mathrm{ReLU}(XT)\,W \approx X$. Without the ReLU, $W$ would simply undo $T$. With it, every
# point loses the coordinates that were negative, and for small $n$ there is no way back.
#
# (Why not simply use the pseudo-inverse of $T$? ReLU keeps about half of every coordinate's
# values, so the pseudo-inverse brings back a spiral of roughly half the size, and distorted.
# The least-squares map is the fairest test: no linear map does better.)

# %%
t = torch.linspace(0, 4 * torch.pi, 500)
spiral = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / (4 * torch.pi)


def reconstruct(X, n, activation, seed=0):
    """X -> activation(X T) -> best linear map back; return it and its error."""
    T = torch.randn(2, n, generator=torch.Generator().manual_seed(seed))
    H = activation(X @ T)                                  # (points, n)
    W = torch.linalg.lstsq(H, X).solution                  # (n, 2)
    X_hat = H @ W
    return X_hat, ((X_hat - X) ** 2).sum() / (X ** 2).sum()


dims = [2, 3, 5, 15, 30]
with_relu = {n: reconstruct(spiral, n, torch.relu) for n in dims}
without = {n: reconstruct(spiral, n, lambda H: H)[1].item() for n in dims}
for n in dims:
    print(f"n = {n:2d}: relative error with ReLU {with_relu[n][1]:.4f}, "
          f"without {without[n]:.1e}")

# %% [markdown]
# [Figure 2](#fig-resnet-spirals) shows the spirals that come back. With 2 or 3 dimensions,
# whole arms of the spiral collapse onto lines; with 15 or 30 the spiral survives, because among
# many random directions enough stay positive for every point.

# %% mystnb={"figure": {"caption": "A spiral mapped into n dimensions by a random matrix, through ReLU, and back to 2-D by the best linear map, for n = 2, 3, 5, 15 and 30 (grey: the original).", "name": "fig-resnet-spirals"}}
fig, axes = plt.subplots(1, len(dims), figsize=(6.5, 1.7))
for ax, n in zip(axes, dims, strict=True):
    ax.plot(spiral[:, 0], spiral[:, 1], color="0.8", lw=1)
    ax.plot(with_relu[n][0][:, 0], with_relu[n][0][:, 1], lw=1)
    ax.set_title(f"n = {n}", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([]), ax.set_aspect("equal")
plt.show()

# %% [markdown]
# The checks: through ReLU with $n = 2$ more than 20 % of the spiral's squared size is lost, a
# million times more than without ReLU, where the error is rounding; the loss shrinks as $n$
# grows, and with 30 dimensions less than 1 % is lost.

# %%
errors = [with_relu[n][1].item() for n in dims]
assert errors[0] > 0.2 and errors[0] > 1e6 * max(without.values()), (errors, without)
assert all(a >= b for a, b in itertools.pairwise(errors)), f"errors {errors}"
assert errors[-1] < 0.01, f"n = 30 loses {errors[-1]:.4f}"

# %% [markdown]
# A layer of a network is a random-looking matrix followed by a ReLU, and many layers are
# narrow compared with what they carry. To pass its input through, a plain layer must learn
# weights that route every value around the ReLU's cut. That is possible, but gradient descent
# has no reason to find it.
#
# ## The residual block
#
# He et al.'s fix is to stop asking layers for the identity. A **[residual
# block](../../book/glossary.md#term-residual-block)** (残差块) computes some function $g(x)$
# with its layers and outputs
#
# $$
# f(x) = x + g(x). \tag{1}
# $$
#
# The layers learn only the difference $g(x) = f(x) - x$ between the output and the input, the
# *residual*. If the block has nothing useful to add, $g$ only has to go to zero, which is easy:
# shrink the weights. The identity, which the plain layers could not find, is now the default.
# The added path from input to output is called a **[skip
# connection](../../book/glossary.md#term-skip-connection)** (跳跃连接) or shortcut; it also
# hands the gradient of the loss straight to earlier layers, since $\partial f / \partial x = I +
# \partial g / \partial x$.
#
# ResNet's basic block has two 3 × 3 convolutions with batch normalization
# ([the last lesson](batch_norm.ipynb)): convolution, BN, ReLU, convolution, BN, then the input
# is added, then a last ReLU. The convolutions need no bias, since BN's shift does that job. The
# addition needs the input and $g(x)$ to have the same shape. When the block changes the number
# of channels or halves the size (stride 2), the shortcut gets a 1 × 1 convolution with the same
# stride, which reshapes the input.

# %%
class Residual(nn.Module):
    """Two 3x3 conv + BN layers; the input (or a 1x1 conv of it) is added, then ReLU."""

    def __init__(self, in_channels, out_channels, stride=1, use_1x1conv=False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1,
                               stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = (nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)
                      if use_1x1conv else None)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))                   # g(x), first half
        Y = self.bn2(self.conv2(Y))                           # g(x)
        shortcut = X if self.conv3 is None else self.conv3(X)
        return F.relu(Y + shortcut)                     # f(x) = x + g(x), then ReLU


# %% [markdown]
# Both kinds of block on a batch of 16-channel 14 × 14 maps: without the 1 × 1 convolution the
# shape is kept; with it, and stride 2, the block doubles the channels and halves the size.

# %% tags=["nbval-check-output"]
X = torch.randn(4, 16, 14, 14)
same = Residual(16, 16)
down = Residual(16, 32, stride=2, use_1x1conv=True)
print("identity shortcut:", tuple(same(X).shape))
print("1x1 shortcut, stride 2:", tuple(down(X).shape))
assert same(X).shape == (4, 16, 14, 14) and down(X).shape == (4, 32, 7, 7)

# %% [markdown]
# The identity really is the default. If the last BN's scale $\gamma$ is zero, $g(x) = 0$, and
# the block returns $\mathrm{ReLU}(x)$, which is $x$ itself for the non-negative maps that come
# out of an earlier ReLU. A plain pair of layers would need exactly tuned weights for the same.

# %%
with torch.no_grad():
    same.bn2.weight.zero_()
X_pos = torch.relu(X)                                     # like the output of a ReLU
torch.testing.assert_close(same(X_pos), X_pos)
print("with gamma = 0 the block passes its input through unchanged")

# %% [markdown]
# Later lessons use this block as `d2lite.models.Residual`. It has the same layers under the
# same names, so the weights of the block here load into it and, in evaluation mode, give the
# same outputs.

# %%
d2lite.seed_everything(0)
for block in (Residual(16, 16), Residual(16, 32, stride=2, use_1x1conv=True)):
    package_block = d2lite.models.Residual(
        block.conv1.in_channels, block.conv1.out_channels,
        stride=block.conv1.stride[0], use_1x1conv=block.conv3 is not None)
    package_block.load_state_dict(block.state_dict())
    block.eval(), package_block.eval()
    with torch.no_grad():
        torch.testing.assert_close(package_block(X), block(X))
print("d2lite.models.Residual gives the same outputs with the same weights")

# %% [markdown]
# ## A small ResNet
#
# A ResNet is a stem, stages of residual blocks, and a head. Here it is sized for 28 × 28 images
# and a laptop CPU: the stem is a 3 × 3 convolution to 12 channels with stride 2, then BN and
# ReLU. The stride halves the height and width at once, which makes everything after the stem
# four times cheaper; the original ResNet's stem does the same to 224 × 224 images, with a
# stride-2 convolution followed by a stride-2 max-pool. Then come three stages of one block each
# with 12, 24 and 48 channels, where the second and third start with a stride-2 block with a
# 1 × 1 shortcut; and the head averages each channel over the map (global average pooling) and
# reads the 48 numbers with a linear layer. It is `d2lite.models.ResNet`, built from the
# `Residual` block above. Follow one batch through it:

# %% tags=["nbval-check-output"]
resnet = d2lite.models.ResNet(channels=(12, 24, 48), stem_stride=2)
X = torch.zeros(2, 1, 28, 28)
walk = []
for name, part in [("stem", resnet.stem), *[(f"stage {i + 1}", block)
                   for i, block in enumerate(resnet.stages)], ("head", resnet.head)]:
    X = part(X)
    walk.append(tuple(X.shape[1:]))
    print(f"{name:8s} -> {tuple(X.shape)}")
num_params = sum(p.numel() for p in resnet.parameters())
print(f"{num_params:,d} parameters")
assert walk == [(12, 14, 14), (12, 14, 14), (24, 7, 7), (48, 4, 4), (10,)]
assert num_params == 43_942

# %% [markdown]
# ### Training
#
# `d2lite.fit` runs the training loop of [the CNN lesson](cnn_mnist.ipynb): Adam, with a
# one-cycle schedule that `fit` steps after every batch (`scheduler_step="batch"`), and the
# validation accuracy after each epoch. Two settings make it cheaper on a CPU without changing
# what is computed: batches of 256, and the `channels_last` memory format, which stores the
# channels of each pixel next to each other, the order a CPU's convolution routines prefer
# (on the 2-core CPU this book is tested on, it cut the time per example by a quarter).

# %%
train_data = d2lite.data.batches(X_train, y_train, 256, seed=0, device=device)


def train_resnet(data, epochs, max_lr, seed=0):
    """A fresh small ResNet trained with Adam + one-cycle; return it and its history."""
    d2lite.seed_everything(seed)
    net = d2lite.models.ResNet(channels=(12, 24, 48), stem_stride=2)
    net = net.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=epochs * len(data))
    history = d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer,
                         epochs=epochs, val_data=val_data, metrics=[d2lite.accuracy],
                         scheduler=schedule, scheduler_step="batch")
    return net, history


# %% [markdown]
# Two epochs are what a minute of this lesson's CPU allows, and the learning rate is not
# searched here, since a search would cost more time than the lesson has. [The CNN
# lesson](cnn_mnist.ipynb) chose 0.01 on its validation split for batches of 128 and two
# epochs. With twice the batch, a common rule of thumb doubles the rate, to 0.02; this lesson
# doubles it once more, to 0.04, because with twice the batch its two epochs are half as many
# steps, and a short one-cycle schedule spends few of them near its peak. Exercise 4 asks you
# to check this choice on the validation split.

# %%
best_lr = 0.04

# %% [markdown]
# Now two epochs on the full training split with this rate. The validation curve tells
# whether training has stopped too early: the accuracy still rises in the last epoch, as the
# learning rate comes down, and ends above 89 %.

# %%
began = time.perf_counter()
resnet, history = train_resnet(train_data, 2, best_lr)
resnet_val = history["val_accuracy"]
print("validation accuracy per epoch:", [round(a, 4) for a in resnet_val])
print(f"training took {time.perf_counter() - began:.0f} s on {device}")
assert resnet_val[-1] > resnet_val[-2], f"validation accuracy per epoch {resnet_val}"
assert resnet_val[-1] >= 0.89, f"validation accuracy per epoch {resnet_val}"

# %% [markdown]
# ## The test split, once
#
# All choices are made. The lesson's check: the small ResNet classifies at least 89 % of the
# 10,000 test images correctly.

# %%
test_data = d2lite.data.batches(X_test, y_test, 1000, shuffle=False, device=device)
test_acc = d2lite.evaluate(resnet, test_data, metrics=[d2lite.accuracy])["accuracy"]
print(f"test accuracy {test_acc:.4f}")
assert test_acc >= 0.89, f"ResNet test accuracy {test_acc:.4f} is below 89 %"
d2lite.record("val_acc", resnet_val[-1])
d2lite.record("test_acc", test_acc)

# %% [markdown]
# ## Summary
#
# - Degradation: a deeper plain network can train worse than a shallower one, though it
#   contains it. In 100 steps, a 13-layer plain CNN did not learn, while the same 13 layers
#   with skip connections did.
# - One reason: layers ending in ReLU lose information, so passing the input through unchanged
#   is hard. Through a random map into $n$ dimensions and ReLU, the best linear map recovers a
#   2-D spiral badly for small $n$ and well for large $n$; without ReLU, exactly.
# - A residual block outputs $x + g(x)$: its layers learn only the change, and the identity is
#   the default ($g = 0$). A 1 × 1 convolution on the shortcut handles a change of shape.
# - A small ResNet (stem, three stages of one block, global average pooling, 43,942
#   parameters, a stride-2 stem) trained two epochs with Adam and a one-cycle schedule
#   classifies more than 89 % of the Fashion-MNIST test images correctly.
#
# ## Exercises
#
# 1. **Counting a block.** How many parameters does `Residual(16, 16)` have, and how many does
#    `Residual(16, 32, stride=2, use_1x1conv=True)` have? Count them by hand (convolutions have
#    no bias except the 1 × 1 one; each BN has a $\gamma$ and a $\beta$ per channel), then check.

# %% tags=["hide-cell"]
counts = [sum(p.numel() for p in b.parameters())
          for b in (Residual(16, 16), Residual(16, 32, stride=2, use_1x1conv=True))]
by_hand = [2 * 9 * 16 * 16 + 2 * 2 * 16,
           9 * 16 * 32 + 9 * 32 * 32 + 2 * 2 * 32 + (16 * 32 + 32)]
print("counted:", counts, "by hand:", by_hand)
assert counts == by_hand == [4_672, 14_496]

# %% [markdown]
# 2. **A ReLU that keeps everything.** Repeat the spiral experiment for $n = 2$ with a leaky
#    ReLU, `F.leaky_relu(H, 0.1)`, which multiplies negative values by 0.1 instead of zeroing
#    them, so no information is lost. Does the best linear map do better than with ReLU? What
#    does recover the spiral?

# %% tags=["hide-cell"]
leaky_error = reconstruct(spiral, 2, lambda H: F.leaky_relu(H, 0.1))[1].item()
# Leaky ReLU is invertible but not linear: undo it first (divide the negatives by 0.1),
# then the linear map works.
def leaky_then_undo(H):
    H = F.leaky_relu(H, 0.1)
    return torch.where(H > 0, H, H / 0.1)


exact_error = reconstruct(spiral, 2, leaky_then_undo)[1].item()
print(f"leaky ReLU, linear map: {leaky_error:.4f} | undone first: {exact_error:.1e}")
assert leaky_error > 0.2 and exact_error < 1e-6, (leaky_error, exact_error)

# %% [markdown]
# 3. **Deeper.** Train `PairNet` with 10 pairs (21 layers), with and without skips. Does the
#    gap grow? Then add `nn.BatchNorm2d` after every convolution of the plain network: how much
#    of the gap does batch normalization alone close?
# 4. **The learning rate.** Choose the maximum learning rate on the validation split: train
#    two epochs with 0.01, 0.02 and 0.04. Does 0.04 win? Then repeat the search with one epoch
#    on the first 12,000 training images: does the short search agree?
# 5. **Longer, wider or deeper.** Train the same ResNet for three epochs: does it pass 90 % on
#    the validation split? Then train `d2lite.models.ResNet(channels=(16, 32, 64),
#    stem_stride=2)` and `d2lite.models.ResNet(channels=(12, 24, 48), blocks_per_stage=2,
#    stem_stride=2)` for two epochs. How many parameters does each add, how much longer does
#    an epoch take, and what does each buy on the validation split?
# 6. **Stride or pooling.** Replace the stride-2 stem by a stride-1 convolution followed by
#    `nn.MaxPool2d(2)` (same output shape). Time a few training steps of each: how much of a
#    step does the full-resolution stem cost, and is the accuracy worth it?
