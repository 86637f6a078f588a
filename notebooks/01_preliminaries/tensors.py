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
# # Tensors
#
# Every model in this book, from a straight-line fit to a Transformer, comes down to numbers stored
# in tensors and operations on them. In this lesson you will learn how to create tensors, choose
# their data type, reshape and transpose them without copying, combine tensors of different shapes
# by broadcasting, pick out parts by indexing, and move them to a GPU. Along the way you will see
# how a tensor is laid out in memory, because that explains most of the surprises tensors hold.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import matplotlib.pyplot as plt
import numpy as np

# %% [markdown]
# ## What is a tensor?
#
# A single number, a list of numbers, a table of numbers and a stack of tables are all the same kind
# of object in PyTorch: a **[tensor](../../book/glossary.md#term-tensor)** (张量), a multi-dimensional
# array whose entries all have one type. A grayscale image is a table of pixel intensities; a batch
# of 64 colour images is a four-dimensional tensor with one axis for the images, one for the colour
# channels and two for the rows and columns of pixels.
#
# The number of entries along each axis is the tensor's
# **[shape](../../book/glossary.md#term-shape)** (形状), and the number of axes is its number of
# dimensions, `ndim`. Let's build a tensor from a nested Python list.

# %% tags=["nbval-check-output"]
X = torch.tensor([[1, 2, 3],
                  [4, 5, 6]])
print(X)
print("shape:", X.shape, "ndim:", X.ndim, "number of entries:", X.numel())

# %% [markdown]
# The outer list holds two rows, each with three numbers, so the shape is `(2, 3)`: rows first,
# then columns. A shape is an ordinary tuple, so you can compare it with one.

# %%
assert X.shape == (2, 3), f"expected shape (2, 3), got {tuple(X.shape)}"
assert X.ndim == 2 and X.numel() == 6, f"got ndim={X.ndim}, numel={X.numel()}"

# %% [markdown]
# With three dimensions, picture a stack of tables. `torch.arange(24)` counts from 0 to 23, and
# `.reshape(2, 3, 4)` arranges those 24 numbers into 2 tables of 3 rows and 4 columns. PyTorch
# prints a 3-D tensor one table at a time: the first index picks the table, the second the row,
# the last the column.

# %% tags=["nbval-check-output"]
cube = torch.arange(24).reshape(2, 3, 4)
print(cube)
print(cube.shape)

# %% [markdown]
# The last index varies fastest: `cube[0, 0, :]` is 0, 1, 2, 3 and `cube[1, 0, 0]` is 12, one full
# table (3 × 4 = 12 numbers) further on.

# %%
assert cube[0, 0].tolist() == [0, 1, 2, 3], f"first row is {cube[0, 0].tolist()}"
assert cube[1, 0, 0].item() == 12, f"the second table starts at {cube[1, 0, 0].item()}"

# %% [markdown]
# ## Creating tensors
#
# You rarely type tensors in by hand. PyTorch has a function for each common starting point, and
# most of them take the shape as their arguments:
#
# - `torch.tensor(data)` copies numbers from a list or array; its `dtype=` argument picks the
#   type, and its `requires_grad=` argument belongs to the next lesson, on automatic
#   differentiation;
# - `torch.zeros(2, 3)` and `torch.ones(2, 3)` fill a tensor with 0 or 1;
# - `torch.full((2, 3), 7)` fills it with any value you like;
# - `torch.arange(start, stop, step)` counts, like Python's `range`;
# - `torch.zeros_like(X)` and `torch.ones_like(X)` copy the shape, type and device of an
#   existing tensor `X`, which saves you from repeating them; `torch.rand_like` needs a floating
#   tensor, so for our integer `X` write `torch.rand_like(X.float())`.

# %% tags=["nbval-check-output"]
print(torch.zeros(2, 3))
print(torch.full((2, 3), 7))
print(torch.arange(1, 10, 2))
print(torch.ones_like(X))

# %% [markdown]
# For random tensors, `torch.rand` draws from the *uniform* distribution on $[0, 1)$, where every
# value is equally likely, and `torch.randn` draws from the *standard normal* distribution: mean 0,
# standard deviation 1, so it produces negative numbers and numbers above 1 too. Random numbers
# differ on each run unless you fix the seed of the generator; `d2lite.seed_everything(0)` seeds
# Python's, NumPy's and PyTorch's generators at once, so this page shows the same numbers every
# time.

# %%
d2lite.seed_everything(0)
uniform = torch.rand(100_000)
normal = torch.randn(100_000)
print(torch.rand(2, 3))

# %% [markdown]
# [Figure 1](#fig-tensors-rand-randn) shows the difference: a flat block between 0 and 1 for
# `rand`, a bell centred on 0 for `randn`.

# %% mystnb={"figure": {"caption": "Histograms of 100,000 draws of torch.rand (uniform on [0, 1)) and of torch.randn (standard normal).", "name": "fig-tensors-rand-randn"}}
bins = np.linspace(-4, 4, 81)   # the same bins, 0.1 wide, for both samples
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.hist(uniform.numpy(), bins=bins, density=True, alpha=0.6,
        label="torch.rand: uniform on [0, 1)")
ax.hist(normal.numpy(), bins=bins, density=True, alpha=0.6,
        label="torch.randn: mean 0, std 1")
ax.set_xlabel("value")
ax.set_ylabel("density")
ax.set_ylim(0, 1.4)   # leave room for the legend
ax.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# We can check these claims on the 100,000 samples. For a standard normal, about 68 % of the values
# lie within one standard deviation of the mean, that is in $[-1, 1]$.

