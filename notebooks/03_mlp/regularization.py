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
# # Overfitting, Weight Decay and Dropout
#
# A model that is perfect on its training data can still be poor on data it has never seen. You
# watch that happen twice in this lesson, with polynomials fitted to a handful of noisy points
# and with a neural network trained on 1,000 Fashion-MNIST images. Then you meet the two classic
# cures: weight decay, a squared penalty on the weights that PyTorch's `weight_decay` implements
# exactly, and dropout, which you write from scratch and check keeps each activation's expected
# value. Finally you measure how much each cure shrinks the gap between training and test loss.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import copy
import matplotlib.pyplot as plt
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
# is **{term}`overfitting`** (过拟合): it has learned the training examples,
# quirks included, rather than the pattern behind them. Its opposite is
# **{term}`underfitting`** (欠拟合), a model too simple to capture even the
# training data. What you care about is **{term}`generalization`** (泛化), how well the model
# does on data it has not seen, and you estimate it on a test set that training never touches.
# The difference between the two,
#
# $$
# \text{generalization gap} = L_{\text{test}} - L_{\text{train}},
# $$
#
# is the **{term}`generalization gap`** (泛化差距); here it is measured with the loss, and it
# can be measured with the accuracy just as well (train minus test).
#
# The source notes name two causes of overfitting. The first is too little data: two points
# can always be separated by a plane, but that says little about where a third point will
# fall. The second is too many parameters. A line, with its two parameters $w$ and $b$, cannot
# bend around individual points; a parabola, with three, bends once; a curve with dozens of
# parameters can snake around every training point and still get the next one wrong.
#
# ## Underfitting and overfitting with polynomials
#
# You can watch both causes at work on the smallest possible example. Take a cubic
#
# $$
# f(x) = 0.5 + 1.2x - 1.7x^2 + 0.9x^3,
# $$
#
# and sample 16 points $x$ spread over $[-1, 1]$, each with a label $y = f(x) + \varepsilon$
# where the noise $\varepsilon$ has standard deviation $0.2$. A further 1,000 points from the
# same source serve as the test set. No model can predict the noise, so the best possible
# test loss (mean squared error) is its variance, $0.2^2 = 0.04$.

# %%
def cubic(x):
    return 0.5 + 1.2 * x - 1.7 * x**2 + 0.9 * x**3

NOISE = 0.2
d2lite.seed_everything(0)
x_train = torch.linspace(-1, 1, 16, dtype=torch.float64)
x_train = x_train + 0.05 * (2 * torch.rand(16, dtype=torch.float64) - 1)  # jitter the spacing
y_train = cubic(x_train) + NOISE * torch.randn(16, dtype=torch.float64)
x_test = 2 * torch.rand(1000, dtype=torch.float64) - 1
y_test = cubic(x_test) + NOISE * torch.randn(1000, dtype=torch.float64)
print(f"{len(x_train)} training points, {len(x_test)} test points")

# %% [markdown]
# A polynomial of degree $d$, $\hat{y} = w_0 + w_1 x + \dots + w_d x^d$, is linear regression
# on the *polynomial features* $(1, x, x^2, \dots, x^d)$, so you can fit it exactly with the
# least-squares solution of {doc}`../02_linear/linear_regression` rather than by gradient
# descent. That matters here: whatever goes wrong below is the model's doing, not the
# optimizer's. The computation runs in float64 because $x^{15}$ and $x^0$ differ wildly in size.

# %%
def features(x, degree):
    """(n,) inputs -> (n, degree + 1) polynomial features 1, x, ..., x^degree."""
    return x.unsqueeze(1) ** torch.arange(degree + 1)

def fit_polynomial(degree):
    """Least-squares coefficients (degree + 1,) of a polynomial through the training points."""
    X = features(x_train, degree)
    return torch.linalg.lstsq(X, y_train.unsqueeze(1), driver="gelsd").solution.squeeze(1)

def mse(w, x, y):
    return ((features(x, len(w) - 1) @ w - y) ** 2).mean().item()


# %% [markdown]
# Fit three degrees: a line ($d = 1$), the true degree ($d = 3$), and $d = 15$, whose 16
# coefficients are as many as there are training points.

