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
# # Recurrent layers in PyTorch, and their gradients
#
# In [the previous lesson](rnn_from_scratch.ipynb) you wrote the RNN's loop yourself. Here you
# use PyTorch's `nn.RNN` instead and learn the shapes it expects and returns, which trip up
# everybody once. Then you measure what the previous lesson only derived: the gradient that
# reaches time step $t$ shrinks or grows geometrically, at a rate set by the recurrent
# weights. Finally you train with truncated backpropagation through time, which carries the
# hidden state from one minibatch to the next but stops the gradient at the boundary.

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
from d2lite.models import RNNLM, RNNScratch, lm_loss
from d2lite.text import Vocab, sequential_lm_batches

# %% [markdown]
# ## `nn.RNN` and its shapes
#
# `nn.RNN(input_size, hidden_size)` is the layer of the previous lesson, with its loop written
# in C++. By default it is *seq-first*: the input has shape (steps, batch, features), because
# the layer walks along the first axis. It returns two tensors: `output`, the hidden state of
# the last layer at every step, (steps, batch, hidden), and `h_n`, the final hidden state of
# every layer, (layers, batch, hidden). Here: 35 steps, a batch of 4, 28 input features (a
# one-hot character) and 64 hidden units.

# %%
d2lite.seed_everything(0)
rnn = nn.RNN(input_size=28, hidden_size=64)
inputs = torch.randn(35, 4, 28)                     # (steps, batch, features)
output, h_n = rnn(inputs)
print("output", tuple(output.shape), " h_n", tuple(h_n.shape))
assert output.shape == (35, 4, 64) and h_n.shape == (1, 4, 64)
assert torch.equal(output[-1], h_n[0]), "the last output is the final state"

# %% [markdown]
# With `batch_first=True` the layer takes and returns (batch, steps, features), the layout
# most data pipelines produce. The catch: `h_n` does *not* change. It stays (layers, batch,
# hidden), so code that carries the state over must not transpose it. Stacking layers
# (`num_layers=2`) adds one row of `h_n` per layer, while `output` still holds only the top
# layer's states.

# %%
batch_rnn = nn.RNN(28, 64, batch_first=True)
batch_rnn.load_state_dict(rnn.state_dict())        # the same weights
output_bf, h_n_bf = batch_rnn(inputs.transpose(0, 1))   # (batch, steps, features)
print("batch_first: output", tuple(output_bf.shape), " h_n", tuple(h_n_bf.shape))
assert output_bf.shape == (4, 35, 64) and h_n_bf.shape == (1, 4, 64)
assert torch.allclose(output_bf.transpose(0, 1), output, atol=1e-6)
deep_output, deep_h = nn.RNN(28, 64, num_layers=2)(inputs)
print("two layers: output", tuple(deep_output.shape), " h_n", tuple(deep_h.shape))
assert deep_output.shape == (35, 4, 64) and deep_h.shape == (2, 4, 64)

# %% [markdown]
# The parameters are those of equation (1) of the previous lesson, stored transposed
# (PyTorch keeps the output dimension first) and with two biases where one would do:
# `weight_ih_l0` is $\mathbf{W}_{xh}^\top$, `weight_hh_l0` is $\mathbf{W}_{hh}^\top$, and
# `bias_ih_l0 + bias_hh_l0` is $\mathbf{b}_h$. The gated layers of the next lessons stack the
# weights of their gates in the same tensors: the notes list `nn.GRU`'s `weight_ih_l0` as
# $(\mathbf{W}_{ir} | \mathbf{W}_{iz} | \mathbf{W}_{in})$, three times as tall.

# %%
for name, p in rnn.named_parameters():
    print(f"{name:13} {tuple(p.shape)}")
gru_shapes = {n: tuple(p.shape) for n, p in nn.GRU(28, 64).named_parameters()}
print("nn.GRU:", gru_shapes)
assert gru_shapes["weight_ih_l0"] == (3 * 64, 28) and gru_shapes["bias_hh_l0"] == (192,)

# %% [markdown]
# Copy these weights into `d2lite.models.RNNScratch`, the loop of the previous lesson, and the
# two layers agree to rounding error, from a zero state and from a random one.

# %%
scratch = RNNScratch(28, 64)
with torch.no_grad():
    scratch.W_xh.copy_(rnn.weight_ih_l0.T)
    scratch.W_hh.copy_(rnn.weight_hh_l0.T)
    scratch.b_h.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
state = torch.randn(1, 4, 64)
for start in (None, state):
    (ours, ours_h), (theirs, theirs_h) = scratch(inputs, start), rnn(inputs, start)
    gap = max((ours - theirs).abs().max(), (ours_h - theirs_h).abs().max()).item()
    print(f"largest difference: {gap:.1e}")
    assert gap < 1e-5, f"RNNScratch and nn.RNN differ by {gap:.1e}"

