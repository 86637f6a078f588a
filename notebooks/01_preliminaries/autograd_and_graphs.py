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
# # Automatic differentiation and computational graphs
#
# Training a network means nudging every parameter against the gradient of a loss, so a
# deep-learning library has to compute derivatives for you, millions of them, at every step.
# In this lesson you ask PyTorch for gradients (`requires_grad`, `backward`, `.grad`, `detach`),
# look at the graph it records to make that possible, compare it with TensorFlow 1's
# "build the graph first, run it later" style and with graph capture by `torch.fx`, and finally
# write a small autograd engine of your own whose gradients match PyTorch's to within $10^{-9}$.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import math
import operator
from collections import deque
import matplotlib.pyplot as plt
from torch import fx, nn

# %% [markdown]
# ## Gradients on request
#
# Suppose a loss $L$ depends on a parameter $a$ through a chain of steps. The
# **[gradient](../../book/glossary.md#term-gradient)** (梯度) $\partial L / \partial a$ tells you
# which way, and how strongly, $L$ changes when you move $a$; gradient descent moves $a$ the other
# way. Working out such derivatives by hand for every model would be slow and error-prone.
# **[Automatic differentiation](../../book/glossary.md#term-automatic-differentiation)** (自动微分) does
# it for you: the library records each operation as it runs and then applies the
# **[chain rule](../../book/glossary.md#term-chain-rule)** (链式法则) to the record, from the loss back
# to the inputs. If $L = f(u)$ and $u = g(a)$, then
#
# $$
# \frac{\partial L}{\partial a} = \frac{\partial L}{\partial u}\,\frac{\partial u}{\partial a}
#                                 = f'(u)\, g'(a).
# $$
#
# Going from the output back towards the inputs like this is called
# **[backpropagation](../../book/glossary.md#term-backpropagation)** (反向传播);
# [Backpropagation](../03_mlp/backpropagation.ipynb) works it out by hand for whole networks.
#
# In PyTorch you ask for this bookkeeping per tensor with `requires_grad=True` (tensors themselves
# are the subject of [the previous lesson](tensors.ipynb)). Here is the source notes' example: `a`
# is a parameter we want gradients for, `e` is plain data, and the result is squashed by a sigmoid
# and summed to a single number, as a loss would be.

# %%
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)  # track every operation on a
e = torch.tensor([1.0, 2.0, 3.0])                      # plain data: no tracking
b = 3 * a + 1 + e
c = torch.sigmoid(b)
d = c.sum()                                            # backward() needs a scalar
print(a.grad)                                          # nothing computed yet
print(d)

# %% [markdown]
# `a.grad` is still `None`: recording the operations costs almost nothing, and no derivative is
# computed until you ask. The printed `d` carries a `grad_fn`, the node that knows how to
# send a gradient back through the `sum`. Now ask: `d.backward()` walks the record backwards
# and stores $\partial d / \partial a$ in `a.grad`.

# %%
d.backward()
print(a.grad)
print(e.grad)  # e did not ask for gradients, so it gets none

# %% [markdown]
# Let's check that against the chain rule. With $b_i = 3a_i + 1 + e_i$, $c_i = \sigma(b_i)$ and
# $d = \sum_i c_i$, each $a_i$ reaches $d$ only through $b_i$, so
#
# $$
# \frac{\partial d}{\partial a_i} = \sigma'(b_i) \cdot 3 = 3\,\sigma(b_i)\bigl(1 - \sigma(b_i)\bigr),
# $$
#
# using the sigmoid's derivative $\sigma' = \sigma(1 - \sigma)$, which the next section derives.
# The inputs $b = (5, 9, 13)$ sit far out on the sigmoid's flat tail, so the gradients are tiny
# and shrink fast: the third is below $10^{-5}$.

# %%
by_hand = 3 * torch.sigmoid(b) * (1 - torch.sigmoid(b))
print("autograd:", [f"{g:.4e}" for g in a.grad.tolist()])
print("by hand: ", [f"{g:.4e}" for g in by_hand.tolist()])
assert torch.allclose(a.grad, by_hand, rtol=1e-5, atol=0), "autograd disagrees"
assert abs(d.item() - 2.9932) < 1e-4, f"d = {d.item():.5f}, expected 2.9932"
assert a.grad[2] < 1e-5, f"third gradient {a.grad[2]:.2e} is not below 1e-5"
assert b.tolist() == [5.0, 9.0, 13.0], f"b = {b.tolist()}, expected [5, 9, 13]"

# %% [markdown]
# Only `a` received a gradient. PyTorch calls tensors that you created yourself, rather than
# computed from other tensors, **[leaf tensors](../../book/glossary.md#term-leaf-tensor)** (叶子张量):
# `backward` stores gradients in the leaves that require them and throws the intermediate ones away
# (call `b.retain_grad()` before `backward` if you want to keep one). Computed tensors instead
# remember the operation that made them in `grad_fn`.

