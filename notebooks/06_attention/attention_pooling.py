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
# # Attention pooling: queries, keys and values
#
# Every layer so far treats its inputs the same way whatever you are looking for. Attention
# adds a *query*: what you want decides which inputs count. In this lesson you meet queries,
# keys and values through the source notes' kitchen, then turn a 1964 statistics method,
# Nadaraya–Watson kernel regression, into your first attention layer. You compare it with plain
# average pooling on a noisy regression problem, look at its attention weights as a heatmap,
# and learn the one parameter it has, the kernel width, by gradient descent.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import math
import torch
import d2lite
import matplotlib.pyplot as plt
from torch import nn

# %% [markdown]
# ## Two kinds of cues
#
# Picture a desk covered in black-and-white papers, with a red coffee cup among them. Your eyes
# go to the cup without your asking them to: it stands out. That is a
# **[nonvolitional cue](../../book/glossary.md#term-nonvolitional-cue)** (非自主性提示), a
# property of the scene itself. After the coffee you decide to read, and now your eyes look for
# the book, grey as it is. That is a
# **[volitional cue](../../book/glossary.md#term-volitional-cue)** (自主性提示): the choice is
# driven by what you want.
#
# The layers of the earlier chapters only know the first kind. A fully connected layer, or the
# average and max pooling of [the CNN chapter](../04_cnn/padding_stride_pooling.ipynb), mixes
# its inputs with the same weights whatever the task at hand; only the inputs themselves
# decide. Attention mechanisms add the second kind: an explicit description of what is
# wanted, which steers the choice among the inputs.
#
# ## The chef, the recipe and the fridge
#
# The source notes tell it as a story in a kitchen. An order arrives as a puzzling drawing, and
# you, the chef, work out that it shows stir-fried pork with shredded vegetables. A recipe comes
# to mind: pork, carrot, wood-ear mushroom. With the recipe in hand you go through the fridge,
# read the label on each bag, decide how much of that bag the recipe wants, take out that much,
# and cook everything together.
#
# Every part of the story has a name in attention:
#
# - the recipe is the **[query](../../book/glossary.md#term-query)** (查询) $\mathbf{q}$, what
#   you are looking for;
# - the label on bag $i$ is its **[key](../../book/glossary.md#term-key)** (键)
#   $\mathbf{k}_i$, what you compare the query with;
# - the food in bag $i$ is its **[value](../../book/glossary.md#term-value)** (值)
#   $\mathbf{v}_i$, what you actually take;
# - the share you take from bag $i$ is its
#   **[attention weight](../../book/glossary.md#term-attention-weight)** (注意力权重)
#   $\alpha(\mathbf{q}, \mathbf{k}_i)$, which depends only on the query and that bag's key.
#
# The dish is the weighted sum of the values, called
# **[attention pooling](../../book/glossary.md#term-attention-pooling)** (注意力汇聚):
#
# $$
# f(\mathbf{q}) = \sum_{i=1}^{m} \alpha(\mathbf{q}, \mathbf{k}_i)\, \mathbf{v}_i, \qquad
# \alpha(\mathbf{q}, \mathbf{k}_i) \ge 0, \quad \sum_{i=1}^{m} \alpha(\mathbf{q},
# \mathbf{k}_i) = 1. \tag{1}
# $$
#
# The weights form a probability distribution over the $m$ key–value pairs, so the output is a
# weighted average of the values. A convenient way to get such weights is to compute a score
# $a(\mathbf{q}, \mathbf{k}_i)$ for each key, large when query and key match, and to pass the
# scores through a [softmax](../02_linear/softmax_regression.ipynb):
#
# $$
# \alpha(\mathbf{q}, \mathbf{k}_i) = \frac{\exp a(\mathbf{q}, \mathbf{k}_i)}
# {\sum_{j=1}^{m} \exp a(\mathbf{q}, \mathbf{k}_j)}. \tag{2}
# $$
#
# [Figure 1](#fig-attention_pooling-qkv) draws equations (1) and (2) together: the query meets
# every key, the softmax turns the scores into weights, and the weights mix the values.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Attention pooling: the query q is scored against every key k_i, a softmax turns the scores into weights α(q, k_i) that sum to 1, and the output f(q) is the weighted sum of the values v_i. Only the weights depend on the query.", "name": "fig-attention_pooling-qkv"}}
d2lite.diagrams.attention_pooling()

# %% [markdown]
# Here is the kitchen in numbers. Each label says how much meat, vegetable and sugar a bag
# holds, each value holds the bag's protein and fibre (grams per portion), and the recipe asks for meat
# and vegetables and firmly against sugar. The score is the dot product of recipe and label.

