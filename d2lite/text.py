"""Text tools in plain Python and tensors: tokenize, Vocab, language-model minibatches, padding
(truncate_pad, pad_sequences, sequence_mask, shift_right), a bigram baseline and BLEU. BERT's
tokenizer is `d2lite.wordpiece`; `d2lite.data`'s loaders do the cleaning of each dataset."""
from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Iterator, Sequence

import torch

from d2lite.variation import training_seed

__all__ = ["Vocab", "bigram_guess", "bleu", "pad_sequences", "random_lm_batches",
           "sequence_mask", "sequential_lm_batches", "shift_right", "tokenize", "truncate_pad"]


def tokenize(lines: Sequence[str], token: str = "word") -> list[list[str]]:
    """Split each line into tokens: words (split at whitespace) or single characters.

    Example:
        >>> tokenize(["the time machine", ""], token="word")
        [['the', 'time', 'machine'], []]
        >>> tokenize(["abc"], token="char")
        [['a', 'b', 'c']]
    """
    if isinstance(lines, str):
        raise TypeError("tokenize(): got one str; pass a list of lines, e.g. tokenize([text])")
    if token not in ("word", "char"):
        raise ValueError(f"tokenize(): got token={token!r}; expected 'word' or 'char'")
    return [line.split() if token == "word" else list(line) for line in lines]


class Vocab:
    """A vocabulary: maps tokens to indices and back, most frequent tokens first.

    Index 0 is `<unk>`, which every unknown token maps to; then come `reserved_tokens` (e.g.
    `<pad>`, `<bos>`, `<eos>`), then the tokens seen at least `min_freq` times, by falling
    frequency (ties in order of first appearance). `token_freqs` lists `(token, count)` pairs.

    Example:
        >>> vocab = Vocab([["a", "b", "a"], ["c"]], reserved_tokens=["<pad>"])
        >>> len(vocab), vocab["a"], vocab[["c", "zzz"]], vocab.to_tokens([2, 0])
        (5, 2, [4, 0], ['a', '<unk>'])
    """

    def __init__(self, tokens: Iterable = (), min_freq: int = 0,
                 reserved_tokens: Sequence[str] = ()):
        tokens = list(tokens)
        if tokens and not isinstance(tokens[0], str):  # a list of lines
            tokens = [token for line in tokens for token in line]
        counts = collections.Counter(tokens)
        self.token_freqs = sorted(counts.items(), key=lambda pair: pair[1], reverse=True)
        self.token_to_idx = {"<unk>": 0}
        for token in [*reserved_tokens, *(t for t, freq in self.token_freqs if freq >= min_freq)]:
            self.token_to_idx.setdefault(token, len(self.token_to_idx))  # first place wins
        self.idx_to_token = list(self.token_to_idx)

    def __len__(self) -> int:
        return len(self.idx_to_token)

    @property
    def unk(self) -> int:
        """The index of `<unk>`: 0."""
        return 0

    def __getitem__(self, tokens):
        """Index of one token, or a list of indices for a list (of lists) of tokens."""
        if isinstance(tokens, str):
            return self.token_to_idx.get(tokens, self.unk)
        return [self[token] for token in tokens]

    def to_tokens(self, indices):
        """Token of one index, or a list of tokens for a list or 1-D tensor of indices."""
        indices = indices.tolist() if isinstance(indices, torch.Tensor) else indices
        if isinstance(indices, int):
            return self.idx_to_token[indices]
        return [self.to_tokens(index) for index in indices]


