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
# # Softmax Regression
#
# The meal machine has learned to answer a yes-or-no question. In this lesson it chooses among
# several answers, and you meet the function that turns its scores into probabilities: the
# softmax. You will see why softmax beats plain normalisation, how to compute it without
# overflowing (the log-sum-exp trick), why log-softmax followed by the negative log-likelihood
# *is* the cross-entropy loss, and why its gradient is simply "prediction minus label". Then you
# build softmax regression from scratch, rebuild it in three lines of PyTorch, and train both to
# about 83 % test accuracy on Fashion-MNIST.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import math
import matplotlib.pyplot as plt
from torch import nn
import torch.nn.functional as F

# %% [markdown]
# ## Rice, noodles or bread?
#
# In {doc}`logistic_regression` the meal machine read the day and the humidity and decided one
# thing: rice or no rice. Suppose now that it chooses among three meals: rice, noodles and bread.
# The training data still say what you actually ate, but "what you ate" is now one of three
# classes, and we want the machine to output a probability for each.
#
# To compare a prediction of three probabilities with a label, write the label as three numbers
# too: a 1 for the meal you ate and a 0 for the others. Day 1, rice, becomes $(1, 0, 0)$: with
# certainty rice, with certainty not noodles or bread. This is **{term}`one-hot encoding`**
# (独热编码): one position per class, exactly one of them "hot". In code, labels are stored as
# class indices (0 = rice, 1 = noodles, 2 = bread) and `F.one_hot` expands them.

# %%
# NBVAL_CHECK_OUTPUT
meals = ["rice", "noodles", "bread"]
labels = torch.tensor([0, 1, 2, 0])      # (4,): what you ate on four days
Y = F.one_hot(labels, num_classes=3)     # (4, 3): one row per day, one column per meal
print("columns:", meals)
print(Y)
assert torch.equal(Y.sum(dim=1), torch.ones(4, dtype=torch.int64)), "exactly one 1 per row"

# %% [markdown]
# The model gets one output per class. Each output $o_j$ is its own linear function of the
# inputs, $o_j = \mathbf{w}_j^\top \mathbf{x} + b_j$, exactly like the single output of logistic
# regression; these raw scores are the {term}`logits <logit>`. The question is how to turn three
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
o = torch.tensor([10.0, 100.0, 1000.0])
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
# The **{term}`softmax`** (softmax 函数, 归一化指数函数) exponentiates first and normalises after:
#
# $$
# \hat{y}_j = \operatorname{softmax}(\mathbf{o})_j = \frac{\exp(o_j)}{\sum_{k} \exp(o_k)}.
# $$
#
# Every $\exp(o_j)$ is positive, so negative logits are fine, and the results sum to 1. Here it is
# for a batch of logit vectors, one per row, next to plain normalisation.

# %%
def softmax_naive(logits):
    """Softmax of each row of logits: (n, q) -> (n, q). Overflows for large logits (see below)."""
    E = torch.exp(logits)
    return E / E.sum(dim=1, keepdim=True)  # (n, q) / (n, 1): each row divided by its own sum


def normalise(logits):
    """Divide each row of logits by its sum: (n, q) -> (n, q)."""
    return logits / logits.sum(dim=1, keepdim=True)


# %% [markdown]
# For the logits $(1, 2, 3)$ softmax gives about $(0.090, 0.245, 0.665)$, against
# $(0.167, 0.333, 0.5)$ for plain normalisation. Both rank the classes the same way, but softmax
# gives the largest logit a much larger share, and the smallest a smaller one.

# %%
examples = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 2.0, 3.0]])  # (2, 3): two logit vectors
P_soft, P_plain = softmax_naive(examples), normalise(examples)
print("softmax:", [[round(p, 4) for p in row] for row in P_soft.tolist()])
print("plain:  ", [[round(p, 4) for p in row] for row in P_plain.tolist()])
assert torch.allclose(P_soft[0], torch.tensor([0.0900, 0.2447, 0.6652]), atol=1e-4), "softmax"
assert torch.allclose(P_plain[0], torch.tensor([1 / 6, 2 / 6, 3 / 6])), "plain normalisation"
assert torch.allclose(P_plain[1], torch.tensor([-0.25, 0.5, 0.75])), "negative logit"
assert (P_soft > 0).all() and torch.allclose(P_soft.sum(dim=1), torch.ones(2)), "a distribution"