# %% [markdown]
# ## The gradient at step $t$: vanishing and exploding
#
# Equation (3) of the previous lesson says that the gradient reaching the hidden state
# $\mathbf{h}_t$ from a loss at the last step $T$ goes through $T - t$ factors of the
# recurrent weight matrix. Drop the activation and make it concrete: a linear recurrence
# $\mathbf{h}_t = \mathbf{W}\mathbf{h}_{t-1} + \mathbf{x}_t$ and the loss
# $L = \sum_i h_{T,i}$. Then $\partial L / \partial \mathbf{h}_t = (\mathbf{W}^\top)^{T-t}
# \mathbf{1}$. For large $T - t$ the power is dominated by the eigenvalue of largest modulus,
# the **spectral radius** $\rho(\mathbf{W})$, so the gradient's norm should behave like
# $C\rho^{T-t}$: a straight line on a log scale with slope $\log \rho$ per step, falling for
# $\rho < 1$ (the [vanishing gradient](../../book/glossary.md#term-vanishing-gradient)) and
# rising for $\rho > 1$ (the **[exploding gradient](../../book/glossary.md#term-exploding-gradient)**,
# 梯度爆炸). [Bengio et al., 1994](../../book/references.md) showed why this makes long-range
# dependencies hard to learn by gradient descent.
#
# The cell draws one random $32 \times 32$ matrix, rescales it to $\rho = 0.9$ and to
# $\rho = 1.1$, runs 100 steps, and lets autograd compute the gradient at every $\mathbf{h}_t$
# (`retain_grad` keeps gradients of intermediate tensors).

# %%
d2lite.seed_everything(0)
d, T = 32, 100
A = torch.randn(d, d, dtype=torch.float64)
A = A / torch.linalg.eigvals(A).abs().max()          # spectral radius 1
def gradient_norms(W):
    """||dL/dh_t|| for t = 1..T of h_t = W h_{t-1} + x_t, L = sum(h_T)."""
    xs = torch.randn(T, d, dtype=torch.float64, requires_grad=True)
    h, states = torch.zeros(d, dtype=torch.float64), []
    for x in xs:
        h = W @ h + x
        h.retain_grad()
        states.append(h)
    h.sum().backward()
    return torch.stack([s.grad.norm() for s in states])      # (T,)
norms = {rho: gradient_norms(rho * A) for rho in (0.9, 1.1)}

# %% [markdown]
# [Figure 1](#fig-rnn_concise_and_gradients-norms) shows the two norms against the time step
# on a log axis. Far from the loss (small $t$), the contracting recurrence passes on almost
# nothing, and the expanding one passes on a gradient thousands of times larger than the one
# at the loss: $1.1^{99} \approx 12{,}500$, times a constant that depends on the matrix.

# %%
first_over_last = {rho: (norm[0] / norm[-1]).item() for rho, norm in norms.items()}
print("gradient at h_1 / gradient at h_100:",
      {rho: f"{ratio:.2g}" for rho, ratio in first_over_last.items()})
assert first_over_last[0.9] < 0.01 and first_over_last[1.1] > 100, first_over_last

# %% mystnb={"figure": {"caption": "Norm of the gradient at the hidden state of step t, for a loss at step 100, for a linear recurrence whose weight matrix has spectral radius 0.9 (vanishing) and 1.1 (exploding). Log scale: geometric change is a straight line.", "name": "fig-rnn_concise_and_gradients-norms"}}
steps = list(range(1, T + 1))
ax = d2lite.plot(steps, [norms[0.9], norms[1.1]], "time step t",
                 "gradient norm at h_t", legend=["ρ = 0.9", "ρ = 1.1"],
                 yscale="log", figsize=(5, 3.2))
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# Now the check: fit a straight line to $\log\|\partial L / \partial \mathbf{h}_t\|$ against
# the distance $T - t$, leaving out the last 30 steps where the other eigenvalues still
# matter, and compare its slope with $\log\rho$. They should agree within 0.02 per step,
# a tenth of the gap of 0.2 between $\log 0.9$ and $\log 1.1$.

# %%
distance = torch.arange(T - 1, -1, -1, dtype=torch.float64)   # T - t for t = 1..T
far = distance >= 30
design = torch.stack([distance[far], torch.ones_like(distance[far])], dim=1)
for rho, norm in norms.items():
    slope = torch.linalg.lstsq(design, norm[far].log()[:, None]).solution[0, 0].item()
    print(f"rho = {rho}: fitted slope {slope:+.4f} per step, log(rho) = "
          f"{math.log(rho):+.4f}; 50 steps back x{norm[T - 51] / norm[-1]:.3g}")
    assert abs(slope - math.log(rho)) < 0.02, f"slope {slope:.4f} is not log {rho}"

