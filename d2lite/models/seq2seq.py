"""Sequence to sequence with recurrent networks (chapter 5): the encoder-decoder interface, a GRU
encoder and decoder, padding helpers, the masked cross-entropy and greedy decoding; chapter 6's
GRU decoder with Bahdanau attention plugs into the same interface. No beam search."""
from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from d2lite.data import train_val_split
from d2lite.models.attention import AdditiveAttention
from d2lite.text import Vocab, truncate_pad

__all__ = ["Decoder", "Encoder", "EncoderDecoder", "Seq2SeqAttentionDecoder", "Seq2SeqDecoder",
           "Seq2SeqEncoder",
           "greedy_decode", "masked_cross_entropy", "pad_sequences", "sequence_mask",
           "shift_right", "split_by_source"]


def sequence_mask(valid_lens: torch.Tensor, num_steps: int) -> torch.Tensor:
    """True at the valid positions: position t of row i is valid when t < valid_lens[i].

    Shape:
        valid_lens: (batch,) -> mask (batch, num_steps), bool.

    Example:
        >>> sequence_mask(torch.tensor([1, 3]), 4)
        tensor([[ True, False, False, False],
                [ True,  True,  True, False]])
    """
    steps = torch.arange(num_steps, device=valid_lens.device)
    return steps[None, :] < valid_lens[:, None]  # (1, steps) < (batch, 1) -> (batch, steps)


def pad_sequences(sequences: Sequence[Sequence[str]], vocab: Vocab, num_steps: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists -> `(ids, valid_lens)`: each list gets `<eos>`, then is cut or padded with
    `<pad>` to `num_steps` indices; its valid length counts the tokens up to `<eos>` included.

    `vocab` must hold `<pad>` and `<eos>` (and `<bos>` for `shift_right`) as reserved tokens.

    Shape:
        ids: (len(sequences), num_steps) int64; valid_lens: (len(sequences),) int64.

    Example:
        >>> reserved = ["<pad>", "<bos>", "<eos>"]
        >>> vocab = Vocab([["il", "est", "calme", "."]], reserved_tokens=reserved)
        >>> ids, valid_lens = pad_sequences([["il", "est", "calme", "."], ["calme"]], vocab, 5)
        >>> vocab.to_tokens(ids[1]), valid_lens.tolist()
        (['calme', '<eos>', '<pad>', '<pad>', '<pad>'], [5, 2])
    """
    missing = [t for t in ("<pad>", "<eos>") if vocab[t] == vocab.unk]
    if missing:
        raise ValueError(f"pad_sequences(): the vocabulary has no {' or '.join(missing)}; build "
                         "it with reserved_tokens=['<pad>', '<bos>', '<eos>']")
    eos, pad = vocab["<eos>"], vocab["<pad>"]
    ids = [truncate_pad(vocab[list(seq)] + [eos], num_steps, pad) for seq in sequences]
    valid_lens = [min(len(seq) + 1, num_steps) for seq in sequences]
    return torch.tensor(ids, dtype=torch.int64), torch.tensor(valid_lens, dtype=torch.int64)


def shift_right(Y: torch.Tensor, bos_id: int) -> torch.Tensor:
    """The decoder's inputs under teacher forcing: `<bos>`, then the labels but the last.

    Shape:
        Y: (batch, num_steps) labels -> (batch, num_steps) inputs.

    Example:
        >>> shift_right(torch.tensor([[7, 8, 3]]), bos_id=2)
        tensor([[2, 7, 8]])
    """
    bos = torch.full_like(Y[:, :1], bos_id)  # (batch, 1)
    return torch.cat([bos, Y[:, :-1]], dim=1)  # (batch, num_steps)


def split_by_source(pairs: Sequence[tuple[list[str], list[str]]], fraction: float = 0.15,
                    seed: int = 0, keep_in_train: Collection[str] = ()) -> dict[str, list]:
    """Split `(source, target)` token-list pairs into train, validation and test by source sentence,
    so that no held-out sentence has a translation in training: the test split gets `fraction` of
    the distinct source sentences, validation `fraction` of the rest (two seeded
    `d2lite.data.train_val_split`s); sentences in `keep_in_train` (joined by spaces) stay in
    training. The chapter-5 seq2seq lesson builds this in its cells.

    Example:
        >>> words = ["go", "go", "hi", "run", "stop", "wait", "help"]
        >>> pairs = [([w, "."], [f"{w}!"]) for w in words]   # "go ." twice
        >>> splits = split_by_source(pairs, fraction=0.4, keep_in_train={"go ."})
        >>> {name: len(p) for name, p in splits.items()}
        {'train': 4, 'val': 1, 'test': 2}
    """
    sentences = list(dict.fromkeys(" ".join(src) for src, _ in pairs))   # distinct, in order
    ids = torch.tensor([i for i, s in enumerate(sentences) if s not in keep_in_train])
    (rest, _), (test_ids, _) = train_val_split(ids, ids.float(), fraction, seed=seed)
    (_, _), (val_ids, _) = train_val_split(rest, rest.float(), fraction, seed=seed)
    split_of = {sentences[i]: "val" for i in val_ids.tolist()}
    split_of.update({sentences[i]: "test" for i in test_ids.tolist()})
    splits: dict[str, list] = {"train": [], "val": [], "test": []}
    for src, tgt in pairs:
        splits[split_of.get(" ".join(src), "train")].append((src, tgt))
    return splits


class Encoder(nn.Module):
    """The encoder interface: `forward(X, valid_lens) -> enc_outputs`, whatever the matching
    decoder's `init_state` reads (for `Seq2SeqEncoder`: every step's outputs and the final state).

    Shape:
        X: (batch, num_steps) token indices; valid_lens: (batch,) lengths without padding.

    Example:
        >>> issubclass(Seq2SeqEncoder, Encoder)
        True
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
        >>> issubclass(Seq2SeqDecoder, Decoder)
        True
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