# %% [markdown]
# The chart puts the two side by side for $(1, 2, 3)$. See how softmax pushes probability from
# the weak classes towards the strong one.

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
positions = torch.arange(3)
ax.bar(positions - 0.2, P_plain[0], width=0.4, label="plain normalisation")
ax.bar(positions + 0.2, P_soft[0], width=0.4, label="softmax")
ax.set(xticks=positions.tolist(), xticklabels=["$o_1 = 1$", "$o_2 = 2$", "$o_3 = 3$"],
       xlabel="logit", ylabel="probability",
       title="Turning the logits (1, 2, 3) into probabilities")
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
shifted = softmax_naive(examples[:1] + 50.0)                     # (51, 52, 53)
sharp = softmax_naive(10 * examples[:1])                          # (10, 20, 30)
print("softmax(10, 20, 30):", [f"{p:.5f}" for p in sharp[0].tolist()])
assert torch.allclose(shifted, P_soft[:1], atol=1e-6), "adding a constant should change nothing"
assert torch.allclose(normalise(10 * examples[:1]), P_plain[:1]), "scaling should not change plain"
assert sharp[0, 2] > 0.9999, "softmax(10, 20, 30) should be nearly one-hot"
z = torch.linspace(-8, 8, 33)
two_class = softmax_naive(torch.stack([z, torch.zeros_like(z)], dim=1))  # (33, 2)
assert torch.allclose(two_class[:, 0], torch.sigmoid(z), atol=1e-6), "softmax(z, 0) = sigmoid(z)"

# %% [markdown]
# ## Overflow and the log-sum-exp trick
#
# `softmax_naive` has a trap. A float32 holds numbers up to about $3.4 \times 10^{38}$, and
# $e^{89} \approx 4.5 \times 10^{38}$ is already too large: `torch.exp` returns `inf`. Logits of
# a few hundred happen in practice (an untrained network with large inputs, a model that has
# grown very sure of itself), and then the softmax computes $\infty / \infty$ = `nan`.

# %%
big = torch.tensor([[1000.0, 1001.0, 1002.0]])
print(f"exp(88) = {torch.exp(torch.tensor(88.0)):.3e}, exp(89) = {torch.exp(torch.tensor(89.0))}")
print("naive softmax of (1000, 1001, 1002):", softmax_naive(big))
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
# The function $\log \sum_k \exp(o_k)$ is called **{term}`log-sum-exp`** (对数求和指数), and
# computing it with the maximum pulled out is the log-sum-exp trick. Both stable functions fit in
# a few lines.

# %%
def softmax(logits):
    """Softmax of each row, safe for any logits: (n, q) -> (n, q)."""
    E = torch.exp(logits - logits.max(dim=1, keepdim=True).values)  # (n, q), every entry <= 1
    return E / E.sum(dim=1, keepdim=True)


def log_softmax(logits):
    """Log of the softmax of each row, without overflow or underflow: (n, q) -> (n, q)."""
    shifted = logits - logits.max(dim=1, keepdim=True).values           # (n, q): o - m <= 0
    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))  # minus LSE(o - m)


# %% [markdown]
# Now $(1000, 1001, 1002)$ gives the same probabilities as $(1, 2, 3)$, as it should, and both
# functions agree with PyTorch's `torch.softmax` and `F.log_softmax`. For the logits $(0, 200)$
# the first probability is $e^{-200}$, far below the smallest float32 ($\approx 10^{-45}$). The
# log of the softmax therefore says $-\infty$, while `log_softmax` gives the exact answer, $-200$.

# %%
edge = torch.tensor([[0.0, 200.0]])
print("softmax(1000, 1001, 1002):", [f"{p:.4f}" for p in softmax(big)[0].tolist()])
print(f"log(softmax(0, 200)) = {torch.log(softmax(edge))[0, 0].item()}, "
      f"log_softmax(0, 200) = {log_softmax(edge)[0, 0].item()}")
assert torch.allclose(softmax(big), P_soft[:1], atol=1e-6), "shifted logits, same softmax"
assert torch.allclose(softmax(big), torch.softmax(big, dim=1)), "our softmax = torch.softmax"
assert torch.allclose(log_softmax(big), F.log_softmax(big, dim=1)), "log_softmax = PyTorch's"
assert torch.isinf(torch.log(softmax(edge))[0, 0]), "log of an underflowed probability is -inf"
assert log_softmax(edge)[0, 0].item() == -200.0, "log_softmax should give exactly -200"

