"""Attention (chapter 6): the masked softmax and two scoring functions, additive and scaled
dot-product, as layers that keep their last attention weights. Batches come first:
queries (batch, num_queries, d), keys and values (batch, num_keys, d)."""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["AdditiveAttention", "DotProductAttention", "masked_softmax"]


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
        queries: (batch, num_queries, d); keys: (batch, num_keys, d);
        values: (batch, num_keys, value_size); valid_lens: None, (batch,) or
        (batch, num_queries). Returns (batch, num_queries, value_size);
        `attention_weights`: (batch, num_queries, num_keys).

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
            raise ValueError(f"DotProductAttention: queries of size {queries.shape[-1]} and keys "
                             f"of size {keys.shape[-1]}; the dot product needs the same size "
                             "(use AdditiveAttention for different sizes)")
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)  # (batch, q, keys)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (batch, queries, v)
