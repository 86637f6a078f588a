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
# # Multi-head attention and self-attention
#
# [Scaled dot-product attention](attention_scoring.ipynb) compares every query with every key
# once. This lesson splits that comparison into several smaller ones, the *heads*, that run
# side by side as one batched operation, and then lets a sentence attend to itself. You will
# compare the cost of self-attention with that of convolutions and RNNs, give the tokens
# back their order with sinusoidal positional encodings (a continuous binary counter whose
# shifts are rotations), and finally train a tiny model and watch, head by head, what its
# attention learned.

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
from torch.utils.flop_counter import FlopCounterMode

# %% [markdown]
# ## Why more than one head
#
# One attention layer gives each query one set of weights over the keys, one way of deciding
# what matters. A word often needs several at once. To read "it" in "the animal didn't cross
# the street because it was too tired", you want to know which noun "it" stands for, but
# also which verb it belongs to and what comes right before it. One softmax cannot put most
# of its weight on three different places at the same time.
#
# The source notes suggest a better name for the fix: not "multi-head" but "split-head"
# attention. Take queries, keys and values of size 300, cut them with learned linear maps
# into two sets of size 150, and let each set run its own attention. Like several small
# convolution kernels, each looking for its own local pattern, each head is free to learn its
# own kind of relation in its own *representation subspace*, and the pieces are joined
# without loss at the end.
#
# Written out, **[multi-head
# attention](../../book/glossary.md#term-multi-head-attention)** (多头注意力) with $h$ heads
# computes, for a query $\mathbf{q}$ and the key–value pairs $(\mathbf{k}_j, \mathbf{v}_j)$,
#
# $$
# \mathbf{h}_i = f\big(\mathbf{W}_i^{(q)}\mathbf{q},\;
# (\mathbf{W}_i^{(k)}\mathbf{k}_j, \mathbf{W}_i^{(v)}\mathbf{v}_j)_j\big)
# \in \mathbb{R}^{d/h}, \quad i = 1, \dots, h, \qquad
# \text{output} = \mathbf{W}_o
# \begin{bmatrix}\mathbf{h}_1 \cr \vdots \cr \mathbf{h}_h\end{bmatrix}, \tag{1}
# $$
#
# where $f$ is attention pooling with the scaled dot product of the
# [previous lesson](attention_scoring.ipynb), each $\mathbf{W}_i$ is a learned
# $(d/h) \times d$ matrix and $\mathbf{W}_o$ is $d \times d$. Giving each head $d/h$
# dimensions keeps the total cost that of one head of size $d$.

# %% [markdown]
# ## All heads in one batched call
#
# A loop over the heads would work, but there is no need: stack the $h$ matrices
# $\mathbf{W}_i^{(q)}$ into one $d \times d$ matrix $\mathbf{W}_q$, and $\mathbf{W}_q\mathbf{q}$
# holds every head's query, head $i$ in columns $i\,d/h$ to $(i+1)\,d/h - 1$. Two reshapes
# then make the heads look like extra examples of the minibatch, and the batched
# `DotProductAttention` handles them all at once. `split_heads` cuts the last axis into $h$
# pieces and moves them next to the batch axis; `merge_heads` undoes it, which concatenates
# the heads' outputs as equation (1) wants.

# %%
def split_heads(X, num_heads):
    """(B, n, h * d_head) -> (B * h, n, d_head); one example's heads stay together."""
    B, n, size = X.shape
    X = X.reshape(B, n, num_heads, size // num_heads)    # (B, n, h, d_head)
    X = X.transpose(1, 2)                                 # (B, h, n, d_head)
    return X.reshape(B * num_heads, n, size // num_heads)  # (B * h, n, d_head)

def merge_heads(X, num_heads):
    """(B * h, n, d_head) -> (B, n, h * d_head): the heads concatenated."""
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])  # (B, h, n, d_head)
    X = X.transpose(1, 2)                                 # (B, n, h, d_head)
    return X.reshape(X.shape[0], X.shape[1], -1)          # (B, n, h * d_head)

# %% [markdown]
# One example with two positions and a vector of 6 numbers each, split into 3 heads: head
# $i$ gets columns $2i$ and $2i+1$ of both positions, and merging gives back the input.

# %% tags=["nbval-check-output"]
X = torch.arange(12.0).reshape(1, 2, 6)                   # (B, n, d) = (1, 2, 6)
print(split_heads(X, 3))
assert torch.equal(merge_heads(split_heads(X, 3), 3), X), "merge does not undo split"

# %% [markdown]
# The layer projects queries, keys and values with one `nn.Linear` each, splits, attends with
# the `DotProductAttention` of `d2lite.models` (the one the previous lesson built and
# checked), merges and applies $\mathbf{W}_o$. Valid lengths belong to an example, so each of
# its $h$ rows in the split batch gets a copy. The layer keeps every head's weights, shaped
# $(B, h, n, m)$, for the pictures at the end of the lesson.

# %%
class MultiHeadAttention(nn.Module):
    """Equation (1). queries (B, n, d), keys and values (B, m, d) -> (B, n, d)."""

    def __init__(self, num_hiddens, num_heads, dropout, bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.attention = d2lite.models.DotProductAttention(dropout)
        self.W_q = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_k = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_v = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens=None):
        h = self.num_heads
        Q = split_heads(self.W_q(queries), h)              # (B * h, n, d / h)
        K = split_heads(self.W_k(keys), h)                 # (B * h, m, d / h)
        V = split_heads(self.W_v(values), h)               # (B * h, m, d / h)
        if valid_lens is not None:                         # one copy per head
            valid_lens = valid_lens.repeat_interleave(h, dim=0)
        out = self.attention(Q, K, V, valid_lens)          # (B * h, n, d / h)
        weights = self.attention.attention_weights         # (B * h, n, m)
        self.attention_weights = weights.reshape(-1, h, *weights.shape[1:])  # (B,h,n,m)
        return self.W_o(merge_heads(out, h))               # (B, n, d)

