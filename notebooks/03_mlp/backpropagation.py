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
# # Backpropagation by hand
#
# To train a network you need the derivative of its loss with respect to every weight and bias,
# at every step. In this lesson you work the chain rule through a small two-layer network by
# hand, number by number, and see that all those derivatives come out of one sweep from the
# output back to the input that reuses what the forward pass computed. You then write the sweep
# with matrices (the $\delta$ recursion), follow the shape of every matrix for a batch, implement
# backpropagation for a whole multilayer perceptron yourself, and check it against autograd and
# against finite differences to a relative error below $10^{-6}$.

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
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# %% [markdown]
# ## Why one backward sweep?
#
# Gradient descent needs $\partial L / \partial \theta$ for every parameter $\theta$. In a network
# of several layers the loss is a function of a function of a function, and every neuron has its
# own weights and bias, so there are many parameters. You could write out the derivative of the
# loss with respect to each of them separately, but look at what that would repeat: the
# derivative with respect to a first-layer weight passes through every later layer, and so does
# the derivative with respect to every other first-layer weight. The pieces that belong to the
# later layers are shared.
#
# **[Backpropagation](../../book/glossary.md#term-backpropagation)** (反向传播) computes each shared
# piece once. After a forward pass has computed, and kept, every intermediate value, it starts
# at the output and moves backwards one layer at a time, turning the derivatives of a layer into
# those of the layer before it ([Rumelhart et al., 1986](../../book/references.md)). Autograd
# does exactly this for you
# ([the autograd lesson](../01_preliminaries/autograd_and_graphs.ipynb)); in this lesson you do
# it yourself, so that nothing about it is magic.
#
# ## A small two-layer network
#
# Take the network of the source notes. Two inputs $x_1, x_2$ feed two neurons, which feed two
# more neurons, which feed the output:
#
# $$
# \begin{aligned}
# u_1 &= w_1 x_1 + w_2 x_2 + b_1, & v_1 &= w_3 x_1 + w_4 x_2 + b_2, \\
# u_2 &= w_5 f(u_1) + w_6 g(v_1) + b_3, & v_2 &= w_7 f(u_1) + w_8 g(v_1) + b_4, \\
# \mathrm{OUT} &= w_9 f(u_2) + w_{10} g(v_2). &&
# \end{aligned}
# $$
#
# Each $u$-neuron passes its weighted sum through an activation function $f$, each $v$-neuron
# through $g$. That makes ten weights and four biases. As in the notes, treat $\mathrm{OUT}$
# itself as the number you want to make small; a loss would only add one more link at the end
# of the chain. The notes draw this network with symbols only, so to work with numbers let's
# pick $f = \sigma$ (the sigmoid), $g = \tanh$ and their derivatives
# $\sigma' = \sigma(1 - \sigma)$ and $\tanh' = 1 - \tanh^2$.

# %%
def f(t):
    return torch.sigmoid(t)            # the u-neurons' activation

def g(t):
    return torch.tanh(t)               # the v-neurons' activation

def df(t):
    return f(t) * (1 - f(t))           # sigmoid' = sigmoid (1 - sigmoid)

def dg(t):
    return 1 - g(t) ** 2               # tanh' = 1 - tanh^2


# %% [markdown]
# Now some small weights, the input $x = (1, 2)$, and the forward pass written out line by line
# from the equations. Every number is a float64 tensor, so that the same function also runs
# under autograd later. The function returns every weighted sum, because the backward pass
# will need them.

# %%
numbers = dict(w1=0.5, w2=-1.0, w3=1.0, w4=0.5, b1=0.5, b2=-0.5,   # first layer
               w5=1.0, w6=-2.0, w7=0.5, w8=1.0, b3=0.0, b4=0.5,    # second layer
               w9=2.0, w10=-1.0)                                   # output
p = {name: torch.tensor(value, dtype=torch.float64) for name, value in numbers.items()}
x1, x2 = 1.0, 2.0

def seed_forward(p, x1, x2):
    """The notes' network: its weighted sums u1, v1, u2, v2 and its output OUT."""
    u1 = p["w1"] * x1 + p["w2"] * x2 + p["b1"]
    v1 = p["w3"] * x1 + p["w4"] * x2 + p["b2"]
    u2 = p["w5"] * f(u1) + p["w6"] * g(v1) + p["b3"]
    v2 = p["w7"] * f(u1) + p["w8"] * g(v1) + p["b4"]
    out = p["w9"] * f(u2) + p["w10"] * g(v2)
    return {"u1": u1, "v1": v1, "u2": u2, "v2": v2, "OUT": out}


# %% [markdown]
# Running it is the **[forward propagation](../../book/glossary.md#term-forward-propagation)**
# (前向传播), or forward pass: values flow from the inputs to the output.

# %%
s = seed_forward(p, x1, x2)
# which activation each neuron applies
acts = {"u1": f, "v1": g, "u2": f, "v2": g}
for name, act in acts.items():
    print(f"{name} = {s[name]:+.4f}    {act.__name__}({name}) = {act(s[name]):.4f}")
print(f"OUT = {s['OUT']:+.4f}")

# %% [markdown]
# You can follow it with a pocket calculator. The first layer gives
# $u_1 = 0.5 \cdot 1 - 1 \cdot 2 + 0.5 = -1$ and $v_1 = 1 \cdot 1 + 0.5 \cdot 2 - 0.5 = 1.5$, so
# $f(u_1) = \sigma(-1) = 0.2689$ and $g(v_1) = \tanh 1.5 = 0.9051$. The second layer gives
# $u_2 = 0.2689 - 2 \cdot 0.9051 = -1.5414$ and $v_2 = 0.5 \cdot 0.2689 + 0.9051 + 0.5 = 1.5396$,
# and finally
# $\mathrm{OUT} = 2\,\sigma(-1.5414) - \tanh 1.5396 = 2 \cdot 0.1763 - 0.9121 = -0.5594$.

# %%
def close(value, expected, tol=5e-5):
    """True when a number (or 0-d tensor) matches a 4-decimal value of the prose."""
    return abs(float(value) - expected) < tol

