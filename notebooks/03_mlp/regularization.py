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
# # Overfitting, model selection and regularisation
#
# A model that is perfect on its training data can still be poor on data it has never seen. You
# watch that happen twice in this lesson, with polynomials fitted to a handful of noisy points
# and with a neural network trained on about 1,000 Fashion-MNIST images. Along the way you learn
# how practitioners choose a model without fooling themselves: a validation split, K-fold
# cross-validation and early stopping, with the test set opened only once, at the very end. Then
# you meet the two classic cures for overfitting: weight decay, a squared penalty on the weights
# that PyTorch's `weight_decay` implements exactly, and dropout, which you write from scratch
# and check keeps each activation's expected value.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import copy
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from torch import nn

# %% [markdown]
# ## When training goes too well
#
# Suppose you train a dog detector on 100 photos, and in every one of them the dog faces left.
# Training goes beautifully: the network finds the outline of a left-facing dog and scores
# close to 100 % on its training photos. Then the first test photo shows a dog facing right.
# Nothing the network learned fits it, so it gets it wrong, and it will do so for every dog
# that turns its head, closes its eyes or sits down. You could add right-facing dogs to the
# training set, but you cannot foresee every surprise a test set holds.
#
# A model that does much better on its training data than on new data from the same source
# is **[overfitting](../../book/glossary.md#term-overfitting)** (过拟合): it has learned the
# training examples, quirks included, rather than the pattern behind them. Its opposite is
# **[underfitting](../../book/glossary.md#term-underfitting)** (欠拟合), a model too simple
# to capture even the training data. What you care about is
# **[generalisation](../../book/glossary.md#term-generalisation)** (泛化), how well the model
# does on data it has not seen. The difference between the two,
#
# $$
# \text{generalisation gap} = L_{\text{new data}} - L_{\text{train}},
# $$
#
# is the **[generalisation gap](../../book/glossary.md#term-generalisation-gap)** (泛化差距);
# here it is measured with the loss, and it can be measured with the accuracy just as well
# (train minus new data).
#
# The source notes name two causes of overfitting. The first is too little data: two points
# can always be separated by a plane, but that says little about where a third point will
# fall. The second is too many parameters. A line, with its two parameters $w$ and $b$, cannot
# bend around individual points; a parabola, with three, bends once; a curve with dozens of
# parameters can snake around every training point and still get the next one wrong.
#
# ## Three kinds of data
#
# To measure generalisation you need data the model has not trained on. But as soon as you use
# that data to *choose* something (the degree of a polynomial, the strength of a penalty, the
# number of epochs), it has shaped the model, and the number it gives is no longer an honest
# estimate: try enough settings and one of them will look good on it by luck. So practitioners
# split their data three ways:
#
# - the **training set**, on which the model's parameters are fitted;
# - the **[validation set](../../book/glossary.md#term-validation-set)** (验证集), held out from
#   the training data, on which you compare settings and make every choice;
# - the **test set**, locked away until all choices are made and opened once, at the end, for
#   the number you report.
#
# This lesson is the first in the book that chooses anything, so it does it properly, and every
# later lesson follows the same rule. `d2lite.data.train_val_split` holds out a validation
# split: a seeded random share of the rows (for class labels, the same share of each class).
#
# ## Underfitting and overfitting with polynomials
#
# You can watch both causes of overfitting at work on the smallest possible example. Take a
# cubic
#
# $$
# f(x) = 0.5 + 1.2x - 1.7x^2 + 0.9x^3,
# $$
#
# and collect 32 points $x$ spread over $[-1, 1]$, each with a label $y = f(x) + \varepsilon$
# where the noise $\varepsilon$ has standard deviation $0.2$. Half of them, 16 points, are for
# training and the other 16 for validation. A further 1,000 points from the same source are the
# test set, which stays in the drawer until the end of the polynomial experiments. No model can
# predict the noise, so the best possible mean squared error (MSE) on new points is its
# variance, $0.2^2 = 0.04$. The points are drawn once, from a generator of their own seeded
# with 0, so every reader gets the same sample; what follows is what *this* sample shows.

# %%
def cubic(x):
    return 0.5 + 1.2 * x - 1.7 * x**2 + 0.9 * x**3

NOISE = 0.2
g = torch.Generator().manual_seed(0)          # the data's own generator: a fixed sample
x_all = torch.linspace(-1, 1, 32, dtype=torch.float64)
jitter = 2 * torch.rand(32, dtype=torch.float64, generator=g) - 1
x_all = x_all + 0.025 * jitter                               # jitter the grid
y_all = cubic(x_all) + NOISE * torch.randn(32, dtype=torch.float64, generator=g)
x_test = 2 * torch.rand(1000, dtype=torch.float64, generator=g) - 1   # the drawer
y_test = cubic(x_test) + NOISE * torch.randn(1000, dtype=torch.float64, generator=g)
(x_train, y_train), (x_val, y_val) = d2lite.data.train_val_split(
    x_all, y_all, val_fraction=0.5, seed=0)
print(f"{len(x_train)} training, {len(x_val)} validation, {len(x_test)} test points")

# %% [markdown]
# A polynomial of degree $d$, $\hat{y} = w_0 + w_1 x + \dots + w_d x^d$, is linear regression
# on the *polynomial features* $(1, x, x^2, \dots, x^d)$, so you can fit it exactly with the
# least-squares solution of [linear regression](../02_linear/linear_regression.ipynb) rather
# than by gradient descent. That matters here: whatever goes wrong below is the model's doing,
# not the optimiser's. The computation runs in float64 because $x^{15}$ and $x^0$ differ
# wildly in size.

# %%
def features(x, degree):
    """(n,) inputs -> (n, degree + 1) polynomial features 1, x, ..., x^degree."""
    return x.unsqueeze(1) ** torch.arange(degree + 1)

def fit_polynomial(degree, x=None, y=None):
    """Least-squares coefficients (degree + 1,) through (x, y), by default the training
    split."""
    x, y = (x_train, y_train) if x is None else (x, y)
    solution = torch.linalg.lstsq(features(x, degree), y.unsqueeze(1), driver="gelsd")
    return solution.solution.squeeze(1)

def mse(w, x, y):
    return ((features(x, len(w) - 1) @ w - y) ** 2).mean().item()


# %% [markdown]
# Fit three degrees: a line ($d = 1$), the true degree ($d = 3$), and $d = 15$, whose 16
# coefficients are as many as there are training points.

# %%
weights = {d: fit_polynomial(d) for d in (1, 3, 15)}
for d, w in weights.items():
    print(f"degree {d:2}: train MSE {mse(w, x_train, y_train):.4f}   "
          f"validation MSE {mse(w, x_val, y_val):9.4g}")

# %% [markdown]
# The three rows tell three stories, and the next cell checks them. The line underfits: it
# is poor on the training points and on the validation points alike, with a validation MSE
# more than ten times the noise floor of 0.04. The cubic is good on both, within a factor of 2
# of the floor (16 points give a noisy estimate). The degree-15 polynomial passes through every
# training point, so its training loss is zero up to rounding, yet its validation loss is
# more than a billion times the cubic's.

