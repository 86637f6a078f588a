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
# # Gated recurrent units (GRU)
#
# A plain RNN mixes every character it reads into its hidden state with the same weight, and its
# gradients vanish or explode over long stretches. In this lesson you build the
# **[gated recurrent unit](../../book/glossary.md#term-gated-recurrent-unit)** (门控循环单元,
# GRU), which learns, at every step, how much of the past to use and how much of it to keep. You
# write its two gates and its candidate state from scratch, check them against
# `d2lite.models.GRUScratch` and PyTorch's `nn.GRU`, and train a GRU language model on *The Time
# Machine* against a plain RNN with the same budget.

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
from torch.nn import functional as F
from d2lite.models import RNNLM, GRUScratch, RNNScratch, lm_loss, predict
from d2lite.text import Vocab, random_lm_batches

# %% [markdown]
# ## Not every token matters equally
#
# The source notes start from a sentence: "I'm so hungry, I want some bread. The weather is
# nice today." Reading it one word at a time, a model that has to come up with "bread" needs
# "hungry" and "want"; "so" and the comma hardly matter and could be dropped. And by the time
# it reaches "weather", everything before the full stop is another story that it may as well
# forget. A plain [RNN](rnn_from_scratch.ipynb) can do neither: every step computes
# $\mathbf{H}_t = \tanh(\mathbf{X}_t \mathbf{W}_{xh} + \mathbf{H}_{t-1}\mathbf{W}_{hh} +
# \mathbf{b}_h)$, the same mixture whatever the token.
#
# The GRU ([Cho et al., 2014](../../book/references.md)) adds two learned switches for these
# two needs, each a small fully connected layer with a sigmoid, so that it outputs numbers
# between 0 and 1 for every hidden unit:
#
# - the **[update gate](../../book/glossary.md#term-update-gate)** (更新门) $\mathbf{Z}_t$ decides
#   how much of the old state to keep and how much of the new input to write in, so an
#   unimportant token can be skipped;
# - the **[reset gate](../../book/glossary.md#term-reset-gate)** (重置门) $\mathbf{R}_t$ decides
#   how much of the old state the new content may look at, so the past can be forgotten after a
#   full stop.
#
# ## Reset and update gates
#
# Both gates read the current input $\mathbf{X}_t$ (batch, $d$) and the previous state
# $\mathbf{H}_{t-1}$ (batch, $h$), exactly as the RNN's hidden layer does, but end in a sigmoid:
#
# $$
# \mathbf{R}_t = \sigma(\mathbf{X}_t \mathbf{W}_{xr} + \mathbf{H}_{t-1} \mathbf{W}_{hr} +
# \mathbf{b}_r), \qquad
# \mathbf{Z}_t = \sigma(\mathbf{X}_t \mathbf{W}_{xz} + \mathbf{H}_{t-1} \mathbf{W}_{hz} +
# \mathbf{b}_z). \tag{1}
# $$
#
# So a GRU has three sets of weights where the RNN has one: one per gate and one for the new
# content. The class below holds them, each set made by the same helper as in the notes, and
# initialised like PyTorch's (uniform in $\pm 1/\sqrt{h}$). Its forward pass walks along the
# time steps and calls `gru_step`, which the next cells write one equation at a time.

# %%
class GRU(nn.Module):
    """A GRU from its equations. inputs: (steps, batch, d); state: (1, batch, h)."""

    def __init__(self, num_inputs, num_hiddens):
        super().__init__()
        self.input_size, self.hidden_size = num_inputs, num_hiddens  # nn.GRU's names
        bound = 1 / math.sqrt(num_hiddens)
        def uniform(*shape):
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))
        def weights_and_bias():             # W_x (d, h), W_h (h, h), b (h,)
            return (uniform(num_inputs, num_hiddens), uniform(num_hiddens, num_hiddens),
                    uniform(num_hiddens))
        self.W_xr, self.W_hr, self.b_r = weights_and_bias()    # reset gate
        self.W_xz, self.W_hz, self.b_z = weights_and_bias()    # update gate
        self.W_xh, self.W_hh, self.b_xh = weights_and_bias()   # candidate state
        self.b_hh = uniform(num_hiddens)    # a second candidate bias (see below)

    def forward(self, inputs, state=None):
        if state is None:
            state = inputs.new_zeros(1, inputs.shape[1], self.hidden_size)
        H, outputs = state[0], []                   # H: (batch, h)
        for X_t in inputs:                          # X_t: (batch, d), one time step
            H = gru_step(self, X_t, H)
            outputs.append(H)
        return torch.stack(outputs), H.unsqueeze(0)  # (steps, batch, h), (1, batch, h)


