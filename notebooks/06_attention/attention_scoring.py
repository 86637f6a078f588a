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
# # Attention scoring functions
#
# [Attention pooling](attention_pooling.ipynb) weighs values by a softmax of scores, one score
# per query and key. This lesson writes the two scoring functions used in practice: additive
# attention, a small neural network that compares a query with a key of any size, and scaled
# dot-product attention, which needs no parameters at all. You first build a masked softmax
# so that padding gets no attention, then measure why the dot product is divided by
# $\sqrt{d}$, and finally write the whole computation for all queries at once as
# $\operatorname{softmax}(\mathbf{Q}\mathbf{K}^\top / \sqrt{d})\,\mathbf{V}$ and check it
# against `d2lite.models` and PyTorch's own `F.scaled_dot_product_attention`.

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

# %% [markdown]
# ## Scores, weights and the shapes to expect
#
# From now on queries, keys and values are vectors and come in minibatches, batch first:
# queries $(B, n, d_q)$, keys $(B, m, d_k)$, values $(B, m, d_v)$ for $n$ queries and $m$
# key–value pairs per example. An **[attention scoring
# function](../../book/glossary.md#term-attention-scoring-function)** (注意力评分函数)
# $a(\mathbf{q}, \mathbf{k})$ gives one number per query and key, so the scores of a
# minibatch are a $(B, n, m)$ tensor; a softmax over its last axis turns them into attention
# weights, and the weights times the values give
# the output, $(B, n, d_v)$: one vector per query, whatever the number of keys.
#
# ## Masked softmax
#
# The sentences of a minibatch rarely have the same length. As in chapter 5's
# [sequence-to-sequence models](../05_rnn/seq2seq.ipynb), the short ones are filled up with
# `<pad>` tokens, and an encoder still produces a key and a value for every position,
# padding included. Those must get no attention: "go ." padded to four tokens should be read
# as two.
# The **[masked softmax](../../book/glossary.md#term-masked-softmax)** (掩蔽softmax) takes
# each example's *valid length* and ignores the keys beyond it: their scores are replaced by
# the most negative number the dtype holds before the softmax, so their weights come out as
# exactly 0 and the valid ones still sum to 1. (Minus infinity would work too, until a row
# has no valid key at all and the softmax computes $0/0$.) The valid lengths are either one
# per example, $(B,)$, shared by all its queries, or one per query, $(B, n)$.

# %%
def masked_softmax(scores, valid_lens=None):
    """Softmax over the last axis of (B, n, m) scores; keys j >= valid_lens get 0."""
    if valid_lens is None:
        return torch.softmax(scores, dim=-1)
    B, n, m = scores.shape
    if valid_lens.dim() == 1:
        valid_lens = valid_lens[:, None].expand(B, n)    # (B, n): same for every query
    keep = torch.arange(m) < valid_lens[:, :, None]            # (B, n, m) booleans
    scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)

# %% [markdown]
# Two sentences, "go ." and "i lost .", padded to four tokens, with two queries each and
# random scores: the padding must get weight 0, and every row must still sum to 1.

# %%
d2lite.seed_everything(0)
scores = torch.randn(2, 2, 4)                                   # (B, n, m)
weights = masked_softmax(scores, torch.tensor([2, 3]))
print(weights.round(decimals=3))
assert (weights[0, :, 2:] == 0).all() and (weights[1, :, 3:] == 0).all(), "padding"
assert torch.allclose(weights.sum(-1), torch.ones(2, 2)), "rows do not sum to 1"

# %% [markdown]
# With one length per query, each row gets its own cut-off. That is how a decoder will later
# stop position $t$ from looking at positions after $t$:

# %% tags=["nbval-check-output"]
per_query = masked_softmax(torch.zeros(1, 3, 3), torch.tensor([[1, 2, 3]]))
print(per_query[0])

# %% [markdown]
# The mask has to hold not just for the weights but for the output: whatever the padded keys
# and values hold, the pooled result must not change. Replace them with large random numbers
# and compare.

