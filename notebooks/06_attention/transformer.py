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
# # The Transformer
#
# The **[Transformer](../../book/glossary.md#term-transformer)** (Transformer 模型) of
# [Vaswani et al., 2017](../../book/references.md) is an encoder–decoder built from attention
# alone: no recurrence, no convolution. In this lesson you build it block by block, the way
# the source notes walk through it: embeddings, positional encoding, the encoder block, layer
# normalisation, the decoder's masked self-attention and cross-attention, the final linear
# layer. Then you train it on the English–French pairs of
# [the seq2seq lesson](../05_rnn/seq2seq.ipynb) and look at where its decoder looks.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import collections
import functools
import math
import matplotlib.pyplot as plt
from torch import nn
from torch.nn import functional as F
from d2lite import models
from d2lite.models import MultiHeadAttention, PositionalEncoding
from d2lite.text import Vocab, bleu

# %% [markdown]
# ## The plan
#
# A Transformer is a [sequence-to-sequence](../05_rnn/seq2seq.ipynb) model: a row of vectors
# in, a row of vectors out, and the decoder decides how many. The encoder turns the source
# sentence into one vector per token, each of which has looked at the whole sentence through
# [self-attention](multihead_self_attention.ipynb). The decoder writes the translation one
# token at a time; at each step it looks at what it has written so far (masked
# self-attention) and at the encoder's vectors (cross-attention), and a linear layer turns its
# last vector into scores over the target vocabulary.
#
# Both halves are stacks of identical **blocks**; the paper stacks 6 of each, this lesson 2.
# Every block keeps the shape of its input, `(batch, steps, d)`, which is what makes stacking
# them, and adding each block's input to its output, possible. The sections follow the data
# through the model in the order of the source notes' steps; once the whole model is built,
# [Figure 2](#fig-transformer-architecture) draws it with its shapes.
#
# ## The data
#
# The same 600 English–French pairs and the same split as in
# [the seq2seq lesson](../05_rnn/seq2seq.ipynb): by English sentence, 15 % of the sentences for
# the test split and 15 % of the rest for validation, while the four example sentences stay in
# training. The vocabularies come from the training pairs; `d2lite.text.pad_sequences` appends
# `<eos>` and pads to `num_steps` tokens.

# %%
source, target = d2lite.data.load_fra_eng(num_examples=600, verbose=False)
examples = {"go .": "va !", "i lost .": "j'ai perdu .", "he's calm .": "il est calme .",
            "i'm home .": "je suis chez moi ."}
pairs = d2lite.data.split_by_source(list(zip(source, target, strict=True)),
                                    keep_in_train=examples)
print({name: len(p) for name, p in pairs.items()}, "pairs")

# %%
reserved = ["<pad>", "<bos>", "<eos>"]
src_vocab = Vocab([s for s, _ in pairs["train"]], reserved_tokens=reserved)
tgt_vocab = Vocab([t for _, t in pairs["train"]], reserved_tokens=reserved)
num_steps = 8
X, X_valid_lens = d2lite.text.pad_sequences([["i", "lost", "."], ["go", "."]],
                                            src_vocab, num_steps)
print(f"{len(src_vocab)} English, {len(tgt_vocab)} French tokens; X {tuple(X.shape)}, "
      f"valid lengths {X_valid_lens.tolist()}")

# %% [markdown]
# ## Steps 1 and 2: embedding and positional encoding
#
# An embedding is a lookup table: token $i$ gets row $i$ of a learned matrix, a vector of
# $d$ numbers. Self-attention ignores order, so the
# [positional encoding](multihead_self_attention.ipynb) of each position is added to it: sines
# on the even columns, cosines on the odd ones.
#
# One detail from the paper: the embedding is multiplied by $\sqrt{d}$ before the positions are
# added. The paper shares the embedding matrix with the output layer, whose weights start at
# the scale of a linear layer's, about $1/\sqrt{d}$ per entry. Times $\sqrt{d}$, the token
# vectors enter with entries of about 1, the scale of the positional encoding's entries
# (sines and cosines, root mean square $1/\sqrt{2}$). The lesson initialises its embeddings at
# $N(0, 1/d)$ to match, and the cell checks the two scales.

# %%
d = 64
d2lite.seed_everything(0)
embedding = nn.Embedding(len(src_vocab), d)
nn.init.normal_(embedding.weight, std=d ** -0.5)
position = PositionalEncoding(d, dropout=0.0)
tokens = embedding(X) * math.sqrt(d)                         # (2, 8, 64)
H = position(tokens)                                         # (2, 8, 64)
rms = lambda t: t.pow(2).mean().sqrt().item()
print(f"rms: raw embedding {rms(embedding.weight):.3f}, scaled {rms(tokens):.3f}, "
      f"positional encoding {rms(position.P[0, :num_steps]):.3f}")
assert 0.8 < rms(tokens) < 1.2
assert abs(rms(position.P[0, :num_steps]) - 0.5 ** 0.5) < 0.01

# %% [markdown]
# ## Step 3: the encoder block
#
# An encoder block has two sublayers, each wrapped in the same way.
#
# The first is multi-head self-attention, the `MultiHeadAttention` of
# [the previous lesson](multihead_self_attention.ipynb), here with biases in its projections
# (the paper's $W^Q$, $W^K$, $W^V$ and $W^O$ have none; PyTorch's `nn.TransformerEncoderLayer`,
# which the next cells compare against, has them): every token's query meets every token's key,
# padding masked by the valid lengths.
#
# The second is the **[position-wise feed-forward network](../../book/glossary.md#term-position-wise-feed-forward-network)**
# (基于位置的前馈网络): an MLP with one hidden layer, usually 4 times wider than $d$, applied to
# each position's vector separately, the same weights at every position. Attention mixes
# information across positions; the FFN transforms each position on its own.