# %%
weights = {d: fit_polynomial(d) for d in (1, 3, 15)}
for d, w in weights.items():
    print(f"degree {d:2}: train MSE {mse(w, x_train, y_train):.4f}   "
          f"test MSE {mse(w, x_test, y_test):9.4f}")

# %% [markdown]
# The three rows tell three stories, and the next cell checks them. The line underfits: it
# is poor on the training points and on the test points alike, with a test loss more than five
# times the noise floor of 0.04. The cubic is good on both, within 25 % of the floor. The
# degree-15 polynomial passes through every training point, so its training loss is zero up
# to rounding, yet its test loss is more than a hundred times the cubic's.

# %%
train_mse = {d: mse(w, x_train, y_train) for d, w in weights.items()}
test_mse = {d: mse(w, x_test, y_test) for d, w in weights.items()}
assert test_mse[1] > 5 * NOISE**2, f"the line's test MSE {test_mse[1]:.3f} should exceed 0.2"
assert test_mse[3] < 1.25 * NOISE**2, f"the cubic's test MSE {test_mse[3]:.4f} is not < 0.05"
assert train_mse[15] < 1e-20, f"degree 15 should interpolate: train MSE {train_mse[15]:.1e}"
assert test_mse[15] > 100 * test_mse[3], "degree 15 should be far worse than the cubic on test"

# %% [markdown]
# The picture makes it plain. The line cannot bend to follow the data; the cubic runs through
# the cloud of points, close to the true curve (dashed); the degree-15 polynomial threads every
# point and swings wildly in between, most of all near the ends of the interval.

# %%
grid = torch.linspace(-1, 1, 400, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.plot(x_train, y_train, "ko", label="training points")
ax.plot(grid, cubic(grid), "k--", lw=1, label="true cubic")
for (d, w), fmt in zip(weights.items(), ("C0-", "C2-", "C3-"), strict=True):
    ax.plot(grid, features(grid, d) @ w, fmt, label=f"degree {d}")
ax.set(xlabel="$x$", ylabel="$y$", ylim=(-5, 3), title="Polynomial fits to 16 noisy points")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Now sweep the degree from 0 to 15. A polynomial of degree $d$ is also one of degree $d + 1$
# whose last coefficient is zero, so the best training loss can only go down as $d$ grows.
# The test loss has no such obligation.

# %%
degrees = range(16)
sweep = [fit_polynomial(d) for d in degrees]
train_curve = [mse(w, x_train, y_train) for w in sweep]
test_curve = [mse(w, x_test, y_test) for w in sweep]
best = min(degrees, key=lambda d: test_curve[d])
print(f"lowest test MSE {test_curve[best]:.4f} at degree {best}")
assert torch.tensor(train_curve).diff().max() <= 1e-12, "the training MSE should never rise"
assert 3 <= best <= 5, f"the best degree should be near the true 3, not {best}"
assert max(test_curve[3:9]) < 1.5 * NOISE**2, "degrees 3-8 should stay near the noise floor"

# %% [markdown]
# On a logarithmic scale you see the classic shape. The training loss falls steadily with
# every degree, and at degree 15, where it is zero up to rounding, it drops off the bottom of
# the plot. The test loss falls while the model is too simple (degrees 0 to 2), stays
# within 50 % of the noise floor (dotted) from degree 3 to degree 8, then climbs as the extra
# coefficients start fitting the noise: underfitting on the left, overfitting on the right.

# %%
ax = d2lite.plot(list(degrees), [train_curve, test_curve], "polynomial degree",
                 "mean squared error", legend=["train", "test"], yscale="log",
                 ylim=(1e-3, 1e3), title="Train and test loss against model size")
ax.axhline(NOISE**2, color="gray", lw=0.8, ls=":")
plt.show()

# %% [markdown]
# ## Overfitting a real network
#
# Neural networks overfit in the same way. Take Fashion-MNIST, 28×28 grey images of ten kinds
# of clothing, and keep only the first 1,000 training images, about 100 per class. A
# {term}`multilayer perceptron` with two hidden layers of 128 units has about 118,000 parameters,
# more than a hundred for every training image. The first 2,000 test images serve as the
# test set.

# %%
(X_train, y_train_fm), (X_test, y_test_fm) = d2lite.data.load_fashion_mnist(verbose=False)
X_small, y_small = X_train[:1000], y_train_fm[:1000]
X_eval, y_eval = X_test[:2000], y_test_fm[:2000]
train_eval = d2lite.data.batches(X_small, y_small, 1000, shuffle=False)  # for measuring only
test_data = d2lite.data.batches(X_eval, y_eval, 1000, shuffle=False)
print("classes in the subset:", torch.bincount(y_small).tolist())

# %% [markdown]
# `make_mlp` builds the network. Its `dropout` argument adds dropout layers, which the
# dropout section below explains; for now it stays at zero.

# %%
def make_mlp(dropout=0.0, dropout_input=0.0, hidden=128):
    return nn.Sequential(nn.Flatten(), nn.Dropout(dropout_input),
                         nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, 10))