assert s["u1"] == -1 and s["v1"] == 1.5, "the first layer's sums should be -1 and 1.5"
assert close(f(s["u1"]), 0.2689) and close(g(s["v1"]), 0.9051), "f(u1), g(v1) are off"
assert close(s["u2"], -1.5414) and close(s["v2"], 1.5396), (
    "the second layer's sums are off")
assert close(f(s["u2"]), 0.1763) and close(g(s["v2"]), 0.9121), "f(u2), g(v2) are off"
assert close(s["OUT"], -0.5594), f"OUT = {s['OUT']:.4f}, expected -0.5594"

# %% [markdown]
# ## Backward, one layer at a time
#
# Now the fourteen derivatives
# $\partial \mathrm{OUT} / \partial w_1, \dots, \partial \mathrm{OUT} / \partial b_4$. Computing
# $\partial \mathrm{OUT} / \partial w_1$ in one go looks daunting, so start where it is easy: at
# the last layer, then step back.
#
# ### The output layer
#
# $\mathrm{OUT} = w_9 f(u_2) + w_{10} g(v_2)$ is linear in $w_9$ and $w_{10}$, so
# $\partial \mathrm{OUT} / \partial w_9 = f(u_2) = 0.1763$ and
# $\partial \mathrm{OUT} / \partial w_{10} = g(v_2) = 0.9121$: numbers the forward pass has
# already computed. One step further back, the chain rule gives the derivatives with respect to
# the last weighted sums:
#
# $$
# \frac{\partial \mathrm{OUT}}{\partial u_2} = w_9 \, f'(u_2) = 0.2905, \qquad
# \frac{\partial \mathrm{OUT}}{\partial v_2} = w_{10} \, g'(v_2) = -0.1682.
# $$

# %%
grad = {"w9": f(s["u2"]), "w10": g(s["v2"])}    # dOUT/dw9, dOUT/dw10
d_u2 = p["w9"] * df(s["u2"])                     # dOUT/du2
d_v2 = p["w10"] * dg(s["v2"])                    # dOUT/dv2
print(f"dOUT/dw9 = {grad['w9']:.4f}, dOUT/dw10 = {grad['w10']:.4f}")
print(f"dOUT/du2 = {d_u2:.4f}, dOUT/dv2 = {d_v2:.4f}")
assert close(grad["w9"], 0.1763) and close(grad["w10"], 0.9121), (
    "output-layer weights are off")
assert close(d_u2, 0.2905) and close(d_v2, -0.1682), "dOUT/du2 or dOUT/dv2 is off"

# %% [markdown]
# ### The second layer
#
# $u_2 = w_5 f(u_1) + w_6 g(v_1) + b_3$, so $\partial u_2 / \partial w_5 = f(u_1)$,
# $\partial u_2 / \partial w_6 = g(v_1)$ and $\partial u_2 / \partial b_3 = 1$, and the same for
# $v_2$. Multiply each by the derivative you just found for $u_2$ or $v_2$. For instance
# $\partial \mathrm{OUT} / \partial w_5 = 0.2905 \cdot 0.2689 = 0.0781$ and, as the notes put it,
# $\partial \mathrm{OUT} / \partial b_4 = 1 \cdot g'(v_2) \cdot w_{10} = -0.1682$.

# %%
grad.update(w5=d_u2 * f(s["u1"]), w6=d_u2 * g(s["v1"]), b3=d_u2,
            w7=d_v2 * f(s["u1"]), w8=d_v2 * g(s["v1"]), b4=d_v2)
print({name: round(grad[name].item(), 4) for name in "w5 w6 w7 w8 b3 b4".split()})
assert close(grad["w5"], 0.0781) and close(grad["b4"], -0.1682), (
    "second-layer values are off")

# %% [markdown]
# ### Where two paths meet
#
# To step back into the first layer you need $\partial \mathrm{OUT} / \partial f(u_1)$, and here
# is the one point that needs care. $f(u_1)$ feeds *both* $u_2$ (through $w_5$) and $v_2$
# (through $w_7$), so a change in $f(u_1)$ reaches the output along two paths. The multivariable
# chain rule,
# $\frac{\partial z}{\partial x} = \frac{\partial z}{\partial u}\frac{\partial u}{\partial x} +
# \frac{\partial z}{\partial v}\frac{\partial v}{\partial x}$, adds them:
#
# $$
# \frac{\partial \mathrm{OUT}}{\partial f(u_1)} = w_9 f'(u_2)\, w_5 + w_{10} g'(v_2)\, w_7
# = 0.2905 \cdot 1 - 0.1682 \cdot 0.5 = 0.2064,
# $$
#
# and in the same way
# $\partial \mathrm{OUT} / \partial g(v_1) = w_9 f'(u_2)\, w_6 + w_{10} g'(v_2)\, w_8
# = 0.29049 \cdot (-2) - 0.16815 \cdot 1 = -0.7491$. Every arrow that leaves an activation
# contributes one term.

# %%
d_fu1 = d_u2 * p["w5"] + d_v2 * p["w7"]   # f(u1) reaches OUT through u2 and through v2
d_gv1 = d_u2 * p["w6"] + d_v2 * p["w8"]   # and so does g(v1)
print(f"dOUT/df(u1) = {d_fu1:.4f}, dOUT/dg(v1) = {d_gv1:.4f}")
assert close(d_fu1, 0.2064) and close(d_gv1, -0.7491), "the sums over two paths are off"

# %% [markdown]
# ### The first layer
#
# One more local derivative takes you through the activations:
# $\partial \mathrm{OUT} / \partial u_1 = 0.2064 \cdot f'(-1) = 0.2064 \cdot 0.1966 = 0.0406$ and
# $\partial \mathrm{OUT} / \partial v_1 = -0.7491 \cdot g'(1.5) = -0.7491 \cdot 0.1807 = -0.1354$.
# The first layer's weights multiply the inputs, so
# $\partial \mathrm{OUT} / \partial w_1 = 0.0406 \cdot x_1 = 0.0406$ and
# $\partial \mathrm{OUT} / \partial w_2 = 0.0406 \cdot x_2 = 0.0812$.