# %%
class PositionWiseFFN(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens):
        super().__init__()
        self.dense1 = nn.Linear(num_hiddens, ffn_num_hiddens)
        self.dense2 = nn.Linear(ffn_num_hiddens, num_hiddens)

    def forward(self, X):                          # (batch, steps, d) -> same shape
        return self.dense2(F.relu(self.dense1(X)))


ffn = PositionWiseFFN(d, 4 * d)
gap = (ffn(H)[:, 5] - ffn(H[:, 5:6])[:, 0]).abs().max().item()
print(f"position 5 alone vs in the sequence: gap {gap:.1e}")
assert gap < 1e-6

# %% [markdown]
# ### Add & norm, and why layer normalisation
#
# Each sublayer's output is added to its input, a residual connection as in
# [ResNet](../04_cnn/resnet.ipynb), so a block starts close to the identity and gradients
# flow straight through the stack. Then the sum is normalised. The Transformer uses
# **[layer normalisation](../../book/glossary.md#term-layer-normalisation)** (层规范化,
# [Ba et al., 2016](../../book/references.md)), not the
# [batch normalisation](../04_cnn/batch_norm.ipynb) of CNNs. The source notes put the
# difference in one line: layer normalisation standardises each token's vector by its own
# mean and standard deviation (a z-score over its $d$ features), while batch normalisation
# standardises each feature over all the tokens of the minibatch.
#
# A small batch shows what that means: two "sentences" of three tokens with four features,
# the second one's last token padding. Compute both by hand and compare them with torch's.

# %%
d2lite.seed_everything(1)
B = torch.randn(2, 3, 4) * 3 + 1                             # (batch, steps, features)
ln = nn.LayerNorm(4, elementwise_affine=False)
bn = nn.BatchNorm1d(4, affine=False)                         # wants (N, features)
z = lambda t, dim: (t - t.mean(dim, keepdim=True)) / (
    t.var(dim, unbiased=False, keepdim=True) + 1e-5).sqrt()
ln_out, bn_out = ln(B), bn(B.reshape(6, 4)).reshape(2, 3, 4)
print("layer norm, token means:", ln_out.mean(-1).round(decimals=4).tolist())
print("batch norm, feature means:", bn_out.mean((0, 1)).round(decimals=4).tolist())
assert torch.allclose(ln_out, z(B, -1), atol=1e-5)                       # per token
assert torch.allclose(bn_out, z(B.reshape(6, 4), 0).reshape(2, 3, 4), atol=1e-5)

# %% [markdown]
# Now change only the second sentence's padding token and normalise again. Layer normalisation
# of the first sentence is untouched, since it never looks beyond one token. Batch
# normalisation of the first sentence changes: its statistics come from the whole batch,
# padding included. In a Transformer, sentences of every length share minibatches, and at
# translation time the batch may hold one sentence; a normalisation that depends on the other
# sentences, or on padding, would be a poor fit.

# %%
B2 = B.clone()
B2[1, 2] = torch.randn(4) * 10                               # new junk in the padding
ln_gap = (ln(B2)[0] - ln_out[0]).abs().max().item()
bn_gap = (bn(B2.reshape(6, 4)).reshape(2, 3, 4)[0] - bn_out[0]).abs().max().item()
print(f"sentence 0 after changing sentence 1's padding: layer norm moves {ln_gap:.1e}, "
      f"batch norm moves {bn_gap:.2f}")
assert ln_gap == 0.0 and bn_gap > 0.1

# %% [markdown]
# So the "add & norm" step is `LayerNorm(X + dropout(sublayer(X)))`: dropout on the
# sublayer's output, the residual sum, then layer normalisation with a learned scale and shift.
# This is the paper's order, "post-norm"; many later models normalise before the sublayer
# instead (exercise 3).

# %%
class AddNorm(nn.Module):
    def __init__(self, num_hiddens, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(num_hiddens)

    def forward(self, X, Y):                       # X: input, Y: the sublayer's output
        return self.ln(X + self.dropout(Y))


# %% [markdown]
# The encoder block puts the pieces together: self-attention, add & norm, FFN, add & norm.

# %%
class EncoderBlock(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, bias=True)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)

    def forward(self, X, valid_lens):              # (batch, steps, d) -> same shape
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


# %% [markdown]
# Two checks. `d2lite.models.TransformerEncoderBlock`, loaded with the block's weights, must
# give the same outputs; so must PyTorch's `nn.TransformerEncoderLayer`, post-norm with ReLU,
# once its weights are copied over (its attention keeps $\mathbf{W}_q, \mathbf{W}_k,
# \mathbf{W}_v$ stacked in one matrix, and it marks padded keys with `True`).

# %%
block = EncoderBlock(d, 4 * d, num_heads=4, dropout=0.0).eval()
package_block = models.TransformerEncoderBlock(d, 4 * d, num_heads=4, dropout=0.0)
package_block.load_state_dict(block.state_dict())
torch_block = nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.0, batch_first=True)
attention = block.attention
with torch.no_grad():
    torch_block.self_attn.in_proj_weight.copy_(torch.cat(
        [attention.W_q.weight, attention.W_k.weight, attention.W_v.weight]))
    torch_block.self_attn.in_proj_bias.copy_(torch.cat(
        [attention.W_q.bias, attention.W_k.bias, attention.W_v.bias]))
