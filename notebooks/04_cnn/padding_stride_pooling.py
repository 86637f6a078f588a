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
# # Padding, stride, channels and pooling
#
# A convolutional layer has more knobs than its kernel. In this lesson you derive the size of a
# layer's output from its padding and stride and check the formula against PyTorch, see why
# padding lets a kernel find patterns at the border, handle several input and output channels
# (and the special 1 × 1 kernel), pool feature maps to tolerate small shifts, and compare the
# receptive field of two 3 × 3 layers with one 5 × 5 layer. At the end you walk through the
# arguments of `nn.Conv2d`, `nn.MaxPool2d`, `nn.BatchNorm2d` and `nn.Dropout`.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import itertools
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

# %% [markdown]
# ## The size of the output
#
# In [the last lesson](convolutions.ipynb) a $k \times k$ kernel fitted at $n - k + 1$ positions
# along a side of length $n$. Two settings change that count.
#
# - **[Padding](../../book/glossary.md#term-padding-convolution)** (边缘填充) adds $p$ rows and columns of zeros around the input, so the side
#   becomes $n + 2p$.
# - **[Stride](../../book/glossary.md#term-stride-convolution)** (步长) moves the kernel $s$ pixels at a time instead of one, so only every $s$-th
#   position is kept.
#
# The first position is 0 and the last start must leave room for the kernel, at most
# $n + 2p - k$; counting every $s$-th position from 0 to there gives
#
# $$
# n_{\text{out}} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1. \tag{1}
# $$
#
# [Figure 1](#fig-padding_stride_pooling-padding) shows both on the 3 × 3 ramp and the 2 × 2
# kernel of the last lesson, with padding 1 and stride 2.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Padding 1 frames the 3 x 3 input with zeros (grey); with stride 2 the 2 x 2 window jumps two columns from its first position (dashed) to its second (outlined), which gives the outlined output. Below: equation (1) for the output's size.", "name": "fig-padding_stride_pooling-padding"}}
d2lite.diagrams.padding_stride(padding=1, stride=2)

# %% [markdown]
# Rather than trust the algebra, check it against PyTorch for every combination of a grid of
# sizes, kernels, paddings and strides.

# %%
def output_size(n, k, p=0, s=1):
    """Length of a convolution's output along one side: equation (1)."""
    return (n + 2 * p - k) // s + 1


checked = 0
for n, k, p, s in itertools.product(range(5, 13), (1, 2, 3, 5), (0, 1, 2), (1, 2, 3)):
    layer = nn.Conv2d(1, 1, kernel_size=k, padding=p, stride=s)
    shape = layer(torch.zeros(1, 1, n, n)).shape        # (1, 1, n_out, n_out)
    assert shape[-1] == shape[-2] == output_size(n, k, p, s), (n, k, p, s, shape)
    checked += 1
print(f"equation (1) matches nn.Conv2d in all {checked} settings")

# %% [markdown]
# Height and width need not share their settings: `nn.Conv2d` takes a pair for each, a
# $k_h \times k_w$ kernel, padding $(p_h, p_w)$ and stride $(s_h, s_w)$, and equation (1)
# holds for each side on its own.

# %%
layer = nn.Conv2d(1, 1, kernel_size=(5, 3), padding=(2, 0), stride=(3, 2))
shape = layer(torch.zeros(1, 1, 11, 16)).shape                 # (1, 1, 4, 7)
assert shape[-2:] == (output_size(11, 5, 2, 3), output_size(16, 3, 0, 2)), shape
print(f"11 x 16, 5 x 3 kernel, padding (2, 0), stride (3, 2): {tuple(shape[2:])}")

# %% [markdown]
# Two cases are worth remembering. With an odd kernel, $p = (k - 1)/2$ and $s = 1$ keep the size:
# $n_{\text{out}} = n$, which is why 3 × 3 kernels come with padding 1. PyTorch knows this
# padding as `padding="same"`, and the cell checks that it is the same layer. And with $s = 2$
# the output has about half the side, a quarter of the values.