# %%
bags = ["pork", "carrot", "wood ear", "chocolate"]
keys = torch.tensor([[1.0, 0.0, 0.0],      # labels: meat, vegetable, sugar
                     [0.0, 1.0, 0.2],
                     [0.0, 1.0, 0.0],
                     [0.0, 0.0, 1.0]])
values = torch.tensor([[20.0, 0.0], [1.0, 3.0], [2.0, 7.0], [5.0, 1.0]])
recipe = torch.tensor([2.0, 2.0, -3.0])    # the query
weights = torch.softmax(keys @ recipe, dim=0)                  # equation (2), (4,)
dish = weights @ values                                        # equation (1), (2,)
print(", ".join(f"{bag} {w:.3f}" for bag, w in zip(bags, weights, strict=True)))
print(f"the dish: {dish[0]:.1f} g protein, {dish[1]:.1f} g fibre")
assert weights[3] < 0.01, f"the recipe took {weights[3]:.3f} of the chocolate"
assert weights[1] < weights[2], "the sweet carrot got as much as the mushroom"

# %% [markdown]
# The chocolate's label contradicts the recipe, so its score is $-3$ against 1.4 to 2 for the
# others and it gets less than 1 % of the dish; the carrot, a little sweet, gets less than the
# mushroom. Change the recipe and the same fridge gives a different dish: that is the query at
# work. The rest of this lesson asks where the scores should come from, on a problem where you
# can measure the answer.
#
# ## A regression problem
#
# Take 200 noisy observations $y_i = \sin(2 x_i) + x_i / 2 + \epsilon_i$ of a wavy function,
# with $x_i$ uniform in $[0, 5]$ and noise $\epsilon_i \sim \mathcal{N}(0, 0.3^2)$. The task is
# to predict $y$ at new points $x$. A quarter of the points are the test split, read once at
# the end; a fifth of the rest is the validation split, on which every choice is made; the
# remaining 120 are the training pairs.

# %%
def true_f(x):
    return torch.sin(2 * x) + x / 2

data_gen = torch.Generator().manual_seed(0)                # the data's own seed
noise_std = 0.3
x_all = 5 * torch.rand(200, generator=data_gen)
y_all = true_f(x_all) + noise_std * torch.randn(200, generator=data_gen)
(x_rest, y_rest), (x_test, y_test) = d2lite.data.train_val_split(x_all, y_all, 0.25)
(x_train, y_train), (x_val, y_val) = d2lite.data.train_val_split(x_rest, y_rest, 0.2)
print(f"{len(x_train)} training, {len(x_val)} validation, {len(x_test)} test points")

def mse(prediction, target):
    return ((prediction - target) ** 2).mean().item()

# %% [markdown]
# In attention's words, the training pairs are the fridge: each training input $x_i$ is a key,
# its output $y_i$ the value behind it, and a new input $x$ is a query. Prediction is attention
# pooling over the 120 training pairs. The question is only how to weigh them.
#
# ## Average pooling: ignore the query
#
# The simplest answer gives every pair the same weight $1/m$, whatever the query: the
# prediction is the mean of all training outputs, a flat line. This is pooling with
# nonvolitional cues only, and its validation error is the baseline to beat.

# %%
def average_pooling(queries, values):
    return values.mean().expand(len(queries))                # (num_queries,)

val_error = {"average": mse(average_pooling(x_val, y_train), y_val)}
print(f"average pooling: validation MSE {val_error['average']:.3f}")

# %% [markdown]
# ## Nadaraya–Watson kernel regression
#
# [Nadaraya (1964)](../../book/references.md) and [Watson (1964)](../../book/references.md)
# proposed to weigh each training output by how close its input is to the query, with a
# *kernel* $K$ that is large at 0 and falls off with distance:
#
# $$
# f(x) = \sum_{i=1}^{m} \frac{K(x - x_i)}{\sum_{j=1}^{m} K(x - x_j)}\, y_i. \tag{3}
# $$
#
# This is **[Nadaraya–Watson kernel
# regression](../../book/glossary.md#term-nadaraya-watson-kernel-regression)**
# (Nadaraya–Watson 核回归), and it is attention pooling, equation (1), with the query $x$, the
# keys $x_i$ and the values $y_i$. With the Gaussian kernel of width $h$,
# $K(u) = \exp(-u^2 / 2h^2)$, the weights are a softmax of the scores
# $a(x, x_i) = -(x - x_i)^2 / 2h^2$, as in equation (2):
#
# $$
# \alpha(x, x_i) = \operatorname{softmax}_i\left(-\frac{(x - x_i)^2}{2h^2}\right). \tag{4}
# $$
#
# A nearby key gets a large weight, a far one almost none. Nothing is learned: the method is
# *nonparametric*, it keeps all the training data and looks it up for each query. For now take
# $h = 1$. In matrix form one row of scores per query, one column per key:

# %%
def nadaraya_watson(queries, keys, values, width):
    """Equation (4): predictions (num_queries,) and weights (num_queries, num_keys)."""
    distances = queries[:, None] - keys[None, :]              # (num_queries, num_keys)
    weights = torch.softmax(-(distances / width) ** 2 / 2, dim=1)
    return weights @ values, weights

val_pred, val_weights = nadaraya_watson(x_val, x_train, y_train, width=1.0)
val_error["width 1"] = mse(val_pred, y_val)
print(f"Nadaraya-Watson, h = 1: validation MSE {val_error['width 1']:.3f}")
row_sums = val_weights.sum(dim=1)
assert val_weights.min() >= 0 and (row_sums - 1).abs().max() < 1e-5, "not distributions"
assert val_error["width 1"] < 0.5 * val_error["average"], "not half the average's error"
d2lite.record("val_mse_average", val_error["average"])
d2lite.record("val_mse_width1", val_error["width 1"])

# %% [markdown]
# Every row of weights is a probability distribution over the 120 training points, and looking
# at nearby points halves the error of the flat line and more.
# [Figure 2](#fig-attention_pooling-fits) shows why: the kernel regression follows the waves, but with $h = 1$ it smooths them too much,
# cutting off the peaks and filling the valleys.

# %% mystnb={"figure": {"caption": "The noisy training points, the true function, average pooling (a flat line) and Nadaraya–Watson kernel regression with a Gaussian kernel of width 1, which follows the function but flattens its waves.", "name": "fig-attention_pooling-fits"}}
grid = torch.linspace(0, 5, 101)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(x_train, y_train, "o", color="0.7", markersize=3, label="training points")
d2lite.plot(grid, [true_f(grid), average_pooling(grid, y_train),
                   nadaraya_watson(grid, x_train, y_train, 1.0)[0]], "x", "y",
            legend=["true function", "average pooling", "Nadaraya-Watson, h = 1"],
            ax=ax)
plt.show()

# %% [markdown]
# The attention weights themselves are easiest to read as a heatmap: one row per query, one
# column per key, both sorted by $x$. [Figure 3](#fig-attention_pooling-heatmap-width1) shows
# a bright band along the diagonal, each query looking mostly at the keys near it, and how wide
# the band is. One number sums up the width: if a query spread its attention evenly over $n$
# keys, $\sum_i \alpha_i^2$ would be $1/n$, so $1 / \sum_i \alpha_i^2$ is the *effective
# number of keys* it looks at. With $h = 1$ that is more than half of the 120 training points.
# The points are spread evenly over $[0, 5]$, 24 per unit of $x$, so these keys cover a stretch
# of $x$ nearly as long as a whole wave of $\sin(2x)$, whose period is $\pi$: no wonder the
# waves come out flat.

# %% mystnb={"figure": {"caption": "Attention weights of Nadaraya–Watson regression with width 1: validation queries (rows) against training keys (columns), both sorted by x.", "name": "fig-attention_pooling-heatmap-width1"}}
def show_heatmap(weights, queries, keys, title):
    rows, cols = queries.argsort(), keys.argsort()
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    shown = ax.imshow(weights[rows][:, cols], cmap="Reds", aspect="auto",
                      extent=(0, len(keys), len(queries), 0))
    ax.set(xlabel="training keys, sorted by x", ylabel="queries, sorted by x",
           title=title)
    fig.colorbar(shown, ax=ax, label="attention weight")
    plt.show()

def effective_keys(weights):
    return (1 / (weights ** 2).sum(dim=1)).mean().item()     # averaged over the queries

show_heatmap(val_weights, x_val, x_train, "h = 1")
wide_span = effective_keys(val_weights) * 5 / len(x_train)     # keys / (keys per unit)
print(f"effective number of keys per query: {effective_keys(val_weights):.1f}, "
      f"a stretch of {wide_span:.2f} in x against the period pi = {math.pi:.2f}")
assert effective_keys(val_weights) > 60, "the h = 1 band is narrower than claimed"
assert 0.8 * math.pi < wide_span < math.pi, "the band is not nearly one wave long"