# %%
d_u1 = d_fu1 * df(s["u1"])                # dOUT/du1
d_v1 = d_gv1 * dg(s["v1"])                # dOUT/dv1
grad.update(w1=d_u1 * x1, w2=d_u1 * x2, b1=d_u1, w3=d_v1 * x1, w4=d_v1 * x2, b2=d_v1)
print({name: round(grad[name].item(), 4) for name in "w1 w2 w3 w4 b1 b2".split()})
assert close(df(s["u1"]), 0.1966) and close(dg(s["v1"]), 0.1807), "the slopes are off"
assert close(grad["w1"], 0.0406) and close(grad["w2"], 0.0812), (
    "first-layer weights are off")
assert close(d_v1, -0.1354), f"dOUT/dv1 = {d_v1:.4f}, expected -0.1354"

# %% [markdown]
# Look back at what each step did: it multiplied a derivative found one step later by a local
# derivative (a weight, an input, a slope of an activation) and never recomputed anything. The
# backward sweep therefore costs a small multiple of the forward pass (exercise 4 asks you to
# count how many), however many parameters there are.
#
# Let autograd check all fourteen numbers: give it copies of the parameters that require
# gradients, run the same forward function, and call `backward`.

# %%
leaves = {name: t.clone().requires_grad_() for name, t in p.items()}
seed_forward(leaves, x1, x2)["OUT"].backward()
gap = max(abs(grad[name] - leaves[name].grad).item() for name in p)
print(f"{len(grad)} gradients by hand; largest difference from autograd: {gap:.1e}")
assert sorted(grad) == sorted(p), "every weight and bias needs a gradient"
assert gap < 1e-12, f"hand and autograd differ by {gap:.1e}"

# %% [markdown]
# ## The picture
#
# [Figure 1](#fig-backpropagation-network) puts both passes on the network. Black numbers are
# the forward pass: read them left to right. Red numbers are the backward pass: each neuron's
# red number is $\partial \mathrm{OUT} / \partial(\text{its weighted sum})$, and each weight's
# red number is $\partial \mathrm{OUT} / \partial w$. Read them right to left, and notice that
# every red number on a weight is the red number of the neuron the arrow enters times the black
# value of the neuron it leaves.

# %%
layers = [["x1", "x2"], ["u1", "v1"], ["u2", "v2"], ["OUT"]]
edges = {"w1": ("x1", "u1"), "w2": ("x2", "u1"), "w3": ("x1", "v1"), "w4": ("x2", "v1"),
         "w5": ("u1", "u2"), "w6": ("v1", "u2"), "w7": ("u1", "v2"), "w8": ("v1", "v2"),
         "w9": ("u2", "OUT"), "w10": ("v2", "OUT")}
labels = {"x1": f"x1 = {x1}", "x2": f"x2 = {x2}", "OUT": f"OUT\n{s['OUT']:.3f}"}
labels.update({n: f"{n} = {s[n]:.3f}\n{act.__name__}({n}) = {act(s[n]):.3f}"
               for n, act in acts.items()})
node_grads = {"u1": d_u1, "v1": d_v1, "u2": d_u2, "v2": d_v2, "OUT": 1.0}

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The notes' network with the forward values (black, left to right) and the gradients of OUT (red, right to left): on each neuron the gradient with respect to its weighted sum, on each arrow the gradient with respect to its weight.", "name": "fig-backpropagation-network"}}
d2lite.diagrams.backprop_network(layers, labels, edges, node_grads, grad)

# %% [markdown]
# ## The $\delta$ recursion
#
# The recipe gets much shorter with vectors. Call the input $\mathbf{a}^{(0)} = \mathbf{x}$ and
# let layer $l$ compute a weighted sum and an activation,
#
# $$
# \mathbf{z}^{(l)} = \mathbf{W}^{(l)} \mathbf{a}^{(l-1)} + \mathbf{b}^{(l)}, \qquad
# \mathbf{a}^{(l)} = \varphi^{(l)}\bigl(\mathbf{z}^{(l)}\bigr),
# $$
#
# where row $i$ of $\mathbf{W}^{(l)}$ holds the weights of neuron $i$. The notes' network has
# $\mathbf{W}^{(1)} = \begin{pmatrix} w_1 & w_2 \\ w_3 & w_4 \end{pmatrix}$,
# $\mathbf{W}^{(2)} = \begin{pmatrix} w_5 & w_6 \\ w_7 & w_8 \end{pmatrix}$ and
# $\mathbf{W}^{(3)} = (w_9 \;\; w_{10})$; $\varphi$ applies $f$ to a layer's first neuron and
# $g$ to its second, and the output layer has neither activation nor bias.
#
# The red numbers on the neurons are the layer's
# **[error term](../../book/glossary.md#term-error-term)** (误差项)
# $\boldsymbol{\delta}^{(l)} = \partial L / \partial \mathbf{z}^{(l)}$, here with
# $L = \mathrm{OUT}$. Everything you did by hand is three lines:
#
# $$
# \boldsymbol{\delta}^{(l)} = \bigl(\mathbf{W}^{(l+1)}\bigr)^\top \boldsymbol{\delta}^{(l+1)}
#     \odot \varphi'\bigl(\mathbf{z}^{(l)}\bigr), \qquad
# \frac{\partial L}{\partial \mathbf{W}^{(l)}} = \boldsymbol{\delta}^{(l)}
#     \bigl(\mathbf{a}^{(l-1)}\bigr)^\top, \qquad
# \frac{\partial L}{\partial \mathbf{b}^{(l)}} = \boldsymbol{\delta}^{(l)},
# $$
#
# The recursion starts at the output layer with
# $\boldsymbol{\delta}^{(\mathrm{out})} = \partial L / \partial \mathbf{a}^{(\mathrm{out})} \odot
# \varphi'(\mathbf{z}^{(\mathrm{out})})$; here the output layer has no activation and
# $L = \mathrm{OUT} = z^{(3)}$, so $\boldsymbol{\delta}^{(3)} = 1$. The transpose sends each
# error back along the arrows it came in on, and the matrix product adds up the paths: the
# first entry of
# $(\mathbf{W}^{(2)})^\top \boldsymbol{\delta}^{(2)}$ is $w_5\,\delta_{u_2} + w_7\,\delta_{v_2}$,
# exactly the sum over two paths you computed for $f(u_1)$. The outer product
# $\boldsymbol{\delta}^{(l)} (\mathbf{a}^{(l-1)})^\top$ says "the error of the neuron the arrow
# enters times the value of the neuron it leaves", the rule you saw in the picture.
#
# First, the parameters as matrices:

# %%
def stacked(*names):
    """The parameters called `names` in p, as one 1-D tensor."""
    return torch.stack([p[name] for name in names])

W1, bias1 = stacked("w1", "w2", "w3", "w4").reshape(2, 2), stacked("b1", "b2")
W2, bias2 = stacked("w5", "w6", "w7", "w8").reshape(2, 2), stacked("b3", "b4")
W3 = stacked("w9", "w10").reshape(1, 2)              # one output neuron, no bias

def phi(z):
    # f on the first neuron, g on the second
    return torch.stack([f(z[0]), g(z[1])])

def dphi(z):
    return torch.stack([df(z[0]), dg(z[1])])


# %% [markdown]
# Then the forward pass as three matrix-vector products, and the backward pass as the
# recursion. Every gradient comes out in the shape of its parameter, and they are the very
# numbers you computed one at a time.

# %%
a0 = torch.tensor([x1, x2], dtype=torch.float64)
z1 = W1 @ a0 + bias1
z2 = W2 @ phi(z1) + bias2
z3 = W3 @ phi(z2)                                    # (1,): OUT
delta3 = torch.ones(1, dtype=torch.float64)          # dOUT/dz3: the output is z3 itself
delta2 = (W3.T @ delta3) * dphi(z2)                  # (2,)
delta1 = (W2.T @ delta2) * dphi(z1)                  # (2,)
dW1 = torch.outer(delta1, a0)                        # (2, 2)
dW2 = torch.outer(delta2, phi(z1))                   # (2, 2)
dW3 = torch.outer(delta3, phi(z2))                   # (1, 2)
print("delta2 =", delta2.numpy().round(4), " delta1 =", delta1.numpy().round(4))
print("dL/dW1 =", dW1.numpy().round(4).tolist())

# %% [markdown]
# Compare each matrix, entry by entry, with the fourteen numbers in `grad`:

# %%
same_numbers = {"dW1": (dW1, "w1 w2 w3 w4"), "dW2": (dW2, "w5 w6 w7 w8"),
                "dW3": (dW3, "w9 w10"), "delta1": (delta1, "b1 b2"),
                "delta2": (delta2, "b3 b4")}
for key, (matrix, names) in same_numbers.items():
    one_by_one = torch.stack([grad[name] for name in names.split()])
    assert torch.allclose(matrix.reshape(-1), one_by_one, rtol=0, atol=1e-15), (
        f"{key} is off")

# %% [markdown]
# The source notes (004) write the same recursion with row vectors,
# $\boldsymbol{\delta}^{(1)} = \boldsymbol{\delta}^{(2)} \mathbf{W}^{(2)} \odot
# f'(\mathbf{z}^{(1)})$: the derivative of the loss with respect to a layer's sums is the next
# layer's error, sent back through the next layer's weights, times the slope of this layer's
# activation.
#
# ## Shapes for a batch
#
# Real training feeds a batch of $n$ examples at once, each with $d$ features. Then a neuron's
# weighted sums for the whole batch form a column: the $(n, d)$ data matrix times the neuron's
# $d$ weights, plus its bias, is an $(n, 1)$ column with one row per example. The notes work this
# out for 5 examples of 3 features $x, y, z$. Put the columns of $h$ neurons side by side and you
# get an $(n, h)$ matrix: one row per example, one column per neuron.
#
# This also shows what tells the three kinds of layer apart:
#
# - The **[input layer](../../book/glossary.md#term-input-layer)** (输入层) computes nothing. It
#   *is* the data, $\mathbf{X}$ of shape $(n, d)$.
# - A **[hidden layer](../../book/glossary.md#term-hidden-layer)** (隐藏层) computes weighted sums
#   and passes them through an activation. Its output, $(n, h)$, looks just like an input to the
#   next layer: a new data matrix with $h$ features (for tanh, each in $(-1, 1)$).
# - The **[output layer](../../book/glossary.md#term-output-layer)** (输出层) computes weighted
#   sums and passes them through its own output function, often a different one (here none at
#   all). Its $(n, k)$ result is compared with targets that have the same $n$ rows, and the loss
#   boils the whole batch down to a single number.
#
# PyTorch's `nn.Linear(d, h)` stores the weights of its $h$ neurons as the rows of an $(h, d)$
# matrix, as in the $\delta$ recursion, and computes $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$;
# the bias of shape $(h,)$ is broadcast over the rows. For the notes' example, 5 examples of 3
# features with a two-neuron hidden layer and one output, the shapes are:
#
# | layer | weights $\mathbf{W}$ | bias $\mathbf{b}$ | what it outputs |
# |---|---|---|---|
# | input | none | none | $\mathbf{X}$: $(n, d) = (5, 3)$ |
# | hidden | $(h, d) = (2, 3)$ | $(h,) = (2,)$ | $\mathbf{Z}^{(1)}$ and $\mathbf{A}^{(1)}$: $(n, h) = (5, 2)$ |
# | output | $(k, h) = (1, 2)$ | $(k,) = (1,)$ | $\hat{\mathbf{Y}}$: $(n, k) = (5, 1)$, like the targets $\mathbf{Y}$ |
# | loss | | | $L$: a single number, shape $()$ |
#
# Let's build it and print every shape.

# %% tags=["nbval-check-output"]
d2lite.seed_everything(0)
# examples, features, hidden neurons, outputs
n, d, h, k = 5, 3, 2, 1
X, Y = torch.randn(n, d), torch.randn(n, k)
hidden, output = nn.Linear(d, h), nn.Linear(h, k)
Z1 = X @ hidden.weight.T + hidden.bias         # (n, h)
# (n, h): a new data matrix for the next layer
A1 = torch.tanh(Z1)
Y_hat = A1 @ output.weight.T + output.bias     # (n, k)
L = 0.5 * ((Y_hat - Y) ** 2).sum() / n         # (): one number for the batch
shapes = {"X": X, "W1": hidden.weight, "b1": hidden.bias, "Z1": Z1, "A1": A1,
          "W2": output.weight, "b2": output.bias, "Y_hat": Y_hat, "Y": Y, "L": L}
