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
# # Optimisers
#
# Plain gradient descent works, but it is slow in two ways: every step reads the whole data set,
# and in a long, narrow valley it zigzags across instead of heading down the valley. In this
# lesson you will make each step cheaper with minibatches, learn the exponentially weighted
# average, and use it to write momentum, AdaGrad, RMSProp and Adam from scratch, checking each
# against `torch.optim` step for step. Then you race them down a ravine, remove the ravine
# itself by standardising the inputs, and finally compare the optimisers where it counts, on a
# real model: softmax regression on Fashion-MNIST, each with a learning rate tuned on a
# validation split.

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
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator

# %% [markdown]
# ## Full batch or minibatch?
#
# In [linear regression](../02_linear/linear_regression.ipynb) every step of [gradient descent](../../book/glossary.md#term-gradient-descent) computed the loss on all the
# data. With three points that costs nothing. With ten thousand examples of a hundred features,
# every single step multiplies a 10,000 × 100 matrix, and you may need thousands of steps.
#
# The cheapest way to save work is to use less data per step. You cannot drop columns, since
# each one is a feature the model needs, but you can drop rows: compute the gradient on a small
# random **[minibatch](../../book/glossary.md#term-minibatch)** (小批量) of examples, take a step, and draw a different minibatch
# for the next step. This is **[stochastic gradient descent](../../book/glossary.md#term-stochastic-gradient-descent)** (随机梯度下降, SGD)
# ([Robbins and Monro, 1951](../../book/references.md)); the version that uses all the data every time is
# **[batch gradient descent](../../book/glossary.md#term-batch-gradient-descent)** (批量梯度下降). One pass through the whole data set, however
# it is cut into batches, is an **[epoch](../../book/glossary.md#term-epoch)** (轮). PyTorch has no separate optimiser for
# batch gradient descent: `torch.optim.SGD` *is* batch gradient descent when you hand it the
# gradient of the whole data set, and "stochastic" only describes where the gradient comes from.
#
# To see the trade, make a synthetic regression with $n = 10{,}000$ examples and four features,
# $y = \mathbf{x}^\top \mathbf{w} + b + \varepsilon$ with noise $\varepsilon$ of standard
# deviation 0.5. The features have different spreads (1, 1, 0.5 and 0.2), which makes the loss
# a little elongated, as real data usually are (you will measure how much in a moment). A column
# of ones in the design matrix carries the bias, as in the normal equations.

# %%
device = d2lite.try_gpu()
data_rng = torch.Generator().manual_seed(0)  # the data's own generator: fixed data
n = 10_000
X = torch.randn(n, 4, generator=data_rng) * torch.tensor([1.0, 1.0, 0.5, 0.2])  # (n, 4)
label_noise = 0.5 * torch.randn(n, generator=data_rng)  # (n,): the noise
y = X @ torch.tensor([2.0, -3.4, 1.5, 0.5]) + 4.2 + label_noise
X1 = torch.cat([X, torch.ones(n, 1)], dim=1).to(device)  # (n, 5): features, 1
y = y.to(device)
theta_best = torch.linalg.lstsq(X1.cpu().double(), y.cpu().double()[:, None]).solution
theta_best = theta_best[:, 0].float().to(device)  # (5,): w and b
print("least-squares w, b:", [round(v, 2) for v in theta_best.tolist()])

# %% [markdown]
# The loss is the mean squared error (MSE) of [linear regression](../02_linear/linear_regression.ipynb), and its gradient is
# $\nabla L = \tfrac{2}{n} \mathbf{X}^\top (\mathbf{X}\boldsymbol{\theta} - \mathbf{y})$. For a
# minibatch you use the same formula on its rows only. The formula is quicker to run than autograd
# for this many small steps; the cell checks that the two agree. Even the best fit keeps a loss
# of about $0.5^2 = 0.25$, the variance of the noise, which no line can predict.


# %%
def mse(theta, X1, y):
    """Mean squared error of the linear model X1 @ theta; X1: (m, 5), y: (m,)."""
    return ((X1 @ theta - y) ** 2).mean()


def mse_grad(theta, X1, y):
    """Its gradient (5,): 2/m X1^T (X1 theta - y)."""
    return 2 * X1.T @ (X1 @ theta - y) / len(y)


theta = torch.zeros(5, device=device, requires_grad=True)
mse(theta, X1, y).backward()
assert torch.allclose(theta.grad, mse_grad(theta.detach(), X1, y), rtol=1e-4, atol=1e-4)
loss_best = mse(theta_best, X1, y).item()
print(f"smallest possible loss (the noise): {loss_best:.4f}")
assert abs(loss_best - 0.25) < 0.01, f"best loss {loss_best:.4f} is not about 0.25"

# %% [markdown]
# A minibatch gradient is a noisy estimate of the full gradient. It is right *on average*, since
# each example is equally likely to be drawn, so the minibatch mean has the full mean as its
# expectation; but any single draw misses. The miss shrinks like $1/\sqrt{B}$ for a batch of $B$
# examples, the usual rule for an average of $B$ random terms, while the cost of a step grows like
# $B$. The cell draws 2,000 minibatches for each of four batch sizes at $\boldsymbol{\theta} =
# \mathbf{0}$ and measures the root-mean-square distance from the full gradient: 64 times the
# batch size buys only $\sqrt{64} = 8$ times less noise.

# %%
theta0, g_full = (
    torch.zeros(5, device=device),
    mse_grad(torch.zeros(5, device=device), X1, y),
)
noise = {}
for B in (8, 32, 128, 512):
    rows = torch.randint(0, n, (2000, B), generator=data_rng).to(device)  # (2000, B)
    g = torch.stack([mse_grad(theta0, X1[r], y[r]) for r in rows])  # (2000, 5)
    noise[B] = (g - g_full).norm(dim=1).pow(2).mean().sqrt().item()
    mean_miss = (g.mean(0) - g_full).norm().item()
    print(
        f"B = {B:3d}: cost {B:3d} examples, gradient noise {noise[B]:.3f}, "
        f"miss of the mean of 2000: {mean_miss:.3f}"
    )
    assert mean_miss < noise[B] / 5, (
        "the average of many minibatch gradients is the full one"
    )
ratio = noise[8] / noise[512]
print(f"noise at B = 8 over noise at B = 512: {ratio:.2f} (1/sqrt(B) predicts 8)")
assert 7 < ratio < 9, f"noise ratio {ratio:.2f} is not close to sqrt(64) = 8"

# %% [markdown]
# Now train both ways on the same budget, counted in examples read (epochs), since reading and
# multiplying the examples is what a step costs. Batch gradient descent takes one step per epoch,
# with a large safe learning rate, $1/\lambda_{\max}$ of the Hessian (half the stability bound
# of [linear regression](../02_linear/linear_regression.ipynb)). The Hessian's condition number is about 26, so the slowest
# direction shrinks by only about $1 - 1/26$ per step. Minibatch SGD uses batches of 32, that is 313 steps
# per epoch, drawn by `d2lite.data.batches`, with learning rate 0.02. Both start at
# $\boldsymbol{\theta} = \mathbf{0}$. We record the *excess* loss $L - L_{\min}$, how far each is
# from the best possible fit, on the full data.

# %%
H = 2 * X1.T @ X1 / n  # (5, 5): the Hessian
eig = torch.linalg.eigvalsh(H.cpu())  # ascending
lr_gd, kappa_sgd = 1 / eig[-1].item(), (eig[-1] / eig[0]).item()
assert 25 < kappa_sgd < 27, f"condition number {kappa_sgd:.1f}, not about 26"
theta, gd_excess = torch.zeros(5, device=device), []
for _ in range(60):  # one step per epoch
    gd_excess.append(mse(theta, X1, y).item() - loss_best)
    theta -= lr_gd * mse_grad(theta, X1, y)
gd_excess.append(mse(theta, X1, y).item() - loss_best)
print(f"condition number {kappa_sgd:.1f}; batch GD, lr = 1/lambda_max = {lr_gd:.3f}")
print(
    f"excess loss after 1, 5, 60 epochs: "
    f"{gd_excess[1]:.4f}, {gd_excess[5]:.4f}, {gd_excess[60]:.6f}"
)

# %%
data = d2lite.data.batches(X1, y, 32, seed=0)  # a new order every epoch
theta, seen, sgd_epochs, sgd_excess = (
    torch.zeros(5, device=device),
    0,
    [0.0],
    [gd_excess[0]],
)
for _ in range(10):
    for i, (Xb, yb) in enumerate(data):  # (32, 5), (32,)
        theta -= 0.02 * mse_grad(theta, Xb, yb)
        seen += len(yb)
        if i % 8 == 7 or i == len(data) - 1:  # log every 8 steps
            sgd_epochs.append(seen / n)
            sgd_excess.append(mse(theta, X1, y).item() - loss_best)
sgd_epochs, sgd_excess = torch.tensor(sgd_epochs), torch.tensor(sgd_excess)
after_one = sgd_excess[sgd_epochs == 1].item()
epoch5, epoch10 = (
    sgd_excess[(sgd_epochs > e - 1) & (sgd_epochs <= e)].mean().item() for e in (5, 10)
)  # mean over one epoch
print(
    f"minibatch SGD, {len(data)} steps per epoch: "
    f"excess loss after 1 epoch {after_one:.4f}; "
    f"mean over the 5th epoch {epoch5:.5f}, over the 10th {epoch10:.5f}"
)
assert len(data) == 313, f"{len(data)} batches per epoch"

# %% [markdown]
# [Figure 1](#fig-optimizers-sgd-vs-gd) puts both runs on one axis of epochs, with the excess
# loss on a log scale. Look at
# the start: after a single epoch, SGD (313 small steps) is closer to the best fit than batch
# gradient descent after five (five big steps). Then look at the end: SGD's curve turns into a
# ragged band that stops falling, because every step still carries minibatch noise, while batch
# gradient descent keeps going down a straight line and eventually passes under the band.

# %% mystnb={"figure": {"caption": "Excess loss against epochs: minibatch SGD (313 steps per epoch) gets close fast, then stalls in a noisy band; batch gradient descent (one step per epoch) keeps falling.", "name": "fig-optimizers-sgd-vs-gd"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogy(
    sgd_epochs, sgd_excess, lw=0.7, color="tab:orange", label="minibatch SGD (B = 32)"
)
ax.semilogy(
    range(61), gd_excess, "o-", ms=3, color="tab:blue", label="batch GD (B = 10,000)"
)
ax.set(
    xlabel="epochs (examples read / n)",
    ylabel="excess loss $L - L_{\\min}$",
    ylim=(1e-5, 50),
)
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend()
plt.show()

