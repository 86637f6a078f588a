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
# # Softmax regression
#
# The meal machine has learned to answer a yes-or-no question. In this lesson it chooses among
# several answers, and you meet the function that turns its scores into probabilities: the
# softmax. You will see why softmax beats plain normalisation, how to compute it without
# overflowing (the log-sum-exp trick), why log-softmax followed by the negative log-likelihood
# *is* the cross-entropy loss, and why its gradient is simply "prediction minus label", and
# you meet two reasons why it is the *exponential* that turns scores into probabilities. Then
# you build softmax regression from scratch with your own training loop, hand the loop over to
# `d2lite.fit`, rebuild the model in two lines of PyTorch, choose its learning rate and number
# of epochs on a validation split, and report its accuracy on the Fashion-MNIST test set once.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import math
import matplotlib.pyplot as plt
from torch import nn
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator

# %% [markdown]
# ## Rice, noodles or bread?
#
# In [logistic regression](../02_linear/logistic_regression.ipynb) the meal machine read the day and the humidity and decided one
# thing: rice or no rice. Suppose now that it chooses among three meals: rice, noodles and bread.
# The training data still say what you actually ate, but "what you ate" is now one of three
# classes, and we want the machine to output a probability for each.
#
# To compare a prediction of three probabilities with a label, write the label as three numbers
# too: a 1 for the meal you ate and a 0 for the others. Day 1, rice, becomes $(1, 0, 0)$: with
# certainty rice, with certainty not noodles or bread. This is **[one-hot encoding](../../book/glossary.md#term-one-hot-encoding)**
# (独热编码): one position per class, exactly one of them "hot". In code, labels are stored as
# class indices (0 = rice, 1 = noodles, 2 = bread) and `F.one_hot` expands them.

# %% tags=["nbval-check-output"]
meals = ["rice", "noodles", "bread"]
labels = torch.tensor([0, 1, 2, 0])  # (4,): what you ate on four days
Y = F.one_hot(labels, num_classes=3)  # (4, 3): one row per day, one column per meal
print("columns:", meals)
print(Y)
by_hand = torch.zeros(4, 3, dtype=torch.int64)
by_hand[torch.arange(4), labels] = 1  # row i: a 1 in column labels[i]
assert torch.equal(Y, by_hand), "F.one_hot should put the 1 at each day's meal"
assert torch.equal(Y.argmax(dim=1), labels), (
    "argmax of a one-hot row gives the label back"
)

# %% [markdown]
# The model gets one output per class. Each output $o_j$ is its own linear function of the
# inputs, $o_j = \mathbf{w}_j^\top \mathbf{x} + b_j$, exactly like the single output of logistic
# regression; these raw scores are the [logits](../../book/glossary.md#term-logit). The question is how to turn three
# logits into three probabilities.
#
# ### Why not a sigmoid on each output?
#
# Logistic regression squashed its logit with a sigmoid, so the first idea is to squash each
# output separately. That fails twice. Each number lands in $(0, 1)$, but nothing makes the three
# add up to 1, so "rice 0.9, noodles 0.8" is possible. Worse, the outputs do not compete: each
# sigmoid looks only at its own logit and saturates on its own. For logits $(10, 100, 1000)$ all
# three probabilities are within $10^{-4}$ of 1 and add up to almost 3, so they barely tell the
# three meals apart, although the third logit dwarfs the others.

# %%
o = torch.tensor([10.0, 100.0, 1000.0])  # (3,)
squashed = torch.sigmoid(o)
print("sigmoids:", [f"{p:.5f}" for p in squashed.tolist()], f"sum {squashed.sum():.4f}")
assert squashed.min() > 1 - 1e-4, "every sigmoid should be within 1e-4 of 1"
assert squashed.sum() > 2.999, "the three 'probabilities' add up to almost 3, not 1"

# %% [markdown]
# ## Softmax
#
# So the outputs must be made to sum to 1. The plainest way is to divide each by their sum: the
# logits $(1, 2, 3)$ give $(\tfrac{1}{6}, \tfrac{2}{6}, \tfrac{3}{6})$. That works for these
# numbers, but a negative logit gives a negative "probability": $(-1, 2, 3)$ becomes
# $(-0.25, 0.5, 0.75)$. You could take the largest output and set it to 1 and the rest to 0,
# but that hard maximum does not change when the logits change a little, so its gradient is zero
# and gradient descent cannot learn through it.
#
# The **[softmax](../../book/glossary.md#term-softmax)** (softmax 函数, 归一化指数函数) exponentiates first and normalises after:
#
# $$
# \hat{y}_j = \operatorname{softmax}(\mathbf{o})_j = \frac{\exp(o_j)}{\sum_{k} \exp(o_k)}.
# $$
#
# Every $\exp(o_j)$ is positive, so negative logits are fine, and the results sum to 1. Here it is
# for a batch of logit vectors, one per row, next to plain normalisation.


# %%
def softmax_naive(logits):
    """Softmax of each row of logits: (n, q) -> (n, q). Overflows for large logits."""
    E = torch.exp(logits)
    return E / E.sum(
        dim=1, keepdim=True
    )  # (n, q) / (n, 1): each row divided by its own sum


def normalise(logits):
    """Divide each row of logits by its sum: (n, q) -> (n, q)."""
    return logits / logits.sum(dim=1, keepdim=True)


# %% [markdown]
# For the logits $(1, 2, 3)$ softmax gives about $(0.090, 0.245, 0.665)$, against
# $(0.167, 0.333, 0.5)$ for plain normalisation. Both rank the classes the same way, but softmax
# gives the largest logit a much larger share, and the smallest a smaller one.

# %%
examples = torch.tensor(
    [[1.0, 2.0, 3.0], [-1.0, 2.0, 3.0]]
)  # (2, 3): two logit vectors
P_soft, P_plain = softmax_naive(examples), normalise(examples)
print("softmax:", [[round(p, 4) for p in row] for row in P_soft.tolist()])
print("plain:  ", [[round(p, 4) for p in row] for row in P_plain.tolist()])
assert torch.allclose(P_soft[0], torch.tensor([0.0900, 0.2447, 0.6652]), atol=1e-4), (
    "softmax"
)
assert torch.allclose(P_plain[0], torch.tensor([1 / 6, 2 / 6, 3 / 6])), (
    "plain normalisation"
)
assert torch.allclose(P_plain[1], torch.tensor([-0.25, 0.5, 0.75])), "negative logit"
assert (P_soft > 0).all() and torch.allclose(P_soft.sum(dim=1), torch.ones(2)), (
    "a distribution"
)

# %% [markdown]
# [Figure 1](#fig-softmax-regression-vs-plain) puts the two side by side for $(1, 2, 3)$. See
# how softmax pushes probability from the weak classes towards the strong one.

# %% mystnb={"figure": {"caption": "The logits (1, 2, 3) turned into probabilities by plain normalisation and by softmax: softmax gives the largest logit a larger share.", "name": "fig-softmax-regression-vs-plain"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
positions = torch.arange(3)
ax.bar(positions - 0.2, P_plain[0], width=0.4, label="plain normalisation")
ax.bar(positions + 0.2, P_soft[0], width=0.4, label="softmax")
ax.set(
    xticks=positions.tolist(),
    xticklabels=["$o_1 = 1$", "$o_2 = 2$", "$o_3 = 3$"],
    xlabel="logit",
    ylabel="probability",
    title="Turning the logits (1, 2, 3) into probabilities",
)
ax.legend()
plt.show()