# %%
train_mse = {d: mse(w, x_train, y_train) for d, w in weights.items()}
val_mse = {d: mse(w, x_val, y_val) for d, w in weights.items()}
assert val_mse[1] > 10 * NOISE**2, f"the line's validation MSE is {val_mse[1]:.3f}"
assert val_mse[3] < 2 * NOISE**2, f"the cubic's validation MSE is {val_mse[3]:.4f}"
assert train_mse[15] < 1e-12, f"degree 15 should interpolate: {train_mse[15]:.1e}"
assert val_mse[15] > 1e9 * val_mse[3], f"degree 15: validation MSE {val_mse[15]:.1e}"

# %% [markdown]
# [Figure 1](#fig-regularization-fits) makes it plain. The line cannot bend to follow the data;
# the cubic runs through the cloud of points, close to the true curve (dashed); the degree-15
# polynomial threads every training point and swings wildly in between, missing the validation
# points (hollow) by miles.

# %% mystnb={"figure": {"caption": "Polynomials of degree 1, 3 and 15 fitted to 16 noisy training points (filled); the hollow points are the validation split, the dashed curve the true cubic.", "name": "fig-regularization-fits"}}
grid = torch.linspace(-1, 1, 400, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.plot(x_train, y_train, "ko", label="training points")
ax.plot(x_val, y_val, "o", mfc="none", mec="0.4", label="validation points")
ax.plot(grid, cubic(grid), "k--", lw=1, label="true cubic")
for (d, w), fmt in zip(weights.items(), ("C0-", "C2-", "C3-"), strict=True):
    ax.plot(grid, features(grid, d) @ w, fmt, label=f"degree {d}")
ax.set(xlabel="$x$", ylabel="$y$", ylim=(-5, 3), title="Polynomial fits to 16 points")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Now sweep the degree from 0 to 15. A polynomial of degree $d$ is also one of degree $d + 1$
# whose last coefficient is zero, so the best training loss can only go down as $d$ grows.
# The validation loss has no such obligation. Choosing the degree is choosing a setting, so the
# choice is made on the validation split: the degree with the lowest validation MSE. On this
# sample it is the true degree, 3; with only 16 validation points that is partly luck, as the
# next section shows.

# %%
degrees = range(16)
sweep = [fit_polynomial(d) for d in degrees]
train_curve = [mse(w, x_train, y_train) for w in sweep]
val_curve = [mse(w, x_val, y_val) for w in sweep]
best = min(degrees, key=lambda d: val_curve[d])
print(f"lowest validation MSE {val_curve[best]:.4f} at degree {best}")
assert torch.tensor(train_curve).diff().max() <= 1e-12, "the training MSE never rises"
assert best == 3, f"on this sample the split picks the true degree 3, not {best}"
assert max(val_curve[3:6]) < 2.5 * NOISE**2, "degrees 3-5 should stay near the floor"

# %% [markdown]
# On a logarithmic scale, [Figure 2](#fig-regularization-degree-sweep) shows the classic shape.
# The training loss falls with every degree, and at degree 15, where it is zero up to rounding,
# it drops off the bottom of the plot. The validation loss falls while the model is too simple
# (degrees 0 to 2), stays within two and a half times the noise floor (dotted) from degree 3 to
# degree 5, then climbs as the extra coefficients start fitting the noise: underfitting on the
# left, overfitting on the right.

# %% mystnb={"figure": {"caption": "Training and validation MSE of polynomial fits against the degree (log scale); the dotted line is the noise floor 0.04.", "name": "fig-regularization-degree-sweep"}}
ax = d2lite.plot(list(degrees), [train_curve, val_curve], "polynomial degree",
                 "mean squared error", legend=["train", "validation"], yscale="log",
                 ylim=(1e-3, 1e3), title="Train and validation loss against model size")
ax.axhline(NOISE**2, color="gray", lw=0.8, ls=":")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# ### K-fold cross-validation
#
# Sixteen validation points make a noisy judge. Draw a different validation split from the same
# 32 points and the winner may change: on another split, degree 8 or degree 2 can get lucky.
# **[K-fold cross-validation](../../book/glossary.md#term-K-fold-cross-validation)**
# (K 折交叉验证) uses every point for validation once. Shuffle the data and cut it into $K$
# equal parts, the folds. For each fold, fit on the other $K - 1$ folds and measure the error on
# the held-out one; the average of the $K$ errors is the cross-validation estimate. It costs
# $K$ fits per setting instead of one, which is cheap for a polynomial and expensive for a
# large network, so it is used mostly when data is scarce. Here is 4-fold cross-validation on
# all 32 points: each fit sees 24 points and is judged on 8.

# %%
def kfold_mse(degree, k=4, seed=0):
    """The average validation MSE of `degree` over k folds of the 32 points."""
    folds = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed))
    folds = folds.chunk(k)                                    # k index tensors
    errors = []
    for i, held_out in enumerate(folds):
        fit_rows = torch.cat([f for j, f in enumerate(folds) if j != i])
        w = fit_polynomial(degree, x_all[fit_rows], y_all[fit_rows])
        errors.append(mse(w, x_all[held_out], y_all[held_out]))
    return sum(errors) / k

cv_curve = [kfold_mse(d) for d in range(11)]
cv_best = min(range(11), key=lambda d: cv_curve[d])
print(f"4-fold CV: lowest MSE {cv_curve[cv_best]:.4f} at degree {cv_best}")
assert cv_best == 3, f"4-fold cross-validation should pick degree 3, not {cv_best}"

# %% [markdown]
# Both methods pick degree 3 here. How often does each pick it? Repeat the whole choice with 20
# different random splits (and, for cross-validation, 20 different fold assignments) of the
# same 32 points, over degrees 0 to 10. On this sample a single split picks the true degree 10
# times in 20; cross-validation, which averages over four judges, 15 times. Neither is
# infallible: with so few points, a degree-8 polynomial sometimes fits the particular noise of
# the held-out points a little better by chance. More data helps more than any method of
# choosing.

# %%
picked_single, picked_cv = [], []
for seed in range(20):
    (xs, ys), (xv, yv) = d2lite.data.train_val_split(x_all, y_all, 0.5, seed=seed)
    split_mse = [mse(fit_polynomial(d, xs, ys), xv, yv) for d in range(11)]
    picked_single.append(min(range(11), key=lambda d: split_mse[d]))
    cv_seed = [kfold_mse(d, seed=seed) for d in range(11)]
    picked_cv.append(min(range(11), key=lambda d: cv_seed[d]))
print("single split picks:", picked_single)
print("4-fold CV picks:   ", picked_cv)
hits_single, hits_cv = picked_single.count(3), picked_cv.count(3)
assert (hits_single, hits_cv) == (10, 15), f"3 picked {hits_single}, {hits_cv} times"

# %% [markdown]
# ### Opening the drawer
#
# The choice is made: degree 3. Before the final test, refit it on all 32 points (training and
# validation together), since the validation points have done their job and more data can only
# help the fit. Now, once, open the drawer. The test MSE of the chosen model lies within 10 % of
# the noise floor: on 1,000 points it has never influenced, the model is as good as the noise
# allows.

# %%
final_poly = fit_polynomial(3, x_all, y_all)
test_mse_poly = mse(final_poly, x_test, y_test)
print(f"degree 3 refitted on all 32 points: test MSE {test_mse_poly:.4f} "
      f"(noise floor {NOISE**2:.2f})")