torch_block.self_attn.out_proj.load_state_dict(attention.W_o.state_dict())
for ours, theirs in [(block.ffn.dense1, torch_block.linear1),
                     (block.ffn.dense2, torch_block.linear2),
                     (block.addnorm1.ln, torch_block.norm1),
                     (block.addnorm2.ln, torch_block.norm2)]:
    theirs.load_state_dict(ours.state_dict())

# %%
padding = torch.arange(num_steps)[None, :] >= X_valid_lens[:, None]   # (2, 8): pad
with torch.no_grad():
    out = block(H, X_valid_lens)                                       # (2, 8, 64)
    theirs = torch_block.eval()(H, src_key_padding_mask=padding)
    gaps = [(package_block.eval()(H, X_valid_lens) - out).abs().max().item(),
            (theirs - out).abs().max().item()]
print(f"max gap to d2lite's block {gaps[0]:.1e}, to nn.TransformerEncoderLayer "
      f"{gaps[1]:.1e}")
assert out.shape == H.shape and max(gaps) < 1e-5

# %% [markdown]
# ## The encoder
#
# The encoder is the embedding, scaled by $\sqrt{d}$, plus positions, then the blocks. Its
# output has one $d$-vector per source token; the decoder will read all of them.

# %%
class TransformerEncoder(models.Encoder):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_layers,
                 dropout):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        nn.init.normal_(self.embedding.weight, std=num_hiddens ** -0.5)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout)
        self.blocks = nn.ModuleList([
            EncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout)
            for _ in range(num_layers)])

    def forward(self, X, valid_lens):              # (batch, steps) -> (batch, steps, d)
        H = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        for block in self.blocks:
            H = block(H, valid_lens)
        return H


# %% [markdown]
# ## Steps 5 and 6: the decoder block
#
# The source notes tell decoding as a story. Say the encoder has read "je suis chez moi ."
# and the decoder is to write English. It first gets only a start token, `<bos>`, and
# produces one vector, from which a linear layer picks the first word, "i". Then it gets
# `<bos> i` and produces two vectors; only the last one matters, and it picks "am". And so on
# until it picks `<eos>`. The decoder is **autoregressive**: each output becomes the next
# input.
#
# A decoder block has three sublayers, each with add & norm:
#
# 1. **Masked self-attention** over the target tokens. When the decoder computes position
#    $t$, the tokens after $t$ do not exist yet, so position $t$ may attend only to positions
#    $0, \dots, t$. This restriction is the
#    **[causal mask](../../book/glossary.md#term-causal-mask)** (因果掩码). With the
#    [masked softmax](attention_scoring.ipynb) it is just a valid length per query: query $t$
#    has valid length $t + 1$.
# 2. **[Cross-attention](../../book/glossary.md#term-cross-attention)** (交叉注意力): the
#    queries come from the decoder, the keys and values are the encoder's outputs, masked by
#    the source's valid lengths. This is where the decoder reads the source; the source notes
#    point out that it is not self-attention, since the keys and values come from the other
#    sentence.
# 3. The position-wise FFN.
#
# The valid lengths of the causal mask, for a target of 5 tokens, and the weights they allow:

# %%
causal = torch.arange(1, 6).repeat(2, 1)                # (batch, 5): query t sees t + 1
print("valid lengths per query:", causal[0].tolist())
weights = models.masked_softmax(torch.zeros(2, 5, 5), causal)  # all scores equal
print(weights[0].round(decimals=2))
assert torch.equal(weights[0].triu(1), torch.zeros(5, 5))   # nothing above the diagonal

# %% [markdown]
# [Figure 1](#fig-transformer-masks) draws both masks for the first example sentence: a lower
# triangle for masked self-attention, and for cross-attention every real source token, the
# padding left out.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "What each decoder query may attend to (filled cells). Masked self-attention: the target token at position t sees positions 0 to t, a lower triangle. Cross-attention: every target position sees the source's real tokens, and none of its padding.", "name": "fig-transformer-masks"}}
d2lite.diagrams.decoder_attention(src_vocab.to_tokens(X[0]), X_valid_lens[0])

# %% [markdown]
# While decoding, one token at a time, the block would recompute every earlier position at
# every step. Instead it keeps a **key–value cache**: the keys and values its self-attention
# projected at the earlier positions, per head (`project_kv` applies $\mathbf{W}_k$ and
# $\mathbf{W}_v$ and splits the heads), and the cross-attention's keys and values of the
# source, projected once on the first call. A new token projects only its own key and value,
# appends them, and its query attends to everything cached (`attend` is the rest of
# `MultiHeadAttention.forward`). During training all target positions arrive in one call and
# the cache starts empty; the valid lengths then do the masking. Both cases are one code path:
# `past` earlier positions, queries at positions `past`, `past + 1`, ...

# %%
class DecoderBlock(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
        super().__init__()
        self.attention1 = MultiHeadAttention(num_hiddens, num_heads, dropout, bias=True)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.attention2 = MultiHeadAttention(num_hiddens, num_heads, dropout, bias=True)
        self.addnorm2 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens)
        self.addnorm3 = AddNorm(num_hiddens, dropout)

    def forward(self, X, enc_outputs, enc_valid_lens, cache=None):
        K, V = self.attention1.project_kv(X, X)              # the new positions only
        if cache is None:                        # the first call: the source, once
            enc_K, enc_V = self.attention2.project_kv(enc_outputs, enc_outputs)
        else:
            K, V = torch.cat([cache[0], K], dim=1), torch.cat([cache[1], V], dim=1)
            enc_K, enc_V = cache[2], cache[3]
        past = K.shape[1] - X.shape[1]
        lens = torch.arange(past + 1, past + X.shape[1] + 1, device=X.device)
        causal = lens.repeat(X.shape[0], 1)                  # (batch, steps)
        Y = self.addnorm1(X, self.attention1.attend(X, K, V, causal))
        Z = self.addnorm2(Y, self.attention2.attend(Y, enc_K, enc_V, enc_valid_lens))
        return self.addnorm3(Z, self.ffn(Z)), (K, V, enc_K, enc_V)  # output, new cache