# %% [markdown]
# ## Learning the kernel width
#
# Nothing said that $h = 1$ is right. A narrower kernel follows the waves more closely, but
# averages fewer points and so lets more noise through; a wider one the opposite. Instead of
# guessing, make the width a parameter and learn it by gradient descent, like any weight. This
# is the step from nonparametric to *parametric* attention pooling: the scoring function now
# has something to learn.
#
# What should the loss be? Use each training point as a query against the *other* training
# points and minimise the squared error of the predictions. Leaving the point itself out
# matters: if $x_i$ were among its own keys, the narrowest kernel would win, since each query
# would look only at itself and copy its own noisy $y_i$ exactly, a training error of zero
# that tells you nothing about new points (exercise 1 checks this). A softmax score of
# $-\infty$ removes a key; the mask puts it on the diagonal.

# %%
class KernelRegression(nn.Module):
    """Nadaraya-Watson attention pooling with a learned Gaussian width."""

    def __init__(self, width):
        super().__init__()
        self.width = nn.Parameter(torch.tensor(width))

    def forward(self, queries, keys, values, mask=None):
        return self.weights(queries, keys, mask) @ values        # (queries,)

    def weights(self, queries, keys, mask=None):
        """The attention weights (queries, keys) for these queries and keys."""
        scores = -((queries[:, None] - keys[None, :]) / self.width) ** 2 / 2
        if mask is not None:                                  # True: leave this key out
            scores = scores.masked_fill(mask, float("-inf"))
        return torch.softmax(scores, dim=1)

# %% [markdown]
# Training is a plain loop on the 120 training pairs: 200 full-batch Adam steps, starting from
# $h = 1$. The validation points play no part in it.