assert abs(test_mse_poly - NOISE**2) < 0.1 * NOISE**2, f"test MSE {test_mse_poly:.4f}"

# %% [markdown]
# ## Weight decay
#
# Look again at the degree-15 polynomial. Why is its curve so wild? Its coefficients are huge
# and of opposite signs: each term $w_k x^k$ swings far up or down, and the terms nearly cancel
# at the training points, leaving a curve that passes through them and lurches everywhere
# else. The source notes make the same point about ReLU networks: a network is a sum of many
# pieces, and large weights of opposite signs give sharp kinks. Compare the sizes of the
# coefficient vectors $\lVert \mathbf{w} \rVert$ of the cubic and the degree-15 fit.

# %%
norm3, norm15 = weights[3].norm().item(), weights[15].norm().item()
print(f"|w| for degree 3: {norm3:.1f}    for degree 15: {norm15:,.0f}")
print("degree-15 coefficients:", [f"{w:.0e}" for w in weights[15][:6].tolist()], "...")
assert norm15 > 1e7 and norm3 < 3, f"|w15| = {norm15:.0f}, |w3| = {norm3:.1f}"

# %% [markdown]
# That suggests a cure: make large weights expensive. Add a penalty on their size to the loss,
#
# $$
# L'(\mathbf{w}) = L(\mathbf{w}) + \frac{\lambda}{2}\lVert \mathbf{w} \rVert^2,
# \tag{1}
# $$
#
# where the [hyperparameter](../../book/glossary.md#term-hyperparameter) $\lambda \ge 0$ sets
# how expensive. If $L$ alone is minimal at some large $\mathbf{w}$, the penalty makes $L'$
# larger there, and gradient descent keeps going until it finds a balance between fitting the
# data and keeping the weights small. Any method that trades some training fit for better
# generalisation like this is called
# **[regularisation](../../book/glossary.md#term-regularisation)** (正则化). (The notes write
# the penalty as $\lambda w^2$; the factor $\tfrac12$ only rescales $\lambda$ and tidies the
# gradient.)
#
# Why a square, and not $w^3$, $w^4$ or $|w|$? Look at what the penalty does to a
# gradient step with learning rate $\eta$. Its gradient is $\lambda \mathbf{w}$, so
#
# $$
# \mathbf{w} \leftarrow \mathbf{w} - \eta\bigl(\nabla L(\mathbf{w}) + \lambda \mathbf{w}\bigr)
#            = (1 - \eta\lambda)\,\mathbf{w} - \eta \nabla L(\mathbf{w}).
# \tag{2}
# $$
#
# Before the usual step, every weight shrinks by the same factor $1 - \eta\lambda$: large
# weights are pulled towards zero hard, small ones gently, and the pull is proportional to the
# weight itself. That is why a squared penalty is called
# **[weight decay](../../book/glossary.md#term-weight-decay)** (权重衰减), or L2
# regularisation. The square is also smooth and strictly convex: added to a convex loss it
# leaves exactly one minimum, even where the data alone would allow many equally good weights
# (when there are more coefficients than points, say). An odd power such as $w^3$ has no
# minimum at all, since it goes to $-\infty$ for negative $w$; higher even powers barely touch
# small weights and explode on large ones; $|w|$, the L1 penalty, pulls every weight with the
# same force whatever its size and so sets many exactly to zero, which is useful in its own
# right.
#
# ### Weight decay on the polynomial
#
# For a polynomial the penalised least-squares problem still has a closed form, often called
# ridge regression: setting the gradient of $\frac{1}{n}\lVert \mathbf{X}\mathbf{w} -
# \mathbf{y}\rVert^2 + \lambda \lVert \mathbf{w} \rVert^2$ to zero gives
# $(\mathbf{X}^\top\mathbf{X}/n + \lambda \mathbf{I})\,\mathbf{w} = \mathbf{X}^\top\mathbf{y}/n$.
# (This version penalises $\lambda\lVert\mathbf{w}\rVert^2$ without the $\tfrac12$ and, for
# simplicity, the constant term $w_0$ too.)

# %%
def fit_ridge(degree, lam):
    """Coefficients (degree + 1,) minimizing the training MSE + lam * |w|^2."""
    X = features(x_train, degree)
    n = len(x_train)
    A = X.T @ X / n + lam * torch.eye(degree + 1, dtype=X.dtype)
    return torch.linalg.solve(A, X.T @ y_train / n)


# %% [markdown]
# The strength $\lambda$ is a dial, much like the degree was, and it is chosen the same way: on
# the validation split. Keep degree 15 and sweep $\lambda$ from $10^{-10}$ to $10$. The training
# loss can only rise as the penalty grows, while the validation loss first falls as the wiggles
# go and then rises again once the penalty flattens the cubic itself.

# %%
lambdas = torch.logspace(-10, 1, 23).tolist()
ridge = [fit_ridge(15, lam) for lam in lambdas]
ridge_train = [mse(w, x_train, y_train) for w in ridge]
ridge_val = [mse(w, x_val, y_val) for w in ridge]
i_best = min(range(len(lambdas)), key=lambda i: ridge_val[i])
best_lam = lambdas[i_best]
print(f"lowest validation MSE {ridge_val[i_best]:.4f} at lambda = {best_lam:.0e}")
assert torch.tensor(ridge_train).diff().min() >= -1e-12, "the training MSE never falls"
assert min(ridge_val[0], ridge_val[-1]) > 5 * ridge_val[i_best], "best not inside"

# %% [markdown]
# [Figure 3](#fig-regularization-lambda-sweep) mirrors the degree sweep, turned around:
# overfitting on the left, where the penalty is too weak, underfitting on the right, and the
# best validation loss in between. (The bumps on the left are real: with almost no penalty the
# degree-15 fit on 16 points is at the mercy of rounding.)

# %% mystnb={"figure": {"caption": "Training and validation MSE of the degree-15 polynomial against the weight-decay strength lambda (log scales).", "name": "fig-regularization-lambda-sweep"}}
d2lite.plot(lambdas, [ridge_train, ridge_val], r"penalty strength $\lambda$",
            "mean squared error", legend=["train", "validation"], xscale="log",
            yscale="log", title="Degree 15 with weight decay")
plt.show()

# %% [markdown]
# At the chosen $\lambda = 3 \times 10^{-3}$ the size of the coefficient vector shrinks from
# over ten million to under 3, close to the cubic's, and the validation loss falls by a factor
# of more than a billion, to within 40 % of the cubic's, although the model still has all 16
# coefficients.

# %%
w_decay = ridge[i_best]
val_decay = ridge_val[i_best]
print(f"degree 15, lambda = {best_lam:.0e}: |w| = {w_decay.norm():.2f}, "
      f"train MSE {ridge_train[i_best]:.4f}, validation MSE {val_decay:.4f}")
assert abs(best_lam - 3.16e-3) < 1e-5, f"lambda {best_lam:.1e} was chosen"
assert w_decay.norm() < 3, f"|w| = {w_decay.norm():.1f} should be below 3"
assert val_decay < val_mse[15] / 1e9, "weight decay should cut the error a billion-fold"
assert val_decay < 1.4 * val_mse[3], "with weight decay degree 15 should near the cubic"