# %% [markdown]
# Equation (1) in code. On a random minibatch of 4 rows with 5 inputs and 8 hidden units, each
# gate has one value per row and hidden unit, all strictly between 0 and 1.

# %%
def reset_and_update(gru, X_t, H):
    """Equation (1): the reset and update gates, each (batch, h) in (0, 1)."""
    R = torch.sigmoid(X_t @ gru.W_xr + H @ gru.W_hr + gru.b_r)
    Z = torch.sigmoid(X_t @ gru.W_xz + H @ gru.W_hz + gru.b_z)
    return R, Z


d2lite.seed_everything(0)
gru = GRU(num_inputs=5, num_hiddens=8)
X_t, H = torch.randn(4, 5), torch.randn(4, 8)               # (batch, d), (batch, h)
R, Z = reset_and_update(gru, X_t, H)
print("R", tuple(R.shape), f"in [{R.min():.3f}, {R.max():.3f}];",
      "Z", tuple(Z.shape), f"in [{Z.min():.3f}, {Z.max():.3f}]")
gates = torch.stack([R, Z])                                   # (2, batch, h)
assert R.shape == Z.shape == (4, 8)

# %% [markdown]
# ## The candidate hidden state
#
# The reset gate acts on the content the GRU might write. Its
# **[candidate hidden state](../../book/glossary.md#term-candidate-hidden-state)** (候选隐状态)
# is the RNN's hidden layer with the old state's contribution multiplied, unit by unit ($\odot$),
# by $\mathbf{R}_t$:
#
# $$
# \tilde{\mathbf{H}}_t = \tanh\big(\mathbf{X}_t \mathbf{W}_{xh} + \mathbf{b}_{xh} +
# \mathbf{R}_t \odot (\mathbf{H}_{t-1} \mathbf{W}_{hh} + \mathbf{b}_{hh})\big). \tag{2}
# $$
#
# Where $\mathbf{R}_t$ is close to 1, this is the plain RNN; where it is close to 0, the past is
# ignored and $\tilde{\mathbf{H}}_t$ depends on $\mathbf{X}_t$ alone, as in an MLP. The tanh
# keeps it in $(-1, 1)$, so it cannot grow step after step. One detail: Cho et al. and the
# notes reset the state *before* the matrix product, $(\mathbf{R}_t \odot
# \mathbf{H}_{t-1})\mathbf{W}_{hh}$; PyTorch (and NVIDIA's cuDNN) reset the product, with a
# second bias $\mathbf{b}_{hh}$ inside it, as in equation (2). That form lets one product
# $\mathbf{H}_{t-1}\mathbf{W}_{hh}$ serve all three parts of the step at once, before the
# reset gate is known, which suits fast kernels. The lesson follows PyTorch so that its
# numbers can be checked against `nn.GRU`. Exercise 1 writes the other form.

# %%
def candidate(gru, X_t, H, R):
    """Equation (2): the candidate hidden state, (batch, h) in (-1, 1)."""
    return torch.tanh(X_t @ gru.W_xh + gru.b_xh + R * (H @ gru.W_hh + gru.b_hh))


H_tilde = candidate(gru, X_t, H, R)
print("candidate", tuple(H_tilde.shape),
      f"in [{H_tilde.min():.3f}, {H_tilde.max():.3f}]")