# %%
for n, k in itertools.product((1, 6, 13), (1, 3, 5, 7)):
    X = torch.randn(1, 1, n, n)
    by_formula = nn.Conv2d(1, 1, k, padding=(k - 1) // 2, bias=False)
    same = nn.Conv2d(1, 1, k, padding="same", bias=False)
    same.load_state_dict(by_formula.state_dict())
    assert by_formula(X).shape[-1] == n and torch.equal(by_formula(X), same(X)), (n, k)
print('padding (k - 1) / 2 keeps the size and is PyTorch\'s padding="same"')
assert [output_size(n, 3, 1, 2) for n in (28, 224)] == [14, 112]

# %% [markdown]
# ## Stride: skipping near-duplicates
#
# The notes motivate the stride with the square outline of the last lesson. When a kernel
# matches a pattern, its neighbouring positions usually respond almost as strongly, because they
# see most of the same pixels. Here is the outline again, through the horizontal-edge kernel,
# with stride 1 and with stride 2.

# %%
square = torch.zeros(10, 10)
square[2, 2:8] = square[7, 2:8] = square[2:8, 2] = square[2:8, 7] = 1.0
K_edge = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])
stride1 = F.conv2d(square[None, None], K_edge[None, None])[0, 0]            # (8, 8)
stride2 = F.conv2d(square[None, None], K_edge[None, None], stride=2)[0, 0]  # (4, 4)
print(stride1.int(), stride2.int(), sep="\n")

# %% [markdown]
# Each row of $\pm 3$ in the stride-1 map has neighbours of $\pm 2$ and $\pm 1$. Stride 2 keeps
# every other row and column: a quarter of the outputs, so a quarter of the multiplications. It
# does not change the number of weights, which is still nine. But it keeps a strong response
# only where one falls on an even row and column. The top side's rows of $\pm 3$ sit on even
# rows (0 and 2) and survive; the bottom side's sit on odd rows (5 and 7) and are all dropped,
# so the stride-2 map sees the bottom side only through a weak $\pm 1$. A stride throws away
# positions, and whether a pattern survives depends on where it happens to lie.

# The cell counts the multiplications with PyTorch's `FlopCounterMode`, which watches the
# convolution run and counts each multiply-add as two operations; they match equation (1)'s
# $8^2$ and $4^2$ outputs times 9.

# %%
mults = {}
for s in (1, 2):
    with FlopCounterMode(display=False) as counter:
        F.conv2d(square[None, None], K_edge[None, None], stride=s)
    mults[s] = counter.get_total_flops() // 2                  # multiply-adds
print("multiplications:", mults)
expected = {s: output_size(10, 3, 0, s) ** 2 * 9 for s in (1, 2)}
assert mults == expected == {1: 576, 2: 144}
assert stride2.shape == (4, 4) and torch.equal(stride2, stride1[::2, ::2])
strong = {s: int((m.abs() == 3).sum()) for s, m in ((1, stride1), (2, stride2))}
print("outputs of size 3:", strong)
assert 0 < strong[2] < strong[1] / 2
assert stride1[4:].abs().max() == 3 and stride2[2:].abs().max() == 1  # the bottom side

# %% [markdown]
# The notes push this one step further, and it is their reason for pooling: move the outline
# down by one pixel and look again. With stride 1 the feature map just moves down by one row
# with it. With stride 2 the kept rows now fall on the other side's strong responses: the
# bottom side's $\pm 3$ survive and the top side's are all dropped, and the new map is no
# shifted copy of the old one, whichever way you shift it. A one-pixel move of the input has
# changed what the next layer sees, not just where.

# %%
moved = torch.roll(square, shifts=1, dims=0)                          # one pixel down
moved1 = F.conv2d(moved[None, None], K_edge[None, None])[0, 0]             # (8, 8)
moved2 = F.conv2d(moved[None, None], K_edge[None, None], stride=2)[0, 0]   # (4, 4)
print(moved2.int())
assert torch.equal(moved1[1:], stride1[:-1]), "stride 1: the map moves with the outline"
rows_of_3 = [(m.abs() == 3).any(dim=1).nonzero().flatten().tolist()
             for m in (stride2, moved2)]
print("stride-2 rows holding a 3: outline", rows_of_3[0], "| moved", rows_of_3[1])
assert rows_of_3 == [[0, 1], [3]], "the top side's 3s dropped, the bottom side's kept"
assert not any(torch.equal(moved2, torch.roll(stride2, shift, dims=(0, 1)))
               for shift in itertools.product((-1, 0, 1), repeat=2))

