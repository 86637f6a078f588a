"""Sequence to sequence with recurrent networks (chapter 5): a GRU encoder and decoder, and
chapter 6's GRU decoder with Bahdanau attention, all behind the interface of
`d2lite.models.encoder_decoder`."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from d2lite.models.attention import AdditiveAttention
from d2lite.models.encoder_decoder import Decoder, Encoder

__all__ = ["Seq2SeqAttentionDecoder", "Seq2SeqDecoder", "Seq2SeqEncoder"]


class Seq2SeqEncoder(Encoder):
    """Embedding, then a (multi-layer) GRU that reads each source up to its valid length.

    The sequences are packed (`pack_padded_sequence`), so the padding after a sentence changes
    nothing: the final state is the state after the sentence's last valid token (`<eos>`), and
    the outputs at padded positions are zeros. `dropout` acts between GRU layers, as in `nn.GRU`.

    Shape:
        X: (batch, num_steps) token indices; valid_lens: (batch,), each >= 1.
        Returns (outputs, state): outputs (batch, num_steps, num_hiddens) of the top layer,
        state (num_layers, batch, num_hiddens).

    Example:
        >>> encoder = Seq2SeqEncoder(vocab_size=10, embed_size=8, num_hiddens=16, num_layers=2)
        >>> outputs, state = encoder(torch.randint(10, (4, 7)), torch.tensor([7, 3, 1, 5]))
        >>> tuple(outputs.shape), tuple(state.shape), bool((outputs[1, 3:] == 0).all())
        ((4, 7, 16), (2, 4, 16), True)
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int,
                 dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, batch_first=True,
                          dropout=dropout)

    def forward(self, X: torch.Tensor, valid_lens: torch.Tensor):
        embs = self.embedding(X)  # (batch, num_steps, embed_size)
        packed = pack_padded_sequence(embs, valid_lens.cpu(), batch_first=True,
                                      enforce_sorted=False)
        outputs, state = self.rnn(packed)  # state: (num_layers, batch, num_hiddens)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=X.shape[1])
        return outputs, state  # (batch, num_steps, num_hiddens), zeros after valid_lens


class Seq2SeqDecoder(Decoder):
    """Embedding, a GRU and a linear layer to the target vocabulary, conditioned on the source
    twice: its hidden state starts from the encoder's final state, and the encoder's final
    top-layer state (the context) is concatenated to the embedding of every input token.

    Shape:
        init_state(enc_outputs, valid_lens) -> state = (context (batch, num_hiddens),
        hidden (num_layers, batch, num_hiddens)); the encoder's num_layers and num_hiddens
        must match. forward(Y (batch, num_steps), state) -> (logits (batch, num_steps,
        vocab_size), state with the new hidden and the same context).

    Example:
        >>> encoder, decoder = Seq2SeqEncoder(10, 8, 16, 2), Seq2SeqDecoder(12, 8, 16, 2)
        >>> X, valid_lens = torch.randint(10, (4, 7)), torch.tensor([7, 3, 1, 5])
        >>> state = decoder.init_state(encoder(X, valid_lens), valid_lens)
        >>> logits, (context, hidden) = decoder(torch.randint(12, (4, 5)), state)
        >>> tuple(logits.shape), tuple(context.shape), tuple(hidden.shape)
        ((4, 5, 12), (4, 16), (2, 4, 16))
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int,
                 dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, batch_first=True,
                          dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, valid_lens: torch.Tensor):
        _, enc_state = enc_outputs  # (num_layers, batch, num_hiddens)
        return enc_state[-1], enc_state  # context: the top layer's final state (batch, hiddens)

    def forward(self, Y: torch.Tensor, state):
        context, hidden = state
        embs = self.embedding(Y)  # (batch, num_steps, embed_size)
        context = context[:, None, :].expand(-1, Y.shape[1], -1)  # (batch, num_steps, hiddens)
        outputs, hidden = self.rnn(torch.cat([embs, context], dim=-1), hidden)
        return self.dense(outputs), (state[0], hidden)  # (batch, num_steps, vocab_size)


class Seq2SeqAttentionDecoder(Decoder):
    """A GRU decoder with Bahdanau attention (Bahdanau et al., 2015): at every step the top
    layer's previous hidden state queries the encoder's outputs with additive attention, masked
    by the source valid lengths, and the resulting context is concatenated to the input token's
    embedding. The hidden state starts from the encoder's final state, as in `Seq2SeqDecoder`.

    The steps run one at a time, since each query is the state the step before produced; a
    whole target (teacher forcing) and a token at a time (decoding) compute the same thing.
    After each call, `attention_weights` holds the weights of every step.

    Shape:
        init_state(enc_outputs, valid_lens) -> state = (enc_outputs (batch, src_steps,
        num_hiddens), hidden (num_layers, batch, num_hiddens), valid_lens (batch,)); the
        encoder's num_layers and num_hiddens must match. forward(Y (batch, num_steps), state)
        -> (logits (batch, num_steps, vocab_size), state with the new hidden);
        `attention_weights`: (batch, num_steps, src_steps), zero past each valid length.

    Example:
        >>> encoder = Seq2SeqEncoder(10, 8, 16, 2)
        >>> decoder = Seq2SeqAttentionDecoder(12, 8, 16, 2, dropout=0.0)
        >>> X, valid_lens = torch.randint(10, (4, 7)), torch.tensor([7, 3, 1, 5])
        >>> state = decoder.init_state(encoder(X, valid_lens), valid_lens)
        >>> logits, state = decoder(torch.randint(12, (4, 5)), state)
        >>> tuple(logits.shape), tuple(decoder.attention_weights.shape)
        ((4, 5, 12), (4, 5, 7))
        >>> decoder.attention_weights[1, :, 3:].abs().max().item()  # source 1 has 3 tokens
        0.0
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int,
                 dropout: float = 0.0):
        super().__init__()
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, batch_first=True,
                          dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.attention_weights: torch.Tensor | None = None

    def init_state(self, enc_outputs, valid_lens: torch.Tensor):
        outputs, hidden = enc_outputs  # (batch, src_steps, hiddens), (layers, batch, hiddens)
        return outputs, hidden, valid_lens

    def forward(self, Y: torch.Tensor, state):
        enc_outputs, hidden, valid_lens = state
        embs = self.embedding(Y)  # (batch, num_steps, embed_size)
        outputs, weights = [], []
        for t in range(Y.shape[1]):
            query = hidden[-1][:, None, :]  # (batch, 1, hiddens): the top layer's last state
            context = self.attention(query, enc_outputs, enc_outputs, valid_lens)  # (b, 1, h)
            weights.append(self.attention.attention_weights)  # (batch, 1, src_steps)
            x = torch.cat([embs[:, t:t + 1], context], dim=-1)  # (batch, 1, embed + hiddens)
            output, hidden = self.rnn(x, hidden)  # (batch, 1, hiddens)
            outputs.append(output)
        self.attention_weights = torch.cat(weights, dim=1)  # (batch, num_steps, src_steps)
        logits = self.dense(torch.cat(outputs, dim=1))  # (batch, num_steps, vocab_size)
        return logits, (enc_outputs, hidden, valid_lens)
