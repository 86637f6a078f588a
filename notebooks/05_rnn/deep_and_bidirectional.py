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
# # Deep and bidirectional recurrent networks
#
# The recurrent layers of the last lessons have one hidden layer and read from left to right.
# In this lesson you change both. You stack recurrent layers into a deep RNN and check that
# your stack computes what `nn.GRU(num_layers=2)` computes. Then you add a second layer that
# reads the sequence backwards, which lets every position see its right context: you build
# it from two ordinary layers, match it to `nn.GRU(bidirectional=True)`, watch it cheat when
# it is asked to predict the next character, and see it solve a task that no left-to-right
# model can.

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
from d2lite.models import RNNLM, GRUScratch, lm_loss, predict
from d2lite.text import Vocab, random_lm_batches

# %% [markdown]
# ## Stacking recurrent layers
#
# An MLP gets more expressive when you stack hidden layers; a recurrent network can do the
# same. In a **[deep recurrent neural network](../../book/glossary.md#term-deep-recurrent-neural-network)**
# (深度循环神经网络) layer $l$ has its own hidden state $\mathbf{H}_t^{(l)}$, and its input at
# step $t$ is not the token but the hidden state of the layer below at the same step:
#
# $$
# \mathbf{H}_t^{(l)} = \phi\big(\mathbf{H}_t^{(l-1)} \mathbf{W}_{xh}^{(l)}
# + \mathbf{H}_{t-1}^{(l)} \mathbf{W}_{hh}^{(l)} + \mathbf{b}_h^{(l)}\big), \qquad
# \mathbf{H}_t^{(0)} = \mathbf{X}_t, \qquad
# \mathbf{O}_t = \mathbf{H}_t^{(L)} \mathbf{W}_{hq} + \mathbf{b}_q . \tag{1}
# $$
#
# Information flows two ways: along time inside each layer (the recurrence, as before) and up
# the stack at every step ([Figure 1](#fig-deep_and_bidirectional-deep)).

# %% tags=["remove-input"] mystnb={"figure": {"caption": "A deep RNN with three layers unrolled over four steps. Each state reads the state of the layer below at the same step and its own state at the step before; only the top layer feeds the outputs.", "name": "fig-deep_and_bidirectional-deep"}}
d2lite.diagrams.deep_rnn(num_layers=3, num_steps=4)

# %% [markdown]
# Only the top layer $L$ feeds the output layer. The number of
# layers $L$ and of hidden units $h$ are hyper-parameters, as for an MLP, and nothing in
# equation (1) depends on what the layer computes inside: put the
# [GRU](gru.ipynb) or the [LSTM](lstm.ipynb) in place of $\phi$ and you get a deep GRU or a
# deep LSTM.
#
# The class below stacks any recurrent layers that follow the `(outputs, state) =
# layer(inputs, state)` convention of `GRUScratch` and `nn.GRU`. Layer $l$ reads the outputs
# of layer $l - 1$ at every step; the final states of all layers are stacked into one
# tensor, as `nn.GRU` stacks them in `h_n`.