num_params = sum(p.numel() for p in make_mlp().parameters())
print(f"{num_params:,} parameters")
assert num_params > 100 * len(X_small), "expected over 100 parameters per training image"
assert 80 <= torch.bincount(y_small).min() and torch.bincount(y_small).max() <= 120

# %% [markdown]
# To see the gap you need the training loss measured the way the test loss is: after each
# epoch, in evaluation mode, on the whole training subset. `fit` reports the average loss of the
# epoch's batches instead, measured while the weights were still changing (and, once you add
# dropout, with neurons switched off). A small callback records the clean number: `fit` calls
# its `on_epoch_end` after every epoch.

# %%
loss_fn = nn.CrossEntropyLoss()

class TrainLossInEvalMode:
    """fit callback: the loss on `data` after every epoch, in eval mode like the test loss."""

    def __init__(self, data):
        self.data, self.losses = data, []

    def on_epoch_end(self, state):
        self.losses.append(d2lite.evaluate(state.model, self.data, loss_fn=loss_fn)["loss"])


# %% [markdown]
# Every model in this lesson trains the same way, so `train` wraps it: batches of 64 in the same
# shuffled order for every model (16 batches an epoch), Adam with learning rate $10^{-3}$ (and
# an optional weight decay, see below), 100 epochs. It returns the per-epoch curves and the
# final numbers on both sets, measured alike.

# %%
EPOCHS = 100

def train(net, weight_decay=0.0):
    train_data = d2lite.data.batches(X_small, y_small, 64, seed=0)  # same order every run
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    clean = TrainLossInEvalMode(train_eval)
    history = d2lite.fit(net, train_data, loss_fn=loss_fn, optimizer=optimizer, epochs=EPOCHS,
                         val_data=test_data, metrics=[d2lite.accuracy], callbacks=[clean],
                         plot=False)
    final = {split: d2lite.evaluate(net, data, loss_fn=loss_fn, metrics=[d2lite.accuracy])
             for split, data in (("train", train_eval), ("test", test_data))}
    final["gap"] = final["test"]["loss"] - final["train"]["loss"]
    return {"train": clean.losses, "test": history["val_loss"], "final": final,
            "history": history}


# %% [markdown]
# Train the plain network. It takes a few seconds on a CPU; `fit` is told not to draw its live
# plot (`plot=False`), because redrawing it a hundred times would take longer than the
# training itself.

# %%
d2lite.seed_everything(0)
runs = {"no regularization": train(make_mlp())}

# %% [markdown]
# The `History` that `fit` returns draws the usual curves (`val_` stands for the test images
# here). The training loss, averaged over each epoch's batches, dives towards zero, while the
# test loss turns round within the first 20 epochs or so and climbs for the rest of training.
# The accuracy panel shows the same split more gently: training accuracy climbs to 100 % while
# test accuracy stalls near 80 %.

# %%
runs["no regularization"]["history"].plot()
plt.show()

# %% [markdown]
# The final numbers, and the checks: the test loss is more than ten times the training loss,
# and it ends at least 50 % above its own lowest point, reached within the first 25 epochs.

