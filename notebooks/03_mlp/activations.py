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
# # Activation functions
#
# A neural network is linear layers with a small nonlinear function between them, and this
# lesson is about that small function. You will see that stacked linear layers collapse into
# one, meet four points that no line can separate, and fix them first with a hand-made feature
# map and then with a hidden layer that learns its own. Then you compare the common activation
# functions (sigmoid, tanh, ReLU, leaky ReLU, GELU) and their derivatives, see how they fail
# (saturation, dead units), and watch two ReLUs fold a line into a bent curve.

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

# %% [markdown]
# ## Stacked linear layers collapse into one
#
# Chapter 2 built models from one linear layer, $\mathbf{o} = \mathbf{W}\mathbf{x} + \mathbf{b}$.
# The obvious way to make a model more powerful is to stack more of them: a first layer turns
# the input $\mathbf{x}$ into an intermediate vector $\mathbf{h}$, and a second turns
# $\mathbf{h}$ into the output,
#
# $$
# \mathbf{h} = \mathbf{W}_1 \mathbf{x} + \mathbf{b}_1, \qquad
# \mathbf{o} = \mathbf{W}_2 \mathbf{h} + \mathbf{b}_2.
# $$
#
# Substitute the first equation into the second and multiply out:
#
# $$
# \mathbf{o} = \mathbf{W}_2 \mathbf{W}_1 \mathbf{x} + (\mathbf{W}_2 \mathbf{b}_1 + \mathbf{b}_2)
# = \mathbf{W}\mathbf{x} + \mathbf{b}.
# $$
#
# The two layers compute exactly what one layer with $\mathbf{W} = \mathbf{W}_2 \mathbf{W}_1$
# and $\mathbf{b} = \mathbf{W}_2 \mathbf{b}_1 + \mathbf{b}_2$ computes. A linear function of a
# linear function is linear, so however many linear layers you stack, the stack can only do
# what a single layer does. Let's check it with `nn.Linear` layers from 3 to 5 to 2 features.

# %%
d2lite.seed_everything(0)
first, second = nn.Linear(3, 5), nn.Linear(5, 2)
stacked = nn.Sequential(first, second)
merged = nn.Linear(3, 2)
with torch.no_grad():
    # (2, 5) @ (5, 3) -> (2, 3)
    merged.weight.copy_(second.weight @ first.weight)
    # (2, 5) @ (5,) + (2,) -> (2,)
    merged.bias.copy_(second.weight @ first.bias + second.bias)
X = torch.randn(100, 3)
gap = (stacked(X) - merged(X)).abs().max().item()
n_stacked = sum(p.numel() for p in stacked.parameters())
n_merged = sum(p.numel() for p in merged.parameters())
print(f"largest difference on 100 inputs: {gap:.1e}; "
      f"parameters {n_stacked} vs {n_merged}")

# %% [markdown]
# The two models agree to rounding error on 100 random inputs. The stack has 32 parameters
# ($3 \cdot 5 + 5 + 5 \cdot 2 + 2$), the single layer 8, yet they compute the same function.

# %%
assert gap < 1e-6, f"the stack and the merged layer differ by {gap:.1e}"
assert (n_stacked, n_merged) == (32, 8), f"got {n_stacked} and {n_merged} parameters"

# %% [markdown]
# Now put a nonlinear function between the two layers, the ReLU $\max(0, z)$ that you meet
# properly below. No single layer matches the result any more. To show it, find the *best*
# single linear layer for the job: least squares of the stack's outputs on the inputs with a
# column of ones appended (as in [linear regression](../02_linear/linear_regression.ipynb)), and
# measure what it leaves unexplained.

# %%
with_relu = nn.Sequential(first, nn.ReLU(), second)
with torch.no_grad():
    # each (100, 2)
    targets = {"linear stack": stacked(X), "with a ReLU": with_relu(X)}
X1 = torch.cat([X, torch.ones(100, 1)], dim=1)                             # (100, 4)
residual = {}
for name, Y in targets.items():
    coef = torch.linalg.lstsq(X1, Y).solution                              # (4, 2)
    residual[name] = ((X1 @ coef - Y).norm() / Y.norm()).item()
    print(f"{name}: best single layer leaves {residual[name]:.1%} of the output "
          "unexplained")
assert residual["linear stack"] < 1e-5, (
    "a single layer should reproduce the linear stack")
assert residual["with a ReLU"] > 0.05, (
    "one layer should not reproduce the stack with a ReLU")

# %% [markdown]
# This is why every hidden linear or convolutional layer in a network is followed by a nonlinear
# [activation function](../../book/glossary.md#term-activation-function), like the perceptron's
# sign in [the logistic regression lesson](../02_linear/logistic_regression.ipynb): without it,
# the extra layers merge into one and their extra parameters buy nothing.
#
# ## Four points that no line separates
#
# Return to the meal machine of
# [the logistic regression lesson](../02_linear/logistic_regression.ipynb), which decides from the
# day $x_1$ and the humidity $x_2$ whether you eat rice ($+1$) or not ($-1$). Your diary now
# holds four days:
#
# | day $x_1$ | humidity $x_2$ | rice? |
# |---|---|---|
# | 1 | 1 | $-1$ |
# | 2 | 0 | $+1$ |
# | 2 | 2 | $+1$ |
# | 3 | 1 | $-1$ |