# %%
assert 0 <= uniform.min() and uniform.max() < 1, "torch.rand left [0, 1)"
assert abs(normal.mean()) < 0.01, f"randn mean {normal.mean():.4f} is not close to 0"
assert abs(normal.std() - 1) < 0.01, f"randn std {normal.std():.4f} is not close to 1"
within_one = (normal.abs() <= 1).float().mean().item()
print(f"mean {normal.mean():.3f}, std {normal.std():.3f}, "
      f"share in [-1, 1]: {within_one:.3f}")
assert 0.67 < within_one < 0.69, f"{within_one:.3f} lie in [-1, 1], not about 0.68"

# %% [markdown]
# ## Data types
#
# Every entry of a tensor has the same **[dtype](../../book/glossary.md#term-dtype)** (数据类型): how
# many bits it takes and how those bits are read, as an integer, a floating-point number or a
# true/false value. NumPy and PyTorch name their types almost identically. The table lists the ones
# you will meet.
#
# | kind | bits | NumPy | PyTorch (alias) | where you meet it |
# |---|---|---|---|---|
# | boolean | 8 | `np.bool_` | `torch.bool` | masks, comparisons |
# | unsigned integer | 8 | `np.uint8` | `torch.uint8` | image pixels, 0 to 255 |
# | signed integer | 32 | `np.int32` | `torch.int32` (`torch.int`) | indices from other libraries |
# | signed integer | 64 | `np.int64` | `torch.int64` (`torch.long`) | class labels, indices, token ids |
# | floating point | 16 | `np.float16` | `torch.float16` (`torch.half`) | mixed-precision training on GPUs |
# | brain floating point | 16 | none | `torch.bfloat16` | mixed precision on recent GPUs and TPUs |
# | floating point | 32 | `np.float32` | `torch.float32` (`torch.float`) | weights and data in PyTorch |
# | floating point | 64 | `np.float64` | `torch.float64` (`torch.double`) | NumPy's default; precise checks |
# | complex | 64 | `np.complex64` | `torch.complex64` | Fourier transforms |
#
# Let's confirm the table: the number of bits of each PyTorch type, and that converting a NumPy
# array of each NumPy type gives the PyTorch type in the same row.

# %%
table = [(np.bool_, torch.bool, 8), (np.uint8, torch.uint8, 8),
         (np.int32, torch.int32, 32), (np.int64, torch.int64, 64),
         (np.float16, torch.float16, 16), (np.float32, torch.float32, 32),
         (np.float64, torch.float64, 64), (np.complex64, torch.complex64, 64)]
for np_type, torch_type, bits in table:
    assert torch_type.itemsize * 8 == bits, f"{torch_type} should have {bits} bits"
    converted = torch.from_numpy(np.zeros(2, dtype=np_type)).dtype
    assert converted == torch_type, f"{np_type.__name__} became {converted}"
assert torch.bfloat16.itemsize * 8 == 16, "bfloat16 should take 16 bits"

# %% [markdown]
# ### Defaults differ between NumPy and PyTorch
#
# Deep learning trades precision for speed and memory, so PyTorch's default floating-point type is
# 32-bit `float32`, while NumPy's is 64-bit `float64`. Integers default to `int64` in PyTorch.

# %% tags=["nbval-check-output"]
print(torch.tensor([1.0, 2.0]).dtype, torch.tensor([1, 2]).dtype,
      np.array([1.0, 2.0]).dtype)
print(torch.get_default_dtype())

# %%
assert torch.tensor([1.0]).dtype == torch.float32, "PyTorch floats should be float32"
assert torch.tensor([1]).dtype == torch.int64, "PyTorch integers should be int64"
assert np.array([1.0]).dtype == np.float64, "NumPy floats should default to float64"

# %% [markdown]
# How precise is each float type? The bits of a floating-point number are split into a sign, an
# exponent (which sets the range) and a fraction (which sets the precision). With $f$ fraction bits,
# the gap between 1 and the next larger number the type can hold, called its *machine epsilon*, is
# $2^{-f}$. `float32` has 23 fraction bits, so its epsilon is $2^{-23} \approx 1.2 \times 10^{-7}$:
# about seven significant decimal digits. `float16` has 10 fraction bits and `bfloat16` only 7,
# but `bfloat16` keeps float32's 8 exponent bits, so it reaches about $3.4 \times 10^{38}$ where
# `float16` stops at 65,504.

# %%
fraction_bits = {torch.float16: 10, torch.bfloat16: 7,
                 torch.float32: 23, torch.float64: 52}
for dtype, f in fraction_bits.items():
    eps = torch.finfo(dtype).eps
    assert eps == 2.0 ** -f, f"{dtype}: epsilon {eps} is not 2**-{f}"
    print(f"{str(dtype):15} epsilon {eps:.1e}   largest {torch.finfo(dtype).max:.3g}")
eps32 = torch.finfo(torch.float32).eps
assert 1.15e-7 < eps32 < 1.25e-7, f"float32's epsilon {eps32:.3g} is not about 1.2e-7"
assert torch.finfo(torch.float16).max == 65504, "float16 should stop at 65,504"
bf16_max = torch.finfo(torch.bfloat16).max
assert 3.35e38 < bf16_max < 3.45e38, f"bfloat16 reaches {bf16_max:.3g}, not 3.4e38"

# %% [markdown]
# So adding $10^{-8}$ to 1 changes nothing in `float32`, but it does in `float64`. This is one
# reason later lessons compare gradients in `float64` when they need many digits.