# %% tags=["nbval-check-output"]
for name, t in {"a": a, "e": e, "b": b, "d": d}.items():
    print(f"{name}: is_leaf={t.is_leaf!s:5}  requires_grad={t.requires_grad!s:5}  "
          f"grad_fn={type(t.grad_fn).__name__ if t.grad_fn else None}")

# %% [markdown]
# ## The derivative of the sigmoid
#
# The sigmoid $\sigma(x) = 1 / (1 + e^{-x})$ squashes any number into $(0, 1)$. Its derivative
# has a famously tidy form:
#
# $$
# \sigma'(x) = \frac{e^{-x}}{(1 + e^{-x})^2}
#            = \frac{1}{1 + e^{-x}} \cdot \frac{e^{-x}}{1 + e^{-x}}
#            = \sigma(x)\bigl(1 - \sigma(x)\bigr).
# $$
#
# Autograd can compute $\sigma'$ at many points in one call. Summing $\sigma(x_i)$ over a grid
# gives a scalar whose derivative with respect to $x_i$ is just $\sigma'(x_i)$, because each
# term depends on one $x_i$ only. You should find that the slope peaks at $1/4$ at $x = 0$
# and drops below $0.01$ once $|x| \ge 5$. (`.detach()` gives you the numbers without the
# autograd record; more on it below.)

# %%
x = torch.linspace(-6, 6, 121, requires_grad=True)
s = torch.sigmoid(x)
s.sum().backward()
formula = s.detach() * (1 - s.detach())
gap = (x.grad - formula).abs().max().item()
print(f"largest |autograd - formula| = {gap:.1e}; peak slope {x.grad.max():.4f}")
assert gap < 1e-6, f"autograd and sigma(1 - sigma) differ by {gap:.1e}"
assert abs(x.grad.max() - 0.25) < 1e-4, "the sigmoid's slope should peak at 1/4"
assert abs(x[x.grad.argmax()]) < 0.05, "the sigmoid's slope should peak at x = 0"
assert x.grad[x.detach().abs() >= 5].max() < 0.01, "slope should be < 0.01 for |x| >= 5"

# %% [markdown]
# [Figure 1](#fig-autograd-sigmoid) shows the sigmoid and its slope. See how the dashed formula
# lies exactly on the autograd curve, and how the slope is largest in the middle and all but
# vanishes on both tails: that is why `a.grad` above was so small.

# %% mystnb={"figure": {"caption": "The sigmoid and its derivative: autograd's values and the formula σ(x)(1 − σ(x)) coincide.", "name": "fig-autograd-sigmoid"}}
xs = x.detach()
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(xs, s.detach(), label=r"$\sigma(x)$")
ax.plot(xs, x.grad, lw=3, alpha=0.5, label=r"$\sigma'(x)$ by autograd")
ax.plot(xs, formula, "k--", lw=1, label=r"$\sigma(x)(1-\sigma(x))$")
ax.set(xlabel="$x$", ylabel="value", title="The sigmoid and its derivative")
ax.legend()
plt.show()

# %% [markdown]
# ## Gradients accumulate
#
# `backward` does not overwrite `.grad`; it *adds* to it. That is deliberate. A parameter used in
# two places of a model gets the sum of both contributions, and you can split a batch that does not
# fit in memory into pieces, call `backward` once per piece, and end up with the gradient of the
# whole batch. The price is that you must reset `.grad` yourself between training steps, with the
# [in-place](../../book/glossary.md#term-in-place-operation) `zero_()` from [Tensors](tensors.ipynb)
# (optimisers do it in `zero_grad()`, as you will see in
# [Linear Regression, Concisely](../02_linear/linear_regression_concise.ipynb)).
#
# To see it, call `backward` twice on the same $y = \sum_i x_i^2$. PyTorch frees the record
# after a backward pass to save memory, so the first call passes `retain_graph=True`.

# %% tags=["nbval-check-output"]
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = (x * x).sum()
y.backward(retain_graph=True)
first = x.grad.clone()
y.backward()
print("after one backward: ", first)
print("after two backwards:", x.grad)
assert torch.equal(x.grad, 2 * first), "the second backward should double the gradient"

# %% [markdown]
# The gradient of $\sum_i x_i^2$ is $2x$, and the second call doubled it. Zero it and you are
# back to a clean slate:

# %% tags=["nbval-check-output"]
x.grad.zero_()
(x * x).sum().backward()
print(x.grad)
assert torch.equal(x.grad, 2 * x.detach()), "after zero_(), one backward should give 2x"

# %% [markdown]
# ## Stopping gradients with `detach`
#
# Sometimes you want a value's numbers but not its history: a target that should stay fixed while
# you fit towards it, or a tensor you pass to NumPy or matplotlib. `y.detach()` returns a tensor
# that shares `y`'s memory (like the [views](../../book/glossary.md#term-view) of
# [Tensors](tensors.ipynb)) but is a fresh leaf that does not require gradients, so nothing flows
# back through it.
#
# Take $y = x^2$ and $z = y \cdot x$. Through the full record $\partial z / \partial x = 3x^2$.
# If you detach $y$ first, autograd treats it as a constant $u$, and
# $\partial (u x) / \partial x = u = x^2$.