# %% tags=["nbval-check-output"]
# (4, 2): day, humidity
X4 = torch.tensor([[1.0, 1.0], [2.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
y4 = torch.tensor([-1.0, 1.0, 1.0, -1.0])                              # (4,): +1 rice
print(X4.shape, y4.tolist())

# %% [markdown]
# Plot them ([Figure 1](#fig-activations-diary)) and try to draw a line with both rice days on
# one side and both other days on the other. The rice days sit above and below the centre, the
# others left and right of it: any line that keeps the two rice days together catches at least
# one of the others with them.

# %% mystnb={"figure": {"caption": "The four diary days: filled blue circles are rice days, hollow red squares days without rice.", "name": "fig-activations-diary"}}
def plot_days(ax, points, labels):
    """Scatter 4 points: filled blue circles for rice (+1), hollow red squares for no
    rice (-1)."""
    for label, style in ((1.0, dict(marker="o", color="C0")),
                         (-1.0, dict(marker="s", facecolor="none", edgecolor="C3"))):
        chosen = points[labels == label]
        ax.scatter(chosen[:, 0], chosen[:, 1], s=60,
                   label="rice" if label > 0 else "no rice", **style)
    ax.legend(fontsize=8, loc="upper right")

fig, ax = plt.subplots(figsize=(4, 3.5))
plot_days(ax, X4, y4)
ax.set(xlabel="day $x_1$", ylabel="humidity $x_2$", xlim=(0, 4), ylim=(-1, 3),
       title="The four diary days")
plt.show()

# %% [markdown]
# Trying lines is not a proof, but a little algebra is. The days without rice, $(1, 1)$ and
# $(3, 1)$, have the midpoint $(2, 1)$, and so do the rice days $(2, 0)$ and $(2, 2)$. For any
# linear score $s(\mathbf{x}) = \mathbf{w}^\top \mathbf{x} + b$ that gives
#
# $$
# s(1, 1) + s(3, 1) = \mathbf{w}^\top (4, 2) + 2b = s(2, 0) + s(2, 2).
# $$
#
# A separating line would need both rice scores positive, so the right side positive, and both
# other scores negative, so the left side negative. They cannot be equal, so no line exists: the
# four points are not [linearly separable](../../book/glossary.md#term-linearly-separable).
# (This is the pattern known as XOR, "exclusive or".) Let's also try 100,000 random lines near
# the points: the identity holds for every one of them, and the best classifies three of the
# four days correctly.

# %%
d2lite.seed_everything(1)
W = torch.randn(100_000, 2)                                        # one line per row
# lines pass near (2, 1)
b = -(W @ torch.tensor([2.0, 1.0])) + 2 * torch.randn(100_000)
scores = X4 @ W.T + b                                              # (4, 100000)
identity_gap = (scores[0] + scores[3] - scores[1] - scores[2]).abs().max().item()
accuracy = (torch.sign(scores) == y4[:, None]).float().mean(dim=0)  # (100000,)
print(f"identity holds to {identity_gap:.1e}; "
      f"best line gets {accuracy.max():.2f} right")
assert torch.equal(X4[0] + X4[3], X4[1] + X4[2]), (
    "the two pairs should share a midpoint")
assert identity_gap < 1e-3, (
    f"s(1,1) + s(3,1) - s(2,0) - s(2,2) reached {identity_gap:.1e}")
assert accuracy.max() == 0.75, (
    f"the best random line got {accuracy.max():.2f} right, not 0.75")

# %% [markdown]
# ## A feature map that fixes it
#
# What if you put a step between the input and the output that moves the points somewhere a
# line *can* separate them? The source notes propose a concrete one: replace each day by its
# distances to the two points $(2, 2)$ and $(2, 0)$,
#
# $$
# \psi(\mathbf{x}) = \bigl(\lVert \mathbf{x} - (2, 2) \rVert,\;
# \lVert \mathbf{x} - (2, 0) \rVert\bigr).
# $$
#
# The rice day $(2, 2)$ goes to $(0, 2)$ and the rice day $(2, 0)$ to $(2, 0)$. Both days
# without rice are $\sqrt{2}$ away from each centre, so both go to the same point
# $(\sqrt{2}, \sqrt{2})$. In the new coordinates the rice days have $z_1 + z_2 = 2$ and the
# others $z_1 + z_2 = 2\sqrt{2} \approx 2.83$, so the line $z_1 + z_2 = 2.4$ separates them:
# the score $s(\mathbf{z}) = 2.4 - z_1 - z_2$ is positive exactly on the rice days.

# %%
centres = torch.tensor([[2.0, 2.0], [2.0, 0.0]])
# (4, 2): distance of each day to each centre
Z4 = torch.cdist(X4, centres)
for x, z, y in zip(X4.tolist(), Z4.tolist(), y4.tolist(), strict=True):
    print(f"{x} -> ({z[0]:.3f}, {z[1]:.3f})   rice: {y:+.0f}")
score = 2.4 - Z4.sum(dim=1)                          # (4,): the line z1 + z2 = 2.4
r2 = math.sqrt(2)
expected = torch.tensor([[r2, r2], [2.0, 0.0], [0.0, 2.0], [r2, r2]])
assert torch.allclose(Z4, expected), f"mapped points are {Z4.tolist()}"
assert torch.equal(torch.sign(score), y4), (
    "the line z1 + z2 = 2.4 should separate the days")

# %% [markdown]
# In [Figure 2](#fig-activations-feature-map), on the left the original days (the two centres
# are the rice days themselves), on the right their images under $\psi$ with the separating
# line. See how the two days without rice land on one point, away from the rice days, which stay
# on the other side of the dashed line.

# %% mystnb={"figure": {"caption": "Left: the four days in the input space. Right: their images under the distance map psi, separated by the dashed line z1 + z2 = 2.4.", "name": "fig-activations-feature-map"}}
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(6.5, 3.2), layout="constrained")
plot_days(ax0, X4, y4)
ax0.set(xlabel="day $x_1$", ylabel="humidity $x_2$", xlim=(0, 4), ylim=(-1, 3),
        title="input space")
plot_days(ax1, Z4, y4)
ax1.plot([0, 2.4], [2.4, 0], "k--", label="$z_1 + z_2 = 2.4$")
ax1.legend(fontsize=8, loc="upper right")
ax1.set(xlabel="$z_1$: distance to (2, 2)", ylabel="$z_2$: distance to (2, 0)",
        xlim=(-0.3, 3), ylim=(-0.3, 3), title="after the feature map")
plt.show()

# %% [markdown]
# Why does this map work where a linear one cannot? A linear map $\mathbf{A}\mathbf{x} +
# \mathbf{c}$ keeps midpoints: $\mathbf{A}(1, 1) + \mathbf{A}(3, 1) = \mathbf{A}(2, 0) +
# \mathbf{A}(2, 2)$, so after it the identity above still holds and still no line separates
# the days. The distance map is not linear and breaks the tie: the two days without rice now
# add up to $(2.83, 2.83)$, the two rice days to $(2, 2)$.

# %%
A, c = torch.randn(2, 2), torch.randn(2)
# (4, 2): a random linear map of the days
L4 = X4 @ A.T + c
linear_gap = (L4[0] + L4[3] - L4[1] - L4[2]).abs().max().item()
print("distance map: no rice", [round(v, 2) for v in (Z4[0] + Z4[3]).tolist()],
      " rice", (Z4[1] + Z4[2]).tolist())
assert linear_gap < 1e-5, (
    f"a linear map should keep the midpoints, gap {linear_gap:.1e}")
assert torch.allclose(Z4[0] + Z4[3], torch.full((2,), 2 * r2)), (
    "no-rice sums should be 2.83")
assert torch.equal(Z4[1] + Z4[2], torch.tensor([2.0, 2.0])), (
    "rice sums should be (2, 2)")

# %% [markdown]
# So the recipe is: transform the inputs nonlinearly, then draw a line. The trouble is that
# someone had to invent the distances, and the next data set will need a different invention.
#
# ## Let a hidden layer learn the map
#
# Here is the idea that makes neural networks work. Let the transformation have the form of a
# layer, a linear map followed by a nonlinear activation applied to each entry, and *learn* its
# weights together with the final line by gradient descent. The layer in the middle is a
# **[hidden layer](../../book/glossary.md#term-hidden-layer)** (隐藏层): you never see its outputs
# in the data. A network of linear layers with activations between them is a
# **[multilayer perceptron](../../book/glossary.md#term-multilayer-perceptron)** (多层感知机), or
# MLP. With one hidden layer of $h$ units and the ReLU as activation it computes
#
# $$
# \mathbf{h} = \max(0, \mathbf{W}_1 \mathbf{x} + \mathbf{b}_1), \qquad
# o = \mathbf{w}_2^\top \mathbf{h} + b_2,
# $$
#
# where the output $o$ is a logit, trained with binary cross-entropy exactly as in logistic
# regression. Everything after $\mathbf{h}$ *is* logistic regression, on features the network
# chose for itself. We take $h = 16$ units and let `d2lite.fit` run 100 steps of Adam on the
# full batch of four days, with the labels recoded as 0 and 1.

# %%
d2lite.seed_everything(0)
# -> (4,)
mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1), nn.Flatten(0))
# (4,): 1 for rice, 0 for no rice
rice01 = (y4 > 0).float()
adam = torch.optim.Adam(mlp.parameters(), lr=0.05)
d2lite.fit(mlp, [(X4, rice01)], loss_fn=nn.BCEWithLogitsLoss(), epochs=100,
           optimizer=adam)
