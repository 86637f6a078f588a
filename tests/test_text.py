"""Tests for d2lite.text: tokenize, Vocab, the language-model samplers, truncate_pad and BLEU.

BLEU is checked against sacrebleu. The two differ on purpose in one place only: the book's BLEU
(seed 004) weighs p_n by 1/2**n, sacrebleu takes the geometric mean (weights 1/k). So we compare
(1) the scores where the definitions coincide (every p_n = 1: both equal the brevity penalty), and
(2) elsewhere, the book's formula evaluated on sacrebleu's own brevity penalty and clipped n-gram
precisions, which tests that our n-gram matching and brevity penalty equal sacrebleu's.
"""
import math
import random

import pytest
import torch
from sacrebleu.metrics import BLEU

import d2lite
from d2lite import text, wordpiece


def test_tokenize_words_and_chars():
    lines = ["the time  machine", "", "by h g wells"]
    assert text.tokenize(lines) == [["the", "time", "machine"], [], ["by", "h", "g", "wells"]]
    assert text.tokenize(["ab c"], token="char") == [["a", "b", " ", "c"]]
    with pytest.raises(ValueError, match=r"tokenize\(\): got token='letter'; expected 'word'"):
        text.tokenize(lines, token="letter")
    with pytest.raises(TypeError, match=r"got one str; pass a list of lines, e.g. tokenize\("):
        text.tokenize("the time machine")