# %% [markdown]
# A tanh layer multiplies every factor by $\tanh'(\cdot) \le 1$ as well, which makes vanishing
# more likely and, once the units saturate, hides an explosion; gradient clipping from the
# previous lesson handles the explosions that remain. The gated layers of the next two
# lessons attack the vanishing side.
#
# ## Truncated backpropagation through time
#
# The previous lesson trained on random subsequences and started each from a zero state, so
# the model never saw more than 32 characters of context. **Sequential partitioning**
# ([text and language models](text_and_language_models.ipynb)) lays the minibatches out so
# that row $i$ of one batch continues row $i$ of the batch before. Then the final hidden
# state of one batch is the right initial state for the next one.

# %%
lines = d2lite.data.load_time_machine(verbose=False)
text = " ".join(line for line in lines if line)
vocab = Vocab(list(text))
corpus = torch.tensor(vocab[list(text)])
cut = int(0.9 * len(corpus))
train_data = sequential_lm_batches(corpus[:cut], batch_size=32, num_steps=32, seed=0)
(X1, _), (X2, _) = list(train_data)[:2]
print("row 0, batch 1:", repr("".join(vocab.to_tokens(X1[0]))))
print("row 0, batch 2:", repr("".join(vocab.to_tokens(X2[0]))))

# %% [markdown]
# Carrying the state over raises a problem. The state is the end of a computational graph
# that reaches back to the first batch; if you keep it as it is, the next `backward()` has to
# run through every batch so far, which gets slower each time, and PyTorch refuses anyway,
# because it frees the previous batch's graph after its backward pass.
# **[Truncated backpropagation through time](../../book/glossary.md#term-truncated-backpropagation-through-time)**
# (截断的通过时间反向传播) cuts the state loose with `state.detach()`: the *value* flows on
# into the next batch, the *gradient* stops at the boundary. The cell shows both claims with
# two chunks of 32 one-hot characters: without the cut, the second backward pass fails; with
# it, the forward pass gives exactly the numbers of one uninterrupted run over 64 steps.

# %%
d2lite.seed_everything(0)
model = RNNLM(nn.RNN(len(vocab), 64), len(vocab))
X = corpus[:2 * 32 * 8].reshape(8, 64)                   # 8 rows of 64 characters
Y = corpus[1:2 * 32 * 8 + 1].reshape(8, 64)
whole, _ = model.forward_with_state(X)
first, state = model.forward_with_state(X[:, :32])
lm_loss(first, Y[:, :32]).backward()
try:
    lm_loss(model.forward_with_state(X[:, 32:], state)[0], Y[:, 32:]).backward()
    failed = False
except RuntimeError as error:
    failed = "second time" in str(error)
second, _ = model.forward_with_state(X[:, 32:], state.detach())
lm_loss(second, Y[:, 32:]).backward()                # fine: the graph starts at step 33
print("without detach, the second backward fails:", failed)
assert failed, "backward through the freed graph of the first chunk should fail"
assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-5)

# %% [markdown]
# And the gradient really stops: a change of an input in the first chunk changes the second
# chunk's loss (through the state), yet with the state detached its gradient with respect to
# that input is exactly zero, while full backpropagation through time sees it.

# %%
layer = nn.RNN(8, 16)
xs = torch.randn(64, 1, 8, requires_grad=True)            # (steps, batch, features)
for cut_state in (False, True):
    out1, h = layer(xs[:32])
    out2, _ = layer(xs[32:], h.detach() if cut_state else h)
    (grad,) = torch.autograd.grad(out2.sum(), xs)
    print(f"detach={cut_state}: gradient norm at the first chunk's inputs "
          f"{grad[:32].norm():.3g}, at the second's {grad[32:].norm():.3g}")
    assert (grad[:32].norm() == 0) == cut_state and grad[32:].norm() > 0

# %% [markdown]
# There are three ways to compute the gradient of a long text's loss. **Full** BPTT runs the
# sums of the previous lesson's equations (3) and (4) over the whole text: exact, but it must
# keep every hidden state of the text in memory, and the powers of $\mathbf{W}_{hh}$ in its
# longest terms are the ones that explode. **Regular truncation**, as here, cuts the sums
# after the steps of one minibatch: the gradient is biased (it ignores every effect longer
# than the cut, so the model is only pushed to use the context within one batch, even though
# its forward pass sees more), but it is cheap and stable, and it is what practice uses.
# **Randomised truncation** ([Tallec and Ollivier, 2017](../../book/references.md)) cuts at a
# random length and reweights the longer terms so that the gradient is right on average, at
# the price of a noisier gradient.
#
# ## Training with truncated BPTT
#
# `d2lite.fit` starts every batch afresh, so the loop that carries the state is written out
# here: the same phases as `fit`, plus one line that detaches the state. The model is the
# concise one, `nn.RNN` inside `RNNLM`, with 256 hidden units, Adam at the learning rate the
# previous lesson chose on its validation text (0.003), and clipping at $\theta = 1$.

