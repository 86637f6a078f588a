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
# # Linear regression
#
# Every model in this book is trained the same way: choose a model with adjustable numbers,
# measure how wrong it is with a loss, and nudge the numbers downhill. Here you do all three
# for the smallest model there is, a straight line through three points. You will find the best
# line exactly with the normal equations, then find it again by gradient descent in a training
# loop you write by hand, and you will work out how large the learning rate may be before that
# loop blows up.

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
from matplotlib.ticker import MaxNLocator

# %% [markdown]
# ## The meal machine
#
# Imagine a machine that decides your meals. You tell it today's date and it tells you what to
# eat; you never learned the rule inside it, only what goes in and what comes out. One morning it
# breaks. Without it you cannot make up your mind, and you would rather not starve, so you decide
# to rebuild it from what you remember of the days it worked.
#
# To keep things simple, suppose every date is a number and every dish is a number too. The input
# that the answer depends on, the day, is a **[feature](../../book/glossary.md#term-feature)** (特征);
# the answer you want to predict, the dish, is the **[label](../../book/glossary.md#term-label)**
# (标签). Predicting a number from features is called
# **[regression](../../book/glossary.md#term-regression)** (回归).
#
# You remember three days: dish 3 on day 1, dish 5 on day 2 and dish 7 on day 3. The simplest rule
# you can think of is a line, $\hat{y} = wx + b$, where $x$ is the day, $\hat{y}$ the predicted
# dish, and the **[weight](../../book/glossary.md#term-weight)** (权重) $w$ and
# **[bias](../../book/glossary.md#term-bias)** (偏置) $b$ are the
# **[parameters](../../book/glossary.md#term-parameter)** (参数) you get to choose. Two of the three
# days already fix $w = 2$, $b = 1$, and the third agrees: $2 \cdot 3 + 1 = 7$. The cell below
# checks that and asks the rule for day 4: dish 9.

# %% tags=["nbval-check-output"]
days = torch.tensor([1.0, 2.0, 3.0])
remembered = torch.tensor([3.0, 5.0, 7.0])
print("2x + 1 on days 1, 2, 3, 4:", (2 * torch.arange(1.0, 5.0) + 1).tolist())
assert torch.equal(2 * days + 1, remembered), "2x + 1 should pass through all three"

# %% [markdown]
# Then you look more carefully and realise that on day 3 you ate dish 8, not 7. Your data are the
# three points $(1, 3)$, $(2, 5)$, $(3, 8)$, and now no line passes through all of them: from day 1
# to day 2 the dish rises by 2, from day 2 to day 3 by 3, and a line rises by the same amount every
# day. You could invent a curvier rule, but with a hundred days of data no simple rule would hit
# every point either. So lower your ambition: find the line that comes *closest*. Dish 7 when the
# truth was 8 is not a disaster. This is
# **[linear regression](../../book/glossary.md#term-linear-regression)** (线性回归): fitting a linear
# function of the features to labels as closely as possible.
#
# The tensors `x` and `y` below hold the three points; they are all the data of this lesson.

# %% tags=["nbval-check-output"]
x = torch.tensor([1.0, 2.0, 3.0])  # (3,): the days
y = torch.tensor([3.0, 5.0, 8.0])  # (3,): the dishes
rises = (y[1:] - y[:-1]) / (x[1:] - x[:-1])
print("rise from one day to the next:", rises.tolist())
assert rises[0] != rises[1], "different slopes: no line passes through all three points"

# %% [markdown]
# ## How wrong is a line?
#
# "Closest" needs a number. For each day, the line's
# **[residual](../../book/glossary.md#term-residual)** (残差) is the gap $\hat{y}_i - y_i$ between its
# prediction and what you ate. Square the residuals, so that misses above and below both count and
# big misses count a lot, and add them up:
#
# $$
# S(w, b) = \sum_{i=1}^{n} \bigl(w x_i + b - y_i\bigr)^2 .
# $$
#
# A function that scores how badly a model fits the data is a
# **[loss function](../../book/glossary.md#term-loss-function)** (损失函数), and this one is the
# **[squared loss](../../book/glossary.md#term-squared-loss)** (平方损失). Fitting means finding the $w$
# and $b$ with the smallest loss. For the old rule $2x + 1$ the predictions are 3, 5, 7, so the
# residuals are 0, 0, $-1$ and $S(2, 1) = 1$. The source notes then try $2.5x + \tfrac{1}{3}$: its
# residuals are $-\tfrac{1}{6}$, $\tfrac{1}{3}$, $-\tfrac{1}{6}$, and $S$ drops to
# $\tfrac{1}{36} + \tfrac{1}{9} + \tfrac{1}{36} = \tfrac{1}{6}$. It misses every day, but by less in
# total.
#
# In code you almost always divide by the number of examples $n$ and use the
# **[mean squared error](../../book/glossary.md#term-mean-squared-error)** (均方误差, MSE)
#
# $$
# L(w, b) = \frac{1}{n} \sum_{i=1}^{n} \bigl(w x_i + b - y_i\bigr)^2 = \frac{S(w, b)}{n}.
# $$
#
# Dividing by $n = 3$ does not move the best line, and it keeps the loss on the same scale
# however many days you remember. The two lines score $L = \tfrac{1}{3}$ and $\tfrac{1}{18}$.

# %%
def mse(w, b):
    """Mean squared error of the line w x + b on the three points."""
    return ((w * x + b - y) ** 2).mean()


for w, b in [(2.0, 1.0), (2.5, 1 / 3)]:
    L = mse(w, b).item()
    print(f"w = {w:.3f}, b = {b:.3f}:  S = {3 * L:.4f},  L = {L:.4f}")