class LMBatches:
    """Re-iterable `(X, Y)` minibatches for a language model, both (batch_size, num_steps) int64.

    Y is X shifted one token to the right. Each pass starts at a random offset in
    `[0, num_steps)`. Random sampling takes subsequences in random order; sequential sampling
    lets row i of one batch continue row i of the previous batch, so a hidden state can be
    carried over. Every pass has the same `len()`.

    Which pass you get depends only on `seed` and the epoch, never on how often the object was
    iterated before: as with torch's `DistributedSampler`, every pass is epoch 0's until you call
    `set_epoch(e)` (`d2lite.fit` calls it at the start of every epoch). So two models trained or
    evaluated on the same object see the same minibatches. With `seed`, epoch e uses seed
    `seed + e` (shifted by the sweep's offset: `d2lite.variation.training_seed`); without one,
    every pass draws from torch's global generator.
    Made by `random_lm_batches` and `sequential_lm_batches`.

    Example:
        >>> data = LMBatches(list(range(20)), batch_size=2, num_steps=4, sequential=True, seed=0)
        >>> X, Y = next(iter(data)); X.shape, bool((Y == X + 1).all())
        (torch.Size([2, 4]), True)
        >>> X.equal(next(iter(data))[0])  # iterating again repeats the pass
        True
    """

    def __init__(self, corpus, batch_size: int, num_steps: int, sequential: bool,
                 seed: int | None = None, device: torch.device | str | None = None):
        name = "sequential_lm_batches" if sequential else "random_lm_batches"
        for arg, value in (("batch_size", batch_size), ("num_steps", num_steps)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}(): got {arg}={value!r}; expected an int >= 1")
        self.corpus = torch.as_tensor(corpus, dtype=torch.int64, device=device).reshape(-1)
        self.batch_size, self.num_steps, self.sequential = batch_size, num_steps, sequential
        self.seed, self.epoch = seed, 0
        usable = len(self.corpus) - num_steps  # room left after the largest random offset
        self.num_subseqs = usable // num_steps  # for random sampling
        self.row_len = usable // batch_size  # tokens per row, for sequential sampling
        if len(self) == 0:
            raise ValueError(f"{name}(): a corpus of {len(self.corpus)} tokens is too short for"
                             f" one batch of {batch_size} x {num_steps} (plus up to {num_steps} for"
                             " the random offset); use a longer corpus or smaller sizes")

    def __len__(self) -> int:
        return (self.row_len // self.num_steps if self.sequential
                else self.num_subseqs // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make every following pass epoch `epoch`'s (its offset and, if random, its order)."""
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"set_epoch(): got epoch={epoch!r}; expected an int >= 0")
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = None if self.seed is None else torch.Generator().manual_seed(
            training_seed(self.seed) + self.epoch)  # the sweep's offset shifts batch order
        offset = int(torch.randint(self.num_steps, (1,), generator=generator))
        B, T, device = self.batch_size, self.num_steps, self.corpus.device
        if self.sequential:
            n = B * self.row_len
            Xs = self.corpus[offset:offset + n].view(B, self.row_len)  # (batch, row_len)
            Ys = self.corpus[offset + 1:offset + 1 + n].view(B, self.row_len)
            for t in range(0, len(self) * T, T):
                yield Xs[:, t:t + T], Ys[:, t:t + T]
            return
        order = torch.randperm(self.num_subseqs, generator=generator).to(device)
        steps = torch.arange(T, device=device)
        for b in range(len(self)):
            starts = offset + T * order[b * B:(b + 1) * B]  # (batch,)
            positions = starts[:, None] + steps  # (batch, steps)
            yield self.corpus[positions], self.corpus[positions + 1]


def random_lm_batches(corpus, batch_size: int, num_steps: int, seed: int | None = None,
                      device: torch.device | str | None = None) -> LMBatches:
    """Random sampling: minibatches of non-overlapping subsequences taken in random order.

    Args:
        corpus: token indices, a list of ints or a 1-D tensor (e.g. `vocab[tokens]`).
        batch_size, num_steps: each X and Y has shape (batch_size, num_steps).
        seed: makes pass e repeatable (seed + e); None uses torch's global generator.

    Example:
        >>> data = random_lm_batches(list(range(35)), batch_size=2, num_steps=5, seed=0)
        >>> X, Y = next(iter(data)); bool((Y == X + 1).all()), tuple(X.shape)
        (True, (2, 5))
    """
    return LMBatches(corpus, batch_size, num_steps, sequential=False, seed=seed, device=device)