# %% [markdown]
# A minibatch of 2 examples, 4 queries and 6 key–value pairs of size 16, with valid lengths
# 6 and 3, through 4 heads: the output has one vector of size 16 per query, and the weights
# one $4 \times 6$ table per example and head, with zeros on the padding.

# %%
d2lite.seed_everything(0)
attention = MultiHeadAttention(num_hiddens=16, num_heads=4, dropout=0.0).eval()
g = torch.Generator().manual_seed(0)                       # the data: fixed samples
queries, keys = torch.randn(2, 4, 16, generator=g), torch.randn(2, 6, 16, generator=g)
values, lengths = torch.randn(2, 6, 16, generator=g), torch.tensor([6, 3])
output = attention(queries, keys, values, lengths)
print("output", tuple(output.shape),
      "weights", tuple(attention.attention_weights.shape))
assert output.shape == (2, 4, 16) and attention.attention_weights.shape == (2, 4, 4, 6)
assert (attention.attention_weights[1, :, :, 3:] == 0).all(), "padding got attention"

# %% [markdown]
# [Figure 1](#fig-multihead_self_attention-layer) draws this layer with the shapes of the same
# forward pass: each head works on a slice of 4 columns, and only the concatenation and
# $\mathbf{W}_o$ bring the heads back together.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The lesson's multi-head attention layer with the shapes of one forward pass. Queries, keys and values are projected once per head (the stacked boxes), every head runs scaled dot-product attention on its own slice, and the heads' outputs are concatenated and mixed by W_o.", "name": "fig-multihead_self_attention-layer"}}
d2lite.diagrams.multihead_attention(attention, num_queries=4, num_keys=6)

# %% [markdown]
# Is the batched call really $h$ separate attentions? Compute equation (1) the slow way, one
# head at a time on its own slice of columns, and compare.

# %%
with torch.no_grad():
    Q, K, V = attention.W_q(queries), attention.W_k(keys), attention.W_v(values)
    single = d2lite.models.DotProductAttention(dropout=0.0)
    heads = [single(Q[..., 4 * i:4 * i + 4], K[..., 4 * i:4 * i + 4],
                    V[..., 4 * i:4 * i + 4], lengths) for i in range(4)]  # 4 x (2,4,4)
    looped = attention.W_o(torch.cat(heads, dim=-1))                      # (2, 4, 16)
gap = (looped - output).abs().max().item()
print(f"one head at a time vs all heads batched: max gap {gap:.1e}")
assert gap < 1e-6, f"the batched heads differ from the loop by {gap:.1e}"

# %% [markdown]
# And with a single head, multi-head attention must be plain scaled dot-product attention,
# $\operatorname{softmax}(\mathbf{Q}\mathbf{K}^\top/\sqrt{d})\mathbf{V}$ of the projections,
# followed by $\mathbf{W}_o$. Here it is written out with matrix products, without the layer.

# %%
one_head = MultiHeadAttention(num_hiddens=16, num_heads=1, dropout=0.0).eval()
with torch.no_grad():
    Q, K, V = one_head.W_q(queries), one_head.W_k(keys), one_head.W_v(values)
    formula = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(16), dim=-1) @ V
    gap = (one_head(queries, keys, values) - one_head.W_o(formula)).abs().max().item()
print(f"one head vs single attention: max gap {gap:.1e}")
assert gap < 1e-6, f"with one head the layer differs from single attention by {gap:.1e}"

# %% [markdown]
# ## Three implementations, one layer
#
# `d2lite.models.MultiHeadAttention` is the copy [the Transformer](transformer.ipynb)
# imports; loaded with this layer's weights it must give the same outputs and weights.
# PyTorch's own `nn.MultiheadAttention` stores the three input projections stacked in one
# `in_proj_weight` $[\mathbf{W}_q; \mathbf{W}_k; \mathbf{W}_v]$ $(3d \times d)$ and
# $\mathbf{W}_o$ as `out_proj`; it takes padding as a `key_padding_mask`, True where a key is
# to be *ignored*, the opposite of our valid lengths. Copy the weights over and compare, with
# and without padding, to $10^{-5}$.

# %%
package_attention = d2lite.models.MultiHeadAttention(16, 4, dropout=0.0).eval()
package_attention.load_state_dict(attention.state_dict())
torch_attention = nn.MultiheadAttention(16, 4, bias=False, batch_first=True).eval()
with torch.no_grad():
    torch_attention.in_proj_weight.copy_(torch.cat(
        [attention.W_q.weight, attention.W_k.weight, attention.W_v.weight]))  # (48, 16)
    torch_attention.out_proj.weight.copy_(attention.W_o.weight)