assert abs(3 * mse(2.0, 1.0) - 1) < 1e-6, "the line 2x + 1 should have S = 1"
assert abs(3 * mse(2.5, 1 / 3) - 1 / 6) < 1e-6, "2.5x + 1/3 should have S = 1/6"
assert abs(mse(2.5, 1 / 3) - 1 / 18) < 1e-6, "the line 2.5x + 1/3 should have L = 1/18"

# %% [markdown]
# ## The best line in closed form
#
# Is there a line better still? At the bottom of the loss, nudging $w$ or $b$ a little cannot
# lower it any more, so both partial derivatives are zero there:
#
# $$
# \frac{\partial L}{\partial w} = \frac{2}{n} \sum_{i} (w x_i + b - y_i)\, x_i = 0, \qquad
# \frac{\partial L}{\partial b} = \frac{2}{n} \sum_{i} (w x_i + b - y_i) = 0 .
# $$
#
# Both are linear in $w$ and $b$. Collect the terms and you get two equations in two unknowns,
# the **[normal equations](../../book/glossary.md#term-normal-equations)** (正规方程):
#
# $$
# \Bigl(\sum_i x_i^2\Bigr) w + \Bigl(\sum_i x_i\Bigr) b = \sum_i x_i y_i, \qquad
# \Bigl(\sum_i x_i\Bigr) w + n\, b = \sum_i y_i .
# $$
#
# For our points $\sum x_i^2 = 14$, $\sum x_i = 6$, $\sum x_i y_i = 3 + 10 + 24 = 37$ and
# $\sum y_i = 16$:
#
# $$
# 14w + 6b = 37, \qquad 6w + 3b = 16 .
# $$
#
# Subtract twice the second equation from the first: $2w = 5$, so $w = 2.5$, and then
# $b = (16 - 15)/3 = \tfrac{1}{3}$. The line the source notes tried is the best one there is.
# Legendre published this method of least squares in 1805
# ([Legendre, 1805](../../book/references.md)).
#
# In matrix form, put each example in a row of $\mathbf{X}$ with an extra column of ones for the
# bias, and gather the parameters in $\boldsymbol{\theta} = (w, b)$. The predictions are
# $\mathbf{X}\boldsymbol{\theta}$ and the normal equations read
# $\mathbf{X}^\top \mathbf{X}\, \boldsymbol{\theta} = \mathbf{X}^\top \mathbf{y}$, for any number
# of features. Let's build them and solve, in float64 so that you can compare with the exact
# answer.

# %%
X = torch.stack([x, torch.ones(3)], dim=1).double()  # (3, 2): day, 1
XtX, Xty = X.T @ X, X.T @ y.double()                 # (2, 2), (2,)
print("X^T X =", XtX.tolist(), "  X^T y =", Xty.tolist())
w_best, b_best = torch.linalg.solve(XtX, Xty).tolist()
print(f"best line: w = {w_best:.6f}, b = {b_best:.6f}")
assert XtX.tolist() == [[14, 6], [6, 3]] and Xty.tolist() == [37, 16], "the sums above"
assert abs(w_best - 2.5) < 1e-12 and abs(b_best - 1 / 3) < 1e-12, "w = 2.5, b = 1/3"

# %% [markdown]
# PyTorch can also skip the normal equations: `torch.linalg.lstsq` solves the least-squares
# problem directly (with a QR factorisation, which is more accurate when $\mathbf{X}^\top
# \mathbf{X}$ is close to singular). It finds the same line, and at it the loss is $\tfrac{1}{18}$.
# On day 4 the rebuilt machine serves dish $2.5 \cdot 4 + \tfrac{1}{3} \approx 10.33$.

# %%
lstsq = torch.linalg.lstsq(X, y.double()[:, None]).solution[:, 0]  # (2,)
day4 = w_best * 4 + b_best
print(f"lstsq: w = {lstsq[0]:.6f}, b = {lstsq[1]:.6f};  "
      f"loss {mse(w_best, b_best):.6f};  day 4: {day4:.2f}")
normal = torch.tensor([w_best, b_best], dtype=torch.float64)
assert torch.allclose(lstsq, normal, atol=1e-10), "lstsq and the normal equations agree"
assert abs(mse(w_best, b_best) - 1 / 18) < 1e-6, "the smallest loss should be 1/18"
assert abs(day4 - 31 / 3) < 1e-12 and round(day4, 2) == 10.33, f"day 4 gives {day4}"

# %% [markdown]
# On the left, [Figure 1](#fig-linear-regression-best-line) shows the three days, the old rule
# $2x + 1$, the best line and its prediction for day 4; on the right, each line's residuals day by
# day. See how the old rule
# puts its whole error on day 3, while the best line gives up hitting days 1 and 2 exactly and
# spreads its misses ($-\tfrac{1}{6}$, $+\tfrac{1}{3}$, $-\tfrac{1}{6}$) so that they sum to zero,
# exactly as $\partial L / \partial b = 0$ demands.

# %% mystnb={"figure": {"caption": "Left: the three days, the old rule 2x + 1 and the best line w = 2.5, b = 1/3 with its prediction for day 4. Right: each line's residuals.", "name": "fig-linear-regression-best-line"}}
grid = torch.linspace(0.5, 4.2, 50)
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(6.5, 3), layout="constrained")
ax.plot(grid, 2 * grid + 1, "--", color="gray", label="old rule $2x + 1$ (S = 1)")
ax.plot(grid, w_best * grid + b_best, color="tab:red", label="best line (S = 1/6)")
ax.scatter(x, y, color="k", zorder=3, label="what you ate")
ax.plot([4], [day4], "o", mfc="white", mec="tab:red", label=f"day 4: dish {day4:.2f}")
ax.set(xlabel="day $x$", ylabel="dish $y$", title="The meal machine, rebuilt")
ax.legend(fontsize=7)
old, best = 2 * x + 1 - y, w_best * x + b_best - y    # (3,) residuals of each line
ax2.bar(x - 0.15, old, width=0.3, color="gray", label="old rule")
ax2.bar(x + 0.15, best, width=0.3, color="tab:red", label="best line")
ax2.axhline(0, color="k", lw=0.8)
ax2.set(xlabel="day $x$", ylabel=r"residual $\hat{y} - y$", title="Residuals",
        xticks=[1, 2, 3])