# %% [markdown]
# [Figure 4](#fig-regularization-decayed-fit) shows the curve that the source notes hoped
# for: the same 16 coefficients, but the wild swings of the unregularized fit (red) are gone,
# and the decayed fit (blue) stays close to the true cubic.

# %% mystnb={"figure": {"caption": "The degree-15 polynomial without a penalty (red) and with the weight decay chosen on the validation split (blue).", "name": "fig-regularization-decayed-fit"}}
fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.plot(x_train, y_train, "ko", label="training points")
ax.plot(grid, cubic(grid), "k--", lw=1, label="true cubic")
ax.plot(grid, features(grid, 15) @ weights[15], "C3-",
        label=r"degree 15, $\lambda = 0$")
ax.plot(grid, features(grid, 15) @ w_decay, "C0-", lw=2,
        label=rf"degree 15, $\lambda = {best_lam:.0e}$")
ax.set(xlabel="$x$", ylabel="$y$", ylim=(-5, 3), title="Weight decay tames the wiggles")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### Weight decay in PyTorch
#
# You rarely write the penalty into the loss yourself. PyTorch's optimisers take a
# `weight_decay` argument and add $\lambda \mathbf{w}$ to each parameter's gradient before the
# step. Let's check that this is the same as the explicit penalty of equation (1), and the
# same as the decay formula, equation (2). Take a small linear model and run one step of plain
# SGD three ways.

# %%
d2lite.seed_everything(0)
model = nn.Linear(5, 1)
X, y = torch.randn(32, 5), torch.randn(32, 1)
lr, lam = 0.1, 0.05

def trained_copy(optimizer, weight_decay, penalty, steps=1, **options):
    """The weights of a copy of `model` after `steps` steps of `optimizer` (a
    torch.optim class); `penalty` adds lam/2 * |w|^2 to the loss."""
    net = copy.deepcopy(model)
    opt = optimizer(net.parameters(), weight_decay=weight_decay, **options)
    for _ in range(steps):
        loss = nn.functional.mse_loss(net(X), y)
        if penalty:
            loss = loss + lam / 2 * sum((p**2).sum() for p in net.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


# %% [markdown]
# The third way is the formula itself, $(1 - \eta\lambda)\mathbf{w} - \eta\nabla L$, with the
# gradient of the plain loss from autograd. All three agree to $10^{-6}$, weights and bias
# alike (PyTorch decays the bias too unless you put it in a parameter group of its own).

# %%
with_option = trained_copy(torch.optim.SGD, weight_decay=lam, penalty=False, lr=lr)
with_penalty = trained_copy(torch.optim.SGD, weight_decay=0.0, penalty=True, lr=lr)
params = list(model.parameters())
grads = torch.autograd.grad(nn.functional.mse_loss(model(X), y), params)
by_formula = torch.cat([((1 - lr * lam) * p - lr * g).detach().flatten()
                        for p, g in zip(params, grads, strict=True)])
print(f"weight_decay vs penalty: {(with_option - with_penalty).abs().max():.1e}, "
      f"vs formula: {(with_option - by_formula).abs().max():.1e}")
assert torch.allclose(with_option, with_penalty, rtol=0, atol=1e-6), "option != penalty"
assert torch.allclose(with_option, by_formula, rtol=0, atol=1e-6), "option != formula"

# %% [markdown]
# The Fashion-MNIST runs below use Adam, whose `weight_decay` also just adds
# $\lambda \mathbf{w}$ to the gradient; Adam then rescales the whole gradient, so the shrink
# factor is no longer exactly $1 - \eta\lambda$, but the optimiser still minimises the
# penalised loss $L'$. Twenty Adam steps with the option and with the explicit penalty land on
# the same weights.

# %%
adam_option = trained_copy(torch.optim.Adam, weight_decay=lam, penalty=False, steps=20,
                           lr=0.01)
adam_penalty = trained_copy(torch.optim.Adam, weight_decay=0.0, penalty=True, steps=20,
                            lr=0.01)
adam_gap = (adam_option - adam_penalty).abs().max().item()
print(f"Adam, 20 steps: largest difference {adam_gap:.1e}")
assert adam_gap < 1e-6, f"weight_decay and the penalty differ by {adam_gap:.1e}"

# %% [markdown]
# ## Overfitting a real network
#
# Neural networks overfit in the same way. Take Fashion-MNIST, 28×28 grey images of ten kinds
# of clothing, and keep only the first 2,000 training images. `train_val_split` deals them into
# 999 for training and 1,001 for validation, splitting each class in half (rounded), so both
# splits hold about 100 images of every class. The first 2,000 test images are the test set,
# which, as before, stays in the drawer until every choice is made.

# %%
fashion = d2lite.data.load_fashion_mnist(verbose=False)
(X_train, y_train_fm), (X_test, y_test_fm) = fashion
(X_small, y_small), (X_val, y_val_fm) = d2lite.data.train_val_split(
    X_train[:2000], y_train_fm[:2000], val_fraction=0.5, seed=0)
X_eval, y_eval = X_test[:2000], y_test_fm[:2000]            # the drawer
train_eval = d2lite.data.batches(X_small, y_small, 1000, shuffle=False)  # measuring
val_data = d2lite.data.batches(X_val, y_val_fm, 1000, shuffle=False)
print("training images per class:  ", torch.bincount(y_small).tolist())
print("validation images per class:", torch.bincount(y_val_fm).tolist())
counts = torch.stack([torch.bincount(y_small), torch.bincount(y_val_fm)])  # (2, 10)
assert (len(y_small), len(y_val_fm)) == (999, 1001), "expected 999 and 1,001 images"
assert (counts[0] - counts[1]).abs().max() <= 1, "stratified: same count per class, +-1"
assert 90 <= counts.min() and counts.max() <= 110, "about 100 images per class"

# %% [markdown]
# A [multilayer perceptron](../../book/glossary.md#term-multilayer-perceptron) with two hidden
# layers of 128 units has $784 \cdot 128 + 128 + 128 \cdot 128 + 128 + 128 \cdot 10 + 10 =
# 118{,}282$ parameters, more than a hundred for every training image. `make_mlp` builds it.
# Its `dropout` arguments add dropout layers, which the dropout section below explains; for now
# they stay at zero.

# %%
def make_mlp(dropout=0.0, dropout_input=0.0, hidden=128):
    return nn.Sequential(nn.Flatten(), nn.Dropout(dropout_input),
                         nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, 10))

num_params = sum(p.numel() for p in make_mlp().parameters())
print(f"{num_params:,} parameters, {num_params / len(X_small):.0f} per training image")
assert num_params == 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10 == 118_282
assert num_params > 100 * len(X_small), "expected over 100 parameters per image"

# %% [markdown]
# To see the gap you need the training loss measured the way the validation loss is: after
# each epoch, in evaluation mode, on the whole training split. `fit` reports the average loss
# of the epoch's batches instead, measured while the weights were still changing (and, once you
# add dropout, with neurons switched off). A small callback records the clean number: `fit`
# calls its `on_epoch_end` after every epoch. A second one keeps a copy of the weights of the
# epoch with the lowest validation loss, for the final choice at the end of the lesson.