# %% tags=["nbval-check-output"]
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * x
u = y.detach()                      # same numbers, same memory, no history
(u * x).sum().backward()
print("through the detached copy:", x.grad)
assert torch.equal(x.grad, u), "with y detached, dz/dx should be u = x^2"
assert u.data_ptr() == y.data_ptr() and not u.requires_grad, "detach shares memory"

# %% [markdown]
# Without `detach` the same expression gives $3x^2$:

# %% tags=["nbval-check-output"]
x.grad.zero_()
(y * x).sum().backward()
print("through y itself:         ", x.grad)
assert torch.equal(x.grad, 3 * u), "without detach, dz/dx should be 3x^2"

# %% [markdown]
# For a whole block of code you don't want recorded, such as evaluating a model, wrap it in
# `with torch.no_grad():` instead; every result computed inside has `requires_grad=False`.

# %%
with torch.no_grad():
    w = x * 2
assert not w.requires_grad and w.grad_fn is None, "no_grad() should record nothing"

# %% [markdown]
# ## Computational graphs
#
# All of this rests on one data structure. A
# **[computational graph](../../book/glossary.md#term-computational-graph)** (计算图), also called a
# dataflow graph (数据流图), is a directed acyclic graph whose nodes are operations (add, multiply,
# sigmoid, read an input) and whose edges carry tensors from the operation that produces them to the
# operations that consume them. (A few edges carry no data at all: a *control dependency* only
# says "run this after that".) TensorFlow ([Abadi et al., 2016](../../book/references.md)) is
# named after this picture: tensors *flow* along the edges of the graph.
#
# Libraries differ in *when* the graph is built, and that choice shapes how you write code.
#
# ### Define-and-run: build first, run later
#
# TensorFlow 1 works **[define-and-run](../../book/glossary.md#term-define-and-run)** (先定义后运行, a
# static graph). Calls like `tf.add(a, b)` compute nothing: they add a node to a graph and return a
# symbolic tensor, a handle to a result that does not exist yet. Inputs are
# **[placeholders](../../book/glossary.md#term-placeholder)** (占位符), nodes that say "a value will be
# fed in here". Parameters are variables, nodes whose values persist from one run to the next.
# Nothing happens until a *session* takes the finished graph, receives values for the placeholders
# in a `feed_dict`, and runs it.
#
# You don't need TensorFlow to see the idea. A node of a mock graph records only its name, its
# operation and its input nodes; a constant also keeps its value.

# %%
class Node:
    """An operation of a define-and-run graph: what to compute, from which nodes."""

    def __init__(self, name, op, inputs=(), value=None):
        self.name, self.op, self.inputs, self.value = name, op, tuple(inputs), value

    def __repr__(self):
        return f'Tensor("{self.name}", op={self.op})'  # a handle to a future result


# %% [markdown]
# Four small builders play the role of `tf.placeholder`, `tf.constant`, `tf.add` and
# `tf.multiply`. Each just returns a new node.

# %%
def placeholder(name):
    return Node(name, "placeholder")

def constant(value, name):
    return Node(name, "constant", value=value)

def add(x, y, name):
    return Node(name, "add", (x, y))

def mul(x, y, name):
    return Node(name, "mul", (x, y))


# %% [markdown]
# Now build the graph $c = a + b$ of the source notes, with $b$ a placeholder. Printing `c`
# shows a handle, not a number: TensorFlow 1 prints `Tensor("c:0", shape=(2, 2), dtype=int32)`
# at this point.

# %% tags=["nbval-check-output"]
a = constant(torch.tensor([[1, 2], [3, 4]]), "a")
b = placeholder("b")
c = add(a, b, "c")
print(c)

# %% [markdown]
# ### The scheduler: running a graph in topological order
#
# To run the graph, a session must compute every node after the nodes it reads from: a
# **[topological order](../../book/glossary.md#term-topological-order)** (拓扑排序). The source notes
# describe how TensorFlow's scheduler finds one, which is Kahn's algorithm
# ([Kahn, 1962](../../book/references.md)):
#
# 1. Build a table that maps each node to the number of inputs it is still waiting for.
# 2. Put every node that waits for nothing into a *ready queue*.
# 3. Take a node from the queue and run it; then decrease the count of each node that consumes
#    its output, and enqueue those whose count reaches zero.
# 4. Repeat until the queue is empty. If some nodes never became ready, the graph has a cycle.
#
# Everything in the ready queue at the same moment is independent, so a real scheduler can run
# those nodes in parallel, on different devices. We need three small helpers. The first
# collects every node a result depends on, mapped to its inputs; the second flips the edges,
# turning "my inputs" into "my consumers".

# %%
def graph_of(root):
    """Map every node that `root` depends on (through `.inputs`) to its inputs."""
    inputs_of, stack = {}, [root]
    while stack:
        node = stack.pop()
        if node not in inputs_of:
            inputs_of[node] = list(node.inputs)
            stack.extend(reversed(node.inputs))  # first inputs are visited first
    return inputs_of