# %%
def report(name):
    f = runs[name]["final"]
    print(f"{name:18} train loss {f['train']['loss']:.3f} acc {f['train']['accuracy']:.3f} | "
          f"test loss {f['test']['loss']:.3f} acc {f['test']['accuracy']:.3f} | "
          f"gap {f['gap']:.3f}")

report("no regularization")
plain = runs["no regularization"]
ratio = plain["final"]["test"]["loss"] / plain["final"]["train"]["loss"]
print(f"test loss / train loss = {ratio:.0f}; lowest test loss {min(plain['test']):.3f} "
      f"at epoch {plain['test'].index(min(plain['test'])) + 1}")
assert ratio > 10, f"test loss is only {ratio:.1f} times the training loss, expected > 10"
assert plain["test"][-1] > 1.5 * min(plain["test"]), "the test loss should rise from its low"
assert plain["test"].index(min(plain["test"])) < 25, "the test loss should bottom out early"
assert plain["final"]["train"]["accuracy"] >= 0.98, "the plain net should fit its training set"
assert 0.75 <= plain["final"]["test"]["accuracy"] <= 0.85, "test accuracy should be near 80 %"

# %% [markdown]
# Why does the test loss climb while the test accuracy holds steady? Cross-entropy punishes
# confident mistakes without limit. As the network drives its training loss to zero it grows
# ever more certain of every answer, including the roughly 20 % of test answers that are wrong,
# and each of those costs more and more. An overfit classifier is not only wrong sometimes; it
# is wrong with great confidence.
#
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
assert norm15 > 1e5 and norm3 < 3, f"|w15| = {norm15:.0f}, |w3| = {norm3:.1f}"

# %% [markdown]
# That suggests a cure: make large weights expensive. Add a penalty on their size to the loss,
#
# $$
# L'(\mathbf{w}) = L(\mathbf{w}) + \frac{\lambda}{2}\lVert \mathbf{w} \rVert^2,
# $$
#
# where the {term}`hyperparameter` $\lambda \ge 0$ sets how expensive. If $L$ alone is minimal at
# some large $\mathbf{w}$, the penalty makes $L'$ larger there, and gradient descent keeps
# going until it finds a balance between fitting the data and keeping the weights small. Any
# method that trades some training fit for better generalization like this is called
# **{term}`regularization`** (正则化). (The notes write the penalty as $\lambda w^2$; the
# factor $\tfrac12$ only rescales $\lambda$ and tidies the gradient.)
#
# Why a square, and not $w^3$, $w^4$ or $|w|$? Look at what the penalty does to a
# gradient step with learning rate $\eta$. Its gradient is $\lambda \mathbf{w}$, so
#
# $$
# \mathbf{w} \leftarrow \mathbf{w} - \eta\bigl(\nabla L(\mathbf{w}) + \lambda \mathbf{w}\bigr)
#            = (1 - \eta\lambda)\,\mathbf{w} - \eta \nabla L(\mathbf{w}).
# $$
#
# Before the usual step, every weight shrinks by the same factor $1 - \eta\lambda$: large
# weights are pulled towards zero hard, small ones gently, and the pull is proportional to the
# weight itself. That is why a squared penalty is called **{term}`weight decay`** (权重衰减),
# or L2 regularization. The square is also smooth and strictly convex: added to a convex loss
# it leaves exactly one minimum, even where the data alone would allow many equally good
# weights (when there are more coefficients than points, say).
# An odd power such as $w^3$ has no minimum at all, since it goes to $-\infty$ for negative
# $w$; higher even powers barely touch small weights and explode on large ones; $|w|$, the L1
# penalty, pulls every weight with the same force whatever its size and so sets many exactly
# to zero, which is useful in its own right.
#
# ### Weight decay on the polynomial
#
# For a polynomial the penalized least-squares problem still has a closed form, often called
# ridge regression: setting the gradient of $\frac{1}{n}\lVert \mathbf{X}\mathbf{w} -
# \mathbf{y}\rVert^2 + \lambda \lVert \mathbf{w} \rVert^2$ to zero gives
# $(\mathbf{X}^\top\mathbf{X}/n + \lambda \mathbf{I})\,\mathbf{w} = \mathbf{X}^\top\mathbf{y}/n$.
# (This version penalizes $\lambda\lVert\mathbf{w}\rVert^2$ without the $\tfrac12$ and, for
# simplicity, the constant term $w_0$ too.)