# %% [markdown]
# The same two checks as for the encoder block: against `d2lite.models.TransformerDecoderBlock`
# with the same weights, and against `nn.TransformerDecoderLayer` with a causal `tgt_mask`
# (`-inf` above the diagonal) and the source's padding mask. The decoder's input here is a
# random $(2, 5, d)$ tensor; the "encoder outputs" are the block output `out` from above.

# %%
d2lite.seed_everything(2)
dec_block = DecoderBlock(d, 4 * d, num_heads=4, dropout=0.0).eval()
package_dec = models.TransformerDecoderBlock(d, 4 * d, num_heads=4, dropout=0.0).eval()
package_dec.load_state_dict(dec_block.state_dict())
torch_dec = nn.TransformerDecoderLayer(d, 4, 4 * d, dropout=0.0, batch_first=True)
for ours, theirs in [(dec_block.attention1, torch_dec.self_attn),
                     (dec_block.attention2, torch_dec.multihead_attn)]:
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight,
                                               ours.W_v.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.W_q.bias, ours.W_k.bias,
                                             ours.W_v.bias]))
    theirs.out_proj.load_state_dict(ours.W_o.state_dict())
torch_dec.linear1.load_state_dict(dec_block.ffn.dense1.state_dict())
torch_dec.linear2.load_state_dict(dec_block.ffn.dense2.state_dict())
for i in (1, 2, 3):
    getattr(torch_dec, f"norm{i}").load_state_dict(getattr(dec_block, f"addnorm{i}").ln
                                                   .state_dict())

# %%
T = torch.randn(2, 5, d)                                      # (batch, target steps, d)
tgt_mask = nn.Transformer.generate_square_subsequent_mask(5)  # (5, 5), -inf = blocked
with torch.no_grad():
    dec_out, cache = dec_block(T, out, X_valid_lens)          # (2, 5, 64)
    gaps = [(package_dec(T, out, X_valid_lens)[0] - dec_out).abs().max().item(),
            (torch_dec(T, out, tgt_mask=tgt_mask, memory_key_padding_mask=padding)
             - dec_out).abs().max().item()]
print(f"max gap to d2lite's block {gaps[0]:.1e}, to nn.TransformerDecoderLayer "
      f"{gaps[1]:.1e}")
K, V, enc_K, enc_V = cache              # keys: (batch * heads, positions, d / heads)
assert max(gaps) < 1e-5 and K.shape == (2 * 4, 5, d // 4)
assert enc_K.shape == (2 * 4, out.shape[1], d // 4)

# %% [markdown]
# ## Step 7: the decoder and the final linear layer
#
# The decoder embeds the target tokens (scaled by $\sqrt{d}$ again) and adds positional
# encodings. With a cache, a token fed alone is not at position 0: its position is the number
# of tokens before it, the length of the cached keys. Then come the blocks, each with its own
# cache, and the final linear layer: a classifier with one output per target token, whose
# softmax would give the probabilities of the next word. The state that travels from call to
# call, as in the [encoder–decoder interface](../05_rnn/seq2seq.ipynb), holds the encoder's
# outputs, the source's valid lengths and the caches.

# %%
class TransformerDecoder(models.Decoder):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_layers,
                 dropout):
        super().__init__()
        self.num_hiddens, self.num_layers = num_hiddens, num_layers
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        nn.init.normal_(self.embedding.weight, std=num_hiddens ** -0.5)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout)
        self.blocks = nn.ModuleList([
            DecoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout)
            for _ in range(num_layers)])
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens):
        return enc_outputs, enc_valid_lens, [None] * self.num_layers

    def forward(self, Y, state):                   # Y: (batch, steps) -> logits
        enc_outputs, enc_valid_lens, caches = state
        past = 0 if caches[0] is None else caches[0][0].shape[1]  # cached positions
        H = self.embedding(Y) * math.sqrt(self.num_hiddens)  # (batch, steps, d)
        P = self.pos_encoding.P[:, past:past + Y.shape[1]]   # positions past, past+1...
        H = self.pos_encoding.dropout(H + P)
        new_caches = []
        for block, cache in zip(self.blocks, caches, strict=True):
            H, cache = block(H, enc_outputs, enc_valid_lens, cache)
            new_caches.append(cache)
        return self.dense(H), (enc_outputs, enc_valid_lens, new_caches)


# %% [markdown]
# The whole model, with the sizes trained below: $d = 64$, 4 heads, an FFN of width 128,
# 2 blocks on each side, dropout 0.1. Loaded into `d2lite.models`' encoder and decoder, the
# same weights must give the same scores.

# %%
def make_net(seed=0, dropout=0.1):
    d2lite.seed_everything(seed)
    return models.EncoderDecoder(
        TransformerEncoder(len(src_vocab), 64, 128, 4, num_layers=2, dropout=dropout),
        TransformerDecoder(len(tgt_vocab), 64, 128, 4, num_layers=2, dropout=dropout))


net = make_net().eval()
package_net = models.EncoderDecoder(
    models.TransformerEncoder(len(src_vocab), 64, 128, 4, num_layers=2, dropout=0.1),
    models.TransformerDecoder(len(tgt_vocab), 64, 128, 4, num_layers=2, dropout=0.1))