def masked_cross_entropy(logits: torch.Tensor, Y: torch.Tensor,
                         valid_lens: torch.Tensor | None = None, *,
                         pad_id: int | None = None) -> torch.Tensor:
    """Mean cross-entropy over the valid tokens only; padding counts for nothing.

    Give the valid lengths or the padding index (positions where `Y == pad_id` are masked).
    The mean is per token, so its exponential is the perplexity of the valid tokens.

    Shape:
        logits: (batch, num_steps, vocab); Y: (batch, num_steps); valid_lens: (batch,).

    Example:
        >>> logits, Y = torch.zeros(2, 3, 5), torch.tensor([[1, 2, 0], [3, 0, 0]])
        >>> logits[1, 1:, 0] = 100.0   # wrong scores, but at padded positions: no effect
        >>> a = masked_cross_entropy(logits, Y, torch.tensor([3, 1]))
        >>> b = masked_cross_entropy(logits, Y, pad_id=0)
        >>> round(a.exp().item(), 4), bool(a == b)   # uniform over 5 tokens: perplexity 5
        (5.0, True)
    """
    if (valid_lens is None) == (pad_id is None):
        raise ValueError("masked_cross_entropy(): give exactly one of valid_lens and pad_id; "
                         f"got valid_lens={'None' if valid_lens is None else 'a tensor'}, "
                         f"pad_id={pad_id!r}")
    if logits.shape[:2] != Y.shape:
        raise ValueError(f"masked_cross_entropy(): logits {tuple(logits.shape)} do not match "
                         f"labels {tuple(Y.shape)}; expected (batch, num_steps, vocab) and "
                         "(batch, num_steps)")
    mask = sequence_mask(valid_lens, Y.shape[1]) if pad_id is None else Y != pad_id
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1),
                             reduction="none").reshape(Y.shape)  # (batch, num_steps)
    return losses.masked_fill(~mask, 0.0).sum() / mask.sum().clamp(min=1)


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