# %%
def fit_ridge(degree, lam):
    """Coefficients (degree + 1,) minimizing the training MSE + lam * |w|^2."""
    X = features(x_train, degree)
    n = len(x_train)
    A = X.T @ X / n + lam * torch.eye(degree + 1, dtype=X.dtype)
    return torch.linalg.solve(A, X.T @ y_train / n)


# %% [markdown]
# Keep degree 15 and add a modest penalty, $\lambda = 10^{-3}$. The size of the coefficient
# vector shrinks from over 100,000 to under 3, close to the cubic's, and the test loss falls by
# more than a hundred times, to within 50 % of the cubic's, although the model still has all 16
# coefficients.

# %%
w_decay = fit_ridge(15, 1e-3)
test_decay = mse(w_decay, x_test, y_test)
print(f"degree 15, lambda = 1e-3: |w| = {w_decay.norm():.2f}, "
      f"train MSE {mse(w_decay, x_train, y_train):.4f}, test MSE {test_decay:.4f}")
assert w_decay.norm() < 3, f"|w| = {w_decay.norm():.1f} should be below 3"
assert test_decay < test_mse[15] / 100, "weight decay should cut the test MSE over 100-fold"
assert test_decay < 1.5 * test_mse[3], "with weight decay degree 15 should near the cubic"

# %% [markdown]
# Here is the curve that the source notes hoped for: the same 16 coefficients, but the wild
# swings of the unregularized fit (red) are gone, and the decayed fit (blue) stays close to the
# true cubic.

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.plot(x_train, y_train, "ko", label="training points")
ax.plot(grid, cubic(grid), "k--", lw=1, label="true cubic")
ax.plot(grid, features(grid, 15) @ weights[15], "C3-", label=r"degree 15, $\lambda = 0$")
ax.plot(grid, features(grid, 15) @ w_decay, "C0-", lw=2, label=r"degree 15, $\lambda = 10^{-3}$")
ax.set(xlabel="$x$", ylabel="$y$", ylim=(-5, 3), title="Weight decay tames the wiggles")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The strength $\lambda$ is a dial, much like the degree was. Sweep it from $10^{-10}$ to
# $10$: the training loss can only rise as the penalty grows, while the test loss first falls
# as the wiggles go and then rises again once the penalty flattens the cubic itself.

# %%
lambdas = torch.logspace(-10, 1, 23).tolist()
ridge = [fit_ridge(15, lam) for lam in lambdas]
ridge_train = [mse(w, x_train, y_train) for w in ridge]
ridge_test = [mse(w, x_test, y_test) for w in ridge]
best_lam = lambdas[min(range(len(lambdas)), key=lambda i: ridge_test[i])]
print(f"lowest test MSE {min(ridge_test):.4f} at lambda = {best_lam:.0e}")
assert torch.tensor(ridge_train).diff().min() >= -1e-12, "the training MSE should never fall"
assert min(ridge_test[0], ridge_test[-1]) > 2 * min(ridge_test), "the best lambda should be inside"

# %% [markdown]
# The figure mirrors the degree sweep, turned around: overfitting on the left, where the
# penalty is too weak, underfitting on the right, and the best test loss in between.

# %%
d2lite.plot(lambdas, [ridge_train, ridge_test], r"penalty strength $\lambda$",
            "mean squared error", legend=["train", "test"], xscale="log", yscale="log",
            title="Degree 15 with weight decay")
plt.show()

# %% [markdown]
# ### Weight decay in PyTorch
#
# You rarely write the penalty into the loss yourself. PyTorch's optimizers take a
# `weight_decay` argument and add $\lambda \mathbf{w}$ to each parameter's gradient before the
# step. Let's check that this is the same as the explicit penalty
# $\frac{\lambda}{2}\lVert \mathbf{w} \rVert^2$, and the same as the decay formula above. Take
# a small linear model and run one step of plain SGD three ways.

# %%
d2lite.seed_everything(0)
model = nn.Linear(5, 1)
X, y = torch.randn(32, 5), torch.randn(32, 1)
lr, lam = 0.1, 0.05