def reverse_edges(edges):
    """Flip a graph: {node: [nodes it points to]} -> {node: [nodes pointing to it]}."""
    flipped = {node: [] for node in edges}
    for node, targets in edges.items():
        for target in targets:
            flipped[target].append(node)
    return flipped


# %% [markdown]
# The third is Kahn's algorithm itself. It takes a graph as "what each node waits for" and
# returns the nodes in an order where every node comes after everything it waits for.

# %%
def kahn(waits_for):
    """Kahn's algorithm: order the nodes so each comes after all of waits_for[node]."""
    count = {node: len(deps) for node, deps in waits_for.items()}  # dependency table
    unblocks = reverse_edges(waits_for)
    ready = deque(node for node, n in count.items() if n == 0)      # the ready queue
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for other in unblocks[node]:
            count[other] -= 1
            if count[other] == 0:
                ready.append(other)
    if len(order) < len(waits_for):
        stuck = len(waits_for) - len(order)
        raise ValueError(f"kahn(): {stuck} nodes never became ready; the graph has a "
                         "cycle, so no topological order exists")
    return order


# %% [markdown]
# A session run is then a loop over that order. Only the nodes that the fetched result depends
# on are visited, so unrelated parts of a big graph cost nothing. (A real TF1 `Session` is an
# object because it also owns devices and the current values of the variables; our graphs have
# no variables, so a function will do.)

# %%
def session_run(fetch, feed_dict):
    """Compute `fetch`: run what it needs in topological order, feeding placeholders."""
    compute = {"add": operator.add, "mul": operator.mul}
    values = {}
    for node in kahn(graph_of(fetch)):       # inputs always come before their consumers
        if node.op == "placeholder":
            values[node] = feed_dict[node]
        elif node.op == "constant":
            values[node] = node.value
        else:
            values[node] = compute[node.op](*(values[i] for i in node.inputs))
    return values[fetch]


# %% [markdown]
# Feed `b` and run the graph, twice with different feeds: the graph is built once and reused.

# %% tags=["nbval-check-output"]
print(session_run(c, {b: torch.tensor([[1, 1], [1, 1]])}))
print(session_run(c, {b: torch.tensor([[10, 0], [0, 10]])}))

# %% [markdown]
# Let's watch the scheduler on a graph with some sharing:
# $\mathrm{out} = (w x + b_0)^2 + x$, where $x$ is fed and $w = 3$, $b_0 = 1$. Here `y2` reads
# `y` twice and `out` reads the input `x` a second time, so some nodes wait for two inputs.
# The cell prints the dependency table the scheduler starts from and the order it runs the
# nodes in.

# %% tags=["nbval-check-output"]
x = placeholder("x")
wx = mul(constant(3.0, "w"), x, "wx")
y = add(wx, constant(1.0, "b0"), "y")
out = add(mul(y, y, "y2"), x, "out")
inputs_of = graph_of(out)
print("dependency table:", {node.name: len(deps) for node, deps in inputs_of.items()})
forward_order = kahn(inputs_of)
print("run order:       ", [node.name for node in forward_order])

# %% [markdown]
# Every node in that order comes after all of its inputs, and the result for $x = 2$ is
# $(3 \cdot 2 + 1)^2 + 2 = 51$.

# %%
def respects_dependencies(order, inputs_of):
    """True if every node of `order` comes after all of its inputs."""
    position = {node: i for i, node in enumerate(order)}
    return all(position[i] < position[node]
               for node, ins in inputs_of.items() for i in ins)

assert respects_dependencies(forward_order, inputs_of), "a node runs before an input"
assert session_run(out, {x: 2.0}) == 51.0, "(3*2 + 1)^2 + 2 should be 51"

# %% [markdown]
# To draw a graph, `d2lite.diagrams.computation_graph` gives each node a row one below the
# lowest node that points to it, and moves inputs down to sit just above the first node that
# reads them. Kahn's order comes in handy again: walking it, a node's parents already have
# their rows.

# %% [markdown]
# [Figure 2](#fig-autograd-define-and-run) shows our mock graph, with data flowing from the top
# down. The placeholder `x` feeds both `wx` and, along the curved arrow, `out`. The single arrow from `y` to `y2` stands for two
# edges, one per factor of $y \cdot y$, which is why `y2` waited for a count of 2.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The define-and-run graph of out = (w·x + b0)² + x: each box is a node (its name and operation); arrows carry data from the top down.", "name": "fig-autograd-define-and-run"}}
d2lite.diagrams.computation_graph(reverse_edges(inputs_of),
                                  {n: f"{n.name}\n{n.op}" for n in inputs_of})