ax2.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Linear regression is a one-layer neural network
#
# With $d$ features instead of one, say the day, the weather and how hungry you are, the model
# gives each feature its own weight: $\hat{y} = w_1 x_1 + w_2 x_2 + \cdots + w_d x_d + b =
# \mathbf{w}^\top \mathbf{x} + b$, and the matrix form above stays exactly as it is, with one column
# of $\mathbf{X}$ per feature. Drawn the way deep learning draws models,
# [Figure 2](#fig-linear-regression-network), this is a
# **[neural network](../../book/glossary.md#term-neural-network)** (神经网络) with one layer. Each
# circle of the [input layer](../../book/glossary.md#term-input-layer) holds one feature; the single
# unit of the [output layer](../../book/glossary.md#term-output-layer) computes the output
# $o = \hat{y}$, the weighted sum of everything that arrives along its edges, plus the bias. The
# inputs compute nothing, so the network counts as one layer, and because every input is joined to
# the output, that layer is *fully connected*. Every network in this book is built from layers
# like this one; the next lesson builds it from PyTorch's `nn.Linear`.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Linear regression as a neural network: d inputs, every one connected to a single output unit o, which computes the weighted sum plus the bias.", "name": "fig-linear-regression-network"}}
d2lite.diagrams.draw_network([["$x_1$", "$x_2$", "...", "$x_d$"], ["$o$"]],
                             layer_names=["input layer", "output layer"])

# %% [markdown]
# Why not always solve the normal equations? Because they are special to squared loss on a
# *linear* model. Put a nonlinearity anywhere, as every neural network does, and setting the
# gradient to zero gives equations nobody can solve in closed form. And even for linear models,
# with millions of examples and features the matrices become too big to factorise. What you
# need is a method that only asks "which way is downhill from here?".
#
# ## Gradient descent
#
# Forget the loss for a moment and take $f(x) = x^2$. Pretend you are a point standing on the
# curve at $(1, 1)$, allowed only to move along it, and you want to get lower. You cannot see
# the whole curve, but you can feel the slope under your feet: the derivative $f'(1) = 2$ is
# positive, so the curve rises to the right, and a small step left must go down. Step left by
# 0.1 to $x = 0.9$ and indeed $f(0.9) = 0.81 < 1$. Repeat until the slope is zero.
#
# That is **[gradient descent](../../book/glossary.md#term-gradient-descent)** (梯度下降), due to Cauchy
# ([Cauchy, 1847](../../book/references.md)): step against the derivative (the gradient, when there
# are several parameters), by an amount proportional to it,
#
# $$
# x_{k+1} = x_k - \eta\, f'(x_k).
# $$
#
# The factor $\eta$ is the **[learning rate](../../book/glossary.md#term-learning-rate)** (学习率). You
# choose it; it is not learned, which makes it a
# **[hyperparameter](../../book/glossary.md#term-hyperparameter)** (超参数). The step of 0.1 above is
# $\eta = 0.05$ times the slope 2. The function below runs the rule on $x^2$ and returns the
# iterates $x_0, x_1, \ldots$.

# %%
def descend_square(lr, steps, x0=1.0):
    """Gradient descent on f(x) = x^2 (f'(x) = 2x) from x0: [x_0, ..., x_steps]."""
    xs = [x0]
    for _ in range(steps):
        xs.append(xs[-1] - lr * 2 * xs[-1])
    return xs


first = descend_square(0.05, 1)[1]
print(f"one step with lr 0.05: x = {first:.2f}, f(x) = {first ** 2:.2f}")
assert abs(first - 0.9) < 1e-12 and abs(first**2 - 0.81) < 1e-12, "the first step"

# %% [markdown]
# How far should each step go? Try four learning rates and print the first six iterates.

# %% tags=["nbval-check-output"]
rates = [0.05, 0.3, 0.9, 1.1]
runs = {lr: descend_square(lr, 20) for lr in rates}
for lr, xs in runs.items():
    first_six = "  ".join(f"{v:6.3f}" for v in xs[:6])
    print(f"lr {lr:4}: {first_six}   ...  x_20 = {xs[20]:.3g}")

# %% [markdown]
# Four different behaviours. With $\eta = 0.05$ you creep: after 20 steps $x$ is still above
# 0.1. With $\eta = 0.3$ you are within $10^{-7}$ of the minimum. With $\eta = 0.9$ every step
# overshoots to the other side, yet lands a little closer, so you still converge, slowly. With
# $\eta = 1.1$ every overshoot lands *farther* out, and $x$ runs away.
#
# The algebra says why. The update is $x_{k+1} = x_k - 2\eta x_k = (1 - 2\eta)\, x_k$, so
# $x_k = (1 - 2\eta)^k$: you converge exactly when $|1 - 2\eta| < 1$, that is
# $0 < \eta < 1$. Since the curvature of $x^2$ is $f'' = 2$, the bound reads $\eta < 2/f''$:
# the more sharply the function curves, the smaller the steps must be. Keep that rule in mind;
# it returns below for the loss of the three points.

