"""d2lite.models.attention, with the helpers of tests/conftest.py.

Chapter 6, first part: masked_softmax, AdditiveAttention and DotProductAttention. The scaled
dot-product attention is checked against F.scaled_dot_product_attention with and without masks;
additive attention (torch has none) against its formula written out query by query.
Second part: MultiHeadAttention against nn.MultiheadAttention with copied weights (with and
without masks), and PositionalEncoding against its formula and its rotation property.
"""
from __future__ import annotations

import math

import pytest
import torch
from conftest import assert_ignores_masked, assert_same_outputs, assert_shapes, assert_train_eval
from torch.nn import functional as F

from d2lite.models import (
    AdditiveAttention,
    DotProductAttention,
    MultiHeadAttention,
    PositionalEncoding,
    masked_softmax,
    merge_heads,
    split_heads,
)

# ---- chapter 6: attention scoring (d2lite.models.attention) ----------------------------------

def keep_mask(valid_lens: torch.Tensor, num_queries: int, num_keys: int) -> torch.Tensor:
    """The boolean attn_mask F.scaled_dot_product_attention takes: (batch, queries, keys)."""
    lens = valid_lens if valid_lens.dim() == 2 else valid_lens[:, None].expand(-1, num_queries)
    return torch.arange(num_keys) < lens[:, :, None]


def torch_attention(valid_lens=None):
    """F.scaled_dot_product_attention as a function of (Q, K, V), masked like valid_lens."""
    def attend(Q, K, V):
        mask = None if valid_lens is None else keep_mask(valid_lens, Q.shape[1], K.shape[1])
        return F.scaled_dot_product_attention(Q, K, V, attn_mask=mask)
    return attend


VALID_LENS = {"none": None, "per sequence": torch.tensor([2, 5, 1]),
              "per query": torch.tensor([[1, 2, 3, 4], [5, 5, 5, 5], [2, 1, 2, 1]])}


@pytest.mark.parametrize("case", VALID_LENS)
def test_dot_product_attention_equals_torch(case):
    torch.manual_seed(0)
    valid_lens = VALID_LENS[case]
    Q, K, V = torch.randn(3, 4, 8), torch.randn(3, 5, 8), torch.randn(3, 5, 6)
    attention = DotProductAttention(dropout=0.0)
    assert_same_outputs(lambda Q, K, V: attention(Q, K, V, valid_lens),
                        torch_attention(valid_lens), Q, K, V)


@pytest.mark.parametrize("case", ["per sequence", "per query"])
def test_masked_softmax_zero_weight_on_masked_keys_rows_sum_to_one(case):
    torch.manual_seed(1)
    valid_lens = VALID_LENS[case]
    scores = 10 * torch.randn(3, 4, 5)
    weights = masked_softmax(scores, valid_lens)
    keep = keep_mask(valid_lens, 4, 5)
    assert weights.shape == (3, 4, 5)
    assert torch.equal(weights[~keep], torch.zeros_like(weights[~keep]))
    assert (weights[keep] > 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))
    # on the valid keys of each row it is the plain softmax of those keys
    lengths = keep.sum(-1)                                        # (batch, queries)
    for b, i in zip(*torch.nonzero(lengths > 0, as_tuple=True), strict=True):
        n = int(lengths[b, i])
        torch.testing.assert_close(weights[b, i, :n], torch.softmax(scores[b, i, :n], -1))


def test_masked_softmax_without_lengths_and_with_no_valid_key():
    scores = torch.randn(2, 3, 4)
    assert torch.equal(masked_softmax(scores), torch.softmax(scores, -1))
    weights = masked_softmax(scores, torch.tensor([0, 4]))
    torch.testing.assert_close(weights[0], torch.full((3, 4), 0.25))  # uniform, not NaN


def test_masked_softmax_names_a_wrong_valid_lens_shape():
    with pytest.raises(ValueError, match=r"got valid_lens of shape \(2, 4\); expected \(batch,\) "
                                         r"or \(batch, 3\)"):
        masked_softmax(torch.randn(2, 3, 5), torch.ones(2, 4, dtype=torch.long))


def additive_reference(attention: AdditiveAttention, queries, keys, values, valid_lens):
    """w_v^T tanh(W_q q + W_k k) for one query and one key at a time, then a masked softmax."""
    W_q, W_k = attention.W_q.weight, attention.W_k.weight        # (h, query_size), (h, key_size)
    w_v = attention.w_v.weight[0]                                 # (h,)
    batch, num_queries, num_keys = queries.shape[0], queries.shape[1], keys.shape[1]
    scores = torch.empty(batch, num_queries, num_keys)
    for b in range(batch):
        for i in range(num_queries):
            for j in range(num_keys):
                scores[b, i, j] = w_v @ torch.tanh(W_q @ queries[b, i] + W_k @ keys[b, j])
    return masked_softmax(scores, valid_lens) @ values