# %%
values = torch.randn(2, 4, 5)                                   # (B, m, d_v)
noisy_scores, noisy_values = scores.clone(), values.clone()
noisy_scores[0, :, 2:], noisy_values[0, 2:] = 1e4, 1e4 * torch.randn(2, 5)
noisy_scores[1, :, 3:], noisy_values[1, 3:] = 1e4, 1e4 * torch.randn(1, 5)
clean = masked_softmax(scores, torch.tensor([2, 3])) @ values
noisy = masked_softmax(noisy_scores, torch.tensor([2, 3])) @ noisy_values
print(f"largest change of the output: {(clean - noisy).abs().max():.1e}")
assert torch.equal(clean, noisy), "the padding changed the output"

# %% [markdown]
# One edge case remains. A row with valid length 0 has no valid key: every one of its scores
# becomes the same most negative number, so the softmax spreads the row evenly over the
# padding, $1/m$ each, and its output is the plain average of the padded values. No error
# warns you; the number is just meaningless, so every sequence needs at least one valid key.
# The package's `d2lite.models.masked_softmax` behaves the same way.

# %%
empty_rows = masked_softmax(scores, torch.tensor([0, 3]))[0]   # "go ." has no valid key
print(empty_rows)
assert torch.equal(empty_rows, torch.full((2, 4), 0.25)), "not uniform over the padding"
assert torch.equal(d2lite.models.masked_softmax(scores, torch.tensor([0, 3]))[0],
                   empty_rows), "the package treats an empty row differently"

# %% [markdown]
# ## Additive attention
#
# When queries and keys have different sizes, they cannot be compared directly. **[Additive
# attention](../../book/glossary.md#term-additive-attention)** (加性注意力), introduced for
# translation by [Bahdanau et al. (2015)](../../book/references.md), maps both into a
# common space of size $h$ and scores their sum with a small network of one hidden layer:
#
# $$
# a(\mathbf{q}, \mathbf{k}) = \mathbf{w}_v^\top \tanh(\mathbf{W}_q \mathbf{q} +
# \mathbf{W}_k \mathbf{k}), \tag{1}
# $$
#
# with learned $\mathbf{W}_q$ $(h \times d_q)$, $\mathbf{W}_k$ $(h \times d_k)$ and
# $\mathbf{w}_v$ $(h)$. For a minibatch, every query must meet every key: project the queries
# to $(B, n, h)$ and the keys to $(B, m, h)$, insert an axis in each and let broadcasting add
# them into $(B, n, m, h)$; $\mathbf{w}_v$ then takes each $h$-vector to one score
# ([Figure 1](#fig-attention_scoring-additive-diagram)). The layers are named as in
# `d2lite.models.AdditiveAttention`, so the weights can be copied.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Additive attention for a minibatch: W_q and W_k project queries and keys to size h, broadcasting adds every query to every key, and tanh followed by w_v gives one score per pair; the masked softmax turns the scores into weights.", "name": "fig-attention_scoring-additive-diagram"}}
d2lite.diagrams.scoring_function("additive")

# %%
class AdditiveAttention(nn.Module):
    """Equation (1). queries (B, n, d_q), keys (B, m, d_k), values (B, m, d_v)."""

    def __init__(self, key_size, query_size, num_hiddens, dropout):
        super().__init__()
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        q, k = self.W_q(queries), self.W_k(keys)               # (B, n, h), (B, m, h)
        features = torch.tanh(q[:, :, None, :] + k[:, None, :, :])  # (B, n, m, h)
        scores = self.w_v(features).squeeze(-1)                # (B, n, m)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return self.dropout(self.attention_weights) @ values   # (B, n, d_v)

# %% [markdown]
# A minibatch of 2 examples, one query of size 6 each, 10 keys of size 3 and values of size 4,
# with valid lengths 2 and 6. The shapes follow the plan above, and the weights stored by the
# layer show the mask at work: [Figure 2](#fig-attention_scoring-additive).

