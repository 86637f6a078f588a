"""The encoder-decoder interface that chapter 5's GRUs and chapter 6's Transformer share:
`Encoder`, `Decoder`, `EncoderDecoder` joining them, and `greedy_decode` for any such pair."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from d2lite.text import Vocab, pad_sequences

__all__ = ["Decoder", "Encoder", "EncoderDecoder", "greedy_decode"]


class Encoder(nn.Module):
    """The encoder interface: `forward(X, valid_lens) -> enc_outputs`, whatever the matching
    decoder's `init_state` reads (for `Seq2SeqEncoder`: every step's outputs and the final state).

    Shape:
        X: (batch, num_steps) token indices; valid_lens: (batch,) lengths without padding.

    Example:
        >>> Encoder()(torch.zeros(1, 3, dtype=torch.int64), torch.tensor([3]))
        Traceback (most recent call last):
        ...
        NotImplementedError: Encoder must define forward(X, valid_lens)
    """

    def __init__(self):  # no arguments: subclasses name their own
        super().__init__()

    def forward(self, X: torch.Tensor, valid_lens: torch.Tensor):
        raise NotImplementedError(f"{type(self).__name__} must define forward(X, valid_lens)")


class Decoder(nn.Module):
    """The decoder interface: `init_state(enc_outputs, valid_lens) -> state`, then
    `forward(Y, state) -> (logits, state)`, run over a whole target at once (teacher forcing) or
    one token at a time (decoding), carrying `state` from call to call.

    Shape:
        Y: (batch, num_steps) token indices -> logits (batch, num_steps, vocab_size).

    Example:
        >>> Decoder().init_state(None, torch.tensor([3]))
        Traceback (most recent call last):
        ...
        NotImplementedError: Decoder must define init_state(enc_outputs, valid_lens)
    """

    def __init__(self):  # no arguments: subclasses name their own
        super().__init__()

    def init_state(self, enc_outputs, valid_lens: torch.Tensor):
        raise NotImplementedError(f"{type(self).__name__} must define init_state(enc_outputs, "
                                  "valid_lens)")

    def forward(self, Y: torch.Tensor, state):
        raise NotImplementedError(f"{type(self).__name__} must define forward(Y, state)")


class EncoderDecoder(nn.Module):
    """An encoder and a decoder joined: encode X, start the decoder's state from the encoding,
    decode Y. Returns the logits only, so `d2lite.fit` can train it with `((X, Y_in,
    valid_lens), labels)` batches.

    Shape:
        X: (batch, src_steps); Y: (batch, tgt_steps) decoder inputs; valid_lens: (batch,)
        source lengths -> logits (batch, tgt_steps, tgt_vocab_size).

    Example:
        >>> from d2lite.models.seq2seq import Seq2SeqDecoder, Seq2SeqEncoder
        >>> net = EncoderDecoder(Seq2SeqEncoder(10, 8, 16, 2), Seq2SeqDecoder(12, 8, 16, 2))
        >>> X, Y = torch.randint(10, (4, 7)), torch.randint(12, (4, 5))
        >>> tuple(net(X, Y, torch.tensor([7, 3, 1, 5])).shape)
        (4, 5, 12)
    """

    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, X: torch.Tensor, Y: torch.Tensor, valid_lens: torch.Tensor) -> torch.Tensor:
        state = self.decoder.init_state(self.encoder(X, valid_lens), valid_lens)
        return self.decoder(Y, state)[0]


@torch.no_grad()
def greedy_decode(net: EncoderDecoder, src_tokens: str | Sequence[str], src_vocab: Vocab,
                  tgt_vocab: Vocab, num_steps: int, device: torch.device | str | None = None):
    """Translate one sentence: encode it, then feed the decoder `<bos>` and, at every step, the
    likeliest token of the step before, until it emits `<eos>` or `num_steps` tokens.

    Returns `(tokens, attention)`: the output tokens without `<eos>`, and, for a decoder that
    sets `attention_weights` at every step (chapter 6), those weights stacked into a
    (decoding steps, src_steps) tensor, `<eos>`'s step included; None otherwise. `src_tokens`
    is a token list or a str split at whitespace. The network runs in eval mode (no dropout)
    and returns to its previous mode.

    Example:
        >>> from d2lite.models.seq2seq import Seq2SeqDecoder, Seq2SeqEncoder
        >>> vocab = Vocab([["a", "b", "c"]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
        >>> _ = torch.manual_seed(0)
        >>> net = EncoderDecoder(Seq2SeqEncoder(len(vocab), 4, 8, 1),
        ...                      Seq2SeqDecoder(len(vocab), 4, 8, 1))
        >>> tokens, attention = greedy_decode(net, "a b", vocab, vocab, num_steps=6)
        >>> len(tokens) <= 6 and "<eos>" not in tokens, attention
        (True, None)
    """
    was_training = net.training
    net.eval()
    device = device or next(net.parameters()).device
    src_tokens = src_tokens.split() if isinstance(src_tokens, str) else list(src_tokens)
    X, valid_lens = (t.to(device) for t in pad_sequences([src_tokens], src_vocab, num_steps))
    state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
    Y = torch.tensor([[tgt_vocab["<bos>"]]], device=device)  # (1, 1)
    tokens, attention = [], []
    for _ in range(num_steps):
        logits, state = net.decoder(Y, state)  # (1, 1, vocab)
        Y = logits.argmax(dim=-1)  # (1, 1): the likeliest token is the next input
        if getattr(net.decoder, "attention_weights", None) is not None:
            attention.append(net.decoder.attention_weights.reshape(-1))  # (src_steps,)
        token = tgt_vocab.to_tokens(int(Y))
        if token == "<eos>":
            break
        tokens.append(token)
    net.train(was_training)
    return tokens, (torch.stack(attention) if attention else None)