# %% [markdown]
# ## Padding: patterns at the border
#
# The notes' second example: a feature map with the same small corner pattern in its top-left
# and its bottom-right corner. A 3 × 3 kernel that contains the pattern somewhere should fire on
# both. The code tries the four places the 2 × 2 pattern can sit inside the 3 × 3 kernel and
# asks, for each, how many of the two corners give the full response of 3.

# %%
pattern = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
corners = torch.zeros(6, 6)
corners[:2, :2] = corners[4:, 4:] = pattern

def corners_found(padding):
    """For each placement of the pattern in a 3 x 3 kernel: how many corners give 3."""
    found = []
    for r, c in itertools.product((0, 1), (0, 1)):
        kernel = torch.zeros(3, 3)
        kernel[r:r + 2, c:c + 2] = pattern
        out = F.conv2d(corners[None, None], kernel[None, None], padding=padding)[0, 0]
        found.append(int((out == 3).sum()))
    return found

print("no padding:", corners_found(0), "| padding 1:", corners_found(1))

# %% [markdown]
# Without padding, no placement finds both corners: the kernel would have to hang over the edge.
# A border of zeros lets it, and every placement finds both. The zeros add nothing to the sums,
# so they do not disturb what the kernel computes elsewhere. Padding 1 also keeps the 6 × 6 size,
# the other reason to pad: without it every 3 × 3 layer shaves two rows and columns off, and a
# 28 × 28 digit would shrink to nothing after 14 layers ($28 - 14 \cdot 2 = 0$).

# %%
assert max(corners_found(0)) == 1, "without padding: at most one corner per kernel"
assert corners_found(1) == [2, 2, 2, 2], "with padding: both corners every time"

# %% [markdown]
# ## Several input and output channels
#
# A colour image has three **[channels](../../book/glossary.md#term-channel)** (通道), and a layer with many kernels outputs one feature
# map per kernel, so real layers take and give stacks of maps. With $c_i$ input channels, one
# output map is the sum of $c_i$ cross-correlations, one 2-D kernel per input channel. With $c_o$
# output maps you need $c_o$ such sets, so a layer holds $c_i \times c_o$ two-dimensional kernels,
# a weight tensor of shape $(c_o, c_i, k_h, k_w)$. The notes put it as: kernels = inputs ×
# outputs. [Figure 2](#fig-padding_stride_pooling-channels) shows one output channel made from
# two input channels.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Two input channels, each cross-correlated with its own 2 x 2 kernel; the two results are added into one output channel. A second output channel would use a second pair of kernels.", "name": "fig-padding_stride_pooling-channels"}}
d2lite.diagrams.multi_channel()

# %% [markdown]
# Written with the 2-D `corr2d` of the last lesson:

# %%
def corr2d(X, K):
    """2-D cross-correlation of X (n_h, n_w) with K (k_h, k_w), as before."""
    k_h, k_w = K.shape
    Y = torch.zeros(X.shape[0] - k_h + 1, X.shape[1] - k_w + 1)
    for i, j in itertools.product(range(Y.shape[0]), range(Y.shape[1])):
        Y[i, j] = (X[i:i + k_h, j:j + k_w] * K).sum()
    return Y


def corr2d_multi(X, K):
    """X: (c_i, h, w), K: (c_o, c_i, k_h, k_w) -> (c_o, h', w'), summing over c_i."""
    return torch.stack([sum(corr2d(x, k) for x, k in zip(X, K_o, strict=True))
                        for K_o in K])


# %% [markdown]
# On three input channels and two output channels, this agrees with `F.conv2d`, and `nn.Conv2d`
# stores exactly $3 \times 2 = 6$ kernels of 3 × 3.

# %%
d2lite.seed_everything(0)
X3, K32 = torch.randn(3, 7, 7), torch.randn(2, 3, 3, 3)         # c_i = 3, c_o = 2
ours = corr2d_multi(X3, K32)                                     # (2, 5, 5)
assert torch.allclose(ours, F.conv2d(X3[None], K32)[0], atol=1e-5)
conv = nn.Conv2d(in_channels=3, out_channels=2, kernel_size=3)
num_kernels = conv.weight.shape[0] * conv.weight.shape[1]
print("weight", tuple(conv.weight.shape), "| 2-D kernels:", num_kernels)
assert num_kernels == 3 * 2 and conv.weight.numel() == 6 * 9

