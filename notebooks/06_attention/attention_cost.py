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
# # The cost of attention
#
# Attention lets every position of a sequence look at every other one, and that is exactly
# what makes it expensive: the table of scores has one entry per pair of positions, so it
# grows with the *square* of the length. In this lesson you count that cost (arithmetic and
# memory) and measure it, see how PyTorch's fused `F.scaled_dot_product_attention` computes
# the same result without ever storing the table, and work out with counted costs when a
# much smaller model is the better choice.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import math
import statistics
import time
import weakref
import matplotlib.pyplot as plt
from torch import nn
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

# %% [markdown]
# ## Is attention perfect?
#
# The source notes stop before the Transformer to ask whether attention has a weak spot, and
# answer with its cost on long inputs. Picture a text of 1,000 tokens:
# [self-attention](../../book/glossary.md#term-self-attention) makes
# 1,000 queries, 1,000 keys and 1,000 values, and every query is scored against every key.
# That is $1000^2$, a million scores per head and per layer, where an RNN reading the same
# text takes 1,000 steps.
#
# The [multi-head lesson](multihead_self_attention.ipynb) counted one layer of self-attention
# against a convolution and an RNN; now follow that count as $n$ grows, and the memory with
# it. For one head with queries, keys and values of size $d$ and a sequence of $n$
# tokens, the scores $\mathbf{Q}\mathbf{K}^\top$ (from the
# [scoring lesson](attention_scoring.ipynb)) are an $n \times n$ matrix whose every entry is
# a dot product of $d$ multiply-adds; pooling the values, (weights)$\,\mathbf{V}$, costs the
# same again. Counting a multiply-add as two **[floating-point
# operations](../../book/glossary.md#term-flop)** (浮点运算, FLOPs), as PyTorch's
# `FlopCounterMode` does:
#
# $$
# \text{FLOPs} = 2n^2d + 2n^2d = 4n^2d, \qquad
# \text{bytes of the score matrix} = 4n^2 \text{ (float32)}. \tag{1}
# $$
#
# Both grow with $n^2$: twice the length, four times the work and four times the memory.
# The softmax adds a few operations per score, also $n^2$. The notes' 1,000-token text needs
# a 4 MB score matrix per head, per layer, per example; a batch of 32 with 12 heads, 1.5 GB.
#
# The naive version below is `d2lite.models.DotProductAttention` from the scoring lesson,
# which stores its weights. A minibatch of $B$ sequences with $h$ heads is $Bh$ independent
# attentions, so it takes $(Bh, n, d)$ tensors; here one sequence with 4 heads of size 64.
# `FlopCounterMode` records the FLOPs of every matrix product it sees.

# %%
heads, d = 4, 64
lengths = [256, 512, 1024, 2048]
naive = d2lite.models.DotProductAttention(dropout=0.0)
flops = []
for n in lengths:
    Q, K, V = torch.randn(3, heads, n, d)                        # each (heads, n, d)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        naive(Q, K, V)
    flops.append(counter.get_total_flops())
    print(f"n = {n:4d}: {flops[-1] / 1e9:6.3f} GFLOP, "
          f"4 h n^2 d = {4 * heads * n**2 * d / 1e9:6.3f} GFLOP")
for n, counted in zip(lengths, flops, strict=True):
    assert counted == 4 * heads * n**2 * d, f"n = {n}: {counted} FLOPs"
growth = [flops[i + 1] / flops[i] for i in range(len(flops) - 1)]
assert growth == [4, 4, 4], f"doubling n multiplied the FLOPs by {growth}, not 4"

# %% [markdown]
# The counted FLOPs are exactly $4hn^2d$, equation (1) times the number of heads, and every
# doubling of $n$ multiplies them by exactly 4.
#
# ## Measuring memory
#
# Arithmetic is one cost; memory is often the one that stops you. On a GPU,
# `torch.cuda.max_memory_allocated()` reports the peak. On the CPU you can measure it
# yourself, exactly and the same on every run: PyTorch lets a *dispatch mode* see every
# operation and the tensors it returns (that is how `FlopCounterMode` works). The meter below
# adds up the bytes of every new tensor while it is alive, and records the peak and the
# largest single tensor. Views (a transpose, a reshape) share their input's memory and are not
# counted.

