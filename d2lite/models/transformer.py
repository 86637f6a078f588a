"""The Transformer (chapter 6; Vaswani et al., 2017), post-norm as in the paper: position-wise
feed-forward network, add & norm, encoder and decoder blocks and stacks. The decoder follows the
seq2seq `Decoder` interface and keeps a per-layer key-value cache, so `greedy_decode` works. No
beam search, no pre-norm variant."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from d2lite.models.attention import MultiHeadAttention, PositionalEncoding
from d2lite.models.encoder_decoder import Decoder, Encoder

__all__ = ["AddNorm", "PositionWiseFFN", "TransformerDecoder", "TransformerDecoderBlock",
           "TransformerEncoder", "TransformerEncoderBlock", "causal_valid_lens"]

_ACTIVATION_FUNCTIONS = {"relu": F.relu, "gelu": F.gelu}


class PositionWiseFFN(nn.Module):
    """The same two-layer MLP applied to every position: dense2(activation(dense1(X))).

    Args:
        num_hiddens: the size of each position's vector, in and out.
        ffn_num_hiddens: the size of the hidden layer (the paper uses 4 * num_hiddens).
        activation: "relu" (the paper) or "gelu" (BERT).

    Shape:
        X: (batch, steps, num_hiddens) -> (batch, steps, num_hiddens).

    Example:
        >>> ffn = PositionWiseFFN(num_hiddens=4, ffn_num_hiddens=8)
        >>> X = torch.randn(2, 3, 4)
        >>> torch.allclose(ffn(X)[:, 1], ffn(X[:, 1:2])[:, 0])   # positions are independent
        True
    """

    def __init__(self, num_hiddens: int, ffn_num_hiddens: int, activation: str = "relu"):
        super().__init__()
        if activation not in _ACTIVATION_FUNCTIONS:
            raise ValueError(f"PositionWiseFFN(): got activation={activation!r}; expected one of "
                             f"{sorted(_ACTIVATION_FUNCTIONS)}")
        self.dense1 = nn.Linear(num_hiddens, ffn_num_hiddens)
        self.dense2 = nn.Linear(ffn_num_hiddens, num_hiddens)
        self.activation = _ACTIVATION_FUNCTIONS[activation]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.dense2(self.activation(self.dense1(X)))  # (batch, steps, num_hiddens)


class AddNorm(nn.Module):
    """Residual connection, then layer normalization: LayerNorm(X + dropout(Y)).

    Each position's vector is normalized over its own features (mean 0, variance 1, then a
    learned scale and shift), whatever the batch holds.

    Shape:
        X, Y: (batch, steps, num_hiddens) -> (batch, steps, num_hiddens).

    Example:
        >>> add_norm = AddNorm(num_hiddens=4, dropout=0.0)
        >>> out = add_norm(torch.randn(2, 3, 4), torch.randn(2, 3, 4))
        >>> out.mean(-1).abs().max().item() < 1e-6
        True
    """

    def __init__(self, num_hiddens: int, dropout: float, eps: float = 1e-5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(num_hiddens, eps=eps)

    def forward(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return self.ln(X + self.dropout(Y))  # (batch, steps, num_hiddens)


class TransformerEncoderBlock(nn.Module):
    """Multi-head self-attention, add & norm, position-wise FFN, add & norm.

    It computes what `nn.TransformerEncoderLayer(num_hiddens, num_heads, ffn_num_hiddens,
    dropout, activation, batch_first=True, norm_first=False)` computes, with
    `self_attn.in_proj_*` = the attention's stacked W_q, W_k, W_v, `linear1`/`linear2` = the
    FFN's dense1/dense2, `norm1`/`norm2` = the two AddNorms' `ln`, and `src_key_padding_mask[b,
    j]` = `j >= valid_lens[b]`. Dropout acts on the attention weights and on each sublayer's
    output (not inside the FFN, where torch's layer has one more); BERT places it the same way.

    Args:
        num_hiddens, ffn_num_hiddens, num_heads, dropout: sizes and dropout rate.
        activation: the FFN's, "relu" or "gelu" (BERT).
        norm_eps: the LayerNorms' epsilon (BERT uses 1e-12).

    Shape:
        X: (batch, steps, num_hiddens); valid_lens: None or (batch,) -> (batch, steps,
        num_hiddens). `attention.attention_weights`: (batch, num_heads, steps, steps).

    Example:
        >>> block = TransformerEncoderBlock(8, 16, num_heads=2, dropout=0.0)
        >>> tuple(block(torch.randn(2, 5, 8), torch.tensor([5, 3])).shape)
        (2, 5, 8)
    """

    def __init__(self, num_hiddens: int, ffn_num_hiddens: int, num_heads: int, dropout: float,
                 activation: str = "relu", norm_eps: float = 1e-5):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, bias=True)
        self.addnorm1 = AddNorm(num_hiddens, dropout, norm_eps)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens, activation)
        self.addnorm2 = AddNorm(num_hiddens, dropout, norm_eps)

    def forward(self, X: torch.Tensor, valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))  # (batch, steps, num_hiddens)
        return self.addnorm2(Y, self.ffn(Y))


def _embedding(vocab_size: int, num_hiddens: int, dropout: float, max_len: int):
    """The encoder's and the decoder's input layers: a token embedding initialised so that,
    multiplied by sqrt(num_hiddens) in `forward`, it has unit scale, and the positional encoding."""
    embedding = nn.Embedding(vocab_size, num_hiddens)
    nn.init.normal_(embedding.weight, std=num_hiddens ** -0.5)
    return embedding, PositionalEncoding(num_hiddens, dropout, max_len)


class TransformerEncoder(Encoder):
    """Token embedding scaled by sqrt(num_hiddens), sinusoidal positions, `num_layers`
    encoder blocks.

    The embedding starts at N(0, 1/num_hiddens), the scale of a linear layer's weights (the
    paper shares it with the output layer), so after the factor sqrt(num_hiddens) the tokens
    enter at unit scale, next to positional encodings of entries in [-1, 1]. After each call,
    `attention_weights` lists every layer's self-attention weights.

    Shape:
        X: (batch, steps) token indices; valid_lens: (batch,) -> (batch, steps, num_hiddens).
        `attention_weights`: num_layers tensors (batch, num_heads, steps, steps).

    Example:
        >>> encoder = TransformerEncoder(10, 8, 16, num_heads=2, num_layers=2, dropout=0.0)
        >>> out = encoder(torch.randint(10, (3, 6)), torch.tensor([6, 2, 4]))
        >>> tuple(out.shape), len(encoder.attention_weights)
        ((3, 6, 8), 2)
    """

    def __init__(self, vocab_size: int, num_hiddens: int, ffn_num_hiddens: int, num_heads: int,
                 num_layers: int, dropout: float, max_len: int = 1000):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding, self.pos_encoding = _embedding(vocab_size, num_hiddens, dropout, max_len)
        self.blocks = nn.ModuleList([
            TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout)
            for _ in range(num_layers)])
        self.attention_weights: list[torch.Tensor] = []

    def forward(self, X: torch.Tensor, valid_lens: torch.Tensor) -> torch.Tensor:
        H = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))  # (b, steps, d)
        for block in self.blocks:
            H = block(H, valid_lens)
        self.attention_weights = [b.attention.attention_weights for b in self.blocks]
        return H  # (batch, steps, num_hiddens)


def causal_valid_lens(batch: int, num_steps: int, offset: int,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """Per-query valid lengths of masked (causal) self-attention: the query at position
    offset + t sees the keys 0 .. offset + t, so its valid length is offset + t + 1.

    Shape:
        -> (batch, num_steps) int64.

    Example:
        >>> causal_valid_lens(1, 3, offset=2)
        tensor([[3, 4, 5]])
    """
    lens = torch.arange(offset + 1, offset + num_steps + 1, device=device)  # (num_steps,)
    return lens.repeat(batch, 1)  # (batch, num_steps)


class TransformerDecoderBlock(nn.Module):
    """Masked multi-head self-attention, add & norm, cross-attention to the encoder's outputs,
    add & norm, position-wise FFN, add & norm.

    It computes what `nn.TransformerDecoderLayer(num_hiddens, num_heads, ffn_num_hiddens,
    dropout, batch_first=True, norm_first=False)` computes with a causal `tgt_mask` and
    `memory_key_padding_mask[b, j]` = `j >= enc_valid_lens[b]` (`self_attn`, `multihead_attn`,
    `linear1`/`linear2`, `norm1`-`norm3` map to `attention1`, `attention2`, the FFN, the
    AddNorms).

    The block keeps a key-value cache, `(K, V, enc_K, enc_V)`: the keys and values its
    self-attention projected at every position so far, per head, and the cross-attention's
    keys and values of the encoder's outputs, projected once. A call projects only its own
    positions and appends them, so decoding one token at a time computes what one call over
    the whole target computes, without projecting any earlier position again.

    Shape:
        X: (batch, steps, num_hiddens); enc_outputs: (batch, src_steps, num_hiddens);
        enc_valid_lens: None or (batch,); cache: None or the tuple a call returned ->
        (output (batch, steps, num_hiddens), cache). In the cache K, V: (batch * heads,
        past_steps + steps, d_head), enc_K, enc_V: (batch * heads, src_steps, d_head), with
        d_head = num_hiddens // num_heads. `attention1.attention_weights`: (batch, heads, steps,
        past_steps + steps); `attention2.attention_weights`: (batch, heads, steps, src_steps).

    Example:
        >>> block = TransformerDecoderBlock(8, 16, num_heads=2, dropout=0.0)
        >>> X, memory, lens = torch.randn(2, 4, 8), torch.randn(2, 5, 8), torch.tensor([5, 2])
        >>> out, (K, V, enc_K, enc_V) = block(X, memory, lens)
        >>> tuple(K.shape), tuple(enc_K.shape)
        ((4, 4, 4), (4, 5, 4))
        >>> step, _ = block(X[:, 3:], memory, lens, (K[:, :3], V[:, :3], enc_K, enc_V))
        >>> tuple(out.shape), torch.allclose(step[:, 0], out[:, 3], atol=1e-6)
        ((2, 4, 8), True)
    """

    def __init__(self, num_hiddens: int, ffn_num_hiddens: int, num_heads: int, dropout: float,
                 activation: str = "relu", norm_eps: float = 1e-5):
        super().__init__()
        self.attention1 = MultiHeadAttention(num_hiddens, num_heads, dropout, bias=True)
        self.addnorm1 = AddNorm(num_hiddens, dropout, norm_eps)
        self.attention2 = MultiHeadAttention(num_hiddens, num_heads, dropout, bias=True)
        self.addnorm2 = AddNorm(num_hiddens, dropout, norm_eps)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens, activation)
        self.addnorm3 = AddNorm(num_hiddens, dropout, norm_eps)

    def forward(self, X: torch.Tensor, enc_outputs: torch.Tensor,
                enc_valid_lens: torch.Tensor | None = None, cache: tuple | None = None
                ) -> tuple[torch.Tensor, tuple]:
        K, V = self.attention1.project_kv(X, X)                # this call's positions only
        if cache is None:  # the first call: project the encoder's outputs, once
            enc_K, enc_V = self.attention2.project_kv(enc_outputs, enc_outputs)
        else:
            K, V = torch.cat([cache[0], K], dim=1), torch.cat([cache[1], V], dim=1)
            enc_K, enc_V = cache[2], cache[3]
        past = K.shape[1] - X.shape[1]
        causal = causal_valid_lens(X.shape[0], X.shape[1], past, X.device)  # (batch, steps)
        Y = self.addnorm1(X, self.attention1.attend(X, K, V, causal))
        Z = self.addnorm2(Y, self.attention2.attend(Y, enc_K, enc_V, enc_valid_lens))
        return self.addnorm3(Z, self.ffn(Z)), (K, V, enc_K, enc_V)  # (batch, steps, d), cache


class TransformerDecoder(Decoder):
    """Target embedding (initialised and scaled as `TransformerEncoder`'s), sinusoidal
    positions (counted from the cache, so a token decoded alone gets its true position),
    `num_layers` decoder blocks, and a linear layer to the vocabulary.

    State: `init_state(enc_outputs, enc_valid_lens)` -> (enc_outputs, enc_valid_lens, cache),
    the cache a list with one key-value cache per layer (None before the first call; see
    `TransformerDecoderBlock`); `forward(Y, state)` returns a new state whose caches hold every
    position fed so far. Feed a whole target
    (teacher forcing) or one token at a time (decoding): the outputs are the same.

    After each call, `cross_attention_weights` and `self_attention_weights` list every layer's
    weights, and `attention_weights` is the last layer's cross-attention averaged over its heads,
    (batch, steps, src_steps): the layout of `Seq2SeqAttentionDecoder`, so `greedy_decode`
    returns it as a (decoding steps, src_steps) tensor. For one head or one layer of a
    translation, replay its tokens teacher-forced and read `cross_attention_weights`.

    Shape:
        Y: (batch, steps) token indices -> logits (batch, steps, vocab_size).
        `cross_attention_weights`: num_layers tensors (batch, num_heads, steps, src_steps);
        `self_attention_weights`: num_layers tensors (batch, num_heads, steps, past + steps).

    Example:
        >>> encoder = TransformerEncoder(10, 8, 16, num_heads=2, num_layers=2, dropout=0.0)
        >>> decoder = TransformerDecoder(12, 8, 16, num_heads=2, num_layers=2, dropout=0.0)
        >>> X, valid_lens, Y = torch.randint(10, (3, 6)), torch.tensor([6, 2, 4]), \\
        ...     torch.randint(12, (3, 5))
        >>> state = decoder.init_state(encoder(X, valid_lens), valid_lens)
        >>> logits, _ = decoder(Y, state)                      # teacher forcing
        >>> steps = []
        >>> for t in range(5):                                  # one token at a time
        ...     step_logits, state = decoder(Y[:, t:t + 1], state)
        ...     steps.append(step_logits)
        >>> tuple(logits.shape), torch.allclose(torch.cat(steps, 1), logits, atol=1e-5)
        ((3, 5, 12), True)
        >>> tuple(decoder.cross_attention_weights[-1].shape)  # the last step's
        (3, 2, 1, 6)
    """

    def __init__(self, vocab_size: int, num_hiddens: int, ffn_num_hiddens: int, num_heads: int,
                 num_layers: int, dropout: float, max_len: int = 1000):
        super().__init__()
        self.num_hiddens, self.num_layers = num_hiddens, num_layers
        self.embedding, self.pos_encoding = _embedding(vocab_size, num_hiddens, dropout, max_len)
        self.blocks = nn.ModuleList([
            TransformerDecoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout)
            for _ in range(num_layers)])
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.self_attention_weights: list[torch.Tensor] = []
        self.cross_attention_weights: list[torch.Tensor] = []
        self.attention_weights: torch.Tensor | None = None

    def init_state(self, enc_outputs: torch.Tensor, enc_valid_lens: torch.Tensor | None):
        return enc_outputs, enc_valid_lens, [None] * self.num_layers

    def forward(self, Y: torch.Tensor, state):
        enc_outputs, enc_valid_lens, cache = state
        past = 0 if cache[0] is None else cache[0][0].shape[1]  # positions in the K cache
        P = self.pos_encoding.P
        if past + Y.shape[1] > P.shape[1]:
            raise ValueError(f"TransformerDecoder(): position {past + Y.shape[1] - 1} is past "
                             f"max_len={P.shape[1]}; raise max_len")
        H = self.embedding(Y) * math.sqrt(self.num_hiddens)  # (batch, steps, num_hiddens)
        H = self.pos_encoding.dropout(H + P[:, past:past + Y.shape[1]].to(H.dtype))
        new_cache = []
        for block, block_cache in zip(self.blocks, cache, strict=True):
            H, block_cache = block(H, enc_outputs, enc_valid_lens, block_cache)
            new_cache.append(block_cache)
        self.self_attention_weights = [b.attention1.attention_weights for b in self.blocks]
        self.cross_attention_weights = [b.attention2.attention_weights for b in self.blocks]
        self.attention_weights = self.cross_attention_weights[-1].mean(dim=1)  # (b, steps, src)
        return self.dense(H), (enc_outputs, enc_valid_lens, new_cache)  # (batch, steps, vocab)