# %% [markdown]
# The checks below pin down the three claims: one epoch of SGD beats five of batch gradient
# descent; SGD's average excess loss has stalled (the 10th epoch is less than twice as good as
# the 5th); and after 60 epochs batch gradient descent is below SGD's 10th-epoch average. In
# practice you keep the cheap steps and fight the noise by lowering the learning rate as training
# goes on, which is what Robbins and Monro's conditions on the step sizes are about.

# %%
assert after_one < gd_excess[5], (
    f"SGD, 1 epoch: {after_one:.4f}; GD, 5: {gd_excess[5]:.4f}"
)
assert epoch10 > epoch5 / 2, f"SGD kept improving: {epoch5:.5f} -> {epoch10:.5f}"
assert gd_excess[60] < epoch10, (
    f"GD after 60 epochs {gd_excess[60]:.6f} vs SGD {epoch10:.6f}"
)

# %% [markdown]
# ## Exponentially weighted averages
#
# Cheaper steps are half the story; better steps are the other half. Every method in the rest of
# this lesson is built on one small recurrence. Given a series $\theta_1, \theta_2, \dots$, the
# **[exponentially weighted moving average](../../book/glossary.md#term-exponentially-weighted-moving-average)** (指数加权平均, EWMA) is
#
# $$
# v_t = \beta\, v_{t-1} + (1 - \beta)\, \theta_t ,
# $$
#
# with a number $0 \le \beta < 1$ that you choose. Each new $v_t$ keeps a share $\beta$ of the
# old average and mixes in a share $1 - \beta$ of the new value. To see what it computes, take the
# source notes' example: the series $\theta = (7, 4, 2, -2, 1)$ with $\beta = 0.2$, starting
# from the first value, $v_1 = \theta_1 = 7$. Then
# $v_2 = 0.2 \cdot 7 + 0.8 \cdot 4 = 4.6$, $v_3 = 0.2 \cdot 4.6 + 0.8 \cdot 2 = 2.52$ and
# $v_4 = 0.2 \cdot 2.52 + 0.8 \cdot (-2) = -1.096$. The function below computes the same thing
# for any series; its two options, a zero start and bias correction, come in a moment.


# %%
def ewma(theta, beta, v0=None, bias_correction=False):
    """Exponentially weighted moving average of the list theta: a list of len(theta).

    v0=None starts at the first value (v_1 = theta_1); v0=0.0 starts at zero, as
    optimizers do,
    and bias_correction then divides v_t by 1 - beta^t to undo the zero start.
    """
    v, out = v0, []
    for t, x in enumerate(theta, start=1):
        v = x if v is None else beta * v + (1 - beta) * x
        out.append(v / (1 - beta**t) if bias_correction else v)
    return out


# %% tags=["nbval-check-output"]
theta = [7.0, 4.0, 2.0, -2.0, 1.0]
v = ewma(theta, beta=0.2)
print("theta:", theta)
print("v:    ", [round(x, 4) for x in v])
assert all(
    abs(a - b) < 1e-12 for a, b in zip(v, [7, 4.6, 2.52, -1.096, 0.5808], strict=True)
), v

# %% [markdown]
# Why "exponentially weighted"? Substitute $v_2$ into $v_3$:
#
# $$
# v_3 = 0.8 \cdot 2 + 0.2 \cdot 0.8 \cdot 4 + 0.2^2 \cdot 7 = 0.8 \cdot 2 + 0.16 \cdot 4 + 0.04
# \cdot 7 = 2.52 .
# $$
#
# So $v_3$ is a weighted average of everything so far: the newest value gets weight
# $1 - \beta = 0.8$, the one before $(1 - \beta)\beta = 0.16$, and so on, each step back
# multiplying the weight by another $\beta$: an exponential decay. The first value, where the
# average started, keeps what is left, $\beta^{t-1} = 0.04$, so the weights add up to 1 and the
# result is a true average. Two more things are visible in the
# numbers. While the series falls steadily, the average trails behind it ($v_2 = 4.6 > 4$,
# $v_3 = 2.52 > 2$). And when the sign flips, the average lands closer to zero than the new value
# ($|v_4| = 1.096 < 2$): values that swing back and forth partly cancel. That damping of swings is
# exactly what the optimisers below use it for.

# %%
weights = [0.04, 0.16, 0.8]  # for theta_1, theta_2, theta_3
unrolled = sum(w * x for w, x in zip(weights, theta[:3], strict=True))
assert abs(unrolled - v[2]) < 1e-12, f"unrolled v_3 = {unrolled}, recurrence {v[2]}"
impulses = [
    [float(i == j) for j in range(3)] for i in range(3)
]  # a single 1 at step i + 1
recovered = [ewma(series, beta=0.2)[2] for series in impulses]  # its weight in v_3
assert all(abs(a - b) < 1e-12 for a, b in zip(recovered, weights, strict=True)), (
    recovered
)
assert abs(sum(recovered) - 1) < 1e-12, f"the weights sum to {sum(recovered)}, not 1"
assert v[1] > theta[1] and v[2] > theta[2], (
    "a falling series: the average trails above it"
)
assert abs(v[3]) < abs(theta[3]), "after a sign flip the average is closer to zero"

# %% [markdown]
# The source notes use $\beta = 0.2$ to keep the arithmetic short, which remembers very little.
# Optimisers use $\beta = 0.9$ or more. Then a value's weight shrinks by only 10 % per step:
# 40 steps later it still has $0.9^{40} \approx 0.015$ of the weight it started with, and the
# newest 10 values together carry $1 - 0.9^{10} \approx 65\,\%$ of the total. A rule of thumb:
# the EWMA averages over roughly the last $1/(1 - \beta)$ values, 10 for $\beta = 0.9$ and 1000
# for $\beta = 0.999$.
#
# The cell below reads these weights off `ewma` itself: feed it a series of 101 values that is 1 at
# one step and 0 everywhere else, and the last average is that step's weight.

# %%
weight_of = [
    ewma([float(i == j) for j in range(101)], beta=0.9)[-1] for i in range(101)
]
ratio_40, newest_10 = weight_of[-41] / weight_of[-1], sum(weight_of[-10:])
print(
    f"weight 40 steps back / newest weight = {ratio_40:.4f}; "
    f"newest 10 values: {newest_10:.3f}"
)
assert 0.014 < ratio_40 < 0.016, (
    f"40 steps back the weight is {ratio_40:.4f} of the newest"
)
assert 0.64 < newest_10 < 0.66, (
    f"the newest 10 values carry {newest_10:.3f} of the weight"
)
assert abs(sum(weight_of) - 1) < 1e-12, "the weights of all 101 values add up to 1"

# %% [markdown]
# ### Bias correction
#
# Starting from the first value, as above, needs a special case for $t = 1$. Optimisers avoid it
# by starting from $v_0 = 0$, and pay for it: the early averages are pulled towards zero. With
# $\beta = 0.9$ the first average is $v_1 = 0.1\,\theta_1$, a tenth of the only value seen. The
# fix is **[bias correction](../../book/glossary.md#term-bias-correction)** (偏差修正). Unroll the recurrence from $v_0 = 0$ and the
# weights on $\theta_1, \dots, \theta_t$ add up to $1 - \beta^t$ instead of 1, so divide by it:
#
# $$
# \hat{v}_t = \frac{v_t}{1 - \beta^t} .
# $$
#
# For large $t$, $\beta^t$ vanishes and the correction fades away. The check: for a constant
# series the corrected average equals the constant at every step, and on the source notes'
# series it starts at exactly $\theta_1 = 7$.

# %%
from_zero = ewma(theta, beta=0.9, v0=0.0)
corrected = ewma(theta, beta=0.9, v0=0.0, bias_correction=True)
print("from zero:     ", [round(x, 3) for x in from_zero])
print("bias-corrected:", [round(x, 3) for x in corrected])
assert abs(from_zero[0] - 0.7) < 1e-12 and abs(corrected[0] - 7) < 1e-12, (
    from_zero,
    corrected,
)
flat = ewma([5.0] * 30, beta=0.9, v0=0.0, bias_correction=True)
assert all(abs(x - 5) < 1e-9 for x in flat), "a constant series must average to itself"

# %% [markdown]
# Now a longer series: a year of made-up daily temperatures, a smooth seasonal curve (coldest in
# mid-January, warmest in mid-July) plus day-to-day noise of 3 °C, smoothed with bias-corrected
# EWMAs for $\beta = 0.9$ and $\beta = 0.98$.

# %%
temperature_rng = torch.Generator().manual_seed(1)  # fixed made-up data
days = torch.arange(365.0)
season = 12 - 9 * torch.cos(
    2 * math.pi * (days - 15) / 365
)  # (365,): warmest on day 197
measured = season + 3 * torch.randn(365, generator=temperature_rng)
smooth = {
    beta: torch.tensor(ewma(measured.tolist(), beta, v0=0.0, bias_correction=True))
    for beta in (0.9, 0.98)
}

# %% [markdown]
# In [Figure 2](#fig-optimizers-ewma-temperatures), the grey dots are the measurements and the
# dashed line the true seasonal curve.
# The EWMA with $\beta = 0.9$ (about 10 days of memory) follows the season and removes most of the
# noise. With $\beta = 0.98$ (about 50 days) the curve is smoother still, but it lags behind the
# season by more than a month, so far that it ends up further from the truth than the raw
# measurements. Larger $\beta$ buys smoothness with delay; the optimisers below face the same
# trade.

# %% mystnb={"figure": {"caption": "A year of noisy daily temperatures smoothed by bias-corrected EWMAs: beta = 0.9 follows the season, beta = 0.98 is smoother but lags it by over a month.", "name": "fig-optimizers-ewma-temperatures"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(days, measured, ".", ms=2, color="0.6", label="measured")
ax.plot(days, season, "k--", lw=1, label="true season")
for beta, color in ((0.9, "tab:blue"), (0.98, "tab:red")):
    ax.plot(days, smooth[beta], color=color, label=f"EWMA, $\\beta$ = {beta}")