for name, t in shapes.items():
    print(f"{name:6} {tuple(t.shape)}")

# %% [markdown]
# The shapes are the ones in the table, the first column of $\mathbf{Z}^{(1)}$ is the notes'
# single-neuron computation $\mathbf{X}\mathbf{w} + b$, and `nn.Linear` itself computes the same
# matrix.

# %%
expected = {"X": (5, 3), "W1": (2, 3), "b1": (2,), "Z1": (5, 2), "A1": (5, 2),
            "W2": (1, 2), "b2": (1,), "Y_hat": (5, 1), "Y": (5, 1), "L": ()}
assert {name: tuple(t.shape) for name, t in shapes.items()} == expected, (
    "a shape is off")
one_neuron = X @ hidden.weight[0] + hidden.bias[0]      # (n,): the notes' column f1
assert torch.allclose(Z1[:, 0], one_neuron), "column 0 of Z1 should be neuron 0's sums"
assert torch.allclose(hidden(X), Z1), "nn.Linear should compute X W^T + b"

# %% [markdown]
# For a batch, the error terms become matrices too: $\boldsymbol{\Delta}^{(l)} =
# \partial L / \partial \mathbf{Z}^{(l)}$ has the shape $(n, h_l)$ of $\mathbf{Z}^{(l)}$, one row
# per example. Writing the recursion row by row and transposing gives
#
# $$
# \boldsymbol{\Delta}^{(l)} = \bigl(\boldsymbol{\Delta}^{(l+1)} \mathbf{W}^{(l+1)}\bigr)
#     \odot \varphi'\bigl(\mathbf{Z}^{(l)}\bigr), \qquad
# \frac{\partial L}{\partial \mathbf{W}^{(l)}} = \bigl(\boldsymbol{\Delta}^{(l)}\bigr)^\top
#     \mathbf{A}^{(l-1)}, \qquad
# \frac{\partial L}{\partial \mathbf{b}^{(l)}} = \textstyle\sum_{\text{rows}} \boldsymbol{\Delta}^{(l)}.
# $$
#
# Check the shapes: $(n, h_{l+1})$ times $(h_{l+1}, h_l)$ is $(n, h_l)$, and
# $(h_l, n)$ times $(n, h_{l-1})$ is $(h_l, h_{l-1})$, the shape of $\mathbf{W}^{(l)}$. The
# product over $n$ adds up the contributions of all the examples, and a gradient always has the
# shape of the thing it is the gradient of. With the loss $L = \frac{1}{2n} \sum_i \lVert
# \hat{\mathbf{y}}_i - \mathbf{y}_i \rVert^2$ and a linear output layer, the recursion starts at
# $\boldsymbol{\Delta}^{(\mathrm{out})} = \partial L / \partial \hat{\mathbf{Y}}
# = (\hat{\mathbf{Y}} - \mathbf{Y}) / n$.
#
# ## Any MLP, by hand
#
# That is all you need for a multilayer perceptron of any depth. The class below keeps one
# `(W, b)` pair per layer, with `W` shaped `(out, in)` as in `nn.Linear`, uses $\tanh$ in the
# hidden layers and no activation at the output. `forward` caches what the backward pass needs,
# each layer's input $\mathbf{A}^{(l-1)}$ and weighted sums $\mathbf{Z}^{(l)}$; `backward` runs
# the recursion from the last layer to the first and returns `(dW, db)` for every layer.
#
# The recursion stops at the first layer: `backward` computes no gradient with respect to the
# input $\mathbf{X}$. The inputs are data, not parameters, and nothing will ever step them, so
# their gradient would be wasted work. Autograd makes the same saving: a tensor that does not
# require gradients, such as a batch of data, gets none, and the matrix product that would
# compute it is never run. (When you *do* want it, to see which pixels a prediction depends
# on, say, you ask for it with `X.requires_grad_()`.)

# %%
class HandMLP:
    """A tanh MLP with a linear output layer whose backward pass is written by hand."""

    def __init__(self, layers):
        self.layers = layers                        # [(W: (out, in), b: (out,)), ...]

    def forward(self, X):
        """X: (n, d) -> output (n, k) and the cache [(A_prev, Z), ...] for backward."""
        cache, A = [], X
        for i, (W, b) in enumerate(self.layers):
            Z = A @ W.T + b                         # (n, out)
            cache.append((A, Z))
            A = Z if i == len(self.layers) - 1 else torch.tanh(Z)
        return A, cache

    def backward(self, cache, dY):
        """dY = dL/dY_hat (n, k) -> [(dW, db), ...], one pair per layer, in order."""
        grads, delta = [], dY                       # linear output: dL/dZ = dL/dY_hat
        for i in reversed(range(len(self.layers))):
            A_prev, _ = cache[i]
            grads.append((delta.T @ A_prev, delta.sum(dim=0)))  # (out, in), (out,)
            if i > 0:                                           # no gradient for X
                Z_prev = cache[i - 1][1]
                slope = 1 - torch.tanh(Z_prev) ** 2             # tanh'
                delta = (delta @ self.layers[i][0]) * slope     # (n, in)
        return grads[::-1]


# %% [markdown]
# Two small helpers: one builds a randomly initialised network from a list of layer widths,
# the other is the loss together with its gradient with respect to the prediction, the
# starting point of the backward pass.

# %%
def random_mlp(sizes, dtype=torch.float64):
    """A HandMLP with layer widths `sizes`, weights ~ N(0, 1/in), zero biases."""
    return HandMLP([(torch.randn(n_out, n_in, dtype=dtype) / math.sqrt(n_in),
                     torch.zeros(n_out, dtype=dtype))
                    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)])

def mse(Y_hat, Y):
    """L = sum of squared errors / (2n), and dL/dY_hat = (Y_hat - Y) / n."""
    return 0.5 * ((Y_hat - Y) ** 2).sum() / len(Y), (Y_hat - Y) / len(Y)


# %% [markdown]
# Take a network with layer widths $2 \to 8 \to 8 \to 3$ and a synthetic batch of 16 examples
# with random targets, run the forward and backward passes, and look at the shapes: each
# gradient has the shape of its parameter.