# %%
d2lite.seed_everything(0)
additive = AdditiveAttention(key_size=3, query_size=6, num_hiddens=8, dropout=0.1)
additive.eval()                                                 # no dropout for now
queries, keys = torch.randn(2, 1, 6), torch.randn(2, 10, 3)
values = torch.randn(2, 10, 4)
lengths = torch.tensor([2, 6])
output = additive(queries, keys, values, lengths)
print("output", tuple(output.shape), "weights", tuple(additive.attention_weights.shape))
assert output.shape == (2, 1, 4) and additive.attention_weights.shape == (2, 1, 10)

# %% mystnb={"figure": {"caption": "Additive attention weights of one query against 10 keys in two examples with valid lengths 2 and 6: the padded keys get weight 0.", "name": "fig-attention_scoring-additive"}}
fig, ax = plt.subplots(figsize=(5, 1.5))
shown = ax.imshow(additive.attention_weights.detach()[:, 0], cmap="Reds", vmin=0,
                  aspect="auto")
ax.set(xlabel="key", ylabel="example", yticks=[0, 1], xticks=range(10))
fig.colorbar(shown, ax=ax, label="weight")
plt.show()

# %% [markdown]
# `d2lite.models.AdditiveAttention` is the copy that later lessons (Bahdanau's translation
# model first) import. Loaded with the same weights it must give the same outputs and weights.

# %%
package_additive = d2lite.models.AdditiveAttention(3, 6, 8, dropout=0.1).eval()
package_additive.load_state_dict(additive.state_dict())
gap = (package_additive(queries, keys, values, lengths) - output).abs().max().item()
print(f"lesson vs d2lite.models.AdditiveAttention: max gap {gap:.1e}")
assert gap < 1e-6 and torch.equal(package_additive.attention_weights,
                                  additive.attention_weights)

# %% [markdown]
# ## Scaled dot-product attention
#
# The source notes put it plainly: a score should be large when query and key are alike, and
# the simplest measure of how alike two vectors are is their dot product, the numerator of the
# cosine similarity that compares [word vectors](../05_rnn/word2vec.ipynb) in chapter 5. It
# has no parameters and costs one multiplication and addition per dimension, but it needs
# queries and keys of the same size $d$. **[Scaled dot-product
# attention](../../book/glossary.md#term-scaled-dot-product-attention)** (缩放点积注意力)
# ([Vaswani et al., 2017](../../book/references.md)) divides it by $\sqrt{d}$:
#
# $$
# a(\mathbf{q}, \mathbf{k}) = \frac{\mathbf{q}^\top \mathbf{k}}{\sqrt{d}}. \tag{2}
# $$
#
# A worked example with the size of one head of the original Transformer, $d = 64$, so the
# divisor is $\sqrt{64} = 8$. Say one query scores 112 against the first key and 96 against
# the second. Divided by 8 they become 14 and 12, and the softmax gives the two keys weights of
# about 0.88 and 0.12. Without the division the gap of 16 between the raw scores leaves the
# second key a weight of about $e^{-16} \approx 10^{-7}$, nothing at all:

# %%
example_scores = torch.tensor([112.0, 96.0])      # q . k_1 and q . k_2, d = 64
scaled_weights = torch.softmax(example_scores / math.sqrt(64), dim=0)
raw_weights = torch.softmax(example_scores, dim=0)
print(f"scaled by 8: weights {scaled_weights[0]:.3f} and {scaled_weights[1]:.3f}; "
      f"unscaled: {raw_weights[0]:.7f} and {raw_weights[1]:.1e}")
assert abs(scaled_weights[1].item() - 0.119) < 1e-3 and raw_weights[1].item() < 2e-7