# %% [markdown]
# ## Cross-entropy for many classes
#
# {doc}`information_theory` defined the cross-entropy between the true distribution $\mathbf{y}$
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
logits = torch.tensor([[2.0, 1.0, 0.1],   # day 1: rice, and the model agrees
                       [0.5, 2.5, 0.3],   # day 2: noodles, the model agrees
                       [1.2, 0.2, 3.0],   # day 3: bread, the model agrees
                       [0.3, 1.8, 0.9]])  # day 4: rice, but the model bets on noodles
per_day = -log_softmax(logits)[torch.arange(4), labels]   # (4,): pick the true class per row
print("loss per day:", [f"{v:.3f}" for v in per_day.tolist()])
print(f"sum {per_day.sum():.4f} (source notes), mean {per_day.mean():.4f} (PyTorch)")
assert per_day.argmax() == 3, "day 4, the wrong bet, should cost the most"
one_hot_form = -(Y * log_softmax(logits)).sum(dim=1)      # the formula with the full sum
assert torch.allclose(per_day, one_hot_form), "picking the true class = the one-hot sum"

# %% [markdown]
# Picking "minus the log-probability of the true class" has a name of its own: it is the
# **{term}`negative log-likelihood`** (负对数似然, NLL) of the label under the model. PyTorch
# splits the loss into exactly these two steps. `F.log_softmax` turns logits into
# log-probabilities, and `F.nll_loss` picks the true class's entry, negates it and averages.
# `nn.CrossEntropyLoss` does both at once, which is why it takes *logits*, not probabilities.
# Our version is the same two steps.

# %%
def cross_entropy(logits, y):
    """Mean cross-entropy of logits: (n, q) for class indices y: (n,), from scratch."""
    return -log_softmax(logits)[torch.arange(len(y), device=y.device), y].mean()  # -log y_hat_y


ours = cross_entropy(logits, labels)
nll = F.nll_loss(F.log_softmax(logits, dim=1), labels)
torch_ce = nn.CrossEntropyLoss()(logits, labels)
summed = nn.CrossEntropyLoss(reduction="sum")(logits, labels)
print(f"ours {ours:.6f}, log_softmax + NLL {nll:.6f}, CrossEntropyLoss {torch_ce:.6f}")
assert abs(ours - torch_ce) < 1e-6 and abs(nll - torch_ce) < 1e-6, "the three should agree"
assert abs(summed - per_day.sum()) < 1e-6, "reduction='sum' gives the source notes' total"

# %% [markdown]
# The agreement is not luck of these four rows. On a batch of 64 random logit vectors over 10
# classes, scaled up so that some are in the hundreds, our loss still matches PyTorch's. The loss
# is large now, so we compare relative to its size: float32 carries about seven digits.

# %%
d2lite.seed_everything(0)
O_rand, y_rand = 100 * torch.randn(64, 10), torch.randint(0, 10, (64,))  # (64, 10), (64,)
ce_ours, ce_torch = cross_entropy(O_rand, y_rand), F.cross_entropy(O_rand, y_rand)
relative = (abs(ce_ours - ce_torch) / ce_torch).item()
print(f"loss {ce_torch:.2f} on logits up to {O_rand.abs().max():.0f}; "
      f"relative difference {relative:.1e}")
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
by_formula = softmax(logits) - Y                              # (4, 3): y_hat - y
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
assert by_formula[3].argmin() == 0 and by_formula[3].argmax() == 1, "rice up, noodles down"

# %% [markdown]
# ## Fashion-MNIST
#
# Time for real data. Fashion-MNIST {cite}`xiao2017fashion` has 70,000 grey-scale photos of
# clothes, 28 × 28 pixels each, in ten classes: T-shirts, trousers, pullovers, dresses, coats,
# sandals, shirts, sneakers, bags and ankle boots. Zalando made it as a drop-in replacement for
# MNIST's handwritten digits, which had become too easy, with the same image size and the same
# split: 60,000 images for training and 10,000 for testing. `d2lite.data.load_fashion_mnist`
# returns the images as float32 tensors in $[0, 1]$ and the labels as class indices.