# back from the GPU, if it was there
mlp = mlp.cpu()
result = d2lite.evaluate(mlp, [(X4, rice01)], loss_fn=nn.BCEWithLogitsLoss(),
                         metrics=[d2lite.accuracy])
print(f"loss {result['loss']:.4f}, accuracy {result['accuracy']:.0%}")
assert result["accuracy"] == 1.0, (
    f"the MLP got {result['accuracy']:.0%} of the days right")

# %% [markdown]
# All four days are right, where the best line managed three. The notes describe two ways to
# picture what happened. In the hidden layer's 16 coordinates the days are separated by a flat
# boundary, just as the distances separated them. Back in the input space that same boundary is
# bent. [Figure 3](#fig-activations-hidden-boundary) shows the second view: the shading is the
# network's probability of rice, and the solid lines, where it equals 0.5, bend to keep the days
# without rice in a band of their own.

# %% mystnb={"figure": {"caption": "The probability of rice that the one-hidden-layer ReLU network assigns over the input space; the solid line is where it equals 0.5.", "name": "fig-activations-hidden-boundary"}}
grid = torch.linspace(-1, 5, 121)
G1, G2 = torch.meshgrid(grid, grid, indexing="xy")                   # each (121, 121)
with torch.no_grad():
    prob = torch.sigmoid(mlp(torch.stack([G1.reshape(-1), G2.reshape(-1)], dim=1)))
fig, ax = plt.subplots(figsize=(4.5, 3.8))
shade = ax.contourf(G1, G2, prob.reshape(G1.shape), levels=10, cmap="RdBu", alpha=0.5)
ax.contour(G1, G2, prob.reshape(G1.shape), levels=[0.5], colors="k")
plot_days(ax, X4, y4)
fig.colorbar(shade, ax=ax, label="probability of rice")
ax.set(xlabel="day $x_1$", ylabel="humidity $x_2$", xlim=(0, 4), ylim=(-1, 3),
       title="What the hidden layer learned")
plt.show()