# %%
class MemoryMeter(TorchDispatchMode):
    """Peak bytes of the tensors that operations create, while they are alive."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        given = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs))
                 if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            if storage.data_ptr() in given:      # a view of an input: no new memory
                continue
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
            self.largest = max(self.largest, storage.nbytes())
            weakref.finalize(t, self.free, storage.nbytes())  # subtract when it dies
        return out

    def free(self, size):
        self.live -= size

# %% [markdown]
# `measure` runs one call under the meter, without gradients (autograd would keep more
# tensors alive for the backward pass), and returns what the meter saw.

# %%
def measure(fn, *args, **kwargs):
    """(peak bytes, largest tensor's bytes) of one call of fn(*args, **kwargs)."""
    with torch.no_grad(), MemoryMeter() as meter:
        fn(*args, **kwargs)
    return meter.peak, meter.largest

# %% [markdown]
# Now the naive path at four lengths. Each call gets a fresh layer, so that weights stored
# by an earlier call do not count. The fused path is `F.scaled_dot_product_attention` on the
# same numbers arranged as (batch, heads, $n$, $d$), the layout its fused kernels expect
# (with three-dimensional inputs PyTorch falls back to the naive computation on the CPU).

# %%
memory = {"naive": [], "fused": []}
for n in lengths:
    Q, K, V = torch.randn(3, 1, heads, n, d)                     # each (1, heads, n, d)
    fresh = d2lite.models.DotProductAttention(dropout=0.0)
    memory["naive"].append(measure(fresh, Q[0], K[0], V[0]))    # (heads, n, d)
    memory["fused"].append(measure(F.scaled_dot_product_attention, Q, K, V))
    scores_mb = heads * n**2 * 4 / 2**20
    print(f"n = {n:4d}: score matrix {scores_mb:6.1f} MB; peak naive "
          f"{memory['naive'][-1][0] / 2**20:6.1f} MB, fused "
          f"{memory['fused'][-1][0] / 2**20:5.2f} MB")

# %% [markdown]
# The naive path's largest tensor is the score matrix, $4hn^2$ bytes, quadrupling with every
# doubling; at its peak it holds at least two of them at once (the scores and the softmax's
# weights, or the raw product and its scaled copy). The fused path never returns anything as
# large as one score matrix: its peak is the output and one number per query (the softmax's
# log-normaliser, kept for the backward pass), and it doubles when $n$ doubles.

# %%
for n, (peak, largest) in zip(lengths, memory["naive"], strict=True):
    scores_bytes = heads * n**2 * 4
    assert largest == scores_bytes, f"n = {n}: largest tensor {largest} bytes"
    assert peak >= 2 * scores_bytes, f"n = {n}: peak {peak} < two score matrices"
fused_peaks = [peak for peak, _ in memory["fused"]]
for n, peak in zip(lengths, fused_peaks, strict=True):
    assert peak < heads * n**2 * 4, f"n = {n}: fused peak {peak} bytes"
growth = [fused_peaks[i + 1] / fused_peaks[i] for i in range(len(lengths) - 1)]
assert all(1.99 < g < 2.01 for g in growth), f"fused peak grew {growth}, not 2x"

# %% [markdown]
# One caveat: the meter sees the tensors that operations hand back, not the scratch space a
# kernel uses inside. The fused kernel's scratch is a few tiles of scores per thread, and how
# it gets away with so little is the subject of the next section.
#
# ## Attention without the score matrix
#
# A **[fused kernel](../../book/glossary.md#term-fused-kernel)** (融合内核) does in one pass
# what would otherwise be several operations, each writing its result to memory and the next
# reading it back. The naive path writes the $n \times n$ matrix three times (the product,
# the scaled scores, the weights) and reads it back as often. Once $n^2$ numbers stop fitting
# in the processor's caches, or on a GPU in its small on-chip memory, that traffic, not the
# arithmetic, sets the speed.
#
# **[FlashAttention](../../book/glossary.md#term-flashattention)**
# ([Dao et al., 2022](../../book/references.md)) is the fused kernel for attention. It walks
# through the keys one block at a time and never keeps more than one block of scores. The
# difficulty is the softmax: its denominator needs every score of the row. The trick, an
# **[online softmax](../../book/glossary.md#term-online-softmax)** (在线softmax), keeps for
# each query a running maximum $m$, a running sum $\ell$ of $e^{s - m}$ and a running
# weighted sum of values. When a new block raises the maximum from $m$ to $m'$, everything
# summed so far is multiplied by $e^{m - m'}$, which is exactly what it would have been had
# $m'$ been used from the start. After the last block, output $= $ weighted sum $/\,\ell$.
# [Figure 1](#fig-attention_cost-tiles) draws the walk for three blocks of keys.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Tiled attention with the online softmax. Each block of keys K_j gives one tile of scores S_j, which updates the running maximum m, the running sum ℓ and the running output o (all rescaled by e^(m − m′) when the maximum grows); the tile is then dropped, so the full score matrix never exists. The output is o / ℓ.", "name": "fig-attention_cost-tiles"}}
d2lite.diagrams.tiled_attention(num_blocks=3)

# %%
def tiled_attention(Q, K, V, block=128):
    """softmax(Q K^T / sqrt(d)) V, reading the keys and values one block at a time."""
    d = Q.shape[-1]
    top = torch.full(Q.shape[:-1] + (1,), -math.inf)     # (..., n, 1) running max
    total = torch.zeros(Q.shape[:-1] + (1,))              # (..., n, 1) running sum
    out = torch.zeros(Q.shape[:-1] + V.shape[-1:])        # (..., n, d_v)
    for j in range(0, K.shape[-2], block):
        keys = K[..., j:j + block, :]                     # (..., block, d)
        s = Q @ keys.transpose(-2, -1) / math.sqrt(d)     # (..., n, block)
        new_top = torch.maximum(top, s.amax(dim=-1, keepdim=True))
        rescale = torch.exp(top - new_top)                # shrinks what came before
        p = torch.exp(s - new_top)                        # (..., n, block)
        total = total * rescale + p.sum(dim=-1, keepdim=True)
        out = out * rescale + p @ V[..., j:j + block, :]
        top = new_top
    return out / total

# %% [markdown]
# On 1,000 tokens (the last block is shorter than the others), the tiled version must agree
# with the naive one, which normalises each row once at the end.

# %%
d2lite.seed_everything(0)
Q, K, V = torch.randn(3, heads, 1000, d)                         # each (heads, 1000, d)
with torch.no_grad():
    gap = (tiled_attention(Q, K, V) - naive(Q, K, V)).abs().max().item()
print(f"tiled vs naive: max gap {gap:.1e}")
assert gap < 1e-5, f"the tiled softmax differs by {gap:.2e}"

# %% [markdown]
# The real kernels also split the queries into blocks, spread the blocks over threads (or GPU
# thread blocks) and do all of it in compiled code, so the tiles stay in fast memory.
# PyTorch's `F.scaled_dot_product_attention` picks one for you: FlashAttention or a
# memory-efficient variant on NVIDIA GPUs, a flash-style kernel on the CPU, and the naive
# computation when none applies. Training needs gradients too: FlashAttention recomputes the
# scores block by block in the backward pass from the saved log-normalisers instead of storing
# them, trading a little arithmetic for a lot of memory.
#
# ## Same numbers, with and without masks
#
# A faster kernel is only useful if it computes the same function. Compare the fused and the
# naive path for two sequences, 4 heads and 300 tokens on your device, in three cases:
#
# - no mask;
# - a **padding mask**: the second sequence has only 180 real tokens. The naive layer takes the
#   valid lengths, one per (sequence, head); the fused function takes a boolean mask that is
#   True where a query may look. Give it the shape (batch, 1, 1, $n$): broadcasting spreads
#   it over heads and queries without ever building an $n \times n$ mask;
# - a **causal mask**: query $i$ may look at keys $0, \dots, i$ only, as in the decoder of
#   the Transformer. For the naive layer that is a valid length of $i + 1$ per query; the
#   fused function needs only `is_causal=True`.

# %%
device = d2lite.try_gpu()
d2lite.seed_everything(0)
B, n = 2, 300
Q, K, V = torch.randn(3, B, heads, n, d, device=device)         # each (B, heads, n, d)
lens = torch.tensor([300, 180], device=device)                   # (B,)
padding = torch.arange(n, device=device) < lens[:, None, None, None]  # (B, 1, 1, n)
causal = torch.arange(1, n + 1, device=device).expand(B * heads, n)  # (B * heads, n)
cases = {"no mask": (None, {}),
         "padding": (lens.repeat_interleave(heads), {"attn_mask": padding}),
         "causal": (causal, {"is_causal": True})}

def as_heads(X):
    return X.reshape(B * heads, n, -1)                           # (B * heads, n, d)

# %%
with torch.no_grad():
    for name, (valid_lens, fused_kwargs) in cases.items():
        ours = naive(as_heads(Q), as_heads(K), as_heads(V), valid_lens)
        fused = F.scaled_dot_product_attention(Q, K, V, **fused_kwargs)
        gap = (as_heads(fused) - ours).abs().max().item()
        print(f"{name:8s}: naive vs fused, max gap {gap:.1e}")
        assert gap < 1e-5, f"{name}: the two paths differ by {gap:.2e}"

# %% [markdown]
# The two paths agree to $10^{-5}$ in all three cases.
#
# ## Measured time
#
# Now the clock. The helper follows the rules of
# [the performance appendix](../08_appendix/gpus_and_performance.ipynb): warm up, synchronise
# a GPU before reading the clock, and take the median of a few runs.

# %%
def timeit(fn, *args, repeats=3, **kwargs):
    """Median seconds of fn(*args, **kwargs) over `repeats` runs, after one warm-up."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    fn(*args, **kwargs)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn(*args, **kwargs)
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

# %% [markdown]
# Time both paths at five lengths, from 128 to 2,048 tokens, one sequence with 4 heads.

# %%
timed_lengths = [128, 256, 512, 1024, 2048]
seconds = {"naive": [], "fused": []}
with torch.no_grad():
    for n in timed_lengths:
        Q, K, V = torch.randn(3, 1, heads, n, d, device=device)  # each (1, heads, n, d)
        seconds["naive"].append(timeit(naive, Q[0], K[0], V[0]))
        seconds["fused"].append(timeit(F.scaled_dot_product_attention, Q, K, V))
        print(f"n = {n:4d}: naive {seconds['naive'][-1] * 1e3:8.2f} ms, fused "
              f"{seconds['fused'][-1] * 1e3:7.2f} ms, naive / fused "
              f"{seconds['naive'][-1] / seconds['fused'][-1]:4.1f}")

# %% [markdown]
# [Figure 2](#fig-attention_cost-time) plots both on logarithmic axes, where a power law
# $t \propto n^k$ is a straight line of slope $k$; the dashed line has slope 2. These are
# wall-clock times of this run on this machine: other programs, the processor and its caches
# all move them, so the book shows them but does not check them. What it checks are the
# counted quantities above, which do not depend on the machine. Look for two things: at the
# small lengths the times grow more slowly than $n^2$, since fixed costs per call (Python,
# launching kernels) still dominate; at the large ones the naive path's line is about as
# steep as the dashed one, or steeper once its score matrices no longer fit in the caches,
# and the fused path's line is flatter.

# %% mystnb={"figure": {"caption": "Measured time of naive and fused attention (one sequence, 4 heads of size 64) against the sequence length, on logarithmic axes. The dashed line grows like the square of the length.", "name": "fig-attention_cost-time"}}
quadratic = [seconds["naive"][-1] * (n / timed_lengths[-1]) ** 2 for n in timed_lengths]
ax = d2lite.plot(timed_lengths, [seconds["naive"], seconds["fused"], quadratic],
                 "sequence length n", "seconds per call",
                 legend=["naive", "fused", "∝ n²"], xscale="log", yscale="log",
                 fmts=["o-", "s-", "k--"], figsize=(5, 3.5))
ax.set_xticks(timed_lengths, [str(n) for n in timed_lengths])
ax.minorticks_off()
plt.show()

# %% [markdown]
# To measure the ratio more carefully (more repeats, longer sequences, your GPU), run
# `python benchmarks/attention_fused.py` (add `--device cuda` on a GPU); it prints naive /
# fused at a few lengths and, last, `ratio=` at the longest.
#
# ## When a smaller model is the better choice
#
# The notes end the section with advice: attention costs a lot, in compute and in the data it
# needs to fit its many parameters, and for a small data set or a simple task a recurrent
# network can be the better choice; their bidirectional GRU already classified the sentiment
# of reviews with about 95 % accuracy. Count what that advice saves.
#
# A rule makes the counting easy: in a forward pass every weight of a matrix product is used
# once per token in a multiply-add, so a layer costs 2 FLOPs per weight per token. Attention
# adds equation (1) on top, $4n^2d$ per layer ($4nd$ per token, whatever the number of heads,
# since the heads split $d$). Check the rule on a bidirectional GRU of hidden size 128 and a
# 20-token sentence, the length of a typical review sentence, with `FlopCounterMode`:

# %%
gru = nn.GRU(128, 128, batch_first=True, bidirectional=True)
gru_weights = sum(p.numel() for name, p in gru.named_parameters() if "weight" in name)
with torch.no_grad(), FlopCounterMode(display=False) as counter:
    gru(torch.randn(1, 20, 128))                                 # one 20-token sentence
gru_flops = counter.get_total_flops()
print(f"GRU: {gru_weights:,} weights, {gru_flops / 1e6:.2f} MFLOP per sentence")
assert gru_flops == 2 * gru_weights * 20, f"{gru_flops} != 2 x weights x tokens"

# %% [markdown]
# The rule holds exactly. Now the large model: an encoder the size of BERT-base (chapter 7),
# 12 layers of width $d = 768$ with 12 heads and a feed-forward layer of 3,072. Build one
# layer with PyTorch's `nn.TransformerEncoderLayer`, count its weights and multiply by 12.

# %%
layer = nn.TransformerEncoderLayer(768, nhead=12, dim_feedforward=3072,
                                   batch_first=True)
layer_weights = sum(p.numel() for name, p in layer.named_parameters()
                    if "weight" in name and "norm" not in name)   # matrix weights only
big_params = 12 * sum(p.numel() for p in layer.parameters())
gru_params = sum(p.numel() for p in gru.parameters())

def encoder_flops(n, layers=12, d=768):
    """Forward FLOPs of the encoder for one n-token sequence: weights + attention."""
    return layers * (2 * layer_weights * n + 4 * n**2 * d)

for n in (20, 512):
    share = 4 * n**2 * 768 / (encoder_flops(n) / 12)
    print(f"n = {n:3d}: {encoder_flops(n) / 1e9:6.2f} GFLOP, attention scores "
          f"{share:.1%} of it")
print(f"parameters: encoder {big_params / 1e6:.1f} M, GRU {gru_params / 1e3:.0f} k")

# %% [markdown]
# On 20-token sentences the big encoder costs over 400 times the GRU's FLOPs per sentence and
# has over 400 times its parameters, and the quadratic attention term is under 1 % of its
# work; even at BERT's longest input, 512 tokens, it is about a tenth. For short sentences,
# what you pay for is the model's size, not the $n^2$. The quadratic term dominates only when
# $4nd$ exceeds the $2 \times 12d^2$ FLOPs per token of the layer's weights, that is for
# $n > 6d$: beyond 4,608 tokens for $d = 768$.

# %%
ratio = encoder_flops(20) / gru_flops
assert ratio > 400 and big_params > 400 * gru_params, f"{ratio:.0f}, {big_params}"
assert 4 * 20**2 * 768 < 0.01 * encoder_flops(20) / 12, "attention share at n = 20"
assert 0.05 < 4 * 512**2 * 768 / (encoder_flops(512) / 12) < 0.15, "share at n = 512"
per_token = [4 * n * 768 / (2 * layer_weights) for n in (6 * 768 - 1, 6 * 768 + 1)]
assert per_token[0] < 1 < per_token[1], f"attention = weights at n = 6d: {per_token}"

# %% [markdown]
# Turn the counts into a training budget: a backward pass costs about twice the forward
# pass, so one epoch over 10,000 sentences of 20 tokens costs about $3 \times 10^4$ forward
# passes. For the GRU that is about 0.24 TFLOP, for the BERT-sized encoder about 100 TFLOP.
# On a laptop CPU that sustains 50 GFLOP/s (measure yours in
# [the performance appendix](../08_appendix/gpus_and_performance.ipynb)), that is a few
# seconds per epoch against more than half an hour. And 85 million parameters fitted from scratch to 10,000 labelled sentences would
# mostly memorise them. That is why large Transformers are *pretrained* on huge amounts of
# unlabelled text first (chapter 7) and only then fine-tuned.
#
# So the answer to the notes' question is the book's usual one: when the data are few, the
# task is simple or the compute is limited, try the small model first; choose on a
# validation split, not on reputation. Attention earns its cost on long-range structure and
# on large data, and on a GPU its $n^2$ is parallel work, where an RNN must take its $n$
# steps one after another.

# %%
epoch = {name: 3 * 10_000 * flops_per_sentence for name, flops_per_sentence
         in (("GRU", gru_flops), ("encoder", encoder_flops(20)))}
budget = {name: f / 50e9 for name, f in epoch.items()}           # seconds at 50 GFLOP/s
for name in epoch:
    print(f"{name:7s}: {epoch[name] / 1e12:6.2f} TFLOP per epoch, "
          f"{budget[name]:6.0f} s at 50 GFLOP/s")
assert 0.2e12 < epoch["GRU"] < 0.3e12 and 0.9e14 < epoch["encoder"] < 1.1e14, f"{epoch}"
assert budget["GRU"] < 10 and budget["encoder"] > 1800, f"{budget}"

# %% [markdown]
# ## Summary
#
# - Attention scores every query against every key: $4n^2d$ FLOPs and an $n \times n$ score
#   matrix ($4n^2$ bytes in float32) per head. Counted with `FlopCounterMode` and a memory
#   meter, both quadruple exactly when $n$ doubles, and the naive path holds at least two
#   score matrices at once.
# - A fused kernel such as FlashAttention computes the same result block by block with an
#   online softmax (a running maximum and sum), so it never stores the score matrix: its
#   memory grows like $n$, and it saves the memory traffic that slows the naive path.
#   `F.scaled_dot_product_attention` uses one when it can; it agrees with the naive path to
#   $10^{-5}$ without a mask, with a padding mask and with `is_causal=True`.
# - Pass padding as a broadcastable (batch, 1, 1, $n$) mask and causality as
#   `is_causal=True`, not as full $n \times n$ masks.
# - Measured times are shown, never checked: they depend on the machine and its load.
# - For short sequences a model's cost is about 2 FLOPs per weight per token, and the
#   quadratic term matters only beyond $n \approx 6d$. A BERT-sized encoder costs over 400
#   times a small bidirectional GRU on 20-token sentences; with little data or compute, try
#   the small model first and choose on validation.

# %% [markdown]
# ## Exercises
#
# 1. Measure `tiled_attention` with the memory meter at $n = 1024$ and $2048$. How large is
#    its largest tensor, and how does it grow with $n$?

# %% tags=["hide-cell"]
# A solution: the largest tensor is one block of scores, (heads, n, block): linear in n.
tiled_largest = []
for n in (1024, 2048):
    Q, K, V = torch.randn(3, heads, n, d)
    tiled_largest.append(measure(tiled_attention, Q, K, V, block=128)[1])
print(f"largest tensor: {tiled_largest[0] / 2**20:.2f} MB at n = 1024, "
      f"{tiled_largest[1] / 2**20:.2f} MB at n = 2048")
assert tiled_largest == [heads * n * 128 * 4 for n in (1024, 2048)], tiled_largest

# %% [markdown]
# 2. Instead of the (batch, 1, 1, $n$) padding mask, pass the same mask expanded to its full
#    shape (batch, heads, $n$, $n$). How much memory does the mask itself take, and what is
#    the largest tensor the fused path now creates?

# %% tags=["hide-cell"]
# A solution: the full boolean mask is B h n^2 bytes, and PyTorch turns it into a float
# mask of the same shape (0 or -inf), 4 B h n^2 bytes: quadratic memory again.
n = 2048
Q, K, V = torch.randn(3, B, heads, n, d)                         # each (B, heads, n, d)
lens = torch.tensor([n, n // 2])
small_mask = torch.arange(n) < lens[:, None, None, None]         # (B, 1, 1, n)
full_mask = small_mask.expand(B, heads, n, n).contiguous()       # (B, heads, n, n)
small = measure(F.scaled_dot_product_attention, Q, K, V, attn_mask=small_mask)[1]
full = measure(F.scaled_dot_product_attention, Q, K, V, attn_mask=full_mask)[1]
print(f"mask {full_mask.nbytes / 2**20:.0f} MB; largest tensor: broadcast mask "
      f"{small / 2**20:.1f} MB, full mask {full / 2**20:.0f} MB")
assert full >= 4 * B * heads * n**2 > 10 * small, (small, full)

# %% [markdown]
# 3. The notes say that an RNN cannot use a GPU well because it must process one token after
#    another. Time `gru` and one `nn.TransformerEncoderLayer(128, 4, 512)` on a batch of 32
#    sequences of 20 and of 500 tokens, on the CPU and (if you have one) on a GPU. Which is
#    faster where, and does it match the FLOP counts?
# 4. Your GPU has 16 GB. In float16, at which length $n$ do the score matrices of one layer
#    with 12 heads for a batch of 32 alone fill it? What does a fused kernel need instead?