# %% [markdown]
# ## The hidden state
#
# The update gate then mixes the old state and the candidate, unit by unit:
#
# $$
# \mathbf{H}_t = \mathbf{Z}_t \odot \mathbf{H}_{t-1} + (1 - \mathbf{Z}_t) \odot
# \tilde{\mathbf{H}}_t . \tag{3}
# $$
#
# Because the two weights add up to 1, $\mathbf{H}_t$ lies between $\mathbf{H}_{t-1}$ and
# $\tilde{\mathbf{H}}_t$ and stays bounded. Where $\mathbf{Z}_t$ is close to 1 the GRU copies
# its old state and ignores $\mathbf{X}_t$: the step is skipped, and the gradient flows through
# that unit unchanged, which is what lets a GRU carry information over long distances. Where
# $\mathbf{Z}_t$ is close to 0 the new state is the candidate.
# [Figure 1](#fig-gru-cell) draws equations (1) to (3) as one cell.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The GRU cell. Boxes are learned layers (σ for the reset and update gates, tanh for the candidate), circles are element-wise operations. Follow the state line along the top: H_{t-1} reaches H_t through Z_t ⊙ H_{t-1} and one addition of (1 − Z_t) ⊙ H̃_t, so where the update gate is 1 the old state passes unchanged. The reset gate scales the old state's part of the candidate (equation (2)); the line that carries it jumps over the update gate's.", "name": "fig-gru-cell"}}
d2lite.diagrams.gru_cell()

# %% [markdown]
# With equations (1) to (3) together, `gru_step` is complete, and `GRU` can run.

# %%
def gru_step(gru, X_t, H):
    """One time step, equations (1) to (3): (batch, d), (batch, h) -> (batch, h)."""
    R, Z = reset_and_update(gru, X_t, H)
    H_tilde = candidate(gru, X_t, H, R)
    return Z * H + (1 - Z) * H_tilde


inputs = torch.randn(6, 4, 5)                                    # (steps, batch, d)
outputs, state = gru(inputs)
print("outputs", tuple(outputs.shape), "state", tuple(state.shape))

# %% [markdown]
# The notes point out the two extremes, and they are easy to check by pushing the gates'
# biases far out so that the sigmoids saturate. With the update gate at 0 and the reset gate at
# 1, equation (3) gives $\mathbf{H}_t = \tilde{\mathbf{H}}_t$ and equation (2) is the plain RNN:
# the GRU computes exactly what `RNNScratch` computes with the candidate's weights (and the two
# candidate biases added). With the update gate at 1, the state never moves from where it
# started, whatever the input.

# %%
def with_gate_biases(b_r, b_z):
    """A copy of gru whose gates are pinned by huge biases."""
    pinned = GRU(5, 8)
    pinned.load_state_dict(gru.state_dict())
    with torch.no_grad():
        pinned.b_r.fill_(b_r), pinned.b_z.fill_(b_z)
    return pinned


rnn = RNNScratch(5, 8)
rnn.load_state_dict({"W_xh": gru.W_xh, "W_hh": gru.W_hh, "b_h": gru.b_xh + gru.b_hh})
as_rnn = (with_gate_biases(b_r=30, b_z=-30)(inputs)[0] - rnn(inputs)[0]).abs().max()
H0 = torch.randn(1, 4, 8)
frozen = (with_gate_biases(b_r=0, b_z=30)(inputs, H0)[0] - H0).abs().max()
print(f"R = 1, Z = 0 vs the plain RNN: {as_rnn:.1e}; "
      f"Z = 1 vs the initial state: {frozen:.1e}")
assert as_rnn < 1e-6 and frozen < 1e-6, "not the RNN and a frozen state"

# %% [markdown]
# ## The same weights in `GRUScratch` and `nn.GRU`
#
# `d2lite.models.GRUScratch` is the copy of this GRU that later lessons import; it has the same
# parameter names, so your weights load into it as they are. `nn.GRU` stores the same numbers
# differently: the three input weight matrices stacked into one `weight_ih_l0` of shape
# $(3h, d)$, transposed, in the order reset, update, candidate (PyTorch calls the candidate
# $n$), and likewise `weight_hh_l0`, `bias_ih_l0` and `bias_hh_l0`. The gates' two biases
# are simply added, so to move your weights into `nn.GRU` you put each gate's bias in
# `bias_ih_l0` and zeros in `bias_hh_l0`; only the candidate keeps both. Both must give your
# GRU's outputs to within $10^{-5}$, from a zero state and from a given one.