# %% [markdown]
# Why $\sqrt{d}$? Suppose the entries of $\mathbf{q}$ and $\mathbf{k}$ are independent, with
# mean 0 and variance 1. Each product $q_i k_i$ then has mean 0 and variance
# $\mathbb{E}[q_i^2]\,\mathbb{E}[k_i^2] = 1$, and the $d$ independent products add their
# variances: $\operatorname{Var}(\mathbf{q}^\top\mathbf{k}) = d$. The typical score grows
# like $\sqrt{d}$, and dividing by $\sqrt{d}$ brings the variance back to 1 for every $d$.
# Measure it on 20,000 random pairs for four sizes:

# %%
d2lite.seed_everything(0)
sizes = [4, 16, 64, 256]
raw_var, scaled_var = [], []
for d in sizes:
    q, k = torch.randn(20_000, d), torch.randn(20_000, d)
    dots = (q * k).sum(dim=1)                          # (20000,) one score per pair
    raw_var.append(dots.var().item())
    scaled_var.append((dots / math.sqrt(d)).var().item())
    print(f"d = {d:3d}: variance {raw_var[-1]:7.2f} unscaled, "
          f"{scaled_var[-1]:.3f} scaled")
for d, raw, scaled in zip(sizes, raw_var, scaled_var, strict=True):
    assert 0.9 < raw / d < 1.1 and 0.9 < scaled < 1.1, f"d = {d}: {raw:.2f}, {scaled}"

# %% [markdown]
# The variance is $d$ within 10 % before scaling and 1 within 10 % after, as the argument says.
# Why does a large variance hurt? Because the softmax
# [saturates](../../book/glossary.md#term-saturation): when the scores are spread over tens of
# units, the largest is far ahead of the rest, its weight is nearly 1 and the others nearly 0.
# Attention then picks one key instead of mixing several, and, worse for training, the
# softmax's gradient $\partial \alpha_i / \partial a_j = \alpha_i(\delta_{ij} - \alpha_j)$
# nearly vanishes, so the scores, and the weights that produce them, stop learning. Take
# 1,000 random queries, each with 10 random keys, and record the mean largest weight and the
# median size (Frobenius norm) of the softmax's Jacobian, with and without the scale.

# %%
def saturation(d, scale):
    Q, K = torch.randn(1000, 1, d), torch.randn(1000, 10, d)   # 1,000 queries, 10 keys
    scores = (Q @ K.transpose(1, 2)).squeeze(1) / scale       # (1000, 10)
    p = torch.softmax(scores, dim=-1)
    jacobian = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (1000, 10, 10)
    return p.max(dim=1).values.mean().item(), jacobian.norm(dim=(1, 2)).median().item()

d2lite.seed_everything(0)
top, gradients = {"unscaled": [], "scaled": []}, {"unscaled": [], "scaled": []}
for d in sizes:
    for name, scale in (("unscaled", 1.0), ("scaled", math.sqrt(d))):
        largest, gradient = saturation(d, scale)
        top[name].append(largest)
        gradients[name].append(gradient)
        print(f"d = {d:3d} {name:8s}: largest weight {largest:.3f}, "
              f"softmax gradient {gradient:.4f}")

# %% [markdown]
# [Figure 3](#fig-attention_scoring-saturation) shows the largest weight against $d$. Without
# the scale it climbs towards 1 as $d$ grows, above 0.9 at $d = 256$, where the softmax's
# gradient is more than 20 times smaller than with the scale. With the scale the weights look
# the same for every $d$: the largest stays below 0.4 of the ten.

# %% mystnb={"figure": {"caption": "Mean largest attention weight of a query over 10 random keys against the size d of queries and keys, with and without dividing the scores by the square root of d.", "name": "fig-attention_scoring-saturation"}}
ax = d2lite.plot(sizes, [top["unscaled"], top["scaled"]], "size d of queries and keys",
                 "mean largest weight", legend=["q·k", "q·k / sqrt(d)"], xscale="log",
                 ylim=(0, 1.05), figsize=(5, 3))