# %% [markdown]
# ## What makes a good activation function?
#
# The notes list three properties an activation should have.
#
# - **Nonlinear**, or the layers collapse, as you saw at the start.
# - **Differentiable**, because training follows its derivative (you will see exactly how in
#   [backpropagation](backpropagation.ipynb)).
# - **Monotone**, so that a larger weighted sum never means a smaller output.
#
# The first is essential. The other two are softened in practice: the ReLU has no derivative at
# 0 (PyTorch uses 0 there, and an input of exactly 0 hardly ever happens), and GELU, below, is
# not monotone. What matters as much is that the derivative is neither tiny nor zero over the
# inputs the unit sees, and that the function is cheap, since it runs on every unit of every
# layer. Here are the five you will meet most.
#
# - The **[sigmoid](../../book/glossary.md#term-sigmoid)** (S 型函数)
#   $\sigma(x) = 1 / (1 + e^{-x})$ from
#   [logistic regression](../02_linear/logistic_regression.ipynb) squashes any number into
#   $(0, 1)$. Its derivative is $\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$.
# - The **[tanh](../../book/glossary.md#term-tanh)** (双曲正切)
#   $\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}) = 2\sigma(2x) - 1$ is a sigmoid stretched to
#   $(-1, 1)$. It is centred on zero, so its outputs are not all positive. Its derivative is
#   $1 - \tanh^2(x)$.
# - The **[ReLU](../../book/glossary.md#term-ReLU)** (修正线性单元), rectified linear unit,
#   $\max(0, x)$ ([Nair and Hinton, 2010](../../book/references.md);
#   [Glorot et al., 2011](../../book/references.md)), passes positive inputs unchanged and
#   zeroes the rest. Its derivative is 1 for $x > 0$ and 0 for $x < 0$.
# - The **[leaky ReLU](../../book/glossary.md#term-leaky-ReLU)** (带泄漏的 ReLU) $\max(\alpha x, x)$
#   ([Maas et al., 2013](../../book/references.md)) keeps a small slope $\alpha$ for negative
#   inputs (PyTorch's default is $\alpha = 0.01$; we take 0.1 to make it visible).
# - The **[GELU](../../book/glossary.md#term-GELU)** (高斯误差线性单元), Gaussian error linear unit,
#   $x\,\Phi(x)$ ([Hendrycks and Gimpel, 2016](../../book/references.md)), where $\Phi$ is the
#   standard normal distribution function: a smooth ReLU that weighs each input by how likely a
#   standard normal variable is to be below it. BERT, in chapter 7, uses it.
#
# The cell computes each function and its derivative with autograd and compares the
# derivatives with the formulas above.

# %%
activations = {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "ReLU": nn.ReLU(),
               "leaky ReLU": nn.LeakyReLU(0.1), "GELU": nn.GELU()}
x = torch.linspace(-5, 5, 1001, requires_grad=True)          # (1001,), a step of 0.01
values, slopes = {}, {}
for name, act in activations.items():
    values[name] = act(x).detach()
    (slopes[name],) = torch.autograd.grad(act(x).sum(), x)    # (1001,): f'(x) at each x
xd, s = x.detach(), torch.sigmoid(x.detach())
Phi = 0.5 * (1 + torch.erf(xd / math.sqrt(2)))                # standard normal CDF
formulas = {"sigmoid": s * (1 - s), "tanh": 1 - torch.tanh(xd) ** 2,
            "ReLU": (xd > 0).float(), "leaky ReLU": torch.where(xd > 0, 1.0, 0.1),
            "GELU": Phi + xd * torch.exp(-xd ** 2 / 2) / math.sqrt(2 * math.pi)}
for name in activations:
    err = (slopes[name] - formulas[name]).abs().max().item()
    print(f"{name:>10}: largest gap between autograd and the formula {err:.1e}")
    assert err < 1e-5, f"{name}: autograd and the formula differ by {err:.1e}"

# %% [markdown]
# [Figure 4](#fig-activations-functions) draws the five functions on the left and their
# derivatives on the right. See how
# the sigmoid and tanh level off on both sides while their derivatives fall to 0, how the
# ReLU's derivative jumps from 0 to 1, and how GELU dips just below zero for negative inputs.

# %% mystnb={"figure": {"caption": "Sigmoid, tanh, ReLU, leaky ReLU and GELU (left) and their derivatives computed by autograd (right).", "name": "fig-activations-functions"}}
fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(6.5, 3), layout="constrained")
styles = ["-", "--", "-", ":", "-."]
for (name, value), style in zip(values.items(), styles, strict=True):
    ax_f.plot(xd, value, style, label=name)
    ax_d.plot(xd, slopes[name], style, label=name)
ax_f.set(xlabel="$x$", ylabel="$f(x)$", ylim=(-1.2, 3), title="activation functions")
ax_d.set(xlabel="$x$", ylabel="$f'(x)$", ylim=(-0.2, 1.2), title="their derivatives")
ax_f.legend(fontsize=8)
plt.show()

# %% [markdown]
# A few facts from the figure, checked. The identity $\tanh(x) = 2\sigma(2x) - 1$ holds. GELU
# is smallest, about $-0.17$, near $x = -0.75$, so it is not monotone. At $x = 0$ exactly,
# PyTorch gives the ReLU the derivative 0.

# %%
i_min = values["GELU"].argmin()
print(f"GELU's minimum {values['GELU'][i_min]:.3f} at x = {xd[i_min]:.2f}")
tanh_gap = (values["tanh"] - (2 * torch.sigmoid(2 * xd) - 1)).abs().max().item()
assert tanh_gap < 1e-6, f"tanh(x) and 2 sigmoid(2x) - 1 differ by {tanh_gap:.1e}"
assert abs(values["GELU"][i_min] + 0.17) < 0.005, "GELU's minimum should be about -0.17"
assert abs(xd[i_min] + 0.75) < 0.02, (
    f"GELU's minimum is at {xd[i_min]:.2f}, not near -0.75")
zero = torch.tensor(0.0, requires_grad=True)
(relu_slope_at_0,) = torch.autograd.grad(torch.relu(zero), zero)
assert relu_slope_at_0 == 0, (
    f"PyTorch's ReLU derivative at 0 is {relu_slope_at_0}, not 0")