# %%
for lens in (None, lengths):
    ignore = None if lens is None else torch.arange(6) >= lens[:, None]  # (B, m)
    with torch.no_grad():
        ours = attention(queries, keys, values, lens)
        theirs, torch_weights = torch_attention(queries, keys, values,
                                                key_padding_mask=ignore,
                                                average_attn_weights=False)
        package = package_attention(queries, keys, values, lens)
    gaps = {"d2lite": (package - ours).abs().max().item(),
            "torch": (theirs - ours).abs().max().item(),
            "torch weights": (torch_weights - attention.attention_weights).abs().max()}
    gaps["torch weights"] = gaps["torch weights"].item()
    print("no mask" if lens is None else "padding",
          {name: f"{gap:.1e}" for name, gap in gaps.items()})
    assert max(gaps.values()) < 1e-5, f"{gaps}"

# %% [markdown]
# ## Self-attention
#
# So far queries, keys and values came from different places. In **[self-
# attention](../../book/glossary.md#term-self-attention)** (自注意力) they are all the same
# sequence: every token asks its own question (query), offers its own label (key) and its own
# content (value), and each token's output is a mix of all the tokens' contents, its own
# included. For tokens $\mathbf{x}_1, \dots, \mathbf{x}_n$ the output is
#
# $$
# \mathbf{y}_i = f\big(\mathbf{x}_i, (\mathbf{x}_1, \mathbf{x}_1), \dots,
# (\mathbf{x}_n, \mathbf{x}_n)\big), \quad i = 1, \dots, n. \tag{2}
# $$
#
# This is the kitchen of [attention pooling](attention_pooling.ipynb) in which every dish
# is also an ingredient. In code you pass the same tensor three times. As the notes stress,
# an attention block returns as many vectors as it receives: $n$ tokens in, $n$ out.

# %%
d2lite.seed_everything(0)
g = torch.Generator().manual_seed(1)
tokens = torch.randn(2, 5, 16, generator=g)                # (B, n, d): 2 sentences
self_attention = MultiHeadAttention(16, num_heads=4, dropout=0.0).eval()
with torch.no_grad():
    Y = self_attention(tokens, tokens, tokens, torch.tensor([5, 3]))
print("in", tuple(tokens.shape), "out", tuple(Y.shape))
assert Y.shape == tokens.shape

# %% [markdown]
# Self-attention has a blind spot that the notes illustrate with two Chinese words made of
# the same two characters: 算盘 (suànpán, an abacus) and 盘算 (pánsuan, to plan). Swap the
# tokens and nothing in equation (2) notices: the scores are dot products that do not
# depend on where a token stands. Shuffle the positions of a sentence, and the outputs are
# the same vectors, shuffled the same way.

# %%
order = torch.tensor([3, 0, 4, 1, 2])                      # a shuffle of 5 positions
with torch.no_grad():
    Y = self_attention(tokens, tokens, tokens)
    shuffled = tokens[:, order]
    Y_shuffled = self_attention(shuffled, shuffled, shuffled)
gap = (Y_shuffled - Y[:, order]).abs().max().item()
print(f"outputs of the shuffled sentence vs shuffled outputs: max gap {gap:.1e}")
assert gap < 1e-5, f"self-attention noticed the order ({gap:.1e})"

# %% [markdown]
# Order will need to be added to the tokens themselves. Before that, what does one buy by
# giving up the RNN's step-by-step reading?
#
# ## CNN, RNN or self-attention?
#
# All three layers turn $n$ vectors of size $d$ into $n$ vectors of size $d$. Compare them on
# three counts: the computation per layer, the number of operations that must run one after
# another (a GPU can only parallelise the rest), and the **[maximum path
# length](../../book/glossary.md#term-maximum-path-length)** (最大路径长度), the number of
# layers or steps a signal needs to travel from the first token to the last. Short paths make
# long-range dependencies easier to learn, as the [RNN
# chapter](../05_rnn/rnn_concise_and_gradients.ipynb) found when gradients faded over
# time steps.
#
# - A convolution with kernel size $k$ costs $k\,d^2$ multiply–adds per position: $O(knd^2)$.
#   All positions run in parallel, but one layer only connects tokens less than $k/2$ apart,
#   so reaching from the first token to the last takes $O(n/k)$ layers.
# - An RNN multiplies by two $d \times d$ matrices per step, $O(nd^2)$, but its $n$ steps must
#   run in order, and the first token reaches the last through all of them: a path of
#   $n - 1$ steps.
# - Self-attention computes $n^2$ scores of $d$ multiply–adds each and pools $n^2$ values:
#   $O(n^2 d)$ (plus the projections, $O(nd^2)$). Every token sees every other in one step.
#
# [Figure 2](#fig-multihead_self_attention-compared) draws one layer of each on five tokens,
# with the kernel size 5 of the counts below.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "One layer of a convolution, an RNN and self-attention on five tokens. Red: what reaches the last output y_5. The convolution's output sees only its neighbourhood, the RNN's steps run one after another through a chain, and self-attention connects every pair in one parallel step.", "name": "fig-multihead_self_attention-compared"}}
d2lite.diagrams.architectures_compared(n=5, kernel_size=5)

# %% [markdown]
# PyTorch can count the floating-point operations of the code it runs
# (`FlopCounterMode`, which counts a multiply–add as 2). Count one layer of each at
# $d = 64$ for three lengths:

# %%
def count_flops(fn, *args):
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()

def rnn_layer(X, W_x, W_h):                                # X: (1, n, d)
    H = torch.zeros(1, X.shape[-1])
    for t in range(X.shape[1]):                            # n steps, one after another
        H = torch.tanh(X[:, t] @ W_x + H @ W_h)            # (1, d)

def attention_core(Q, K, V):                               # softmax(QK^T/sqrt(d)) V
    return torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(Q.shape[-1]), -1) @ V