# %%
package_gru = GRUScratch(5, 8)
package_gru.load_state_dict(gru.state_dict())
torch_gru, g = nn.GRU(5, 8), gru
with torch.no_grad():
    torch_gru.weight_ih_l0.copy_(torch.cat([g.W_xr, g.W_xz, g.W_xh], 1).T)  # (3h, d)
    torch_gru.weight_hh_l0.copy_(torch.cat([g.W_hr, g.W_hz, g.W_hh], 1).T)  # (3h, h)
    torch_gru.bias_ih_l0.copy_(torch.cat([g.b_r, g.b_z, g.b_xh]))           # (3h,)
    torch_gru.bias_hh_l0.copy_(torch.cat([torch.zeros(2 * 8), g.b_hh]))    # (3h,)
for start in (None, H0):
    ours, _ = gru(inputs, start)
    for name, other in (("GRUScratch", package_gru), ("nn.GRU", torch_gru)):
        gap = (ours - other(inputs, start)[0]).abs().max().item()
        where = "zeros" if start is None else "H0"
        print(f"{name:10s} from {where}: max gap {gap:.1e}")
        assert gap < 1e-5, f"{name} differs from the lesson's GRU by {gap:.2e}"

# %% [markdown]
# ## A GRU language model
#
# Does the GRU model text better than the plain RNN? Train both as character-level language
# models of *The Time Machine*, with the data, split and loss of
# [the RNN lesson](rnn_from_scratch.ipynb): the first 80 % of the characters to train on, the
# next 10 % to choose the learning rate, the last 10 % to test once; minibatches of 64 random
# pieces of 32 characters.

# %%
lines = d2lite.data.load_time_machine(verbose=False)
text = " ".join(line for line in lines if line)
vocab = Vocab(list(text))
corpus = torch.tensor(vocab[list(text)])                  # (num_chars,)
cut1, cut2 = int(0.8 * len(corpus)), int(0.9 * len(corpus))
train_ids, val_ids, test_ids = corpus[:cut1], corpus[cut1:cut2], corpus[cut2:]
batch_size, num_steps = 64, 32
train_data = random_lm_batches(train_ids, batch_size, num_steps, seed=0)
val_data = random_lm_batches(val_ids, batch_size, num_steps, seed=0)
print(f"{len(corpus):,} characters, {len(vocab)} tokens, "
      f"{len(train_data)} training minibatches per epoch")

# %% [markdown]
# The scratch GRU loops over time in Python, six small matrix products per step, and is slower
# than PyTorch's `nn.GRU`, which computes the same function, as you just checked. So the
# training runs use `nn.GRU` and `nn.RNN`, each inside `d2lite.models.RNNLM`, with Adam and
# gradient clipping at 1.
#
# Two things make such a comparison fair. First, size: a GRU of width $h$ has three times the
# recurrent weights of an RNN of width $h$ (exercise 2), so a GRU of 128 units is matched
# against an RNN with as many parameters, 226 units wide. Second, the learning rate: each
# model gets its own, chosen on the validation text from five rates a factor of about 3
# apart, by a one-epoch trial of each candidate. Rates within 5 % of the best perplexity
# count as tied, since a one-epoch trial cannot rank a near-tie, and among tied rates the
# smallest is kept: a short trial favours large rates, which make quick early progress but
# need not be best after six epochs.

# %%
device = d2lite.try_gpu()
widths = {"RNN": 226, "GRU": 128}
layers = {"RNN": nn.RNN, "GRU": nn.GRU}
def make_model(kind):
    return RNNLM(layers[kind](len(vocab), widths[kind]), len(vocab))
sizes = {kind: sum(p.numel() for p in make_model(kind).parameters()) for kind in layers}
print("parameters:", sizes)
assert abs(sizes["RNN"] / sizes["GRU"] - 1) < 0.01, "not matched in size"

# %%
def train_lm(kind, lr, epochs, seed=0):
    d2lite.seed_everything(seed)
    model = make_model(kind)
    history = d2lite.fit(model, train_data, loss_fn=lm_loss, val_data=val_data,
                         epochs=epochs, grad_clip=1.0, device=device,
                         optimizer=torch.optim.Adam(model.parameters(), lr=lr))
    return model, history