ax.set(xlabel="day of the year", ylabel="temperature (°C)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The numbers behind the picture: how rough each curve is (the average size of its day-to-day
# change), its root-mean-square distance from the true season, and its lag, the shift in days
# that best lines it up with the season (from March on, after the start-up).


# %%
def rough(x):
    return (x[1:] - x[:-1]).abs().mean().item()


def rms(x):
    return (x - season).pow(2).mean().sqrt().item()


def lag(x):
    return min(
        range(60), key=lambda s: (x[60:] - season[60 - s : 365 - s]).pow(2).sum().item()
    )


print(f"measured:  roughness {rough(measured):.2f}, error {rms(measured):.2f} °C")
for beta in smooth:
    print(
        f"beta {beta}: roughness {rough(smooth[beta]):.2f}, "
        f"error {rms(smooth[beta]):.2f} °C, "
        f"lag {lag(smooth[beta])} days"
    )
assert rough(measured) > rough(smooth[0.9]) > rough(smooth[0.98]), (
    "larger beta is smoother"
)
assert rms(smooth[0.9]) < rms(measured) / 2, "beta = 0.9 removes most of the noise"
assert lag(smooth[0.9]) < 15 and lag(smooth[0.98]) > 30, "beta = 0.98 lags over a month"
assert rms(smooth[0.98]) > rms(measured), (
    "the lag costs beta = 0.98 more than the noise"
)

# %% [markdown]
# ## A ravine
#
# To compare optimisers you need a loss on which plain gradient descent struggles. The classic
# one is a *ravine* (the source notes call it a water channel, 水渠): a long valley with steep walls and an almost flat floor. Here is the
# simplest,
#
# $$
# f(\mathbf{w}) = \tfrac{1}{2}\bigl(w_1^2 + 50\, w_2^2\bigr), \qquad
# \nabla f(\mathbf{w}) = (w_1,\ 50\, w_2),
# $$
#
# a quadratic whose Hessian is $\operatorname{diag}(1, 50)$: it curves 50 times more steeply
# across the valley ($w_2$) than along it ($w_1$). Its [condition number](../../book/glossary.md#term-condition-number) is 50. As you saw
# in [linear regression](../02_linear/linear_regression.ipynb), the steep direction caps the learning rate at $2/50 = 0.04$, and
# at such a rate the flat direction shrinks by only $1 - 0.04 = 0.96$ per step. We start every
# optimiser at $\mathbf{w}_0 = (-7, 1)$, far along the valley floor and a little up one wall,
# where the loss is $\tfrac{1}{2}(49 + 50) = 49.5$, and we call a run finished once the loss is
# below $10^{-3}$.

# %%
CURVATURE = torch.tensor([1.0, 50.0])  # (2,): the diagonal of the ravine's Hessian
W0 = (-7.0, 1.0)


def ravine(w):
    """The ravine loss 0.5 (w1^2 + 50 w2^2); w: (..., 2) -> (...)."""
    return 0.5 * (CURVATURE * w**2).sum(-1)


def ravine_grad(w):
    """Its gradient (w1, 50 w2); w: (2,) -> (2,)."""
    return CURVATURE * w


assert ravine(torch.tensor(W0)).item() == 49.5, "the starting loss"

# %% [markdown]
# ## Optimisers from scratch
#
# An **[optimiser](../../book/glossary.md#term-optimiser)** (优化器) turns gradients into parameter updates. Ours follow
# `torch.optim`'s interface, so the same training loop drives either: the optimiser holds a list
# of parameters; `zero_grad()` clears their gradients; `step()` reads each parameter's `.grad`
# and updates the parameter in place. Whatever an optimiser needs to remember between steps
# (a running average, a step counter) lives in one `state` dictionary per parameter. The base
# class below holds that shared machinery, and plain gradient descent,
# $\mathbf{w} \leftarrow \mathbf{w} - \eta\, \mathbf{g}$, is the simplest subclass. Updates run
# under `torch.no_grad()`, as in the training loop of [linear regression](../02_linear/linear_regression.ipynb).


# %%
class ScratchOptimizer:
    """Base class: a list of parameters, a learning rate, a state dict per parameter."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr
        self.state = [{} for _ in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None


class GD(ScratchOptimizer):
    """Plain gradient descent: w <- w - lr g."""

    @torch.no_grad()
    def step(self):
        for p in self.params:
            p -= self.lr * p.grad


# %% [markdown]
# To run an optimiser on the ravine, the function below sets the gradient by hand (the formula
# is simpler than a trip through autograd, and this lesson runs thousands of steps), calls
# `step()`, and records the path and the loss. It stops early once the loss is below a target,
# or when the loss grows past $10^6$, which means the run has diverged.


# %%
def descend(make_optimizer, lr, steps=300, target=0.0):
    """Run an optimizer on the ravine from W0; return path (k+1, 2), losses (k+1,)."""
    w = torch.tensor(W0)
    optimizer = make_optimizer([w], lr)
    path, losses = [w.clone()], [ravine(w).item()]
    for _ in range(steps):
        w.grad = ravine_grad(w)
        optimizer.step()
        path.append(w.clone())
        losses.append(ravine(w).item())
        if losses[-1] < target or not losses[-1] < 1e6:
            break
    return torch.stack(path), torch.tensor(losses)


# %% [markdown]
# ### Momentum
#
# Watch what plain gradient descent does in the ravine with a learning rate close to the cap:
# across the valley, the gradient $50\, w_2$ is large and flips its sign at every step, so $w_2$
# bounces from wall to wall; along the valley, the gradient $w_1$ is small but always points the
# same way. An exponentially weighted average of the gradients would cancel the flips and keep the
# steady part. That is **[momentum](../../book/glossary.md#term-momentum)** (动量法) ([Polyak, 1964](../../book/references.md)): replace the gradient
# in the update by a running sum of past gradients, the *velocity* $\mathbf{v}$,
#
# $$
# \mathbf{v}_t = \beta\, \mathbf{v}_{t-1} + \mathbf{g}_t, \qquad
# \mathbf{w}_t = \mathbf{w}_{t-1} - \eta\, \mathbf{v}_t, \qquad \mathbf{v}_0 = \mathbf{0}.
# $$
#
# This is how `torch.optim.SGD(params, lr, momentum=beta)` writes it. It is the EWMA of the
# gradients without the factor $1 - \beta$ on the new value: $\mathbf{v}_t = \text{EWMA}_t /
# (1 - \beta)$. The factor matters for the learning rate. On a steady slope the velocity grows to
# $\mathbf{g}/(1 - \beta)$, ten times the gradient for the usual $\beta = 0.9$, so momentum moves
# up to ten times further per step than gradient descent with the same $\eta$; that is why it is
# used with smaller learning rates. Momentum is the most common companion of SGD in deep learning
# ([Sutskever et al., 2013](../../book/references.md)).


# %%
class Momentum(ScratchOptimizer):
    """SGD with momentum, as torch.optim.SGD(momentum=beta).

    v <- beta v + g; w <- w - lr v."""

    def __init__(self, params, lr, beta=0.9):
        super().__init__(params, lr)
        self.beta = beta

    @torch.no_grad()
    def step(self):
        for p, state in zip(self.params, self.state, strict=True):
            state["v"] = v = self.beta * state.get("v", 0.0) + p.grad
            p -= self.lr * v


# %% [markdown]
# Check the "ten times" on the steadiest slope there is, a loss with constant gradient 1: after
# 100 steps momentum's step is $1 + 0.9 + \dots + 0.9^{99} = (1 - 0.9^{100}) / 0.1 \approx 10$
# times gradient descent's.

# %%
w = torch.zeros(1)
momentum = Momentum([w], lr=0.01)
for _ in range(100):
    before = w.clone()
    w.grad = torch.ones(1)  # the gradient of the loss w: always 1
    momentum.step()
speedup = ((before - w) / 0.01).item()
print(f"after 100 steps, momentum's step is {speedup:.4f} times gradient descent's")
assert abs(speedup - (1 - 0.9**100) / 0.1) < 1e-4 and 9.99 < speedup < 10

# %% [markdown]
# ### AdaGrad and RMSProp
#
# Momentum fixes the *direction* of the step. The next idea fixes its *size*, separately for each
# coordinate: the ravine needs small steps across the valley, where gradients are large, and big
# steps along it, where they are small. **[AdaGrad](../../book/glossary.md#term-adagrad)** (自适应梯度算法)
# ([Duchi et al., 2011](../../book/references.md)) keeps, for every coordinate, the sum of its squared gradients so far,
# and divides the step by its root:
#
# $$
# \mathbf{s}_t = \mathbf{s}_{t-1} + \mathbf{g}_t^2, \qquad
# \mathbf{w}_t = \mathbf{w}_{t-1} - \frac{\eta}{\sqrt{\mathbf{s}_t} + \epsilon}\, \mathbf{g}_t,
# $$
#
# all element-wise, with $\mathbf{s}_0 = \mathbf{0}$ and a tiny $\epsilon$ that only keeps the
# division safe while $\mathbf{s}$ is still zero. Squaring stops gradients of opposite signs from
# cancelling, and dividing by the root makes the step unit-free: scale the loss by 1000 and the
# steps stay the same. Each coordinate gets its own learning rate $\eta / \sqrt{s_t}$.
#
# AdaGrad's sum only grows, so its learning rates only shrink. After thousands of steps they can
# be so small that training stalls. **[RMSProp](../../book/glossary.md#term-rmsprop)** (均方根传播, root mean square propagation)
# ([Tieleman and Hinton, 2012](../../book/references.md)) replaces the sum with an EWMA, which forgets old gradients:
#
# $$
# \mathbf{s}_t = \beta\, \mathbf{s}_{t-1} + (1 - \beta)\, \mathbf{g}_t^2, \qquad
# \mathbf{w}_t = \mathbf{w}_{t-1} - \frac{\eta}{\sqrt{\mathbf{s}_t} + \epsilon}\, \mathbf{g}_t ,
# $$
#
# with $\beta$ close to 1; `torch.optim.RMSprop` calls it `alpha` and defaults to 0.99. Both
# classes below use PyTorch's defaults for $\epsilon$.


# %%
class AdaGrad(ScratchOptimizer):
    """AdaGrad as torch.optim.Adagrad: s += g^2; w -= lr g / (sqrt(s) + eps)."""

    def __init__(self, params, lr, eps=1e-10):
        super().__init__(params, lr)
        self.eps = eps

    @torch.no_grad()
    def step(self):
        for p, state in zip(self.params, self.state, strict=True):
            state["s"] = s = state.get("s", 0.0) + p.grad**2
            p -= self.lr * p.grad / (s.sqrt() + self.eps)


class RMSProp(ScratchOptimizer):
    """RMSProp as torch.optim.RMSprop: s = b s + (1-b) g^2; w -= lr g / (sqrt(s)+eps)"""

    def __init__(self, params, lr, beta=0.99, eps=1e-8):
        super().__init__(params, lr)
        self.beta, self.eps = beta, eps

    @torch.no_grad()
    def step(self):
        for p, state in zip(self.params, self.state, strict=True):
            state["s"] = s = (
                self.beta * state.get("s", 0.0) + (1 - self.beta) * p.grad**2
            )
            p -= self.lr * p.grad / (s.sqrt() + self.eps)


# %% [markdown]
# Check the claim that the step is unit-free: multiply the ravine's gradients by 1000, as if the
# loss were measured in smaller units, and AdaGrad and RMSProp take the same 20 steps as before
# (up to the tiny $\epsilon$), while plain gradient descent's steps would be 1000 times larger.

# %%
for make in (AdaGrad, RMSProp):
    ends = []
    for scale in (1.0, 1000.0):
        w = torch.tensor(W0)
        optimizer = make([w], lr=0.1)
        for _ in range(20):
            w.grad = scale * ravine_grad(w)
            optimizer.step()
        ends.append(w)
    print(
        f"{make.__name__}: after 20 steps {[round(x, 4) for x in ends[0].tolist()]} "
        f"and, with gradients x 1000, {[round(x, 4) for x in ends[1].tolist()]}"
    )
    assert torch.allclose(ends[0], ends[1], atol=1e-5), (
        "the step should not depend on scale"
    )


# %% [markdown]
# And the difference between the two over a long run: on the steady slope from before (gradient
# always 1), AdaGrad's $t$-th step is $\eta / \sqrt{t}$, so after 2500 steps it has shrunk to a
# fiftieth of the first, while RMSProp's step settles at $\eta$.

# %%
for make in (AdaGrad, RMSProp):
    w = torch.zeros(1)
    optimizer = make([w], lr=0.01)
    for _ in range(2500):
        before = w.clone()
        w.grad = torch.ones(1)
        optimizer.step()
    last_step = ((before - w) / 0.01).item()
    print(f"{make.__name__}: step 2500 is {last_step:.4f} times the learning rate")
    expected = 1 / 50 if make is AdaGrad else 1.0
    assert abs(last_step - expected) < 1e-3, f"{make.__name__}: {last_step:.4f}"


# %% [markdown]
# ### Adam
#
# Put the two ideas together, an EWMA of the gradients for the direction and an EWMA of their
# squares for the size, and add bias correction to both, and you have **[Adam](../../book/glossary.md#term-adam)**
# (自适应矩估计, adaptive moment estimation) ([Kingma and Ba, 2015](../../book/references.md)), the default optimiser of
# much of deep learning:
#
# $$
# \mathbf{m}_t = \beta_1 \mathbf{m}_{t-1} + (1 - \beta_1)\, \mathbf{g}_t, \qquad
# \mathbf{v}_t = \beta_2 \mathbf{v}_{t-1} + (1 - \beta_2)\, \mathbf{g}_t^2,
# $$
#
# $$
# \hat{\mathbf{m}}_t = \frac{\mathbf{m}_t}{1 - \beta_1^t}, \qquad
# \hat{\mathbf{v}}_t = \frac{\mathbf{v}_t}{1 - \beta_2^t}, \qquad
# \mathbf{w}_t = \mathbf{w}_{t-1} - \eta\, \frac{\hat{\mathbf{m}}_t}{\sqrt{\hat{\mathbf{v}}_t} +
# \epsilon} .
# $$
#
# Called with no arguments but the parameters, `torch.optim.Adam` uses $\eta = 0.001$,
# $\beta_1 = 0.9$, $\beta_2 = 0.999$ and $\epsilon = 10^{-8}$; the cell checks these against
# PyTorch itself.


# %%
class Adam(ScratchOptimizer):
    """Adam, as torch.optim.Adam: bias-corrected EWMAs of g and of g^2."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps = betas, eps

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.betas
        for p, state in zip(self.params, self.state, strict=True):
            state["t"] = t = state.get("t", 0) + 1
            state["m"] = m = beta1 * state.get("m", 0.0) + (1 - beta1) * p.grad
            state["v"] = v = beta2 * state.get("v", 0.0) + (1 - beta2) * p.grad**2
            m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
            p -= self.lr * m_hat / (v_hat.sqrt() + self.eps)


defaults = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults
assert (defaults["lr"], defaults["betas"], defaults["eps"]) == (
    1e-3,
    (0.9, 0.999),
    1e-8,
)

# %% [markdown]
# Bias correction is what makes Adam's start gentle. At $t = 1$, $\hat{\mathbf{m}}_1 =
# \mathbf{g}_1$ and $\hat{\mathbf{v}}_1 = \mathbf{g}_1^2$, so the first step moves every
# coordinate by exactly $\eta$ (times the sign of its gradient), however large or small the
# gradient. RMSProp has no correction: its first $\mathbf{s}_1 = 0.01\, \mathbf{g}_1^2$ is a
# hundred times too small, and its first step is $\eta / \sqrt{0.01} = 10\eta$ in every
# coordinate. On the ravine, with $\eta = 0.1$:

# %%
adam_path, _ = descend(Adam, lr=0.1, steps=1)
rmsprop_path, _ = descend(RMSProp, lr=0.1, steps=1)
print(
    "Adam's first step:   ",
    [round(x, 4) for x in (adam_path[1] - adam_path[0]).tolist()],
)
print(
    "RMSProp's first step:",
    [round(x, 4) for x in (rmsprop_path[1] - rmsprop_path[0]).tolist()],
)
assert torch.allclose((adam_path[1] - adam_path[0]).abs(), torch.tensor(0.1), atol=1e-6)
assert torch.allclose(
    (rmsprop_path[1] - rmsprop_path[0]).abs(), torch.tensor(1.0), atol=1e-5
)

# %% [markdown]
# ## Checking against `torch.optim`
#
# Five optimisers written from their formulas; now check them against PyTorch's. The function
# below runs one of ours and its `torch.optim` twin side by side on two copies of the same
# parameters, a weight vector and a bias of a small linear regression, computing each copy's
# gradient by autograd. After each of 20 steps it measures the largest difference between the
# two copies. It works in float64, so that rounding cannot hide a small mistake, and it also
# reports how far the parameters moved, so that a pair that never moves cannot pass by accident.


# %%
def compare(ours, theirs, steps=20):
    """Largest gap between two optimizers' parameters over `steps` steps, and how far
    the parameters moved."""
    g = torch.Generator().manual_seed(0)  # the same test problem for every pair
    Xs, ys = (
        torch.randn(16, 3, dtype=torch.float64, generator=g),
        torch.randn(16, dtype=torch.float64, generator=g),
    )
    start = [
        torch.randn(3, dtype=torch.float64, generator=g),
        torch.zeros(1, dtype=torch.float64),
    ]
    copies = [[p.clone().requires_grad_() for p in start] for _ in range(2)]
    optimizers = [ours(copies[0]), theirs(copies[1])]
    gap = 0.0
    for _ in range(steps):
        for (w, b), optimizer in zip(copies, optimizers, strict=True):
            optimizer.zero_grad()
            ((Xs @ w + b - ys) ** 2).mean().backward()
            optimizer.step()
        gap = max(
            gap, max((p - q).abs().max().item() for p, q in zip(*copies, strict=True))
        )
    moved = max(
        (p - q).abs().max().item() for p, q in zip(copies[0], start, strict=True)
    )
    return gap, moved


# %% [markdown]
# Each pair gets the same hyperparameters: for momentum $\beta = 0.9$, for RMSProp PyTorch's
# default $\beta = 0.99$ (its `alpha`), for Adam the defaults above; the learning rates are
# arbitrary but shared. All five agree with PyTorch to better than $10^{-6}$ at every step.

# %%
pairs = {
    "GD": (lambda ps: GD(ps, 0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "Momentum": (
        lambda ps: Momentum(ps, 0.05, beta=0.9),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
    ),
    "AdaGrad": (
        lambda ps: AdaGrad(ps, 0.1),
        lambda ps: torch.optim.Adagrad(ps, lr=0.1),
    ),
    "RMSProp": (
        lambda ps: RMSProp(ps, 0.01),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01),
    ),
    "Adam": (lambda ps: Adam(ps, 0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
}
for name, (ours, theirs) in pairs.items():
    gap, moved = compare(ours, theirs)
    print(
        f"{name:9s} largest gap to torch.optim over 20 steps: {gap:.1e} "
        f"(moved {moved:.3f})"
    )
    assert gap < 1e-6 and moved > 0.01, f"{name}: gap {gap:.2e}, moved {moved:.3f}"

# %% [markdown]
# ## A race down the ravine
#
# Now race the five optimisers down the ravine. A race is only fair if every runner gets its
# best learning rate, so each one tries the same grid, 0.001, 0.002, 0.005, …, 10, 20, and keeps
# the rate that gets the loss below $10^{-3}$ in the fewest steps (at most 500). Plain gradient
# descent also gets the best constant rate for a quadratic,
# $2/(\lambda_{\min} + \lambda_{\max}) = 2/51$. Momentum keeps $\beta = 0.9$, RMSProp
# $\beta = 0.99$ and Adam its defaults. The grid runs far past any sensible rate on purpose: a
# best rate at the edge of a grid only tells you that the grid was too short, so the checks
# below assert that every optimiser's best grid rate lies strictly inside it. Tuning on the
# training loss itself is right here, because how fast the training loss falls is exactly what
# we are measuring; on real data, at the end of this lesson, the rate is chosen on a validation
# split instead.


# %%
def steps_to_target(make_optimizer, lr, target=1e-3):
    """Steps until the ravine's loss is below target (inf if not within 500)."""
    _, losses = descend(make_optimizer, lr, steps=500, target=target)
    return len(losses) - 1 if losses[-1] < target else math.inf


grid = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
counts, tuned = {}, {}  # name -> steps at each grid rate; name -> (steps, lr)
for make in (GD, Momentum, AdaGrad, RMSProp, Adam):
    name = make.__name__
    counts[name] = [steps_to_target(make, lr) for lr in grid]
    candidates = list(zip(counts[name], grid, strict=True))
    if make is GD:
        candidates.append((steps_to_target(GD, 2 / 51), 2 / 51))
    tuned[name] = min(candidates)
    print(
        f"{name:9s} best lr {tuned[name][1]:.4g}: {tuned[name][0]} steps; steps per "
        f"rate: {' '.join('-' if c == math.inf else str(c) for c in counts[name])}"
    )

# %% [markdown]
# Plain gradient descent needs 136 steps even at its best rate, and both momentum (83 steps at
# $\eta = 0.02$) and Adam (76 at $\eta = 10$) get there in fewer: the checks below assert that
# order. AdaGrad (5 steps at $\eta = 5$) and RMSProp (4 at $\eta = 10$) are faster still.
#
# The rows of counts (a dash: not within 500 steps) tell a second story. Gradient descent
# reaches the target from just one rate of the grid, 0.02: below it the flat direction crawls,
# above it the steep one explodes. Adam reaches it from every rate between 0.05 and 20, a factor
# of 400, in 76 to 334 steps. The adaptive methods divide each step by the size of recent
# gradients, so their steps are about $\eta$ long whatever the gradient, and no rate makes them
# explode. That is a large part of their appeal in practice: they forgive a badly chosen rate.
# It also means their "best" rate on a curve this flat is nearly a coin toss: at $\eta = 1$
# Adam needs 78 steps, two more than at $\eta = 10$.
#
# Before you crown RMSProp, notice that this ravine is lined up with the axes: its steep
# direction *is* the coordinate $w_2$. Per-coordinate step sizes are made for exactly that
# case, because dividing each coordinate's step by the size of its own gradients is then the
# same as rescaling the axes until the ravine is a round bowl. Tilt the ravine by 45° and that
# advantage shrinks (exercise 1).

# %%
for name in tuned:
    best = counts[name].index(min(counts[name]))  # first best rate on the grid
    assert 0 < best < len(grid) - 1, (
        f"{name}'s best rate {grid[best]} is at the grid's edge"
    )
assert tuned["GD"] == (136, 2 / 51), (
    f"GD's best is the rate 2/51, in 136 steps: {tuned['GD']}"
)
assert tuned["Momentum"] == (83, 0.02) and tuned["Adam"] == (76, 10.0), tuned
assert tuned["AdaGrad"] == (5, 5.0) and tuned["RMSProp"] == (4, 10.0), tuned
assert tuned["Momentum"][0] < tuned["GD"][0] and tuned["Adam"][0] < tuned["GD"][0]
assert max(tuned["AdaGrad"][0], tuned["RMSProp"][0]) < tuned["Adam"][0]
gd_window = [lr for lr, c in zip(grid, counts["GD"], strict=True) if c < math.inf]
adam_window = [lr for lr, c in zip(grid, counts["Adam"], strict=True) if c < math.inf]
assert gd_window == [0.02], f"GD reaches the target only from {gd_window}"
assert adam_window == grid[5:], f"Adam reaches the target from {adam_window}"
assert max(c for c in counts["Adam"] if c < math.inf) == 334
assert counts["Adam"][grid.index(1.0)] == 78, "Adam at lr = 1"

# %% [markdown]
# The trajectories tell the story behind the counts. [Figure 3](#fig-optimizers-ravine-paths)
# shows the first 60 steps of four of the optimisers on the contour lines of the ravine:
# gradient descent and momentum at their tuned rates, and Adam and RMSProp at $\eta = 1$, which
# costs them two steps and one step against their best (checked below) and keeps their paths on
# the picture. Gradient descent (blue) zigzags from wall to wall all the way down the valley, its
# rate held down by the steep walls. Momentum (orange) zigzags at first too, but its velocity
# builds up along the floor, so it covers the length of the valley in far fewer steps,
# overshoots the minimum like a rolling ball and swings back. Adam (red) starts with steps of
# exactly $\eta = 1$ in each coordinate, cutting diagonally across, then overshoots and spirals
# in. RMSProp (green) leaps out of the picture with its first step of $10\eta$, the missing bias
# correction at work, lands far up the other wall at $(3, -9)$, jumps back to about
# $(-1, 0.94)$, and lands near the minimum, with a loss below 0.5, on its third step.

# %%
shown = {"GD": 2 / 51, "Momentum": 0.02, "AdaGrad": 5.0, "RMSProp": 1.0, "Adam": 1.0}
assert steps_to_target(RMSProp, 1.0) == tuned["RMSProp"][0] + 1
assert steps_to_target(Adam, 1.0) == tuned["Adam"][0] + 2
runs = {
    name: descend(make, shown[name], steps=150)
    for name, make in (
        ("GD", GD),
        ("Momentum", Momentum),
        ("AdaGrad", AdaGrad),
        ("RMSProp", RMSProp),
        ("Adam", Adam),
    )
}
COLORS = {
    "GD": "tab:blue",
    "Momentum": "tab:orange",
    "AdaGrad": "tab:purple",
    "RMSProp": "tab:green",
    "Adam": "tab:red",
}

# %% mystnb={"figure": {"caption": "The first 60 steps on the ravine's contours: gradient descent zigzags down the valley, momentum overshoots and swings back, Adam cuts diagonally and spirals in, RMSProp's first step leaves the picture.", "name": "fig-optimizers-ravine-paths"}}
g1, g2 = torch.meshgrid(
    torch.linspace(-8, 3.5, 200), torch.linspace(-1.6, 1.6, 200), indexing="xy"
)  # (200, 200) each
fig, ax = plt.subplots(figsize=(6, 3.8))
levels = [0.1, 1, 4, 10, 20, 35, 50]
ax.contour(g1, g2, ravine(torch.stack([g1, g2], -1)), levels, colors="0.75",
           linewidths=0.8)
for name in ("GD", "Momentum", "RMSProp", "Adam"):
    path = runs[name][0][:61]  # (61, 2)
    ax.plot(path[:, 0], path[:, 1], "o-", ms=2, lw=1, color=COLORS[name],
            label=f"{name}, lr = {shown[name]:.3g}")
ax.plot(*W0, "ks", label="start")
ax.set(xlabel="$w_1$ (along the valley)", ylabel="$w_2$ (across)",
       xlim=(-8, 3.5), ylim=(-1.6, 1.6))
ax.legend(fontsize=7, loc="lower right")
plt.show()

# %% [markdown]
# [Figure 4](#fig-optimizers-ravine-losses) shows the same runs as loss against step, on a log
# scale, now with AdaGrad (purple, at its tuned $\eta = 5$) too. Gradient descent's loss falls
# along a straight line, by a constant factor per step, as in
# [linear regression](../02_linear/linear_regression.ipynb). Momentum and Adam fall faster, in
# waves, each wave an overshoot and a return. AdaGrad and RMSProp, with their per-coordinate
# rates, drop fastest on this axis-aligned ravine. The dotted line is the target $10^{-3}$.

# %% mystnb={"figure": {"caption": "Loss against step on the ravine: gradient descent falls by a constant factor per step, momentum and Adam in waves, AdaGrad and RMSProp fastest. Dotted: the target 1e-3.", "name": "fig-optimizers-ravine-losses"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, (_, losses) in runs.items():
    ax.semilogy(
        losses, lw=1.2, color=COLORS[name], label=f"{name}, lr = {shown[name]:.3g}"
    )
ax.axhline(1e-3, color="k", ls=":", lw=1)
ax.set(xlabel="step", ylabel="loss", ylim=(1e-8, 3e3))
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The claims from the figures as checks: gradient descent's loss shrinks by the same factor at
# every step, $(49/51)^2$, because at the rate $2/51$ both coordinates shrink by $49/51$ in size
# per step ($w_1$ by $1 - 2/51$, $w_2$ by $1 - 100/51$, flipping its sign); momentum and Adam
# overshoot the minimum along the valley; RMSProp's first step lands at $(3, -9)$, with a loss
# over 2000, and its third below 0.5.

# %%
gd_losses = runs["GD"][1]
factors = gd_losses[1:] / gd_losses[:-1]  # (150,): loss ratio per step
print(
    f"GD: loss ratio per step between {factors.min():.4f} and {factors.max():.4f}; "
    f"(49/51)^2 = {(49 / 51) ** 2:.4f}"
)
assert torch.allclose(factors, torch.tensor((49 / 51) ** 2), atol=1e-4)
overshoot = {
    name: round(runs[name][0][:, 0].max().item(), 2) for name in ("Momentum", "Adam")
}
print(f"largest w1 reached (the minimum is at 0): {overshoot}")
assert min(overshoot.values()) > 1, (
    "momentum and Adam overshoot the minimum along the valley"
)
rmsprop_path, rmsprop_losses = runs["RMSProp"]
print(
    f"RMSProp after one step: {rmsprop_path[1].tolist()}, loss {rmsprop_losses[1]:.1f}"
)
assert rmsprop_path[1].tolist() == [3.0, -9.0] and rmsprop_losses[1] > 2000
assert abs(rmsprop_path[2, 0] + 1) < 0.1 and abs(rmsprop_path[2, 1] - 0.94) < 0.01
assert rmsprop_losses[3] < 0.5, f"RMSProp's loss after 3 steps: {rmsprop_losses[3]:.3f}"

# %% [markdown]
# ## Explore the learning rate
#
# Could plain gradient descent win with a better learning rate? The widget of
# [linear regression](../02_linear/linear_regression.ipynb) answers that
# ([Figure 5](#fig-optimizers-explorer)). It runs gradient
# descent on the same ravine, $\tfrac{1}{2}\mathbf{w}^\top \mathbf{A}\,\mathbf{w}$ with
# $\mathbf{A} = \operatorname{diag}(1, 50)$, from the same start, for 100 steps: the path on the
# contours on the left, the loss on the right, and your rate against the stability bound
# $2/\lambda_{\max} = 2/50 = 0.04$ below, where $\lambda_{\max}$ is the largest curvature (the
# largest eigenvalue of the Hessian $\mathbf{A}$). It opens at $\eta = 1/\lambda_{\max} = 0.02$,
# half the bound. Move the slider. Small rates crawl along the valley and stop far from the
# minimum; rates near the bound zigzag across it; past the bound the zigzag grows and the loss
# explodes. No rate on the slider gets the loss below $10^{-3}$ within 100 steps, and neither
# does the best constant rate $2/51$, which needed 136 in the race: the steep walls cap the
# rate, and the flat floor then needs more steps than that.

# %% mystnb={"figure": {"caption": "Widget: gradient descent on the quadratic with curvatures 1 and 50 at the learning rate of the slider; left, the path on the contour lines; right, the loss at each step; the strip below marks the rate against the bound 2/λmax.", "name": "fig-optimizers-explorer"}}
explorer = d2lite.widgets.lr_explorer(A=((1.0, 0.0), (0.0, 50.0)), w0=W0, steps=100)
explorer

# %% [markdown]
# The checks run on a second, static copy of the widget (`probe`), so that the one above keeps
# showing what its cell set up. The widget's largest curvature (its `data["lambda_max"]`) is
# $\lambda_{\max} = 50$; its run at half the bound, $\eta = 0.02$, is our `GD` class step for
# step; every rate on its slider past the bound blows the loss up beyond $10^6$, where `descend`
# gives up; and no rate on its slider gets gradient descent below $10^{-3}$ in 100 steps (we run
# them with `descend`, which is quicker than redrawing the widget), while momentum, with its
# tuned rate, needed 83.

# %%
probe = d2lite.widgets.lr_explorer(
    A=((1.0, 0.0), (0.0, 50.0)), w0=W0, steps=100, mode="static"
)
lambda_max, bound = probe.data["lambda_max"], probe.data["bound"]
assert lambda_max == 50 and abs(bound - 0.04) < 1e-12, (lambda_max, bound)
ours, _ = descend(GD, 0.02, steps=100)
assert torch.allclose(
    torch.tensor(probe.update(lr=0.02)["path"]).float(), ours, atol=1e-5
)
final = {lr: descend(GD, lr, steps=100)[1][-1].item() for lr in probe.grid["lr"]}
print(
    "loss after 100 steps:", {f"{lr:.3g}": f"{loss:.3g}" for lr, loss in final.items()}
)
assert min(final.values()) > 1e-3 and tuned["Momentum"][0] <= 100
past_bound = [loss for lr, loss in final.items() if lr > 1.01 * bound]
assert past_bound and min(past_bound) > 1e6, f"losses past the bound: {past_bound}"
assert abs(explorer.values["lr"] - 0.02) < 1e-12, "the widget above still opens at 0.02"

# %% [markdown]
# ## Standardising the inputs
#
# All these optimisers work around the ravine. Often you can remove it instead, because the
# ravine comes from the data. The source notes tell it with images: a pixel's value by itself
# means little (darken every pixel a little and a 5 is still a 5), so you are free to shift and
# scale the inputs, and a good choice makes gradient descent much faster. The reason is the
# Hessian. For a linear model with the MSE it is $\mathbf{H} = \tfrac{2}{n}\mathbf{X}^\top
# \mathbf{X}$, fixed by the inputs alone, so inputs on very different scales make a ravine, and
# inputs on the same scale, centred on zero, make a round bowl.
#
# Two rescalings are common. **[Standardisation](../../book/glossary.md#term-standardisation)** (标准化), or the
# z-score, shifts and scales every feature to mean 0 and standard deviation 1,
#
# $$
# z = \frac{x - \mu}{\sigma},
# $$
#
# with the mean $\mu$ and standard deviation $\sigma$ of that feature over the training data.
# **[Min-max normalisation](../../book/glossary.md#term-min-max-normalisation)** (归一化) maps every feature onto
# $[0, 1]$,
#
# $$
# z = \frac{x - \min}{\max - \min} .
# $$
#
# Neither changes the shape of a feature's distribution, only its position and scale, and a
# linear model can undo either with its weights and bias, so the best fit itself does not change.
#
# An example where the scales differ for no good reason: predict the cost of shipping a parcel
# from its width, measured in centimetres (0 to 20), and its height, measured in metres (0 to 1).
# Two hundred parcels, a cost of $0.3 \times \text{width} + 5 \times \text{height} + 1$ plus a
# little noise, in float64 so that the least-squares answer is exact. The loss is the MSE, and
# gradient descent runs at $\eta = 1/\lambda_{\max}$ for each version of the inputs.

# %%
parcel_rng = torch.Generator().manual_seed(0)  # the data's own generator: fixed parcels
m = 200
width = 20 * torch.rand(m, generator=parcel_rng)  # (m,): cm
height = torch.rand(m, generator=parcel_rng)  # (m,): m
raw = torch.stack([width, height], dim=1).double()  # (m, 2)
jitter = 0.1 * torch.randn(m, generator=parcel_rng).double()  # (m,): the noise
cost = raw @ torch.tensor([0.3, 5.0]).double() + 1 + jitter
inputs = {
    "raw": raw,
    "min-max": (raw - raw.min(0).values) / (raw.max(0).values - raw.min(0).values),
    "z-score": (raw - raw.mean(0)) / raw.std(0),
}
designs = {
    name: torch.cat([feats, torch.ones(m, 1).double()], dim=1)  # (m, 3): with a 1
    for name, feats in inputs.items()
}

# %% [markdown]
# First the condition numbers of $\mathbf{X}^\top \mathbf{X}$, the ratio of its largest to its
# smallest eigenvalue. The raw inputs give about 2000: a far worse ravine than our toy one.
# Min-max brings the two features to one scale but leaves them off-centre (both average about
# 0.5, so they are tangled up with the bias column), which leaves a condition number of about
# 30. The z-score also centres them, and the bowl becomes almost perfectly round: 1.03, the
# small excess coming from the slight chance correlation of width and height in the sample.

# %%
kappa = {}
for name, D in designs.items():
    eig = torch.linalg.eigvalsh(D.T @ D)  # ascending
    kappa[name] = (eig[-1] / eig[0]).item()
    print(f"{name:8s} condition number of X^T X: {kappa[name]:9.2f}")
assert 1800 < kappa["raw"] < 2300, f"raw inputs: {kappa['raw']:.0f}, not about 2000"
assert 25 < kappa["min-max"] < 35 and kappa["z-score"] < 1.05, kappa

# %% [markdown]
# Now gradient descent on each, counting the steps until the loss is within $10^{-4}$ of its
# minimum. The minimum is the same for all three, since each version can express the same best
# line.


# %%
def gd_steps(D, y, tol=1e-4, max_steps=20_000):
    """Gradient descent at lr = 1/lambda_max on the MSE; return the excess losses."""
    H = 2 * D.T @ D / len(y)  # (3, 3): the Hessian
    lr = 1 / torch.linalg.eigvalsh(H)[-1]
    best = mse(torch.linalg.lstsq(D, y[:, None]).solution[:, 0], D, y)
    theta, excess = torch.zeros(D.shape[1], dtype=D.dtype), []
    while not excess or (excess[-1] >= tol and len(excess) <= max_steps):
        excess.append((mse(theta, D, y) - best).item())
        theta = theta - lr * mse_grad(theta, D, y)
    return excess


excess = {name: gd_steps(D, cost) for name, D in designs.items()}
steps = {name: len(e) - 1 for name, e in excess.items()}
print("steps to within 1e-4 of the minimum:", steps)
assert steps["z-score"] < steps["min-max"] < steps["raw"] <= 20_000, steps
assert steps["raw"] > 9000 and 100 < steps["min-max"] < 200 and steps["z-score"] == 2, (
    steps
)
assert excess["z-score"][1] / excess["z-score"][0] < 2e-4, (
    "the first step does nearly all"
)

# %% [markdown]
# The raw inputs need over nine thousand steps, min-max normalised ones over a hundred, and
# z-scored ones two, the first of which already removes all but 0.02 % of the excess loss. That
# is no accident: when the bowl is round, the gradient points straight at the minimum, and a
# step of $1/\lambda_{\max}$ lands on it. [Figure 6](#fig-optimizers-standardising) shows the
# three runs, excess loss against step, both on log scales; the dotted line is the tolerance
# $10^{-4}$.

# %% mystnb={"figure": {"caption": "Gradient descent at 1/lambda_max on the parcels: raw inputs need over 9,000 steps, min-max normalised ones over 100, z-scored ones 2. Dotted: the tolerance 1e-4.", "name": "fig-optimizers-standardising"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, e in excess.items():
    ax.loglog(range(1, len(e) + 1), e, "o-" if len(e) < 5 else "-", ms=4, label=name)
ax.axhline(1e-4, color="k", ls=":", lw=1)
ax.set(xlabel="step + 1", ylabel="excess loss $L - L_{\\min}$")
ax.legend()
plt.show()

# %% [markdown]
# ### Does it help every optimiser?
#
# That was plain gradient descent. You might expect the adaptive optimisers not to care: you
# checked above that AdaGrad and RMSProp take the same steps when the loss is multiplied by
# 1000. But multiplying the loss scales every gradient coordinate by the same factor. Rescaling
# one *input* is different: it changes how far that input's weight must travel, and inputs that
# are not centred (width and height both average well above zero) tangle their weights up with
# the bias and tilt the ravine away from the axes, which no per-coordinate step size can undo.
#
# So measure it. Run each of the five optimisers on the raw and on the z-scored parcels, each
# with its best rate from a grid of fifteen, $10^{-4}, 10^{-3.5}, \dots, 10^{3}$, and count the
# steps until the excess loss is below $10^{-4}$ (at most 2000). To try the whole grid at once,
# give an optimiser a *column* of learning rates and a parameter with one row per rate: our
# classes only ever multiply by `self.lr` and work element by element, so the rates broadcast
# and every row runs its own descent. The first row to reach the tolerance has the best rate.

# %%
rates = 10.0 ** torch.arange(-4.0, 3.5, 0.5, dtype=torch.float64)  # (15,)


def steps_by_rate(make, D, y, tol=1e-4, max_steps=2000):
    """Steps each rate needs to bring the MSE within tol of its minimum (inf: not yet).

    Stops as soon as one rate gets there: that one is the best."""
    best = mse(torch.linalg.lstsq(D, y[:, None]).solution[:, 0], D, y)
    theta = torch.zeros(
        len(rates), D.shape[1], dtype=D.dtype
    )  # (15, 3): a row per rate
    optimizer = make([theta], rates[:, None])  # (15, 1) learning rates
    needed = torch.full((len(rates),), math.inf, dtype=D.dtype)
    for step in range(1, max_steps + 1):
        theta.grad = 2 * (theta @ D.T - y) @ D / len(y)  # (15, 3): row by row
        optimizer.step()
        excess_now = ((theta @ D.T - y) ** 2).mean(1) - best  # (15,)
        needed[(excess_now < tol) & (needed == math.inf)] = step
        if (needed < math.inf).any():
            break
    return needed


# %% [markdown]
# First a check that the rows really are independent runs: the row for $\eta = 0.01$ of a
# momentum run on the raw parcels follows the same path as a run of `Momentum` with that single
# rate.

# %%
theta_many = torch.zeros(len(rates), 3, dtype=torch.float64)
theta_one = torch.zeros(3, dtype=torch.float64)
many, one = (
    Momentum([theta_many], rates[:, None]),
    Momentum([theta_one], rates[4].item()),
)
for _ in range(50):
    theta_many.grad = 2 * (theta_many @ designs["raw"].T - cost) @ designs["raw"] / m
    theta_one.grad = mse_grad(theta_one, designs["raw"], cost)
    many.step()
    one.step()
assert rates[4] == 0.01 and torch.allclose(theta_many[4], theta_one, rtol=1e-12)

# %% [markdown]
# Now the measurement, optimiser by optimiser.

# %%
with_best = {}  # (optimizer, inputs) -> (steps, best rate's index)
for make in (GD, Momentum, AdaGrad, RMSProp, Adam):
    for name in ("raw", "z-score"):
        needed = steps_by_rate(make, designs[name], cost)
        with_best[make.__name__, name] = (needed.min().item(), needed.argmin().item())
    (raw_steps, i), (z_steps, j) = with_best[make.__name__, "raw"], with_best[
        make.__name__, "z-score"]
    raw_text = "no rate within 2000 steps" if raw_steps == math.inf else \
        f"{raw_steps:.0f} steps (best lr {rates[i]:.3g})"
    print(f"{make.__name__:9s} raw: {raw_text};  "
          f"z-score: {z_steps:.0f} steps (best lr {rates[j]:.3g})")

# %% [markdown]
# Standardising helped every one of them here, but by very different factors. Plain gradient
# descent cannot reach the tolerance from the raw inputs within 2000 steps at any rate of the
# grid, and needs 7 steps on the z-scored ones (the counts are from the CPU run that made this
# page; a GPU's rounding can move them by a step or a few). AdaGrad (420 steps to 4) and
# RMSProp (252 to 4) gain a factor of more than 50, because the z-scored bowl is round *and*
# lined up with the axes. Momentum gains a factor of about 4 (331 to 81) and Adam least of all, less than a
# factor of 2 (104 to 63): its averaged, per-coordinate steps had already coped with most of
# the raw ravine. Every best rate lies strictly inside the grid, and, as in the race, the
# adaptive methods tolerate rates that would blow gradient descent up: AdaGrad's best rate on
# the round bowl is above 100.

# %%
gain = {}
for opt in ("GD", "Momentum", "AdaGrad", "RMSProp", "Adam"):
    (raw_steps, i), (z_steps, j) = with_best[opt, "raw"], with_best[opt, "z-score"]
    gain[opt] = raw_steps / z_steps
    assert z_steps < raw_steps, (
        f"{opt}: z-scoring did not help ({raw_steps} -> {z_steps})"
    )
    for steps_, k in ((raw_steps, i), (z_steps, j)):
        assert steps_ == math.inf or 0 < k < len(rates) - 1, (
            f"{opt}: best rate at the edge"
        )
assert with_best["GD", "raw"][0] == math.inf and with_best["GD", "z-score"][0] == 7
assert min(gain["AdaGrad"], gain["RMSProp"]) > 50 and 3 < gain["Momentum"] < 5, gain
assert 1 < gain["Adam"] < 2 and gain["Adam"] == min(gain.values()), gain
assert rates[with_best["AdaGrad", "z-score"][1]] > 100
# the counts the text quotes; other devices round differently: allow 3 % (or 1 step)
quoted = {"Momentum": (331, 81), "AdaGrad": (420, 4), "RMSProp": (252, 4),
          "Adam": (104, 63)}
for opt, counts in quoted.items():
    for scale, quoted_steps in zip(("raw", "z-score"), counts, strict=True):
        steps_ = with_best[opt, scale][0]
        assert abs(steps_ - quoted_steps) <= max(1, 0.03 * quoted_steps), (
            f"{opt}, {scale}: {steps_} steps, the text says {quoted_steps}"
        )
print("steps raw / steps z-scored:", {opt: f"{g:.1f}" for opt, g in gain.items()})

# %% [markdown]
# So standardise: it is cheap, it helped every optimiser here, and for deeper networks it helps
# each layer's inputs too. Just do not expect the same gain everywhere: the better the
# optimiser already copes with a ravine, the less there is to gain. Two rules keep it honest:
# compute $\mu$ and $\sigma$ (or the min and max) on the training data only, and apply those
# same numbers to every later input, the test set included, since a model trained on one scale
# knows nothing of another. For images, the usual choice is one mean and one standard deviation
# per colour channel, computed over all training pixels.

# %% [markdown]
# ## The optimisers on a real model
#
# Ravines and parcels are small enough to see everything. Now let the optimisers train a real
# model: the softmax regression of the next lessons on Fashion-MNIST, 28 × 28 grey-scale photos
# of clothes in ten classes. All you need to know of it here is that it is one linear layer,
# 784 pixels in and 10 class scores out, trained with the cross-entropy loss
# ([softmax regression](../02_linear/softmax_regression.ipynb) explains both). To stay within
# seconds we take the first 12,000 training images, hold out a tenth of them as a
# [validation split](../../book/glossary.md#term-validation-set) with
# `d2lite.data.train_val_split` (stratified, so every class keeps its share), and
# train on the rest for two epochs in minibatches of 128.

# %%
(X_all, y_all), (X_test, y_test) = d2lite.data.load_fashion_mnist(verbose=False)
X_sub, y_sub = X_all[:12_000].reshape(-1, 784), y_all[:12_000]  # (12000, 784), (12000,)
(X_tr, y_tr), (X_val, y_val) = d2lite.data.train_val_split(X_sub, y_sub, 0.1, seed=0)
fashion = d2lite.data.batches(X_tr, y_tr, 128, seed=0, device=device)
X_val, y_val = X_val.to(device), y_val.to(device)
print(
    f"{len(y_tr)} training and {len(y_val)} validation images, "
    f"{len(fashion)} minibatches per epoch"
)

# %% [markdown]
# As on the ravine, each optimiser gets its best learning rate from a grid, nine rates from
# $10^{-4}$ to 1. But now what we want is a model that does well on images it has not trained
# on, so the rate is the one with the lowest *validation* loss after the two epochs: never the
# training loss, and never the test set, which we touch once, at the very end.
#
# And as for the parcels, we try the whole grid at once: nine copies of the model, one per
# rate, stacked along a new first axis. With weights `W` of shape (9, 784, 10), `X @ W`
# broadcasts the batch against every copy and gives each its own logits, (9, B, 10). The sum of
# the nine copies' losses gives each copy exactly its own gradient, because no copy's loss
# depends on another copy's weights. The cell checks that on one batch against a single model.

# %%
lr_grid = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]


def copy_losses(W, b, X, y):
    """Mean cross-entropy of each copy; W (k, 784, 10), b (k, 1, 10), X (n, 784)."""
    logits = X @ W + b  # (k, n, 10)
    per_example = F.cross_entropy(
        logits.flatten(0, 1), y.repeat(len(W)), reduction="none"
    )
    return per_example.view(len(W), -1).mean(1)  # (k,)


W = torch.randn(3, 784, 10, device=device, requires_grad=True)  # three copies
b = torch.zeros(3, 1, 10, device=device, requires_grad=True)
Xb, yb = next(iter(fashion))  # (128, 784), (128,)
copy_losses(W, b, Xb, yb).sum().backward()
W1 = W[1].detach().clone().requires_grad_()  # copy 1, on its own
F.cross_entropy(Xb @ W1 + b[1].detach(), yb).backward()
assert torch.allclose(W.grad[1], W1.grad, atol=1e-6), "copy 1's gradient is its own"

# %% [markdown]
# The training function: every copy starts from the same random weights, sees the same
# minibatches in the same order, and differs only in its learning rate, which the optimiser gets
# as a tensor of shape (9, 1, 1) that broadcasts over each copy's parameters. Every ten
# minibatches it records each copy's validation loss and the number of training examples seen
# so far, and in the last epoch it also keeps a copy of the weights at each of those moments,
# so that the test split can later be scored the same way as the validation split.


# %%
def train_copies(make, lrs, epochs=2, log_every=10):
    """Train one softmax regression per rate in lrs, all at once.

    Returns the examples seen (s,), the validation losses (s, k) and the weights logged
    in the last epoch, W (k, l, 784, 10) and b (k, l, 1, 10), l snapshots per copy."""
    d2lite.seed_everything(0)
    W = (0.01 * torch.randn(784, 10, device=device)).repeat(len(lrs), 1, 1)
    W.requires_grad_()
    b = torch.zeros(len(lrs), 1, 10, device=device, requires_grad=True)
    optimizer = make([W, b], torch.tensor(lrs, device=device)[:, None, None])
    seen, val, n_seen = [0], [copy_losses(W, b, X_val, y_val).detach()], 0
    snapshots = []  # (W, b) at each log of the last epoch
    for epoch in range(epochs):
        fashion.set_epoch(epoch)  # the same order for every optimizer
        for i, (Xb, yb) in enumerate(fashion):  # (128, 784), (128,)
            optimizer.zero_grad()
            copy_losses(W, b, Xb, yb).sum().backward()  # each copy: its own gradient
            optimizer.step()
            n_seen += len(yb)
            if (i + 1) % log_every == 0 or i + 1 == len(fashion):
                with torch.no_grad():
                    val.append(copy_losses(W, b, X_val, y_val))
                seen.append(n_seen)
                if epoch == epochs - 1:
                    snapshots.append((W.detach().clone(), b.detach().clone()))
    val = torch.stack(val).nan_to_num(math.inf)  # a diverged copy counts as inf
    # the last epoch's snapshots, stacked: W_logged (k, l, ...) and b_logged likewise
    W_logged, b_logged = (torch.stack(t, dim=1) for t in zip(*snapshots, strict=True))
    return torch.tensor(seen), val, (W_logged, b_logged)


# %% [markdown]
# Now train each optimiser at the nine rates. Which rate is best? A single validation loss,
# measured right after one minibatch step, is noisy: at high rates one unlucky step can throw
# it up for a moment (you will see such spikes in [Figure 7](#fig-optimizers-fashion)). So we score each rate by its
# *mean* validation loss over the second epoch, nine measurements, and keep the lowest. In this
# section our `GD` class sees one minibatch per step, so it is minibatch SGD, and we call it
# that.

# %%
chosen, curves, score = {}, {}, {}  # name -> (rate, W, b); val. curve; its score
for make in (GD, Momentum, AdaGrad, RMSProp, Adam):
    name = "SGD" if make is GD else make.__name__
    seen, val, (W, b) = train_copies(make, lr_grid)
    second_epoch = val[seen > len(y_tr)].mean(dim=0)  # (9,): one score per rate
    best = int(second_epoch.argmin())
    chosen[name], curves[name] = (lr_grid[best], W[best], b[best]), val[:, best].cpu()
    score[name] = second_epoch[best].item()
    by_rate = " ".join(f"{v:.2f}" for v in second_epoch.tolist())
    print(f"{name:8s} mean validation loss in epoch 2, by rate: {by_rate} "
          f"-> lr {lr_grid[best]:g}")
    assert 0 < best < len(lr_grid) - 1, f"{name}'s best rate is at the edge of the grid"

# %% [markdown]
# Every optimiser's chosen rate lies inside the grid (the cell asserts it), and the rates
# differ by a factor of more than 30, from 0.003 for RMSProp to 0.1 for SGD: a rate tuned for
# one optimiser says little about another. [Figure 7](#fig-optimizers-fashion) shows each
# optimiser's validation loss against the number of training examples it has seen, each at
# its chosen rate. Plain SGD is the slowest: its mean validation loss is the highest in the
# first epoch and in the second, and in both it trails every other optimiser by more than
# 0.05. Among the other four the differences are small: in the second epoch they lie closer
# to one another than the worst of them lies to SGD.

# %% mystnb={"figure": {"caption": "Validation loss of softmax regression on a Fashion-MNIST subset against training examples seen, each optimiser at the learning rate chosen on the validation split. Plain SGD is slowest; the others are close to one another.", "name": "fig-optimizers-fashion"}}
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, losses in curves.items():
    color = COLORS["GD" if name == "SGD" else name]
    ax.plot(seen, losses, "o-", ms=2, color=color,
            label=f"{name}, lr = {chosen[name][0]:g}")
ax.set(xlabel="training examples seen", ylabel="validation loss", ylim=(0.4, 2.4))
ax.legend(fontsize=8)
plt.show()

# %%
in_epoch1 = (seen > 0) & (seen <= len(y_tr))  # the logs of the first epoch
first = {n: c[in_epoch1].mean().item() for n, c in curves.items()}
print("mean validation loss, epoch 1:", {n: round(v, 3) for n, v in first.items()})
print("mean validation loss, epoch 2:", {n: round(v, 3) for n, v in score.items()})
rates_chosen = [rate for rate, _, _ in chosen.values()]
assert max(rates_chosen) / min(rates_chosen) > 30, rates_chosen
assert chosen["RMSProp"][0] == 0.003 and chosen["SGD"][0] == 0.1, rates_chosen
others = [n for n in curves if n != "SGD"]
for epoch_mean in (first, score):  # epoch 1, epoch 2
    assert max(epoch_mean, key=epoch_mean.get) == "SGD", epoch_mean
    assert all(epoch_mean[n] < epoch_mean["SGD"] - 0.05 for n in others), epoch_mean
val_spread = max(score[n] for n in others) - min(score[n] for n in others)
sgd_gap = score["SGD"] - max(score[n] for n in others)
assert val_spread < sgd_gap, f"the four span {val_spread:.3f}, SGD is {sgd_gap:.3f} off"
d2lite.record("val_sgd", score["SGD"])
d2lite.record("val_spread_others", val_spread)
d2lite.record("val_gap_sgd", sgd_gap)

# %% [markdown]
# The rates were chosen on the validation split, so its losses flatter every optimiser a
# little. The honest final number comes from the test set, touched once, now: the 10,000 test
# images, each optimiser at its chosen rate, scored as the validation split was, by the mean
# loss of the nine models logged in the second epoch (a single last model would add the luck
# of one final minibatch step; the cell prints those last models' losses too). Plain SGD
# should stay last, and every other optimiser clearly ahead of it.

# %%
X_test_flat, y_test_dev = X_test.reshape(-1, 784).to(device), y_test.to(device)
with torch.no_grad():  # W: (9, 784, 10), the nine logged models as copies
    test_loss = {name: copy_losses(W, b, X_test_flat, y_test_dev).mean().item()
                 for name, (_, W, b) in chosen.items()}
    last_loss = {name: copy_losses(W[-1:], b[-1:], X_test_flat, y_test_dev).item()
                 for name, (_, W, b) in chosen.items()}
print("test loss:", {name: round(loss, 3) for name, loss in test_loss.items()})
print("last model only:", {name: round(loss, 3) for name, loss in last_loss.items()})
assert max(test_loss, key=test_loss.get) == "SGD", test_loss
assert all(test_loss[n] < test_loss["SGD"] - 0.05 for n in others), test_loss
for split, losses in (("validation", score), ("test", test_loss)):
    lead = min(losses[n] for n in others if n != "Adam") - losses["Adam"]
    assert lead > 0.01, f"Adam's lead on {split} is {lead:.3f}: {losses}"
    d2lite.record(f"adam_lead_{split}", lead)
d2lite.record("test_sgd", test_loss["SGD"])
d2lite.record("test_worst_other", max(test_loss[n] for n in others))

# %% [markdown]
# So on this real model the ravine's lesson holds in a milder form: momentum and the adaptive
# methods beat plain SGD clearly at the same number of examples, each at its own tuned rate,
# while the differences among them are small. Adam comes out lowest of the four on both splits,
# by more than 0.01 (the cell checks it). The other three lie so close together that their
# order among themselves is not to be trusted: each rate was picked as the best of nine on the
# validation split, so each validation score is the luckiest of nine and flatters its optimiser
# a little, by an amount that differs from optimiser to optimiser. Among near-ties such
# selection noise can decide the order on validation, and an order it decided need not survive
# on the test split (compare the two printouts). The last models alone, printed below the
# test losses, carry the luck of one final minibatch step on top, which can be enough to
# reorder methods this close. Ranking near-tied methods takes more data, or repeated runs and
# a measure of their spread. That is the usual picture in practice, and one
# reason Adam, which did well on every problem of this lesson and forgives a badly chosen
# rate, is so often the default.

# %% [markdown]
# ## Summary
#
# - Batch gradient descent reads all $n$ examples per step; minibatch SGD reads $B$. The
#   minibatch gradient is right on average, and its noise shrinks like $1/\sqrt{B}$. Per epoch,
#   SGD makes $n/B$ steps and gets close fast, but with a constant learning rate it ends in a
#   noisy band around the minimum.
# - The exponentially weighted average $v_t = \beta v_{t-1} + (1 - \beta)\theta_t$ averages over
#   roughly the last $1/(1 - \beta)$ values, damps swings and trails trends; started from zero
#   it needs bias correction, $v_t / (1 - \beta^t)$.
# - Momentum averages gradients, so that zigzags cancel and steady slopes add up. AdaGrad and
#   RMSProp divide each coordinate's step by the root of its (summed or averaged) squared
#   gradients. Adam does both, with bias correction. Each of our scratch versions matches
#   `torch.optim` to better than $10^{-6}$.
# - On the ravine $\tfrac{1}{2}(w_1^2 + 50 w_2^2)$, plain gradient descent needs 136 steps at
#   its best rate, momentum 83 and Adam 76; the per-coordinate methods do best of all, helped by
#   the ravine being lined up with the axes. Gradient descent converges from a narrow window of
#   rates, below $2/\lambda_{\max}$; the adaptive methods from a range of rates 400 wide.
# - Features on different scales make the loss a ravine. Standardising them (z-score) made the
#   condition number of $\mathbf{X}^\top\mathbf{X}$ fall from about 2000 to 1.03, and gradient
#   descent needed 2 steps instead of over 9000. It helped all five optimisers, each at its best
#   rate: plain gradient descent most (no rate of the grid reached the tolerance from the raw
#   inputs within 2000 steps, 7 steps did from the z-scored ones), the others by factors from
#   over 100 (AdaGrad) down to 1.7 (Adam).
# - On a real model, softmax regression on Fashion-MNIST with each rate chosen on a validation
#   split, momentum, AdaGrad, RMSProp and Adam all beat plain SGD clearly, on the validation and
#   the test split, and differ little among themselves; ranking near-tied methods takes more
#   than one validation split can tell.
#
# ## Exercises
#
# 1. **Tilt the ravine.** Rotate the ravine by 45°: redefine the loss, its gradient and the
#    start as below, and rerun the race. Which optimisers lose their advantage, and why do
#    gradient descent and momentum not notice the rotation at all? Self-check: gradient
#    descent and momentum still need exactly 136 and 83 steps, and RMSProp now needs more
#    than 100.
#
#    ```python
#    R = torch.tensor([[1.0, -1.0], [1.0, 1.0]]) / 2**0.5   # a 45° rotation
#    A = R @ torch.diag(CURVATURE) @ R.T                     # the tilted Hessian
#    ravine_grad = lambda w: A @ w
#    ravine = lambda w: 0.5 * (w @ A * w).sum(-1)
#    W0 = tuple((R @ torch.tensor([-7.0, 1.0])).tolist())
#    ```
# 2. **Tune the momentum.** For a quadratic whose Hessian has eigenvalues between
#    $\lambda_{\min}$ and $\lambda_{\max}$, the heavy-ball method is fastest with
#    $\beta = \bigl((\sqrt{\lambda_{\max}} - \sqrt{\lambda_{\min}}) /
#    (\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}})\bigr)^2$ and
#    $\eta = 4 / (\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}})^2$
#    ([Polyak, 1964](../../book/references.md)). Compute both for the ravine and count the
#    steps to a loss below $10^{-3}$. Do they beat the 83 steps of momentum with $\beta = 0.9$?

# %% tags=["hide-cell"]
lam_min, lam_max = CURVATURE.tolist()  # 1 and 50
b_opt = ((lam_max**0.5 - lam_min**0.5) / (lam_max**0.5 + lam_min**0.5)) ** 2
eta_opt = 4 / (lam_max**0.5 + lam_min**0.5) ** 2
polyak_steps = steps_to_target(lambda ps, lr: Momentum(ps, lr, beta=b_opt), eta_opt)
print(f"beta = {b_opt:.3f}, eta = {eta_opt:.4f}: {polyak_steps} steps (beta = 0.9: 83)")
assert polyak_steps < tuned["Momentum"][0], f"{polyak_steps} steps"

# %% [markdown]
# 3. **Adam without its correction.** Write `AdamNoCorrection` by deleting the two divisions by
#    $1 - \beta^t$. How long is its first step on the ravine with $\eta = 0.1$? It should be
#    $\eta\,(1 - \beta_1)/\sqrt{1 - \beta_2} \approx 3.16\,\eta$ in each coordinate, three times
#    too long. Which of the two corrections matters more at the start?


# %% tags=["hide-cell"]
class AdamNoCorrection(Adam):
    """Adam without bias correction: the raw EWMAs m and v, started from zero."""

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.betas
        for p, state in zip(self.params, self.state, strict=True):
            state["m"] = m = beta1 * state.get("m", 0.0) + (1 - beta1) * p.grad
            state["v"] = v = beta2 * state.get("v", 0.0) + (1 - beta2) * p.grad**2
            p -= self.lr * m / (v.sqrt() + self.eps)


no_correction_path, _ = descend(AdamNoCorrection, lr=0.1, steps=1)
first = (no_correction_path[1] - no_correction_path[0]).abs()  # (2,)
print(
    f"first step {[round(x, 4) for x in first.tolist()]}; predicted "
    f"{0.1 * 0.1 / 0.001**0.5:.4f}"
)
assert torch.allclose(first, torch.tensor(0.1 * 0.1 / 0.001**0.5), atol=1e-5)
# Without its correction v is 1 - beta2 = 0.001 times too small, which alone would make
# the step sqrt(1000) = 31.6 times too long; m is 1 - beta1 = 0.1 times too small, which
# shortens it tenfold. The v correction matters more: the step is 3.16 times too long.

# %% [markdown]
# 4. **Batch size and noise.** Repeat the gradient-noise measurement for $B = 2048$ and predict
#    its value from the one for $B = 8$ with the $1/\sqrt{B}$ rule. Self-check: the prediction
#    is within 15 % of the measurement. The cell drew rows *with* replacement
#    (`torch.randint`); within an epoch, `d2lite.data.batches` draws them *without*. Why does
#    that make the noise smaller when $B$ is a sizeable fraction of $n$, and what is the noise
#    when $B = n$?
# 5. **Statistics from the training set.** Standardise the parcels with the mean and standard
#    deviation of the first 50 parcels only, applied to all 200. Is the bowl still nearly
#    round?

# %% tags=["hide-cell"]
mu50, sigma50 = raw[:50].mean(0), raw[:50].std(0)  # (2,) each
D50 = torch.cat([(raw - mu50) / sigma50, torch.ones(m, 1).double()], dim=1)  # (m, 3)
eig50 = torch.linalg.eigvalsh(D50.T @ D50)
kappa50 = (eig50[-1] / eig50[0]).item()
print(
    f"condition number with the first 50 parcels' statistics: {kappa50:.2f} "
    f"(all 200: {kappa['z-score']:.2f}, raw: {kappa['raw']:.0f})"
)
assert kappa50 < 2, f"the bowl is no longer nearly round: {kappa50:.2f}"