def trained_copy(optimizer, weight_decay, penalty, steps=1, **options):
    """The weights of a copy of `model` after `steps` steps of `optimizer` (a torch.optim class);
    `penalty` adds lam/2 * |w|^2 to the loss."""
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
# The Fashion-MNIST runs use Adam, whose `weight_decay` also just adds $\lambda \mathbf{w}$ to
# the gradient; Adam then rescales the whole gradient, so the shrink factor is no longer
# exactly $1 - \eta\lambda$, but the optimizer still minimizes the penalized loss $L'$. Twenty
# Adam steps with the option and with the explicit penalty land on the same weights.

# %%
adam_option = trained_copy(torch.optim.Adam, weight_decay=lam, penalty=False, steps=20, lr=0.01)
adam_penalty = trained_copy(torch.optim.Adam, weight_decay=0.0, penalty=True, steps=20, lr=0.01)
adam_gap = (adam_option - adam_penalty).abs().max().item()
print(f"Adam, 20 steps: largest difference {adam_gap:.1e}")
assert adam_gap < 1e-6, f"Adam's weight_decay and the explicit penalty differ by {adam_gap:.1e}"

# %% [markdown]
# ### Weight decay on Fashion-MNIST
#
# Now train the same network on the same 1,000 images, from the same starting weights and for
# the same 100 epochs, with `weight_decay=0.01`.

# %%
d2lite.seed_everything(0)
runs["weight decay 0.01"] = train(make_mlp(), weight_decay=0.01)
report("no regularization")
report("weight decay 0.01")

# %% [markdown]
# Weight decay gives up some training fit: the training loss no longer goes to zero. In
# exchange the test loss drops by more than 30 %, and the gap between the two shrinks to less
# than two thirds of the unregularized one. The accuracy gap (train minus test) shrinks too.

# %%
def gaps(name):
    f = runs[name]["final"]
    return f["gap"], f["train"]["accuracy"] - f["test"]["accuracy"]

loss_gap0, acc_gap0 = gaps("no regularization")
loss_gap_wd, acc_gap_wd = gaps("weight decay 0.01")
assert loss_gap_wd < 2 / 3 * loss_gap0, f"loss gap {loss_gap_wd:.3f} vs {loss_gap0:.3f}"
assert acc_gap_wd < acc_gap0, f"accuracy gap {acc_gap_wd:.3f} vs {acc_gap0:.3f}"
wd_final = runs["weight decay 0.01"]["final"]
assert wd_final["train"]["loss"] > 10 * plain["final"]["train"]["loss"], "train loss too low"
assert wd_final["test"]["loss"] < 0.7 * plain["final"]["test"]["loss"], "test loss should fall"

# %% [markdown]
# ## Dropout
#
# Weight decay restrains the network through its parameters. **{term}`Dropout`** (暂退法)
# {cite}`srivastava2014dropout` takes a blunter route: if the network is too complex, make it
# simpler, a different way on every batch. During training, each hidden unit's output is set
# to zero with probability $p$, afresh for every example and every batch. A zeroed unit takes
# no part in the forward pass, and since the next layer computes $\sum_i w_i h_i + b$, the
# weights $w_i$ leaving it contribute nothing and receive no gradient from that example. No unit
# can rely on any particular other unit being there, so the network cannot build the fragile
# co-adapted combinations that memorize single training images.
#
# Zeroing alone would also shrink the layer's output: on average only a fraction $1 - p$ of it
# survives, and the next layer would see smaller inputs in training than in testing. So the
# survivors are scaled up to compensate:
#
# $$
# h' = \begin{cases} 0 & \text{with probability } p, \\
#                    \dfrac{h}{1 - p} & \text{otherwise,} \end{cases}
# \qquad
# \mathbb{E}[h'] = p \cdot 0 + (1 - p)\frac{h}{1 - p} = h.
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

# %%
# NBVAL_CHECK_OUTPUT
d2lite.seed_everything(0)
h = torch.arange(1, 17, dtype=torch.float32).reshape(2, 8)
for p in (0.0, 0.5, 1.0):
    print(f"p = {p}:\n{dropout(h, p)}")

