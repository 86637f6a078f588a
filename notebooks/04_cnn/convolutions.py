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
# # From dense layers to convolutions
#
# A dense layer on a photo needs hundreds of millions of weights and ignores which pixels are
# neighbours. In this lesson you count those weights, see how two principles, locality and
# translation invariance, shrink them to a small kernel slid over the image, write that sliding
# operation (cross-correlation) from scratch, run an edge-detecting kernel over a square outline,
# and let gradient descent find the kernel by itself.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import matplotlib.pyplot as plt
from torch import nn
from torch.nn import functional as F

# %% [markdown]
# ## The trouble with dense layers on images
#
# The [MLP of chapter 3](../03_mlp/mlp_mnist.ipynb) read 28 × 28 digits with 22,270
# parameters. Now picture a real photo recogniser, as the notes do: colour images of 256 × 256
# pixels with three channels (red, green, blue) go in, and the first hidden layer has 1,000
# neurons. Every neuron of a dense layer has one weight per input value, so that layer alone
# needs $256 \cdot 256 \cdot 3 \cdot 1000$ weights.
#
# You can ask PyTorch for the layer without paying for its memory: on the `meta` device a tensor
# has a shape but no storage, so the count below costs nothing, while the real layer would take
# about 786 MB of float32 weights.

# %%
dense = nn.Linear(256 * 256 * 3, 1000, device="meta")      # shapes only, no memory
num_weights = dense.weight.numel()
print(f"weights of the first layer: {num_weights:,d} "
      f"({num_weights * 4 / 1e6:,.0f} MB in float32)")
assert num_weights == 256 * 256 * 3 * 1000 == 196_608_000, f"{num_weights:,d} weights"

# %% [markdown]
# Almost two hundred million weights for one layer, before the network has learned anything. Each
# training step must compute, store and update all of them, and with so many free parameters the
# network can fit the quirks of its training images instead of what the classes have in common:
# it overfits, as [regularisation](../03_mlp/regularization.ipynb) showed. The notes add a
# second complaint: a dense layer learns "a dog facing left" as one pattern over all pixels, and a
# dog facing right, or the same dog a few pixels further along, is a different pattern to it.
#
# ## Two principles: locality and translation invariance
#
# What makes a picture a dog is a handful of local parts: an eye, an ear, the texture of fur. Two
# observations about such parts cut the weights down.
#
# - **[Locality](../../book/glossary.md#term-locality)** (局部性): a feature depends on a small patch of neighbouring pixels, not on
#   pixels at opposite corners. So each hidden value should look at a small window, say 3 × 3,
#   of the input.
# - **[Translation invariance](../../book/glossary.md#term-translation-invariance)** (平移不变性): an eye is an eye wherever it appears. So the window
#   that detects it should use the *same* weights at every position of the image.
#
# Together they turn the dense layer into a small grid of weights, the **[kernel](../../book/glossary.md#term-kernel)** (卷积核), also
# called a filter, that slides over the image. At each position it multiplies the pixels under it
# by its weights and adds them up:
#
# $$
# h_{i,j} = b + \sum_{u=0}^{k_h - 1} \sum_{v=0}^{k_w - 1} k_{u,v} \, x_{i+u,\, j+v}.
# \tag{1}
# $$
#
# Let's count what each principle saves on the photo. A layer of 64 output channels with
# 3 × 3 kernels over 3 input channels, padded to keep the 256 × 256 size (the next lesson explains
# padding), has one 3 × 3 × 3 kernel per output channel. With locality alone, every position
# would have its own kernel; weight sharing keeps one.

# %%
conv = nn.Conv2d(in_channels=3, out_channels=64, kernel_size=3, padding=1)
shared = conv.weight.numel()                                  # (64, 3, 3, 3)
positions = 256 * 256
local_only = positions * shared                    # one kernel set per position
print(f"locality only: {local_only:,d} weights; locality + sharing: {shared:,d}")
assert shared == 64 * 3 * 3 * 3 == 1_728, f"{shared} weights"
assert local_only == 113_246_208 and local_only // shared == positions