@pytest.mark.parametrize("case", VALID_LENS)
def test_additive_attention_equals_its_formula(case):
    torch.manual_seed(2)
    valid_lens = VALID_LENS[case]
    attention = AdditiveAttention(key_size=3, query_size=7, num_hiddens=6, dropout=0.0)
    queries, keys, values = torch.randn(3, 4, 7), torch.randn(3, 5, 3), torch.randn(3, 5, 2)
    assert_same_outputs(lambda *qkv: attention(*qkv, valid_lens),
                        lambda *qkv: additive_reference(attention, *qkv, valid_lens),
                        queries, keys, values)


@pytest.mark.parametrize("make", [
    lambda: AdditiveAttention(key_size=3, query_size=7, num_hiddens=6, dropout=0.0),
    lambda: DotProductAttention(dropout=0.0)], ids=["additive", "dot product"])
def test_shapes_weights_and_masked_keys_are_ignored(make):
    torch.manual_seed(3)
    attention = make()
    query_size = 7 if isinstance(attention, AdditiveAttention) else 3
    queries = torch.randn(3, 4, query_size)
    keys, values = torch.randn(3, 5, 3), torch.randn(3, 5, 2)
    valid_lens = VALID_LENS["per sequence"]
    assert_shapes(attention, (queries, keys, values, valid_lens), [(3, 4, 2)])
    weights = attention.attention_weights
    assert weights.shape == (3, 4, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))
    keep = keep_mask(valid_lens, 4, 5)
    assert torch.equal(weights[~keep], torch.zeros_like(weights[~keep]))
    # padded keys and values may hold anything: the output does not change
    keep_rows = (torch.arange(5) < valid_lens[:, None])[:, :, None]   # (batch, keys, 1)
    assert_ignores_masked(lambda K: attention(queries, K, values, valid_lens), keys, keep_rows)
    assert_ignores_masked(lambda V: attention(queries, keys, V, valid_lens), values, keep_rows)


@pytest.mark.parametrize("make", [
    lambda p: AdditiveAttention(key_size=4, query_size=4, num_hiddens=6, dropout=p),
    lambda p: DotProductAttention(dropout=p)], ids=["additive", "dot product"])
def test_dropout_only_in_training(make):
    torch.manual_seed(4)
    queries, keys, values = torch.randn(2, 3, 4), torch.randn(2, 6, 4), torch.randn(2, 6, 5)
    assert_train_eval(make(0.5), queries, keys, values, stochastic=True)
    assert_train_eval(make(0.0), queries, keys, values, stochastic=False)


def test_dot_product_attention_names_mismatched_sizes():
    with pytest.raises(ValueError, match="queries of size 4 and keys of size 3"):
        DotProductAttention(dropout=0.0)(torch.randn(1, 2, 4), torch.randn(1, 5, 3),
                                         torch.randn(1, 5, 3))


# ---- chapter 6: multi-head attention and positional encoding ---------------------------------

def torch_multihead(ours: MultiHeadAttention, bias: bool) -> torch.nn.MultiheadAttention:
    """nn.MultiheadAttention holding the same weights: in_proj = [W_q; W_k; W_v], out_proj = W_o."""
    d = ours.W_q.in_features
    theirs = torch.nn.MultiheadAttention(d, ours.num_heads, dropout=0.0, bias=bias,
                                         batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight,
                                               ours.W_v.weight]))
        theirs.out_proj.weight.copy_(ours.W_o.weight)
        if bias:
            theirs.in_proj_bias.copy_(torch.cat([ours.W_q.bias, ours.W_k.bias, ours.W_v.bias]))
            theirs.out_proj.bias.copy_(ours.W_o.bias)
    return theirs.eval()


def torch_masks(valid_lens, num_heads: int, num_queries: int, num_keys: int) -> dict:
    """valid_lens as nn.MultiheadAttention's masks, True where a key is ignored:
    key_padding_mask (batch, keys) for (batch,) lengths, attn_mask (batch * heads, q, k) for
    (batch, queries) lengths."""
    if valid_lens is None:
        return {}
    if valid_lens.dim() == 1:
        return {"key_padding_mask": torch.arange(num_keys) >= valid_lens[:, None]}
    blocked = ~keep_mask(valid_lens, num_queries, num_keys)       # (batch, queries, keys)
    return {"attn_mask": blocked.repeat_interleave(num_heads, dim=0)}


@pytest.mark.parametrize("bias", [False, True], ids=["no bias", "bias"])
@pytest.mark.parametrize("case", VALID_LENS)
def test_multi_head_attention_equals_torch(case, bias):
    torch.manual_seed(5)
    valid_lens = VALID_LENS[case]
    ours = MultiHeadAttention(num_hiddens=12, num_heads=3, dropout=0.0, bias=bias).eval()
    theirs = torch_multihead(ours, bias)
    queries, keys, values = torch.randn(3, 4, 12), torch.randn(3, 5, 12), torch.randn(3, 5, 12)
    masks = torch_masks(valid_lens, 3, 4, 5)
    with torch.no_grad():
        out, weights = theirs(queries, keys, values, need_weights=True,
                              average_attn_weights=False, **masks)
    assert_same_outputs(lambda *qkv: ours(*qkv, valid_lens), lambda *qkv: out,
                        queries, keys, values, atol=1e-5)
    assert ours.attention_weights.shape == (3, 3, 4, 5)
    torch.testing.assert_close(ours.attention_weights, weights, atol=1e-5, rtol=0)