# %%
one = torch.tensor(1.0)
assert one + 1e-8 == one, "float32 should not see a change of 1e-8 at 1.0"
assert one.double() + 1e-8 != one.double(), "float64 should see a change of 1e-8 at 1.0"

# %% [markdown]
# ### Converting types
#
# `.to(dtype)` converts a tensor, and the short forms `.float()`, `.double()`, `.long()` do the
# same. Converting floats to integers drops the fraction, rounding towards zero. When you combine
# tensors of different types, PyTorch *promotes* the result to a common type: an integer tensor
# plus a float tensor gives a floating type (`float32` here), which may lose large integers, such
# as $2^{24} + 1$, which `float32` rounds to $2^{24}$.

# %% tags=["nbval-check-output"]
print(torch.tensor([2.7, -2.7]).long())
print(torch.tensor([1, 2]) + torch.tensor([0.5, 0.5]))
print((torch.ones(2) + torch.ones(2, dtype=torch.float64)).dtype)

# %%
assert torch.tensor([2.7, -2.7]).long().tolist() == [2, -2], "float to int truncates"
assert (torch.tensor([1]) + torch.tensor([0.5])).dtype == torch.float32, "int + f32"
assert (torch.ones(1) + torch.ones(1).double()).dtype == torch.float64, "f32 + f64: f64"
big = torch.tensor([2**24 + 1]) + torch.tensor([0.0])      # int64 + float32 -> float32
assert big.item() == 2**24, f"got {big.item():.0f}: float32 rounds 2**24 + 1 to 2**24"

# %% [markdown]
# ### From NumPy and back: sharing versus copying
#
# There are two ways to turn a NumPy array into a tensor, and they differ in a way that matters.
# `torch.from_numpy(a)` wraps the array's memory: no numbers are copied, so a change to one shows up
# in the other. `torch.tensor(a)` copies the numbers into new memory. Both keep NumPy's dtype, so
# an array of floats becomes a `float64` tensor.

# %% tags=["nbval-check-output"]
a = np.array([1.0, 2.0, 3.0])
shared = torch.from_numpy(a)   # same memory as a
copied = torch.tensor(a)       # new memory
a[0] = 100.0                   # change the NumPy array
print("shared:", shared)
print("copied:", copied)

# %%
assert shared[0] == 100 and copied[0] == 1, "from_numpy shares, torch.tensor copies"
assert np.shares_memory(a, shared.numpy()) and not np.shares_memory(a, copied.numpy())
assert shared.dtype == torch.float64, f"from_numpy gave {shared.dtype}, not float64"

# %% [markdown]
# Going back, `tensor.numpy()` also shares memory with a CPU tensor. Sharing is fast and saves
# memory; copying protects you from surprises.
#
# One surprise to remember: a `float64` tensor from NumPy fed into a model whose weights are
# `float32` raises an error about mismatched types. Here the model is a single linear layer, which
# you will meet properly in chapter 2. Convert once, with `torch.from_numpy(a).float()` or
# `torch.tensor(a, dtype=torch.float32)`, and it works.

# %%
layer = torch.nn.Linear(3, 1)              # its weights are float32
try:
    layer(shared)                          # shared is float64
    mismatch_failed = False
except RuntimeError as err:
    mismatch_failed = True
    print("RuntimeError:", err)
assert mismatch_failed, "a float64 input to a float32 layer should raise an error"
assert layer(shared.float()).shape == (1,), "after .float() the layer accepts the input"

# %% [markdown]
# ## Views, strides and reshaping
#
# A tensor is two things: a block of memory, the *storage*, that holds the numbers in one long row,
# and a description of how to read that row as a grid. Changing only the description gives a
# **[view](../../book/glossary.md#term-view)** (视图): a new tensor object that looks at the same
# memory. Creating a view is instant whatever the size, because no number moves.
#
# `flat.view(3, 4)` reads 12 numbers as 3 rows of 4. Let's check that the view shares memory:
# `data_ptr()` gives the address of the first entry, and writing through the view changes the
# original.

# %% tags=["nbval-check-output"]
flat = torch.arange(12)
grid = flat.view(3, 4)        # (3, 4), same storage as flat
grid[0, 0] = 100              # write through the view
print(grid)
print(flat)

# %%
assert grid.data_ptr() == flat.data_ptr(), "a view should start at the same address"
assert flat[0] == 100, "a change made through the view should show in the original"

# %% [markdown]
# When you want an independent copy, use `.clone()`: it allocates new memory, so changes to the
# copy leave the original alone.

# %%
copy = grid.clone()
copy[0, 0] = -1
assert copy.data_ptr() != grid.data_ptr(), "clone should allocate new memory"
assert grid[0, 0] == 100 and flat[0] == 100, "changing a clone changed the original"
flat[0] = 0  # put the original value back

# %% [markdown]
# One dimension may be given as `-1`: PyTorch works it out from the number of entries, so
# `flat.view(-1, 6)` on 12 numbers has 2 rows.

# %%
assert flat.view(-1, 6).shape == (2, 6), f"got {tuple(flat.view(-1, 6).shape)}"

# %% [markdown]
# ### Strides
#
# How does a view know where entry `[i, j]` lives? Through its
# **[stride](../../book/glossary.md#term-stride)** (步长): for each dimension, how many places to move
# along the storage to step one index along that dimension. For our 3 × 4 grid, the next column is 1
# place on and the next row 4 places on, so the stride is `(4, 1)` and entry `[i, j]` sits at offset
#
# $$
# \text{offset}(i, j) = 4i + 1j.
# $$
#
# A tensor whose entries lie in storage in row-by-row order, with no gaps, like this one, is called
# **[contiguous](../../book/glossary.md#term-contiguous)** (连续).