# %% [markdown]
# Knowing the whole graph before running it is what makes define-and-run attractive. The
# library can drop nodes the fetch does not need, run independent nodes in parallel, fuse
# operations, merge repeated subexpressions, and ship the graph to a phone or a server without
# Python. The cost is that your program is now two programs: Python that *builds* a graph and a
# graph that *runs*. You can't `print` an intermediate value or step through the model in a
# debugger, and an `if` or a `while` that depends on data must become a special graph op.
#
# | TensorFlow 1 | what it is | eager PyTorch |
# |---|---|---|
# | graph | the DAG of operations, built before any data arrives | recorded on the fly in `grad_fn` |
# | symbolic tensor | a handle to a result of a future run | a tensor that holds numbers now |
# | operation | a node (`tf.add`, `tf.matmul`) | an ordinary function call |
# | variable | a node whose value persists across runs | a tensor with `requires_grad=True` (`nn.Parameter`) |
# | placeholder + `feed_dict` | an input slot and the values fed into it | a Python argument |
# | `session.run(fetch)` | schedules and executes what `fetch` needs | calling your function |
#
# ### Define-by-run: the graph is a trace of the program
#
# PyTorch, like TensorFlow 2 by default, works
# **[define-by-run](../../book/glossary.md#term-define-by-run)** (边运行边定义, an eager or dynamic
# graph). Each operation runs at once on real numbers, and as it runs autograd appends a node to the
# graph. The graph is a by-product of running ordinary Python, so plain Python control flow just
# works, and each call can record a *different* graph.
#
# The function below doubles its input until it reaches 100 in size. How many doublings happen
# depends on the value, so the recorded graph, and the gradient $2^k$ after $k$ doublings,
# differ from one input to the next.

# %% tags=["nbval-check-output"]
def double_until_big(x):
    """Double x until |x| >= 100; the number of doublings depends on the value of x."""
    while x.abs() < 100:
        x = 2 * x
    return x

for start, doublings in [(3.0, 6), (30.0, 2)]:
    x = torch.tensor(start, requires_grad=True)
    y = double_until_big(x)
    y.backward()
    print(f"x = {start:4}: y = {y.item():5}, dy/dx = {x.grad.item()}")
    assert x.grad.item() == 2.0**doublings, f"expected dy/dx = 2^{doublings}"

# %% [markdown]
# ## The graph PyTorch records
#
# The record lives in the `grad_fn` attributes you saw earlier. Each `grad_fn` node lists, in
# `next_functions`, the nodes that its gradient flows to next; a leaf that requires gradients
# ends in an `AccumulateGrad` node, which adds the arriving gradient to the leaf's `.grad`.
# Walking `next_functions` from the output recovers the whole backward graph. Let's do it for
# $\mathrm{out} = \tanh(ab + a)$, in which $a$ is used twice.

# %%
def autograd_graph(tensor):
    """Map each node of tensor's backward graph to the nodes its gradient flows to."""
    edges, stack = {}, [tensor.grad_fn]
    while stack:
        fn = stack.pop()
        if fn not in edges:
            edges[fn] = [nxt for nxt, _ in fn.next_functions if nxt is not None]
            stack.extend(edges[fn])
    return edges


# %% [markdown]
# The graph has one node per operation plus one `AccumulateGrad` per leaf, and `a`'s node is
# shared by both operations that read `a`.

# %% tags=["nbval-check-output"]
a = torch.tensor(0.5, requires_grad=True)
b = torch.tensor(-1.5, requires_grad=True)
out = torch.tanh(a * b + a)
edges = autograd_graph(out)
for fn, nexts in edges.items():
    print(f"{type(fn).__name__:15} -> {[type(n).__name__ for n in nexts]}")
assert len(edges) == 5, f"expected 3 operations + 2 leaves, got {len(edges)} nodes"
into_a = [fn for fn, nexts in edges.items() for n in nexts
          if getattr(n, "variable", None) is a]   # nodes whose gradient flows into a
assert len(into_a) == 2, f"a's AccumulateGrad has {len(into_a)} incoming edges, not 2"

# %% [markdown]
# In [Figure 3](#fig-autograd-backward-graph), arrows point the way the gradient flows, from the
# output (top) down to the leaves; each `AccumulateGrad` box names its leaf. Notice the two arrows
# arriving at `a`'s box: its gradient is the sum of what comes down both paths.

# %%
leaf_names = {id(a): "a", id(b): "b"}
labels = {fn: type(fn).__name__ + (f"\n(leaf {leaf_names[id(fn.variable)]})"
                                   if hasattr(fn, "variable") else "") for fn in edges}

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The backward graph PyTorch records for tanh(a·b + a), read from out.grad_fn through next_functions. Arrows point the way the gradient flows.", "name": "fig-autograd-backward-graph"}}
d2lite.diagrams.computation_graph(edges, labels)

# %% [markdown]
# ## Capturing a graph with `torch.fx`
#
# Define-by-run is pleasant to write, but a whole-graph view still pays off for optimising and
# deploying models. Modern PyTorch gets one from your eager code. `torch.fx` does it by
# *symbolic tracing*: it calls your `forward` with a proxy object in place of the input, and
# every operation on the proxy is written down instead of computed. The proxy plays exactly the
# role of TF1's placeholder. (`torch.compile` captures graphs too, by reading Python bytecode,
# and then compiles them into fast kernels.)