# %%
for lr, xs in runs.items():
    assert all(abs(v - (1 - 2 * lr) ** k) < 1e-12 for k, v in enumerate(xs)), f"lr {lr}"
assert runs[0.05][20] > 0.1, "lr 0.05 should still be above 0.1 after 20 steps"
assert abs(runs[0.3][20]) < 1e-7, "lr 0.3 should be within 1e-7 of the minimum"
assert runs[0.9][1] < 0 < runs[0.9][2], "lr 0.9 should zigzag across the minimum"
assert abs(runs[0.9][20]) < 0.05, "...and still converge"
assert abs(runs[1.1][20]) > 10, "lr 1.1 should run away"

# %% [markdown]
# [Figure 3](#fig-linear-regression-descent) draws the same runs. On the left, the first steps on the curve itself: the small
# rate walks down one side, the large ones bounce from side to side, inwards for 0.9 and
# outwards for 1.1. On the right, the distance to the minimum on a log scale: the rule
# $|x_k| = |1 - 2\eta|^k$ makes each run a straight line, falling when $|1 - 2\eta| < 1$.

# %% mystnb={"figure": {"caption": "Gradient descent on x² from x = 1 at four learning rates. Left: the first four steps on the curve. Right: the distance to the minimum on a log scale.", "name": "fig-linear-regression-descent"}}
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(6.5, 3), layout="constrained")
curve = torch.linspace(-2.2, 2.2, 100)
ax.plot(curve, curve**2, color="lightgray")
for lr, fmt in zip(rates, ["o-", "s-", "^-", "v-"], strict=True):
    xs = torch.tensor(runs[lr][:5])
    ax.plot(xs, xs**2, fmt, ms=4, lw=1, label=f"lr {lr}")
    ax2.semilogy(torch.tensor(runs[lr]).abs(), fmt, ms=3, lw=1, label=f"lr {lr}")
ax.set(xlabel="$x$", ylabel="$f(x) = x^2$", title="first four steps from $x = 1$")
ax2.set(xlabel="step $k$", ylabel="$|x_k|$", title="distance to the minimum")
ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend(fontsize=7)
ax2.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## The gradient of the squared loss
#
# Back to the meal machine. The loss $L(w, b)$ has two parameters, so the derivative becomes the
# gradient $\nabla L = (\partial L / \partial w,\ \partial L / \partial b)$, and gradient descent
# updates both parameters at once:
#
# $$
# w \leftarrow w - \eta \frac{\partial L}{\partial w}, \qquad
# b \leftarrow b - \eta \frac{\partial L}{\partial b}.
# $$
#
# You already have the two partial derivatives from the normal equations. Evaluate them at the
# old rule $w = 2$, $b = 1$, whose residuals are $(0, 0, -1)$:
# $\partial L / \partial w = \tfrac{2}{3}(-1 \cdot 3) = -2$ and
# $\partial L / \partial b = \tfrac{2}{3}(-1) = -\tfrac{2}{3}$. Both are negative, so a step of
# gradient descent raises both $w$ and $b$, although $b$ must end at $\tfrac{1}{3}$, *below* its
# current value. The gradient knows only the slope where you stand, not where the minimum is, so
# the way down is not a straight line to the answer; you will see the detour below.
#
# You do not have to derive gradients by hand: autograd computes them, as in
# [Automatic Differentiation and Computational Graphs](../01_preliminaries/autograd_and_graphs.ipynb).
# Let's check that it agrees.

# %%
w = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(1.0, requires_grad=True)
mse(w, b).backward()
print(f"autograd: dL/dw = {w.grad.item():.4f}, dL/db = {b.grad.item():.4f}")
assert abs(w.grad.item() + 2) < 1e-6, f"dL/dw = {w.grad.item()}, expected -2"
assert abs(b.grad.item() + 2 / 3) < 1e-6, f"dL/db = {b.grad.item()}, expected -2/3"

# %% [markdown]
# ## Training by hand
#
# Now rebuild the machine the way every model in this book is trained. The source notes list
# the steps:
#
# 1. Gather the data: the features `x` and labels `y` of the three days.
# 2. Choose the model: the line $\hat{y} = wx + b$.
# 3. Choose the loss that scores $w$ and $b$ and whose gradient says where to move them: the MSE.
# 4. Initialise the parameters. Any start will do, because this loss is a
#    **[convex function](../../book/glossary.md#term-convex-function)** (凸函数): a single bowl with
#    one bottom, as you will check below. We start from the flat line $w = b = 0$ so that the
#    numbers repeat.
# 5. Pick a learning rate: 0.1, as in the source notes.
# 6. Repeat: predict, compute the loss, get the gradients with `backward()`, step both
#    parameters against them, and reset the gradients.
#
# Each trip through step 6 is one iteration of the
# **[training loop](../../book/glossary.md#term-training-loop)** (训练循环). The parameters are tensors
# with `requires_grad=True`, so that `loss.backward()` fills in `w.grad` and `b.grad`. The update
# itself must not be recorded as part of the model, so it runs under `torch.no_grad()` (the source
# notes write to `w.data` instead, an older idiom). Because gradients accumulate, they are zeroed
# after every step. No optimiser object, nothing hidden.

# %%
def train(lr, steps, w0=0.0, b0=0.0, data=(x, y)):
    """Fit w x + b to data (the three points) by gradient descent: w, b, history."""
    days, dishes = data                          # step 1: the data
    w = torch.tensor(w0, requires_grad=True)     # step 4: initialise the parameters
    b = torch.tensor(b0, requires_grad=True)
    history = []                                 # (w, b, loss) before each step
    for _ in range(steps):
        loss = ((w * days + b - dishes) ** 2).mean()  # steps 2 and 3: predict, score
        history.append((w.item(), b.item(), loss.item()))
        loss.backward()                          # fills w.grad and b.grad
        with torch.no_grad():                    # the update is not part of the model
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()                           # gradients accumulate: reset them
        b.grad.zero_()
    return w.item(), b.item(), torch.tensor(history)  # history: (steps, 3)