# %% [markdown]
# 1,728 weights, independent of the image size, and they produce 64 maps of 256 × 256 values
# each. A weight-shared layer built on equation (1) is a **[convolutional layer](../../book/glossary.md#term-convolutional-layer)** (卷积层).
#
# ## Cross-correlation from scratch
#
# Equation (1) is what deep-learning libraries compute. Strictly speaking it is a
# **[cross-correlation](../../book/glossary.md#term-cross-correlation)** (互相关), not a convolution; the difference comes in the next section.
# For a 2-D input $\mathbf{X}$ of shape $(n_h, n_w)$ and a kernel $\mathbf{K}$ of shape $(k_h,
# k_w)$ the window fits at $n_h - k_h + 1$ rows and $n_w - k_w + 1$ columns, which is the shape of
# the output. The function below slides the window over every position.

# %%
def corr2d(X, K):
    """2-D cross-correlation of X (n_h, n_w) with kernel K (k_h, k_w), no padding."""
    k_h, k_w = K.shape
    Y = torch.zeros(X.shape[0] - k_h + 1, X.shape[1] - k_w + 1)   # (n_h', n_w')
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + k_h, j:j + k_w] * K).sum()
    return Y


# %% [markdown]
# A small example you can check by hand: the top-left output is
# $0 \cdot 1 + 1 \cdot 0 + 3 \cdot 0 + 4 \cdot (-1) = -4$. Every output is $-4$, because the
# kernel computes "this pixel minus its lower-right neighbour", and the ramp grows by 4 along that
# diagonal. [Figure 1](#fig-convolutions-corr) shows the window that makes the top-left output.

# %% tags=["nbval-check-output"]
X_small = torch.arange(9.0).reshape(3, 3)
K_small = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
print(X_small)
print(corr2d(X_small, K_small))
assert torch.equal(corr2d(X_small, K_small), torch.full((2, 2), -4.0))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Cross-correlation of the 3 x 3 ramp with the 2 x 2 kernel: the outlined window of the input, multiplied by the kernel element by element and summed, gives the outlined value of the output. Sliding the window gives the other three.", "name": "fig-convolutions-corr"}}
d2lite.diagrams.cross_correlation(X_small, K_small)

# %% [markdown]
# `F.conv2d` is PyTorch's version. It works on batches of multi-channel images, so the input gets
# the shape `(batch, channels, height, width)` and the kernel `(out_channels, in_channels, k_h,
# k_w)`. On a random image and kernel the loop and the library agree.

# %%
d2lite.seed_everything(0)
X_rand, K_rand = torch.randn(8, 10), torch.randn(3, 4)
ours = corr2d(X_rand, K_rand)
theirs = F.conv2d(X_rand[None, None], K_rand[None, None])[0, 0]   # (5, 7)
print("shape", tuple(ours.shape),
      "| largest difference", f"{(ours - theirs).abs().max():.1e}")
assert ours.shape == (8 - 3 + 1, 10 - 4 + 1) and torch.allclose(ours, theirs, atol=1e-5)

# %% [markdown]
# ## A convolution is a pruned, shared dense layer
#
# The notes call every hidden unit of a network a [feature](../../book/glossary.md#term-feature)
# (特征), and the number it outputs for one input a *feature value* (特征值; not the
# eigenvalue of linear algebra). A unit of a dense layer is one feature computed from all the
# pixels. A convolution keeps the same units, one per output position, but changes two things
# about their weights, and you can see both by writing `corr2d` as the dense layer it is.
# `corr2d` is linear in its input, so it equals a matrix $\mathbf{W}$ times the flattened input,
# and $\mathbf{W}$ is its Jacobian: row $r$ holds the weights of output $r$ on the 36 pixels of
# a 6 × 6 input. Autograd computes it.

# %%
X6, K3 = torch.randn(6, 6), torch.randn(3, 3)
W = torch.autograd.functional.jacobian(lambda X: corr2d(X, K3), X6)  # (4, 4, 6, 6)
W = W.reshape(16, 36)                                 # (outputs, inputs): a dense layer
torch.testing.assert_close(W @ X6.flatten(), corr2d(X6, K3).flatten())
connections = (W != 0).sum(dim=1)                      # (16,): inputs each output reads
print(f"dense layer {tuple(W.shape)}: {W.numel()} weights, {int(connections.sum())} "
      f"nonzero, {W[W != 0].unique().numel()} different values")