# %%
print("stride:", grid.stride(), " contiguous:", grid.is_contiguous())
i, j = 2, 1
assert grid.stride() == (4, 1), f"stride is {grid.stride()}, expected (4, 1)"
offset_bytes = (4 * i + 1 * j) * grid.element_size()
assert grid[i, j].data_ptr() == grid.data_ptr() + offset_bytes, "[i, j] is at 4i + j"

# %% [markdown]
# Transposing swaps rows and columns. PyTorch does not move any number to do it: `grid.t()` is a
# view with the strides swapped, `(1, 4)`. The next column is now 4 places on, the next row 1.
# [Figure 2](#fig-tensors-strides) shows this. Because `grid` holds 0 to 11 in order, every number is also its offset in
# storage, and the colours mark the offsets. The top strip is the storage; below it, the two views
# read the same cells in different orders.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "One storage, two views. Top: the 12 numbers of grid in memory; the colour of a cell marks its offset. Bottom: grid and its transpose grid.t() read the same cells with swapped strides.", "name": "fig-tensors-strides"}}
d2lite.diagrams.storage_views({"grid": grid, "grid.t()": grid.t()})

# %% [markdown]
# The checks: the transpose starts at the same address, has the swapped stride, and is no longer
# contiguous, since reading it row by row jumps around the storage.

# %%
grid_t = grid.t()   # (4, 3)
assert grid_t.data_ptr() == grid.data_ptr(), "t() should return a view, not a copy"
assert grid_t.stride() == (1, 4), f"the transpose has stride {grid_t.stride()}"
assert not grid_t.is_contiguous(), "a transposed 3 x 4 grid should not be contiguous"

# %% [markdown]
# ### `.t()`, `.T` and `.t_()`: which one copies?
#
# PyTorch offers three spellings of the transpose, and the source notes describe them as a
# *copy* (`x.t()` returns a deep copy), a *view* (`x.T`, "a shallow copy") and an *in-place*
# change (`x.t_()`). The first of those is a common misconception: `x.t()` copies nothing. For a
# tensor with at most two dimensions, `x.t()` and `x.T` are the same operation, and both return
# a view; only `x.t_()` is different, because it changes `x` itself (you will meet it again
# under in-place operations below).
#
# You can test whether two tensors share memory in two ways. `data_ptr()` is the address of a
# tensor's *first* entry, which may differ between views of one storage (a slice starting at
# offset 2, for instance), while `untyped_storage().data_ptr()` is the address of the storage
# itself. The decisive test is behavioural: write through the transpose and look at the original.

# %% tags=["nbval-check-output"]
m = torch.arange(6).reshape(2, 3)   # (2, 3)
m_t, m_T = m.t(), m.T               # (3, 2) each
m_t[0, 1] = 100                     # entry [0, 1] of the transpose is entry [1, 0] of m
print(m)
print(m_T)

# %% [markdown]
# The write through `m.t()` changed `m`, and `m.T` sees it too: all three names read one storage.
# When you do want an independent transpose, ask for it: `m.t().clone()`, or `m.t().contiguous()`,
# which copies here because the transpose is not contiguous.

# %%
storage = m.untyped_storage().data_ptr()
for name, v in [("m.t()", m_t), ("m.T", m_T)]:
    assert v.untyped_storage().data_ptr() == storage, f"{name} should share m's storage"
assert m[1, 0] == 100 and m_T[0, 1] == 100, "a write through m.t() shows in m and m.T"
own = m.t().clone()
own[0, 0] = -1
assert own.untyped_storage().data_ptr() != storage and m[0, 0] == 0, "clone() copies"
assert m.t().contiguous().untyped_storage().data_ptr() != storage, "contiguous() copies"

# %% [markdown]
# ### `view` versus `reshape`
#
# `view` never copies, so it only works when the new shape can be described by strides over the
# existing storage. Flattening the transpose into one row of 12 cannot: the numbers would have to be
# read in the order 0, 4, 8, 1, 5, ..., which no single stride gives. `view` refuses with an error;
# `reshape` returns a view when it can and a copy when it must. Being non-contiguous is not
# enough to force a copy: splitting the transpose's first dimension, `grid_t.reshape(2, 2, 3)`,
# is still a view, because strides can express it.

# %%
try:
    grid_t.view(12)
except RuntimeError as err:
    print("view failed:", err)
flat_t = grid_t.reshape(12)   # (12,) copied into new memory, in the transposed order
print(flat_t)

# %%
assert flat_t.data_ptr() != grid.data_ptr(), "reshape copies when strides cannot do it"
assert grid_t.reshape(2, 2, 3).data_ptr() == grid.data_ptr(), "...and not when they can"
assert grid.reshape(2, 6).data_ptr() == grid.data_ptr(), "...as for contiguous tensors"
assert flat_t.tolist()[:4] == [0, 4, 8, 1], f"got {flat_t.tolist()[:4]}"

# %% [markdown]
# `.contiguous()` does the copying explicitly: it returns the tensor itself if it is already
# contiguous and a row-by-row copy otherwise. Use `reshape` when you just want a shape; use `view`
# when you rely on sharing memory and want an error if that is impossible.

# %%
assert grid.contiguous() is grid, "contiguous() of a contiguous tensor should return it"
assert grid_t.contiguous().is_contiguous(), "contiguous() should give a row-by-row copy"
assert grid_t.contiguous().data_ptr() != grid_t.data_ptr(), "...in new memory"

