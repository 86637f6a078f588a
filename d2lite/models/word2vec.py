"""Skip-gram word vectors trained with negative sampling (chapter 5): the model, its training
examples (subsampling, random windows, noise words), its loss, and cosine nearest neighbours.
No CBOW, no hierarchical softmax."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["SkipGram", "nearest", "skipgram_examples", "skipgram_loss"]


class SkipGram(nn.Module):
    """Skip-gram scores: the dot product of a center word's vector with each context word's.

    Every word has two vectors: `center.weight[i]` (v_i, used when word i is the center; these
    are the word vectors you keep) and `context.weight[i]` (u_i, used when it is a context or
    noise word). `forward` returns the logits u_o^T v_c; sigmoid of one is the model's
    probability that o really occurred near c. Initialised as Mikolov's word2vec.c does: center
    vectors uniform in [-0.5/embed_size, 0.5/embed_size], context vectors zero, so every logit
    starts at 0 (probability 1/2, loss ln 2).

    Shape:
        centers: (batch,) int64 word ids; contexts: (batch, K) int64 word ids.
        Returns logits (batch, K): `logits[b, k] = context(contexts[b, k]) . center(centers[b])`.

    Example:
        >>> net = SkipGram(vocab_size=10, embed_size=4)
        >>> logits = net(torch.tensor([1, 2]), torch.tensor([[3, 4, 5], [6, 7, 8]]))
        >>> tuple(logits.shape), logits.abs().max().item()
        ((2, 3), 0.0)
    """

    def __init__(self, vocab_size: int, embed_size: int):
        super().__init__()
        self.center = nn.Embedding(vocab_size, embed_size)
        self.context = nn.Embedding(vocab_size, embed_size)
        with torch.no_grad():
            self.center.weight.uniform_(-0.5 / embed_size, 0.5 / embed_size)
            self.context.weight.zero_()

    def forward(self, centers: torch.Tensor, contexts: torch.Tensor) -> torch.Tensor:
        v = self.center(centers)             # (batch, embed_size)
        u = self.context(contexts)           # (batch, K, embed_size)
        return (u @ v.unsqueeze(2)).squeeze(2)  # (batch, K, 1) -> (batch, K)


def _subsample(tokens: torch.Tensor, counts: torch.Tensor, t: float,
               generator: torch.Generator) -> torch.Tensor:
    """Mikolov's rule: keep each occurrence of word w with probability min(1, sqrt(t / f(w)))."""
    freqs = counts[tokens] / counts.sum()
    return torch.rand(len(tokens), generator=generator) < (t / freqs).sqrt()