package_net.load_state_dict(net.state_dict())
Y, _ = d2lite.text.pad_sequences([["j'ai", "perdu", "."], ["va", "!"]], tgt_vocab,
                                 num_steps)
Y_in = d2lite.text.shift_right(Y, tgt_vocab["<bos>"])         # <bos>, then the labels
logits = net(X, Y_in, X_valid_lens)                           # (2, 8, vocab)
gap = (package_net.eval()(X, Y_in, X_valid_lens) - logits).abs().max().item()
n_params = sum(p.numel() for p in net.parameters())
print(f"logits {tuple(logits.shape)}, {n_params:,} parameters, "
      f"gap to d2lite's {gap:.1e}")
assert logits.shape == (2, num_steps, len(tgt_vocab)) and gap < 1e-5

# %% [markdown]
# [Figure 2](#fig-transformer-architecture) draws this model, with the shapes of a forward pass
# for one source and one target of `num_steps` tokens.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The lesson's Transformer: the encoder stack (left) and the decoder stack (right), each block framed with its number of copies, the residual connections drawn beside the sublayers. The encoder's output is the keys and values of every decoder block's cross-attention (red). Shapes from a forward pass.", "name": "fig-transformer-architecture"}}
d2lite.diagrams.transformer_architecture(net, src_len=num_steps, tgt_len=num_steps)

# %% [markdown]
# ### The causal mask at work
#
# If the mask works, the decoder's output at position $t$ depends on its inputs up to $t$
# only. Change the input token at $t + 1$, for every $t$, and compare: the scores at positions
# $0, \dots, t$ must not move at all, those at $t + 1$ must.

# %%
with torch.no_grad():
    for t in range(num_steps - 1):
        changed = Y_in.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % len(tgt_vocab)
        new = net(X, changed, X_valid_lens)
        assert torch.equal(new[:, :t + 1], logits[:, :t + 1]), f"position {t} moved"
        assert (new[:, t + 1] - logits[:, t + 1]).abs().max() > 1e-3, t
print("the future never changes the past")

# %% [markdown]
# ## Teacher forcing and decoding
#
# The source notes raise the obvious objection: the Transformer's selling point is
# parallelism, yet the decoder writes one word at a time, like an RNN. The answer is that
# one-word-at-a-time is for translating only. In training, the correct target is known, so
# the decoder's input is the target shifted right, `<bos> j'ai perdu .`, whatever the decoder
# would have written: [teacher forcing](../05_rnn/seq2seq.ipynb), all positions in one call.
# The causal mask is what makes that honest: position $t$ cannot peek at the word it is
# asked to predict.
#
# Teacher forcing and step-by-step decoding with the cache must therefore compute the same
# scores. Feed the same 8 input tokens one at a time, carrying the state:

# %%
with torch.no_grad():
    state = net.decoder.init_state(net.encoder(X, X_valid_lens), X_valid_lens)
    steps = []
    for t in range(num_steps):
        step_logits, state = net.decoder(Y_in[:, t:t + 1], state)  # (2, 1, vocab)
        steps.append(step_logits)
gap = (torch.cat(steps, dim=1) - logits).abs().max().item()
print(f"one call vs {num_steps} steps: max gap {gap:.1e}; cached keys "
      f"{tuple(state[2][0][0].shape)} per block")
assert gap < 1e-5

# %% [markdown]
# The cache is why a decoder is fast at generating text. Without it, step $t$ would have to
# run the whole prefix of $t$ tokens through every block again, projections, attention and
# feed-forward layers included; with it, step $t$ runs one token through the blocks, and only
# its attention reads the $t$ cached keys and values. Count the floating-point operations of
# both ways of decoding the same tokens:

# %%
from torch.utils.flop_counter import FlopCounterMode

with torch.no_grad():
    enc_outputs = net.encoder(X, X_valid_lens)
    cached_mode = FlopCounterMode(display=False)
    uncached_mode = FlopCounterMode(display=False)
    with cached_mode:
        state = net.decoder.init_state(enc_outputs, X_valid_lens)
        for t in range(num_steps):
            _, state = net.decoder(Y_in[:, t:t + 1], state)
    with uncached_mode:
        for t in range(num_steps):                       # the whole prefix, every step
            fresh = net.decoder.init_state(enc_outputs, X_valid_lens)
            net.decoder(Y_in[:, :t + 1], fresh)
flops = {"cached": cached_mode.get_total_flops(),
         "uncached": uncached_mode.get_total_flops()}
print({k: f"{v:,d}" for k, v in flops.items()},
      f"ratio {flops['uncached'] / flops['cached']:.1f}")
assert flops["uncached"] > 2 * flops["cached"]

# %% [markdown]
# So the [greedy search](../05_rnn/seq2seq.ipynb) of `d2lite.models.greedy_decode`, which
# feeds the decoder one token at a time, works unchanged with this decoder.
#
# ## Training
#
# The minibatches and the masked loss are those of the seq2seq lesson. Where this departs from
# the paper ([Vaswani et al., 2017](../../book/references.md)): it trained with label
# smoothing (the targets keep 0.1 of their probability for the other words) and a learning
# rate that warms up over 4,000 steps before it decays, which its post-norm blocks need to
# train stably at that depth and scale; this small model trains without either. Adam with
# gradient clipping trains for 30 epochs, on one thread: the matrices are so small that a
# second CPU thread only waits. The learning rate is chosen on the validation split: two
# candidates, 0.002 and 0.005, each train a network from the same seed, and the one with the
# higher validation BLEU (best over each sentence's labels, $k = 2$, as in the seq2seq lesson)
# is kept.

# %%
def translate(net, sentence):
    return models.greedy_decode(net, sentence, src_vocab, tgt_vocab, num_steps)[0]