# %%
class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        return torch.sigmoid(self.linear(x)).sum(dim=1)

d2lite.seed_everything(0)
net = TinyNet()
traced = fx.symbolic_trace(net)


# %% [markdown]
# The captured graph is a list of nodes: a `placeholder` for the input, a `call_module` for
# the linear layer, a `call_function` and a `call_method` for the sigmoid and the sum, and the
# `output`.

# %% tags=["nbval-check-output"]
for node in traced.graph.nodes:
    target = node.target if isinstance(node.target, str) else node.target.__name__
    print(f"{node.op:14} {node.name:8} target={target:8} args={node.args}")

# %% [markdown]
# From that graph fx regenerates Python code, and the resulting `GraphModule` computes exactly
# what the original module does.

# %%
print(traced.code.strip())
X = torch.randn(4, 3)
assert torch.equal(traced(X), net(X)), "the traced module should match the original"

# %% [markdown]
# Symbolic tracing has define-and-run's blind spot: a proxy has no value, so Python cannot
# decide a data-dependent `while`. Tracing `double_until_big` fails, while eager PyTorch ran
# it happily above.

# %% tags=["nbval-check-output"]
try:
    fx.symbolic_trace(double_until_big)
    traced_ok = True
except fx.proxy.TraceError as err:
    traced_ok = False
    print("TraceError:", err)
assert not traced_ok, "tracing a data-dependent loop should fail"

# %% [markdown]
# ## A tiny autograd engine
#
# You have now seen every ingredient of autograd: a graph recorded during the forward pass,
# a local derivative for each operation, the chain rule, and a topological order. Let's put
# them together in a scalar engine in the spirit of Karpathy's micrograd.
#
# A `Value` holds a number and, if it was computed, its inputs and the *local* derivatives
# $\partial\,\mathrm{self} / \partial\,\mathrm{input}$, which each operation knows at the moment
# it runs: for $s = p + q$ both are $1$; for $s = p q$ they are $q$ and $p$; for
# $s = \tanh p$ it is $1 - s^2$; for $s = \sigma(p)$ it is $s(1 - s)$. Because a `Value` has
# `.inputs`, our `graph_of` and `kahn` work on it unchanged.

# %%
class Value:
    """A scalar that remembers the Values it came from and its local derivatives."""

    def __init__(self, data, inputs=(), local_grads=(), op=""):
        self.data = float(data)
        self.grad = 0.0                 # d root / d self, filled in by backward()
        self.inputs = inputs            # the Values this one was computed from
        self.local_grads = local_grads  # d self / d input, one number per input
        self.op = op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        local = (other.data, self.data)  # d(pq)/dp = q, d(pq)/dq = p
        return Value(self.data * other.data, (self, other), local, "*")

    __radd__ = __add__  # so that 1 + v works
    __rmul__ = __mul__  # so that 2 * v works

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1 - t * t,), "tanh")

    def sigmoid(self):
        s = 1 / (1 + math.exp(-self.data))
        return Value(s, (self,), (s * (1 - s),), "sigmoid")


# %% [markdown]
# The backward pass is where the order matters. A node may feed several consumers, and by the
# chain rule its gradient is the *sum* over them:
#
# $$
# \frac{\partial L}{\partial v} = \sum_{c\ \text{consumes}\ v}
#     \frac{\partial L}{\partial c}\,\frac{\partial c}{\partial v}.
# $$
#
# So a node may pass its gradient on only after *all* of its consumers have added their share.
# That is Kahn's algorithm again, on the reversed graph: each node waits for its consumers,
# and the output, which has none, is ready first. PyTorch's own engine schedules its backward
# pass the same way, with a dependency count per `grad_fn` node. Our `backward` fills in every
# `.grad` from scratch (PyTorch's would accumulate) and returns the order it used.

# %%
def backward(root):
    """Set v.grad = d root / d v for every Value v under root; return the order used."""
    inputs_of = graph_of(root)
    for node in inputs_of:
        node.grad = 0.0
    root.grad = 1.0                              # d root / d root
    order = kahn(reverse_edges(inputs_of))       # each node waits for all its consumers
    for node in order:
        for inp, local in zip(node.inputs, node.local_grads, strict=True):
            inp.grad += local * node.grad        # chain rule, summed over consumers
    return order


# %% [markdown]
# Try it on a single neuron, $o = \tanh(w_1 x_1 + w_2 x_2 + b)$. By hand,
# $\partial o / \partial w_1 = (1 - o^2)\, x_1$: the local derivative of $\tanh$ times that of the
# product.

# %%
x1, w1, x2, w2, bias = Value(2.0), Value(-0.5), Value(1.0), Value(0.75), Value(0.5)
o = (w1 * x1 + w2 * x2 + bias).tanh()
backward_order = backward(o)
names = {x1: "x1", w1: "w1", x2: "x2", w2: "w2", bias: "b"}
print(f"o = {o.data:.4f}")
print({name: round(v.grad, 4) for v, name in names.items()})
assert abs(w1.grad - (1 - o.data**2) * x1.data) < 1e-12, "do/dw1 should be (1 - o^2) x1"