# %%
d2lite.seed_everything(0)
kernel = KernelRegression(width=1.0)
optimizer = torch.optim.Adam(kernel.parameters(), lr=0.05)
itself = torch.eye(len(x_train), dtype=torch.bool)         # (keys, keys)
losses = []
for _ in range(200):
    loss = ((kernel(x_train, x_train, y_train, mask=itself) - y_train) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
learned_width = kernel.width.abs().item()                  # only h^2 enters the score
print(f"leave-one-out training MSE {losses[0]:.3f} -> {losses[-1]:.3f}, "
      f"learned width h = {learned_width:.3f}")

# %% [markdown]
# Did gradient descent, which saw only the training points, choose well? The validation split
# can tell: compute the validation error for a grid of widths and see where the learned one
# lands. [Figure 4](#fig-attention_pooling-width) shows the trade-off between too narrow
# (noise) and too wide (the flattened waves of [Figure 2](#fig-attention_pooling-fits)), and
# the learned width within 10 % of
# the best validation error on the grid.

# %% mystnb={"figure": {"caption": "Validation error of Nadaraya–Watson regression against the kernel width h (log scale), with the width learned on the training points marked.", "name": "fig-attention_pooling-width"}}
widths = torch.logspace(-2, 0.5, 26)
grid_errors = [mse(nadaraya_watson(x_val, x_train, y_train, h)[0], y_val)
               for h in widths]
with torch.no_grad():
    val_error["learned"] = mse(kernel(x_val, x_train, y_train), y_val)
ax = d2lite.plot(widths, grid_errors, "kernel width h", "validation MSE", xscale="log",
                 figsize=(5, 3))
ax.plot([learned_width], [val_error["learned"]], "r*", markersize=12, label="learned")
ax.legend()
plt.show()
print(f"validation MSE: learned width {val_error['learned']:.3f}, "
      f"best on the grid {min(grid_errors):.3f}, h = 1 {val_error['width 1']:.3f}")
assert val_error["learned"] < 1.1 * min(grid_errors), "learned width not near the best"
d2lite.record("learned_width", learned_width)
d2lite.record("val_mse_learned", val_error["learned"])

# %% [markdown]
# With the learned width the band of attention in
# [Figure 5](#fig-attention_pooling-heatmap-learned) is much narrower than in
# [Figure 3](#fig-attention_pooling-heatmap-width1): each
# query now attends to a handful of close neighbours: fewer than 16 effective keys, less than
# a quarter of the band with $h = 1$.

# %% mystnb={"figure": {"caption": "Attention weights with the learned width: validation queries (rows) against training keys (columns), both sorted by x.", "name": "fig-attention_pooling-heatmap-learned"}}
with torch.no_grad():
    learned_weights = kernel.weights(x_val, x_train)        # (30, 120)
show_heatmap(learned_weights, x_val, x_train, f"learned h = {learned_width:.2f}")
print(f"effective number of keys per query: {effective_keys(learned_weights):.1f}")
narrow_band, wide_band = effective_keys(learned_weights), effective_keys(val_weights)
assert narrow_band < 16 and narrow_band < wide_band / 4, "the band is not so narrow"
d2lite.record("effective_keys_learned", narrow_band)

# %% [markdown]
# ## The test split, once
#
# All the choices are made; now the test points judge the three ways of pooling. The best any
# predictor can do on noisy targets is the noise variance, $0.3^2 = 0.09$. Kernel regression
# with $h = 1$ should again halve the error of average pooling, the learned width should halve
# that again, and land within $0.06$ of the noise floor.

# %%
with torch.no_grad():
    test_error = {
        "average": mse(average_pooling(x_test, y_train), y_test),
        "width 1": mse(nadaraya_watson(x_test, x_train, y_train, 1.0)[0], y_test),
        "learned": mse(kernel(x_test, x_train, y_train), y_test)}
print(", ".join(f"{name} {error:.3f}" for name, error in test_error.items()))
assert test_error["width 1"] < 0.5 * test_error["average"], f"{test_error}"
assert test_error["learned"] < 0.5 * test_error["width 1"], f"{test_error}"
assert test_error["learned"] < noise_std ** 2 + 0.06, f"{test_error}"
for name, error in test_error.items():
    d2lite.record(f"test_mse_{name.replace(' ', '')}", error)

# %% [markdown]
# ## Summary
#
# - Attention pooling takes a query $\mathbf{q}$ and key–value pairs
#   $(\mathbf{k}_i, \mathbf{v}_i)$ and returns $\sum_i \alpha(\mathbf{q}, \mathbf{k}_i)
#   \mathbf{v}_i$, with weights that are non-negative and sum to 1, usually a softmax of
#   scores $a(\mathbf{q}, \mathbf{k}_i)$. In the kitchen: recipe, labels, food and shares.
# - Average pooling ignores the query; it is the baseline.
# - Nadaraya–Watson kernel regression is attention pooling with the score
#   $-(x - x_i)^2 / 2h^2$: nearby keys get the weight. With $h = 1$ it halves the error of
#   average pooling on the wavy function.
# - Making the width a parameter turns it into parametric attention. Trained on the training
#   points with each point left out of its own keys, the width lands near the best width on the
#   validation split, and on the test split its error is near the noise floor.
# - A heatmap of the weights, queries against keys, shows where each query looks.

# %% [markdown]
# ## Exercises
#
# 1. Train the width as above, but with each training point among its own keys (no mask).
#    What width does gradient descent choose, and how does that width do on the validation
#    split and on the leave-one-out training loss?

# %% tags=["hide-cell"]
# A solution: with itself among the keys, the narrower the kernel, the more each
# point copies its own noisy y_i, so the training loss falls all the way to h -> 0 and
# the width collapses. (Smaller Adam steps than above: the width heads for 0, and steps
# of 0.05 overshoot it.)
greedy = KernelRegression(width=1.0)
optimizer = torch.optim.Adam(greedy.parameters(), lr=0.01)
for _ in range(200):
    loss = ((greedy(x_train, x_train, y_train) - y_train) ** 2).mean()   # no mask
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
with torch.no_grad():
    with_self = mse(greedy(x_train, x_train, y_train), y_train)
    left_out = mse(greedy(x_train, x_train, y_train, mask=itself), y_train)
    greedy_val = mse(greedy(x_val, x_train, y_train), y_val)
print(f"h {greedy.width.abs().item():.4f}: training MSE {with_self:.1e} with itself, "
      f"{left_out:.3f} left out; validation {greedy_val:.3f} "
      f"vs {val_error['learned']:.3f} learned")
assert greedy.width.abs() < 0.1 * learned_width and with_self < 0.01, "no collapse"
assert greedy_val > 1.2 * val_error["learned"] and left_out > 1.2 * losses[-1]

# %% [markdown]
# 2. Show that average pooling is the special case of a very wide kernel: for $h = 1000$,
#    Nadaraya–Watson's predictions equal the mean of the training outputs.

# %% tags=["hide-cell"]
# A solution: with h huge every score is about 0, so every weight is about 1/m.
wide_pred, wide_weights = nadaraya_watson(x_val, x_train, y_train, width=1000.0)
gap = (wide_pred - average_pooling(x_val, y_train)).abs().max().item()
print(f"largest gap to average pooling: {gap:.1e}")
assert gap < 1e-4 and (wide_weights - 1 / len(x_train)).abs().max() < 1e-6

# %% [markdown]
# 3. Replace the Gaussian kernel by the Laplace kernel $K(u) = \exp(-|u| / h)$, learn its width
#    in the same way, and compare the validation errors. Which shape suits this function?
# 4. The heatmaps show that a query gives almost no weight to far keys, yet it computes a score
#    for every one of the 120 keys. How does the cost of one prediction grow with the number of
#    training points, and how would you avoid it for a million points?