# %% [markdown]
# Two more properties are worth knowing. Softmax looks only at *differences* between logits:
# adding the same number to every logit changes nothing, since $\exp(o_j + c) = e^c \exp(o_j)$
# and $e^c$ cancels. Plain normalisation is the other way round: it ignores a common *factor*.
# So multiplying the logits by 10 leaves plain normalisation at $(\tfrac16, \tfrac26, \tfrac36)$,
# while softmax of $(10, 20, 30)$ is all but one-hot, with 0.99995 on the last class: the larger
# the gaps between logits, the more confident the softmax.
#
# And the sigmoid is the softmax of two classes in disguise. Give class 1 the logit $z$ and
# class 2 the logit 0; then
# $\operatorname{softmax}(z, 0)_1 = e^z / (e^z + 1) = \sigma(z)$. Softmax is the sigmoid grown up
# to many classes, which is why everything you learned about logistic regression carries over.

# %%
shifted = softmax_naive(examples[:1] + 50.0)  # (51, 52, 53)
sharp = softmax_naive(10 * examples[:1])  # (10, 20, 30)
print("softmax(10, 20, 30):", [f"{p:.5f}" for p in sharp[0].tolist()])
assert torch.allclose(shifted, P_soft[:1], atol=1e-6), (
    "adding a constant should change nothing"
)
assert torch.allclose(normalise(10 * examples[:1]), P_plain[:1]), (
    "scaling should not change plain"
)
assert sharp[0, 2] > 0.9999, "softmax(10, 20, 30) should be nearly one-hot"
z = torch.linspace(-8, 8, 33)
two_class = softmax_naive(torch.stack([z, torch.zeros_like(z)], dim=1))  # (33, 2)
assert torch.allclose(two_class[:, 0], torch.sigmoid(z), atol=1e-6), (
    "softmax(z, 0) = sigmoid(z)"
)

# %% [markdown]
# ### Why the exponential?
#
# The source notes line up the alternatives a reader reaches for first: divide by the sum,
# min–max scaling, or the hard maximum. They say softmax beats them all and leave the reasons
# open, mentioning generalised linear models, maximum entropy and the Boltzmann distribution of
# physics. Two of those reasons fit in a few lines, and the third alternative can be measured.
#
# **Maximum entropy.** Suppose all you want from the probabilities $\hat{\mathbf{y}}$ is that,
# on average, they reproduce some score $s$: $\sum_j \hat{y}_j o_j = s$. Many distributions do
# that. The least committal one, the one with the largest entropy $H(\hat{\mathbf{y}})$ from
# [information theory](../02_linear/information_theory.ipynb), assumes nothing beyond that one
# constraint. Setting the derivative of $H$ plus Lagrange multipliers for the two constraints
# ($\sum_j \hat{y}_j = 1$ and the average score) to zero gives
# $-\log \hat{y}_j - 1 - \alpha + \beta o_j = 0$, so $\hat{y}_j \propto \exp(\beta o_j)$: a
# softmax, with a factor $\beta$ that the model can fold into its logits. The exponential is
# what you get when you add no assumption of your own. The cell checks it for the logits
# $(1, 2, 3)$: among all distributions with the same average score as their softmax, it scans a
# fine grid (with three classes and two constraints only one number is free) for the one of
# largest entropy, and finds the softmax.

# %%
o3 = examples[0]  # (3,): the logits (1, 2, 3)
s = (P_soft[0] * o3).sum()  # softmax's average score, about 2.575
assert abs(s - 2.575) < 1e-3, f"average score {s:.4f}"
t = torch.linspace(0, 1, 100_001, dtype=torch.float64)  # the free number: y_hat_1
# y1 + y2 + y3 = 1 and y1 + 2 y2 + 3 y3 = s leave y2 = 3 - s - 2 y1, y3 = y1 + s - 2
family = torch.stack([t, 3 - s - 2 * t, t + s - 2], dim=1)  # (100001, 3)
family = family[(family >= 0).all(dim=1)]  # keep real distributions
entropies = -torch.special.xlogy(family, family).sum(dim=1)
winner = family[entropies.argmax()]
print(
    "largest entropy:",
    [round(p, 4) for p in winner.tolist()],
    "| softmax:",
    [round(p, 4) for p in P_soft[0].tolist()],
)
assert torch.allclose(winner.float(), P_soft[0], atol=1e-4), "max entropy = softmax"

# %% [markdown]
# **The exponential family.** Take the log of the softmax:
# $\log \hat{y}_j = o_j - \log \sum_k \exp(o_k)$. The logits *are* log-probabilities, up to one
# constant shared by all classes, so the log-odds between two classes,
# $\log(\hat{y}_i / \hat{y}_j) = o_i - o_j$, is a linear function of the input whenever the
# logits are, just as logistic regression's logit was. Statisticians call a distribution
# written as $\exp(\text{linear score} - A)$ a member of the
# **[exponential family](../../book/glossary.md#term-exponential-family)** (指数族). The
# normaliser $A(\mathbf{o}) = \log \sum_k \exp(o_k)$ has a neat property: its gradient is the
# softmax itself, $\partial A / \partial o_j = \hat{y}_j$, which is where the simple gradient of
# the cross-entropy later in this lesson comes from.

# %%
o_leaf = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
torch.logsumexp(o_leaf, dim=0).backward()  # A(o) = log sum exp(o)
log_odds = torch.log(P_soft[0, 2] / P_soft[0, 0])  # class 3 against class 1
assert torch.allclose(o_leaf.grad, P_soft[0], atol=1e-6), "the gradient of A is softmax"
assert abs(log_odds - (3 - 1)) < 1e-5, f"log-odds {log_odds:.5f}, not o_3 - o_1 = 2"

# %% [markdown]
# **Min–max scaling instead.** The notes' other candidate maps the smallest logit to 0 and
# divides by the sum, $\hat{y}_j = (o_j - \min_k o_k) / \sum_i (o_i - \min_k o_k)$. It keeps the
# order of the logits, so it picks the same class as softmax: it is no worse at classifying.
# What it is worse at is being a *probability*. Its smallest class always gets exactly 0, so
# the model calls its least likely class impossible, and if that class is the truth the
# cross-entropy is $-\log 0 = \infty$. With two classes it can only say $(0, 1)$ or $(1, 0)$,
# however close the logits. And, like plain normalisation, it ignores how large the gaps are:
# $(1, 2, 3)$ and $(10, 20, 30)$ give the same answer, so a model can never grow more confident.
# You will measure the first problem on real images at the end of the lesson.


# %%
def minmax_normalise(logits):
    """Min-max scale each row of logits, then divide by the row's sum: (n, q)."""
    shifted = logits - logits.min(dim=1, keepdim=True).values  # (n, q), smallest = 0
    return shifted / shifted.sum(dim=1, keepdim=True)


P_minmax = minmax_normalise(torch.cat([examples[:1], 10 * examples[:1]]))  # (2, 3)
print("min-max of (1, 2, 3) and (10, 20, 30):", P_minmax.tolist())
assert torch.equal(P_minmax[0], P_minmax[1]), "min-max ignores the size of the gaps"
assert P_minmax[0, 0] == 0 and torch.isinf(-torch.log(P_minmax[0, 0])), (
    "class 1: impossible"
)
two = minmax_normalise(torch.tensor([[0.0, 0.01], [5.0, 4.99]]))  # nearly equal logits
assert torch.equal(two, torch.tensor([[0.0, 1.0], [1.0, 0.0]])), (
    "two classes: all or nothing"
)