# %% tags=["nbval-check-output"]
d2lite.seed_everything(0)
model = random_mlp([2, 8, 8, 3])
X = torch.randn(16, 2, dtype=torch.float64)
Y = torch.randn(16, 3, dtype=torch.float64)
Y_hat, cache = model.forward(X)
loss, dY = mse(Y_hat, Y)
hand = model.backward(cache, dY)
for i, ((W, b), (dW, db)) in enumerate(zip(model.layers, hand, strict=True), start=1):
    print(f"layer {i}: W {tuple(W.shape)}, dW {tuple(dW.shape)};  b {tuple(b.shape)}, "
          f"db {tuple(db.shape)}")
pairs = zip(model.layers, hand, strict=True)
assert all(dW.shape == W.shape and db.shape == b.shape
           for (W, b), (dW, db) in pairs), "shape mismatch"

# %% [markdown]
# ## Three ways to a gradient
#
# Shapes are not values. A bug in a backward pass, say a missing transpose or a slope taken at
# the wrong layer, often still produces arrays of the right shape, so a hand-written backward
# pass must be checked against something independent. Let's check it against two.
#
# The first is autograd. Build the same network from PyTorch modules, copy our weights into it,
# compute the same loss and call `backward`:

# %%
net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                    nn.Linear(8, 3))
net = net.double()
linears = [m for m in net if isinstance(m, nn.Linear)]
with torch.no_grad():
    for lin, (W, b) in zip(linears, model.layers, strict=True):
        lin.weight.copy_(W)
        lin.bias.copy_(b)
torch_loss, _ = mse(net(X), Y)
torch_loss.backward()
autograd = [(lin.weight.grad, lin.bias.grad) for lin in linears]
assert abs(torch_loss.item() - loss.item()) < 1e-12, (
    "the two networks should compute the same loss")

# %% [markdown]
# The second needs no calculus at all:
# **[finite differences](../../book/glossary.md#term-finite-differences)** (有限差分). Nudge one
# parameter up and down by a small $h$, evaluate the loss both times, and divide:
#
# $$
# \frac{\partial L}{\partial \theta} \approx \frac{L(\theta + h) - L(\theta - h)}{2h}.
# $$
#
# This *central* difference is accurate to order $h^2$. It costs two forward passes per
# parameter, hopeless for training a real network but fine for checking a small one; this
# check is called a **[gradient check](../../book/glossary.md#term-gradient-check)** (梯度检验).

# %%
def finite_difference_grads(model, X, Y, h):
    """Central differences (L(theta + h) - L(theta - h)) / 2h for every entry of
    every parameter."""
    grads = []
    for W, b in model.layers:
        pair = []
        for param in (W, b):
            grad_param, flat = torch.zeros_like(param), param.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + h
                up = mse(model.forward(X)[0], Y)[0].item()
                flat[i] = old - h
                down = mse(model.forward(X)[0], Y)[0].item()
                flat[i] = old                                  # put the parameter back
                grad_param.view(-1)[i] = (up - down) / (2 * h)
            pair.append(grad_param)
        grads.append(tuple(pair))
    return grads


# %% [markdown]
# To compare two gradients, use the **relative error** of the whole set of numbers,
#
# $$
# \operatorname{rel}(\mathbf{g}, \tilde{\mathbf{g}}) =
#   \frac{\lVert \mathbf{g} - \tilde{\mathbf{g}} \rVert}{\lVert \mathbf{g} \rVert + \lVert \tilde{\mathbf{g}} \rVert},
# $$
#
# which does not care whether the gradients are large or small. All three computations run in
# float64; the next section shows why.

# %%
def rel_error(grads_a, grads_b):
    """Relative error between two lists of (dW, db) pairs, over all their entries."""
    a = torch.cat([t.reshape(-1).double() for pair in grads_a for t in pair])
    b = torch.cat([t.reshape(-1).double() for pair in grads_b for t in pair])
    return ((a - b).norm() / (a.norm() + b.norm())).item()

numeric = finite_difference_grads(model, X, Y, h=1e-6)
for i in range(3):
    vs_autograd = rel_error(hand[i:i + 1], autograd[i:i + 1])
    vs_numeric = rel_error(hand[i:i + 1], numeric[i:i + 1])
    print(f"layer {i + 1}: hand vs autograd {vs_autograd:.1e}   "
          f"hand vs finite differences {vs_numeric:.1e}")
    assert vs_autograd < 1e-12, (
        f"layer {i + 1}: hand and autograd differ by {vs_autograd:.1e}")
    assert vs_numeric < 1e-6, (
        f"layer {i + 1}: hand and numeric differ by {vs_numeric:.1e}")

# %% [markdown]
# The hand-written backward pass agrees with autograd to better than $10^{-12}$, the last few
# bits of a float64, and with finite differences to better than $10^{-6}$ in every layer. Both
# comparisons are needed: autograd tells you that your derivation matches PyTorch's, finite
# differences that both match the loss function itself.
#
# ## How small should $h$ be?
#
# The formula becomes exact as $h \to 0$, so why not take $h$ tiny? Because computers round.
# The difference $L(\theta + h) - L(\theta - h)$ of two nearly equal numbers loses digits, and
# dividing by $2h$ magnifies the rounding error $\varepsilon$ of the loss: the total error is
# roughly
#
# $$
# \underbrace{c_1 h^2}_{\text{truncation}} + \underbrace{c_2 \,\varepsilon / h}_{\text{rounding}},
# $$
#
# smallest near $h \approx \varepsilon^{1/3}$. In float64, $\varepsilon \approx 2 \times 10^{-16}$
# and the best $h$ is around $10^{-5}$; in float32, $\varepsilon \approx 10^{-7}$ and the best
# $h$ is around $10^{-2}$, where the $h^2$ term is already large. Let's measure it for 25 values
# of $h$ from $10^{-1}$ to $10^{-13}$, in both precisions, against the hand gradients.

# %%
hs = torch.logspace(-1, -13, 25).tolist()
model32 = HandMLP([(W.float(), b.float()) for W, b in model.layers])
errors64 = [rel_error(finite_difference_grads(model, X, Y, h), hand) for h in hs]
errors32 = [rel_error(finite_difference_grads(model32, X.float(), Y.float(), h), hand)
            for h in hs]