# %% [markdown]
# ## Transposing and permuting dimensions
#
# Beyond two dimensions, "the transpose" is ambiguous, so `.t()` only accepts tensors with at most
# two dimensions. For more, you name the dimensions (counted from 0):
#
# - `x.transpose(1, 2)` swaps dimensions 1 and 2;
# - `x.permute(2, 0, 1)` puts them in any order: the new dimension 0 is the old dimension 2, the new
#   1 is the old 0, the new 2 is the old 1.
#
# Both return views, like `.t()`. We use `cube`, of shape `(2, 3, 4)`, from the start of the lesson.

# %% tags=["nbval-check-output"]
print(cube.transpose(1, 2).shape)
print(cube.permute(2, 0, 1).shape)
print(cube.transpose(1, 2)[0])

# %% [markdown]
# `transpose(1, 2)` turned each 3 × 4 table into its 4 × 3 transpose, and `permute(0, 2, 1)` does
# exactly the same. After `permute(2, 0, 1)`, entry `[k, i, j]` is the old entry `[i, j, k]`.

# %%
swapped = cube.transpose(1, 2)  # (2, 4, 3)
assert swapped.shape == (2, 4, 3), f"got {tuple(swapped.shape)}"
moved = cube.permute(2, 0, 1)   # (4, 2, 3)
assert moved.shape == (4, 2, 3), f"got {tuple(moved.shape)}"
assert torch.equal(cube.permute(0, 2, 1), swapped), "should equal transpose(1, 2)"
assert moved[3, 1, 2] == cube[1, 2, 3], "permute(2, 0, 1) maps [i, j, k] to [k, i, j]"
assert moved.data_ptr() == cube.data_ptr(), "permute should return a view"
try:
    cube.t()
    t_failed = False
except RuntimeError:
    t_failed = True
assert t_failed, ".t() should refuse a 3-D tensor"

# %% [markdown]
# Where do you need this? Images. NumPy, PIL and matplotlib store a colour image as
# (height, width, channels), while PyTorch's convolution layers expect (channels, height, width).
# One `permute` converts between them, and `.mT` transposes the last two dimensions of a batch of
# matrices.

# %%
image_hwc = torch.rand(32, 48, 3)          # (height, width, channels)
image_chw = image_hwc.permute(2, 0, 1)     # (channels, height, width)
assert image_chw.shape == (3, 32, 48), f"got {tuple(image_chw.shape)}"
assert cube.mT.shape == (2, 4, 3), f"got {tuple(cube.mT.shape)}"

# %% [markdown]
# ## In-place operations
#
# Most operations build a new tensor for their result: `x + 1` leaves `x` alone. Methods whose names
# end in an underscore, such as `add_`, `mul_`, `zero_` and `t_`, are
# **[in-place operations](../../book/glossary.md#term-in-place-operation)** (原地操作): they overwrite
# the tensor's own memory and allocate nothing new.
#
# Is `x.add_(1)` the same as `x = x + 1`? Not when a second name refers to the same tensor. The
# in-place version changes the one tensor both names share; the other builds a new tensor and
# moves only the name `x` to it.

# %% tags=["nbval-check-output"]
x = torch.zeros(3)
alias = x              # a second name for the same tensor, not a copy
x.add_(1)              # in place: both names see [1, 1, 1]
print("after add_: x =", x, " alias =", alias)
x = x + 1              # out of place: x now names a new tensor
print("after x + 1: x =", x, " alias =", alias)

# %%
assert alias.tolist() == [1, 1, 1], f"alias should have seen add_, got {alias.tolist()}"
assert x.tolist() == [2, 2, 2], f"x should be [2, 2, 2], got {x.tolist()}"
assert x.data_ptr() != alias.data_ptr(), "x + 1 should be a new tensor"

# %% [markdown]
# The augmented assignment `x += 1` is in place too. `t_()` transposes in place: it changes the
# tensor's own shape and strides.

# %%
address = x.data_ptr()
x += 1
assert x.data_ptr() == address and x.tolist() == [3, 3, 3], "x += 1 works in place"
m = torch.arange(6).reshape(2, 3)
m.t_()
assert m.shape == (3, 2), f"t_() should transpose m in place, got {tuple(m.shape)}"

# %% [markdown]
# In-place operations save memory, but they destroy values that automatic differentiation may need
# later, so PyTorch sometimes refuses them during training. Prefer the ordinary versions unless you
# have a reason; the main one in this book is updating a model's parameters, which the optimiser
# does in place.

# %% [markdown]
# ## Broadcasting
#
# Adding two tensors of the same shape adds them entry by entry. What about a column of 3 numbers
# plus a row of 4? PyTorch, like NumPy, uses
# **[broadcasting](../../book/glossary.md#term-broadcasting)** (广播): it stretches both to a common
# shape, here 3 × 4, without copying, and then works entry by entry. The rules:
#
# 1. Line up the two shapes from the right; if one has fewer dimensions, pad it on the left with 1s.
# 2. Compare the sizes in each position: they must be equal, or one of them must be 1.
# 3. A size-1 dimension is stretched to match the other; the result takes the larger size in each
#    position.
#
# For a column of shape `(3, 1)` plus a row of shape `(4,)`: pad the row to `(1, 4)`; position by
# position, 3 meets 1 and 1 meets 4; both 1s are stretched, so the result has shape `(3, 4)`.