# %% [markdown]
# ## Overflow and the log-sum-exp trick
#
# `softmax_naive` has a trap. A float32 holds numbers up to about $3.4 \times 10^{38}$, and
# $e^{89} \approx 4.5 \times 10^{38}$ is already too large: `torch.exp` returns `inf`. Logits of
# a few hundred happen in practice (an untrained network with large inputs, a model that has
# grown very sure of itself), and then the softmax computes $\infty / \infty$ = `nan`.

# %%
big = torch.tensor([[1000.0, 1001.0, 1002.0]])
print(
    f"exp(88) = {torch.exp(torch.tensor(88.0)):.3e}, "
    f"exp(89) = {torch.exp(torch.tensor(89.0))}"
)
print("naive softmax of (1000, 1001, 1002):", softmax_naive(big))
float32_max = torch.finfo(torch.float32).max
print(f"largest float32 {float32_max:.3e}; exp(89) in float64 {math.exp(89):.3e}")
assert abs(float32_max / 3.4e38 - 1) < 0.01 and abs(math.exp(89) / 4.5e38 - 1) < 0.01
assert torch.isfinite(torch.exp(torch.tensor(88.0))), "exp(88) fits in a float32"
assert torch.isinf(torch.exp(torch.tensor(89.0))), "exp(89) overflows a float32"
assert torch.isnan(softmax_naive(big)).all(), "the naive softmax should give nan here"

# %% [markdown]
# The cure uses the property you just checked: subtracting a constant from every logit does not
# change the softmax. Subtract the largest logit, $m = \max_k o_k$. Then every exponent is at most
# $0$, so nothing overflows, and the largest term is $e^0 = 1$, so the sum is at least 1.
#
# Cross-entropy needs the *logarithm* of the softmax, and that has a second trap: a tiny
# probability can underflow to 0, and $\log 0 = -\infty$. So compute the log directly,
#
# $$
# \log \operatorname{softmax}(\mathbf{o})_j = o_j - \log \sum_k \exp(o_k)
#   = o_j - m - \log \sum_k \exp(o_k - m).
# $$
#
# The function $\log \sum_k \exp(o_k)$ is called **[log-sum-exp](../../book/glossary.md#term-log-sum-exp)** (对数求和指数), and
# computing it with the maximum pulled out is the log-sum-exp trick. Both stable functions fit in
# a few lines.


# %%
def softmax(logits):
    """Softmax of each row, safe for any logits: (n, q) -> (n, q)."""
    E = torch.exp(
        logits - logits.max(dim=1, keepdim=True).values
    )  # (n, q), every entry <= 1
    return E / E.sum(dim=1, keepdim=True)


def log_softmax(logits):
    """Log of the softmax of each row, without overflow or underflow: (n, q)."""
    shifted = logits - logits.max(dim=1, keepdim=True).values  # (n, q): o - m <= 0
    return shifted - torch.log(
        torch.exp(shifted).sum(dim=1, keepdim=True)
    )  # minus LSE(o - m)


# %% [markdown]
# Now $(1000, 1001, 1002)$ gives the same probabilities as $(1, 2, 3)$, as it should, and both
# functions agree with PyTorch's `torch.softmax` and `F.log_softmax`. For the logits $(0, 200)$
# the first probability is $e^{-200} \approx 10^{-87}$, far below the smallest positive float32,
# $2^{-149} \approx 1.4 \times 10^{-45}$, so it underflows to 0. The log of the softmax therefore
# says $-\infty$, while `log_softmax` gives the exact answer, $-200$.

# %%
edge = torch.tensor([[0.0, 200.0]])
print("softmax(1000, 1001, 1002):", [f"{p:.4f}" for p in softmax(big)[0].tolist()])
print(
    f"log(softmax(0, 200)) = {torch.log(softmax(edge))[0, 0].item()}, "
    f"log_softmax(0, 200) = {log_softmax(edge)[0, 0].item()}"
)
assert torch.allclose(softmax(big), P_soft[:1], atol=1e-6), (
    "shifted logits, same softmax"
)
assert torch.allclose(softmax(big), torch.softmax(big, dim=1)), (
    "our softmax = torch.softmax"
)
assert torch.allclose(log_softmax(big), F.log_softmax(big, dim=1)), (
    "log_softmax = PyTorch's"
)
assert torch.isinf(torch.log(softmax(edge))[0, 0]), (
    "log of an underflowed probability is -inf"
)
assert log_softmax(edge)[0, 0].item() == -200.0, "log_softmax should give exactly -200"
tiny = torch.tensor(2.0**-149)  # the smallest positive float32
assert tiny > 0 and tiny / 2 == 0 and abs(tiny.item() / 1.4e-45 - 1) < 0.01
assert abs(math.log10(math.exp(-200)) + 86.9) < 0.1, "e^-200 is about 1e-87"

# %% [markdown]
# ## Cross-entropy for many classes
#
# [information theory](../02_linear/information_theory.ipynb) defined the cross-entropy between the true distribution $\mathbf{y}$
# and the predicted one $\hat{\mathbf{y}}$ as $-\sum_j y_j \log \hat{y}_j$. With a one-hot label
# every term but one is zero, so the loss of one example is minus the log-probability the model
# gave to the class that actually happened:
#
# $$
# \ell(\mathbf{o}, y) = -\sum_j y_j \log \hat{y}_j = -\log \hat{y}_{y}
#   = -\log \operatorname{softmax}(\mathbf{o})_{y}.
# $$
#
# Over a batch of $n$ examples, the source notes add these losses up; PyTorch averages them by
# default (`reduction="mean"`), which keeps the size of the gradient independent of the batch size.
# Here are four days of the meal machine. On the last day you ate rice but the model bet on
# noodles, so that day should cost the most.

# %%
logits = torch.tensor(
    [
        [2.0, 1.0, 0.1],  # day 1: rice, and the model agrees
        [0.5, 2.5, 0.3],  # day 2: noodles, the model agrees
        [1.2, 0.2, 3.0],  # day 3: bread, the model agrees
        [0.3, 1.8, 0.9],
    ]
)  # day 4: rice, but the model bets on noodles
per_day = -log_softmax(logits)[
    torch.arange(4), labels
]  # (4,): pick the true class per row
print("loss per day:", [f"{v:.3f}" for v in per_day.tolist()])
print(f"sum {per_day.sum():.4f} (source notes), mean {per_day.mean():.4f} (PyTorch)")
assert per_day.argmax() == 3, "day 4, the wrong bet, should cost the most"
one_hot_form = -(Y * log_softmax(logits)).sum(dim=1)  # the formula with the full sum
assert torch.allclose(per_day, one_hot_form), "picking the true class = the one-hot sum"

# %% [markdown]
# Picking "minus the log-probability of the true class" has a name of its own: it is the
# **[negative log-likelihood](../../book/glossary.md#term-negative-log-likelihood)** (负对数似然, NLL) of the label under the model. PyTorch
# splits the loss into exactly these two steps. `F.log_softmax` turns logits into
# log-probabilities, and `F.nll_loss` picks the true class's entry, negates it and averages.
# `nn.CrossEntropyLoss` does both at once, which is why it takes *logits*, not probabilities.
# Our version is the same two steps.


# %%
def cross_entropy(logits, y):
    """Mean cross-entropy of logits: (n, q) for class indices y: (n,), from scratch."""
    return -log_softmax(logits)[
        torch.arange(len(y), device=y.device), y
    ].mean()  # -log y_hat_y