# %% [markdown]
# ## Saturation
#
# The sigmoid's derivative is largest at $x = 0$, where $\sigma(0) = 0.5$ and
# $\sigma'(0) = 0.5 \cdot 0.5 = 0.25$. It is never larger, and it vanishes quickly on both
# sides: $\sigma'(\pm 10) \approx 4.5 \times 10^{-5}$. A unit whose weighted sum is large in
# size sits on a flat stretch of the curve, where changing its input hardly changes its output.
# Such a unit is **[saturated](../../book/glossary.md#term-saturation)** (饱和): the gradient that
# flows through it is nearly zero, so its weights barely learn. tanh saturates as well, although
# its slope at 0 is 1: $\tanh'(5) \approx 1.8 \times 10^{-4}$. The ReLU never saturates for
# positive inputs, where its slope is always exactly 1.

# %%
points = torch.tensor([0.0, 10.0, -10.0, 5.0], requires_grad=True)
(d_sigmoid,) = torch.autograd.grad(torch.sigmoid(points).sum(), points)   # (4,)
(d_tanh,) = torch.autograd.grad(torch.tanh(points).sum(), points)         # (4,)
print("sigmoid' at 0, 10, -10:", [f"{v:.2e}" for v in d_sigmoid[:3].tolist()])
print(f"tanh' at 0: {d_tanh[0]:.3f}, at 5: {d_tanh[3]:.2e}")
assert slopes["sigmoid"].max() <= 0.25 and d_sigmoid[0] == 0.25, (
    "sigmoid' peaks at 0.25")
assert torch.allclose(d_sigmoid[1:3], torch.tensor(4.5e-5), rtol=0.01), "sigmoid'(±10)"
assert d_tanh[0] == 1 and abs(d_tanh[3] - 1.8e-4) < 0.05e-4, (
    f"tanh'(5) = {d_tanh[3]:.2e}")
assert (slopes["ReLU"][xd > 0] == 1).all(), (
    "the ReLU's slope is 1 for every positive input")

# %% [markdown]
# Saturation compounds with depth. By the chain rule, the gradient that reaches the first layer
# of a deep network is a product with one factor per layer, and each activation contributes its
# slope. With sigmoids each such factor is at most 0.25, so after 10 layers the product is at
# most $0.25^{10} \approx 9.5 \times 10^{-7}$. This is the
# **[vanishing gradient](../../book/glossary.md#term-vanishing-gradient)** (梯度消失) problem, a
# main obstacle to training deep networks before ReLUs became the default
# ([Glorot et al., 2011](../../book/references.md)). To see it in its purest form, chain 10
# units with weight 1 and bias 0, $h_{k} = f(h_{k-1})$, start at $h_0 = 1$, and ask autograd for
# $\partial h_{10} / \partial h_0$.

# %%
def chain_slope(f, depth=10, start=1.0):
    """d h_depth / d h_0 for the chain h_k = f(h_{k-1}), starting at h_0 = start."""
    h0 = torch.tensor(start, requires_grad=True)
    h = h0
    for _ in range(depth):
        h = f(h)
    (slope,) = torch.autograd.grad(h, h0)
    return slope.item()

chain = {name: chain_slope(act) for name, act in activations.items()}
print({name: f"{value:.1e}" for name, value in chain.items()})
assert 0 < chain["sigmoid"] <= 0.25 ** 10, f"10 sigmoids give {chain['sigmoid']:.1e}"
assert chain["ReLU"] == 1 and chain["leaky ReLU"] == 1, (
    "positive inputs pass ReLUs unchanged")
assert abs(chain["sigmoid"] - 2.8e-7) < 0.05e-7, (
    f"10 sigmoids give {chain['sigmoid']:.2e}")
assert 0.03 < chain["tanh"] < 0.05, (
    f"10 tanh units give {chain['tanh']:.3f}, not about 0.04")
assert chain["tanh"] > 1e5 * chain["sigmoid"], "tanh's chain should keep 1e5 times more"

# %% [markdown]
# Ten sigmoids shrink the gradient to $2.8 \times 10^{-7}$, below the bound. Ten tanh units
# shrink it to about 0.04, a hundred thousand times more than the sigmoids keep, and ten ReLUs,
# on a positive input, not at all. In a real network the weights multiply in as well, and
# large weights could make up for small slopes, but with a sigmoid or tanh large weights push
# the weighted sums into the flat tails. This is why hidden layers today use the ReLU and its
# relatives, and the sigmoid appears mostly at the output, where it turns a logit into a
# probability.
#
# ## Dead ReLUs
#
# The ReLU's strength has a flip side: for negative inputs its slope is exactly 0, not merely
# small. Suppose a unit's bias has become very negative, for instance after one overly large
# gradient step. Then its weighted sum is negative for every training example, the unit outputs
# 0 for all of them, and every gradient through it is exactly zero. Gradient descent can never
# move its weights again. The unit is dead, the
# **[dying ReLU](../../book/glossary.md#term-dying-ReLU)** (ReLU 死亡) problem. Let's build such a
# unit on 1,000 random inputs, with bias $-10$, and train it with `d2lite.fit` to match targets
# that it could perfectly well learn to produce.

# %%
d2lite.seed_everything(2)
X_unit = torch.randn(1000, 2)                                # (1000, 2)
# (1000,): what a live unit could fit
y_unit = torch.relu(X_unit @ torch.tensor([1.0, -1.0]))

def unit_with(activation):
    """One unit, weights (0.5, -0.3) and bias -10, then `activation`: (n, 2) -> (n,)."""
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -0.3]]))
        layer.bias.fill_(-10.0)
    return nn.Sequential(layer, activation, nn.Flatten(0))

# %% [markdown]
# First the gradient at the start. The largest weighted sum over all 1,000 inputs is far below
# zero, so the ReLU outputs 0 everywhere and the gradients of the loss with respect to the
# unit's weights and bias are exactly zero. The same unit with a leaky ReLU gets a gradient.