# %% tags=["nbval-check-output"]
col = torch.tensor([[0], [10], [20]])   # (3, 1)
row = torch.tensor([0, 1, 2, 3])        # (4,)
total = col + row                       # (3, 4)
print(total)

# %% [markdown]
# [Figure 3](#fig-tensors-broadcast) shows what happened. The pale dashed cells are the stretched
# copies: PyTorch never stores them, it just reads the same number again.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Broadcasting a column of shape (3, 1) and a row of shape (4,) to (3, 4). Pale dashed cells are stretched copies that are never stored.", "name": "fig-tensors-broadcast"}}
d2lite.diagrams.broadcast_sum(col, row, names=("col", "row"))

# %% [markdown]
# The result equals adding explicit copies, and `torch.broadcast_shapes` applies the rules to
# shapes alone. Strides show why the stretching is free: the stretched dimension of
# `col.expand(3, 4)` has stride 0, so moving along it stays on the same number.

# %%
assert total.shape == (3, 4), f"the result has shape {tuple(total.shape)}, not (3, 4)"
assert torch.equal(total, col.repeat(1, 4) + row.repeat(3, 1)), "equals the copies"
assert torch.broadcast_shapes((3, 1), (4,)) == (3, 4)
assert torch.broadcast_shapes((2, 1, 4), (3, 1)) == (2, 3, 4)
stretched = col.expand(3, 4).stride()
assert stretched == (1, 0), f"stride {stretched}, expected (1, 0)"

# %% [markdown]
# A typical use: centring data. `data` holds 100 examples (rows) of 3 features (columns);
# `data.mean(dim=0)` has shape `(3,)`, one mean per column, and broadcasting subtracts it from every
# row. Afterwards each column has mean 0, up to float32 rounding.

# %%
d2lite.seed_everything(0)
data = 5 + 2 * torch.randn(100, 3)        # (100, 3)
centred = data - data.mean(dim=0)         # (100, 3) - (3,) -> (100, 3)
assert centred.shape == (100, 3), f"got {tuple(centred.shape)}"
assert centred.mean(dim=0).abs().max() < 1e-5, "every column should now have mean 0"

# %% [markdown]
# Broadcasting is convenient and silent, which makes it the source of a classic bug. A model that
# predicts one number per example often returns shape `(n, 1)`, while the targets have shape `(n,)`.
# Their difference does not fail: it broadcasts to `(n, n)`, every prediction minus every target,
# and a loss computed from it is quietly wrong. Check shapes whenever you mix them.

# %%
predictions = torch.zeros(5, 1)   # (n, 1)
targets = torch.ones(5)           # (n,)
assert (predictions - targets).shape == (5, 5), "(n, 1) - (n,) broadcasts to (n, n)"
assert (predictions.squeeze(1) - targets).shape == (5,), "squeeze the 1 away: (n,)"

# %% [markdown]
# When the sizes in some position differ and neither is 1, there is no way to stretch, and PyTorch
# raises an error: a row of 3 cannot be added to a row of 4.

# %%
try:
    torch.ones(3) + torch.ones(4)
    broadcast_failed = False
except RuntimeError as err:
    broadcast_failed = True
    print("RuntimeError:", err)
assert broadcast_failed, "(3,) + (4,) should not broadcast"

# %% [markdown]
# ## Indexing and slicing
#
# Indexing works as in Python lists and NumPy, one index or slice per dimension: `start:stop:step`,
# with negative numbers counting from the end. A single integer removes its dimension; a slice keeps
# it, even if it selects only one entry.

# %% tags=["nbval-check-output"]
grid = torch.arange(12).reshape(3, 4)
print(grid)
print(grid[1])          # row 1, shape (4,)
print(grid[:, 2])       # column 2, shape (3,)
print(grid[-1, 1:3])    # last row, columns 1 and 2
print(grid[::2, ::3])   # every other row, every third column

# %%
assert grid[1].shape == (4,) and grid[1:2].shape == (1, 4), "an integer drops a dim"
assert grid[:, 2].tolist() == [2, 6, 10], f"column 2 is {grid[:, 2].tolist()}"
assert grid[::2, ::3].tolist() == [[0, 3], [8, 11]], f"got {grid[::2, ::3].tolist()}"

# %% [markdown]
# Slices are views: a column of `grid` is the storage read with stride 4, starting at offset 2.
# So a change made through a slice shows up in the original. Assigning to a slice, as in
# `grid[:, 2] = -1`, uses this and is the usual way to set part of a tensor.

# %% tags=["nbval-check-output"]
column = grid[:, 2]    # a view: shape (3,), stride (4,)
column.fill_(-1)       # in place, through the view
print(grid)

# %%
assert column.stride() == (4,), f"the column's stride is {column.stride()}, not (4,)"
offset_2 = grid.data_ptr() + 2 * grid.element_size()
assert column.data_ptr() == offset_2, "the column should start at offset 2"
assert (grid[:, 2] == -1).all() and grid[0, 1] == 1, "only column 2 should have changed"

# %% [markdown]
# ### Boolean masks
#
# A comparison such as `grid > 5` gives a tensor of `True` and `False` of the same shape, a *mask*.
# Indexing with a mask picks the entries where it is `True`, as a 1-D tensor; assigning through a
# mask changes exactly those entries. `torch.where(mask, a, b)` takes from `a` where the mask is
# `True` and from `b` elsewhere.

# %% tags=["nbval-check-output"]
grid = torch.arange(12).reshape(3, 4)
mask = grid > 5                          # (3, 4) of bool
print(mask)
print(grid[mask])                        # (number of True,)
print(torch.where(mask, grid, 0))        # keep entries > 5, zero elsewhere