ours = cross_entropy(logits, labels)
nll = F.nll_loss(F.log_softmax(logits, dim=1), labels)
torch_ce = nn.CrossEntropyLoss()(logits, labels)
summed = nn.CrossEntropyLoss(reduction="sum")(logits, labels)
print(f"ours {ours:.6f}, log_softmax + NLL {nll:.6f}, CrossEntropyLoss {torch_ce:.6f}")
assert abs(ours - torch_ce) < 1e-6 and abs(nll - torch_ce) < 1e-6, (
    "the three should agree"
)
assert abs(summed - per_day.sum()) < 1e-6, (
    "reduction='sum' gives the source notes' total"
)

# %% [markdown]
# The agreement is not luck of these four rows. On a batch of 64 random logit vectors over 10
# classes, scaled up so that some are in the hundreds, our loss still matches PyTorch's. The loss
# is large now, so we compare relative to its size: float32 carries about seven digits.

# %%
data_gen = torch.Generator().manual_seed(0)  # the data: the same on every machine
O_rand, y_rand = (
    100 * torch.randn(64, 10, generator=data_gen),
    torch.randint(0, 10, (64,), generator=data_gen),
)  # (64, 10), (64,)
ce_ours, ce_torch = cross_entropy(O_rand, y_rand), F.cross_entropy(O_rand, y_rand)
relative = (abs(ce_ours - ce_torch) / ce_torch).item()
print(
    f"loss {ce_torch:.2f} on logits up to {O_rand.abs().max():.0f}; "
    f"relative difference {relative:.1e}"
)
assert relative < 1e-6, f"ours and PyTorch's differ by a relative {relative:.1e}"

# %% [markdown]
# ## The gradient: prediction minus label
#
# Softmax and cross-entropy fit together beautifully, which is one of the reasons they are always
# used as a pair. Write the loss of one example as
# $\ell = -o_y + \log \sum_k \exp(o_k)$ and differentiate with respect to logit $o_j$. The first
# term gives $-1$ if $j = y$ and 0 otherwise, that is $-y_j$; the second gives
# $\exp(o_j) / \sum_k \exp(o_k) = \hat{y}_j$. So
#
# $$
# \frac{\partial \ell}{\partial o_j} = \hat{y}_j - y_j,
# \qquad \nabla_{\mathbf{o}}\, \ell = \hat{\mathbf{y}} - \mathbf{y}.
# $$
#
# It is the same "prediction minus label" you found for logistic regression. The gradient raises
# the true class's logit in proportion to $1 - \hat{y}_y$, how much probability it is missing, and
# lowers every other logit in proportion to the probability it stole. A confident, correct
# prediction produces almost no gradient. Autograd agrees; as before, the factor $n$ undoes the
# average over the batch.

# %%
O_leaf = logits.clone().requires_grad_(True)
cross_entropy(O_leaf, labels).backward()
by_formula = softmax(logits) - Y  # (4, 3): y_hat - y
gap = (len(labels) * O_leaf.grad - by_formula).abs().max().item()
print("gradient on day 4:", [f"{g:+.3f}" for g in by_formula[3].tolist()])
print(f"largest |autograd - (y_hat - y)| = {gap:.1e}")
assert gap < 1e-6, f"the gradient differs from y_hat - y by {gap:.1e}"

# %% [markdown]
# Each row of the gradient sums to zero (both $\hat{\mathbf{y}}$ and $\mathbf{y}$ sum to 1): what
# one logit gains, the others lose. On day 4 the rice logit is pushed up hardest, and the noodles
# logit, which stole most of the probability, is pushed down hardest.

# %%
assert torch.allclose(by_formula.sum(dim=1), torch.zeros(4), atol=1e-6), "rows sum to 0"
assert by_formula[3].argmin() == 0 and by_formula[3].argmax() == 1, (
    "rice up, noodles down"
)

# %% [markdown]
# ## Fashion-MNIST
#
# Time for real data. Fashion-MNIST ([Xiao et al., 2017](../../book/references.md)) has 70,000
# grey-scale photos of clothes, 28 × 28 pixels each, in ten classes: T-shirts, trousers,
# pullovers, dresses, coats, sandals, shirts, sneakers, bags and ankle boots. Zalando made it as
# a drop-in replacement for MNIST's handwritten digits, which had become too easy, with the
# same image size and the same split: 60,000 images for training and 10,000 for testing.
# `d2lite.data.load_fashion_mnist` returns the images as float32 tensors in $[0, 1]$ and the
# labels as class indices.

# %% tags=["nbval-check-output"]
(X_full, y_full), (X_test, y_test) = d2lite.data.load_fashion_mnist(verbose=False)
classes = d2lite.data.FASHION_MNIST_CLASSES
print(X_full.shape, X_full.dtype, y_full.shape, y_full.dtype)
print(X_test.shape, "classes:", ", ".join(classes))
print("training images per class:", torch.bincount(y_full).tolist())
assert (torch.bincount(y_full) == 6000).all() and (torch.bincount(y_test) == 1000).all()

# %% [markdown]
# Every class has exactly 6,000 training and 1,000 test images, so guessing gives 10 %
# accuracy. We will choose a learning rate and a number of epochs, so we need data to choose
# them on that is neither the training data nor the test set: `d2lite.data.train_val_split`
# holds out a stratified tenth of the training images, 600 of each class, as a
# [validation split](../../book/glossary.md#term-validation-set). The test set stays
# untouched until the very end, where it gives the one number we report.

# %% tags=["nbval-check-output"]
(X_train, y_train), (X_val, y_val) = d2lite.data.train_val_split(
    X_full, y_full, 0.1, seed=0
)
print(f"training {len(y_train)}, validation {len(y_val)}, test {len(y_test)}")
assert (torch.bincount(y_val) == 600).all() and len(y_train) == 54_000

# %% [markdown]
# [Figure 2](#fig-softmax-regression-classes) shows the first training image of each class.
# Notice how alike the T-shirt, the pullover, the coat and the shirt look at this resolution.

# %% mystnb={"figure": {"caption": "The first Fashion-MNIST training image of each of the ten classes.", "name": "fig-softmax-regression-classes"}}
first_of_each = [int((y_train == c).nonzero()[0]) for c in range(10)]
d2lite.show_images(X_train[first_of_each, 0], 2, 5, titles=classes, scale=1.6)
plt.show()

# %% [markdown]
# ## Softmax regression from scratch
#
# **[Softmax regression](../../book/glossary.md#term-softmax-regression)** (softmax 回归) is
# the linear model with one output per class and a softmax on top. Flatten each image into a
# row of $d = 784$ pixels; each of the ten outputs is then a weighted sum of all 784 pixels plus
# a bias. Drawn as a network ([Figure 3](#fig-softmax-regression-network), with dots for the
# 780 inputs and 6 outputs not drawn), it is a single layer: every input is connected to
# every output, and there is nothing in between. Such a
# layer is a **[fully connected layer](../../book/glossary.md#term-fully-connected-layer)**
# (全连接层).

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Softmax regression as a single-layer network: every one of the 784 pixel inputs feeds every one of the 10 outputs (the logits), whose softmax gives the class probabilities. Dots stand for the units not drawn.", "name": "fig-softmax-regression-network"}}
d2lite.diagrams.draw_network([["$x_1$", "$x_2$", "$x_3$", "...", "$x_{784}$"],
                              ["$o_1$", "$o_2$", "$o_3$", "...", "$o_{10}$"]],
                             layer_names=["784 inputs", "10 outputs"], figsize=(4, 3.4))