# %%
class StackedRNN(nn.Module):
    """Recurrent layers on top of each other. inputs: (steps, batch, features)."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, inputs, state=None):
        rows = None if state is None else state.shape[0] // len(self.layers)
        finals = []
        for i, layer in enumerate(self.layers):
            start = None if state is None else state[i * rows:(i + 1) * rows]
            inputs, final = layer(inputs, start)  # this layer's outputs feed the next
            finals.append(final)
        return inputs, torch.cat(finals)      # (steps, batch, h), (layers, batch, h)


# %% [markdown]
# Two GRU layers of 32 hidden units on a batch of 4 sequences of 35 steps with 28 features
# (one-hot characters). The first layer maps 28 features to 32, the second 32 to 32. The
# outputs are the top layer's states at all 35 steps; the final state has one row per
# layer. The check also runs the two layers by hand, the second on the first one's outputs,
# to confirm what flows between them.

# %%
d2lite.seed_everything(0)
inputs = torch.randn(35, 4, 28)                       # (steps, batch, features)
deep = StackedRNN([GRUScratch(28, 32), GRUScratch(32, 32)])
outputs, state = deep(inputs)
print("outputs", tuple(outputs.shape), " state", tuple(state.shape))
assert outputs.shape == (35, 4, 32) and state.shape == (2, 4, 32)
low_outputs, low_state = deep.layers[0](inputs)       # layer 1 on its own
top_outputs, top_state = deep.layers[1](low_outputs)  # layer 2 reads layer 1's outputs
assert torch.equal(outputs, top_outputs), "the stack's outputs are the top layer's"
assert torch.equal(state, torch.cat([low_state, top_state])), "one state per layer"
assert torch.equal(outputs[-1], state[-1]), "last output = top layer's final state"

# %% [markdown]
# PyTorch's `nn.GRU(num_layers=2)` stores the weights of layer $l$ under names ending in
# `_l0`, `_l1`, ..., each the three gates stacked in the order reset, update, candidate,
# transposed (you met this layout in [the GRU lesson](gru.ipynb)). The function below builds a
# `GRUScratch` from one layer of an `nn.GRU`; `suffix` names the layer (and, in a moment, the
# direction). `GRUScratch` has one bias per gate where PyTorch has two, except inside the
# candidate, where the reset gate multiplies only the hidden-side bias.

# %%
def gru_layer_from(torch_gru, suffix):
    """A GRUScratch with the weights of one layer (and direction) of an nn.GRU."""
    def get(name):
        return getattr(torch_gru, f"{name}_{suffix}").detach()
    W_xr, W_xz, W_xh = get("weight_ih").chunk(3)     # each (h, inputs)
    W_hr, W_hz, W_hh = get("weight_hh").chunk(3)     # each (h, h)
    b_ir, b_iz, b_in = get("bias_ih").chunk(3)
    b_hr, b_hz, b_hn = get("bias_hh").chunk(3)
    layer = GRUScratch(W_xr.shape[1], torch_gru.hidden_size)
    layer.load_state_dict({
        "W_xr": W_xr.T, "W_hr": W_hr.T, "b_r": b_ir + b_hr,
        "W_xz": W_xz.T, "W_hz": W_hz.T, "b_z": b_iz + b_hz,
        "W_xh": W_xh.T, "W_hh": W_hh.T, "b_xh": b_in, "b_hh": b_hn})
    return layer


# %% [markdown]
# Now the check: a stack of two scratch layers, with the weights of a two-layer `nn.GRU`,
# computes the same outputs and final states, from a zero state and from a random one.

# %%
torch_deep = nn.GRU(28, 32, num_layers=2)
deep = StackedRNN([gru_layer_from(torch_deep, "l0"), gru_layer_from(torch_deep, "l1")])
for start in (None, torch.randn(2, 4, 32)):
    (ours, ours_h), (theirs, theirs_h) = deep(inputs, start), torch_deep(inputs, start)
    gap = max((ours - theirs).abs().max(), (ours_h - theirs_h).abs().max()).item()
    print(f"two GRUScratch layers vs nn.GRU(num_layers=2): difference {gap:.1e}")
    assert gap < 1e-5, f"the stack and nn.GRU differ by {gap:.1e}"

# %% [markdown]
# ## Bidirectional RNNs: the right context matters
#
# Language modelling predicts the next token from the ones before it, and a left-to-right
# RNN is made for that. Many tasks are different. Fill in the blanks:
#
# - I am `___`.
# - I am `___` hungry.
# - I am `___` hungry, I could eat a whole pizza.
#
# The left context is the same three words every time, yet a good answer is "happy" (or
# anything) in the first, "not" or "very" in the second and only "very" in the third. What
# decides the blank is on its right. Tagging the words of a sentence, or spotting a wrong move
# in a recorded game of Go, is the same kind of problem: the answer at position $t$ depends
# on what comes before *and* after. A left-to-right RNN at the blank has read only "I am".
#
# A **[bidirectional recurrent neural network](../../book/glossary.md#term-bidirectional-recurrent-neural-network)**
# (双向循环神经网络) [(Schuster and Paliwal, 1997)](../../book/references.md) runs two
# recurrent layers over the same inputs: a forward one from the first step to the last and a
# backward one from the last step to the first, each with its own weights:
#
# $$
# \overrightarrow{\mathbf{H}}_t = \phi\big(\mathbf{X}_t \mathbf{W}_{xh}^{(f)}
# + \overrightarrow{\mathbf{H}}_{t-1} \mathbf{W}_{hh}^{(f)} + \mathbf{b}_h^{(f)}\big),
# \qquad
# \overleftarrow{\mathbf{H}}_t = \phi\big(\mathbf{X}_t \mathbf{W}_{xh}^{(b)}
# + \overleftarrow{\mathbf{H}}_{t+1} \mathbf{W}_{hh}^{(b)} + \mathbf{b}_h^{(b)}\big). \tag{2}
# $$
#
# Each is (batch, $h$). Concatenated, $\mathbf{H}_t = [\overrightarrow{\mathbf{H}}_t,
# \overleftarrow{\mathbf{H}}_t]$ is (batch, $2h$), and the output layer reads it:
# $\mathbf{O}_t = \mathbf{H}_t \mathbf{W}_{hq} + \mathbf{b}_q$ with $\mathbf{W}_{hq}$ of
# shape $(2h, q)$. So $\mathbf{O}_t$ depends on $\mathbf{X}_1, \dots, \mathbf{X}_t$ through
# the forward state and on $\mathbf{X}_t, \dots, \mathbf{X}_T$ through the backward one:
# on the whole sequence ([Figure 2](#fig-deep_and_bidirectional-diagram)).

# %% tags=["remove-input"] mystnb={"figure": {"caption": "A bidirectional RNN unrolled over three steps. The forward states (arrow to the right, bottom row) carry the left context from step to step, the backward states (arrow to the left, top row) the right context, in the opposite direction; the output at each step reads both. Lines that cross jump over each other.", "name": "fig-deep_and_bidirectional-diagram"}}
d2lite.diagrams.bidirectional_rnn(num_steps=3)

# %% [markdown]
# In code, the backward layer is an ordinary left-to-right layer run on the sequence flipped
# in time; flipping its outputs back lines them up with the forward outputs, step by step.
# The final state has two rows, the forward layer's and the backward layer's, the layout of
# `nn.GRU`'s `h_n`.

# %%
class Bidirectional(nn.Module):
    """Two one-directional layers, one reading the sequence backwards."""

    def __init__(self, forward_layer, backward_layer):
        super().__init__()
        self.forward_layer, self.backward_layer = forward_layer, backward_layer

    def forward(self, inputs, state=None):              # inputs: (steps, batch, d)
        f_state, b_state = (None, None) if state is None else (state[:1], state[1:])
        f_out, f_final = self.forward_layer(inputs, f_state)
        b_out, b_final = self.backward_layer(inputs.flip(0), b_state)
        b_out = b_out.flip(0)                           # back in time order
        outputs = torch.cat([f_out, b_out], dim=-1)     # (steps, batch, 2h)
        return outputs, torch.cat([f_final, b_final])   # (2, batch, h)


# %% [markdown]
# PyTorch names the backward direction's weights with the suffix `_reverse`: `weight_ih_l0`
# is the forward layer, `weight_ih_l0_reverse` the backward one. Copy both into scratch
# layers and compare with `nn.GRU(bidirectional=True)`. The check also pins down a detail
# that trips people up: `output[-1]` is *not* the summary of the whole sequence. Its second
# half is the backward state at the last step, which has read only the last input; the
# backward direction's summary of the whole sequence sits at `output[0]` (and in `h_n[1]`).

# %%
torch_bi = nn.GRU(28, 32, bidirectional=True)
bi = Bidirectional(gru_layer_from(torch_bi, "l0"),
                   gru_layer_from(torch_bi, "l0_reverse"))
for start in (None, torch.randn(2, 4, 32)):
    (ours, ours_h), (theirs, theirs_h) = bi(inputs, start), torch_bi(inputs, start)
    gap = max((ours - theirs).abs().max(), (ours_h - theirs_h).abs().max()).item()
    print(f"output {tuple(ours.shape)}, h_n {tuple(ours_h.shape)}; gap {gap:.1e}")
    assert ours.shape == (35, 4, 64) and ours_h.shape == (2, 4, 32)
    assert gap < 1e-5, f"the scratch bidirectional layer differs by {gap:.1e}"
assert torch.equal(ours[-1, :, :32], ours_h[0]), "forward: ends at the last step"
assert torch.equal(ours[0, :, 32:], ours_h[1]), "backward: ends at the first step"

# %% [markdown]
# Deep and bidirectional combine: in `nn.GRU(num_layers=2, bidirectional=True)` the second
# layer reads the $2h$-wide concatenated outputs of the first, and `h_n` has
# layers × directions = 4 rows, ordered layer by layer, forward before backward. The
# `StackedRNN` of two `Bidirectional` layers is exactly that.

# %%
torch_deep_bi = nn.GRU(28, 32, num_layers=2, bidirectional=True)
deep_bi = StackedRNN([Bidirectional(*(gru_layer_from(torch_deep_bi, f"l{i}{d}")
                                      for d in ("", "_reverse"))) for i in (0, 1)])
(ours, ours_h), (theirs, theirs_h) = deep_bi(inputs), torch_deep_bi(inputs)
gap = max((ours - theirs).abs().max(), (ours_h - theirs_h).abs().max()).item()
print(f"output {tuple(ours.shape)}, h_n {tuple(ours_h.shape)}; difference {gap:.1e}")
assert ours.shape == (35, 4, 64) and ours_h.shape == (4, 4, 32)
assert deep_bi.layers[1].forward_layer.input_size == 64, "layer 2 reads 2h features"
assert gap < 1e-5, f"the deep bidirectional stack differs by {gap:.1e}"

# %% [markdown]
# ## Why a bidirectional model cannot predict the next token
#
# Seeing both sides is exactly wrong for a language model. Its target at step $t$ is the
# token $x_{t+1}$, and the backward direction reads $x_{t+1}$ at step $t+1$ and hands it to
# step $t$: the model is shown the answer. You can see the leak before any training. The
# cell takes an untrained unidirectional and an untrained bidirectional language model
# (`RNNLM` handles both) and asks how much the scores at step 10 depend on the input at
# step 11, through the gradient.

# %%
lines = d2lite.data.load_time_machine(verbose=False)
text = " ".join(line for line in lines if line)
vocab = Vocab(list(text))
corpus = torch.tensor(vocab[list(text)])               # (num_chars,) token indices
def dependence_on_next_input(model, t=10):
    """Norm of the gradient of the scores at step t w.r.t. the input at t + 1."""
    inputs = F.one_hot(corpus[:32], len(vocab)).float()[:, None].requires_grad_()
    outputs, _ = model.rnn(inputs)                      # (steps, 1, directions * h)
    (grad,) = torch.autograd.grad(model.output(outputs[t]).sum(), inputs)
    return grad[t + 1].norm().item()
d2lite.seed_everything(0)
peek = {bidirectional: dependence_on_next_input(RNNLM(
            nn.GRU(len(vocab), 64, bidirectional=bidirectional), len(vocab)))
        for bidirectional in (False, True)}
print(f"d scores_10 / d x_11: unidirectional {peek[False]:.3g}, "
      f"bidirectional {peek[True]:.3g}")
assert peek[False] == 0 and peek[True] > 1e-3, "only the bidirectional model peeks"

# %% [markdown]
# Now train both on *The Time Machine*, one character at a time, with the same settings:
# 64 hidden units per direction, Adam at learning rate 0.01, clipping at 1, two passes over
# the first 90 % of the text in random subsequences of 32 characters. Nothing is tuned here;
# the point is a comparison of two models trained identically.

# %%
device = d2lite.try_gpu()
cut = int(0.9 * len(corpus))
train_text, held_out = corpus[:cut], corpus[cut:]
train_data = random_lm_batches(train_text, batch_size=64, num_steps=32, seed=0)
def train_lm(bidirectional):
    d2lite.seed_everything(0)
    model = RNNLM(nn.GRU(len(vocab), 64, bidirectional=bidirectional), len(vocab))
    history = d2lite.fit(model, train_data, loss_fn=lm_loss, epochs=2, grad_clip=1.0,
                         optimizer=torch.optim.Adam(model.parameters(), lr=0.01),
                         device=device)
    return model, math.exp(history["train_loss"][-1])
(uni_lm, uni_train_ppl), (bi_lm, bi_train_ppl) = train_lm(False), train_lm(True)
print(f"training perplexity: unidirectional {uni_train_ppl:.2f}, "
      f"bidirectional {bi_train_ppl:.2f}")
assert bi_train_ppl < 1.3, f"bidirectional training perplexity {bi_train_ppl:.2f}"
assert uni_train_ppl > 4, f"unidirectional training perplexity {uni_train_ppl:.2f}"

# %% [markdown]
# A training perplexity near 1 means a loss near 0: the bidirectional model is almost never
# surprised by the next character. It has learned to copy it from the backward direction.
# The honest test asks for what a language model is for: predict the next character from the
# characters before it *only*. Take 2,000 windows of 32 characters of the held-out text,
# feed each window, and score the prediction at its last position for the character that
# follows the window. The bidirectional model's backward direction then has read only the
# last character of the window; the answer is not there to copy.

# %%
g = torch.Generator().manual_seed(0)
starts = torch.randint(0, len(held_out) - 32, (2000,), generator=g)
windows = torch.stack([held_out[s:s + 32] for s in starts])     # (2000, 32)
following = held_out[starts + 32]                                 # (2000,)
@torch.no_grad()
def next_char_perplexity(model):
    model.eval()
    logits = model(windows.to(device))[:, -1]                     # (2000, vocab)
    return math.exp(F.cross_entropy(logits, following.to(device)).item())
uni_ppl, bi_ppl = next_char_perplexity(uni_lm), next_char_perplexity(bi_lm)
print(f"next-character perplexity on held-out text: unidirectional {uni_ppl:.2f} "
      f"(training {uni_train_ppl:.2f}), bidirectional {bi_ppl:.2f} "
      f"(training {bi_train_ppl:.2f})")
assert bi_ppl > 4 * bi_train_ppl, "the bidirectional training perplexity is a mirage"
assert bi_ppl > uni_ppl, "without the answer to copy it should lose to the plain model"
assert uni_ppl < 1.5 * uni_train_ppl, "the plain model should hold up on new text"

# %% [markdown]
# The unidirectional model's held-out perplexity is close to its training perplexity, and
# it can come out lower. The main reason is what is scored: the held-out figure predicts only
# at position 32, with 31 characters of context, while the training figure averages over
# every position of a window, the first ones included, where the model has seen almost
# nothing. (It also averages over the whole second pass, while the model was still
# improving.) The cell below scores the unidirectional model on the same held-out windows at
# every position, to show that the average over all positions is the harder one. The
# bidirectional model's held-out perplexity is several times its training figure and worse
# than the plain model's. Writing text makes the same point. Generation has no future to
# read, and the model has learned to rely on one.

# %%
targets = torch.cat([windows[:, 1:], following[:, None]], dim=1)    # (2000, 32)
with torch.no_grad():
    logits = uni_lm(windows.to(device))                              # (2000, 32, vocab)
    uni_losses = F.cross_entropy(logits.transpose(1, 2), targets.to(device),
                                 reduction="none").mean(0)           # (32,)
every_position = uni_losses.mean().exp().item()
position_32 = uni_losses[-1].exp().item()
print(f"unidirectional, held out: {every_position:.2f} over all positions, "
      f"{position_32:.2f} at position 32 only")
assert position_32 < every_position, "full context should make the last position easier"

# %%
book_words = set(text.split())
def real_word_fraction(model):
    words = predict("the time traveller ", 300, model, vocab).split()[3:-1]
    return sum(w in book_words for w in words) / max(len(words), 1)
for name, model in (("unidirectional", uni_lm), ("bidirectional", bi_lm)):
    print(f"{name:>14}:", predict("the time traveller ", 50, model, vocab))
uni_words, bi_words = real_word_fraction(uni_lm), real_word_fraction(bi_lm)
print(f"real words in 300 greedy characters: {uni_words:.0%} vs {bi_words:.0%}")
assert uni_words > bi_words + 0.3, "the plain model should write far more real words"

# %% [markdown]
# ## A task that needs the right context
#
# Where the answer legitimately lies on the right, the bidirectional model is the right
# tool. A small synthetic task makes the difference sharp: sequences of 16 random tokens
# from an alphabet of 10, and the label of each position is the token **three places
# later** (the last three positions have no label). A left-to-right model at position $t$ has
# read $x_1, \dots, x_t$, and the label $x_{t+3}$ is drawn independently of all of them, so
# no such model, however large or well trained, can expect more than chance: 1 in 10. A
# bidirectional model only has to remember three steps back in its backward direction.

# %%
num_tokens, num_steps, shift = 10, 16, 3
def make_sequences(n, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, num_tokens, (n, num_steps), generator=g)  # (n, steps)
    return X, X[:, shift:]                 # label of t: the token at t + shift
X, y = make_sequences(5000, seed=1)
(X_train, y_train), (X_val, y_val) = d2lite.data.train_val_split(X, y, 0.2, seed=0)
X_test, y_test = make_sequences(2000, seed=2)
print("tokens:", X[0].tolist(), "\nlabels:", y[0].tolist())
assert torch.equal(y[0, :5], X[0, 3:8])

# %% [markdown]
# The tagger is a GRU (one direction or two) with a linear layer that scores the 10 tokens
# at each position. To be fair, the unidirectional model gets 48 hidden units and the
# bidirectional one 32 per direction, so the one-way model has at least as many parameters.

# %%
class Tagger(nn.Module):
    """Scores (batch, steps - shift, tokens) from token indices (batch, steps)."""

    def __init__(self, num_hiddens, bidirectional):
        super().__init__()
        self.rnn = nn.GRU(num_tokens, num_hiddens, bidirectional=bidirectional)
        self.output = nn.Linear((2 if bidirectional else 1) * num_hiddens, num_tokens)

    def forward(self, X):
        outputs, _ = self.rnn(F.one_hot(X.T, num_tokens).float())  # (steps, batch, d)
        return self.output(outputs[:num_steps - shift]).transpose(0, 1)
sizes = {name: sum(p.numel() for p in Tagger(h, name == "bi").parameters())
         for name, h in (("uni", 48), ("bi", 32))}
print("parameters:", sizes)
assert sizes["uni"] >= sizes["bi"]

# %% [markdown]
# Each model is trained for two epochs with Adam at three learning rates; the validation
# accuracy picks the learning rate and the model that is kept. The loss is the mean
# cross-entropy over all labelled positions (`lm_loss` computes just that).

# %%
train_data = d2lite.data.batches(X_train, y_train, 64, seed=0)
val_data = d2lite.data.batches(X_val, y_val, 500, shuffle=False)
def train_tagger(num_hiddens, bidirectional, lr):
    d2lite.seed_everything(0)
    model = Tagger(num_hiddens, bidirectional)
    history = d2lite.fit(model, train_data, loss_fn=lm_loss, val_data=val_data,
                         epochs=2, metrics=[d2lite.accuracy], device=device,
                         optimizer=torch.optim.Adam(model.parameters(), lr=lr))
    return model, history["val_accuracy"][-1]
taggers, best_lr = {}, {}
for name, h in (("uni", 48), ("bi", 32)):
    trials = {lr: train_tagger(h, name == "bi", lr) for lr in (0.003, 0.01, 0.03)}
    print(name, {lr: round(acc, 3) for lr, (_, acc) in trials.items()})
    best_lr[name] = max(trials, key=lambda lr: trials[lr][1])
    taggers[name] = trials[best_lr[name]][0]
print("chosen learning rates:", best_lr)

# %% [markdown]
# Now, once, the test sequences. The bidirectional model should label almost every position
# right; the unidirectional one should stay within two points of the 10 % that chance
# allows (with 26,000 test labels, chance itself wobbles by about 0.2 points: one standard
# error of a 10 % rate).

# %%
chance_se = math.sqrt(0.1 * 0.9 / y_test.numel())
print(f"{y_test.numel():,} test labels; standard error at chance "
      f"{100 * chance_se:.2f} points")
assert y_test.numel() == 26_000 and 0.0015 < chance_se < 0.0025
test_acc = {name: d2lite.evaluate(model, [(X_test, y_test)], metrics=[d2lite.accuracy],
                                  device=device)["accuracy"]
            for name, model in taggers.items()}
print(f"test accuracy: bidirectional {test_acc['bi']:.3f}, "
      f"unidirectional {test_acc['uni']:.3f}, chance {1 / num_tokens:.3f}")
assert test_acc["bi"] >= 0.95, f"bidirectional accuracy {test_acc['bi']:.3f} < 0.95"
assert abs(test_acc["uni"] - 1 / num_tokens) < 0.02, "one-way model not at chance"

# %% [markdown]
# Break the test accuracy down by position. The one-way model is at chance at every
# position, even at the last labelled one, where it has read 13 of the 16 tokens: the three
# it has not read are the ones that count. With 2,000 test sequences, chance wobbles by
# about 0.7 points at a single position, so every position should stay below 14 %.

# %%
with torch.no_grad():
    predictions = {name: model.to(device)(X_test.to(device)).argmax(-1).cpu()
                   for name, model in taggers.items()}         # (2000, 13) each
per_position = {name: (p == y_test).float().mean(0) for name, p in predictions.items()}
for name, acc in per_position.items():
    print(f"{name:>3}: lowest {acc.min():.3f}, highest {acc.max():.3f}")
assert per_position["uni"].max() < 0.14, "the one-way model beats chance somewhere"
assert per_position["bi"].min() >= 0.9, "the bidirectional model fails at a position"

# %% [markdown]
# [Figure 3](#fig-deep_and_bidirectional-positions) shows the same numbers.

# %% mystnb={"figure": {"caption": "Test accuracy at each labelled position of the shifted-label task, for the bidirectional and the unidirectional GRU, with the chance level 1/10.", "name": "fig-deep_and_bidirectional-positions"}}
positions = list(range(1, num_steps - shift + 1))
ax = d2lite.plot(positions, [per_position["bi"], per_position["uni"],
                             [1 / num_tokens] * len(positions)],
                 "position t", "test accuracy", legend=["bidirectional",
                 "unidirectional", "chance"], figsize=(5, 3.2))
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# ## Summary
#
# - A deep RNN stacks recurrent layers: layer $l$ reads the hidden states of layer $l - 1$
#   at each step, only the top layer feeds the output, and the final state has one row per
#   layer. Two `GRUScratch` layers with copied weights compute what `nn.GRU(num_layers=2)`
#   computes.
# - A bidirectional RNN runs a second layer backwards over the sequence and concatenates
#   the two states, so each position sees its left and right context; `output` is
#   (steps, batch, $2h$) and `h_n` has one row per layer and direction. The backward
#   direction's summary of the sequence is at `output[0]`, not `output[-1]`.
# - It suits tasks where the answer depends on what follows (filling in a blank, tagging),
#   and solves a task no left-to-right model can beat chance on.
# - It cannot be a language model: the backward direction hands it the next token, so its
#   training loss collapses while its real predictions and generated text are poor.

# %% [markdown]
# ## Exercises
#
# 1. How many parameters does `nn.GRU(28, 32, num_layers=2, bidirectional=True)` have? Work
#    it out from equation (2) and the GRU's three gates (PyTorch keeps two biases per gate),
#    then count them.

# %% tags=["hide-cell"]
def gru_parameters(inputs, h):
    """One GRU layer and direction: 3 gates, each W_x, W_h and two biases."""
    return 3 * (h * inputs + h * h + 2 * h)
by_formula = 2 * gru_parameters(28, 32) + 2 * gru_parameters(2 * 32, 32)
counted = sum(p.numel() for p in torch_deep_bi.parameters())
print(f"formula {by_formula}, counted {counted}")
assert by_formula == counted

# %% [markdown]
# 2. Flip the task: label each position by the token three places *earlier*. Which model
#    solves it now? Train the unidirectional tagger on it (at the learning rate chosen for
#    the bidirectional tagger) and check.

# %% tags=["hide-cell"]
def shifted_back(X):
    return X, X[:, :num_steps - shift]         # position t + 3 is labelled x_t
class LeftTagger(Tagger):
    def forward(self, X):
        outputs, _ = self.rnn(F.one_hot(X.T, num_tokens).float())  # (steps, batch, d)
        return self.output(outputs[shift:]).transpose(0, 1)
d2lite.seed_everything(0)
left = LeftTagger(48, bidirectional=False)
d2lite.fit(left, d2lite.data.batches(*shifted_back(X_train), 64, seed=0), epochs=2,
           loss_fn=lm_loss, device=device,
           optimizer=torch.optim.Adam(left.parameters(), lr=best_lr["bi"]))
left_acc = d2lite.evaluate(left, [shifted_back(X_test)], metrics=[d2lite.accuracy],
                           device=device)["accuracy"]
print(f"one-way tagger, label three places earlier: test accuracy {left_acc:.3f}")
assert left_acc >= 0.95, f"accuracy {left_acc:.3f}"

# %% [markdown]
# 3. Label each position $t$ of a sequence of length $T$ by the token at $T + 1 - t$ (the
#    sequence reversed). What accuracy can the best unidirectional model expect, and why?
#    Check your answer by training one.
# 4. The bidirectional language model above did not quite reach a training perplexity of 1.
#    Which predictions can it not copy? Measure its perplexity at each position of the
#    held-out windows, scoring each position for the character that follows it.

# %% tags=["hide-cell"]
with torch.no_grad():
    logits = bi_lm(windows.to(device))                               # (2000, 32, vocab)
    losses = F.cross_entropy(logits.transpose(1, 2), targets.to(device),
                             reduction="none").mean(0)               # (32,)
inside, last = losses[:-1].mean().exp().item(), losses[-1].exp().item()
print(f"perplexity at positions 1-31: {inside:.2f}; at position 32: {last:.2f}")
assert last > 5 * inside, "only the last position's answer is outside the window"