# %%
loss_fn = nn.CrossEntropyLoss()

class TrainLossInEvalMode:
    """fit callback: the loss on `data` after every epoch, in eval mode."""

    def __init__(self, data):
        self.data, self.losses = data, []

    def on_epoch_end(self, state):
        result = d2lite.evaluate(state.model, self.data, loss_fn=loss_fn)
        self.losses.append(result["loss"])


class KeepBest:
    """fit callback: a copy of the weights of the epoch with the lowest val_loss."""

    def __init__(self):
        self.best, self.weights = float("inf"), None

    def on_epoch_end(self, state):
        if state.history["val_loss"][-1] < self.best:
            self.best = state.history["val_loss"][-1]
            self.weights = copy.deepcopy(state.model.state_dict())


# %% [markdown]
# Every model in this lesson trains the same way, so `train` wraps it: batches of 64 in the same
# shuffled order for every model (16 batches an epoch), Adam with learning rate $10^{-3}$ (and
# an optional weight decay), 100 epochs, and `val_data` set to the validation split. It returns
# the per-epoch curves, the final numbers on both splits, measured alike, and the weights of
# the best validation epoch.

# %%
EPOCHS = 100

def train(net, weight_decay=0.0, callbacks=()):
    train_data = d2lite.data.batches(X_small, y_small, 64, seed=0)  # same order
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    clean, best = TrainLossInEvalMode(train_eval), KeepBest()
    history = d2lite.fit(net, train_data, loss_fn=loss_fn, optimizer=optimizer,
                         epochs=EPOCHS, val_data=val_data, metrics=[d2lite.accuracy],
                         callbacks=[clean, best, *callbacks])
    final = {split: d2lite.evaluate(net, data, loss_fn=loss_fn,
                                    metrics=[d2lite.accuracy])
             for split, data in (("train", train_eval), ("val", val_data))}
    final["gap"] = final["val"]["loss"] - final["train"]["loss"]
    return {"train": clean.losses, "val": history["val_loss"], "final": final,
            "history": history, "net": net, "best_weights": best.weights}


# %% [markdown]
# Train the plain network. It takes a few seconds on a CPU; `fit` draws no live plot unless
# asked (`plot=True`), which is as well here: redrawing it a hundred times would take longer
# than the training itself.

# %%
d2lite.seed_everything(0)
runs = {"no regularization": train(make_mlp())}

# %% [markdown]
# [Figure 5](#fig-regularization-history) shows the curves that the `History` from `fit` draws
# (`val_` is the validation split). The training loss, averaged over each epoch's batches, dives
# towards zero, while the validation loss turns round within the first 30 epochs and climbs
# for the rest of training. The accuracy panel shows the same split more gently: training
# accuracy climbs to 100 % while validation accuracy stalls between 80 and 86 %.

# %% mystnb={"figure": {"caption": "Loss and accuracy of the unregularized MLP on its 999 training images (averaged over each epoch's batches) and on the 1,001 validation images.", "name": "fig-regularization-history"}}
axes = runs["no regularization"]["history"].plot()
axes[0].figure.set_size_inches(6.5, 2.8)              # two panels across the page
for ax in axes:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# The final numbers, and the checks: the validation loss is more than a hundred times the
# training loss, and it ends more than 50 % above its own lowest point, reached within the
# first 30 epochs (the printout says which).

# %%
def report(name):
    f = runs[name]["final"]
    print(f"{name:18} train loss {f['train']['loss']:.3f} "
          f"acc {f['train']['accuracy']:.3f}"
          f" | val loss {f['val']['loss']:.3f} acc {f['val']['accuracy']:.3f}"
          f" | gap {f['gap']:.3f}")

report("no regularization")
plain = runs["no regularization"]
ratio = plain["final"]["val"]["loss"] / plain["final"]["train"]["loss"]
best_epoch = plain["val"].index(min(plain["val"])) + 1          # counting from 1
print(f"val loss / train loss = {ratio:.0f}; lowest val loss {min(plain['val']):.3f} "
      f"at epoch {best_epoch}")
assert ratio > 100, f"val loss is only {ratio:.1f} times the training loss"
assert plain["val"][-1] > 1.5 * min(plain["val"]), "the val loss should rise again"
assert 10 <= best_epoch <= 30, f"the validation loss bottoms out at epoch {best_epoch}"
d2lite.record("best_epoch", best_epoch)
assert plain["final"]["train"]["accuracy"] == 1.0, "the plain net fits every image"
plain_val_acc = plain["final"]["val"]["accuracy"]
assert 0.80 <= plain_val_acc <= 0.86, f"val accuracy {plain_val_acc:.3f}, not 80-86 %"
d2lite.record("plain_val_acc", plain_val_acc)

# %% [markdown]
# Why does the validation loss climb while the validation accuracy holds steady? Cross-entropy
# punishes confident mistakes without limit. As the network drives its training loss to zero it
# grows ever more certain of every answer, including the roughly one in six validation answers
# that are wrong, and each of those costs more and more. An overfit classifier is not only
# wrong sometimes; it is wrong with great confidence.
#
# ## Early stopping
#
# The validation curve suggests the simplest cure of all: stop training when the validation loss
# stops improving, and keep the weights of its best epoch. That is
# **[early stopping](../../book/glossary.md#term-early-stopping)** (早停). The number of epochs
# becomes one more setting chosen on the validation split. In
# [Figure 6](#fig-regularization-early-stopping) the validation loss bottoms out at the marked
# epoch; everything after it makes the network worse on new data.

# %% mystnb={"figure": {"caption": "Validation loss of the unregularized MLP over 100 epochs; the marker is its lowest point, where early stopping keeps the weights.", "name": "fig-regularization-early-stopping"}}
epochs = range(1, EPOCHS + 1)
ax = d2lite.plot(epochs, [plain["train"], plain["val"]], "epoch", "cross-entropy loss",
                 legend=["train (eval mode)", "validation"], ylim=(0, 1.2),
                 title="Where the validation loss bottoms out")
ax.plot(best_epoch, min(plain["val"]), "ko")
ax.annotate(f"epoch {best_epoch}", (best_epoch, min(plain["val"])),
            xytext=(best_epoch + 8, 0.25), arrowprops=dict(arrowstyle="->"))
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# In practice you do not train for 100 epochs and look back: `d2lite.EarlyStopping` watches the
# curve as it grows. With `patience=10` it stops once ten epochs in a row have not beaten the
# best validation loss, and `restore_best=True` loads the weights of the best epoch at the end.
# Run from the same seed, the network retraces the same curve, so it stops ten epochs after
# the bottom of [Figure 6](#fig-regularization-early-stopping) and restores the weights of the bottom: a few dozen epochs of work
# instead of 100.

# %%
d2lite.seed_everything(0)
stopper = d2lite.EarlyStopping("val_loss", patience=10, mode="min", restore_best=True)
runs["early stopping"] = train(make_mlp(), callbacks=[stopper])
stopped = runs["early stopping"]
print(f"trained {len(stopped['history'])} epochs; kept epoch {stopper.best_epoch + 1}")
assert stopper.best_epoch + 1 == best_epoch, "early stopping should keep the best epoch"
assert len(stopped["history"]) == best_epoch + 10, "stop 10 epochs after the best"
assert abs(stopped["final"]["val"]["loss"] - min(plain["val"])) < 1e-4, "not the best"