# %%
# NBVAL_CHECK_OUTPUT
(X_train, y_train), (X_test, y_test) = d2lite.data.load_fashion_mnist()
classes = d2lite.data.FASHION_MNIST_CLASSES
print(X_train.shape, X_train.dtype, y_train.shape, y_train.dtype)
print(X_test.shape, "classes:", ", ".join(classes))
print("training images per class:", torch.bincount(y_train).tolist())
assert (torch.bincount(y_train) == 6000).all() and (torch.bincount(y_test) == 1000).all()

# %% [markdown]
# Every class has exactly 6,000 training and 1,000 test images, so guessing gives 10 % accuracy.
# Here is the first training image of each class. Notice how alike the T-shirt, the pullover, the
# coat and the shirt look at this resolution.

# %%
first_of_each = [int((y_train == c).nonzero()[0]) for c in range(10)]
d2lite.show_images(X_train[first_of_each, 0], 2, 5, titles=classes, scale=1.6)
plt.show()

# %% [markdown]
# ## Softmax regression from scratch
#
# **{term}`Softmax regression`** (softmax 回归) is the linear model with one output per class and
# a softmax on top. Flatten each image into a row of $d = 784$ pixels; a batch is then a matrix
# $\mathbf{X}$ of shape $(n, 784)$, and with a weight matrix $\mathbf{W}$ of shape $(784, 10)$ and
# a bias $\mathbf{b}$ of shape $(10,)$ the logits and probabilities are
#
# $$
# \mathbf{O} = \mathbf{X}\mathbf{W} + \mathbf{b}, \qquad
# \hat{\mathbf{Y}} = \operatorname{softmax}(\mathbf{O}) \text{ row by row},
# $$
#
# with $\mathbf{b}$ {term}`broadcast <broadcasting>` over the rows. Despite the softmax it is still
# a linear model: softmax never changes which logit is largest, so the predicted class is the
# $\arg\max$ of ten linear functions of the pixels.
#
# We store $\mathbf{W}$ and $\mathbf{b}$ as `nn.Parameter`s inside an `nn.Module`. That is all the
# framework we borrow: it lets `d2lite.fit` find the parameters and move them to a GPU. The
# weights start as small random numbers, the bias at zero.

# %%
class SoftmaxRegression(nn.Module):
    """Logits O = X W + b for images X: (n, 1, 28, 28) -> (n, 10)."""

    def __init__(self, num_inputs=784, num_classes=10):
        super().__init__()
        self.W = nn.Parameter(0.01 * torch.randn(num_inputs, num_classes))  # (784, 10)
        self.b = nn.Parameter(torch.zeros(num_classes))                     # (10,)

    def forward(self, X):
        return X.reshape(len(X), -1) @ self.W + self.b  # (n, 784) @ (784, 10) + (10,)


# %% [markdown]
# The model has $784 \times 10 + 10 = 7{,}850$ parameters, and its logits for a batch have one
# row per image. We keep a copy of the starting weights for later.

# %%
# NBVAL_CHECK_OUTPUT
d2lite.seed_everything(0)
scratch = SoftmaxRegression()
W0, b0 = scratch.W.detach().clone(), scratch.b.detach().clone()
n_params = sum(p.numel() for p in scratch.parameters())
print("parameters:", n_params, "| logits of 5 images:", tuple(scratch(X_train[:5]).shape))
assert n_params == 7850, f"expected 7,850 parameters, got {n_params}"

# %% [markdown]
# The gradient of the loss with respect to the weights follows from $\hat{\mathbf{y}} - \mathbf{y}$
# by the chain rule: each logit $o_{ij}$ depends on $W_{kj}$ through $x_{ik}$, so for the batch
# mean
#
# $$
# \nabla_{\mathbf{W}} L = \frac{1}{n} \mathbf{X}^\top (\hat{\mathbf{Y}} - \mathbf{Y}), \qquad
# \nabla_{\mathbf{b}} L = \frac{1}{n} \sum_i (\hat{\mathbf{y}}_i - \mathbf{y}_i).
# $$
#
# Let's confirm it on 128 training images before trusting autograd with the training.

# %%
Xb, yb = X_train[:128], y_train[:128]
cross_entropy(scratch(Xb), yb).backward()
with torch.no_grad():
    error = softmax(scratch(Xb)) - F.one_hot(yb, 10)               # (128, 10): y_hat - y
    grad_W = Xb.reshape(128, -1).T @ error / 128                   # (784, 10)