# %% [markdown]
# Train for 1000 iterations, as the source notes do. The loop lands on the closed-form answer
# to within $10^{-3}$, and its loss on $\tfrac{1}{18}$.

# %%
w_fit, b_fit, history = train(lr=0.1, steps=1000)
final_loss = history[-1, 2].item()
print(f"after 1000 steps: w = {w_fit:.4f}, b = {b_fit:.4f}, loss = {final_loss:.5f}")
assert abs(w_fit - 2.5) < 1e-3, f"w = {w_fit:.5f} is not within 1e-3 of 2.5"
assert abs(b_fit - 1 / 3) < 1e-3, f"b = {b_fit:.5f} is not within 1e-3 of 0.3333"
assert abs(final_loss - 1 / 18) < 1e-5, f"final loss {final_loss:.6f} is not 1/18"

# %% [markdown]
# The source notes' list of steps suggests that the learning rate hardly matters for so simple a
# model, "0.01 or so will do". Their code then uses 0.1, and rightly: with 0.01 the same 1000
# steps leave $b$ more than 0.05 away from $\tfrac{1}{3}$. The next section explains why small
# rates are this slow.

# %%
w_small, b_small, _ = train(lr=0.01, steps=1000)
print(f"lr 0.01, 1000 steps: w = {w_small:.4f}, b = {b_small:.4f}")
assert abs(b_small - 1 / 3) > 0.05, f"at lr 0.01, b = {b_small:.4f} is within 0.05"

# %% [markdown]
# Look at how it got there, in [Figure 4](#fig-linear-regression-training). On the left are the
# two parameters. The very first step takes
# $w$ from 0 to almost 2.5 at once, and it also throws $b$ up past 1: that is the detour the
# gradient at $(2, 1)$ hinted at. The second step overcorrects and pulls $w$ back, from 2.467 to
# 2.204. From there on, $w$ and $b$ creep towards their best values together, $w$ up and $b$
# down. On the right is the distance
# $\lVert \boldsymbol{\theta}_k - \boldsymbol{\theta}^* \rVert$ from the best parameters
# $\boldsymbol{\theta}^* = (2.5, \tfrac{1}{3})$, on a log scale. It falls along a straight line,
# which means by the same factor at every step, until it reaches the precision of float32
# around $10^{-6}$ and stays there. Both panels show the first 600 iterations.

# %% mystnb={"figure": {"caption": "Training the line by hand at learning rate 0.1. Left: w and b at each iteration. Right: the distance to the best parameters (2.5, 1/3), on a log scale.", "name": "fig-linear-regression-training"}}
errors = (history[:, :2] - torch.tensor([2.5, 1 / 3])).norm(dim=1)  # (1000,)
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(6.5, 3), layout="constrained")
ax.plot(history[:600, 0], label="$w$")
ax.plot(history[:600, 1], label="$b$")
ax.hlines([2.5, 1 / 3], 0, 600, colors="gray", linestyles=":", label="best values")
ax.set(xlabel="iteration", ylabel="parameter value", title="The parameters, lr = 0.1")
ax.legend(fontsize=7)
ax2.semilogy(errors[:600])
ax2.set(xlabel="iteration", ylabel="distance to $(2.5, 1/3)$",
        title="Distance to the best")
plt.show()

# %% [markdown]
# The numbers behind the story of [Figure 4](#fig-linear-regression-training):

# %%
print(f"after one step: w = {history[1, 0]:.3f}, b = {history[1, 1]:.3f}; "
      f"after two: w = {history[2, 0]:.3f}; "
      f"from step 600 on: distance {errors[600:].max():.1e}")
assert abs(history[1, 0] - 2.467) < 5e-4 and history[1, 1] > 1, "step 1: w 2.467, b > 1"
assert abs(history[2, 0] - 2.204) < 5e-4, "step 2 should pull w back to 2.204"
assert (history[2:, 0].diff() > -1e-6).all(), "after step 2, w should only creep up"
assert (history[1:, 1].diff() < 1e-6).all(), "after step 1, b should only creep down"
assert 1e-7 < errors[600:].min() and errors[600:].max() < 1e-5, "a floor near 1e-6"

# %% [markdown]
# ## How large may the learning rate be?
#
# For $x^2$ the answer was $\eta < 2/f''$. With two parameters the second derivative becomes the
# **[Hessian](../../book/glossary.md#term-hessian)** (黑塞矩阵), the matrix $\mathbf{H}$ of all second
# partial derivatives. For the MSE of a linear model it does not depend on $w$ and $b$ at all:
#
# $$
# \mathbf{H} = \frac{2}{n} \mathbf{X}^\top \mathbf{X}
#   = \frac{2}{3}\begin{pmatrix} 14 & 6 \\ 6 & 3 \end{pmatrix}
#   = \begin{pmatrix} 28/3 & 4 \\ 4 & 2 \end{pmatrix}.
# $$
#
# So the loss is exactly a quadratic bowl around the best parameters $\boldsymbol{\theta}^*$,
#
# $$
# L(\boldsymbol{\theta}) = L(\boldsymbol{\theta}^*)
#   + \tfrac{1}{2}(\boldsymbol{\theta} - \boldsymbol{\theta}^*)^\top \mathbf{H}\,
#     (\boldsymbol{\theta} - \boldsymbol{\theta}^*),
# $$
#
# and one step of gradient descent maps the error to
# $(\mathbf{I} - \eta \mathbf{H})(\boldsymbol{\theta} - \boldsymbol{\theta}^*)$. Along each
# eigenvector of $\mathbf{H}$ this is the $x^2$ story once more: the error along an eigenvector with
# eigenvalue $\lambda$ is multiplied by $1 - \eta \lambda$ at every step. Every direction shrinks
# exactly when
#
# $$
# \eta < \frac{2}{\lambda_{\max}},
# $$
#
# where $\lambda_{\max}$, the largest eigenvalue, is the sharpest curvature of the bowl.
# (Optimisation texts often call it $L$, the smoothness constant; this book keeps $L$ for the loss.)
# The eigenvalues of our
# $\mathbf{H}$ are $(17 \pm \sqrt{265})/3$, about 11.09 and 0.240, which puts the bound at
# $2/\lambda_{\max} = (17 - \sqrt{265})/4 \approx 0.180$. Let's have autograd compute the
# Hessian and check all of that.