# %% [markdown]
# ## Weight decay on Fashion-MNIST
#
# Now train the same network on the same 999 images, from the same starting weights and for
# the same 100 epochs, with `weight_decay=0.01`. (That strength is taken as given here; choosing
# it would mean a sweep on the validation split like the one for the polynomial, exercise 5.)

# %%
d2lite.seed_everything(0)
runs["weight decay 0.01"] = train(make_mlp(), weight_decay=0.01)
for name in ("no regularization", "weight decay 0.01"):
    report(name)

# %% [markdown]
# Weight decay gives up some training fit: the training loss no longer goes to zero, and the
# training accuracy falls below 100 %. In exchange the validation loss drops by more than
# 20 %, and the gap between the two losses shrinks to less than 55 % of the unregularized
# one. The accuracy tells a different story, though: the validation accuracy does not improve
# at all, it falls, and the accuracy gap (train minus validation) keeps more than 70 % of its
# size. Weight decay here mostly makes the network less overconfident, which the loss rewards
# and the accuracy does not see.

# %%
def gaps(name):
    f = runs[name]["final"]
    return f["gap"], f["train"]["accuracy"] - f["val"]["accuracy"]

loss_gap0, acc_gap0 = gaps("no regularization")
loss_gap_wd, acc_gap_wd = gaps("weight decay 0.01")
wd_final = runs["weight decay 0.01"]["final"]
print(f"with weight decay / without: loss gap {loss_gap_wd / loss_gap0:.2f}, "
      f"accuracy gap {acc_gap_wd / acc_gap0:.2f}")
assert loss_gap_wd < 0.55 * loss_gap0, f"loss gap {loss_gap_wd:.3f} vs {loss_gap0:.3f}"
d2lite.record("wd_loss_gap_ratio", loss_gap_wd / loss_gap0)
assert wd_final["val"]["loss"] < 0.8 * plain["final"]["val"]["loss"], "val too high"
assert wd_final["train"]["loss"] > 10 * plain["final"]["train"]["loss"], "train low"
assert 0.85 <= wd_final["train"]["accuracy"] < 0.99, "train accuracy should fall a bit"
val_acc_drop = plain["final"]["val"]["accuracy"] - wd_final["val"]["accuracy"]
assert val_acc_drop > 0.005, f"val accuracy changed by {-val_acc_drop:+.3f}"
assert acc_gap_wd > 0.7 * acc_gap0, "the accuracy gap should shrink far less"
d2lite.record("wd_acc_gap_ratio", acc_gap_wd / acc_gap0)

# %% [markdown]
# ## Dropout
#
# Weight decay restrains the network through its parameters.
# **[Dropout](../../book/glossary.md#term-dropout)** (暂退法)
# ([Srivastava et al., 2014](../../book/references.md)) takes a blunter route: if the network
# is too complex, make it simpler, a different way on every batch. During training, each hidden
# unit's output is set to zero with probability $p$, afresh for every example and every batch.
# A zeroed unit takes no part in the forward pass, and since the next layer computes
# $\sum_i w_i h_i + b$, the weights $w_i$ leaving it contribute nothing and receive no gradient
# from that example. No unit can rely on any particular other unit being there, so the network
# cannot build the fragile co-adapted combinations that memorise single training images.
# [Figure 7](#fig-regularization-dropout-diagram) shows one such thinned network for one
# example: the crossed-out units and all their connections are gone for this pass.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Dropout on a small MLP for one training example: crossed-out units (one input, four hidden) output zero, so their connections take no part in this forward and backward pass. The next example draws a new pattern.", "name": "fig-regularization-dropout-diagram"}}
d2lite.diagrams.draw_network(
    [["$x_1$", "$x_2$", "$x_3$", "$x_4$"], 5, 5, ["$o_1$", "$o_2$", "$o_3$"]],
    layer_names=["input", "hidden 1", "hidden 2", "output"],
    dropped={0: [2], 1: [1, 4], 2: [0, 3]}, figsize=(5.5, 3.2))

# %% [markdown]
# Zeroing alone would also shrink the layer's output: on average only a fraction $1 - p$ of it
# survives, and the next layer would see smaller inputs in training than in testing. So the
# survivors are scaled up to compensate:
#
# $$
# h' = \begin{cases} 0 & \text{with probability } p, \cr
#                    \dfrac{h}{1 - p} & \text{otherwise,} \end{cases}
# \qquad
# \mathbb{E}[h'] = p \cdot 0 + (1 - p)\frac{h}{1 - p} = h.
# \tag{3}
# $$
#
# At test time you want the whole network, and no randomness, so dropout does nothing at all.
# Thanks to the scaling during training, no correction is needed then either.
#
# ### Dropout from scratch
#
# Draw a mask of ones (keep, with probability $1 - p$) and zeros (drop), multiply, and
# rescale. The two edge cases need care: $p = 0$ keeps everything, and $p = 1$ drops
# everything (and would divide by zero).

# %%
def dropout(h, p):
    """Zero each entry of h with probability p and scale the rest by 1 / (1 - p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout(): got p={p}; expected a probability in [0, 1]")
    if p == 1:
        return torch.zeros_like(h)
    mask = torch.empty_like(h).bernoulli_(1 - p)  # 1 = keep, with probability 1 - p
    return h * mask / (1 - p)


# %% [markdown]
# Try it on a small matrix with three values of $p$. With $p = 0.5$ each entry is gone with
# probability one half (so about half of them on average: count them in this draw) and the kept
# ones have doubled. The matrix starts at 1, so a zero always means a dropped entry.

# %% tags=["nbval-check-output"]
d2lite.seed_everything(0)
h = torch.arange(1, 17, dtype=torch.float32).reshape(2, 8)
for p in (0.0, 0.5, 1.0):
    print(f"p = {p}:\n{dropout(h, p)}")

# %% [markdown]
# Now the property of equation (3) that makes dropout work: averaged over many random masks,
# the output equals the input. Apply `dropout` with $p = 0.5$ to the same vector 100,000 times
# and average. The mean is within 2 % of the input everywhere (a tolerance of over six times
# the relative standard error, about 0.3 %), while the same masks without the $1/(1-p)$
# scaling give only half the input.

# %%
d2lite.seed_everything(0)
x = torch.arange(1.0, 9.0)                                 # (8,)
samples = dropout(x.expand(100_000, 8), 0.5)               # (100000, 8)
mean = samples.mean(dim=0)
unscaled = (samples * 0.5).mean(dim=0)                     # without the 1 / (1 - p)
print("input:          ", x.tolist())
print("mean of samples:", [round(v, 3) for v in mean.tolist()])
rel_se = ((samples / x).std(dim=0) / len(samples) ** 0.5).max().item()
print(f"relative standard error of the mean: {rel_se:.4f}")
assert abs(rel_se - 0.003) < 0.0005, f"standard error {rel_se:.4f}, not about 0.3 %"
assert ((mean / x - 1).abs() < 0.02).all(), "dropout should keep the mean within 2 %"
assert ((unscaled / x - 0.5).abs() < 0.01).all(), "without rescaling the mean halves"

# %% [markdown]
# ### Training and evaluation modes
#
# A dropout layer has to know whether it is training. That is what the flag `self.training`
# is for, which `model.train()` and `model.eval()` set for a module and all its children
# ([training mode](../../book/glossary.md#term-training-mode) and
# [evaluation mode](../../book/glossary.md#term-evaluation-mode), from
# [the MNIST lesson](mlp_mnist.ipynb)). `fit` calls `train()` before each epoch and `evaluate`
# calls `eval()`, so dropout switches itself off for every validation measurement; in a loop of
# your own, calling `model.eval()` before testing is up to you. Wrapped as a module, the
# scratch function becomes:

# %%
class Dropout(nn.Module):
    """Scratch dropout: zeros and 1 / (1 - p) scaling when training, else identity."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, h):
        return dropout(h, self.p) if self.training else h