ax.set_xticks(sizes, [str(d) for d in sizes])
plt.show()
assert top["unscaled"][-1] > 0.9 and max(top["scaled"]) < 0.4, f"{top}"
assert gradients["unscaled"][-1] < gradients["scaled"][-1] / 20, f"{gradients}"

# %% [markdown]
# ## The batched matrix form
#
# Equation (2) scores one query and one key. Looping over all pairs would be slow, and the
# notes point out it is unnecessary: stack the $n$ queries as the rows of $\mathbf{Q}$
# $(n \times d)$, the $m$ keys as the rows of $\mathbf{K}$ $(m \times d)$ and the values as
# the rows of $\mathbf{V}$ $(m \times d_v)$. Entry $(i, j)$ of $\mathbf{Q}\mathbf{K}^\top$ is
# the dot product of query $i$ and key $j$, so one matrix product computes every score, and
# one more pools the values:
#
# $$
# \operatorname{softmax}\left(\frac{\mathbf{Q}\mathbf{K}^\top}{\sqrt{d}}\right)\mathbf{V}
# \in \mathbb{R}^{n \times d_v}. \tag{3}
# $$
#
# [Figure 4](#fig-attention_scoring-dot-diagram) follows the scores through a minibatch, next
# to the additive version of [Figure 1](#fig-attention_scoring-additive-diagram): one batched
# product replaces the whole scoring network, and nothing in it is learned.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Scaled dot-product attention for a minibatch: one batched product Q Kᵀ scores every query against every key, dividing by √d keeps the scores' variance near 1, and the masked softmax turns them into weights. It has no parameters.", "name": "fig-attention_scoring-dot-diagram"}}
d2lite.diagrams.scoring_function("dot product")

# %% [markdown]
# The notes follow the shapes through their example sentence "I love you": three word vectors
# of size 10 are the rows of $\mathbf{X}$ $(3 \times 10)$; three linear maps without bias
# give $\mathbf{Q}$ and $\mathbf{K}$ of size 5 per word and $\mathbf{V}$ of size 8. Since the
# queries, keys and values all come from the same sentence, this is *self-attention*, the
# subject of a later lesson. First the loops, exactly as equations (1) and (2) of the
# [attention pooling lesson](attention_pooling.ipynb) say, one query and one key at a time:

# %%
d2lite.seed_everything(0)
X = torch.randn(3, 10)                                          # "I love you", (3, 10)
W_q, W_k, W_v = torch.randn(10, 5), torch.randn(10, 5), torch.randn(10, 8)
Q, K, V = X @ W_q, X @ W_k, X @ W_v                             # (3, 5), (3, 5), (3, 8)
loop_output = torch.zeros(3, 8)
for i in range(3):                                              # each query
    scores_i = torch.stack([Q[i] @ K[j] / math.sqrt(5) for j in range(3)])  # (3,)
    alpha = torch.softmax(scores_i, dim=0)
    for j in range(3):                                          # each key-value pair
        loop_output[i] += alpha[j] * V[j]

# %% [markdown]
# And the matrix form, equation (3), with the shape of every step asserted: a $3 \times 3$
# table of scores, one row per query, and one output of size 8 per word.

# %%
scores_qk = Q @ K.T / math.sqrt(5)                              # (3, 3)
matrix_output = torch.softmax(scores_qk, dim=-1) @ V            # (3, 8)
assert Q.shape == K.shape == (3, 5) and V.shape == (3, 8) and scores_qk.shape == (3, 3)
assert matrix_output.shape == (3, 8)
gap = (matrix_output - loop_output).abs().max().item()
print(f"loop form vs matrix form: max gap {gap:.1e}")
assert gap < 1e-5, f"the two forms differ by {gap:.2e}"

# %% [markdown]
# A minibatch adds a leading batch axis: $\mathbf{Q}$ $(B, n, d)$, $\mathbf{K}$ $(B, m, d)$,
# $\mathbf{V}$ $(B, m, d_v)$, and `torch.bmm` multiplies the $B$ pairs of matrices in one
# call. Add the masked softmax and dropout on the weights (a regulariser that drops random
# attention links during training) and you have the layer. The notes count it: however long
# the sentence, a few matrix products and no loop over time steps, where an RNN must walk
# through the sentence one step after another.