# %% [markdown]
# The backward order must put every node *before* its inputs, the mirror image of the forward
# order. Let's check that, and that every node was visited exactly once. The printed order
# starts at the output and reaches each leaf only after everything that reads it.

# %%
neuron_graph = graph_of(o)
assert respects_dependencies(backward_order[::-1], neuron_graph), "order is wrong"
visited = len(set(backward_order))
assert len(backward_order) == visited == len(neuron_graph), "each node once"
print(" -> ".join(names.get(v, v.op) for v in backward_order))

# %% [markdown]
# [Figure 4](#fig-autograd-neuron) shows the neuron's graph, data flowing down, each box with its
# value and its gradient.
# Read the gradients from the bottom up: $\partial o / \partial o = 1$ at the $\tanh$, then
# $1 - o^2$ at the `+` just above it; a `+` passes its gradient on unchanged, while a `*`
# multiplies it by the other factor.

# %%
labels = {v: f"{names.get(v, v.op)} = {v.data:.2f}\ngrad {v.grad:.2f}"
          for v in neuron_graph}

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The tiny engine's graph of o = tanh(w1·x1 + w2·x2 + b) after backward: each box shows a value and its gradient.", "name": "fig-autograd-neuron"}}
d2lite.diagrams.computation_graph(reverse_edges(neuron_graph), labels)

# %% [markdown]
# Finally, the real test: does the engine agree with PyTorch? The helper below evaluates the
# same Python function twice, once on `Value`s and once on float64 tensors (both understand
# `+`, `*`, `.tanh()` and `.sigmoid()`), runs both backward passes, and returns the largest
# difference between the gradients. You will reuse it in the exercises.

# %%
def engine_vs_torch(f, numbers, engine_backward=backward):
    """Largest |engine gradient - torch gradient| of f at `numbers`, in float64."""
    values = [Value(n) for n in numbers]
    engine_backward(f(*values))
    tensors = [torch.tensor(n, dtype=torch.float64, requires_grad=True)
               for n in numbers]
    f(*tensors).backward()
    torch_grads = [0.0 if t.grad is None else t.grad.item() for t in tensors]
    return max(abs(v.grad - g) for v, g in zip(values, torch_grads, strict=True))


# %% [markdown]
# Three expressions of growing difficulty: a sum of a product, a neuron, and one in which `a`
# appears three times (twice in `a*a`) and `c` is multiplied by itself.

# %%
expressions = {
    "a*b + c": lambda a, b, c: a * b + c,
    "tanh(a*b + c)": lambda a, b, c: (a * b + c).tanh(),
    "sigmoid(a*a + b)*a + c*c": lambda a, b, c: (a * a + b).sigmoid() * a + c * c,
}
for name, f in expressions.items():
    err = engine_vs_torch(f, (0.5, -1.5, 2.0))
    print(f"{name:25} largest gradient difference {err:.1e}")
    assert err < 1e-9, f"{name}: engine and torch differ by {err:.1e}"

# %% [markdown]
# The engine agrees with PyTorch to within $10^{-9}$ on all three. PyTorch does the same thing
# with tensors instead of scalars, hundreds of operation types, and a C++ engine that runs the
# ready queue on several threads and devices, but the idea is the one you just wrote.
#
# ## Summary
#
# - Mark the tensors you want gradients for with `requires_grad=True`; `loss.backward()` then
#   applies the chain rule through the recorded graph and stores $\partial\,\mathrm{loss} /
#   \partial\,\mathrm{leaf}$ in each leaf's `.grad`.
# - Gradients accumulate: two backward passes give twice the gradient, so zero `.grad`
#   (`zero_()`, or an optimiser's `zero_grad()`) between steps. `detach()` and `torch.no_grad()`
#   stop gradients from flowing.
# - Autograd checks out against calculus: the sigmoid's derivative is $\sigma(1-\sigma)$, which
#   peaks at $1/4$ and all but vanishes for large $|x|$.
# - A computational graph has operations as nodes and tensors on the edges. TensorFlow 1 builds
#   it first and runs it in a session, feeding placeholders (define-and-run); PyTorch records it
#   while the code runs (define-by-run), so Python control flow just works. `torch.fx` captures
#   a graph from eager code by tracing with proxies, and fails on data-dependent control flow.
# - Both the forward schedule and the backward pass need a topological order. Kahn's algorithm
#   finds one with a dependency-count table and a ready queue; a node's gradient is complete
#   only after all its consumers have contributed.
#
# ## Exercises
#
# 1. **Accumulate over pieces.** Let `x = torch.arange(6.0, requires_grad=True)` and
#    $L = \sum_i x_i^2$. Compute the gradient by calling `backward` once for each of the three
#    pieces `x[0:2]`, `x[2:4]`, `x[4:6]` (the sum of squares of each piece), without zeroing in
#    between. Check that `x.grad` equals $2x$. Why does this work, and what would go wrong if
#    `backward` overwrote `.grad` instead?

