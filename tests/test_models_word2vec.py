"""d2lite.models.word2vec: SkipGram's logits against explicit dot products, the training rows of
skipgram_examples (shapes, windows, seeded draws, noise words, subsampling), the masked loss
against torch's BCE, and nearest's cosine ranking."""
import collections
import math

import pytest
import torch
from torch.nn import functional as F

from d2lite.models import SkipGram, nearest, skipgram_examples, skipgram_loss
from d2lite.text import Vocab


def zipf_corpus(num_sentences=300, length=12, vocab_size=50, seed=0):
    """Sentences of ids 1..vocab_size-1 drawn with probability ~ 1/id (id 1 the most frequent)."""
    generator = torch.Generator().manual_seed(seed)
    weights = 1 / torch.arange(1, vocab_size, dtype=torch.float)
    draws = torch.multinomial(weights, num_sentences * length, replacement=True,
                              generator=generator) + 1
    return draws.view(num_sentences, length).tolist()


def test_skipgram_logits_are_dot_products_of_center_and_context_vectors():
    torch.manual_seed(0)
    net = SkipGram(vocab_size=20, embed_size=6)
    torch.nn.init.normal_(net.context.weight)
    centers, contexts = torch.tensor([3, 7]), torch.tensor([[1, 2, 3], [4, 5, 19]])
    logits = net(centers, contexts)
    assert logits.shape == (2, 3)
    for b in range(2):
        for k in range(3):
            expected = net.context.weight[contexts[b, k]] @ net.center.weight[centers[b]]
            torch.testing.assert_close(logits[b, k], expected)


def test_skipgram_starts_at_probability_one_half():
    net = SkipGram(vocab_size=30, embed_size=10)
    assert net.center.weight.abs().max() <= 0.05 and net.context.weight.abs().max() == 0
    logits = net(torch.arange(4), torch.arange(12).view(4, 3))
    labels = torch.tensor([[1, 0, 0]] * 4)
    assert skipgram_loss(logits, labels, torch.ones_like(labels)).item() == pytest.approx(
        math.log(2))


def test_examples_shapes_labels_and_pairs_within_the_window():
    corpus = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11]]  # every id once: positions are known
    centers, contexts, labels, mask = skipgram_examples(corpus, window=2, num_negatives=4,
                                                        subsample=1.0)
    n = len(centers)
    assert contexts.shape == labels.shape == mask.shape == (n, 5)
    assert centers.dtype == contexts.dtype == torch.long
    assert labels[:, 0].eq(1).all() and labels[:, 1:].eq(0).all() and mask.eq(1).all()
    position = {token: (s, i) for s, sentence in enumerate(corpus)
                for i, token in enumerate(sentence)}
    for center, context in zip(centers.tolist(), contexts[:, 0].tolist(), strict=True):
        (s1, i1), (s2, i2) = position[center], position[context]
        assert s1 == s2 and 1 <= abs(i1 - i2) <= 2  # same sentence, within the window
    # radius 1 pairs always exist: every neighbour pair appears in both directions
    pairs = set(zip(centers.tolist(), contexts[:, 0].tolist(), strict=True))
    for sentence in corpus:
        for a, b in zip(sentence[:-1], sentence[1:], strict=True):
            assert (a, b) in pairs and (b, a) in pairs


def test_examples_are_seeded():
    corpus = zipf_corpus()
    first = skipgram_examples(corpus, window=3, num_negatives=5, seed=1, subsample=1e-2)
    again = skipgram_examples(corpus, window=3, num_negatives=5, seed=1, subsample=1e-2)
    other = skipgram_examples(corpus, window=3, num_negatives=5, seed=2, subsample=1e-2)
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a, b)
    assert any(a.shape != b.shape or not torch.equal(a, b)
               for a, b in zip(first, other, strict=True))


def test_negatives_avoid_the_center_and_the_true_context_and_follow_counts():
    corpus = zipf_corpus(num_sentences=500)
    centers, contexts, _, _ = skipgram_examples(corpus, window=2, num_negatives=5,
                                                subsample=1.0)
    negatives = contexts[:, 1:]
    assert (negatives != centers[:, None]).all()
    assert (negatives != contexts[:, :1]).all()
    assert (negatives != 0).all()  # <unk> is never drawn
    # id 1 is ~40x more frequent than id 40, so drawn ~40**0.75 = 16x more often (fewer here,
    # as id 1 is often the row's center or context and then redrawn)
    drawn = torch.bincount(negatives.flatten(), minlength=50).float()
    assert 5 < drawn[1] / drawn[40] < 30


def test_unk_is_dropped():
    centers, contexts, _, _ = skipgram_examples([[0, 1, 0, 2, 3]], window=1, num_negatives=2,
                                                subsample=1.0)
    assert 0 not in centers.tolist() and 0 not in contexts.flatten().tolist()
    # with the <unk> gone, 1 and 2 are neighbours
    assert (1, 2) in set(zip(centers.tolist(), contexts[:, 0].tolist(), strict=True))


def test_subsampling_drops_frequent_words_more():
    corpus = [sum(zipf_corpus(num_sentences=10000), [])]  # one long sentence
    before = collections.Counter(corpus[0])
    centers, _, _, _ = skipgram_examples(corpus, window=1, num_negatives=1, subsample=1e-3)
    # with window 1 in one sentence, each kept token is the center of two rows (ends: one)
    after = torch.bincount(centers, minlength=50).float() / 2
    kept_share = {w: after[w].item() / before[w] for w in (1, 2, 10)}
    assert kept_share[1] < kept_share[2] < kept_share[10] < 1
    # Mikolov's rule keeps w with probability sqrt(t / f(w)) when below 1
    assert kept_share[1] / kept_share[10] == pytest.approx(math.sqrt(before[10] / before[1]),
                                                           rel=0.1)


def test_examples_reject_a_bad_window():
    with pytest.raises(ValueError, match=r"skipgram_examples\(\): got window=0"):
        skipgram_examples([[1, 2]], window=0, num_negatives=1)


def test_loss_is_masked_mean_of_binary_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(4, 6)
    labels = torch.randint(0, 2, (4, 6))
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] * 5 + [0], [1] * 2 + [0] * 4])
    expected = F.binary_cross_entropy(torch.sigmoid(logits[mask.bool()]),
                                      labels[mask.bool()].float())
    torch.testing.assert_close(skipgram_loss(logits, labels, mask), expected)
    # padding may hold anything
    padded = logits.masked_fill(mask == 0, 1e4)
    torch.testing.assert_close(skipgram_loss(padded, labels, mask), expected)


def test_nearest_ranks_by_cosine_and_excludes_the_word():
    vocab = Vocab([["a", "b", "c", "d"]])  # <unk>, a, b, c, d
    E = torch.tensor([[0.0, 1.0], [1.0, 0.0], [10.0, 1.0], [-1.0, 0.0], [1.0, 1.0]])
    result = nearest(E, vocab, "a", 3)
    assert [token for token, _ in result] == ["b", "d", "<unk>"]
    assert result[0][1] == pytest.approx(10 / math.sqrt(101))
    assert result[1][1] == pytest.approx(1 / math.sqrt(2))
    with pytest.raises(ValueError, match=r"nearest\(\): 'zzz' is not in the vocabulary"):
        nearest(E, vocab, "zzz", 2)