# %%
units = {"ReLU": unit_with(nn.ReLU()), "leaky ReLU": unit_with(nn.LeakyReLU(0.1))}
for name, unit in units.items():
    nn.functional.mse_loss(unit(X_unit), y_unit).backward()
    grad_size = unit[0].weight.grad.abs().sum() + unit[0].bias.grad.abs().sum()
    print(f"{name:>10}: gradient size {grad_size:.4f}")
    assert (grad_size == 0) == (name == "ReLU"), (
        f"{name}: gradient size {grad_size:.4f}")
    unit.zero_grad()
largest_sum = (X_unit @ torch.tensor([0.5, -0.3]) - 10).max().item()
print(f"largest weighted sum over the data: {largest_sum:.2f}")
assert largest_sum < 0, "the dead unit's weighted sum should be negative on every input"

# %% [markdown]
# Now train both for 100 full-batch steps of plain gradient descent with learning rate 0.5.
# The ReLU unit ends exactly where it started. The leaky unit's bias climbs out of the hole,
# and it ends up firing on part of the data.

# %%
for name, unit in units.items():
    optimizer = torch.optim.SGD(unit.parameters(), lr=0.5)
    d2lite.fit(unit, [(X_unit, y_unit)], loss_fn=nn.MSELoss(), optimizer=optimizer,
               epochs=100)
    units[name] = unit.cpu()
    bias = unit[0].bias.item()
    firing = (unit[0](X_unit) > 0).float().mean().item()
    print(f"{name:>10}: bias {bias:+.2f}, fires on {firing:.0%} of the inputs")
assert units["ReLU"][0].bias.item() == -10, (
    "the dead unit's bias should not move at all")
assert units["leaky ReLU"][0].bias.item() > -1, "the leaky unit's bias should climb out"
assert (units["leaky ReLU"][0](X_unit) > 0).float().mean() > 0.1, "it should fire again"

# %% [markdown]
# Dead units do occur in real networks, especially when the learning rate is large. The cures
# are a smaller learning rate, a leaky ReLU or GELU, and the careful initialisation and
# normalisation of later chapters.
#
# ## Two ReLUs fold a line
#
# How can units that are each just "a line, bent once" build curved boundaries like the one the
# MLP drew around the rice days? The notes answer with a tiny network of one input $x$, two
# hidden ReLUs and one output ReLU:
#
# $$
# \begin{aligned}
# f_1 &= \max(w_1 x + b_1, 0), \qquad f_2 = \max(w_2 x + b_2, 0),\\
# f_3 &= \max(w_3 f_1 + w_4 f_2 + b_3, 0),
# \end{aligned}
# $$
#
# with the weights $w_1 = 1$, $w_2 = -1$, $w_3 = 1$, $w_4 = 1$ and the biases $b_1 = -0.5$,
# $b_2 = 0.5$, $b_3 = -1$. Then $f_1 = \max(x - 0.5, 0)$ and $f_2 = \max(0.5 - x, 0)$; at most
# one of them is nonzero, so $f_1 + f_2 = |x - 0.5|$, and
#
# $$
# f_3(x) = \max(|x - 0.5| - 1, 0),
# $$
#
# which is 0 on $[-0.5, 1.5]$ and rises with slope 1 on both sides. Let's build it from
# `nn.Linear` layers with exactly those weights.

# %%
hidden, output = nn.Linear(1, 2), nn.Linear(2, 1)
with torch.no_grad():
    hidden.weight.copy_(torch.tensor([[1.0], [-1.0]]))      # w1, w2: (2, 1)
    hidden.bias.copy_(torch.tensor([-0.5, 0.5]))            # b1, b2
    output.weight.copy_(torch.tensor([[1.0, 1.0]]))         # w3, w4: (1, 2)
    output.bias.fill_(-1.0)                                 # b3
fold = nn.Sequential(hidden, nn.ReLU(), output, nn.ReLU())

# %% [markdown]
# Evaluate it at a few points, with the two hidden units alongside. By the formula,
# $f_3(-2) = 2.5 - 1 = 1.5$, $f_3 = 0$ anywhere between $-0.5$ and $1.5$, $f_3(2) = 0.5$ and
# $f_3(3) = 1.5$.

# %% tags=["nbval-check-output"]
xs = torch.tensor([[-2.0], [-0.5], [0.0], [0.5], [1.5], [2.0], [3.0]])   # (7, 1)
with torch.no_grad():
    f12, f3 = torch.relu(hidden(xs)), fold(xs)                          # (7, 2), (7, 1)
rows = zip(xs[:, 0].tolist(), f12.tolist(), f3[:, 0].tolist(), strict=True)
for x_, (f1, f2), y_ in rows:
    print(f"x = {x_:+.1f}:  f1 = {f1:.1f}  f2 = {f2:.1f}  f3 = {y_:.1f}")

# %%
assert f3[:, 0].tolist() == [1.5, 0.0, 0.0, 0.0, 0.0, 0.5, 1.5], (
    f"f3 = {f3[:, 0].tolist()}")
assert torch.equal(f12.sum(dim=1), (xs[:, 0] - 0.5).abs()), (
    "f1 + f2 should equal |x - 0.5|")

# %% [markdown]
# [Figure 5](#fig-activations-fold), like the plot in the notes, shows the three functions.
# $f_1$ and $f_2$ are ReLUs, each with a single bend; $f_3$ has two bends and three straight
# pieces, a flat floor between two ramps. One more layer has folded the line once more.

# %% mystnb={"figure": {"caption": "The notes' fold network: the two hidden ReLUs f1 and f2 and the output f3 = max(f1 + f2 - 1, 0).", "name": "fig-activations-fold"}}
line = torch.linspace(-2, 3, 501)[:, None]                  # (501, 1)
with torch.no_grad():
    f12_line, f3_line = torch.relu(hidden(line)), fold(line)