# %%
loss_of = lambda p: mse(p[0], p[1])                          # p = (w, b)
H = torch.autograd.functional.hessian(loss_of, torch.zeros(2))  # (2, 2)
lam_min, lam_max = torch.linalg.eigvalsh(H).tolist()    # ascending
lr_bound = 2 / lam_max
print(f"eigenvalues {lam_min:.4f}, {lam_max:.4f}; bound 2/lambda_max = {lr_bound:.4f}")
assert torch.allclose(H, 2 / 3 * XtX.float(), atol=1e-5), "H should be (2/n) X^T X"
assert abs(lam_max - (17 + math.sqrt(265)) / 3) < 1e-4, f"lambda_max = {lam_max}"
assert abs(lam_min - (17 - math.sqrt(265)) / 3) < 1e-4, f"lambda_min = {lam_min}"
assert round(lam_max, 2) == 11.09 and round(lam_min, 3) == 0.240, "about 11.09, 0.240"
assert abs(lr_bound - (17 - math.sqrt(265)) / 4) < 1e-5, f"the bound is {lr_bound:.6f}"
assert round(lr_bound, 3) == 0.180, f"the bound {lr_bound:.4f} is not about 0.180"

# %% [markdown]
# Both eigenvalues are positive, so the bowl curves upwards in every direction: that is what
# makes the loss convex, with a single bottom that gradient descent cannot miss. The
# source notes' $\eta = 0.1$ is safely below 0.180.
#
# The *smallest* eigenvalue matters too: along its eigenvector the error shrinks only by
# $1 - 0.1 \cdot 0.240 \approx 0.976$ per step. That is the straight line in the right panel of
# [Figure 4](#fig-linear-regression-training),
# and the reason hundreds of iterations are needed: shrinking an error by a factor $10^4$ at
# 0.976 per step takes about 380 of them. Our run, which starts about 2.5 from the best
# parameters, comes within $10^{-3}$ of them after about 270 steps. Let's measure the factor
# from the training run, between iterations 100 and 200.

# %%
factor = (errors[200] / errors[100]).item() ** (1 / 100)
print(f"measured shrink factor per step {factor:.4f}; predicted 1 - lr * lambda_min = "
      f"{1 - 0.1 * lam_min:.4f}")
steps_1e4 = math.log(1e4) / -math.log(1 - 0.1 * lam_min)  # to shrink an error 10^4-fold
print(f"shrinking an error 10^4-fold takes {steps_1e4:.0f} steps; "
      f"lambda_max / lambda_min = {lam_max / lam_min:.1f}")
assert lam_min > 0, "a positive definite Hessian makes the loss convex"
assert round(1 - 0.1 * lam_min, 3) == 0.976, "the predicted factor is about 0.976"
assert abs(factor - (1 - 0.1 * lam_min)) < 1e-3, f"measured factor {factor:.4f}"
steps_1e3 = int((errors >= 1e-3).nonzero().max()) + 1  # from this step on: error < 1e-3
print(f"the run stays within 1e-3 of the best parameters from step {steps_1e3} on")
assert 370 < steps_1e4 < 390, f"{steps_1e4:.0f} steps, not about 380"
assert 260 < steps_1e3 < 280, f"within 1e-3 after {steps_1e3} steps, not about 270"
assert 2.4 < errors[0] < 2.6, f"the run starts {errors[0]:.2f} from the best parameters"
assert 45.5 < lam_max / lam_min < 46.5, f"condition number {lam_max / lam_min:.1f}"

# %% [markdown]
# The two eigenvalues pull in opposite directions. The steep direction caps the learning rate at
# $2/\lambda_{\max}$; the shallow direction then decides how slowly you converge, since even at the
# cap it shrinks the error only by $1 - 2\lambda_{\min}/\lambda_{\max}$ per step. Their ratio,
# $\lambda_{\max} / \lambda_{\min} \approx 46$ here, is the
# **[condition number](../../book/glossary.md#term-condition-number)** (条件数) of the problem: the
# larger it is, the longer and narrower the valley and the slower plain gradient descent.
# [Optimisers](optimizers.ipynb) shows two cures, momentum and rescaling the inputs.
#
# ## Explore the learning rate
#
# The widget of [Figure 5](#fig-linear-regression-explorer) runs the same gradient descent on the
# same loss $L(w, b)$ for 100 steps. To make the valley easy to see, it starts far along it, at the line $\hat{y} = -x + 5$ (a machine that
# serves less every day), $w = -1$, $b = 5$. Its left panel draws the path on the contour lines
# of the loss (the widget names the two parameters $w_1 = w$ and $w_2 = b$); the right panel
# shows the loss at each step; the strip below marks your learning rate against the bound
# $2/\lambda_{\max}$. Move the slider. At small rates the path slides down the steep wall and then crawls
# along the valley floor. Towards the bound it zigzags across the valley, each step
# overshooting the other wall. Past the bound every zigzag is wider than the last, and the loss
# explodes. (In a live Jupyter kernel you also get a slider for the number of steps.)