# %% [markdown]
# ## The 1 × 1 convolution
#
# A 1 × 1 kernel sees one pixel, so it finds no spatial pattern at all. What it does is mix the
# channels: at every pixel it takes the $c_i$ channel values and returns $c_o$ weighted sums. That
# is a dense layer from $c_i$ to $c_o$ units, applied to every pixel with the same weights. Deep
# networks use it to change the number of channels cheaply. The check copies a 1 × 1
# convolution's weights into an `nn.Linear` and applies it pixel by pixel.

# %%
conv1x1 = nn.Conv2d(3, 4, kernel_size=1)
dense = nn.Linear(3, 4)
with torch.no_grad():
    dense.weight.copy_(conv1x1.weight[:, :, 0, 0])              # (4, 3)
    dense.bias.copy_(conv1x1.bias)
    X = torch.randn(2, 3, 5, 5)                                 # (batch, c_i, h, w)
    per_pixel = dense(X.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (batch, c_o, h, w)
    assert torch.allclose(conv1x1(X), per_pixel, atol=1e-6)
print("1 x 1 convolution = the same dense layer on every pixel")

# %% [markdown]
# [Figure 3](#fig-padding_stride_pooling-1x1) draws the layer of this check: the three values
# of one pixel go through the dense layer and become the four values of the same pixel.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "A 1 x 1 convolution from 3 to 4 channels: at the outlined pixel, and with the same weights at every other pixel, the 3 input values go through a dense layer from 3 to 4 units.", "name": "fig-padding_stride_pooling-1x1"}}
d2lite.diagrams.conv_1x1(conv1x1.in_channels, conv1x1.out_channels)

# %% [markdown]
# ## Pooling
#
# A **[pooling](../../book/glossary.md#term-pooling)** (池化) layer slides a window over each channel like a kernel, but has no weights:
# **[max-pooling](../../book/glossary.md#term-max-pooling)** (最大池化) keeps the largest value in the window, average pooling the mean.
# It works on each channel separately, so the number of channels stays the same. PyTorch's
# default stride for pooling equals the window, so a 2 × 2 pool halves each side
# ([Figure 4](#fig-padding_stride_pooling-pooling)).

# %% tags=["remove-input"] mystnb={"figure": {"caption": "2 x 2 max-pooling with stride 2: the windows tile the input (green lines); each output is the largest value of its window, shaded for the outlined window.", "name": "fig-padding_stride_pooling-pooling"}}
d2lite.diagrams.max_pooling()

# %% [markdown]
# The function below pools with a window that tiles the input in the same way.

# %%
def pool2d(X, size, mode="max"):
    """Pool X (h, w) with a size x size window and stride `size` (the default)."""
    Y = torch.zeros(X.shape[0] // size, X.shape[1] // size)
    for i, j in itertools.product(range(Y.shape[0]), range(Y.shape[1])):
        window = X[i * size:(i + 1) * size, j * size:(j + 1) * size]
        Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


X = torch.randn(6, 8)
assert torch.allclose(pool2d(X, 2), F.max_pool2d(X[None, None], 2)[0, 0])
assert torch.allclose(pool2d(X, 2, "avg"), F.avg_pool2d(X[None, None], 2)[0, 0],
                      atol=1e-6)
print("max and average pooling from scratch agree with PyTorch")

# %% [markdown]
# Why pool? The notes' answer: convolution moves its output along with the input, so a pattern
# one pixel to the side gives a different feature map (a moved one with stride 1, an altogether
# different one with stride 2, as the shifted outline showed), and the layers after it see
# different numbers. Max-pooling keeps only the strongest response in each window, so a shift that keeps a
# feature inside its window leaves the pooled map unchanged. Take a feature map that has found a
# square outline (a 5 × 5 outline in a 10 × 10 map) and shift it by one pixel in several
# directions. The cell measures how far each shifted map is from the original, relative to the
# original's size, before and after 2 × 2 max-pooling.

# %%
outline = torch.zeros(10, 10)
outline[2, 2:7] = outline[6, 2:7] = outline[2:7, 2] = outline[2:7, 6] = 1.0

def relative_distance(A, B):
    return ((A - B).norm() / A.norm()).item()

pooled = F.max_pool2d(outline[None, None], 2)[0, 0]                         # (5, 5)
for shift in [(0, 1), (1, 0), (1, 1), (0, -1)]:
    moved = torch.roll(outline, shift, dims=(0, 1))
    before = relative_distance(outline, moved)
    after = relative_distance(pooled, F.max_pool2d(moved[None, None], 2)[0, 0])
    print(f"shift {shift}: unpooled {before:.2f}, pooled {after:.2f}")

# %% [markdown]
# Shifted right, down or diagonally, every side of the outline stays inside its 2 × 2 windows, and
# the pooled maps are identical although the unpooled ones are not: half of the outline's
# pixels moved, and the distance between them is as large as the outline itself. Shifted left,
# the sides cross into the next windows and pooling does not help at all. That is the notes'
# caveat: a 2 × 2 pool absorbs only shifts within its window, one pixel at most, and it throws
# away detail to do so. That is why pooling windows stay small (2 × 2, or 3 × 3 with stride 2 in
# the first layers of AlexNet and ResNet), why some networks replace pooling by a stride of 2,
# and why this chapter's ResNet and DenseNet pool over the whole map only once, at the end.

# %%
def distances(shift):
    moved = torch.roll(outline, shift, dims=(0, 1))
    after = relative_distance(pooled, F.max_pool2d(moved[None, None], 2)[0, 0])
    return relative_distance(outline, moved), after

for shift in [(0, 1), (1, 0), (1, 1)]:
    before, after = distances(shift)
    assert after < before and after == 0, f"shift {shift}: {after:.2f}, {before:.2f}"
before, after = distances((0, -1))
assert after >= before - 1e-6, "crossing windows: pooling should not help"

# %% [markdown]
# ## Receptive field: two 3 × 3 layers or one 5 × 5
#
# The **[receptive field](../../book/glossary.md#term-receptive-field)** (感受野) of a value in a feature map is the region of the input it
# depends on. After one 3 × 3 layer it is 3 × 3; a second 3 × 3 layer on top sees 3 × 3 values
# that each see 3 × 3 pixels, together 5 × 5, the receptive field of a single 5 × 5 layer. The
# notes weigh the two: the stack needs $9 + 9 = 18$ weights per channel pair against 25, and it
# puts a nonlinearity between the layers. You can measure a receptive field with autograd: the
# pixels whose gradient is nonzero are the pixels the output depends on.

# %%
def receptive_field(layers, channel=0):
    """Height and width of the input region that the centre output depends on."""
    X = torch.zeros(1, 1, 11, 11, requires_grad=True)
    Y = layers(X)                                               # (1, c_o, h, w)
    Y[0, channel, Y.shape[2] // 2, Y.shape[3] // 2].backward()
    rows, cols = X.grad[0, 0].nonzero(as_tuple=True)
    return (rows.max() - rows.min() + 1).item(), (cols.max() - cols.min() + 1).item()

d2lite.seed_everything(0)
two_3x3 = nn.Sequential(nn.Conv2d(1, 1, 3, bias=False), nn.Conv2d(1, 1, 3, bias=False))
one_5x5 = nn.Conv2d(1, 1, 5, bias=False)

# %% [markdown]
# Both see a 5 × 5 patch; the stack does it with 18 weights instead of 25
# ([Figure 5](#fig-padding_stride_pooling-receptive)).

# %%
weights = {name: sum(p.numel() for p in net.parameters())
           for name, net in [("two 3x3", two_3x3), ("one 5x5", one_5x5)]}
fields = {"two 3x3": receptive_field(two_3x3), "one 5x5": receptive_field(one_5x5)}
print("weights:", weights, "| receptive fields:", fields)
assert fields["two 3x3"] == fields["one 5x5"] == (5, 5)
assert weights == {"two 3x3": 18, "one 5x5": 25}

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The receptive field of one output value: through two 3 x 3 layers (left) it is 5 x 5, as through one 5 x 5 layer (right). Dashed: one value of the middle map and the 3 x 3 patch of the input it sees.", "name": "fig-padding_stride_pooling-receptive"}}
d2lite.diagrams.receptive_field()

# %% [markdown]
# With $c$ channels in and out of every layer the counts scale to $18c^2$ and $25c^2$, so the
# saving grows with the width. The notes make the same point with two feature maps: two
# different 5 × 5 kernels on one input cost $5 \cdot 5 \cdot 2 = 50$ weights, while on top
# of a 3 × 3 layer a second 3 × 3 kernel is enough for a second map with a 5 × 5 view, 27
# weights in all.

# %%
two_5x5 = nn.Conv2d(1, 2, 5, bias=False)                        # two maps, 5 x 5 each
stacked = nn.Sequential(nn.Conv2d(1, 1, 3, bias=False),
                        nn.Conv2d(1, 2, 3, bias=False))         # one 3 x 3, then two
for name, net in [("two 5x5 kernels", two_5x5), ("3x3, then two 3x3", stacked)]:
    count = sum(p.numel() for p in net.parameters())
    views = [receptive_field(net, channel) for channel in (0, 1)]
    print(f"{name}: {count} weights, receptive fields {views}")
    assert views == [(5, 5), (5, 5)] and count == (50 if net is two_5x5 else 27)

# %% [markdown]
# The two maps of the stack are not as free as two 5 × 5 kernels: both read the same first
# map, so they can only combine the one pattern it found (with more first-layer channels,
# they combine more). That is the trade the notes weigh between small and large kernels. For
# small ones: fewer weights, and a nonlinearity after every layer, so a pattern found early
# is sharpened by the layers above it. Against them: each layer squeezes every window into
# one number per channel, and whatever that number leaves out is gone for the layers above.
# In images neighbouring pixels are alike, so little is lost, and stacks of 3 × 3 kernels
# won; where neighbouring inputs differ a lot and distant ones matter together (as in some
# sequence tasks), large kernels are still used.
#
# ## The PyTorch layers, argument by argument
#
# The notes end their tour of CNN layers with the arguments of four PyTorch modules. Here they
# are, each with a check of what it does.
#
# `nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
# bias=True, padding_mode="zeros")`: the first five you know. `bias=False` drops the $c_o$ biases.
# `padding_mode` says what to pad with: `"zeros"`, or `"reflect"`, `"replicate"`, `"circular"`.
# `dilation=d` spreads the kernel's taps $d$ pixels apart, so a 3 × 3 kernel covers $2d + 1$
# pixels per side with nine weights. `groups=g` splits the channels into $g$ groups convolved
# separately, so each kernel sees only $c_i / g$ input channels.

# %%
layer = nn.Conv2d(4, 8, kernel_size=3, dilation=2, groups=2, bias=False,
                  padding=1, padding_mode="reflect")
out = layer(torch.randn(1, 4, 12, 12))
effective_k = 2 * (3 - 1) + 1                          # a dilated 3 x 3 spans 5
print("weight", tuple(layer.weight.shape), "| bias", layer.bias,
      "| out", tuple(out.shape))
assert layer.weight.shape == (8, 4 // 2, 3, 3) and layer.bias is None
assert out.shape[-1] == output_size(12, effective_k, 1, 1) == 10

# %% [markdown]
# `nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
# ceil_mode=False)`: `stride=None` means "equal to `kernel_size`". `ceil_mode=True` rounds
# equation (1) up instead of down, so a last, partial window is kept. `return_indices=True` also
# returns where each maximum was, which `nn.MaxUnpool2d` uses to undo the pooling.

# %%
pool = nn.MaxPool2d(2)
X = torch.randn(1, 1, 7, 7)
values, where = nn.MaxPool2d(2, return_indices=True)(X)
print("stride:", pool.stride, "| floor:", tuple(pool(X).shape),
      "| ceil:", tuple(nn.MaxPool2d(2, ceil_mode=True)(X).shape))
assert pool(X).shape[-1] == 3 and nn.MaxPool2d(2, ceil_mode=True)(X).shape[-1] == 4
assert torch.equal(X.flatten()[where.flatten()], values.flatten())

# %% [markdown]
# `nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True)`: normalises every channel
# over the batch and the pixels, and, with `affine=True`, rescales it with a learned scale and
# shift per channel; during training it keeps running averages of the mean and variance for use
# in evaluation. [Batch normalisation](batch_norm.ipynb) builds it from scratch; here just its
# parameters and its effect in training mode.

# %%
bn = nn.BatchNorm2d(num_features=8)
Y = bn(torch.randn(16, 8, 5, 5) * 3 + 2)              # training mode: batch statistics
print({name: tuple(p.shape) for name, p in bn.named_parameters()},
      {name: tuple(b.shape) for name, b in bn.named_buffers() if b.dim()})
assert all(p.shape == (8,) for p in bn.parameters())
assert Y.mean(dim=(0, 2, 3)).abs().max() < 1e-5
assert (Y.std(dim=(0, 2, 3)) - 1).abs().max() < 0.01
assert list(nn.BatchNorm2d(8, affine=False).parameters()) == []

# %% [markdown]
# `nn.Dropout(p=0.5, inplace=False)`, from [regularisation](../03_mlp/regularization.ipynb):
# in training mode it zeroes each value with probability `p` and scales the rest by $1/(1 - p)$;
# the output has the input's shape. In evaluation mode it passes the input through.

# %%
d2lite.seed_everything(0)
dropout = nn.Dropout(p=0.3)
X = torch.ones(100_000)
Y = dropout(X)
print(f"zeroed: {(Y == 0).float().mean():.3f}, kept values: "
      f"{[round(v, 4) for v in Y[Y > 0].unique().tolist()]} (1 / 0.7 = {1 / 0.7:.4f})")
assert abs((Y == 0).float().mean() - 0.3) < 0.01
assert torch.allclose(Y[Y > 0], X[0] / 0.7)
assert torch.equal(dropout.eval()(X), X)

# %% [markdown]
# ## Summary
#
# - A convolution's output side is $\lfloor (n + 2p - k)/s \rfloor + 1$; padding $(k-1)/2$ with
#   stride 1 keeps the size, stride 2 halves it.
# - Stride skips positions whose responses are near-duplicates and cuts computation, not
#   weights; but which responses survive depends on where a pattern lies, so a one-pixel shift
#   can change a strided map completely. Padding lets kernels find patterns at the border and
#   stops maps from shrinking.
# - A layer from $c_i$ to $c_o$ channels holds $c_i \times c_o$ 2-D kernels; a 1 × 1
#   convolution is a dense layer over channels applied at every pixel.
# - Max-pooling keeps the strongest response per window; it absorbs shifts that stay inside a
#   window and nothing more.
# - Two stacked 3 × 3 layers see the same 5 × 5 receptive field as one 5 × 5 layer with 18
#   instead of 25 weights (27 instead of 50 for two such maps); the price is that every layer
#   squeezes its windows, which images, with their alike neighbouring pixels, can afford.
#
# ## Exercises
#
# 1. **VGG's sizes.** A 224 × 224 image passes five times through a 3 × 3 convolution with
#    padding 1 and a 2 × 2 max-pool. What is the side after each stage?

# %% tags=["hide-cell"]
side, sides = 224, []
for _ in range(5):
    side = output_size(output_size(side, 3, 1, 1), 2, 0, 2)     # conv, then pool
    sides.append(side)
print(sides)
assert sides == [112, 56, 28, 14, 7]

# %% [markdown]
# 2. **Three layers.** What receptive field do three stacked 3 × 3 layers have, and how many
#    weights do they need compared with the single layer of the same field?

# %% tags=["hide-cell"]
three_3x3 = nn.Sequential(*[nn.Conv2d(1, 1, 3, bias=False) for _ in range(3)])
field = receptive_field(three_3x3)
three_weights = sum(p.numel() for p in three_3x3.parameters())
print("field", field, "| weights", three_weights, "vs 49")
assert field == (7, 7) and three_weights == 27

# %% [markdown]
# 3. **Two-pixel shifts.** Shift the outline by two pixels and compare the pooled maps again.
#    Can a 2 × 2 pool ever make two maps identical when the shift is two pixels?
# 4. **Stride instead of pooling.** Replace "3 × 3 convolution, then 2 × 2 max-pool" by one
#    3 × 3 convolution with stride 2. How many multiplications does each need for a 28 × 28
#    input and 16 output channels?

# %% tags=["hide-cell"]
X = torch.zeros(1, 1, 28, 28)
conv_then_pool = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2))
strided = nn.Conv2d(1, 16, 3, padding=1, stride=2)
cost = {}
for name, net in [("conv + pool", conv_then_pool), ("stride 2", strided)]:
    with FlopCounterMode(display=False) as counter:
        out = net(X)
    cost[name] = counter.get_total_flops() // 2                # multiply-adds
    print(f"{name}: output {tuple(out.shape)}, {cost[name]:,d} multiplications")
# Same output shape; the convolution before the pool runs at all 28 x 28 positions, the
# strided one at 14 x 14, so a quarter (the pool itself only compares, 3 per window).
assert cost == {"conv + pool": 28 * 28 * 16 * 9, "stride 2": 14 * 14 * 16 * 9}