gap = max((scratch.W.grad - grad_W).abs().max(), (scratch.b.grad - error.mean(0)).abs().max())
print(f"largest |autograd - formula| = {gap:.1e}")
assert gap < 1e-6, f"autograd and X^T (Y_hat - Y) / n differ by {gap:.1e}"
scratch.zero_grad()

# %% [markdown]
# ### Stochastic gradient descent by hand
#
# The update is the one you have used since linear regression: take a minibatch, compute the
# gradient, and step every parameter against it, $\theta \leftarrow \theta - \eta \nabla_\theta L$.
# To plug it into `d2lite.fit`, we write it as a subclass of `torch.optim.Optimizer`. The base
# class keeps the list of parameters and the learning rate and provides `zero_grad`; the line
# `p -= lr * p.grad` is the whole algorithm.

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
# Now train: minibatches of 128 images from `d2lite.data.batches` (shuffled with a fixed seed, so
# every run sees the same order), our `cross_entropy` as the loss, learning rate 0.1, ten passes
# over the training set. `d2lite.fit` runs the loop of forward pass, loss, `backward` and `step`
# for us and counts the accuracy on the training batches as it goes.

# %%
def fashion_batches():
    """Shuffled minibatches of the training set, in the same order on every call."""
    return d2lite.data.batches(X_train, y_train, batch_size=128, seed=0)


history = d2lite.fit(scratch, fashion_batches(), loss_fn=cross_entropy,
                     optimizer=SGDFromScratch(scratch.parameters(), lr=0.1), epochs=10,
                     metrics=[d2lite.accuracy], plot=False)
print(history)

# %% [markdown]
# The real test is the 10,000 test images, which training never saw. `d2lite.evaluate` runs the
# model over them without gradients. The floor for this lesson is 80 %; softmax regression gets
# about 83.5 %.

# %%
test_batches = d2lite.data.batches(X_test, y_test, batch_size=1000, shuffle=False)
scratch_test = d2lite.evaluate(scratch, test_batches, loss_fn=cross_entropy,
                               metrics=[d2lite.accuracy])
print(f"test loss {scratch_test['loss']:.4f}, test accuracy {scratch_test['accuracy']:.4f}")
assert scratch_test["accuracy"] >= 0.80, f"test accuracy {scratch_test['accuracy']:.3f} < 80 %"
assert abs(scratch_test["accuracy"] - 0.835) < 0.01, "expected about 83.5 %"

# %% [markdown]
# Our cross-entropy also matches `nn.CrossEntropyLoss` on real logits, those of the trained model
# for all 10,000 test images. And, as promised, the softmax never changes the predicted class: the
# largest probability always sits where the largest logit is.

# %%
device = scratch.W.device  # where fit left the model: a GPU if there is one
with torch.no_grad():
    test_logits = scratch(X_test.to(device))                       # (10000, 10)
ours = cross_entropy(test_logits, y_test.to(device))
theirs = nn.CrossEntropyLoss()(test_logits, y_test.to(device))
print(f"ours {ours:.6f}, nn.CrossEntropyLoss {theirs:.6f}")
assert abs(ours - theirs) < 1e-6, f"the losses differ by {abs(ours - theirs):.1e}"
assert torch.equal(softmax(test_logits).argmax(1), test_logits.argmax(1)), "same predicted class"

# %% [markdown]
# ## Softmax regression, concisely
#
# PyTorch has every piece ready-made. `nn.Flatten` turns each image into a row, `nn.Linear(784, 10)`
# holds the weights and the bias, `nn.CrossEntropyLoss` is log-softmax plus NLL, and
# `torch.optim.SGD` is our optimizer. One detail: `nn.Linear` stores its weight as
# (outputs, inputs) = $(10, 784)$ and computes $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$, so to start
# from the same point as the scratch model we copy in the transpose of `W0`.

# %%
concise = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))  # (n, 1, 28, 28) -> (n, 784) -> (n, 10)
with torch.no_grad():
    concise[1].weight.copy_(W0.T)  # (10, 784)
    concise[1].bias.copy_(b0)

# %% [markdown]
# Train it on the same batches, in the same order, with the same learning rate. This time we
# let `fit` draw its plot of the loss and the training accuracy, epoch by epoch.

# %%
history = d2lite.fit(concise, fashion_batches(), loss_fn=nn.CrossEntropyLoss(),
                     optimizer=torch.optim.SGD(concise.parameters(), lr=0.1), epochs=10,
                     metrics=[d2lite.accuracy])