def test_multi_head_self_attention_equals_torch_with_padding():
    """Self-attention over padded sentences, the way an encoder uses it."""
    torch.manual_seed(6)
    ours = MultiHeadAttention(num_hiddens=16, num_heads=4, dropout=0.0).eval()
    theirs = torch_multihead(ours, bias=False)
    X, valid_lens = torch.randn(2, 7, 16), torch.tensor([7, 3])
    with torch.no_grad():
        expected, _ = theirs(X, X, X, **torch_masks(valid_lens, 4, 7, 7))
        got = ours(X, X, X, valid_lens)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert torch.equal(ours.attention_weights[1, :, :, 3:],
                       torch.zeros_like(ours.attention_weights[1, :, :, 3:]))


def test_one_head_is_single_attention_and_heads_are_independent_attentions():
    torch.manual_seed(7)
    X = torch.randn(2, 5, 8)
    one = MultiHeadAttention(num_hiddens=8, num_heads=1, dropout=0.0).eval()
    single = DotProductAttention(dropout=0.0)
    with torch.no_grad():
        expected = one.W_o(single(one.W_q(X), one.W_k(X), one.W_v(X)))
        torch.testing.assert_close(one(X, X, X), expected, atol=1e-6, rtol=0)
        # four heads = four attentions on 2-column slices, concatenated, then W_o
        four = MultiHeadAttention(num_hiddens=8, num_heads=4, dropout=0.0).eval()
        Q, K, V = four.W_q(X), four.W_k(X), four.W_v(X)
        heads = [single(Q[..., 2 * i:2 * i + 2], K[..., 2 * i:2 * i + 2], V[..., 2 * i:2 * i + 2])
                 for i in range(4)]
        torch.testing.assert_close(four(X, X, X), four.W_o(torch.cat(heads, -1)), atol=1e-6,
                                   rtol=0)


def test_split_and_merge_heads():
    X = torch.randn(2, 3, 12)
    split = split_heads(X, 4)
    assert split.shape == (8, 3, 3)
    assert torch.equal(split[1 * 4 + 2], X[1, :, 6:9])          # example 1, head 2
    assert torch.equal(merge_heads(split, 4), X)
    with pytest.raises(ValueError, match="size 12, which 5 heads cannot share"):
        split_heads(X, 5)
    with pytest.raises(ValueError, match="num_hiddens=10 is not divisible by num_heads=4"):
        MultiHeadAttention(10, 4, dropout=0.0)


def test_multi_head_attention_dropout_only_in_training():
    torch.manual_seed(8)
    X = torch.randn(2, 6, 8)
    assert_train_eval(MultiHeadAttention(8, 2, dropout=0.5), X, X, X, stochastic=True)
    assert_train_eval(MultiHeadAttention(8, 2, dropout=0.0), X, X, X, stochastic=False)


def test_positional_encoding_values():
    encoding = PositionalEncoding(num_hiddens=6, dropout=0.0, max_len=30).eval()
    assert encoding.P.shape == (1, 30, 6) and "P" not in encoding.state_dict()
    for i in (0, 1, 7, 29):
        for j in range(3):
            angle = i / 10000 ** (2 * j / 6)
            assert encoding.P[0, i, 2 * j].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert encoding.P[0, i, 2 * j + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    X = torch.randn(2, 9, 6)
    torch.testing.assert_close(encoding(X), X + encoding.P[:, :9])
    with pytest.raises(ValueError, match=r"got X of shape \(1, 31, 6\); expected \(batch, "
                                         r"steps <= 30, 6\)"):
        encoding(torch.zeros(1, 31, 6))
    with pytest.raises(ValueError, match="num_hiddens=5 is odd"):
        PositionalEncoding(5, dropout=0.0)


@pytest.mark.parametrize("delta", [1, 3, 17])
def test_positional_encoding_shift_is_a_rotation(delta):
    """P[i + delta] = R(delta) P[i] with R block-diagonal: one 2x2 rotation by delta * w_j per
    column pair; the same R for every position i."""
    d = 16
    P = PositionalEncoding(num_hiddens=d, dropout=0.0, max_len=200).P[0].double()  # (200, d)
    R = torch.zeros(d, d, dtype=torch.float64)
    for j in range(d // 2):
        angle = delta * 10000 ** (-2 * j / d)
        c, s = math.cos(angle), math.sin(angle)
        R[2 * j:2 * j + 2, 2 * j:2 * j + 2] = torch.tensor([[c, s], [-s, c]])
    shifted = P[:-delta] @ R.T                                     # row i: R P[i]
    torch.testing.assert_close(shifted, P[delta:], atol=1e-5, rtol=0)