# %% [markdown]
# A batch is then a matrix $\mathbf{X}$ of shape $(n, 784)$, and with a weight matrix
# $\mathbf{W}$ of shape $(784, 10)$ and a bias $\mathbf{b}$ of shape $(10,)$ the logits and
# probabilities are
#
# $$
# \mathbf{O} = \mathbf{X}\mathbf{W} + \mathbf{b}, \qquad
# \hat{\mathbf{Y}} = \operatorname{softmax}(\mathbf{O}) \text{ row by row},
# $$
#
# with $\mathbf{b}$ [broadcast](../../book/glossary.md#term-broadcasting) over the rows. Despite
# the softmax it is still a linear model: softmax never changes which logit is largest, so the
# predicted class is the $\arg\max$ of ten linear functions of the pixels.
#
# We store $\mathbf{W}$ and $\mathbf{b}$ as `nn.Parameter`s inside an `nn.Module`. That is all
# the framework we borrow: it lets us (and later `d2lite.fit`) find the parameters and move
# them to a GPU. The weights start as small random numbers, the bias at zero.


# %%
class SoftmaxRegression(nn.Module):
    """Logits O = X W + b for images X: (n, 1, 28, 28) -> (n, 10)."""

    def __init__(self, num_inputs=784, num_classes=10):
        super().__init__()
        self.W = nn.Parameter(0.01 * torch.randn(num_inputs, num_classes))  # (784, 10)
        self.b = nn.Parameter(torch.zeros(num_classes))  # (10,)

    def forward(self, X):
        return X.reshape(len(X), -1) @ self.W + self.b  # (n, 784) @ (784, 10) + (10,)


# %% [markdown]
# The model has $784 \times 10 + 10 = 7{,}850$ parameters, and its logits for a batch have one
# row per image. We keep a copy of the starting weights for later.

# %% tags=["nbval-check-output"]
d2lite.seed_everything(0)
device = d2lite.try_gpu()
scratch = SoftmaxRegression().to(device)
W0, b0 = scratch.W.detach().clone(), scratch.b.detach().clone()
n_params = sum(p.numel() for p in scratch.parameters())
print(
    "parameters:",
    n_params,
    "| logits of 5 images:",
    tuple(scratch(X_train[:5].to(device)).shape),
)
assert n_params == 7850, f"expected 7,850 parameters, got {n_params}"

# %% [markdown]
# The gradient of the loss with respect to the weights follows from
# $\hat{\mathbf{y}} - \mathbf{y}$ by the chain rule: each logit $o_{ij}$ depends on $W_{kj}$
# through $x_{ik}$, so for the batch mean
#
# $$
# \nabla_{\mathbf{W}} L = \frac{1}{n} \mathbf{X}^\top (\hat{\mathbf{Y}} - \mathbf{Y}), \qquad
# \nabla_{\mathbf{b}} L = \frac{1}{n} \sum_i (\hat{\mathbf{y}}_i - \mathbf{y}_i).
# $$
#
# Let's confirm it on 128 training images before trusting autograd with the training.

# %%
Xb, yb = X_train[:128].to(device), y_train[:128].to(device)
cross_entropy(scratch(Xb), yb).backward()
with torch.no_grad():
    error = softmax(scratch(Xb)) - F.one_hot(yb, 10)  # (128, 10): y_hat - y
    grad_W = Xb.reshape(128, -1).T @ error / 128  # (784, 10)
gap = max(
    (scratch.W.grad - grad_W).abs().max(), (scratch.b.grad - error.mean(0)).abs().max()
)
print(f"largest |autograd - formula| = {gap:.1e}")
assert gap < 1e-6, f"autograd and X^T (Y_hat - Y) / n differ by {gap:.1e}"
scratch.zero_grad()

# %% [markdown]
# ### Stochastic gradient descent by hand
#
# The update is the one you have used since linear regression: take a minibatch, compute the
# gradient, and step every parameter against it,
# $\theta \leftarrow \theta - \eta \nabla_\theta L$. We write it as a subclass of
# `torch.optim.Optimizer`, so that `d2lite.fit` can use it later. The base class keeps the list
# of parameters and the learning rate and provides `zero_grad`; the line `p -= lr * p.grad` is
# the whole algorithm.


# %%
class SGDFromScratch(torch.optim.Optimizer):
    """Plain minibatch SGD: p <- p - lr * p.grad for every parameter."""

    def __init__(self, params, lr):
        super().__init__(params, defaults={"lr": lr})

    @torch.no_grad()  # the update itself must not be recorded by autograd
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p -= group["lr"] * p.grad


# %% [markdown]
# ### The training loop
#
# Training needs two more pieces. The *accuracy*, the share of images whose largest logit is the
# right class, is what we care about in the end; the loss is only the smooth stand-in that
# gradient descent can follow. And the loop itself: for every minibatch, the forward pass, the
# loss, `backward`, the update. One pass over the training set is an epoch. Both functions below
# also add up the loss and the number of right answers, weighting every batch by its size, so
# that a smaller last batch counts for what it is.


# %%
def count_correct(logits, y):
    """How many rows of logits (n, q) have their largest entry at the label y (n,)."""
    return (logits.argmax(dim=1) == y).sum().item()


def train_epoch(net, data, optimizer):
    """One pass over data, updating net; the mean loss and accuracy of its batches."""
    loss_sum, correct, count = 0.0, 0, 0
    for X, y in data:  # (128, 1, 28, 28), (128,)
        logits = net(X)  # (128, 10)
        loss = cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(y)
        correct += count_correct(logits, y)
        count += len(y)
    return loss_sum / count, correct / count


def evaluate_scratch(net, data):
    """Mean loss and accuracy of net over data, without recording gradients."""
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for X, y in data:
            logits = net(X)
            loss_sum += cross_entropy(logits, y).item() * len(y)
            correct += count_correct(logits, y)
            count += len(y)
    return loss_sum / count, correct / count


# %% [markdown]
# Now train for three epochs: minibatches of 128 images from `d2lite.data.batches` (shuffled,
# with the order of epoch $e$ fixed by the seed $0 + e$, so every run sees the same order), our
# `cross_entropy` as the loss, learning rate 0.1. After every epoch we measure the loss and the
# accuracy on the validation split. The accuracy on the training batches is counted on the fly,
# before each batch's update, so it lags a little behind the model at the end of the epoch.


# %%
def fashion_batches():
    """Shuffled training minibatches, in the same order on every call."""
    return d2lite.data.batches(X_train, y_train, batch_size=128, seed=0, device=device)


val_batches = d2lite.data.batches(
    X_val, y_val, batch_size=1000, shuffle=False, device=device
)
train_data, optimizer = fashion_batches(), SGDFromScratch(scratch.parameters(), lr=0.1)
ours = []  # per epoch: train loss, train accuracy, validation loss, validation accuracy
for epoch in range(3):
    train_data.set_epoch(epoch)  # the shuffle of epoch `epoch`
    ours.append(
        train_epoch(scratch, train_data, optimizer)
        + evaluate_scratch(scratch, val_batches)
    )
    print(
        "epoch {}: train loss {:.4f}, train acc {:.4f}, val loss {:.4f}, "
        "val acc {:.4f}".format(epoch + 1, *ours[-1])
    )

# %% [markdown]
# After three epochs the model already gets 83.5 % of the validation images right, far above
# the 10 % of guessing. The check asks for at least 80 %, the floor this lesson sets for the
# test set at the end, and for both losses to be still falling.