def split_bleu(net, name):
    """Mean over the English sentences of a split: the best BLEU over the labels."""
    labels = collections.defaultdict(list)
    for src, tgt in pairs[name]:
        labels[" ".join(src)].append(" ".join(tgt))
    scores = [max(bleu(translate(net, s), label.split(), k=2) for label in ls)
              for s, ls in labels.items()]
    return sum(scores) / len(scores)


# %%
def minibatches(name, batch_size, seed=None):
    X, X_valid_lens = d2lite.text.pad_sequences([s for s, _ in pairs[name]], src_vocab,
                                                num_steps)
    Y, _ = d2lite.text.pad_sequences([t for _, t in pairs[name]], tgt_vocab, num_steps)
    Y_in = d2lite.text.shift_right(Y, tgt_vocab["<bos>"])
    return d2lite.data.batches((X, Y_in, X_valid_lens), Y, batch_size, seed=seed)


loss_fn = functools.partial(models.masked_cross_entropy, pad_id=tgt_vocab["<pad>"])
train_data, val_data = minibatches("train", 64, seed=0), minibatches("val", 256)

def train(lr, epochs=30, seed=0):
    net = make_net(seed=seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)    # tiny matrices: on a CPU, a second thread only waits
    try:
        history = d2lite.fit(
            net, train_data, loss_fn=loss_fn, val_data=val_data, epochs=epochs,
            optimizer=torch.optim.Adam(net.parameters(), lr=lr), grad_clip=1.0,
            device=d2lite.try_gpu())
    finally:
        torch.set_num_threads(threads)
    return net, history, split_bleu(net, "val")


# %%
runs = {lr: train(lr) for lr in (0.002, 0.005)}
for lr, (_, history, val_bleu) in runs.items():
    print(f"lr {lr}: training loss {history['train_loss'][0]:.2f} -> "
          f"{history['train_loss'][-1]:.2f}, validation BLEU {val_bleu:.3f}")
best_lr = max(runs, key=lambda lr: runs[lr][2])
net, history, _ = runs[best_lr]
print("chosen learning rate:", best_lr)
d2lite.record("best_lr", best_lr)

# %% [markdown]
# [Figure 3](#fig-transformer-loss) shows the chosen run's loss per token. As with the GRU,
# the training loss keeps falling, by more than a factor of 8, while the validation loss
# bottoms out in the first half of training and then climbs by more than 0.2: 600 pairs are
# few, and the model memorises them.

# %% mystnb={"figure": {"caption": "Masked cross-entropy per token of the Transformer on the training pairs and on the validation pairs, epoch by epoch, for the chosen learning rate.", "name": "fig-transformer-loss"}}
epochs = list(range(1, len(history) + 1))
ax = d2lite.plot(epochs, [history["train_loss"], history["val_loss"]], "epoch",
                 "loss per token", legend=["training", "validation"], figsize=(5, 3))
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
plt.show()
first, last = history["train_loss"][0], history["train_loss"][-1]
val = history["val_loss"]
best_epoch = val.index(min(val)) + 1
print(f"training loss {first:.2f} -> {last:.2f}; validation loss lowest "
      f"{min(val):.2f} after epoch {best_epoch}, last {val[-1]:.2f}")
assert last < 0.6 and last < first / 8, f"training loss {first:.2f} -> {last:.2f}"
assert best_epoch <= len(val) / 2 and min(val) < val[-1] - 0.2, "no overfitting seen"
d2lite.record("last_train_loss", last)

# %% [markdown]
# ## Translations
#
# The four example sentences, translated by greedy search. Three were in the training pairs;
# "he's calm ." was not in the 600 pairs at all. A translation with the wrong words scores 0
# even if its full stop is right, so a mean BLEU above 0.5 asks that most of the four come
# out close to their labels, while leaving room for one sentence to go astray.

# %%
translations = {}
for sentence, label in examples.items():
    translations[sentence] = translate(net, sentence)
    score = bleu(translations[sentence], label.split(), k=2)
    print(f"{sentence:12s} => {' '.join(translations[sentence]):22s} BLEU {score:.3f}")
mean_bleu = sum(bleu(translations[s], label.split(), k=2)
                for s, label in examples.items()) / len(examples)
print(f"mean BLEU {mean_bleu:.3f}")
assert mean_bleu > 0.5, f"mean BLEU of the four examples {mean_bleu:.3f} <= 0.5"
d2lite.record("examples_bleu", mean_bleu)

# %% [markdown]
# The honest number is again BLEU on the held-out test sentences, computed once, now, next to
# BLEU on the training sentences. (The GRU encoder–decoder of the seq2seq lesson reports
# 0.217 on the same test split.)

# %%
train_bleu, test_bleu = split_bleu(net, "train"), split_bleu(net, "test")
print(f"BLEU: training sentences {train_bleu:.3f}, "
      f"held-out test sentences {test_bleu:.3f}")
assert train_bleu > 0.8 and 0.05 < test_bleu < train_bleu / 3, "not overfitting?"
d2lite.record("train_bleu", train_bleu)
d2lite.record("test_bleu", test_bleu)

# %% [markdown]
# Near-perfect on the training sentences, less than a third of that on new ones: 600 pairs
# are too few for any model to learn French, and the Transformer, like the GRU, memorises.
# Transformers shine with far more data, where their parallel training lets them use it.
#
# ## Where the decoder looks: cross-attention
#
# Every cross-attention head of every decoder block has, for each French word, one weight
# per source token. To see them for a translation, feed its words teacher-forced (which, as
# checked above, computes what decoding computes when the decoder writes those words) and
# read each block's `attention2.attention_weights`, of shape (batch, heads, target steps,
# source steps). The words fed here are the four examples' labels, so the rows are the same
# words whatever this run's model would write: the French words plus `<eos>`; the columns
# are the source tokens plus `<eos>`.

