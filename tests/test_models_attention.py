"""d2lite.models.attention, with the helpers of tests/test_models.py.

Chapter 6, first part: masked_softmax, AdditiveAttention and DotProductAttention. The scaled
dot-product attention is checked against F.scaled_dot_product_attention with and without masks;
additive attention (torch has none) against its formula written out query by query.
"""
from __future__ import annotations

import pytest
import torch
from test_models import assert_ignores_masked, assert_same_outputs, assert_shapes, assert_train_eval
from torch.nn import functional as F

from d2lite.models import AdditiveAttention, DotProductAttention, masked_softmax

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