# %%
train_loss, train_acc, val_loss, val_acc = zip(*ours, strict=True)
assert val_acc[-1] >= 0.80, f"validation accuracy {val_acc[-1]:.3f} is below 80 %"
d2lite.record("val_acc_3_epochs", val_acc[-1])
assert train_loss[0] > train_loss[1] > train_loss[2] and val_loss[0] > val_loss[2]

# %% [markdown]
# ### Handing the loop over to `d2lite.fit`
#
# You will write this loop for every model in the book, so from here on `d2lite.fit` runs it:
# the same forward pass, loss, `backward` and `step`, plus the bookkeeping (progress bars,
# validation after each epoch, a history of the curves). `d2lite.accuracy` counts right answers
# as `count_correct` does, and `d2lite.evaluate` is `evaluate_scratch` for any model, loss and
# metrics. Before trusting them, run them on the same problem: a fresh model from the same
# starting weights, the same batches in the same order, the same optimiser, three epochs. Both
# routes do the same arithmetic, so they must give the same numbers.

# %%
handed = SoftmaxRegression().to(device)
with torch.no_grad():
    handed.W.copy_(W0)
    handed.b.copy_(b0)
history = d2lite.fit(
    handed,
    fashion_batches(),
    loss_fn=cross_entropy,
    optimizer=SGDFromScratch(handed.parameters(), lr=0.1),
    epochs=3,
    val_data=val_batches,
    metrics=[d2lite.accuracy],
)
print(history)

# %% [markdown]
# The checks: per epoch, the training loss and accuracy and the validation loss and accuracy
# agree with our loop's; `d2lite.evaluate` gives what `evaluate_scratch` gives; the weights are
# the same; and `d2lite.accuracy` counts a batch as `count_correct` does.

# %%
for curve, mine in [
    ("train_loss", train_loss),
    ("train_accuracy", train_acc),
    ("val_loss", val_loss),
    ("val_accuracy", val_acc),
]:
    gap = max(abs(a - b) for a, b in zip(history[curve], mine, strict=True))
    assert gap < 1e-6, f"{curve}: fit and our loop differ by {gap:.1e}"
checked = d2lite.evaluate(
    handed, val_batches, loss_fn=cross_entropy, metrics=[d2lite.accuracy]
)
assert abs(checked["loss"] - val_loss[-1]) < 1e-6 and checked["accuracy"] == val_acc[-1]
assert torch.equal(handed.W, scratch.W) and torch.equal(handed.b, scratch.b)
with torch.no_grad():
    logits_val = scratch(X_val.to(device))  # (6000, 10)
right, total = d2lite.accuracy(logits_val, y_val.to(device))
assert int(right) == count_correct(logits_val, y_val.to(device)) and total == 6000

# %% [markdown]
# Our cross-entropy also matches `nn.CrossEntropyLoss` on real logits, those of the trained
# model for the 6,000 validation images. And, as promised, the softmax never changes the
# predicted class: the largest probability always sits where the largest logit is.

# %%
ours_val = cross_entropy(logits_val, y_val.to(device))
theirs_val = nn.CrossEntropyLoss()(logits_val, y_val.to(device))
print(f"ours {ours_val:.6f}, nn.CrossEntropyLoss {theirs_val:.6f}")
assert abs(ours_val - theirs_val) < 1e-6, (
    f"the losses differ by {abs(ours_val - theirs_val):.1e}"
)
assert torch.equal(softmax(logits_val).argmax(1), logits_val.argmax(1)), (
    "same predicted class"
)

# %% [markdown]
# ## Softmax regression, concisely
#
# PyTorch has every piece ready-made. `nn.Flatten` turns each image into a row,
# `nn.Linear(784, 10)` holds the weights and the bias, `nn.CrossEntropyLoss` is log-softmax
# plus NLL, and `torch.optim.SGD` is our optimiser. One detail: `nn.Linear` stores its weight as
# (outputs, inputs) = $(10, 784)$ and computes $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$, so to
# start from the same point as the scratch model we copy in the transpose of `W0`.
#
# Three epochs at the rate 0.1 were a guess. Now choose properly: train the concise model with
# three learning rates, 0.03, 0.1 and 0.3, for up to ten epochs each, measure the validation
# accuracy after every epoch, and keep the rate and the epoch with the best one.
# `d2lite.EarlyStopping` does the bookkeeping: it stops a run after three epochs without a new
# best, and with `restore_best=True` it hands back the weights of the best epoch.