# %%
def train_truncated(model, data, epochs, lr):
    """Train on sequential batches, carrying the detached state across them."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        data.set_epoch(epoch)                 # each epoch starts at its own offset
        model.train()
        state, total = None, 0.0
        for X, Y in data:
            X, Y = X.to(device), Y.to(device)
            if state is not None:
                state = state.detach()        # truncate: keep the value, cut the graph
            logits, state = model.forward_with_state(X, state)
            loss = lm_loss(logits, Y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item()
        losses.append(total / len(data))
    return losses

# %% [markdown]
# Train for 4 passes over the first 90 % of the text (the last 10 % is held out), then
# evaluate on the held-out text.

# %%
device = d2lite.try_gpu()
d2lite.seed_everything(0)
lm = RNNLM(nn.RNN(len(vocab), 256), len(vocab)).to(device)
losses = train_truncated(lm, train_data, epochs=4, lr=0.003)
print("training perplexity per epoch:", [round(math.exp(v), 2) for v in losses])
assert losses[-1] < losses[0], "the training loss should fall"

# %% [markdown]
# What does the carried state buy? Evaluate the trained model on the held-out text twice,
# with the same sequential batches: once carrying the state across batches, as in training,
# and once resetting it to zero at every batch. With the state carried, the first characters
# of each batch are predicted with the context of everything before; reset, the model has to
# guess them from nothing.

# %%
@torch.no_grad()
def held_out_perplexity(model, data, carry):
    model.eval()
    state, total = None, 0.0
    for X, Y in data:
        logits, new_state = model.forward_with_state(X.to(device), state)
        total += lm_loss(logits, Y.to(device)).item()
        state = new_state if carry else None
    return math.exp(total / len(data))
val_data = sequential_lm_batches(corpus[cut:], batch_size=8, num_steps=32, seed=0)
carried, reset = (held_out_perplexity(lm, val_data, carry) for carry in (True, False))
print(f"held-out perplexity: state carried {carried:.2f}, reset each batch {reset:.2f}")
d2lite.record("carried", carried)
d2lite.record("reset", reset)
assert carried < 8, f"held-out perplexity {carried:.2f} is not below 8"
assert carried < reset, "carrying the state should help on the held-out text"

# %% [markdown]
# ## Summary
#
# - `nn.RNN` takes (steps, batch, features) and returns every step's top-layer state
#   (steps, batch, hidden) and the final state of every layer (layers, batch, hidden);
#   `batch_first=True` changes the input and output, never the state.
# - Its weights are the scratch RNN's, transposed, with the bias split in two; gated layers
#   stack their gates' weights in the same tensors.
# - The gradient that reaches step $t$ from step $T$ scales like $\rho(\mathbf{W})^{T-t}$: it
#   vanishes for a spectral radius below 1 and explodes above 1: the measured slope per step
#   is within 0.02 of $\log\rho$.
# - Truncated BPTT carries the hidden state across sequential minibatches and detaches it:
#   the forward pass sees the whole history, the gradient stops at the batch boundary.

# %% [markdown]
# ## Exercises
#
# 1. Predict from $\rho$ alone how many steps it takes a gradient to shrink a hundredfold
#    when $\rho = 0.9$, then check it on the measured norms.

# %% tags=["hide-cell"]
predicted = math.log(1e-2) / math.log(0.9)
ratio = norms[0.9] / norms[0.9][-1]                       # relative to the last step
measured = int((ratio >= 1e-2).sum()) - 1                 # steps back before 1/100
print(f"predicted {predicted:.1f} steps, measured {measured}")
assert abs(measured - predicted) < 5, "the hundredfold distance is off"

# %% [markdown]
# 2. Use an orthogonal matrix, scaled by $\rho$, as $\mathbf{W}$. All its eigenvalues have
#    modulus $\rho$ and it stretches every vector by exactly $\rho$. What does that do to the
#    gradient norms? Check that they are exactly geometric.

# %% tags=["hide-cell"]
Q, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))
exact = gradient_norms(0.9 * Q)
predicted = exact[-1] * 0.9 ** distance
print(f"largest relative error {((exact - predicted) / predicted).abs().max():.1e}")
assert torch.allclose(exact, predicted, rtol=1e-9)

# %% [markdown]
# 3. Train the same model with random sampling and a fresh state per batch
#    (`random_lm_batches`, `d2lite.fit`) for the same number of epochs, and evaluate it with
#    the state reset every batch. How does it compare with the truncated-BPTT model evaluated
#    both ways?