best64 = min(range(len(hs)), key=errors64.__getitem__)
print(f"float64: best h = {hs[best64]:.0e}, relative error {errors64[best64]:.1e}")
print(f"float32: best relative error {min(errors32):.1e}")

# %% [markdown]
# [Figure 2](#fig-backpropagation-step-size) shows the famous V on log-log axes. On the right
# (large $h$) the truncation error falls with slope 2, a hundredfold for every tenfold smaller
# $h$; on the left the rounding error grows as $1/h$, tenfold per decade. The float32 curve
# bottoms out above the dotted $10^{-6}$ line of our check, and for tiny $h$ the nudge is lost
# in float32 altogether (the loss cannot register so small a change), so the estimate is zero, a
# relative error of 1.

# %% mystnb={"figure": {"caption": "Relative error of central finite differences against the hand-written gradients, for 25 step sizes h, in float64 and float32 (log-log axes); the dotted line is the check's threshold.", "name": "fig-backpropagation-step-size"}}
ax = d2lite.plot(hs, [errors64, errors32], "step h", "relative error vs hand gradients",
                 legend=["float64", "float32"], xscale="log", yscale="log",
                 title="Central differences: error vs step size")
ax.axhline(1e-6, color="k", ls=":", lw=1, label="check threshold $10^{-6}$")
ax.legend(loc="lower left", fontsize=8)
plt.show()

# %% [markdown]
# The lesson checks: the two arms have the slopes just described (the grid has two points per
# decade), float64 at its best $h$, between $10^{-7}$ and $10^{-4}$, reaches below $10^{-8}$, and
# float32, best near $h = 10^{-2}$, cannot reach $10^{-6}$ at any $h$. That is why gradient checks
# run in float64.

# %%
truncation_drop = errors64[0] / errors64[2]            # from h = 1e-1 to h = 1e-2
rounding_rise = errors64[-1] / errors64[-3]            # from h = 1e-12 to h = 1e-13
print(f"truncation arm x{truncation_drop:.0f} per decade, "
      f"rounding arm x{rounding_rise:.1f}")
assert 50 < truncation_drop < 200, (
    f"expected ~100x per decade (slope 2), got {truncation_drop:.0f}")
assert 3 < rounding_rise < 30, (
    f"expected ~10x per decade (slope -1), got {rounding_rise:.1f}")
assert errors64[best64] < 1e-8, (
    f"float64 finite differences reach only {errors64[best64]:.1e}")
assert 1e-7 <= hs[best64] <= 1e-4, f"best h = {hs[best64]:.0e}, expected near 1e-5"
best32 = min(range(len(hs)), key=errors32.__getitem__)
assert 1e-3 <= hs[best32] <= 1e-1, (
    f"float32's best h = {hs[best32]:.0e}, expected near 1e-2")
assert errors32[best32] > 1e-6, (
    f"float32 reached {errors32[best32]:.1e}; expected above 1e-6")
assert errors32[-1] == 1.0, (
    f"at h = {hs[-1]:.0e} float32 should see no change, got {errors32[-1]}")

# %% [markdown]
# ## Training it
#
# Gradients are only useful if they train something. Here is a synthetic 2-D task in the
# spirit of the notes' $\pm 1$ labels: 200 points drawn uniformly from the square
# $[-2, 2]^2$, labelled $+1$ inside the circle of radius $1.3$ and $-1$ outside. No straight
# line separates them, so the network needs its hidden layers.

# %%
def circle_data(n):
    """n points uniform in [-2, 2]^2: X (n, 2), labels (n, 1) = +1 inside radius 1.3,
    else -1."""
    X = torch.rand(n, 2, dtype=torch.float64) * 4 - 2
    inside = (X ** 2).sum(dim=1, keepdim=True) < 1.3 ** 2
    return X, torch.where(inside, 1.0, -1.0).double()

d2lite.seed_everything(1)
X_train, Y_train = circle_data(200)
X_test, Y_test = circle_data(1000)
print(f"{(Y_train == 1).sum().item()} of 200 training points lie inside the circle")

# %% [markdown]
# The training loop is the one from chapter 2 with our own backward pass in place of
# `loss.backward()`: forward, loss and its gradient, backward, then a plain gradient-descent
# step with learning rate 0.4 on every parameter, 400 times on the full batch.

# %%
d2lite.seed_everything(2)
circle_net = random_mlp([2, 16, 16, 1])
losses = []
for _ in range(400):
    Y_hat, cache = circle_net.forward(X_train)
    loss, dY = mse(Y_hat, Y_train)
    losses.append(loss.item())
    grads = circle_net.backward(cache, dY)
    for (W, b), (dW, db) in zip(circle_net.layers, grads, strict=True):
        W -= 0.4 * dW                            # in place: the model's own tensors
        b -= 0.4 * db
test_acc = (circle_net.forward(X_test)[0].sign() == Y_test).double().mean().item()
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; test accuracy {test_acc:.3f}")

# %% [markdown]
# The loss fell to less than a quarter of where it started, and the network classifies at least
# 95 % of 1,000 fresh test points correctly.

# %%
assert losses[-1] < 0.25 * losses[0], (
    f"loss only fell from {losses[0]:.3f} to {losses[-1]:.3f}")
assert test_acc >= 0.95, f"test accuracy {test_acc:.3f} is below 95 %"

# %% [markdown]
# In [Figure 3](#fig-backpropagation-circle), the shading is the sign of the network's output
# over the square and the dots are the training points. See how the boundary between the two
# regions has become a closed curve close to the dashed circle: something no single linear layer
# could draw.

# %% mystnb={"figure": {"caption": "The sign of the hand-trained MLP's output over the square (blue positive, red negative), the 200 training points and the true circle of radius 1.3 (dashed).", "name": "fig-backpropagation-circle"}}
grid = torch.linspace(-2, 2, 101, dtype=torch.float64)
G1, G2 = torch.meshgrid(grid, grid, indexing="xy")
scores = circle_net.forward(torch.stack([G1.reshape(-1), G2.reshape(-1)], dim=1))[0]
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.contourf(G1, G2, scores.reshape(G1.shape).sign(), levels=[-2, 0, 2],
            # red where < 0, blue where > 0
            colors=["#f6d5d5", "#d5e4f6"])