def skipgram_examples(corpus: list[list[int]], window: int, num_negatives: int, seed: int = 0,
                      subsample: float = 1e-4
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training rows for skip-gram with negative sampling: one (center, context) pair plus
    `num_negatives` noise words per row, as in the loss of Mikolov et al. (2013).

    Steps, all drawn from one generator seeded with `seed`:
    1. drop id 0 (the vocabulary's `<unk>`) and count the words: f(w) = count / total;
    2. subsample: keep each occurrence with probability min(1, sqrt(subsample / f(w))),
       so frequent words such as "the" lose most of their occurrences and rare ones none;
    3. give each remaining token a window radius r drawn uniformly from 1..window, and pair it
       (as center) with every token of its own sentence at most r positions away;
    4. draw `num_negatives` noise words per pair from counts ** 0.75 (step 1's counts), and
       redraw any noise word equal to the row's center or to its true context.

    Rows are ordered by distance (all distance-1 pairs first); shuffle them for training.

    Shape:
        corpus: sentences of word ids (index 0 = `<unk>`).
        Returns centers (N,), contexts (N, 1 + num_negatives) (the true context first, then the
        noise words), labels (N, 1 + num_negatives) (1 in column 0, else 0), and mask
        (N, 1 + num_negatives). Every row has the same width, so the mask is all ones; it is
        there for `skipgram_loss`, which also takes padded rows of unequal length.

    Example:
        >>> corpus = [[1, 2, 3, 4, 5, 6], [7, 8, 9]]  # subsample=1.0 keeps every word here
        >>> centers, contexts, labels, mask = skipgram_examples(corpus, 2, 3, subsample=1.0)
        >>> tuple(contexts.shape), centers[:5].tolist(), contexts[:5, 0].tolist()
        ((17, 4), [1, 2, 3, 4, 5], [2, 3, 4, 5, 6])
        >>> labels[0].tolist(), bool((contexts[:, 1:] != centers[:, None]).all())
        ([1, 0, 0, 0], True)
    """
    if window < 1 or num_negatives < 0:
        raise ValueError(f"skipgram_examples(): got window={window}, num_negatives="
                         f"{num_negatives}; expected window >= 1 and num_negatives >= 0")
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.tensor([token for sentence in corpus for token in sentence], dtype=torch.long)
    sentence_ids = torch.repeat_interleave(torch.tensor([len(s) for s in corpus]))
    known = tokens != 0                                   # step 1: drop <unk>
    tokens, sentence_ids = tokens[known], sentence_ids[known]
    counts = torch.bincount(tokens).float()               # (vocab_size,); counts[0] = 0
    kept = _subsample(tokens, counts, subsample, generator)  # step 2
    tokens, sentence_ids = tokens[kept], sentence_ids[kept]
    radius = torch.randint(1, window + 1, (len(tokens),), generator=generator)  # step 3
    centers, positives = [], []
    for distance in range(1, window + 1):
        left = torch.arange(len(tokens) - distance)  # pairs (left, left + distance)
        right = left + distance
        same = sentence_ids[left] == sentence_ids[right]
        for center, context in ((left, right), (right, left)):
            pair = same & (radius[center] >= distance)
            centers.append(tokens[center[pair]])
            positives.append(tokens[context[pair]])
    centers, positives = torch.cat(centers), torch.cat(positives)
    noise = counts ** 0.75                                # step 4
    negatives = torch.multinomial(noise, len(centers) * num_negatives, replacement=True,
                                  generator=generator).view(len(centers), num_negatives)
    clash = (negatives == centers[:, None]) | (negatives == positives[:, None])
    while clash.any():
        negatives[clash] = torch.multinomial(noise, int(clash.sum()), replacement=True,
                                             generator=generator)
        clash = (negatives == centers[:, None]) | (negatives == positives[:, None])
    contexts = torch.cat([positives[:, None], negatives], dim=1)  # (N, 1 + num_negatives)
    labels = torch.zeros_like(contexts)
    labels[:, 0] = 1
    return centers, contexts, labels, torch.ones_like(contexts)


def skipgram_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the logits against the labels, averaged over entries where
    mask is 1 (padding, mask 0, counts for nothing).

    Shape:
        logits, labels, mask: (batch, K) (labels and mask 0/1, any dtype). Returns a scalar.

    Example:
        >>> logits = torch.tensor([[0.0, 0.0, 50.0]])
        >>> labels, mask = torch.tensor([[1, 0, 0]]), torch.tensor([[1, 1, 0]])
        >>> round(skipgram_loss(logits, labels, mask).item(), 4)  # ln 2: padding ignored
        0.6931
    """
    mask = mask.to(logits.dtype)
    losses = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype),
                                                reduction="none")
    return (losses * mask).sum() / mask.sum()


def nearest(embedding: torch.Tensor, vocab, word: str, k: int) -> list[tuple[str, float]]:
    """The k words whose vectors have the highest cosine similarity with `word`'s, best first,
    the word itself excluded.

    Shape:
        embedding: (vocab_size, embed_size), row i the vector of `vocab.to_tokens(i)`.
        Returns k `(token, cosine)` pairs.

    Example:
        >>> from d2lite.text import Vocab
        >>> vocab = Vocab([["cat", "dog", "car"]])  # <unk>, cat, dog, car
        >>> E = torch.tensor([[0.0, 0.0], [1.0, 0.1], [0.9, 0.2], [-1.0, 1.0]])
        >>> [(token, round(cos, 3)) for token, cos in nearest(E, vocab, "cat", 2)]
        [('dog', 0.993), ('<unk>', 0.0)]
    """
    if word not in vocab.token_to_idx:
        raise ValueError(f"nearest(): {word!r} is not in the vocabulary; pass a word it holds")
    if not 0 < k < len(embedding):
        raise ValueError(f"nearest(): got k={k}; expected 1 <= k < {len(embedding)}")
    unit = F.normalize(embedding.detach().float(), dim=1)  # (vocab_size, embed_size), norm 1
    cosines = unit @ unit[vocab[word]]                     # (vocab_size,)
    cosines[vocab[word]] = -float("inf")                   # not the word itself
    values, indices = cosines.topk(k)
    return [(vocab.to_tokens(i), v) for i, v in zip(indices.tolist(), values.tolist(), strict=True)]