def choose_rate(ppl):
    """The smallest rate within 5 % of the best validation perplexity {rate: ppl}."""
    return min(lr for lr, p in ppl.items() if p <= 1.05 * min(ppl.values()))

# %%
candidate_lrs = (0.001, 0.003, 0.01, 0.03, 0.1)
trial = {}
for kind in layers:
    for lr in candidate_lrs:
        loss = train_lm(kind, lr, epochs=1)[1]["val_loss"][-1]
        trial[kind, lr] = math.exp(loss) if math.isfinite(loss) else math.inf
    print(kind, ", ".join(f"lr {lr}: {trial[kind, lr]:.2f}" for lr in candidate_lrs))
best_lr = {kind: choose_rate({lr: trial[kind, lr] for lr in candidate_lrs})
           for kind in layers}
print("chosen:", best_lr)
edges = (candidate_lrs[0], candidate_lrs[-1])
assert all(lr not in edges for lr in best_lr.values()), f"on the grid's edge: {best_lr}"

# %% [markdown]
# Both choices sit inside the grid, and the same rule chose both. Now the real runs: the
# same number of epochs for both, each with its chosen learning rate. Both are trained on
# one `train_data` object, and `d2lite.fit` sets its epoch before every pass (`set_epoch`),
# so the two models see exactly the same minibatches.

# %%
epochs = 6
models, val_ppl = {}, {}
for kind in layers:
    models[kind], history = train_lm(kind, best_lr[kind], epochs)
    val_ppl[kind] = [math.exp(loss) for loss in history["val_loss"]]
    print(f"{kind}: validation perplexity {val_ppl[kind][0]:.2f} after 1 epoch, "
          f"{val_ppl[kind][-1]:.2f} after {epochs}")

# %% [markdown]
# [Figure 2](#fig-gru-perplexity) shows the validation perplexity epoch by epoch. The GRU is
# ahead from the first epoch on and stays ahead.

# %% mystnb={"figure": {"caption": "Validation perplexity per epoch of character-level language models of The Time Machine with a plain RNN of 226 units and a GRU of 128 units (the same number of parameters, the same minibatches, each with its chosen learning rate).", "name": "fig-gru-perplexity"}}
ax = d2lite.plot(list(range(1, epochs + 1)), [val_ppl["RNN"], val_ppl["GRU"]],
                 "epoch", "validation perplexity", legend=["RNN", "GRU"],
                 figsize=(5, 3))
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
plt.show()
pairs = zip(val_ppl["GRU"], val_ppl["RNN"], strict=True)
assert all(g < r for g, r in pairs), "the GRU fell behind the RNN in some epoch"

# %% [markdown]
# The test text is read once, now. Both models should get below half the perplexity of the
# unigram model, which knows only how often each character occurs (the uniform model's is 28,
# the vocabulary size), and the GRU should not be worse than the RNN: with its gates, the
# same parameters and the same updates buy it a better model.

# %%
test_data = random_lm_batches(test_ids, batch_size, num_steps, seed=0)
test_ppl = {kind: math.exp(d2lite.evaluate(model, test_data, loss_fn=lm_loss)["loss"])
            for kind, model in models.items()}
counts = torch.bincount(train_ids, minlength=len(vocab)).double() + 1   # add-one
unigram_ppl = math.exp(-(counts / counts.sum()).log()[test_ids].mean().item())
print(", ".join(f"{kind} test perplexity {p:.2f}" for kind, p in test_ppl.items()),
      f"(unigram {unigram_ppl:.2f})")
d2lite.record("test_ppl_rnn", test_ppl["RNN"])
d2lite.record("test_ppl_gru", test_ppl["GRU"])
assert max(test_ppl.values()) < unigram_ppl / 2, f"{test_ppl}: not both below half"
assert test_ppl["GRU"] <= test_ppl["RNN"], f"the GRU is worse than the RNN: {test_ppl}"

# %% [markdown]
# The trained GRU writes text in the same way as the RNN did, one character at a time, feeding
# each one back in:

# %%
print(predict("the time traveller ", 60, models["GRU"], vocab))
print(predict("the time traveller ", 60, models["GRU"], vocab, sample=True,
              temperature=0.6, seed=0))

# %% [markdown]
# ## Summary
#
# - A GRU adds two gates to the RNN, each a sigmoid layer of the input and the previous state:
#   the reset gate $\mathbf{R}_t$ scales how much the old state enters the candidate state
#   $\tilde{\mathbf{H}}_t$, and the update gate $\mathbf{Z}_t$ mixes the old state and the
#   candidate, $\mathbf{H}_t = \mathbf{Z}_t \odot \mathbf{H}_{t-1} + (1 - \mathbf{Z}_t) \odot
#   \tilde{\mathbf{H}}_t$.
# - With $\mathbf{R}_t = 1$ and $\mathbf{Z}_t = 0$ it is the plain RNN; with $\mathbf{Z}_t = 1$
#   it skips the step and keeps its state, which lets information and gradients travel far.
# - PyTorch's `nn.GRU` resets the product $\mathbf{H}_{t-1}\mathbf{W}_{hh} + \mathbf{b}_{hh}$
#   rather than the state, and stacks the weights in the order reset, update, candidate; with
#   the weights moved accordingly, your GRU, `GRUScratch` and `nn.GRU` agree to $10^{-5}$.
# - With the same budget, the same number of parameters and each its own learning rate, a
#   128-unit GRU language model reaches a lower test perplexity than a 226-unit plain RNN
#   (one training seed here; the variation sweep repeats it with others).

# %% [markdown]
# ## Exercises
#
# 1. Write the candidate state of Cho et al. and the notes, $\tanh(\mathbf{X}_t
#    \mathbf{W}_{xh} + (\mathbf{R}_t \odot \mathbf{H}_{t-1}) \mathbf{W}_{hh} + \mathbf{b}_h)$,
#    with the weights of `gru` (and $\mathbf{b}_h = \mathbf{b}_{xh} + \mathbf{b}_{hh}$). How far
#    are its outputs from PyTorch's form? When do the two agree exactly?

# %% tags=["hide-cell"]
# A solution: the two forms differ in general, and agree when the reset gate is 1.
def cho_step(gru, X_t, H):
    R, Z = reset_and_update(gru, X_t, H)
    H_tilde = torch.tanh(X_t @ gru.W_xh + (R * H) @ gru.W_hh + gru.b_xh + gru.b_hh)
    return Z * H + (1 - Z) * H_tilde
def run(step, model, inputs):
    H = torch.zeros(inputs.shape[1], model.hidden_size)
    return torch.stack([H := step(model, X_t, H) for X_t in inputs])
gaps = [(run(cho_step, m, inputs) - run(gru_step, m, inputs)).abs().max().item()
        for m in (gru, with_gate_biases(b_r=30, b_z=0))]
print(f"max gap: {gaps[0]:.3f} in general, {gaps[1]:.1e} with R = 1")
assert gaps[0] > 1e-2 and gaps[1] < 1e-6

# %% [markdown]
# 2. How many parameters does a GRU layer with $d$ inputs and $h$ hidden units have, in your
#    class and in `nn.GRU`? Compare with an RNN layer: about how many times larger is it, and
#    how does that square with the GRU taking longer per minibatch?

# %% tags=["hide-cell"]
# A solution: three (d, h) and three (h, h) matrices; the lesson's class keeps 4
# biases of length h (the gates' merged, the candidate's two), nn.GRU keeps 6.
d, h = len(vocab), 128
count = {name: sum(p.numel() for p in layer.parameters()) for name, layer in
         (("GRU", GRU(d, h)), ("nn.GRU", nn.GRU(d, h)), ("nn.RNN", nn.RNN(d, h)))}
print(count, f"ratio {count['nn.GRU'] / count['nn.RNN']:.2f}")
assert count["GRU"] == 3 * (d * h + h * h) + 4 * h
assert count["nn.GRU"] == count["GRU"] + 2 * h == 3 * count["nn.RNN"]

# %% [markdown]
# 3. Run the lesson's language models with 64 and with 256 hidden units. Does the GRU's lead
#    grow or shrink with the width? What happens to the time per epoch?