# %% [markdown]
# Six entries, 6 to 11, pass the test. Unlike a slice, indexing with a mask (or with a list of
# indices) copies, because the selected entries are not evenly spaced in memory.

# %%
picked = grid[mask]
assert mask.dtype == torch.bool and mask.sum() == 6, f"{mask.sum()} entries > 5, not 6"
assert picked.tolist() == [6, 7, 8, 9, 10, 11], f"got {picked.tolist()}"
picked[0] = 100
assert grid[1, 2] == 6, "changing a masked selection should not change the original"
grid[grid % 2 == 1] = 0                  # assigning through a mask does change it
assert grid.sum() == 0 + 2 + 4 + 6 + 8 + 10, f"odd entries should be 0: {grid.sum()}"

# %% [markdown]
# ## Moving to a device
#
# Every tensor lives on a **[device](../../book/glossary.md#term-device)** (设备): the CPU's main
# memory, or the memory of a GPU. An operation runs on the device where its inputs live, and all
# inputs must be on the same one; mixing a CPU tensor and a GPU tensor raises an error.
# `d2lite.try_gpu()` returns the first GPU when there is one and the CPU otherwise, so the same code
# runs everywhere. You can create a tensor directly on a device, or copy one there with
# `.to(device)`.

# %%
device = d2lite.try_gpu()
print("computing on", device)
A = torch.ones(2, 3, device=device)        # created on the device
B = torch.rand(2, 3).to(device)            # created on the CPU, then copied
C = A + B
assert C.device.type == device.type, f"the result is on {C.device}, expected {device}"

# %% [markdown]
# Copies between the CPU and a GPU travel over a connection (such as PCIe) that is much slower than
# the GPU's own memory, so each one costs time. Move your model to the device once, move each batch
# of data once, and bring back only the small results you need, such as a loss, with `.item()` or
# `.cpu()`. NumPy only understands CPU memory, so a GPU tensor needs `.cpu()` before `.numpy()`.
# When a tensor is already on the target device, `.to` does no work and returns the same tensor.

# %%
total_sum = C.sum().item()                 # a Python float, copied back to the CPU
assert isinstance(total_sum, float), f".item() gave {type(total_sum)}, not a float"
assert C.to(device) is C, ".to() onto the tensor's own device should return it as is"
assert isinstance(C.cpu().numpy(), np.ndarray), "a CPU copy converts to NumPy"
if device.type != "cpu":  # only where there is a GPU: mixing devices must fail
    try:
        A + torch.ones(2, 3)
        mixed_failed = False
    except RuntimeError:
        mixed_failed = True
    assert mixed_failed, "adding a CPU tensor to a GPU tensor should raise an error"
    try:
        C.numpy()
        numpy_failed = False
    except TypeError:
        numpy_failed = True
    assert numpy_failed, "a GPU tensor should need .cpu() before .numpy()"

# %% [markdown]
# ## Summary
#
# - A tensor is a multi-dimensional array of one dtype with a shape. Create one with
#   `torch.tensor`, `zeros`, `ones`, `full`, `arange`, `rand` (uniform on $[0, 1)$), `randn`
#   (standard normal) or the `*_like` variants, and fix seeds with `d2lite.seed_everything`.
# - PyTorch defaults to `float32` and `int64`, NumPy to `float64`. `torch.from_numpy` shares the
#   array's memory, `torch.tensor` copies it; both keep NumPy's dtype.
# - A tensor is storage plus a shape and strides. `view`, `.t()` and `.T` (both views: neither
#   copies), `transpose`, `permute`, `expand` and slicing return views that share memory; `clone`
#   and mask indexing copy. `view` refuses what
#   strides cannot express; `reshape` copies only when the strides cannot express the new shape.
# - Methods ending in `_` work in place; other names for the same tensor see the change.
# - Broadcasting lines shapes up from the right and stretches size-1 dimensions for free. Watch
#   for `(n, 1)` meeting `(n,)`.
# - Keep the tensors of one computation on one device, chosen with `d2lite.try_gpu()`, and copy
#   between CPU and GPU as rarely as you can.

# %% [markdown]
# ## Exercises
#
# 1. **Predict broadcast shapes.** For each pair of shapes below, write down the shape of the sum,
#    as a tuple such as `(5, 6)`, or `"error"` if they cannot be broadcast. Put your answers in
#    place of the `None`s and run the cell to check them.

# %%
def check_shapes(answers):
    """Compare your predicted broadcast shapes (a tuple or "error") with PyTorch's."""
    for (a, b), answer in answers.items():
        try:
            truth = tuple(torch.broadcast_shapes(a, b))
        except RuntimeError:
            truth = "error"
        if answer is None:
            print(f"{a} with {b}: not answered yet")
            continue
        assert answer == truth, f"{a} with {b}: you said {answer}, PyTorch says {truth}"
        print(f"{a} with {b}: {answer} is right")


check_shapes({((5, 1), (1, 6)): None,
              ((2, 3, 4), (4,)): None,
              ((2, 3, 4), (3, 1)): None,
              ((3,), (3, 1)): None,
              ((2, 3), (3, 2)): None})

# %% [markdown]
# A solution: line the shapes up from the right, pad with 1s, and stretch the 1s. In the last
# pair, 3 meets 2 and 2 meets 3, and neither is 1.