curves = [f12_line[:, 0], f12_line[:, 1], f3_line[:, 0]]
ax = d2lite.plot(line[:, 0], curves, "$x$", "value",
                 legend=["$f_1 = \\max(x - 0.5, 0)$", "$f_2 = \\max(0.5 - x, 0)$",
                         "$f_3 = \\max(f_1 + f_2 - 1, 0)$"],
                 fmts=["C0--", "C1:", "C3-"], title="The notes' fold network")
plt.show()

# %% [markdown]
# The slopes confirm the three pieces: $-1$ on the left, 0 on the floor, $+1$ on the right.
# The notes add one more point. A ReLU output can never be negative, so the output layer of a
# real network usually has no ReLU. Drop the last one, and the network computes
# $|x - 0.5| - 1$, a V whose tip at $x = 0.5$ reaches $-1$.

# %%
x_slope = torch.tensor([[-1.0], [0.5], [2.0]], requires_grad=True)
(fold_slopes,) = torch.autograd.grad(fold(x_slope).sum(), x_slope)          # (3, 1)
# no output ReLU
v_shape = nn.Sequential(hidden, nn.ReLU(), output)
with torch.no_grad():
    v_min, i_v = v_shape(line)[:, 0].min(dim=0)
print(f"slopes {fold_slopes[:, 0].tolist()}; without the last ReLU: min {v_min:.2f} "
      f"at x = {line[i_v, 0]:.2f}")
assert fold_slopes[:, 0].tolist() == [-1.0, 0.0, 1.0], (
    f"slopes {fold_slopes[:, 0].tolist()}")
assert abs(v_min + 1) < 1e-6, f"the V should reach -1, not {v_min:.3f}"
assert abs(line[i_v, 0] - 0.5) < 1e-6, (
    f"the V's tip is at x = {line[i_v, 0]:.3f}, not 0.5")

# %% [markdown]
# Change the weights and the bends move, tilt and flip; add units and you get more bends; add
# inputs and the bends become creases in a surface, like the bent boundary around the rice days.
# With enough hidden units, one hidden layer can approximate any continuous function on a
# bounded region as closely as you like, for the sigmoid
# ([Cybenko, 1989](../../book/references.md)) and for any activation that is not a polynomial,
# the ReLU included ([Leshno et al., 1993](../../book/references.md)). This is the
# **[universal approximation theorem](../../book/glossary.md#term-universal-approximation-theorem)**
# (万能近似定理). It says that a network exists, not how many units it needs or that training will
# find it.
#
# ## Explore: activation and width
#
# The widget of [Figure 6](#fig-activations-explorer) trains a small MLP, two hidden layers of
# the chosen width with the chosen activation, for 300 full-batch Adam steps on 64 noisy points
# of $\sin 2x + 0.3x$. Its left panel draws the activation and its derivative, the right panel
# the data and the fitted curve, with the final mean squared error in the title. Move the
# sliders. With ReLU and leaky ReLU the fit is made of straight pieces, folds like the ones
# above; with tanh, sigmoid and GELU it is smooth. At width 4 the sigmoid network is too stiff
# to follow the outer waves, and even at width 64 it misses them after the same 300 steps: its
# small slopes make it learn slowly. The other four follow every wave at width 64 and start to
# chase the noise as well. (In a live Jupyter kernel the widget trains each new setting on the
# spot.)

# %% mystnb={"figure": {"caption": "Widget: an MLP of the chosen activation and width fitted to noisy points of sin 2x + 0.3x; left, the activation and its derivative; right, the data and the fit.", "name": "fig-activations-explorer"}}
explorer = d2lite.widgets.activation_explorer(widths=(4, 16, 64), task="curve")
explorer

# %% [markdown]
# A widget's `update` returns the numbers it plotted, so the claims can be checked. To leave the
# widget above as its cell set it up, make a second copy, `probe`, that is never displayed, and
# call its `update` instead. For every activation the width-64 network fits better than the
# width-4 one, and the sigmoid is the worst of the five at both widths, with an error above 0.02
# even at width 64. The other four do better at width 64 than the true curve $\sin 2x + 0.3x$
# itself, whose error on these points is about 0.008, all noise: they are fitting the noise, a
# topic for the lesson on regularisation. And the widget's sigmoid derivative peaks at 0.25, as
# it should.

# %%
keys = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu"]
probe = d2lite.widgets.activation_explorer(widths=(4, 16, 64), task="curve")
fit_loss = {(key, width): probe.update(activation=key, width=width)["loss"]
            for key in keys for width in (4, 64)}
for key in keys:
    print(f"{key:>10}: width 4 loss {fit_loss[key, 4]:.4f}, "
          f"width 64 loss {fit_loss[key, 64]:.4f}")
    assert fit_loss[key, 64] < fit_loss[key, 4], f"{key}: width 64 should fit better"
for width in (4, 64):
    worst = max(keys, key=lambda k: fit_loss[k, width])
    assert worst == "sigmoid", f"the worst fit at width {width} is {worst}, not sigmoid"
assert fit_loss["sigmoid", 64] > 0.02, (
    f"sigmoid at width 64: {fit_loss['sigmoid', 64]:.4f}")
sigmoid_df = probe.update(activation="sigmoid")["df"]                         # (200,)
assert abs(sigmoid_df.max() - 0.25) < 1e-3, (
    f"the widget's sigmoid' peaks at {sigmoid_df.max():.3f}")

# %% [markdown]
# The widget also returns its training data, so you can measure the error of the true curve.

# %%
x_data = torch.tensor(probe.data["X_train"][:, 0])                            # (64,)
y_data = torch.tensor(probe.data["y_train"])                                  # (64,)
true_loss = ((y_data - torch.sin(2 * x_data) - 0.3 * x_data) ** 2).mean().item()
print(f"error of the true curve on the data: {true_loss:.4f}")
assert abs(true_loss - 0.008) < 0.001, f"the true curve's error is {true_loss:.4f}"
for key in ("relu", "leaky_relu", "tanh", "gelu"):
    assert fit_loss[key, 64] < true_loss, (
        f"{key} at width 64 should beat the true curve")