for label, color in ((1.0, "C0"), (-1.0, "C3")):
    points = X_train[Y_train[:, 0] == label]
    ax.scatter(points[:, 0], points[:, 1], s=10, color=color,
               label=f"label {label:+.0f}")
ax.add_patch(plt.Circle((0, 0), 1.3, fill=False, ls="--", color="k"))
ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
       title="What the hand-trained MLP learned")
ax.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# ## Summary
#
# - Backpropagation computes all the derivatives of a loss in one sweep from the output back
#   to the input. Each step multiplies a derivative it already has by a local derivative (a
#   weight, an input, the slope of an activation), reusing the values the forward pass kept.
# - Where an activation feeds several neurons, its derivative is the sum over all the paths
#   from it to the output.
# - In matrix form: $\boldsymbol{\delta}^{(l)} = (\mathbf{W}^{(l+1)})^\top
#   \boldsymbol{\delta}^{(l+1)} \odot \varphi'(\mathbf{z}^{(l)})$, then
#   $\partial L / \partial \mathbf{W}^{(l)} = \boldsymbol{\delta}^{(l)} (\mathbf{a}^{(l-1)})^\top$
#   and $\partial L / \partial \mathbf{b}^{(l)} = \boldsymbol{\delta}^{(l)}$. For a batch the
#   errors become $(n, h_l)$ matrices and the gradients add up over the examples.
# - The input layer is the data $(n, d)$; a hidden layer maps it to $(n, h)$ through weights
#   $(h, d)$ and an activation; the output layer produces $(n, k)$ predictions, and the loss
#   reduces them to one number. A gradient always has the shape of its parameter.
# - Check a hand-written backward pass against autograd and against central finite
#   differences in float64: the error of finite differences is V-shaped in $h$, smallest near
#   $h \approx 10^{-5}$, and float32 cannot get below $10^{-6}$.
#
# ## Exercises
#
# 1. **One more bias.** Give the notes' network an output bias, $\mathrm{OUT} = w_9 f(u_2) +
#    w_{10} g(v_2) + b_5$. What is $\partial \mathrm{OUT} / \partial b_5$, and which of the other
#    fourteen derivatives change? Check your answer with autograd.

# %% tags=["hide-cell"]
# A solution. OUT depends on b5 with slope 1, and adding a constant changes no other
# derivative: b5 does not feed into anything that the other parameters reach.
def forward_b5(q, x1, x2):
    """The notes' network with an output bias b5."""
    return seed_forward(q, x1, x2)["OUT"] + q["b5"]

leaves5 = {name: t.clone().requires_grad_() for name, t in p.items()}
leaves5["b5"] = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
forward_b5(leaves5, x1, x2).backward()
print("dOUT/db5 =", leaves5["b5"].grad.item())
assert leaves5["b5"].grad == 1, "OUT = ... + b5 has slope 1 in b5"
assert all(leaves5[n].grad == leaves[n].grad for n in p), "no other derivative changes"

# %% [markdown]
# 2. **ReLU instead of tanh.** Write `ReluMLP`, a copy of `HandMLP` whose hidden layers use
#    $\max(z, 0)$ with derivative `(Z > 0).double()`, and check it against an `nn.Sequential`
#    with `nn.ReLU()` layers: the relative error should be below $10^{-6}$. Why can the
#    finite-difference check fail for a ReLU network when some $z$ lies within $h$ of zero?
# 3. **A classification output.** Replace `mse` by softmax followed by cross-entropy, whose
#    gradient with respect to the logits is $(\operatorname{softmax}(\mathbf{Z}) - \mathbf{Y})/n$
#    for one-hot targets $\mathbf{Y}$. Check that your `dY` equals, to $10^{-12}$, the gradient
#    with respect to `Z` that autograd gives for `F.cross_entropy(Z, labels)`.
# 4. **What does backward cost?** Count the multiply-adds of the matrix products in
#    `HandMLP.forward` and `HandMLP.backward` for layer widths $d \to h \to k$ and a batch of
#    $n$, and check your count with PyTorch's `FlopCounterMode`, which counts the floating-point
#    operations of every matrix product it sees (two per multiply-add). For widths
#    $784 \to 256 \to 10$, how does backward compare with forward? How would the ratio change
#    if `backward` also computed the gradient with respect to the input $\mathbf{X}$?

# %% tags=["hide-cell"]
# A solution. Forward: X W1^T is n d h multiply-adds, A1 W2^T is n h k. Backward: the
# weight gradients cost the same again (n h d + n k h), and sending delta back through
# W2 costs n k h; sending it on through W1, to X, would cost n h d more, but backward
# skips it. So backward = n (d h + 2 h k), almost exactly forward when h k << d h, and
# 2 n (d h + h k), exactly twice forward, with the input gradient.
n, d, h, k = 64, 784, 256, 10
net_cost = random_mlp([d, h, k])
X_cost = torch.randn(n, d, dtype=torch.float64)
with FlopCounterMode(display=False) as counter:
    out, cache_cost = net_cost.forward(X_cost)
forward_flops = counter.get_total_flops()
with FlopCounterMode(display=False) as counter:
    net_cost.backward(cache_cost, torch.ones_like(out) / n)
backward_flops = counter.get_total_flops()
assert forward_flops == 2 * n * (d * h + h * k), "forward: n d h + n h k multiply-adds"
assert backward_flops == 2 * n * (d * h + 2 * h * k), (
    "backward skips the input gradient")
with_input = backward_flops + 2 * n * d * h                  # plus delta1 @ W1: (n, d)
print(f"backward / forward: {backward_flops / forward_flops:.3f}; "
      f"with the input gradient {with_input / forward_flops:.3f}")
assert abs(backward_flops / forward_flops - 1.013) < 0.001
assert abs(with_input / forward_flops - 2) < 1e-9

# %% [markdown]
# 5. **One-sided differences.** Repeat the $h$ sweep with $(L(\theta + h) - L(\theta))/h$,
#    whose truncation error is of order $h$. Where is the bottom of its V, and how deep is it
#    compared with the central difference's?