# %%
class DotProductAttention(nn.Module):
    """Equations (2) and (3). queries (B, n, d), keys (B, m, d), values (B, m, d_v)."""

    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)  # (B, n, m)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)    # (B, n, d_v)

# %% [markdown]
# ## Three implementations, one function
#
# PyTorch ships the same computation as `F.scaled_dot_product_attention`, which on a GPU runs
# fused kernels that never store the $(n \times m)$ weights when it can. It takes the mask as a
# boolean `attn_mask` of shape $(B, n, m)$, True where a query may look. With such an arbitrary
# mask the FlashAttention kernel does not run (it takes no mask but the causal one); torch
# picks the memory-efficient fused kernel, which accepts one, or else its plain "math"
# implementation, which does store the weights. The answer is the same either way. Your layer, the package's
# `d2lite.models.DotProductAttention` and PyTorch's must agree to $10^{-5}$, without a mask,
# with one valid length per example and with one per query; and your masked softmax must
# equal the package's.

# %%
def keep_mask(valid_lens, n, m):
    """valid_lens (B,) or (B, n) -> the boolean attn_mask (B, n, m) that torch takes."""
    lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None].expand(-1, n)
    return torch.arange(m) < lens[:, :, None]

d2lite.seed_everything(0)
Q, K, V = torch.randn(3, 4, 8), torch.randn(3, 6, 8), torch.randn(3, 6, 5)
attention = DotProductAttention(dropout=0.0)
package_attention = d2lite.models.DotProductAttention(dropout=0.0)
cases = {"no mask": None, "per example": torch.tensor([2, 6, 4]),
         "per query": torch.tensor([[1, 2, 3, 4], [6, 6, 6, 6], [3, 1, 5, 2]])}

# %%
for name, lens in cases.items():
    ours = attention(Q, K, V, lens)
    mask = None if lens is None else keep_mask(lens, 4, 6)
    gaps = {"d2lite": (package_attention(Q, K, V, lens) - ours).abs().max().item(),
            "torch": (F.scaled_dot_product_attention(Q, K, V, attn_mask=mask)
                      - ours).abs().max().item()}
    print(f"{name:11s}: " + ", ".join(f"vs {k} {v:.1e}" for k, v in gaps.items()))
    assert max(gaps.values()) < 1e-5, f"{name}: {gaps}"
    same_weights = d2lite.models.masked_softmax(Q @ K.transpose(1, 2), lens)
    assert torch.equal(masked_softmax(Q @ K.transpose(1, 2), lens), same_weights)

# %% [markdown]
# Dropout on the weights acts only in training mode: in evaluation mode two calls give the
# same output, in training mode they differ, and the expected output is unchanged because the
# kept weights are scaled by $1/(1-p)$, as in
# [the regularisation lesson](../03_mlp/regularization.ipynb).

# %%
noisy_attention = DotProductAttention(dropout=0.5)
noisy_attention.eval()
assert torch.equal(noisy_attention(Q, K, V), noisy_attention(Q, K, V)), "eval mode"
expected = noisy_attention(Q, K, V)
noisy_attention.train()
assert not torch.equal(noisy_attention(Q, K, V), noisy_attention(Q, K, V)), "train mode"
with torch.no_grad():
    mean_output = torch.stack([noisy_attention(Q, K, V) for _ in range(2000)]).mean(0)
gap = (mean_output - expected).abs().max().item()
print(f"mean of 2,000 training-mode outputs vs evaluation mode: max gap {gap:.3f}")
assert gap < 0.1, f"dropout changed the expected output by {gap:.3f}"