# %% mystnb={"figure": {"caption": "Widget: gradient descent on the loss L(w, b) for 100 steps at the learning rate of the slider; left, the path on the loss's contour lines; right, the loss at each step; the strip below marks the rate against the bound 2/λmax.", "name": "fig-linear-regression-explorer"}}
explorer = d2lite.widgets.lr_explorer(lambda p: mse(p[0], p[1]), w0=(-1.0, 5.0),
                                      steps=100)
explorer

# %% [markdown]
# The widget works out $\lambda_{\max}$ itself, from Hessians along a run, so its bound is an
# independent check of the 0.180 above. To test it at chosen learning rates without changing the
# widget you are looking at, make a second copy, `probe`, that is never displayed, and call its
# `.update(lr=...)`: it returns the path and the losses it drew. Its run at $\eta = 0.1$ is your
# training loop from the same start, step for step. And setting the learning rate 5 % below and
# 5 % above the bound gives the two behaviours the theory predicts. Below the bound the loss ends
# the 100 steps within 0.005 of its minimum $\tfrac{1}{18}$. Above it the loss grows a
# million-fold, and the widget stops such a diverging run early, here after about 75 steps.

# %%
widget_bound = explorer.data["bound"]
assert abs(widget_bound - lr_bound) < 2e-5, f"the widget's bound is {widget_bound:.5f}"
probe = d2lite.widgets.lr_explorer(lambda p: mse(p[0], p[1]), w0=(-1.0, 5.0), steps=100,
                                   mode="static")          # a copy for experiments
path = torch.tensor(probe.update(lr=0.1)["path"])          # (101, 2): w, b at each step
from_widget_start = train(lr=0.1, steps=100, w0=-1.0, b0=5.0)[2]  # (100, 3)
assert torch.allclose(path[:100], from_widget_start[:, :2], atol=1e-5), "as train()"
below, above = probe.update(lr=0.95 * lr_bound), probe.update(lr=1.05 * lr_bound)
stopped = len(above["loss"]) - 1
print(f"lr {below['lr']:.4f}: loss {below['loss'][0]:.2f} -> {below['loss'][-1]:.4f}")
print(f"lr {above['lr']:.4f}: loss {above['loss'][0]:.2f} -> {above['loss'][-1]:.3g} "
      f"after {stopped} steps")
assert not below["diverged"] and below["loss"][-1] < 1 / 18 + 0.005, "below: converge"
assert above["diverged"] and above["loss"][-1] > 1e6 * above["loss"][0], "past: diverge"
assert 70 <= stopped <= 80, f"stopped after {stopped} steps, not about 75"

# %% [markdown]
# Your own loop agrees. Give it 300 steps at each of the two rates: just below the bound it
# finds the best line to within $10^{-3}$, just above it the loss passes $10^{6}$.

# %%
w_below, b_below, _ = train(lr=0.95 * lr_bound, steps=300)
_, _, history_above = train(lr=1.05 * lr_bound, steps=300)
loss_above = history_above[-1, 2].item()
print(f"below: w = {w_below:.4f}, b = {b_below:.4f};  above: loss {loss_above:.3g}")
assert abs(w_below - 2.5) < 1e-3 and abs(b_below - 1 / 3) < 1e-3, "below: converge"
assert not loss_above < 1e6, "above the bound the loss should pass 1e6 (or overflow)"

# %% [markdown]
# ## Summary
#
# - Regression predicts a number from features. Linear regression fits $\hat{y} = wx + b$ by
#   minimising the squared loss; in code you use its mean, the MSE.
# - For the three points $(1, 3)$, $(2, 5)$, $(3, 8)$ the normal equations
#   $\mathbf{X}^\top\mathbf{X}\boldsymbol{\theta} = \mathbf{X}^\top\mathbf{y}$ give the best line
#   exactly: $w = 2.5$, $b = \tfrac{1}{3}$, with MSE $\tfrac{1}{18}$.
# - With $d$ features, $\hat{y} = \mathbf{w}^\top\mathbf{x} + b$ is a neural network with a single
#   fully connected layer: $d$ inputs, one output.
# - Gradient descent needs only the slope where you stand: $\theta \leftarrow \theta - \eta\,
#   \nabla L$. On $x^2$ it converges exactly when $0 < \eta < 1 = 2/f''$.
# - A training loop by hand: predict, compute the loss, `backward()`, update under
#   `torch.no_grad()`, zero the gradients. With $\eta = 0.1$ and 1000 steps it finds the best
#   line to within $10^{-3}$; at 0.01 the same 1000 steps fall short.
# - The Hessian $\mathbf{H}$ sets the rules: the learning rate must stay below
#   $2/\lambda_{\max} \approx 0.180$ here, where $\lambda_{\max}$ is the largest eigenvalue of
#   $\mathbf{H}$, and the smallest eigenvalue sets the speed. Just past the bound the loss
#   explodes.
#
# ## Exercises
#
# 1. **A fourth day.** On day 4 you ate dish 10. Add the point, solve the normal equations
#    again, and predict day 5. Compute the new bound $2/\lambda_{\max}$: is $\eta = 0.1$ still
#    safe? Check by training with `train(lr=0.1, steps=2000, data=(days4, dishes4))` that
#    gradient descent finds your closed-form line to within $10^{-3}$.

