"""Attention (chapter 6): the masked softmax, two scoring functions (additive and scaled
dot-product), multi-head attention and sinusoidal positional encoding, as layers that keep their
last attention weights. Batches come first: queries (batch, num_queries, d), keys and values
(batch, num_keys, d)."""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["AdditiveAttention", "DotProductAttention", "MultiHeadAttention", "PositionalEncoding",
           "masked_softmax", "merge_heads", "split_heads"]


def _key_mask(valid_lens: torch.Tensor, num_queries: int, num_keys: int) -> torch.Tensor:
    """(batch, num_queries, num_keys) booleans, True where key j < valid_lens of that row."""
    if valid_lens.dim() == 1:
        valid_lens = valid_lens[:, None].expand(-1, num_queries)      # (batch, num_queries)
    if valid_lens.dim() != 2 or valid_lens.shape[1] != num_queries:
        raise ValueError(f"masked_softmax(): got valid_lens of shape {tuple(valid_lens.shape)}; "
                         f"expected (batch,) or (batch, {num_queries}), one length per sequence "
                         "or per query")
    positions = torch.arange(num_keys, device=valid_lens.device)      # (num_keys,)
    return positions < valid_lens[:, :, None]                         # (batch, queries, keys)


def masked_softmax(scores: torch.Tensor, valid_lens: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis in which only the first `valid_lens` keys of each row count.

    The scores of the other keys (padding) are replaced by the smallest float, so their weights
    are exactly 0 and every row still sums to 1. A row with no valid key gets equal weights
    over all keys (`F.scaled_dot_product_attention` gives such a row a zero output, and older
    torch NaN): give every sequence at least one valid key.

    Args:
        scores: (batch, num_queries, num_keys) attention scores.
        valid_lens: None (every key counts), (batch,) one length for every query of a sequence,
            or (batch, num_queries) one length per query.

    Shape:
        scores: (batch, num_queries, num_keys) -> weights of the same shape.

    Example:
        >>> weights = masked_softmax(torch.zeros(2, 1, 4), torch.tensor([1, 3]))
        >>> weights.squeeze(1)
        tensor([[1.0000, 0.0000, 0.0000, 0.0000],
                [0.3333, 0.3333, 0.3333, 0.0000]])
    """
    if valid_lens is None:
        return torch.softmax(scores, dim=-1)
    if scores.dim() != 3:
        raise ValueError(f"masked_softmax(): got scores of shape {tuple(scores.shape)}; expected "
                         "(batch, num_queries, num_keys)")
    keep = _key_mask(valid_lens.to(scores.device), scores.shape[1], scores.shape[2])
    scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau et al., 2015): the score of query q and key k is
    w_v^T tanh(W_q q + W_k k), so queries and keys may have different sizes.

    Args:
        key_size, query_size: the sizes of one key and one query.
        num_hiddens: h, the size of the hidden layer that compares them.
        dropout: dropout on the attention weights (training only).

    `W_q` and `W_k` are `nn.Linear(query_size, h)` and `nn.Linear(key_size, h)`, `w_v` is
    `nn.Linear(h, 1)`, all without biases. After each call, `attention_weights` holds the
    weights (before dropout).

    Shape:
        queries: (batch, num_queries, query_size); keys: (batch, num_keys, key_size);
        values: (batch, num_keys, value_size); valid_lens: None, (batch,) or
        (batch, num_queries). Returns (batch, num_queries, value_size);
        `attention_weights`: (batch, num_queries, num_keys).

    Example:
        >>> attention = AdditiveAttention(key_size=3, query_size=5, num_hiddens=8, dropout=0.0)
        >>> queries, keys, values = torch.randn(2, 1, 5), torch.randn(2, 4, 3), torch.randn(2, 4, 6)
        >>> out = attention(queries, keys, values, valid_lens=torch.tensor([2, 4]))
        >>> tuple(out.shape), tuple(attention.attention_weights.shape)
        ((2, 1, 6), (2, 1, 4))
        >>> attention.attention_weights[0, 0, 2:].tolist()   # the padded keys of sequence 0
        [0.0, 0.0]
    """

    def __init__(self, key_size: int, query_size: int, num_hiddens: int, dropout: float):
        super().__init__()
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        # every query against every key, by broadcasting:
        # (batch, queries, 1, h) + (batch, 1, keys, h) -> (batch, queries, keys, h)
        features = torch.tanh(self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)                       # (batch, queries, keys)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (batch, queries, v)


class DotProductAttention(nn.Module):
    """Scaled dot-product attention: softmax(Q K^T / sqrt(d)) V, with a masked softmax.

    It computes what `F.scaled_dot_product_attention(Q, K, V, attn_mask=keep)` computes, where
    `keep[b, i, j]` is `j < valid_lens[b]` (or `valid_lens[b, i]`). Queries and keys must have
    the same size d. After each call, `attention_weights` holds the weights (before dropout).

    Args:
        dropout: dropout on the attention weights (training only).

    Shape:
        as `AdditiveAttention`'s, with queries and keys of one size d: queries
        (batch, num_queries, d) and keys (batch, num_keys, d).

    Example:
        >>> attention = DotProductAttention(dropout=0.0)
        >>> Q, K, V = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
        >>> out = attention(Q, K, V, valid_lens=torch.tensor([2, 5]))
        >>> tuple(out.shape), attention.attention_weights.sum(-1).allclose(torch.ones(2, 3))
        ((2, 3, 6), True)
        >>> float(attention.attention_weights[0, :, 2:].abs().max())  # keys 2-4 of sequence 0
        0.0
    """

    def __init__(self, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        if queries.shape[-1] != keys.shape[-1]:
            raise ValueError(f"DotProductAttention(): queries of size {queries.shape[-1]} and keys "
                             f"of size {keys.shape[-1]}; the dot product needs the same size "
                             "(use AdditiveAttention for different sizes)")
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)  # (batch, q, keys)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (batch, queries, v)


def split_heads(X: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Cut the last axis of X into `num_heads` pieces and move the heads next to the batch.

    Shape:
        X: (batch, steps, num_heads * d_head) -> (batch * num_heads, steps, d_head), the rows of
        one example's heads consecutive (example 0 head 0, example 0 head 1, ...).

    Example:
        >>> split_heads(torch.arange(8.).reshape(1, 2, 4), num_heads=2)[:, :, 0]
        tensor([[0., 4.],
                [2., 6.]])
    """
    batch, steps, size = X.shape
    if size % num_heads:
        raise ValueError(f"split_heads(): the last axis has size {size}, which {num_heads} heads "
                         "cannot share; use a size divisible by num_heads")
    X = X.reshape(batch, steps, num_heads, size // num_heads)  # (batch, steps, heads, d_head)
    X = X.transpose(1, 2)                                      # (batch, heads, steps, d_head)
    return X.reshape(batch * num_heads, steps, size // num_heads)


def merge_heads(X: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Undo `split_heads`: concatenate each example's heads along the last axis.

    Shape:
        X: (batch * num_heads, steps, d_head) -> (batch, steps, num_heads * d_head).

    Example:
        >>> X = torch.randn(2, 5, 6)
        >>> torch.equal(merge_heads(split_heads(X, 3), 3), X)
        True
    """
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])      # (batch, heads, steps, d_head)
    X = X.transpose(1, 2)                                      # (batch, steps, heads, d_head)
    return X.reshape(X.shape[0], X.shape[1], -1)               # (batch, steps, heads * d_head)


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al., 2017): `num_heads` scaled dot-product attentions,
    each on its own slice of learned projections of the queries, keys and values, run as one
    batched call; their outputs are concatenated and projected by W_o.

    It computes what `nn.MultiheadAttention(num_hiddens, num_heads, dropout, bias=bias,
    batch_first=True)` computes, with `in_proj_weight` = [W_q; W_k; W_v] stacked and
    `out_proj` = W_o, and `key_padding_mask[b, j]` = `j >= valid_lens[b]`.

    Args:
        num_hiddens: the size of queries, keys, values and the output; each head gets
            num_hiddens // num_heads of it.
        num_heads: the number of heads; must divide num_hiddens.
        dropout: dropout on the attention weights (training only).
        bias: whether W_q, W_k, W_v and W_o have biases.

    After each call, `attention_weights` holds every head's weights (before dropout).

    Shape:
        queries: (batch, num_queries, num_hiddens); keys, values: (batch, num_keys,
        num_hiddens); valid_lens: None, (batch,) or (batch, num_queries). Returns
        (batch, num_queries, num_hiddens); `attention_weights`: (batch, num_heads,
        num_queries, num_keys).

    Example:
        >>> attention = MultiHeadAttention(num_hiddens=8, num_heads=2, dropout=0.0)
        >>> X = torch.randn(3, 5, 8)
        >>> out = attention(X, X, X, valid_lens=torch.tensor([5, 2, 4]))   # self-attention
        >>> tuple(out.shape), tuple(attention.attention_weights.shape)
        ((3, 5, 8), (3, 2, 5, 5))
        >>> attention.attention_weights[1, :, :, 2:].abs().max().item()   # padding of example 1
        0.0
        >>> K, V = attention.project_kv(X, X)       # projected once, e.g. cached by a decoder
        >>> tuple(K.shape), torch.equal(attention.attend(X, K, V), attention(X, X, X))
        ((6, 5, 4), True)
    """

    def __init__(self, num_hiddens: int, num_heads: int, dropout: float, bias: bool = False):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError(f"MultiHeadAttention(): num_hiddens={num_hiddens} is not divisible "
                             f"by num_heads={num_heads}; each head needs an equal slice")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_k = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_v = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        return self.attend(queries, *self.project_kv(keys, values), valid_lens)

    def project_kv(self, keys: torch.Tensor, values: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values through W_k and W_v, split into heads: what a decoder caches, so
        that a new token projects only its own row. Each is (batch * num_heads, num_keys,
        num_hiddens // num_heads)."""
        h = self.num_heads
        return split_heads(self.W_k(keys), h), split_heads(self.W_v(values), h)

    def attend(self, queries: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
               valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        """Attention of `queries` to keys and values already projected by `project_kv`."""
        h = self.num_heads
        Q = split_heads(self.W_q(queries), h)                  # (batch * h, queries, d_head)
        if valid_lens is not None:  # every head of an example shares its lengths
            valid_lens = torch.repeat_interleave(valid_lens, h, dim=0)  # (batch * h, ...)
        out = self.attention(Q, K, V, valid_lens)              # (batch * h, queries, d_head)
        weights = self.attention.attention_weights             # (batch * h, queries, keys)
        self.attention_weights = weights.reshape(-1, h, *weights.shape[1:])  # (batch, h, q, k)
        return self.W_o(merge_heads(out, h))                   # (batch, queries, num_hiddens)


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal positional encoding P (Vaswani et al., 2017) to its input, then
    dropout: P[i, 2j] = sin(i / 10000^(2j/d)), P[i, 2j+1] = cos(i / 10000^(2j/d)).

    Each pair of columns (2j, 2j+1) is a point on a circle that turns by the angle
    w_j = 10000^(-2j/d) per position, so P[i + delta] is P[i] rotated: a linear map that depends
    on delta alone.

    Args:
        num_hiddens: d, the size of the vectors it is added to (even).
        dropout: dropout on the sum (training only).
        max_len: the longest sequence it encodes.

    `P` is a (1, max_len, num_hiddens) buffer: it follows `.to(device)` and is not in the
    state dict.

    Shape:
        X: (batch, steps, num_hiddens) with steps <= max_len -> the same shape.

    Example:
        >>> encoding = PositionalEncoding(num_hiddens=4, dropout=0.0, max_len=50)
        >>> expected = torch.tensor([math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)])
        >>> torch.allclose(encoding.P[0, 1], expected)   # position 1: frequencies 1 and 1/100
        True
        >>> tuple(encoding(torch.zeros(2, 10, 4)).shape)
        (2, 10, 4)
    """

    def __init__(self, num_hiddens: int, dropout: float, max_len: int = 1000):
        super().__init__()
        if num_hiddens % 2:
            raise ValueError(f"PositionalEncoding(): num_hiddens={num_hiddens} is odd; the "
                             "encoding fills columns in (sin, cos) pairs, use an even size")
        self.dropout = nn.Dropout(dropout)
        positions = torch.arange(max_len, dtype=torch.float64)[:, None]         # (max_len, 1)
        frequencies = 10000.0 ** (-torch.arange(0, num_hiddens, 2, dtype=torch.float64)
                                  / num_hiddens)                                # (d / 2,)
        angles = positions * frequencies                                        # (max_len, d/2)
        P = torch.zeros(1, max_len, num_hiddens)
        P[0, :, 0::2], P[0, :, 1::2] = torch.sin(angles), torch.cos(angles)
        self.register_buffer("P", P, persistent=False)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.shape[1] > self.P.shape[1] or X.shape[-1] != self.P.shape[-1]:
            raise ValueError(f"PositionalEncoding(): got X of shape {tuple(X.shape)}; expected "
                             f"(batch, steps <= {self.P.shape[1]}, {self.P.shape[-1]}); "
                             "raise max_len for longer sequences")
        return self.dropout(X + self.P[:, :X.shape[1]].to(X.dtype))  # (batch, steps, d)