def self_attention_layer(X, W_q, W_k, W_v, W_o):           # the core and 4 projections
    return attention_core(X @ W_q, X @ W_k, X @ W_v) @ W_o  # (1, n, d)

# %%
d, k = 64, 5
conv = nn.Conv1d(d, d, kernel_size=k, padding=k // 2, bias=False)
g = torch.Generator().manual_seed(2)
W_x, W_h = torch.randn(d, d, generator=g), torch.randn(d, d, generator=g)
W_qkvo = [torch.randn(d, d, generator=g) for _ in range(4)]
flops, core = {}, {}
for n in (16, 64, 256):
    X = torch.randn(1, n, d, generator=g)
    flops[n] = {"CNN": count_flops(conv, X.transpose(1, 2)),   # conv wants (1, d, n)
                "RNN": count_flops(rnn_layer, X, W_x, W_h),
                "self-attention": count_flops(self_attention_layer, X, *W_qkvo)}
    core[n] = count_flops(attention_core, X, X, X)
    full = 8 * n * d * d + 4 * n * n * d                   # 4 projections + the core
    assert flops[n] == {"CNN": 2 * k * n * d * d, "RNN": 4 * n * d * d,
                        "self-attention": full}, f"n = {n}: {flops[n]}"
    assert core[n] == 4 * n * n * d, f"n = {n}: the core alone {core[n]}"

# %% [markdown]
# The counts match the formulas exactly. The maximum path lengths you can measure as well,
# with autograd: stack layers until the output at the last position has a non-zero gradient
# with respect to the input at the first position. (For the RNN the table simply writes down
# the chain of $n - 1$ steps of its loop.)

# %%
def layers_to_connect(make_layer, n, max_layers=100):
    """Fewest stacked layers after which output n-1 depends on input 0."""
    g = torch.Generator().manual_seed(3)
    X = torch.randn(1, n, d, generator=g, requires_grad=True)
    H = X
    for depth in range(1, max_layers + 1):
        H = make_layer()(H)
        gradient, = torch.autograd.grad(H[0, -1].sum(), X, retain_graph=True)
        if gradient[0, 0].abs().sum() > 0:
            return depth

class SequenceConv(nn.Module):                             # Conv1d on (B, n, d)
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(d, d, kernel_size=k, padding=k // 2)

    def forward(self, X):
        return self.conv(X.transpose(1, 2)).transpose(1, 2)

# %%
def attention_layer():
    layer = MultiHeadAttention(d, num_heads=4, dropout=0.0)
    return lambda X: layer(X, X, X)

paths = {n: {"CNN": layers_to_connect(SequenceConv, n), "RNN": n - 1,
             "self-attention": layers_to_connect(attention_layer, n)} for n in (16, 64)}
sequential = {"CNN": "1", "RNN": "n", "self-attention": "1"}
print(f"{'layer':15s}{'FLOPs n=16':>12s}{'n=64':>10s}{'n=256':>11s}"
      f"{'sequential':>12s}{'path n=16':>11s}{'n=64':>6s}")
for name in sequential:
    print(f"{name:15s}" + "".join(f"{flops[n][name]:>{w},}" for n, w in
                                  ((16, 12), (64, 10), (256, 11)))
          + f"{sequential[name]:>12s}{paths[16][name]:>11d}{paths[64][name]:>6d}")

# %% [markdown]
# The table says what the formulas say. Self-attention needs one layer to connect any two
# tokens at any length, while the kernel-5 convolution needs $\lceil (n-1)/2 \rceil$ layers,
# 8 at $n = 16$ and 32 at $n = 64$. Its core, the scores and the pooling, grows like $n^2 d$
# ($4n^2d$ FLOPs), and alone it would be cheaper than the RNN's $4nd^2$ while the sequence is
# shorter than the vector size ($n = 16 < d$). But a layer also projects the queries, keys,
# values and output, $8nd^2$ FLOPs, twice the RNN's whole cost: a self-attention layer costs
# $2 + n/d$ times this RNN, never less than twice, 2.25 times at $n = 16$ and 6 times at
# $n = 4d$. What it buys is not fewer operations but parallel work and short paths.
#
# That quadratic term is the efficiency problem the notes warn about. A sentence of 1,000
# tokens makes a $1000 \times 1000$ table of scores in every head of every layer, on top
# of the projections' $8nd^2$. A later lesson of this chapter measures the time and memory
# this takes.

# %%
for n, conv_layers in ((16, 8), (64, 32)):                # measured with autograd
    assert paths[n]["CNN"] == conv_layers and paths[n]["self-attention"] == 1, paths[n]
ratio = {n: flops[n]["self-attention"] / flops[n]["RNN"] for n in flops}
assert ratio == {16: 2.25, 64: 3.0, 256: 6.0}, f"attention / RNN FLOPs: {ratio}"
assert core[16] < flops[16]["RNN"], "the core alone is cheaper than the RNN at n < d"

# %% [markdown]
# ## Positional encoding
#
# To let self-attention tell 算盘 from 盘算, add to each token's vector a second vector that
# depends only on its position: a **[positional
# encoding](../../book/glossary.md#term-positional-encoding)** (位置编码). The sum enters the
# attention layers in place of the token, so position now changes the scores. The notes list
# what the encoding must allow: any sentence length (a table of ten learned vectors fails on
# the eleventh token) and any vector size $d$. The Transformer of [Vaswani et al.,
# 2017](../../book/references.md) uses sines and cosines. For position $i$ and column pair
# $(2j, 2j+1)$, $j = 0, \dots, d/2 - 1$,
#
# $$
# p_{i, 2j} = \sin(i\,\omega_j), \qquad p_{i, 2j+1} = \cos(i\,\omega_j), \qquad
# \omega_j = \frac{1}{10000^{2j/d}}. \tag{3}
# $$
#
# Stored as a $(1, \text{max\_len}, d)$ table `P`, the layer adds its first $n$ rows to a
# $(B, n, d)$ input, then applies dropout. The table is a buffer: it moves with the model to a
# GPU but is not a parameter and not in the state dict. (It is computed in float64 and
# rounded once, so that $\sin(i\,\omega_j)$ is accurate for large $i$.)

# %%
class PositionalEncoding(nn.Module):
    """Equation (3) added to X (B, n, d), then dropout."""

    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        i = torch.arange(max_len, dtype=torch.float64)[:, None]       # (max_len, 1)
        omega = 10000.0 ** (-torch.arange(0, num_hiddens, 2,
                                          dtype=torch.float64) / num_hiddens)  # (d/2,)
        P = torch.zeros(1, max_len, num_hiddens)
        P[0, :, 0::2], P[0, :, 1::2] = torch.sin(i * omega), torch.cos(i * omega)
        self.register_buffer("P", P, persistent=False)

    def forward(self, X):
        return self.dropout(X + self.P[:, :X.shape[1]])                # (B, n, d)

# %% [markdown]
# The notes read the formula off a picture: draw the columns as curves over the position and
# a vertical line at the position you want; where the line cuts the curves, you read that
# position's vector. [Figure 3](#fig-multihead_self_attention-curves) does this for columns
# 6 to 9 of a 32-dimensional encoding at position 10. Check the table against
# equation (3) and against `d2lite.models.PositionalEncoding`, the copy later lessons use.

# %%
encoding = PositionalEncoding(num_hiddens=32, dropout=0.0)
P = encoding.P[0]                                                       # (1000, 32)
for i, j in ((10, 3), (10, 4), (999, 0), (57, 15)):
    angle = i / 10000 ** (2 * j / 32)
    assert abs(P[i, 2 * j] - math.sin(angle)) < 1e-6, (i, j)
    assert abs(P[i, 2 * j + 1] - math.cos(angle)) < 1e-6, (i, j)
package_encoding = d2lite.models.PositionalEncoding(32, dropout=0.0)
assert torch.equal(package_encoding.P, encoding.P), "the package's table differs"
print("position 10, columns 6-9:", [round(v, 3) for v in P[10, 6:10].tolist()])

# %% mystnb={"figure": {"caption": "Columns 6 to 9 of the positional encoding (d = 32) over the first 40 positions; the dots where the line at position 10 cuts them are entries 6 to 9 of position 10's vector.", "name": "fig-multihead_self_attention-curves"}}
fig, ax = plt.subplots(figsize=(6, 3))
for col in range(6, 10):
    ax.plot(range(40), P[:40, col], label=f"column {col}")
    ax.plot(10, P[10, col], "ko", markersize=4)
ax.axvline(10, color="gray", linestyle="--", linewidth=1)
ax.set(xlabel="position i", ylabel="encoding value")
ax.legend(fontsize=8, ncol=2, loc="lower left")
plt.show()

# %% [markdown]
# ### A continuous binary counter
#
# Why these curves? Write the positions 0 to 7 in binary. The last bit flips at every step,
# the one before it every two steps, the first every four: the lower a bit, the faster it
# alternates, and together the bits give every number a distinct pattern.

# %% tags=["nbval-check-output"]
for i in range(8):
    print(i, format(i, "03b"))

# %% [markdown]
# Equation (3) does the same with smooth waves instead of bits. Column pair $j$ oscillates
# with frequency $\omega_j$, which falls from 1 (one radian per position) at $j = 0$ to
# about $10^{-4}$ at the last pair, so the first columns change quickly along the sentence
# and the last ones hardly at all: [Figure 4](#fig-multihead_self_attention-counter). Count
# the sign changes of each sine column from position 1 to 64: like the bits, they become
# rarer from column to column, from about 20 in column 0 to none in the last columns.

# %% mystnb={"figure": {"caption": "The positional encoding of positions 0 to 63 (rows) in 32 columns: the columns on the left alternate quickly, the ones on the right slowly, like the low and high bits of a binary counter.", "name": "fig-multihead_self_attention-counter"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
shown = ax.imshow(P[:64], cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
ax.set(xlabel="column", ylabel="position i")
fig.colorbar(shown, ax=ax, label="encoding value")
plt.show()
sign_changes = [(P[2:65, c].sign() != P[1:64, c].sign()).sum().item()
                for c in range(0, 32, 2)]                      # positions 1 to 64
print("sign changes per sine column:", sign_changes)
assert sign_changes == sorted(sign_changes, reverse=True), sign_changes
assert sign_changes[0] >= 20 and sign_changes[-1] == 0, sign_changes

# %% [markdown]
# ### Relative positions are rotations
#
# The notes give the deeper reason for sines and cosines: they let a model work with
# *relative* positions. Take one column pair, $(p_{i,2j}, p_{i,2j+1}) =
# (\sin i\omega_j, \cos i\omega_j)$, a point on the unit circle. Moving $\delta$ positions
# ahead adds $\delta\omega_j$ to the angle, and by the angle-sum formulas
#
# $$
# \begin{bmatrix} \cos \delta\omega_j & \sin \delta\omega_j \cr
# -\sin \delta\omega_j & \cos \delta\omega_j \end{bmatrix}
# \begin{bmatrix} \sin i\omega_j \cr \cos i\omega_j \end{bmatrix}
# = \begin{bmatrix} \sin (i + \delta)\omega_j \cr \cos (i + \delta)\omega_j \end{bmatrix}.
# \tag{4}
# $$
#
# Put one such $2 \times 2$ rotation per column pair on the diagonal of a $d \times d$ matrix
# $\mathbf{R}(\delta)$, and $\mathbf{p}_{i+\delta} = \mathbf{R}(\delta)\,\mathbf{p}_i$ for
# every position $i$: the same linear map, whatever $i$. Build $\mathbf{R}(\delta)$ and
# check it on all 1,000 positions for three shifts.

# %%
def rotation(delta, d):
    """Block-diagonal R(delta): one 2x2 rotation by delta * omega_j per column pair."""
    R = torch.zeros(d, d, dtype=torch.float64)
    for j in range(d // 2):
        angle = delta * 10000 ** (-2 * j / d)
        c, s = math.cos(angle), math.sin(angle)
        R[2 * j:2 * j + 2, 2 * j:2 * j + 2] = torch.tensor([[c, s], [-s, c]])
    return R

for delta in (1, 5, 50):
    moved = P[:-delta].double() @ rotation(delta, 32).T                # row i: R p_i
    gap = (moved - P[delta:].double()).abs().max().item()
    print(f"delta = {delta:2d}: max |R(delta) p_i - p_(i+delta)| = {gap:.1e}")
    assert gap < 1e-5, f"delta = {delta}: the rotation misses by {gap:.1e}"

# %% [markdown]
# This is what makes "look at the previous token" easy to learn. Every $\mathbf{p}_i$ has
# the same length, $\|\mathbf{p}_i\|^2 = d/2$ (each pair is a point on the unit circle), so a
# query $\mathbf{R}(-1)\,\mathbf{p}_i = \mathbf{p}_{i-1}$ has its largest dot product, by
# the Cauchy–Schwarz inequality, with the key $\mathbf{p}_{i-1}$ itself. A head whose
# query map is $\mathbf{R}(-1)$ (a fixed matrix, like every $\mathbf{W}_q$) therefore scores
# the previous position highest, at every position:

# %%
scores = (P[:64].double() @ rotation(-1, 32).T) @ P[:64].double().T   # (64, 64)
best_key = scores.argmax(dim=1)                                         # per query i
assert torch.equal(best_key[1:], torch.arange(63)), "the top key is not i - 1"
print("query 10's top key:", best_key[10].item())

# %% [markdown]
# ## Watching the heads at work
#
# Time to train something and look inside. The task is small enough to understand fully:
# in a random sequence of 12 letters from a to j, every position must name its left and
# its right neighbour. A position on its own knows nothing about its neighbours, so the
# information must flow through attention, and the neat way to do it is one head that looks
# one step left and one that looks one step right. Do the heads find that?
#
# The data are three independent sets of random sequences, for training, validation and
# testing. Each target is a pair (left, right); the first position has no left neighbour
# and the last no right one, marked $-100$, the value `F.cross_entropy` ignores.

# %%
vocab_size, length = 10, 12
letters = "abcdefghij"

def make_sequences(num, generator):
    X = torch.randint(0, vocab_size, (num, length), generator=generator)  # (num, n)
    y = torch.full((num, length, 2), -100)                               # (num, n, 2)
    y[:, 1:, 0] = X[:, :-1]                                     # left neighbour
    y[:, :-1, 1] = X[:, 1:]                                     # right neighbour
    return X, y

generator = torch.Generator().manual_seed(0)
(X_train, y_train), (X_val, y_val), (X_test, y_test) = [
    make_sequences(num, generator) for num in (2048, 512, 512)]
print("".join(letters[t] for t in X_train[0].tolist()), y_train[0, :3].tolist())

# %% [markdown]
# The model follows the first three steps of the source notes' Transformer walk-through:
# embed the tokens (step 1), add the positional encoding (step 2), then apply self-attention
# with several heads (step 3), here two layers of two heads, each added to its input (a
# [residual connection](../04_cnn/resnet.ipynb), so a token keeps its own identity). A
# linear layer reads both neighbours' scores from every position's final vector.
# [The Transformer lesson](transformer.ipynb), later in this chapter, adds the rest of the
# block.

# %%
class NeighbourNet(nn.Module):
    """Embedding, positional encoding, self-attention layers: (B, n) -> (B, n, 2, V)."""

    def __init__(self, vocab_size, num_hiddens, num_heads, num_layers):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.position = PositionalEncoding(num_hiddens, dropout=0.0)
        self.layers = nn.ModuleList([MultiHeadAttention(num_hiddens, num_heads, 0.0)
                                     for _ in range(num_layers)])
        self.output = nn.Linear(num_hiddens, 2 * vocab_size)

    def forward(self, X):
        H = self.position(self.embedding(X))                  # (B, n, d)
        for attention in self.layers:
            H = H + attention(H, H, H)                        # self-attention, residual
        return self.output(H).reshape(*X.shape, 2, -1)        # (B, n, 2, V)

# %% [markdown]
# The loss is the cross-entropy of both neighbours at every position that has them, and the
# accuracy counts the same predictions. The learning rate is chosen on the validation
# sequences: train the same model, from the same seed, for 6 epochs at three rates with Adam.

# %%
def neighbour_loss(logits, y):                                # (B, n, 2, V), (B, n, 2)
    return F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1),
                           ignore_index=-100)

def neighbour_accuracy(logits, y):
    keep = y != -100
    return (logits.argmax(dim=-1) == y)[keep].sum(), int(keep.sum())

# %%
device = d2lite.try_gpu()
runs = {}
for lr in (0.01, 0.03, 0.1):
    d2lite.seed_everything(0)
    net = NeighbourNet(vocab_size, num_hiddens=32, num_heads=2, num_layers=2)
    history = d2lite.fit(net, d2lite.data.batches(X_train, y_train, 64, seed=0),
                         loss_fn=neighbour_loss, epochs=6, val_data=[(X_val, y_val)],
                         optimizer=torch.optim.Adam(net.parameters(), lr=lr),
                         metrics={"accuracy": neighbour_accuracy}, device=device)
    runs[lr] = (history["val_loss"][-1], history["val_accuracy"][-1], net)
    print(f"lr {lr}: validation loss {runs[lr][0]:.4f}, "
          f"accuracy {runs[lr][1]:.3f}")

# %% [markdown]
# Guessing each neighbour uniformly among the 10 letters scores a loss of
# $\ln 10 \approx 2.30$. The search should find a rate that does far better, and the
# largest rate should show what too large means: the check asks for a validation loss below
# a twentieth of the guess's, and for 0.1 to stay above 1.

# %%
guess_loss = math.log(vocab_size)                            # uniform guess: ln 10
best_lr = min(runs, key=lambda lr: runs[lr][0])
net = runs[best_lr][2].eval()
print(f"kept: lr {best_lr}, validation loss {runs[best_lr][0]:.4f} "
      f"(uniform guess {guess_loss:.2f})")
assert runs[best_lr][0] < guess_loss / 20, f"best loss {runs[best_lr][0]:.3f}"
assert runs[0.1][0] > 1.0, f"lr 0.1 learned the task: {runs[0.1][:2]}"
d2lite.record("best_val_loss", runs[best_lr][0])
d2lite.record("largest_lr_val_loss", runs[0.1][0])
d2lite.record("best_lr", best_lr)

# %% [markdown]
# At 0.1 the loss stays at the level of guessing: the steps are too large. The smaller rates
# bring it far down, and the one with the lowest validation loss, printed above, is kept.
# The check does not ask which of the two smaller rates wins: when both solve the task, which
# one ends a little lower is a detail of the run, not a property of the method.
#
# The source notes raise a fair worry: splitting into heads makes the layer more complicated,
# so will it not overfit? Splitting adds no parameters, since the heads only cut the four
# $d \times d$ projections into slices (exercise 1 counts them); the projections themselves
# are the layer's parameters. Whether a model overfits is measured, not guessed: compare the
# kept model's loss on its own training sequences with its loss on the validation sequences.
# If it had memorised the training sequences, the second would be clearly higher.

# %%
num_params = sum(p.numel() for p in net.parameters())
with torch.no_grad():
    fit_loss = {name: neighbour_loss(net(X.to(device)), y.to(device)).item()
                for name, X, y in (("training", X_train, y_train),
                                   ("validation", X_val, y_val))}
print(f"{num_params} parameters, {len(X_train)} training sequences; loss on training "
      f"{fit_loss['training']:.2e}, on validation {fit_loss['validation']:.2e}")
assert fit_loss["validation"] < fit_loss["training"] + 0.02, f"overfits: {fit_loss}"
d2lite.record("train_minus_val_loss", fit_loss["training"] - fit_loss["validation"])

# %% [markdown]
# The two losses are close, well within the check's 0.02: on this task the rule is the same
# in every sequence, and 2,048 sequences with 22 targets each (both neighbours of 12
# positions, less the two ends) pin it down. Overfitting would show as exactly such a gap,
# which is why the validation split, not the training loss, judges a model.
# The kept model is tested once, on the test sequences: it names both neighbours of at least
# 99 % of the positions (guessing would name one in ten).

# %%
with torch.no_grad():
    correct, count = neighbour_accuracy(net(X_test.to(device)), y_test.to(device))
test_accuracy = correct.item() / count
print(f"learning rate {best_lr}: test accuracy {test_accuracy:.4f}")
assert test_accuracy >= 0.99, f"test accuracy {test_accuracy:.4f} is below 99 %"
d2lite.record("test_accuracy", test_accuracy)

# %% [markdown]
# Now look inside. A head that has learned to find the left neighbour should put, for every
# query position $i$, its largest weight on key $i - 1$; one that finds the right neighbour,
# on key $i + 1$. Which layer and which head take each role is up to training, so we
# measure it: run all 512 validation sequences through the model and, for every layer and
# head, record how often each query's largest weight falls on the position just before it
# (left) or just after it (right).

# %%
with torch.no_grad():
    net(X_val.to(device))
position = torch.arange(length)
share = {}
for i, layer in enumerate(net.layers):
    top = layer.attention_weights.argmax(dim=-1).cpu()     # (512, heads, n): top key
    for h in range(top.shape[1]):
        share[i, h] = ((top[:, h, 1:] == position[1:] - 1).float().mean().item(),
                       (top[:, h, :-1] == position[:-1] + 1).float().mean().item())
        print(f"layer {i}, head {h}: top key is the left neighbour "
              f"{share[i, h][0]:.3f}, the right neighbour {share[i, h][1]:.3f}")

# %%
left = max(share, key=lambda key: share[key][0])     # (layer, head) looking left most
right = max(share, key=lambda key: share[key][1])
print(f"left neighbour: layer {left[0]}, head {left[1]}; "
      f"right neighbour: layer {right[0]}, head {right[1]}")
assert left != right, f"one head, {left}, is the best at both"
assert share[left][0] >= 0.95 and share[right][1] >= 0.95, f"{share}"
d2lite.record("left_share", share[left][0])
d2lite.record("right_share", share[right][1])

# %% [markdown]
# [Figure 5](#fig-multihead-explorer) shows the weights of each layer and head on three
# validation sequences. Each heatmap has a row per query position and a column per key
# position, labelled with the letters; it opens on the head found above to look left, whose
# weight sits on the line just *below* the diagonal (query $i$, key $i - 1$). Move the
# sliders to the head that looks right: its line is just *above* the diagonal. The letters
# themselves do not matter to the two clean heads: the same line appears on every sequence,
# because they attend by position, as the rotation argument above allows. The widget's own
# `update` (on a second copy, `probe`, so the one shown keeps its state) must show the line
# on the first sequence.

# %% mystnb={"figure": {"caption": "Widget: the self-attention weights of each layer and head on three validation sequences; a row per query position, a column per key position, labelled with the letters. It opens on the head that attends to the left neighbour.", "name": "fig-multihead-explorer"}}
examples = X_val[:3]                                           # (3, 12)
labels = [[letters[t] for t in row] for row in examples.tolist()]
with torch.no_grad():
    net(examples.to(device))
weights = [layer.attention_weights.cpu() for layer in net.layers]  # each (3, 2, 12, 12)
explorer = d2lite.widgets.attention_explorer(weights, labels, labels,
                                             layer=left[0], head=left[1])
explorer

# %%
probe = d2lite.widgets.attention_explorer(weights, labels, labels, mode="static")
shown = probe.update(layer=left[0], head=left[1], example=0)["weights"]   # (12, 12)
assert (shown.argmax(axis=1)[1:] == range(length - 1)).mean() >= 0.9, shown.round(2)

# %% [markdown]
# On the validation sequences, one head puts its largest weight on the left neighbour for at
# least 95 % of the positions, and another head on the right neighbour for at least 95 %. A
# head that ignored positions would pick the left neighbour about once in eleven. The
# printout shows where the two heads sit in this run and what the other heads do. Nobody told
# the heads to divide the work; the task and the two separate softmaxes made it the easy
# solution.

# %% [markdown]
# ## Summary
#
# - Multi-head attention projects queries, keys and values, splits them into $h$ slices of
#   size $d/h$, runs scaled dot-product attention on each slice and concatenates the results
#   before a last projection $\mathbf{W}_o$. Two reshapes turn the heads into extra batch rows,
#   so all heads run as one batched call, equal (to $10^{-6}$) to looping over them; with one
#   head it is single attention.
# - Your layer, `d2lite.models.MultiHeadAttention` and `nn.MultiheadAttention` with copied
#   weights agree to $10^{-5}$, with and without padding.
# - In self-attention a sequence supplies its own queries, keys and values. It connects any
#   two tokens in one step and runs all positions in parallel, at $O(n^2 d + nd^2)$
#   computation (never less than twice this RNN's), against an RNN's $O(nd^2)$ in $n$
#   sequential steps and a convolution's $O(n/k)$ layers
#   of path length; it also ignores order: shuffling the tokens shuffles the outputs.
# - Sinusoidal positional encodings add order back: column pairs are sines and cosines whose
#   frequency falls along the vector, a continuous binary counter, and shifting the position
#   by $\delta$ rotates every pair, $\mathbf{p}_{i+\delta} = \mathbf{R}(\delta)\mathbf{p}_i$.
# - Trained to name each token's neighbours, a two-layer, two-head model split the work: one
#   head attends to the left neighbour, another to the right, visible in the widget.

# %% [markdown]
# ## Exercises
#
# 1. How does the number of parameters of `MultiHeadAttention` depend on the number of heads?
#    Count it for $d = 32$ and 1, 2, 4 and 8 heads.

# %% tags=["hide-cell"]
# A solution: four d x d matrices whatever h; the heads only cut them into slices.
counts = {h: sum(p.numel() for p in MultiHeadAttention(32, h, 0.0).parameters())
          for h in (1, 2, 4, 8)}
print(counts)
assert set(counts.values()) == {4 * 32 * 32}

# %% [markdown]
# 2. Show that the dot product $\mathbf{p}_i^\top \mathbf{p}_j$ of two positional encodings
#    depends only on the distance $i - j$ (hint: $\sin a \sin b + \cos a \cos b$), and that
#    $\|\mathbf{p}_i\|^2 = d/2$. Check both on the table `P`.

# %% tags=["hide-cell"]
# A solution: p_i . p_j = sum_j cos((i - j) omega_j), a function of i - j alone.
gram = P[:200].double() @ P[:200].double().T                            # (200, 200)
assert torch.allclose(gram.diagonal(), torch.full((200,), 16.0, dtype=torch.float64),
                      atol=1e-5)
for distance in (1, 7, 30):
    along = gram.diagonal(offset=distance)                  # all pairs i, i + distance
    assert (along - along[0]).abs().max() < 1e-5, distance

# %% [markdown]
# 3. Train `NeighbourNet` with a single layer of two heads. Can one layer solve the task,
#    and what do its heads look like in the widget?
# 4. Replace the task by "name the token two positions to the left". Which rotation
#    $\mathbf{R}(\delta)$ would a head need, and does training find such a head?