# %% [markdown]
# ## Summary
#
# - A scoring function gives one number per query and key; a masked softmax over the keys
#   turns a $(B, n, m)$ table of scores into weights, giving padded keys exactly 0 and letting
#   every row still sum to 1. Valid lengths come per example $(B,)$ or per query $(B, n)$.
# - Additive attention, $\mathbf{w}_v^\top \tanh(\mathbf{W}_q \mathbf{q} + \mathbf{W}_k
#   \mathbf{k})$, compares queries and keys of different sizes with a one-hidden-layer network.
# - Scaled dot-product attention, $\mathbf{q}^\top\mathbf{k} / \sqrt{d}$, has no parameters.
#   For unit-variance entries the dot product has variance $d$ (measured within 10 % for $d$
#   from 4 to 256); without the scale the softmax saturates, the largest weight tends to 1 and
#   the gradient vanishes.
# - All queries at once: $\operatorname{softmax}(\mathbf{Q}\mathbf{K}^\top/\sqrt{d})\mathbf{V}$,
#   with `torch.bmm` over a minibatch. Your layer, `d2lite.models.DotProductAttention` and
#   `F.scaled_dot_product_attention` agree to $10^{-5}$ with and without masks.

# %% [markdown]
# ## Exercises
#
# 1. Additive attention is an MLP on the concatenation of query and key. Show that
#    $\mathbf{W}_q \mathbf{q} + \mathbf{W}_k \mathbf{k} = \mathbf{W} [\mathbf{q};
#    \mathbf{k}]$ with $\mathbf{W} = [\mathbf{W}_q \; \mathbf{W}_k]$, and compute the scores of
#    `additive` that way.

# %% tags=["hide-cell"]
# A solution: one nn.Linear on the concatenated (d_q + d_k)-vectors, weight [W_q W_k].
W = torch.cat([additive.W_q.weight, additive.W_k.weight], dim=1)   # (h, d_q + d_k)
pairs = torch.cat([queries[:, :, None, :].expand(-1, -1, 10, -1),
                   keys[:, None, :, :].expand(-1, 1, -1, -1)], dim=-1)  # (2, 1, 10, 9)
concat_scores = (torch.tanh(pairs @ W.T) @ additive.w_v.weight[0])     # (2, 1, 10)
with torch.no_grad():
    direct = additive.w_v(torch.tanh(additive.W_q(queries)[:, :, None]
                                     + additive.W_k(keys)[:, None])).squeeze(-1)
assert torch.allclose(concat_scores, direct, atol=1e-6)

# %% [markdown]
# 2. When queries and keys differ in size, a learned matrix can still compare them with a
#    single product: the *multiplicative* (bilinear) score $\mathbf{q}^\top \mathbf{W}
#    \mathbf{k}$. Show that it is dot-product attention between $\mathbf{q}$ and
#    $\mathbf{W}\mathbf{k}$, and compute it with `DotProductAttention` for queries of size 6
#    and keys of size 3 (mind the scale).

# %% tags=["hide-cell"]
# A solution: q^T W k = q . (W k); DotProductAttention divides by sqrt(6), undo that.
d2lite.seed_everything(1)
W_bilinear = torch.randn(6, 3)
bilinear_scores = queries @ W_bilinear @ keys.transpose(1, 2)         # (2, 1, 10)
expected = masked_softmax(bilinear_scores, lengths) @ values
projected_keys = keys @ W_bilinear.T                                    # (2, 10, 6)
got = DotProductAttention(0.0)(math.sqrt(6) * queries, projected_keys, values, lengths)
assert torch.allclose(got, expected, atol=1e-5)

# %% [markdown]
# 3. If the entries of $\mathbf{q}$ and $\mathbf{k}$ have variance $\sigma^2$ rather than 1,
#    what is the variance of $\mathbf{q}^\top\mathbf{k}$, and what should you divide by? Check
#    with a measurement.
# 4. Additive attention builds a $(B, n, m, h)$ tensor, dot-product attention only $(B, n, m)$.
#    For $n = m = 1000$ and $h = 64$, how much memory does each need per example in float32?