# %%
def train_concise(lr, epochs=10):
    """Concise softmax regression from the scratch model's start, SGD at rate lr.

    Early stopping on the validation accuracy keeps the best epoch's weights."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).to(device)  # -> (n, 10)
    with torch.no_grad():
        net[1].weight.copy_(W0.T)  # (10, 784)
        net[1].bias.copy_(b0)
    stopper = d2lite.EarlyStopping("val_accuracy", patience=3, mode="max",
                                   restore_best=True)
    sgd = torch.optim.SGD(net.parameters(), lr=lr)
    history = d2lite.fit(net, fashion_batches(), loss_fn=nn.CrossEntropyLoss(),
                         optimizer=sgd, epochs=epochs, val_data=val_batches,
                         metrics=[d2lite.accuracy], callbacks=[stopper])
    return net, history, stopper.best_epoch


runs = {lr: train_concise(lr) for lr in (0.03, 0.1, 0.3)}
for lr, (_, h, best) in runs.items():
    curve = " ".join(f"{a:.3f}" for a in h["val_accuracy"])
    print(f"lr {lr}: validation accuracy per epoch {curve}; best: epoch {best + 1}")

# %% [markdown]
# [Figure 4](#fig-softmax-regression-tuning) shows the three validation curves. The rate 0.03
# climbs steadily but slowly; 0.3 is fast but so jumpy that early stopping ends it before the
# ten epochs; 0.1 reaches the highest validation accuracy, and its best epoch is the one we
# keep. The best rate lies inside the grid, on both sides of it the validation accuracy is
# lower, so there is no reason to extend the search.

# %% mystnb={"figure": {"caption": "Validation accuracy of concise softmax regression after each epoch, for three learning rates; the rate and epoch with the highest value are kept.", "name": "fig-softmax-regression-tuning"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
for lr, (_, h, best) in runs.items():
    epochs_run = range(1, len(h) + 1)
    ax.plot(epochs_run, h["val_accuracy"], "o-", ms=3, label=f"lr = {lr}")
    ax.plot(best + 1, h["val_accuracy"][best], "k*", ms=9)
ax.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.7, 0.87))
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend(title="star: best epoch")
plt.show()

# %% [markdown]
# The checks on the search: the chosen rate is an interior point of the grid, and its best
# validation accuracy beats the worst rate's by more than half a point, about one standard
# error of an accuracy measured on 6,000 images (the cell prints it), so the choice is not a
# coin toss; 0.3 is stopped early, while 0.03 runs all ten epochs.

# %%
best_acc = {lr: max(h["val_accuracy"]) for lr, (_, h, _) in runs.items()}
chosen_lr = max(best_acc, key=best_acc.get)
final, final_history, final_epoch = runs[chosen_lr]
margin = best_acc[chosen_lr] - min(best_acc.values())  # over the worst rate
std_error = math.sqrt(best_acc[chosen_lr] * (1 - best_acc[chosen_lr]) / len(y_val))
print(
    f"chosen: lr {chosen_lr}, {final_epoch + 1} epochs, validation accuracy "
    f"{best_acc[chosen_lr]:.4f}; ahead of the worst rate by {100 * margin:.2f} points "
    f"(one standard error: {100 * std_error:.2f} points)"
)
assert min(runs) < chosen_lr < max(runs), f"chosen at the edge: {best_acc}"
d2lite.record("chosen_lr", chosen_lr)
assert margin > 0.005, f"best validation accuracies {best_acc}"
d2lite.record("margin_over_worst_rate", margin)
d2lite.record("best_val_acc", best_acc[chosen_lr])
assert len(runs[0.3][1]) < 10 == len(runs[0.03][1]), "0.3 stopped early"

# %% [markdown]
# And on the chosen run: the concise model at that rate repeats the scratch model's first
# three epochs, loss for loss, since both do the same arithmetic in a different order (so up
# to float32 rounding); its training loss falls most in the first epoch and then flattens;
# and its training accuracy ends within two points of its best validation accuracy and below
# 90 %: a linear model has little more to give on this data.

# %%
first3 = final_history["train_loss"][:3]
assert max(abs(a - b) for a, b in zip(first3, train_loss, strict=True)) < 1e-4, first3
assert abs(final_history["val_accuracy"][2] - val_acc[2]) < 1e-3, (
    "same model, same start"
)
loss_curve, acc_curve = final_history["train_loss"], final_history["train_accuracy"]
assert loss_curve[0] - loss_curve[1] > loss_curve[1] - loss_curve[-1], (
    "first drop largest"
)
print(f"training accuracy in the last epoch {acc_curve[-1]:.4f}")
assert acc_curve[-1] < 0.90, f"final training accuracy {acc_curve[-1]:.3f}"
assert abs(acc_curve[-1] - best_acc[chosen_lr]) < 0.02, f"{acc_curve[-1]:.3f}"
d2lite.record("final_train_acc", acc_curve[-1])

# %% [markdown]
# ## The test set, once
#
# Everything so far was chosen on the validation split. Now, and only now, the 10,000 test
# images: the chosen model's predictions, its test accuracy, which is the lesson's check
# (at least 80 %), and, from the same predictions, the analysis of its mistakes below. It
# gets 83.7 % of the test images right, a little less than the 85.3 % it got on the validation
# images: we chose the rate and the epoch for doing well there, so the validation number is
# slightly flattering, and the test number is the honest one.

# %%
with torch.no_grad():
    test_logits = final(X_test.to(device)).cpu()  # (10000, 10)
right, total = d2lite.accuracy(test_logits, y_test)
test_acc = int(right) / total
predicted = test_logits.argmax(dim=1)  # (10000,)
print(f"test accuracy {test_acc:.4f} ({total - int(right)} mistakes)")
assert test_acc >= 0.80, f"test accuracy {test_acc:.3f} is below 80 %"
d2lite.record("test_acc", test_acc)
assert test_acc < best_acc[chosen_lr], "the validation number should flatter"

# %% [markdown]
# ## What the model gets wrong
#
# An accuracy of 83.7 % still means 1,634 mistakes, well over a thousand. Let's look at some.
# [Figure 5](#fig-softmax-regression-mistakes) shows in its top row test images the model
# classifies correctly and in its bottom row (red titles) some it gets wrong; each title gives
# the true class and, below it, the prediction.

# %% mystnb={"figure": {"caption": "Test images classified right (top row) and wrong (bottom row, red); each title gives the true class and, after the arrow, the prediction.", "name": "fig-softmax-regression-mistakes"}}
right_ones = (predicted == y_test).nonzero()[:4, 0]
wrong_ones = (predicted != y_test).nonzero()[:4, 0]
shown = torch.cat([right_ones, wrong_ones])  # (8,) test indices
assert (predicted != y_test).sum() > 1000, "expected more than 1,000 mistakes"
titles = [f"{classes[y_test[i]]}\n-> {classes[predicted[i]]}" for i in shown]
axes = d2lite.show_images(X_test[shown, 0], 2, 4, titles=titles, scale=1.6)
for ax in axes[1]:
    ax.title.set_color("red")
for ax in axes.flat:
    ax.title.set_fontsize(8)
axes[0, 0].figure.subplots_adjust(hspace=0.45)  # room for the two-line titles
plt.show()

# %% [markdown]
# A **[confusion matrix](../../book/glossary.md#term-confusion-matrix)** (混淆矩阵) counts, for
# every pair of classes, how often an image of the first class was predicted as the second. We
# add up both directions of each pair and list the five pairs the model mixes up most, and the
# accuracy on each class.

# %%
confusion = torch.zeros(10, 10, dtype=torch.int64)  # rows: true, columns: predicted
confusion.index_put_((y_test, predicted), torch.ones_like(y_test), accumulate=True)
mixed = (confusion + confusion.T).triu(diagonal=1)  # (10, 10): both directions
counts, pairs = mixed.flatten().topk(5)
top_pairs = [(classes[p // 10], classes[p % 10]) for p in pairs.tolist()]
for (a, b), c in zip(top_pairs, counts.tolist(), strict=True):
    print(f"{a:>11} <-> {b:<11} {c:4d} mistakes")
per_class = confusion.diag() / confusion.sum(dim=1)  # (10,)
print(
    "accuracy per class:",
    {classes[c]: round(a, 2) for c, a in enumerate(per_class.tolist())},
)

# %% [markdown]
# The mistakes are not spread evenly. The four most confused pairs all come from the four
# garments for the upper body (T-shirt/top, pullover, coat and shirt), whose outlines differ
# mostly in sleeves and collars. The shirt is the worst class, wrong more than three times in
# ten, because it looks like each of the other three. Among the pairs that involve none of
# these four, footwear is mixed up most: sandals taken for sneakers and back. Trousers and
# bags, with shapes of their own, are almost always right. A
# linear model can only weigh pixels one by one; the multilayer perceptrons of chapter 3 and
# the convolutional networks of chapter 4 combine them into features such as "has a collar"
# and do much better.

# %%
upper_body = {"T-shirt/top", "Pullover", "Coat", "Shirt"}
assert all(set(pair) <= upper_body for pair in top_pairs[:4]), f"top: {top_pairs[:4]}"
assert per_class.argmin() == classes.index("Shirt"), (
    "the shirt should be the hardest class"
)
assert per_class[classes.index("Shirt")] < 0.7, (
    "shirts: wrong more than 30 % of the time"
)
others = torch.tensor([c not in upper_body for c in classes])  # (10,)
rest = mixed * (others[:, None] & others[None, :])  # (10, 10): pairs of two others
rest_pair = rest.flatten().argmax().item()
rest_pair = {classes[rest_pair // 10], classes[rest_pair % 10]}
assert rest_pair == {"Sandal", "Sneaker"}, f"outside the upper body: {rest_pair}"
trouser, bag = (per_class[classes.index(c)] for c in ("Trouser", "Bag"))
assert min(trouser, bag) > 0.9, f"trousers {trouser:.2f}, bags {bag:.2f}"

# %% [markdown]
# ## Min–max scaling on real images
#
# Earlier you saw that min–max scaling picks the same class as softmax but makes poor
# probabilities. Here is how poor, on the trained model's logits for the 6,000 validation
# images. The accuracy is the same to the last image. But min–max gives every image one class
# of probability exactly 0, and among the 60,000 training and validation images that class
# is the true one for 6 of them, so the average cross-entropy over these images is infinite:
# one such image is enough. And its probabilities say little about how sure the model should
# be. Softmax's average probability for the class it predicts, 0.83, is close to how often
# those predictions are right, 85 % of the time (the check: within five points); min–max's is
# 0.23, less than half of that.

# %%
with torch.no_grad():
    val_logits = final(X_val.to(device)).cpu()  # (6000, 10)
    train_logits = final(X_train.to(device)).cpu()  # (54000, 10)
P_val_soft, P_val_minmax = softmax(val_logits), minmax_normalise(val_logits)
accuracy_val = (val_logits.argmax(1) == y_val).float().mean().item()
P_minmax = minmax_normalise(torch.cat([train_logits, val_logits]))  # (60000, 10)
P_true = P_minmax[torch.arange(60_000), torch.cat([y_train, y_val])]  # (60000,)
truth_impossible = (P_true == 0).sum().item()
confidence = {
    name: P.max(dim=1).values.mean().item()
    for name, P in (("softmax", P_val_soft), ("min-max", P_val_minmax))
}
print(
    f"validation accuracy {accuracy_val:.3f}; mean probability of the predicted class: "
    f"softmax {confidence['softmax']:.3f}, min-max {confidence['min-max']:.3f}; images "
    f"whose true class min-max calls impossible: {truth_impossible} of 60,000"
)
assert torch.equal(P_val_soft.argmax(1), P_val_minmax.argmax(1)), "same predictions"
assert truth_impossible >= 1 and torch.isinf(-P_true.log().mean()), "infinite loss"
d2lite.record("minmax_impossible", truth_impossible)
assert abs(confidence["softmax"] - accuracy_val) < 0.05, f"{confidence}"
assert confidence["min-max"] < accuracy_val / 2, f"{confidence}"
d2lite.record("softmax_confidence", confidence["softmax"])

# %% [markdown]
# ## Summary
#
# - For $q$ classes a model outputs $q$ logits; labels are class indices, or one-hot vectors
#   when you write out the cross-entropy. A sigmoid per output is not a distribution and
#   saturates.
# - $\operatorname{softmax}(\mathbf{o})_j = \exp(o_j) / \sum_k \exp(o_k)$ is positive and sums
#   to 1; it depends only on differences between logits and sharpens large gaps: $(1, 2, 3)$
#   gives $(0.090, 0.245, 0.665)$, against $(\tfrac16, \tfrac26, \tfrac36)$ for plain
#   normalisation. The sigmoid is its two-class case.
# - Why the exponential: it is the maximum-entropy distribution for given average scores, and it
#   makes the logits log-probabilities (the exponential family). Min–max scaling picks the same
#   class but gives the least likely class probability 0 and ignores the size of the gaps.
# - Compute softmax stably by subtracting the largest logit, and its log directly with
#   log-sum-exp: $\log \operatorname{softmax}(\mathbf{o})_j = o_j - \operatorname{LSE}(\mathbf{o})$.
# - Cross-entropy with a one-hot label is the negative log-likelihood of the true class:
#   `log_softmax` + `nll_loss` = `nn.CrossEntropyLoss`, which takes logits. Its gradient with
#   respect to the logits is $\hat{\mathbf{y}} - \mathbf{y}$, and with respect to the weights
#   $\mathbf{X}^\top(\hat{\mathbf{Y}} - \mathbf{Y}) / n$.
# - Softmax regression, $\operatorname{softmax}(\mathbf{X}\mathbf{W} + \mathbf{b})$, is a
#   single-layer, linear classifier. Our own training loop and `d2lite.fit` give the same
#   numbers. With the learning rate and the number of epochs chosen on a validation split, it
#   reaches 83.7 % on the Fashion-MNIST test set, and most of its mistakes mix up the
#   upper-body garments, shirts above all.
#
# ## Exercises
#
# 1. **Temperature.** Dividing the logits by a *temperature* $T > 0$ before the softmax changes
#    how sure it is. Compute `softmax(examples[:1] / T)` for $T = 0.1$, $1$ and $100$ and
#    describe the three results. Which limits do you get as $T \to 0$ and as $T \to \infty$?

# %% tags=["hide-cell"]
for T in (0.01, 0.1, 1.0, 100.0, 1e4):
    print(f"T = {T:g}:", [round(p, 4) for p in softmax(examples[:1] / T)[0].tolist()])
assert softmax(examples[:1] / 0.01)[0, 2] > 0.999, "T -> 0: all on the largest logit"
assert (softmax(examples[:1] / 1e4) - 1 / 3).abs().max() < 1e-3, "T -> inf: uniform"

# %% [markdown]
# 2. **Your own log-sum-exp.** Write `lse(o)`, stable for a 1-D tensor of any values, and
#    compare it with `torch.logsumexp`. Why is
#    $\max_k o_k \le \operatorname{LSE}(\mathbf{o}) \le \max_k o_k + \log q$ for $q$ logits?


# %% tags=["hide-cell"]
def lse(o):
    """log(sum(exp(o))) of a 1-D tensor, with the maximum pulled out."""
    m = o.max()
    return m + torch.log(torch.exp(o - m).sum())


o_big = torch.tensor([1000.0, 1001.0, 1002.0])
assert abs(lse(o_big) - 1002.4076) < 1e-3
assert torch.allclose(lse(O_rand[0]), torch.logsumexp(O_rand[0], dim=0))
# The sum has its largest term exp(max) and at most q terms that large.
assert o_big.max() <= lse(o_big) <= o_big.max() + math.log(3)

# %% [markdown]
# 3. **The double-softmax bug.** A common mistake is to end the model with a softmax and then
#    use `nn.CrossEntropyLoss`, which applies another one. Show that with probabilities as its
#    input the loss can never go below $\log(1 + 9/e) \approx 1.46$ for ten classes, even for
#    perfect predictions. What does the second softmax do to the gradients, and so to
#    training?

# %% tags=["hide-cell"]
perfect = torch.eye(10)  # (10, 10): probability 1 on the right class, image by image
floor = nn.CrossEntropyLoss()(perfect, torch.arange(10))
print(f"loss of perfect predictions through a second softmax: {floor:.4f}")
assert abs(floor - math.log(1 + 9 / math.e)) < 1e-6 and abs(floor - 1.46) < 0.01
# And the gradients: for a confidently wrong prediction (logit 10 on the wrong class),
# compare the gradient with respect to the model's logits, through one softmax and two.
wrong = torch.zeros(1, 10)
wrong[0, 3] = 10.0                                # sure of class 3; the label is 0
grad_norms = {}
for name, head in [("one softmax", lambda z: z), ("two", lambda z: z.softmax(dim=1))]:
    z = wrong.clone().requires_grad_()
    nn.CrossEntropyLoss()(head(z), torch.tensor([0])).backward()
    grad_norms[name] = z.grad.norm().item()
print({name: f"{g:.1e}" for name, g in grad_norms.items()})
assert grad_norms["two"] < 1e-3 and grad_norms["one softmax"] > 1
# Where the model is most wrong, the saturated second softmax passes almost no gradient,
# so training barely corrects its worst mistakes: the sigmoid-and-squared-loss trap of
# the logistic regression lesson again.

# %% [markdown]
# 4. **What did it learn?** Each column of `scratch.W` holds one weight per pixel. Show the ten
#    columns as 28 × 28 images with `d2lite.show_images` (transpose `W` first, so that each
#    class is a row, then reshape to `(10, 28, 28)`). Which classes can you recognise? Where
#    are the weights for "Trouser" positive, and where negative?
# 5. **Push the linear model.** Add the rate 0.05 and 0.2 to the grid, or try
#    `torch.optim.Adam` with a few rates, choosing on the validation split as before. How much
#    validation accuracy does a linear model gain, and how large does the gap between training
#    and validation accuracy become?