# %% [markdown]
# The loss drops most from the first epoch to the second and then flattens out, and the training
# accuracy ends a little above 85 %. A linear model has little more to give on this data.

# %%
loss, train_acc = history["train_loss"], history["train_accuracy"]
print("loss per epoch:", [round(v, 3) for v in loss])
assert loss[0] - loss[1] > loss[1] - loss[-1], "the first drop should be the largest"
assert 0.85 <= train_acc[-1] < 0.87, f"final training accuracy {train_acc[-1]:.3f}"

# %% [markdown]
# Since both models do the same arithmetic, in a different order, they should end up with the same
# weights, up to float32 rounding, and the same test accuracy.

# %%
concise_test = d2lite.evaluate(concise, test_batches, metrics=[d2lite.accuracy])
weight_gap = (concise[1].weight.T - scratch.W).abs().max().item()
print(f"test accuracy: scratch {scratch_test['accuracy']:.4f}, "
      f"concise {concise_test['accuracy']:.4f}; largest weight difference {weight_gap:.1e}")
assert concise_test["accuracy"] >= 0.80, f"test accuracy {concise_test['accuracy']:.3f} < 80 %"
assert weight_gap < 1e-4, f"the two models' weights differ by {weight_gap:.1e}"
assert abs(concise_test["accuracy"] - scratch_test["accuracy"]) < 1e-4, "accuracies differ"

# %% [markdown]
# ## What the model gets wrong
#
# An accuracy of 83.5 % still means more than 1,600 mistakes. Let's look at some. The top row shows
# test images the model classifies correctly, the bottom row (red titles) some it gets wrong; each
# title gives the true class and, below it, the prediction.

# %%
with torch.no_grad():
    predicted = concise(X_test.to(device)).argmax(dim=1).cpu()     # (10000,)
right, wrong = (predicted == y_test).nonzero()[:6, 0], (predicted != y_test).nonzero()[:6, 0]
shown = torch.cat([right, wrong])                                  # (12,) test indices
assert (predicted != y_test).sum() > 1600, "expected more than 1,600 mistakes"
titles = [f"{classes[y_test[i]]}\n-> {classes[predicted[i]]}" for i in shown]
axes = d2lite.show_images(X_test[shown, 0], 2, 6, titles=titles, scale=1.6)
for ax in axes[1]:
    ax.title.set_color("red")
for ax in axes.flat:
    ax.title.set_fontsize(8)
axes[0, 0].figure.subplots_adjust(hspace=0.45)  # room for the two-line titles
plt.show()

# %% [markdown]
# A **{term}`confusion matrix`** (混淆矩阵) counts, for every pair of classes, how often an image
# of the first class was predicted as the second. We add up both directions of each pair and list
# the five pairs the model mixes up most, and the accuracy on each class.