def test_vocab_orders_by_frequency_with_unk_first():
    tokens = [["b", "a", "c", "a"], ["a", "b", "d"]]
    vocab = text.Vocab(tokens, reserved_tokens=["<pad>", "<bos>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "<bos>", "a", "b", "c", "d"]
    assert len(vocab) == 7 and vocab.unk == 0
    assert vocab.token_freqs == [("a", 3), ("b", 2), ("c", 1), ("d", 1)]  # ties: first seen
    assert vocab["a"] == 3 and vocab["never seen"] == 0
    assert vocab[["a", "zzz"]] == [3, 0] and vocab[[["a"], ["b", "c"]]] == [[3], [4, 5]]
    assert vocab.to_tokens(4) == "b" and vocab.to_tokens([3, 0]) == ["a", "<unk>"]
    assert vocab.to_tokens(torch.tensor([5, 6])) == ["c", "d"]
    assert vocab.to_tokens(vocab[["d", "a", "b"]]) == ["d", "a", "b"]  # round trip


def test_vocab_min_freq_and_duplicate_reserved_tokens():
    tokens = ["x", "x", "y", "z", "z", "z"]
    vocab = text.Vocab(tokens, min_freq=2, reserved_tokens=["<unk>", "<pad>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "z", "x"]
    assert vocab["y"] == 0
    assert len(text.Vocab()) == 1


def check_pairs(loader, corpus):
    for X, Y in loader:
        assert X.shape == Y.shape == (loader.batch_size, loader.num_steps)
        assert X.dtype == torch.int64
        assert torch.equal(Y, X + 1)  # corpus[i] == i, so "next token" is +1
        assert int(X.max()) + 1 < len(corpus) + 1


def test_random_sampler_shapes_targets_and_no_overlap():
    corpus = list(range(100))
    loader = text.random_lm_batches(corpus, batch_size=3, num_steps=5, seed=0)
    assert len(loader) == (100 - 5) // 5 // 3 == 6
    for _ in range(3):  # every pass: same length, subsequences never overlap
        batches = list(loader)
        assert len(batches) == 6
        check_pairs(loader, corpus)
        starts = torch.cat([X[:, 0] for X, _ in batches]).tolist()
        assert len(set(starts)) == len(starts)
        assert len({s % 5 for s in starts}) == 1  # one offset per pass


def test_sequential_sampler_rows_continue_across_batches():
    corpus = list(range(100))
    loader = text.sequential_lm_batches(corpus, batch_size=2, num_steps=5, seed=1)
    assert len(loader) == (100 - 5) // 2 // 5 == 9
    batches = list(loader)
    check_pairs(loader, corpus)
    for (X1, _), (X2, _) in zip(batches, batches[1:], strict=False):
        assert torch.equal(X2[:, 0], X1[:, -1] + 1)


def test_samplers_repeat_with_a_seed_and_explain_short_corpora():
    corpus = torch.arange(200)
    a = text.random_lm_batches(corpus, 4, 6, seed=7)
    b = text.random_lm_batches(corpus, 4, 6, seed=7)
    first_a = [X for X, _ in a]
    assert all(torch.equal(x, y) for x, y in zip(first_a, [X for X, _ in b], strict=True))
    a.set_epoch(1)
    assert not all(torch.equal(x, y) for x, y in zip(first_a, [X for X, _ in a], strict=True))
    with pytest.raises(ValueError, match=r"random_lm_batches\(\): a corpus of 20 tokens is too"
                                         r" short for one batch of 4 x 6"):
        text.random_lm_batches(list(range(20)), 4, 6)
    with pytest.raises(ValueError, match=r"sequential_lm_batches\(\): got num_steps=0"):
        text.sequential_lm_batches(corpus, 4, 0)


class _Recorder(torch.nn.Module):
    """A model that remembers every input it was given."""

    def __init__(self):
        super().__init__()
        self.scale, self.inputs = torch.nn.Parameter(torch.ones(())), []

    def forward(self, X):
        self.inputs.append(X.tolist())
        return self.scale * X


@pytest.mark.parametrize("sampler", [text.random_lm_batches, text.sequential_lm_batches])
def test_samplers_keep_no_hidden_state_between_uses(sampler):
    """The pass depends on seed and epoch only: two models trained or evaluated on one object
    see the same minibatches, and `fit` moves the epoch with `set_epoch`."""
    def passes(data):
        return [[X.tolist() for X, _ in data] for _ in range(3)]

    shared = sampler(torch.arange(300), 4, 6, seed=3)
    first = passes(shared)
    assert first[0] == first[1] == first[2]  # iterating again repeats the pass
    shared.set_epoch(2)
    epoch_2 = [X.tolist() for X, _ in shared]
    assert epoch_2 != first[0]
    fresh = sampler(torch.arange(300), 4, 6, seed=3)
    fresh.set_epoch(2)
    assert [X.tolist() for X, _ in fresh] == epoch_2  # the same epoch on a fresh object
    seen = []
    for _ in range(2):  # two fits on the same object see the same minibatches
        model = _Recorder()
        d2lite.fit(model, shared, epochs=2, loss_fn=lambda out, Y: (out - Y).pow(2).mean())
        seen.append(model.inputs[1:])  # inputs[0] is fit's check of a first batch
    assert len(seen[0]) == 2 * len(shared)
    assert seen[0] == seen[1]
    for epoch in (0, 1):  # fit moved the epoch with set_epoch
        shared.set_epoch(epoch)
        assert seen[0][epoch * len(shared):][:len(shared)] == [X.tolist() for X, _ in shared]
    with pytest.raises(ValueError, match=r"set_epoch\(\): got epoch=-1"):
        shared.set_epoch(-1)


def test_truncate_pad():
    assert text.truncate_pad([4, 5, 6], 5, padding_token=1) == [4, 5, 6, 1, 1]
    assert text.truncate_pad([4, 5, 6], 2, padding_token=1) == [4, 5]
    assert text.truncate_pad(["a"], 1, "<pad>") == ["a"]


# ---- BLEU ---------------------------------------------------------------------------------------

def by_hand(pred: list[str], label: list[str], k: int) -> float:
    """The seed's formula with the precisions counted the simplest way (small inputs only)."""
    score = math.exp(min(0, 1 - len(label) / len(pred)))
    for n in range(1, k + 1):
        label_grams = [tuple(label[i:i + n]) for i in range(len(label) - n + 1)]
        matches = 0
        for i in range(len(pred) - n + 1):
            gram = tuple(pred[i:i + n])
            if gram in label_grams:
                label_grams.remove(gram)
                matches += 1
        score *= (matches / (len(pred) - n + 1)) ** (1 / 2 ** n)
    return score


def sacre(pred: str, label: str, k: int):
    metric = BLEU(tokenize="none", smooth_method="none", max_ngram_order=k,
                  effective_order=False)
    return metric.sentence_score(pred, [label])


def test_bleu_worked_examples():
    assert text.bleu("il est calme .", "il est calme .", k=2) == 1.0
    # p1 = 3/3, p2 = 1/2 (only "il est" matches), brevity exp(1 - 4/3)
    expected = math.exp(1 - 4 / 3) * 1 * (1 / 2) ** (1 / 4)
    assert text.bleu("il est .", "il est calme .", k=2) == pytest.approx(expected, abs=1e-12)
    assert text.bleu(["a", "a", "a"], ["a", "b", "c"], k=1) == pytest.approx((1 / 3) ** 0.5)
    assert text.bleu("x y", "a b", k=2) == 0.0
    assert text.bleu("a", "a b", k=2) == 0.0  # no bigram in a one-token prediction
    with pytest.raises(ValueError, match=r"bleu\(\): got k=0; expected an int >= 1"):
        text.bleu("a", "a", k=0)


def test_bleu_equals_sacrebleu_where_the_definitions_coincide():
    label = "the cat sat on the red mat today"
    for pred in [label, "the cat sat on the", "cat sat on the red mat", "sat on the red mat today"]:
        for k in (1, 2, 4):
            if len(pred.split()) < k:
                continue
            ours = text.bleu(pred, label, k=k)
            theirs = sacre(pred, label, k)
            assert all(p == 100 for p in theirs.precisions)  # every p_n = 1 here ...
            assert ours == pytest.approx(theirs.score / 100, abs=1e-9)  # ... so both equal BP


def test_bleu_is_the_seed_formula_on_sacrebleus_precisions_and_brevity_penalty():
    rng = random.Random(0)
    words = "a b c d e f".split()  # a small alphabet, so that n-grams repeat and clipping matters
    nonzero = 0
    for _ in range(300):
        label = [rng.choice(words) for _ in range(rng.randint(1, 12))]
        pred = [rng.choice(words) for _ in range(rng.randint(1, 12))]
        k = rng.randint(1, 4)
        ours = text.bleu(pred, label, k=k)
        if len(pred) < k:
            assert ours == 0.0
            continue
        theirs = sacre(" ".join(pred), " ".join(label), k)
        expected = theirs.bp * math.prod((p / 100) ** (1 / 2 ** n)
                                             for n, p in enumerate(theirs.precisions, start=1))
        assert ours == pytest.approx(expected, abs=1e-9), (pred, label, k)
        assert ours == pytest.approx(by_hand(pred, label, k), abs=1e-12)
        nonzero += 0 < ours < 1
    assert nonzero > 100  # most cases compare real, partial matches, not zeros


# ---- WordPiece ----------------------------------------------------------------------------------
# Against the `tokenizers` library on all 10,662 polarity sentences: tests/test_models_bert.py.

WP_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "the", "bank", "##s",
            "cafe", "!", ",", "深", "度", "a", "##a"]


def test_wordpiece_basic_split_cleans_lowercases_strips_accents_and_splits():
    wp = wordpiece.WordPiece(WP_VOCAB)
    # control characters (cp1252's dash 0x96 read as latin-1 is one) are deleted, not spaces
    assert wp.basic_split("Café\u00a0BANKS,\tthe\x00\ufffd\x96end!") == \
        ["cafe", "banks", ",", "theend", "!"]
    assert wp.basic_split("深度learning") == ["深", "度", "learning"]
    assert wp.basic_split("$5+x^2") == ["$", "5", "+", "x", "^", "2"]  # ASCII symbols split
    assert wordpiece.WordPiece(WP_VOCAB, lower_case=False).basic_split("Café") == ["Café"]


def test_wordpiece_greedy_longest_match_first_and_unknown_words():
    wp = wordpiece.WordPiece(WP_VOCAB)
    assert wp.tokenize("Unaffable BANKS, the 深度!") == \
        ["un", "##aff", "##able", "bank", "##s", ",", "the", "深", "度", "!"]
    assert wp.tokenize("unx banksy") == ["[UNK]", "[UNK]"]  # no cut: the whole word is unknown
    assert wp.split_word("a" * 100) == ["a"] + ["##a"] * 99
    assert wp.split_word("a" * 101) == ["[UNK]"]  # longer than max_chars
    assert wp.encode("the bank", "banks") == ([2, 7, 8, 3, 8, 9, 3], [0, 0, 0, 0, 1, 1, 1])
    assert len(wp) == len(WP_VOCAB) and wp.pad_id == 0
    with pytest.raises(ValueError, match="unk_token='<unk>' is not in the vocabulary"):
        wordpiece.WordPiece(WP_VOCAB, unk_token="<unk>")


def test_bigram_guess_follows_the_most_frequent_next_token():
    train = [["je", "suis", "là"], ["je", "suis", "tom"], ["je", "suis", "là"], ["il", "part"]]
    assert text.bigram_guess(train, 10) == ["je", "suis", "là"]
    assert text.bigram_guess(train, 2) == ["je", "suis"]  # cut at max_tokens
    assert text.bigram_guess([["a", "a", "a", "a"]], 3) == ["a", "a", "a"]  # a loop stops too
    with pytest.raises(ValueError, match=r"bigram_guess\(\): got no sentences"):
        text.bigram_guess([], 5)