assert (connections == 9).all(), "locality: each output reads a 3 x 3 window"
assert all(torch.equal(row[row != 0], K3.flatten()) for row in W), "sharing: the kernel"

# %% [markdown]
# Of the 576 connections of a dense layer from 36 inputs to 16 outputs, the convolution keeps
# 9 per output (locality removed the rest), and all 16 outputs use the same 9 numbers, the
# kernel (translation invariance shares them). So the 16 outputs are one feature, the kernel's
# pattern, computed at 16 places, and the feature map holds its 16 feature values.

# %% [markdown]
# ## Convolution flips the kernel
#
# In mathematics and signal processing, the convolution of $\mathbf{X}$ with $\mathbf{K}$ runs
# the kernel backwards: $y_{i,j} = \sum_{u, v} k_{u,v} \, x_{i-u,\, j-v}$. Over a window, that
# pairs the kernel's last row and column with the window's first, which is the same as
# cross-correlating with the kernel flipped top to bottom and left to right. Here is the
# definition written out for the positions where the kernel fits entirely, next to the flip.

# %%
def conv2d_textbook(X, K):
    """Convolution as mathematicians define it (kernel runs backwards), valid part."""
    k_h, k_w = K.shape
    Y = torch.zeros(X.shape[0] - k_h + 1, X.shape[1] - k_w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            m, n = i + k_h - 1, j + k_w - 1   # index in the full convolution
            Y[i, j] = sum(K[a, b] * X[m - a, n - b]
                          for a in range(k_h) for b in range(k_w))
    return Y


# %% [markdown]
# On the random image and kernel of the last check, the definition equals cross-correlation
# with the flipped kernel, and not with the kernel as it is.

# %%
flipped = corr2d(X_rand, K_rand.flip(0, 1))
assert torch.allclose(conv2d_textbook(X_rand, K_rand), flipped, atol=1e-5)
unflipped = corr2d(X_rand, K_rand)
assert not torch.allclose(conv2d_textbook(X_rand, K_rand), unflipped, atol=1e-2)
print("convolution = cross-correlation with the flipped kernel, not the unflipped one")

# %% [markdown]
# For a network the difference does not matter: the kernel is learned, and if a task needs a
# kernel $\mathbf{K}$ for convolution, training simply finds the flipped $\mathbf{K}$ for
# cross-correlation. So the whole field says "convolution" and computes cross-correlation, and so
# does this book from now on.
#
# ## An edge detector on a square outline
#
# Which kernels are useful? The notes argue that we recognise objects mostly by their outlines,
# the places where brightness changes sharply, and they run a kernel over a square outline to see
# what it picks out. Let's build that picture: a 10 × 10 black image with a white square outline
# one pixel wide.

# %%
square = torch.zeros(10, 10)
square[2, 2:8] = square[7, 2:8] = 1.0      # top and bottom sides
square[2:8, 2] = square[2:8, 7] = 1.0      # left and right sides
print(square.int())

# %% [markdown]
# The kernel below subtracts the row under a pixel from the row above it, over three columns.
# Where the image does not change from top to bottom it gives 0; above a horizontal line it gives
# $-3$, below it $+3$. A kernel like this is a horizontal-edge detector.

# %%
K_edge = torch.tensor([[1.0, 1.0, 1.0],
                       [0.0, 0.0, 0.0],
                       [-1.0, -1.0, -1.0]])
edges = corr2d(square, K_edge)
print(edges.int())

# %% [markdown]
# [Figure 2](#fig-convolutions-square) shows the input, the kernel and the output side by side.
# The output is a new picture, a **[feature map](../../book/glossary.md#term-feature-map)** (特征图): it keeps the layout of the input, so a
# second convolution can look for patterns in it in turn.

# %% mystnb={"figure": {"caption": "The square outline (left), the horizontal-edge kernel (middle) and the feature map it produces (right): +3 and -3 next to the top and bottom sides, 0 along the middle of the vertical ones.", "name": "fig-convolutions-square"}}
fig, axes = plt.subplots(1, 3, figsize=(6, 2.3))
panels = [("input", square), ("kernel", K_edge), ("feature map", edges)]
for ax, (title, image) in zip(axes, panels, strict=True):
    shown = ax.imshow(image, cmap="RdBu_r" if title != "input" else "gray",
                      vmin=-image.abs().max() if title != "input" else 0)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(shown, ax=axes[-1], shrink=0.8)
plt.show()

# %% [markdown]
# The strongest responses, $\pm 3$, lie on the rows just above and just below the two horizontal
# sides, where the pattern under the kernel matches it best (the sign says whether the bright line
# is below or above). Along the middle of the vertical sides every row under the kernel is the
# same, so the response is exactly 0: this kernel is blind to vertical edges. Its transpose finds
# those (exercise 2).

# %%
strong_rows = (edges.abs() == 3).any(dim=1).nonzero().flatten().tolist()
print("largest response", edges.abs().max().item(), "| rows with +-3:", strong_rows)
assert edges.abs().max() == 3 and strong_rows == [0, 2, 5, 7], f"rows {strong_rows}"
assert (edges[3:5] == 0).all(), "the middle of the vertical sides gives no response"

# %% [markdown]
# Because the same kernel is used everywhere, moving the input moves the feature map and changes
# nothing else. Shift the square one pixel to the right and one down: the feature map shifts by
# the same amount. This is translation invariance at work (more precisely *equivariance*: the
# output moves with the input).

# %%
moved = torch.roll(square, shifts=(1, 1), dims=(0, 1))
moved_edges = corr2d(moved, K_edge)
assert torch.equal(moved_edges[1:, 1:], edges[:-1, :-1]), "the map should move too"
print("shifted input -> shifted feature map")

# %% [markdown]
# ## Learning the kernel
#
# Here you wrote the edge kernel yourself. A convolutional network learns its kernels from data,
# by gradient descent like any other weights. To see that this works, pretend you only have
# inputs and the outputs that `K_edge` gives on them, and fit a fresh `nn.Conv2d` with one 3 × 3
# kernel and no bias to them, with the squared error as the loss. Random images show the
# kernel every kind of 3 × 3 patch, so each of its nine weights is pinned down quickly; the
# square outline alone has far fewer kinds of patch, and exercise 3 asks what that changes.

# %%
d2lite.seed_everything(0)
X_train = torch.randn(32, 1, 12, 12)                         # (batch, 1, 12, 12)
Y_train = F.conv2d(X_train, K_edge[None, None])               # (batch, 1, 10, 10)
layer = nn.Conv2d(1, 1, kernel_size=3, bias=False)
optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
losses = []
for _ in range(300):
    loss = ((layer(X_train) - Y_train) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss: step 1 {losses[0]:.3f}, step 300 {losses[-1]:.2e}")

# %% [markdown]
# The learned weights are the edge kernel, to three decimals.

# %%
learned = layer.weight.detach()[0, 0]                          # (3, 3)
print(learned.round(decimals=3))
error = (learned - K_edge).abs().max().item()
print(f"largest difference from K_edge: {error:.1e}")
assert error < 1e-3, f"the learned kernel is {error:.3f} away from the true one"

# %% [markdown]
# ## Feature maps of a real digit
#
# On a real image the two edge kernels split the strokes by direction. Here is one training digit
# of MNIST, through the horizontal-edge kernel and through its transpose, the vertical-edge
# kernel ([Figure 3](#fig-convolutions-digit)).

# %%
(images, labels), _ = d2lite.data.load_mnist(verbose=False)
digit = images[0, 0]                                           # (28, 28)
both = torch.stack([K_edge, K_edge.T])[:, None]               # (2, 1, 3, 3)
maps = F.conv2d(digit[None, None], both)                       # (1, 2, 26, 26)
print("digit", labels[0].item(), "| feature maps", tuple(maps.shape))

# %% mystnb={"figure": {"caption": "An MNIST digit (left) and its feature maps through the horizontal-edge kernel (middle) and the vertical-edge kernel (right).", "name": "fig-convolutions-digit"}}
d2lite.show_images([digit, maps[0, 0], maps[0, 1]], 1, 3,
                   titles=["digit", "horizontal edges", "vertical edges"], scale=2.0);

# %% [markdown]
# ## Summary
#
# - A dense layer from a 256 × 256 × 3 image to 1,000 neurons needs 196,608,000 weights and
#   treats the pixels as an unordered list.
# - Locality (look at a small window) and translation invariance (use the same weights
#   everywhere) reduce the layer to a small kernel: 1,728 weights for 64 channels of 3 × 3 × 3.
#   Written as a dense layer, a convolution keeps only each output's window of connections and
#   shares their weights: one feature (the kernel's pattern) computed at every position.
# - Deep-learning "convolution" is cross-correlation; true convolution flips the kernel, which
#   makes no difference when the kernel is learned. `corr2d` from scratch equals `F.conv2d`.
# - A kernel responds most where the input looks like it: the horizontal-edge kernel gives ±3
#   next to the square's top and bottom and 0 along the middle of its sides. Its output, a feature map, moves
#   with the input.
# - Gradient descent recovers a kernel from input–output pairs.
#
# ## Exercises
#
# 1. **The notes' whole network.** The notes' photo recogniser has three hidden layers of 1,000
#    neurons and 100 outputs. How many parameters (weights and biases) does it have?

# %% tags=["hide-cell"]
sizes = [256 * 256 * 3, 1000, 1000, 1000, 100]
layers = [nn.Linear(n_in, n_out, device="meta")
          for n_in, n_out in zip(sizes, sizes[1:], strict=False)]
total = sum(p.numel() for layer_ in layers for p in layer_.parameters())
print(f"{total:,d} parameters")
assert total == 196_608_000 + 1000 + 2 * (1000 * 1000 + 1000) + 1000 * 100 + 100

# %% [markdown]
# 2. **Vertical edges.** Show that the vertical-edge kernel `K_edge.T` on the square gives the
#    transpose of the horizontal feature map. Why does that follow from equation (1)?

# %% tags=["hide-cell"]
vertical = corr2d(square, K_edge.T)
assert torch.equal(vertical, corr2d(square.T, K_edge).T), "transposes commute"
assert torch.equal(vertical, edges.T), "the square is symmetric, so this is edges.T"
print(vertical.int())

# %% [markdown]
# 3. **Too little data.** Learn the kernel from the square outline alone (one 10 × 10 image and
#    its feature map) instead of 32 random images. Do its 64 patches of 3 × 3 still determine
#    the kernel? (Stack them as the rows of a 64 × 9 matrix: the output is that matrix times the
#    flattened kernel, so the kernel is unique exactly when the matrix has rank 9.) Is gradient
#    descent as quick as with random images?

# %% tags=["hide-cell"]
patches = F.unfold(square[None, None], kernel_size=3)[0].T       # (64, 9): row = patch
rank = torch.linalg.matrix_rank(patches).item()
solution = torch.linalg.lstsq(patches, edges.reshape(-1, 1)).solution.reshape(3, 3)
print(f"rank {rank}; the least-squares kernel:\n{solution}")
assert rank == 9 and torch.allclose(solution, K_edge, atol=1e-5), "unique: it is K_edge"

# %% tags=["hide-cell"]
def curvature_ratio(images):
    """Largest over smallest curvature of the squared error in the kernel's weights."""
    rows = F.unfold(images, kernel_size=3).transpose(1, 2).reshape(-1, 9)
    return torch.linalg.cond(rows.T @ rows).item()


ratios = {"outline": curvature_ratio(square[None, None]),
          "random": curvature_ratio(X_train)}
print({name: round(r, 1) for name, r in ratios.items()})
assert ratios["outline"] > 10 * ratios["random"]
# So the outline determines the kernel, but gradient descent gets there more
# slowly: its patches are few and alike, the loss is a long narrow valley (a
# curvature ratio far above the random images'), and fixed steps crawl along it.

# %% [markdown]
# 4. **Cost.** How many multiplications does `corr2d` make for an $n \times n$ input and a
#    $k \times k$ kernel? Time `corr2d` and `F.conv2d` on a 100 × 100 image; why is the loop so
#    much slower?