# %%
def cross_attention(net, sentence, words):
    """Every block's cross-attention for a translation: [(heads, len + 1, src + 1)]."""
    device = next(net.parameters()).device
    X, valid_lens = d2lite.text.pad_sequences([sentence.split()], src_vocab, num_steps)
    Y_in = torch.tensor([[tgt_vocab["<bos>"]] + tgt_vocab[words]])
    with torch.no_grad():
        net.eval()(X.to(device), Y_in.to(device), valid_lens.to(device))
    n_src = int(valid_lens[0])
    return [block.attention2.attention_weights[0, :, :, :n_src].cpu()
            for block in net.decoder.blocks]

# %%
sentences = list(examples)
labels = {s: examples[s].split() for s in sentences}  # French words, teacher-forced
maps = {s: cross_attention(net, s, labels[s]) for s in sentences}
rows = max(len(labels[s]) + 1 for s in sentences)
weights = torch.zeros(2, len(sentences), 4, rows, num_steps)  # (layers, ex, h, q, k)
for i, s in enumerate(sentences):
    for layer, W in enumerate(maps[s]):                       # W: (heads, q, k)
        weights[layer, i, :, :W.shape[1], :W.shape[2]] = W
queries = [labels[s] + ["<eos>"] for s in sentences]
keys = [s.split() + ["<eos>"] for s in sentences]

# %% [markdown]
# Does some head look at the English word that each French word translates? Align the example
# sentences by hand: each French word that has an obvious English counterpart gets it ("je"
# and "suis" → "i'm", "chez" and "moi" → "home", "perdu" → "lost", "." → ".", "!" → "." and
# so on). For every head of both decoder blocks, count the aligned words whose largest
# cross-attention weight falls on their English counterpart. Two baselines say what a head
# that did not read the words would get. A head that spread its weight evenly would hit one
# source token in 3 to 4 (the sources have 3 to 4 tokens with `<eos>`). A head that looked
# at the same position in the source as the French word's own position, the diagonal, needs
# no reading at all, and in sentences this short it hits half of the aligned words.

# %%
alignment = {"go .": {"va": "go", "!": "."},
             "i lost .": {"j'ai": "i", "perdu": "lost", ".": "."},
             "he's calm .": {"il": "he's", "est": "he's", "calme": "calm", ".": "."},
             "i'm home .": {"je": "i'm", "suis": "i'm", "chez": "home", "moi": "home",
                            ".": "."}}
hits, spread, diagonal, n_aligned = torch.zeros(2, 4), 0.0, 0, 0   # hits: (layer, head)
for s in sentences:
    source_words = s.split()
    for t, word in enumerate(labels[s]):
        if word in alignment[s]:
            k = source_words.index(alignment[s][word])
            for layer, W in enumerate(maps[s]):               # W: (heads, q, k)
                hits[layer] += W[:, t].argmax(dim=-1) == k
            spread += 1 / (len(source_words) + 1)             # even weight, <eos> too
            diagonal += min(t, len(source_words)) == k        # French t -> English t
            n_aligned += 1
share = hits / n_aligned
spread, diagonal = spread / n_aligned, diagonal / n_aligned
best_layer, best_head = divmod(int(share.argmax()), share.shape[1])
print(f"{n_aligned} aligned words; share hit per head, layer 0 "
      f"{[round(x, 2) for x in share[0].tolist()]}, layer 1 "
      f"{[round(x, 2) for x in share[1].tolist()]}")
print(f"best: layer {best_layer}, head {best_head}; baselines: even weight "
      f"{spread:.2f}, diagonal {diagonal:.2f}")

# %% [markdown]
# The check: the best head hits at least 60 % of the aligned words, more than the diagonal
# and far more than even weight. With 14 aligned words, that is at least 9 of them, two more
# than the diagonal's 7, and it leaves room for a few words to look elsewhere.

# %%
best_share = share[best_layer, best_head].item()
assert spread < 0.3 and diagonal < 0.6, f"baselines {spread:.2f}, {diagonal:.2f}"
assert best_share >= 0.6, f"the best head hits only {best_share:.2f}"
d2lite.record("alignment_share", best_share)

# %% [markdown]
# In the widget of [Figure 4](#fig-transformer-explorer), pick a layer and a head; in a
# running notebook you can also pick the sentence (the book's static page shows "i'm home .").
# Rows are the French words, columns the English source. It opens on the best head found above: look for French words whose
# row is darkest at the English word they translate. Nobody told the model which words
# correspond.

# %% mystnb={"figure": {"caption": "Widget: the trained Transformer's attention from the French words (rows) to the English source (columns), by layer and head; it opens on the head that aligns best.", "name": "fig-transformer-explorer"}}
explorer = d2lite.widgets.attention_explorer(weights, queries, keys, layer=best_layer,
                                             head=best_head, example=3)
explorer

# %% [markdown]
# The widget's own `update` shows the map the count used: on a second copy (`probe`, so the
# widget above keeps its state), the best head's map for "i'm home ." must equal the weights
# read from the model. The last line prints, for each aligned French word, the English token
# it looks at most, to compare with the hand alignment.

# %%
probe = d2lite.widgets.attention_explorer(weights, queries, keys, mode="static")
shown = probe.update(layer=best_layer, head=best_head, example=3)["weights"]  # (q, k)
print(shown.round(2))
read = maps["i'm home ."][best_layer][best_head]                # (q, k)
assert torch.allclose(torch.as_tensor(shown, dtype=read.dtype), read, atol=1e-6)
print({word: keys[3][int(shown[t].argmax())] for t, word in enumerate(queries[3])
       if word in alignment["i'm home ."]})