# %% tags=["hide-cell"]
days4, dishes4 = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([3.0, 5.0, 8.0, 10.0])
X4 = torch.stack([days4, torch.ones(4)], dim=1).double()       # (4, 2)
w4, b4 = torch.linalg.solve(X4.T @ X4, X4.T @ dishes4.double()).tolist()
bound4 = 2 / torch.linalg.eigvalsh(2 / 4 * X4.T @ X4).max().item()
w_gd, b_gd, _ = train(lr=0.1, steps=2000, data=(days4, dishes4))
print(f"w = {w4:.4f}, b = {b4:.4f}, day 5: {5 * w4 + b4:.2f}; bound {bound4:.4f}")
assert abs(w4 - 2.4) < 1e-9 and abs(b4 - 0.5) < 1e-9, "the best line is 2.4 x + 0.5"
assert abs(5 * w4 + b4 - 12.5) < 1e-9, "day 5: dish 12.5"
assert 0.1 < bound4 < 0.12, f"the bound {bound4:.4f} should still be just above 0.1"
assert abs(w_gd - w4) < 1e-3 and abs(b_gd - b4) < 1e-3, "gradient descent finds it too"

# %% [markdown]
# <details><summary>Answer</summary>
#
# The fourth point pulls the slope down to 2.4 and the bound down to about 0.120: $\eta = 0.1$
# still converges, with less room to spare.
#
# </details>
#
# 2. **Any start.** The loss is convex, so the start should not matter. Draw ten random
#    starting points with `d2lite.seed_everything(0)` and `torch.randn(10, 2) * 10`, train from
#    each with `train(0.1, 1000, w0, b0)`, and check that all end at the same line.
# 3. **Sum or mean.** Train on the summed loss $S = nL$ instead of the mean. What is the new
#    bound on the learning rate, and what happens to the source notes' $\eta = 0.1$?

# %% tags=["hide-cell"]
bound_sum = lr_bound / 3          # S = 3L, so its Hessian is 3H
p = torch.zeros(2, requires_grad=True)                         # (w, b)
for _ in range(100):
    S = 3 * mse(p[0], p[1])
    (grad,) = torch.autograd.grad(S, p)
    with torch.no_grad():
        p -= 0.1 * grad
S_final = 3 * mse(p[0], p[1]).item()
print(f"bound for S: {bound_sum:.4f}; S after 100 steps at lr 0.1: {S_final:.3g}")
assert abs(bound_sum - (17 - math.sqrt(265)) / 12) < 1e-5, f"bound {bound_sum:.5f}"
assert round(bound_sum, 3) == 0.060, "about 0.060"
assert not S_final < 1e6, "lr 0.1 is past the bound for S: the loss explodes"

# %% [markdown]
# <details><summary>Answer</summary>
#
# Summing triples every gradient, so the learning rate must shrink by 3 to take the same
# steps: $\eta = 0.1$ on $S$ behaves like $0.3$ on $L$, past the bound of 0.180.
#
# </details>
#
# 4. **The best constant learning rate.** For a quadratic, $\eta^* = 2/(\lambda_{\min} +
#    \lambda_{\max})$ balances the two directions, $|1 - \eta^*\lambda_{\min}| =
#    |1 - \eta^*\lambda_{\max}|$, and so makes the slower of them shrink as fast as possible.
#    Compute it, and count how many steps `train` needs before $w$ stays within $10^{-3}$ of 2.5,
#    at $\eta^*$ and at 0.1.

# %% tags=["hide-cell"]
eta_star = 2 / (lam_min + lam_max)


def steps_until_close(lr):
    """The step from which w stays within 1e-3 of 2.5 (of 1000 steps of train)."""
    w_path = train(lr, 1000)[2][:, 0]                          # (1000,)
    return int(((w_path - 2.5).abs() >= 1e-3).nonzero().max()) + 1


steps_star, steps_01 = steps_until_close(eta_star), steps_until_close(0.1)
print(f"eta* = {eta_star:.4f} (= 3/17): {steps_star} steps; lr 0.1: {steps_01} steps")
assert abs(eta_star - 3 / 17) < 1e-5, "lambda_min + lambda_max = trace(H) = 34/3"
assert steps_star < steps_01, "eta* should need fewer steps than 0.1"

# %% [markdown]
# 5. **Centre the days.** Replace $x$ by $x - 2$ (the mean day). Show that $\mathbf{H}$ becomes
#    diagonal, find its condition number, and watch in the widget how the valley becomes
#    rounder. What are the best $w$ and $b$ now, and how do they relate to the old ones?

# %% tags=["hide-cell"]
Xc = torch.stack([x - 2, torch.ones(3)], dim=1).double()       # (3, 2): centred day, 1
Hc = 2 / 3 * Xc.T @ Xc                                          # (2, 2)
wc, bc = torch.linalg.solve(Xc.T @ Xc, Xc.T @ y.double()).tolist()
condition = (Hc.diagonal().max() / Hc.diagonal().min()).item()
print(f"H = {Hc.tolist()}; condition number {condition:.2f}")
print(f"w = {wc:.4f}, b = {bc:.4f}")
assert Hc[0, 1] == 0 and Hc[1, 0] == 0, "centring removes the coupling between w and b"
assert abs(condition - 1.5) < 1e-9, "the condition number drops from about 46 to 1.5"
assert abs(wc - w_best) < 1e-9, "centring leaves the slope alone"
assert abs(bc - (b_best + 2 * w_best)) < 1e-9, "the new bias is b + 2w = 16/3"

# %% [markdown]
# <details><summary>Answer</summary>
#
# The slope is unchanged; the new bias, $\tfrac{16}{3}$, is the line's value at the mean day,
# which is the mean dish.
#
# </details>