# %% tags=["hide-cell"]
check_shapes({((5, 1), (1, 6)): (5, 6),
              ((2, 3, 4), (4,)): (2, 3, 4),
              ((2, 3, 4), (3, 1)): (2, 3, 4),
              ((3,), (3, 1)): (3, 3),
              ((2, 3), (3, 2)): "error"})

# %% [markdown]
# 2. **Strides of a permuted tensor.** For `cube = torch.arange(24).reshape(2, 3, 4)`, predict
#    `cube.stride()` and `cube.permute(2, 0, 1).stride()` without running code, then check. Is the
#    permuted tensor contiguous? Predict what `cube.permute(2, 0, 1).reshape(-1)[:5]` gives and
#    explain why `view(-1)` fails on it.

# %% tags=["hide-cell"]
moved = cube.permute(2, 0, 1)   # (4, 2, 3)
print("strides:", cube.stride(), moved.stride(), " contiguous:", moved.is_contiguous())
print("first five, read row by row:", moved.reshape(-1)[:5].tolist())
assert cube.stride() == (12, 4, 1), "a new table every 12 numbers, a row every 4"
assert moved.stride() == (1, 12, 4), "permute reorders the strides like the dimensions"
assert not moved.is_contiguous(), "reading it row by row jumps around the storage"
assert moved.reshape(-1)[:5].tolist() == [0, 4, 8, 12, 16], "moved[0] is cube[:, :, 0]"
try:
    moved.view(-1)
    view_failed = False
except RuntimeError:
    view_failed = True
assert view_failed, "no single stride reads 0, 4, ..., 20, 1, 5, ...: view(-1) fails"

# %% [markdown]
# 3. **Standardise with broadcasting.** Write `standardize(X)` that takes a tensor of shape
#    `(n, d)` and returns a tensor of the same shape in which every column has mean 0 and standard
#    deviation 1 (use `X.mean(dim=0)` and `X.std(dim=0)`), in one line and without a Python loop.
#    Then run `check_standardize(standardize)`, which compares it with a column-by-column loop.

# %%
def standardize(X):
    """Return X with every column shifted to mean 0 and scaled to std 1. X: (n, d)."""
    return None  # replace this line with your one-line answer


def check_standardize(fn):
    """Test fn against a column-by-column loop on random data."""
    seeded = torch.Generator().manual_seed(1)
    X = 3 + 2 * torch.randn(50, 4, generator=seeded)  # (50, 4)
    result = fn(X)
    if result is None:
        print("standardize() returns None: write it, then run this cell again")
        return
    assert result.shape == X.shape, f"got shape {tuple(result.shape)}, not (50, 4)"
    for j in range(X.shape[1]):
        column = X[:, j]
        expected = (column - column.mean()) / column.std()
        assert torch.allclose(result[:, j], expected, atol=1e-5), f"column {j} is wrong"
    print("standardize() is correct")


check_standardize(standardize)

# %% [markdown]
# A solution: both statistics have shape `(d,)`, so broadcasting applies them to every row.

# %% tags=["hide-cell"]
def standardize(X):
    """Return X with every column shifted to mean 0 and scaled to std 1. X: (n, d)."""
    return (X - X.mean(dim=0)) / X.std(dim=0)   # (n, d) - (d,), then / (d,)


check_standardize(standardize)

# %% [markdown]
# 4. **Three ways to a ReLU.** The function $\max(x, 0)$, which you will meet as the ReLU
#    activation, sets the negative entries of a tensor to zero. For `Z = torch.randn(4, 5)`,
#    compute it three ways: assigning through a boolean mask (on a `clone`, so `Z` survives),
#    with `torch.where`, and with `Z.clamp(min=0)`. Check each against `torch.relu(Z)`. Which of
#    the three changes `Z` if you forget the `clone`?

# %% tags=["hide-cell"]
d2lite.seed_everything(0)
Z = torch.randn(4, 5)
masked = Z.clone()
masked[masked < 0] = 0                      # in place, on the copy
where = torch.where(Z > 0, Z, 0.0)          # a new tensor
clamped = Z.clamp(min=0)                    # a new tensor
for name, mine in [("mask", masked), ("where", where), ("clamp", clamped)]:
    assert torch.equal(mine, torch.relu(Z)), f"the {name} version differs from relu"
stand_in = Z.clone()    # plays Z's part, so that the lesson's Z survives
no_clone = stand_in     # `masked = Z` without clone(): a second name, not a copy
no_clone[no_clone < 0] = 0
assert (stand_in >= 0).all(), "assigning through a mask changes the tensor itself"
assert (Z < 0).any(), "torch.where and clamp left Z alone"

# %% [markdown]
# <details><summary>Answer</summary>
#
# Only the mask assignment writes into the tensor it indexes; `torch.where` and `clamp` build
# new tensors (their in-place cousin would be `Z.clamp_(min=0)`).
#
# </details>
#
# 5. **NumPy meets PyTorch.** What is the dtype of `torch.from_numpy(np.ones(3)) + torch.ones(3)`,
#    and why? Write the one-line change that makes NumPy data ready for a `float32` model, and
#    check with `np.shares_memory` whether your version still shares memory with the array.

# %% tags=["hide-cell"]
array = np.ones(3)                              # float64, NumPy's default
mixed = torch.from_numpy(array) + torch.ones(3)
ready = torch.from_numpy(array).float()         # the one-line change
print(mixed.dtype, ready.dtype)
assert mixed.dtype == torch.float64, "float64 + float32 is promoted to float64"
assert ready.dtype == torch.float32, ".float() converts to float32"
assert not np.shares_memory(array, ready.numpy()), "converting the dtype must copy"