# %%
confusion = torch.zeros(10, 10, dtype=torch.int64)                 # rows: true, columns: predicted
confusion.index_put_((y_test, predicted), torch.ones_like(y_test), accumulate=True)
mixed = (confusion + confusion.T).triu(diagonal=1)                 # (10, 10): both directions
counts, pairs = mixed.flatten().topk(5)
top_pairs = [(classes[p // 10], classes[p % 10]) for p in pairs.tolist()]
for (a, b), c in zip(top_pairs, counts.tolist(), strict=True):
    print(f"{a:>11} <-> {b:<11} {c:4d} mistakes")
per_class = confusion.diag() / confusion.sum(dim=1)                # (10,)
print("accuracy per class:", {classes[c]: round(a, 2) for c, a in enumerate(per_class.tolist())})

# %% [markdown]
# The mistakes are not spread evenly. The four most confused pairs all come from the four
# garments for the upper body (T-shirt/top, pullover, coat and shirt), whose outlines differ
# mostly in sleeves and collars. The shirt is the worst class, wrong more than three times in ten,
# because it looks like each of the other three. Footwear comes next: sandals taken for
# sneakers and back. Trousers and bags, with shapes of their own, are almost always right.
# A linear model can only weigh pixels one by one; the multilayer perceptrons of chapter 3 and the
# convolutional networks of chapter 4 combine them into features such as "has a collar" and do
# much better.

# %%
upper_body = {"T-shirt/top", "Pullover", "Coat", "Shirt"}
assert all(set(pair) <= upper_body for pair in top_pairs[:4]), f"top pairs: {top_pairs[:4]}"
assert per_class.argmin() == classes.index("Shirt"), "the shirt should be the hardest class"
assert per_class[classes.index("Shirt")] < 0.7, "shirts should be wrong more than 30 % of the time"
assert set(top_pairs[4]) == {"Sandal", "Sneaker"}, f"the fifth pair is {top_pairs[4]}"
assert min(per_class[classes.index(c)] for c in ("Trouser", "Bag")) > 0.9, "trousers, bags > 90 %"

# %% [markdown]
# ## Summary
#
# - For $q$ classes a model outputs $q$ logits; labels are class indices, or one-hot vectors when
#   you write out the cross-entropy. A sigmoid per output is not a distribution and saturates.
# - $\operatorname{softmax}(\mathbf{o})_j = \exp(o_j) / \sum_k \exp(o_k)$ is positive and sums to
#   1; it depends only on differences between logits and sharpens large gaps: $(1, 2, 3)$ gives
#   $(0.090, 0.245, 0.665)$, against $(\tfrac16, \tfrac26, \tfrac36)$ for plain normalisation. The
#   sigmoid is its two-class case.
# - Compute it stably by subtracting the largest logit, and compute its log directly with
#   log-sum-exp: $\log \operatorname{softmax}(\mathbf{o})_j = o_j - \operatorname{LSE}(\mathbf{o})$.
# - Cross-entropy with a one-hot label is the negative log-likelihood of the true class:
#   `log_softmax` + `nll_loss` = `nn.CrossEntropyLoss`, which takes logits. Its gradient with
#   respect to the logits is $\hat{\mathbf{y}} - \mathbf{y}$, and with respect to the weights
#   $\mathbf{X}^\top(\hat{\mathbf{Y}} - \mathbf{Y}) / n$.
# - Softmax regression, $\operatorname{softmax}(\mathbf{X}\mathbf{W} + \mathbf{b})$, is a linear
#   classifier. From scratch or with `nn.Linear` + `nn.CrossEntropyLoss` it reaches about 83.5 %
#   on Fashion-MNIST, and most of its mistakes mix up the upper-body garments, shirts above all.
#
# ## Exercises
#
# 1. **Temperature.** Dividing the logits by a *temperature* $T > 0$ before the softmax changes how
#    sure it is. Compute `softmax(examples[:1] / T)` for $T = 0.1$, $1$ and $100$ and describe the
#    three results. Which limits do you get as $T \to 0$ and as $T \to \infty$? Self-check:
#    `assert softmax(examples[:1] / 0.01)[0, 2] > 0.999` and
#    `assert (softmax(examples[:1] / 1e4) - 1 / 3).abs().max() < 1e-3`.
# 2. **Your own log-sum-exp.** Write `lse(o)`, stable for a 1-D tensor of any values, and compare
#    it with `torch.logsumexp`. Self-check:
#    `assert abs(lse(torch.tensor([1000.0, 1001.0, 1002.0])) - 1002.4076) < 1e-3`.
#    Why is $\max_k o_k \le \operatorname{LSE}(\mathbf{o}) \le \max_k o_k + \log q$ for $q$ logits?
# 3. **The double-softmax bug.** A common mistake is to end the model with a softmax and then use
#    `nn.CrossEntropyLoss`, which applies another one. Show that with probabilities as its input
#    the loss can never go below $\log(1 + 9/e) \approx 1.46$ for ten classes, even for perfect
#    predictions. Self-check:
#    `assert abs(nn.CrossEntropyLoss()(torch.eye(10), torch.arange(10)) - math.log(1 + 9 / math.e)) < 1e-6`.
#    What does the second softmax do to the gradients, and so to training?
# 4. **What did it learn?** Each column of `scratch.W` holds one weight per pixel. Show the ten
#    columns as images with
#    `d2lite.show_images(scratch.W.detach().cpu().T.reshape(10, 28, 28), 2, 5, titles=classes)`
#    (the transpose puts one class per row). Which classes can you recognise? Where are the
#    weights for "Trouser" positive, and where negative?
# 5. **Push the linear model.** Train the concise model for 30 epochs, or with
#    `torch.optim.Adam(concise.parameters(), lr=1e-3)`. How far above 84 % can a linear model get
#    on the test set, and how large does the gap between training and test accuracy become?