# %% [markdown]
# Compare it with `nn.Dropout`. In training mode both zero a fraction close to $p$ of a large
# input and scale every survivor by exactly $1/(1-p)$; in evaluation mode both return the
# input unchanged. On the CPU they even draw their masks the same way, so with the same seed
# they give identical outputs.

# %%
x_big = torch.rand(1000, 100) + 0.5                        # (1000, 100), no zeros
ours, theirs = Dropout(0.3), nn.Dropout(0.3)
d2lite.seed_everything(0)
out_ours = ours(x_big)
d2lite.seed_everything(0)
out_theirs = theirs(x_big)
for name, out in (("scratch", out_ours), ("nn.Dropout", out_theirs)):
    kept = out != 0
    print(f"{name:10}: dropped {1 - kept.float().mean():.3f}, "
          f"kept values are x / {(x_big[kept] / out[kept]).mean():.4f}")
    assert abs(1 - kept.float().mean() - 0.3) < 0.01, f"{name} should drop about 30 %"
    assert torch.allclose(out[kept], x_big[kept] / 0.7), f"{name}: survivors != x / 0.7"
assert torch.allclose(out_ours, out_theirs), "same seed, same mask on the CPU"
ours.eval()
theirs.eval()
assert torch.equal(ours(x_big), x_big), "eval mode should be the identity"
assert torch.equal(theirs(x_big), x_big), "eval mode should be the identity"

# %% [markdown]
# ### Dropout on Fashion-MNIST
#
# Back to the 999 training images, with `nn.Dropout` now that you know what it does. Following the
# original paper, drop hidden units with $p = 0.5$ and input pixels with $p = 0.2$ (again taken
# as given, not tuned); the weights, data order and budget are as before.

# %%
d2lite.seed_everything(0)
runs["dropout 0.2 / 0.5"] = train(make_mlp(dropout=0.5, dropout_input=0.2))
for name in ("no regularization", "weight decay 0.01", "dropout 0.2 / 0.5"):
    report(name)

# %% [markdown]
# Dropout, too, trades some training fit for a smaller gap: the validation loss falls by more
# than a quarter compared with the unregularized network's and the loss gap shrinks to less
# than two thirds of the unregularized one. Unlike weight decay, dropout keeps the validation
# accuracy, within a point of the plain network's or above it, while the training accuracy
# falls a few points below 100 %; so here the accuracy gap shrinks too, by more than two
# points.

# %%
loss_gap_do, acc_gap_do = gaps("dropout 0.2 / 0.5")
do_final = runs["dropout 0.2 / 0.5"]["final"]
print(f"with dropout / without: loss gap {loss_gap_do / loss_gap0:.2f}, "
      f"accuracy gap {acc_gap_do / acc_gap0:.2f}")
assert loss_gap_do < 2 / 3 * loss_gap0, f"loss gap {loss_gap_do:.3f} vs {loss_gap0:.3f}"
d2lite.record("do_loss_gap_ratio", loss_gap_do / loss_gap0)
assert do_final["val"]["loss"] < 0.75 * plain["final"]["val"]["loss"], "val too high"
assert do_final["train"]["loss"] > 10 * plain["final"]["train"]["loss"], "train low"
do_acc_change = do_final["val"]["accuracy"] - plain["final"]["val"]["accuracy"]
assert do_acc_change > -0.01, f"val accuracy changed by {do_acc_change:+.3f}"
d2lite.record("do_val_acc_change", do_acc_change)
assert 0.93 <= do_final["train"]["accuracy"] <= 0.98, "train accuracy should fall a bit"
assert acc_gap_do < acc_gap0 - 0.02, f"accuracy gap {acc_gap_do:.3f} vs {acc_gap0:.3f}"

# %% [markdown]
# ## Train and validation curves side by side
#
# The three full runs differ only in their regularisation. In each panel of
# [Figure 8](#fig-regularization-curves), the distance between the two curves is the
# generalisation gap as training proceeds (both measured in evaluation mode, on the 999
# training and the 1,001 validation images). Without regularisation the curves part early and
# keep moving apart; with weight decay or dropout the training loss stays away from zero and
# the validation loss stays low.