# %% tags=["hide-cell"]
x = torch.arange(6.0, requires_grad=True)
for piece in (slice(0, 2), slice(2, 4), slice(4, 6)):
    (x[piece] ** 2).sum().backward()   # adds this piece's share to x.grad
print(x.grad)
assert torch.equal(x.grad, 2 * x.detach()), "the pieces should add up to the gradient"

# %% [markdown]
# <details><summary>Answer</summary>
#
# Each piece's backward pass fills in its own two entries of `x.grad` and adds zero to the other
# four, so the sum over pieces is the gradient of the whole sum. Were `.grad` overwritten, only
# the last piece's entries would survive: `[0, 0, 0, 0, 8, 10]`.
#
# </details>
#
# 2. **Grow the engine.** Add `exp` (local derivative $e^p$) and subtraction (`__sub__` and
#    `__neg__`, or `__sub__` built from `+` and `*`) to `Value`. Self-check:
#    `assert engine_vs_torch(lambda a, b, c: (a - b).exp() * c - c, (0.5, -1.5, 2.0)) < 1e-9`.
# 3. **Why Kahn?** Write `backward_bfs(root)`, a copy of `backward` that processes the nodes in
#    breadth-first order from the root (each node once, when first discovered) instead of
#    `kahn(...)`. Check that it still passes all three expressions above, then find an expression
#    `f` for which `engine_vs_torch(f, (0.5, -1.5, 2.0), engine_backward=backward_bfs) > 1e-3`
#    (try `lambda a, b, c: (p := a * b).tanh().tanh() + p`, in which the product `p` feeds two
#    operations). Which node passed on its gradient too early? Why are the three expressions
#    above safe?

# %% tags=["hide-cell"]
def backward_bfs(root):
    """Like backward(), but visit nodes breadth-first, each once, when discovered."""
    for node in graph_of(root):
        node.grad = 0.0
    root.grad = 1.0
    order, queue, seen = [], deque([root]), {root}
    while queue:
        node = queue.popleft()
        order.append(node)
        for inp, local in zip(node.inputs, node.local_grads, strict=True):
            inp.grad += local * node.grad   # has every consumer of node reported yet?
            if inp not in seen:
                seen.add(inp)
                queue.append(inp)
    return order


bfs_errors = {name: engine_vs_torch(f, (0.5, -1.5, 2.0), engine_backward=backward_bfs)
              for name, f in expressions.items()}
shared_product = lambda a, b, c: (p := a * b).tanh().tanh() + p   # p feeds two ops
bad = engine_vs_torch(shared_product, (0.5, -1.5, 2.0), engine_backward=backward_bfs)
print({name: f"{err:.0e}" for name, err in bfs_errors.items()}, f"shared p: {bad:.3f}")
assert max(bfs_errors.values()) < 1e-9, "breadth-first is enough for the three above"
assert bad > 1e-3, f"with a shared inner node breadth-first should fail, not {bad:.1e}"
assert engine_vs_torch(shared_product, (0.5, -1.5, 2.0)) < 1e-9, "Kahn's order is right"

# %% [markdown]
# <details><summary>Answer</summary>
#
# Breadth-first order reaches `p` from the final `+` after one step, while the path through the
# two `tanh`s takes three; so `p` passes its gradient on to `a` and `b` before the `tanh` path has
# added its share, which is lost. In the three expressions above, the only values used twice are
# leaves (`a` and `c`), and a leaf passes nothing on, so it does not matter when it is visited.
#
# </details>
#
# 4. **Unroll a loop with fx.** Write `double_n(x, n)` that doubles `x` exactly `n` times with
#    a Python `for` loop. Trace it with `g = fx.symbolic_trace(double_n, concrete_args={"n": 3})`,
#    print `g.code`, and check that the loop was unrolled into three multiplications. Why can fx
#    trace this loop but not the one in `double_until_big`?

# %% tags=["hide-cell"]
def double_n(x, n):
    """Double x exactly n times."""
    for _ in range(n):
        x = 2 * x
    return x


g = fx.symbolic_trace(double_n, concrete_args={"n": 3})
print(g.code.strip())
multiplications = sum(node.target is operator.mul for node in g.graph.nodes)
assert multiplications == 3, f"the loop unrolled into {multiplications} multiplications"
assert g(torch.tensor(1.5), 3) == 12.0, "the traced graph should compute 1.5 * 2**3"

# %% [markdown]
# <details><summary>Answer</summary>
#
# The number of iterations depends on `n`, a plain Python number fixed at tracing time, not on the
# proxy's value. (The traced code still takes `n`, and checks that you pass 3 again.)
# `double_until_big` asks the proxy itself, `x.abs() < 100`, which has no answer until real data
# arrives.
#
# </details>
#
# 5. **A scheduler with variables.** Give the mock graph a `variable(value, name)` node whose
#    value lives in a `Session` object and persists across runs, plus an `assign` node that
#    writes a new value. Use them to count how many times a graph has been run.