# %% [markdown]
# ## Summary
#
# - A stack of linear layers is one linear layer: $\mathbf{W}_2(\mathbf{W}_1 \mathbf{x} +
#   \mathbf{b}_1) + \mathbf{b}_2 = \mathbf{W}_2\mathbf{W}_1 \mathbf{x} + (\mathbf{W}_2
#   \mathbf{b}_1 + \mathbf{b}_2)$. A nonlinear activation between the layers is what makes
#   depth worth having.
# - The four diary days $(1, 1), (3, 1)$ against $(2, 0), (2, 2)$ share a midpoint, so no line
#   separates them; the best gets 3 of 4. Distances to $(2, 2)$ and $(2, 0)$ make them
#   separable, and a hidden layer of 16 ReLUs learns a map of its own that gets all four right.
# - Sigmoid and tanh are smooth but saturate: $\sigma' \le 0.25$ and tiny for large $|x|$,
#   and a chain of 10 sigmoids passes on less than $10^{-6}$ of the gradient. The ReLU has
#   slope 1 for every positive input, but a unit whose weighted sum is negative on all the data
#   is dead: its gradient is exactly 0. Leaky ReLU and GELU keep a gradient for negative inputs.
# - Each ReLU bends a line once. The notes' two-unit network folds it into
#   $\max(|x - 0.5| - 1, 0)$; with enough units such folds approximate any continuous function.
#
# ## Exercises
#
# 1. **Move the floor.** Choose new weights and biases for the fold network so that $f_3$ is 0
#    on $[0, 2]$ and rises with slope 2 on both sides. Check them at $x = -1, 1, 3$, where
#    $f_3$ should be 2, 0 and 2.

# %% tags=["hide-cell"]
# A solution. Make f1 + f2 = 2|x - 1| (slopes +-2, bend at 1), then subtract 2:
# f3 = max(2|x - 1| - 2, 0) is 0 where |x - 1| <= 1, that is on [0, 2].
hidden2, output2 = nn.Linear(1, 2), nn.Linear(2, 1)
with torch.no_grad():
    hidden2.weight.copy_(torch.tensor([[2.0], [-2.0]]))     # w1, w2
    hidden2.bias.copy_(torch.tensor([-2.0, 2.0]))           # b1, b2
    output2.weight.copy_(torch.tensor([[1.0, 1.0]]))        # w3, w4
    output2.bias.fill_(-2.0)                                # b3
fold2 = nn.Sequential(hidden2, nn.ReLU(), output2, nn.ReLU())
with torch.no_grad():
    checks = fold2(torch.tensor([[-1.0], [1.0], [3.0]])).flatten().tolist()
print("f3 at -1, 1, 3:", checks)
assert checks == [2.0, 0.0, 2.0], f"f3 = {checks}"

# %% [markdown]
# 2. **Two hidden units are enough.** The fold suggests a hand-made solution for the diary
#    days: $h_1 = \max(x_2 - 1, 0)$ and $h_2 = \max(1 - x_2, 0)$ add up to $|x_2 - 1|$, which is
#    1 on the rice days and 0 on the others. Write these weights into a network with two hidden
#    ReLUs and output weights $(1, 1)$, bias $-0.5$, and check that the sign of its output is
#    right on all four days. Then train width-2 networks with `d2lite.fit` from seeds 0 to 9:
#    how many reach 100 %, and do the failures have dead units?

# %% tags=["hide-cell"]
# A solution for the hand-made part: the hidden units look only at the humidity x2.
net2 = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1), nn.Flatten(0))
with torch.no_grad():
    net2[0].weight.copy_(torch.tensor([[0.0, 1.0], [0.0, -1.0]]))   # x2, -x2
    net2[0].bias.copy_(torch.tensor([-1.0, 1.0]))
    net2[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
    net2[2].bias.fill_(-0.5)
    outputs2 = net2(X4)                                              # (4,)
print("outputs:", outputs2.tolist())
assert torch.equal(torch.sign(outputs2), y4), "the hand-made network should be right"

# %% [markdown]
# 3. **Deeper chains.** Use `chain_slope` to plot $\partial h_{L} / \partial h_0$ against the
#    depth $L = 1, \dots, 20$ for all five activations on a log scale. Which shrink
#    geometrically, and at what rate? Check that for the sigmoid the slope is at most
#    $0.25^L$ for every $L$.

# %% tags=["hide-cell"]
# A solution for the sigmoid. Its chain settles at the fixed point h = sigmoid(h), about
# 0.659, so each extra layer multiplies the slope by sigmoid'(0.659) =
# 0.659 (1 - 0.659),
# about 0.225: geometric shrinking, a little faster than the bound 0.25 per layer.
sig_slopes = [chain_slope(nn.Sigmoid(), depth) for depth in range(1, 21)]
assert all(v <= 0.25 ** d for d, v in enumerate(sig_slopes, start=1)), "above 0.25^L"
h_star = 0.5
for _ in range(100):                       # iterate h = sigmoid(h) to its fixed point
    h_star = 1 / (1 + math.exp(-h_star))
rate = sig_slopes[-1] / sig_slopes[-2]
print(f"fixed point {h_star:.3f}; slope ratio at depth 20 {rate:.4f}, "
      f"sigmoid' there {h_star * (1 - h_star):.4f}")
assert abs(rate - h_star * (1 - h_star)) < 1e-3, "the chain shrinks by sigmoid'(h*)"

# %% [markdown]
# 4. **Boundaries instead of curves.** The activation explorer can also classify two
#    interleaved half-moons: build it with `task="boundary"` and `widths=(4, 16)`. Which
#    activation has the lowest accuracy at width 4? Its `update` method returns the numbers
#    it plotted, the accuracy among them.