# %% [markdown]
# The alignment is a by-product of learning to translate: to predict "chez", the decoder
# needs to know that the source says "home", and cross-attention is the only way it can find
# out. [Bahdanau attention](bahdanau_attention.ipynb) learns the same kind of alignment
# between an RNN's states.
#
# ## A note on non-autoregressive decoding
#
# Decoding above is sequential: $n$ output tokens cost $n$ decoder calls, one after another,
# however parallel each call is. A **[non-autoregressive](../../book/glossary.md#term-non-autoregressive-decoding)**
# (非自回归, NAT) decoder, as the source notes describe it, writes all tokens in one call: it
# is fed a row of start tokens, as many as the output should have, and each position predicts
# its token at once. (The first such model, [Gu et al., 2018](../../book/references.md), feeds
# copies of the source embeddings instead, each repeated as many times as a predicted
# "fertility" says.) How many? A separate classifier predicts the output length from the
# encoder's outputs; or the decoder is given a maximum length and everything after the first
# `<eos>` is dropped. That is fast, and the length becomes controllable (useful in speech
# synthesis, for example). The price is quality: position $t$ cannot see what position
# $t - 1$ chose, so when the data allow two translations, say "je suis chez moi" and "je
# rentre", the positions may mix them into something like "je rentre chez moi" that is
# neither. Non-autoregressive models usually need extra tricks to match autoregressive ones.

# %% [markdown]
# ## Summary
#
# - A Transformer is an encoder–decoder of stacked blocks that keep the shape
#   `(batch, steps, d)`: embeddings scaled by $\sqrt{d}$ plus positional encodings; encoder
#   blocks of self-attention and a position-wise FFN, decoder blocks of masked
#   self-attention, cross-attention and an FFN, each sublayer followed by add & norm; a final
#   linear layer over the target vocabulary.
# - Layer normalisation standardises each token over its own features, so a token's result
#   does not depend on the other sentences or the padding in its batch; batch normalisation
#   does.
# - The causal mask lets position $t$ attend only to positions $\le t$: changing a later
#   token leaves earlier outputs exactly unchanged. It makes teacher forcing, all positions
#   in one call, equal to decoding one token at a time with a key–value cache, which
#   projects every position once and makes generating text cheap.
# - Your blocks equal `d2lite.models`' and PyTorch's `nn.TransformerEncoderLayer` and
#   `nn.TransformerDecoderLayer` (post-norm) to $10^{-5}$.
# - On 600 pairs the Transformer memorises its training sentences and reaches a test BLEU of
#   about 0.2, like the GRU; its cross-attention aligns French words with their English
#   counterparts without being told to.
# - Non-autoregressive decoders write all tokens at once, trading quality for speed.

# %% [markdown]
# ## Exercises
#
# 1. Count the parameters of one encoder block and one decoder block for $d = 64$, 4 heads and
#    an FFN of width 128. Why does the number of heads not matter?

# %% tags=["hide-cell"]
# A solution: attention = 4 d x d matrices + 4 biases of d, whatever the heads; the
# FFN has 2 d x 128 matrices + biases; each LayerNorm 2d. The decoder block adds one
# attention and one LayerNorm.
attention_size, ffn_size, norm_size = 4 * (d * d + d), 2 * d * 128 + 128 + d, 2 * d
count = lambda m: sum(p.numel() for p in m.parameters())
enc_block, dec_block = net.encoder.blocks[0], net.decoder.blocks[0]
print(f"encoder block {count(enc_block):,}, decoder block {count(dec_block):,}")
assert count(enc_block) == attention_size + ffn_size + 2 * norm_size
assert count(dec_block) == 2 * attention_size + ffn_size + 3 * norm_size

# %% [markdown]
# 2. Decode "i'm home ." without the cache: at every step, feed the whole sequence written so
#    far, from `<bos>`, with a fresh state, and keep the last position's scores. Do you get
#    the same words as `greedy_decode`? How many token positions does the decoder process in
#    all, with and without the cache?

# %% tags=["hide-cell"]
# A solution: the same words, since teacher forcing = step by step; without the cache,
# step t reprocesses t + 1 positions: 1 + 2 + ... + n in all, against n with the cache.
device = next(net.parameters()).device
X1, len1 = d2lite.text.pad_sequences([["i'm", "home", "."]], src_vocab, num_steps)
X1, len1 = X1.to(device), len1.to(device)
written = [tgt_vocab["<bos>"]]
with torch.no_grad():
    enc_outputs = net.encoder(X1, len1)
    for _ in range(num_steps):
        state = net.decoder.init_state(enc_outputs, len1)
        scores, _ = net.decoder(torch.tensor([written], device=device), state)
        written.append(int(scores[0, -1].argmax()))
        if written[-1] == tgt_vocab["<eos>"]:
            break
words = tgt_vocab.to_tokens(written[1:-1])
n = len(written) - 1
print(words, f"positions processed: {n * (n + 1) // 2} without the cache, {n} with it")
assert words == translate(net, "i'm home .")

# %% [markdown]
# 3. Change `AddNorm` to pre-norm, `X + sublayer(LayerNorm(X))` (with one more LayerNorm
#    after the last block), as most recent models do. Does the model train as well on this
#    data with the chosen learning rate? Try a learning rate 10 times larger with both.
# 4. Train with 4 blocks instead of 2 on each side, for the same 30 epochs. Does the test
#    BLEU change, and is the difference larger than the one between seeds?