def sequential_lm_batches(corpus, batch_size: int, num_steps: int, seed: int | None = None,
                          device: torch.device | str | None = None) -> LMBatches:
    """Sequential partitioning: row i of each batch continues row i of the batch before.

    Same arguments and shapes as `random_lm_batches`.

    Example:
        >>> data = sequential_lm_batches(list(range(35)), batch_size=2, num_steps=5, seed=0)
        >>> (X1, _), (X2, _) = list(data)[:2]; bool((X2[:, 0] == X1[:, -1] + 1).all())
        True
    """
    return LMBatches(corpus, batch_size, num_steps, sequential=True, seed=seed, device=device)


def truncate_pad(line: Sequence, num_steps: int, padding_token) -> list:
    """Cut `line` to `num_steps` items, or pad it with `padding_token` up to that length.

    Example:
        >>> truncate_pad([5, 6, 7], 5, padding_token=1), truncate_pad([5, 6, 7], 2, 1)
        ([5, 6, 7, 1, 1], [5, 6])
    """
    if not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"truncate_pad(): got num_steps={num_steps!r}; expected an int >= 0")
    line = list(line)
    return line[:num_steps] + [padding_token] * (num_steps - len(line))


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


def bigram_guess(sentences: Iterable[Sequence[str]], max_tokens: int) -> list[str]:
    """The likeliest sentence under the bigram counts of `sentences`, decoded greedily: from
    `<bos>` take the most frequent next token until `<eos>` or `max_tokens` tokens. It is a
    translator that never reads its input, the baseline a translation's BLEU should beat.

    Example:
        >>> bigram_guess([["je", "suis", "là"], ["je", "suis", "tom"], ["il", "est", "là"]], 10)
        ['je', 'suis', 'là']
    """
    follow = collections.defaultdict(collections.Counter)  # token -> next-token counts
    for sentence in sentences:
        tokens = ["<bos>", *sentence, "<eos>"]
        for a, b in zip(tokens[:-1], tokens[1:], strict=True):
            follow[a][b] += 1
    if not follow:
        raise ValueError("bigram_guess(): got no sentences; pass the training targets, each a "
                         "list of tokens")
    words, token = [], "<bos>"
    while len(words) < max_tokens:
        token = follow[token].most_common(1)[0][0]
        if token == "<eos>":
            break
        words.append(token)
    return words


def bleu(pred: str | Sequence[str], label: str | Sequence[str], k: int = 4) -> float:
    """BLEU of one prediction against one label, as the book defines it (seed 004):

    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n),
    where p_n is the fraction of the prediction's n-grams found in the label (each label n-gram
    matches at most as often as it occurs there). The exponent 1/2**n lifts a small p_n more for
    larger n, so long n-grams weigh less than short ones. This is d2l's sentence-level variant,
    not the corpus-level BLEU papers report (geometric mean of p_1..p_4, counts and brevity
    penalty summed over the corpus, as sacreBLEU computes it). Strings are split at whitespace.
    A prediction with no n-grams of some order n <= k (shorter than k tokens) or with p_n = 0
    scores 0, as unsmoothed BLEU does.

    Example:
        >>> bleu("il est calme .", "il est calme .", k=2)
        1.0
        >>> round(bleu("il est .", "il est calme .", k=2), 3)   # exp(-1/3) * 1 * (1/2)**(1/4)
        0.603
    """
    pred_tokens = pred.split() if isinstance(pred, str) else list(pred)
    label_tokens = label.split() if isinstance(label, str) else list(label)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"bleu(): got k={k!r}; expected an int >= 1 (the longest n-gram)")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred < k:
        return 0.0
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        wanted = collections.Counter(tuple(label_tokens[i:i + n])
                                     for i in range(len_label - n + 1))
        found = collections.Counter(tuple(pred_tokens[i:i + n]) for i in range(len_pred - n + 1))
        matches = sum((found & wanted).values())  # each label n-gram matches at most its count
        score *= (matches / (len_pred - n + 1)) ** (0.5 ** n)
    return score