# %% [markdown]
# Now the property that makes dropout work: averaged over many random masks, the output equals
# the input. Apply `dropout` with $p = 0.5$ to the same vector 100,000 times and average. The
# mean is within 2 % of the input everywhere (a tolerance of over six times the relative standard
# error, about 0.3 %), while the same masks without the $1/(1-p)$ scaling give only half the input.

# %%
d2lite.seed_everything(0)
x = torch.arange(1.0, 9.0)                                 # (8,)
samples = dropout(x.expand(100_000, 8), 0.5)               # (100000, 8)
mean = samples.mean(dim=0)
unscaled = (samples * 0.5).mean(dim=0)                     # the kept values without 1 / (1 - p)
print("input:          ", x.tolist())
print("mean of samples:", [round(v, 3) for v in mean.tolist()])
rel_se = ((samples / x).std(dim=0) / len(samples) ** 0.5).max().item()
print(f"relative standard error of the mean: {rel_se:.4f}")
assert abs(rel_se - 0.003) < 0.0005, f"expected a standard error near 0.3 %, got {rel_se:.4f}"
assert ((mean / x - 1).abs() < 0.02).all(), "dropout should keep the mean within 2 %"
assert ((unscaled / x - 0.5).abs() < 0.01).all(), "without rescaling the mean should halve"

# %% [markdown]
# ### Training and evaluation modes
#
# A dropout layer has to know whether it is training. That is what the flag `self.training`
# is for, which `model.train()` and `model.eval()` set for a module and all its children
# ({term}`training mode` and {term}`evaluation mode`, from {doc}`mlp_mnist`). `fit` calls
# `train()` before each epoch and `evaluate` calls `eval()`, so dropout switches itself off
# for every test measurement; in a loop of your own, calling `model.eval()` before testing is
# up to you. Wrapped as a module, the scratch function becomes:

# %%
class Dropout(nn.Module):
    """Dropout from scratch: random zeros and 1 / (1 - p) scaling in training, identity in eval."""

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
    assert torch.allclose(out[kept], x_big[kept] / 0.7), f"{name}: survivors should be x / 0.7"
assert torch.allclose(out_ours, out_theirs), "same seed, same mask on the CPU"
ours.eval()
theirs.eval()
assert torch.equal(ours(x_big), x_big), "eval mode should be the identity"
assert torch.equal(theirs(x_big), x_big), "eval mode should be the identity"

# %% [markdown]
# ### Dropout on Fashion-MNIST
#
# Back to the 1,000 images, with `nn.Dropout` now that you know what it does. Following the
# original paper, drop hidden units with $p = 0.5$ and input pixels with $p = 0.2$; the
# weights, data order and budget are as before.

# %%
d2lite.seed_everything(0)
runs["dropout 0.2 / 0.5"] = train(make_mlp(dropout=0.5, dropout_input=0.2))
for name in runs:
    report(name)

# %% [markdown]
# Dropout, too, trades some training fit for a smaller gap: the test loss falls by more than
# 30 % compared with the unregularized network's, the loss gap shrinks to under two thirds of
# the unregularized one, and the accuracy gap shrinks as well.

# %%
loss_gap_do, acc_gap_do = gaps("dropout 0.2 / 0.5")
assert loss_gap_do < 2 / 3 * loss_gap0, f"loss gap {loss_gap_do:.3f} vs {loss_gap0:.3f}"
assert acc_gap_do < acc_gap0, f"accuracy gap {acc_gap_do:.3f} vs {acc_gap0:.3f}"
do_final = runs["dropout 0.2 / 0.5"]["final"]
assert do_final["train"]["loss"] > 10 * plain["final"]["train"]["loss"], "train loss too low"
assert do_final["test"]["loss"] < 0.7 * plain["final"]["test"]["loss"], "test loss should fall"