# %% mystnb={"figure": {"caption": "Training (eval mode) and validation loss over 100 epochs without regularisation, with weight decay 0.01, and with dropout.", "name": "fig-regularization-curves"}}
names = ["no regularization", "weight decay 0.01", "dropout 0.2 / 0.5"]
fig, axes = plt.subplots(1, 3, figsize=(6.5, 2.8), sharey=True, layout="constrained")
for ax, name in zip(axes, names, strict=True):
    ax.plot(epochs, runs[name]["train"], label="train")
    ax.plot(epochs, runs[name]["val"], "m--", label="validation")
    ax.set(xlabel="epoch", ylim=(0, 1.2))
    ax.set_title(name, fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    ax.grid(True, alpha=0.3)
axes[0].set_ylabel("cross-entropy loss")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# The source notes add two remarks from experience: in their work dropout tends to beat weight
# decay, and using both at once is not always better than one of them. Both depend on the
# model and the data, so treat them as things to try, on the validation split, rather than
# rules; exercise 5 lets you test them on this subset.
#
# ## Choosing, then testing once
#
# Three candidate networks are on the table: the plain one, the one with weight decay and the
# one with dropout. Each also has a number of epochs to choose, and early stopping showed how:
# keep the weights of the epoch with the lowest validation loss. Give every candidate that same
# treatment, so that like is compared with like: each enters with its best epoch, and for the
# plain network that is the epoch early stopping kept. (Setting the early-stopped network's
# best epoch against the others' last epochs would favour it, because the lowest of 100 noisy
# measurements is lower than a typical one.) Decide the rule before looking at the numbers: the
# lowest validation loss wins, the quantity every run was trained to lower. Then open the
# drawer for the winner, and only for it.

# %%
best_val = {name: min(runs[name]["val"]) for name in names}
for name, value in sorted(best_val.items(), key=lambda item: item[1]):
    print(f"{name:18} best validation loss {value:.3f} "
          f"(epoch {runs[name]['val'].index(value) + 1})")
winner = min(best_val, key=best_val.get)
chosen = copy.deepcopy(runs[winner]["net"])
chosen.load_state_dict(runs[winner]["best_weights"])
test_data = d2lite.data.batches(X_eval, y_eval, 1000, shuffle=False)   # opened once
final_test = d2lite.evaluate(chosen, test_data, loss_fn=loss_fn,
                             metrics=[d2lite.accuracy])
print(f"{winner}, best epoch: test loss {final_test['loss']:.3f}, "
      f"test accuracy {final_test['accuracy']:.3f}")

# %% [markdown]
# Chosen this way, every candidate's best epoch lies far below the plain network's last one,
# at less than 70 % of its validation loss. Which of the three wins is a close call, the kind
# another training seed can turn, so the code names the winner rather than the text. On the
# 2,000 test images its loss lies within 10 % of its validation loss, and it reads more than
# 80 % of them correctly.

# %%
assert max(best_val.values()) < 0.7 * plain["final"]["val"]["loss"], "not far below"
assert abs(final_test["loss"] / best_val[winner] - 1) < 0.1, "test and val differ"
d2lite.record("test_over_val_loss", final_test["loss"] / best_val[winner])
assert final_test["accuracy"] >= 0.80, f"test accuracy {final_test['accuracy']:.3f}"
d2lite.record("test_acc", final_test["accuracy"])

# %% [markdown]
# The test numbers confirm that the validation split told the truth: a model chosen on it does
# about as well on data that played no part in any decision. Had you chosen on the test set
# instead, the number you report would be the best of three noisy draws, and too good.
#
# ## Summary
#
# - A model overfits when it does much better on its training data than on new data: the
#   degree-15 polynomial passes through all 16 training points and is more than a billion times
#   worse than the cubic on the validation points; the MLP trained on 999 images ends with a
#   validation loss more than a hundred times its training loss. Too little data and too many
#   parameters both cause it. A model too simple for the data underfits, and is poor on both.
# - Make every choice (degree, $\lambda$, epochs, which model) on a validation split held out
#   from the training data, and open the test set once, at the end. With little data, K-fold
#   cross-validation averages over $K$ validation folds and picks more reliably (15 times in 20
#   against 10 here). Early stopping chooses the number of epochs on the validation curve.
# - Training loss only falls as a model grows; validation loss falls, bottoms out and rises
#   again. Measure the generalisation gap with both numbers taken the same way.
# - Weight decay adds $\frac{\lambda}{2}\lVert \mathbf{w} \rVert^2$ to the loss. Its gradient
#   $\lambda\mathbf{w}$ shrinks every weight by the factor $1 - \eta\lambda$ at each SGD step,
#   pulling large weights hardest. PyTorch's `weight_decay` option is exactly this penalty.
# - Dropout zeroes each unit with probability $p$ in training and scales the survivors by
#   $1/(1-p)$, which keeps every unit's expected output unchanged; in evaluation mode it does
#   nothing. `model.train()` and `model.eval()` switch between the two.
# - On the small Fashion-MNIST subset, weight decay and dropout both cut the loss gap by more
#   than a third; weight decay lowered the validation accuracy while dropout kept it. With
#   every candidate stopped at its best epoch, all three beat the plain network's last epoch
#   by far, and the winner's test loss confirmed its validation loss.
#
# ## Exercises
#
# 1. **More data instead.** Split the first 5,000 training images instead of 2,000, with
#    `val_fraction=0.2`, so that about 4,000 train; rebuild `train_eval` and `val_data` from
#    them, set `EPOCHS = 25` so that the number of steps stays about the same, and run
#    `runs4k = train(make_mlp())` after `d2lite.seed_everything(0)`. Is its loss gap smaller
#    than `loss_gap0`? Which of the two causes of overfitting did you just address, and how
#    does the validation accuracy compare with dropout's?
# 2. **Mean kept, variance not.** Show that dropout keeps the mean but not the variance: for an
#    input $h$ its output has variance $h^2\,p/(1-p)$. Check it with the 100,000 samples
#    above ($p = 0.5$). Why does this variance make dropout's training loss noisier?

# %% tags=["hide-cell"]
# A solution. Each output is h / (1 - p) with probability 1 - p, else 0, so
# E[h'^2] = h^2 / (1 - p) and Var[h'] = h^2 / (1 - p) - h^2 = h^2 p / (1 - p).
# Every unit's output jitters that much from batch to batch, and so does the loss.
p = 0.5
predicted_var = x**2 * p / (1 - p)                          # (8,)
ratio_var = samples.var(dim=0) / predicted_var
print("measured / predicted variance:", [round(r, 3) for r in ratio_var.tolist()])
assert ((ratio_var - 1).abs() < 0.02).all(), "variance should be h^2 p / (1 - p)"

# %% [markdown]
# 3. **Leave one out.** With $K$ equal to the number of points, each fold holds a single point:
#    leave-one-out cross-validation. Run `kfold_mse(d, k=32)` for degrees 0 to 10. Which
#    degree does it pick, and how far apart are its estimates for that degree and for degree 3?
#    What would you choose, and why?

# %% tags=["hide-cell"]
# A solution. Leave-one-out picks degree 8, but its estimate is within 3 % of
# degree 3's: far less than the noise of a 32-point estimate. Between models this
# close, prefer the simpler one (degree 3): it has fewer ways to fit noise.
loo = [kfold_mse(d, k=32) for d in range(11)]
loo_best = min(range(11), key=lambda d: loo[d])
print(f"leave-one-out picks degree {loo_best}: {loo[loo_best]:.4f}, "
      f"degree 3: {loo[3]:.4f}")
assert loo_best == 8, f"leave-one-out picks degree {loo_best}"
assert loo[3] < 1.03 * loo[loo_best], "degree 3 should be within 3 % of the best"

# %% [markdown]
# 4. **Decoupled decay.** `torch.optim.AdamW`
#    ([Loshchilov and Hutter, 2019](../../book/references.md)) shrinks the weights by
#    $1 - \eta\lambda$ directly instead of adding $\lambda\mathbf{w}$ to the gradient that Adam
#    rescales. Pass it to `trained_copy` instead of `torch.optim.Adam` and confirm that it does
#    *not* match the explicit penalty. Under `Adam(weight_decay=...)`, which weights does Adam's
#    rescaling make decay faster: those with large gradients or those with small ones?

# %% tags=["hide-cell"]
# A solution. Adam divides the whole gradient, decay term included, by the root of
# its running average of squared gradients: weights with small gradients get their
# decay divided by a small number, so they decay faster; AdamW decays all alike.
adamw = trained_copy(torch.optim.AdamW, weight_decay=lam, penalty=False, steps=20,
                     lr=0.01)
adamw_gap = (adamw - adam_penalty).abs().max().item()
print(f"AdamW vs explicit penalty after 20 steps: {adamw_gap:.1e}")
assert adamw_gap > 1e-4, f"AdamW differs from the penalty by only {adamw_gap:.1e}"

# %% [markdown]
# 5. **Tune it yourself.** Choose the weight decay of the Fashion-MNIST network on the
#    validation split: train with $\lambda \in \{0.001, 0.003, 0.01, 0.03\}$ and keep the lowest
#    final validation loss. Then try dropout and weight decay together,
#    `make_mlp(dropout=0.5, dropout_input=0.2)` with your $\lambda$. Is the validation loss
#    lower than with either alone? Only when you have decided, evaluate your winner on
#    `test_data`.