# %% [markdown]
# ## Train and test curves side by side
#
# The three runs differ only in their regularization. In each panel, the distance between the
# two curves is the generalization gap as training proceeds (both measured in evaluation mode,
# on the 1,000 training images and the 2,000 test images). Without regularization the curves
# part early and keep moving apart; with weight decay or dropout the training loss stays away
# from zero and the test loss stays low.

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True, layout="constrained")
epochs = range(1, EPOCHS + 1)
for ax, (name, run) in zip(axes, runs.items(), strict=True):
    ax.plot(epochs, run["train"], label="train")
    ax.plot(epochs, run["test"], "m--", label="test")
    ax.set(title=name, xlabel="epoch", ylim=(0, 1.6))
    ax.grid(True, alpha=0.3)
axes[0].set_ylabel("cross-entropy loss")
axes[0].legend()
plt.show()

# %% [markdown]
# The source notes add two remarks from experience: in their work dropout tends to beat weight
# decay, and using both at once is not always better than one of them. Both depend on the
# model and the data, so treat them as things to try rather than rules; the second exercise
# lets you test them on this subset.
#
# ## Summary
#
# - A model overfits when it does much better on its training data than on new data: the
#   degree-15 polynomial passes through all 16 training points and is more than a hundred
#   times worse than the cubic on test points; the MLP trained on 1,000 images ends with a
#   test loss more than ten times its training loss. Too little data and too many parameters
#   both cause it. A model too simple for the data underfits, and is poor on both sets.
# - Training loss only falls as a model grows; test loss falls, bottoms out and rises again.
#   Measure the generalization gap, test minus train, with both numbers taken the same way.
# - Weight decay adds $\frac{\lambda}{2}\lVert \mathbf{w} \rVert^2$ to the loss. Its gradient
#   $\lambda\mathbf{w}$ shrinks every weight by the factor $1 - \eta\lambda$ at each SGD step,
#   pulling large weights hardest. PyTorch's `weight_decay` option is exactly this penalty.
# - Dropout zeroes each unit with probability $p$ in training and scales the survivors by
#   $1/(1-p)$, which keeps every unit's expected output unchanged; in evaluation mode it does
#   nothing. `model.train()` and `model.eval()` switch between the two.
# - On the 1,000-image subset both weight decay and dropout lower the test loss and cut the
#   generalization gap to less than two thirds of the unregularized network's.
#
# ## Exercises
#
# 1. **More data instead.** Train the plain network on the first 4,000 training images: set
#    `X_small, y_small = X_train[:4000], y_train_fm[:4000]`, rebuild `train_eval` from them,
#    set `EPOCHS = 25` so that the number of steps stays about the same, and run
#    `runs4k = train(make_mlp())` after `d2lite.seed_everything(0)`. Self-check:
#    `assert runs4k["final"]["gap"] < loss_gap0`. Which of the two causes of overfitting did
#    you just address, and how does the test accuracy compare with dropout's?
# 2. **Both at once.** Train `make_mlp(dropout=0.5, dropout_input=0.2)` with
#    `weight_decay=0.01`. Is the gap smaller than with either alone? Is the test loss lower?
#    Try a weaker weight decay (0.001) with dropout too.
# 3. **Mean kept, variance not.** Show that dropout keeps the mean but not the variance: for an
#    input $h$ its output has variance $h^2\,p/(1-p)$. Self-check with the 100,000 samples
#    above: `assert ((samples.var(dim=0) / x**2 - 1).abs() < 0.05).all()` for $p = 0.5$. Why
#    does this variance mean that dropout's training loss is noisier than the plain one?
# 4. **Penalize the coefficients you choose.** In `fit_ridge`, leave the constant term $w_0$
#    unpenalized (zero the first diagonal entry of $\lambda\mathbf{I}$). Does the best test
#    MSE over the $\lambda$ sweep change? Explain why penalizing $w_0$ would matter if every
#    $y$ were shifted up by 100.
# 5. **Decoupled decay.** `torch.optim.AdamW` {cite}`loshchilov2019decoupled` shrinks the
#    weights by $1 - \eta\lambda$ directly instead of adding $\lambda\mathbf{w}$ to the
#    gradient that Adam rescales. Pass it to `trained_copy` instead of `torch.optim.Adam` and
#    confirm that it does *not* match the explicit penalty (the difference is far above $10^{-6}$). Under
#    `Adam(weight_decay=...)`, which weights does Adam's rescaling make decay faster: those
#    with large gradients or those with small ones?
