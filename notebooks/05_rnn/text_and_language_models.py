# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Text and language models
#
# A network reads numbers, not words. In this lesson you turn H. G. Wells' *The Time Machine*
# into numbers: you cut it into tokens, build a vocabulary and see why a token enters a network as
# an index into a table of vectors. Then you look at how words are distributed (Zipf's law, and
# n-grams that grow rarer the longer they are), build counting language models of characters and
# judge them by their perplexity, the effective number of choices they hesitate between. Finally
# you cut the text into the minibatches a recurrent network trains on, in the two ways used in
# practice: random sampling and sequential partitioning.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import collections
import math
import matplotlib.pyplot as plt
from torch import nn
from torch.nn import functional as F
from d2lite.text import Vocab, tokenize

# %% [markdown]
# ## Tokens and the vocabulary
#
# *The Time Machine* (1895) is a short novel: 3,221 lines, small enough to count everything in
# it in a second.
# `d2lite.data.load_time_machine()` returns them lower-cased, with everything but letters turned
# into single spaces, so that "Machine," and "machine" are the same word.

# %% tags=["nbval-check-output"]
lines = d2lite.data.load_time_machine(verbose=False)
print(f"{len(lines):,} lines; the first three that are not empty:")
for line in [line for line in lines if line][:3]:
    print("  ", line)
assert len(lines) == 3221, f"{len(lines)} lines"

# %% [markdown]
# As in [the data pipeline lesson](../03_mlp/data_pipeline.ipynb), the text is cut into
# [tokens](../../book/glossary.md#term-token) (词元), the smallest units a model reads: here words
# or single characters. A [vocabulary](../../book/glossary.md#term-vocabulary) (词表) then gives
# every distinct token an index, the most frequent tokens first, with index 0 kept for `<unk>`,
# the unknown token. `d2lite.text.tokenize` and `d2lite.text.Vocab` do both.

# %%
words = tokenize(lines, token="word")        # one list of words per line
chars = tokenize(lines, token="char")        # one list of characters per line
word_vocab, char_vocab = Vocab(words), Vocab(chars)
num_words = sum(len(line) for line in words)
print(f"{num_words:,} words, {len(word_vocab):,} in the vocabulary (with <unk>)")
print(f"{len(char_vocab)} characters in the vocabulary:", char_vocab.idx_to_token)
print("most frequent words:", word_vocab.token_freqs[:8])

# %% [markdown]
# Turning a line into indices and back must give the line again: that is what makes the numbers
# a faithful copy of the text. With `min_freq=5`, words seen fewer than five times are left out
# of the vocabulary; they become `<unk>` and do not come back. The small vocabulary, under a fifth
# of the full one, still covers more than four fifths of the running text, because the words it
# drops are rare.

# %%
line = words[0]
indices = word_vocab[line]
print(line, "->", indices, "->", word_vocab.to_tokens(indices))
assert word_vocab.to_tokens(indices) == line, "the round trip changed the line"
small_vocab = Vocab(words, min_freq=5)
round_trip = small_vocab.to_tokens(small_vocab[line])
print(f"min_freq=5 keeps {len(small_vocab)} tokens:", round_trip)
assert round_trip == [w if w in small_vocab.token_to_idx else "<unk>" for w in line]
all_words = [word for line in words for word in line]
coverage = sum(small_vocab[w] != small_vocab.unk for w in all_words) / num_words
print(f"{len(small_vocab) / len(word_vocab):.0%} of the vocabulary "
      f"covers {coverage:.1%} of the text")
assert coverage > 0.8 and len(small_vocab) < 0.2 * len(word_vocab), f"{coverage:.3f}"

# %% [markdown]
# ## From an index to a vector
#
# How should a token enter a network? The source notes weigh three answers. Its Unicode code
# point is a number already, but a misleading one: "a" (97) is as close to "b" (98) as 1 is to
# 2, and a network would treat that closeness as meaningful. A
# [one-hot vector](../../book/glossary.md#term-one-hot-encoding) has no such bias, but it has
# no notion of similarity either: every pair of different words is at the same distance, so
# "fruit" is as far from "meat" as from "eat" (all three occur in the book).

# %%
fruit, meat, eat = F.one_hot(torch.tensor(word_vocab[["fruit", "meat", "eat"]]),
                             num_classes=len(word_vocab)).float()    # each (4580,)
distances = [torch.dist(fruit, meat).item(), torch.dist(fruit, eat).item()]
print(f"fruit-meat {distances[0]:.4f}, fruit-eat {distances[1]:.4f}")
assert all(abs(d - math.sqrt(2)) < 1e-6 for d in distances), "not equidistant"

# %% [markdown]
# The third answer, and the one every model in this book uses, is a
# **[word embedding](../../book/glossary.md#term-word-embedding)** (词嵌入): each token gets a
# short vector of learned numbers, a row of a table with one row per vocabulary entry, and
# training moves the rows of words used alike close together ([Bengio et al.,
# 2003](../../book/references.md)). Looking up row $i$ is the same as multiplying the one-hot
# vector of $i$ by the table, only without the multiplications; `nn.Embedding` is that table. The
# word2vec lesson later in this chapter trains such vectors.

# %%
d2lite.seed_everything(0)
embedding = nn.Embedding(len(word_vocab), 8)             # table (4580, 8)
ids = torch.tensor(word_vocab[["the", "time", "machine"]])          # (3,)
looked_up = embedding(ids)                                          # (3, 8)
one_hot = F.one_hot(ids, num_classes=len(word_vocab)).float()       # (3, 4580)
assert torch.allclose(looked_up, one_hot @ embedding.weight), "lookup = one-hot @ table"
print("looked up", tuple(looked_up.shape), "= one-hot", tuple(one_hot.shape),
      "@ table", tuple(embedding.weight.shape))

# %% [markdown]
# The notes add a point about the other end of the network. Vectors go in, but what should come
# out is a word, so a model that predicts the next token ends in one score per vocabulary entry
# and a softmax over them: predicting text is a
# [classification](../../book/glossary.md#term-classification) with as many classes as the
# vocabulary has tokens.
#
# ## Zipf's law
#
# Word frequencies are very uneven. "the" alone is 7 % of *The Time Machine*, and most of its
# 4,579 distinct words occur once or twice (counted below). Plot the frequency of each word against its rank (1 for the
# most frequent) on logarithmic axes and the points fall close to a straight line
# ([Figure 1](#fig-text-and-language-models-zipf)). A straight line on log–log axes is a power
# law: the frequency of the word of rank $r$ is about
#
# $$
# n_r \approx \frac{C}{r^{\alpha}}, \qquad \log n_r \approx \log C - \alpha \log r, \tag{1}
# $$
#
# with $\alpha$ close to 1. This is **[Zipf's law](../../book/glossary.md#term-zipf-s-law)**
# (齐普夫定律), found in every language and most large texts ([Zipf,
# 1949](../../book/references.md)). The cell fits the line of equation (1) by least squares on
# ranks 10 to 1,000: the very top (a handful of words) and the long tail of words seen once or
# twice, where many words share the same count, bend away from the line.

# %%
def zipf_fit(counts, first=10, last=1000):
    """Fit log n_r = log C - alpha log r on ranks first..last; return (C, alpha)."""
    freqs = torch.tensor(sorted(counts, reverse=True), dtype=torch.float64)   # (n,)
    ranks = torch.arange(1, len(freqs) + 1, dtype=torch.float64)               # (n,)
    A = torch.stack([ranks.log(), torch.ones_like(ranks)], dim=1)              # (n, 2)
    fit = torch.linalg.lstsq(A[first - 1:last], freqs[first - 1:last].log()[:, None])
    slope, intercept = fit.solution[:, 0].tolist()
    return math.exp(intercept), -slope


C, alpha = zipf_fit([count for _, count in word_vocab.token_freqs])
share_the = word_vocab.token_freqs[0][1] / num_words
print(f"'the' is {share_the:.1%} of the words; fitted exponent alpha = {alpha:.3f}")
assert 0.9 < alpha < 1.2, f"Zipf exponent {alpha:.3f} is not close to 1"
assert 0.06 < share_the < 0.08, f"'the' is {share_the:.3f} of the text"

# %% [markdown]
# ## n-grams
#
# The same counting works for pairs and triples of consecutive words. A run of $n$ consecutive
# tokens is an **[n-gram](../../book/glossary.md#term-n-gram)** (n 元语法): a unigram, bigram or
# trigram for $n = 1, 2, 3$. The cell counts all three over the whole book.

# %%
def ngram_counts(tokens, n):
    """How often each run of n consecutive tokens occurs."""
    starts = range(len(tokens) - n + 1)
    return collections.Counter(tuple(tokens[i:i + n]) for i in starts)


ngrams = {n: ngram_counts(all_words, n) for n in (1, 2, 3)}
alphas, singletons = {}, {}
for n, counts in ngrams.items():
    _, alphas[n] = zipf_fit(list(counts.values()))
    singletons[n] = sum(c == 1 for c in counts.values()) / len(counts)
    top = ", ".join(f"'{' '.join(g)}' {c}" for g, c in counts.most_common(3))
    print(f"{n}-grams: {len(counts):6,} distinct, {singletons[n]:.0%} seen once, "
          f"alpha {alphas[n]:.2f}; most frequent: {top}")

# %% [markdown]
# Three things stand out. The most frequent words are "the", "i", "and", "of": function words
# that carry grammar rather than content, called
# **[stop words](../../book/glossary.md#term-stop-word)** (停用词). The most frequent bigrams
# are made of them too ("of the", "in the"). The most frequent trigrams are not: "the time
# traveller", "the time machine" and "the medical man" name the book's hero, its machine and a
# guest at his dinners: each holds a word outside the 20 most frequent ones, which every top
# bigram is made of. Second, bigrams and trigrams follow power laws as well, with smaller
# exponents ([Figure 1](#fig-text-and-language-models-zipf)). Third, and most important for what
# follows, the longer the n-gram, the more of them occur only once: about half of the distinct
# words, but almost all of the distinct trigrams. Two thirds of the words occur at most twice.

# %%
rare_words = sum(c <= 2 for c in ngrams[1].values()) / len(ngrams[1])
print(f"{rare_words:.0%} of the {len(ngrams[1]):,} distinct words occur once or twice")
assert 0.64 < rare_words < 0.72, f"{rare_words:.2f}"
top_20 = {w for w, _ in word_vocab.token_freqs[:20]}   # nearly all function words
top = {n: [g for g, _ in ngrams[n].most_common(3)] for n in (2, 3)}
assert all(set(g) <= top_20 for g in top[2]), top[2]
assert all(not set(g) <= top_20 for g in top[3]), top[3]
assert alphas[1] > alphas[2] > alphas[3] > 0.3, f"exponents {alphas}"
assert singletons[1] < singletons[2] < singletons[3] and singletons[3] > 0.9, singletons
assert 0.45 < singletons[1] < 0.6, f"{singletons[1]:.2f} of the words are seen once"
assert [w for w, _ in word_vocab.token_freqs[:4]] == ["the", "i", "and", "of"]

# %% mystnb={"figure": {"caption": "Frequency against rank on log-log axes for the words, bigrams and trigrams of The Time Machine; the dotted line is the fitted Zipf law of the words.", "name": "fig-text-and-language-models-zipf"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
for n, counts in ngrams.items():
    ranked = sorted(counts.values(), reverse=True)
    ax.loglog(range(1, len(ranked) + 1), ranked, label=f"{n}-grams")
ranks = torch.arange(1, len(word_vocab.token_freqs) + 1)
ax.loglog(ranks, C * ranks ** -alpha, "k:", label=f"$C / r^{{{alpha:.2f}}}$")
ax.set(xlabel="rank $r$", ylabel="frequency $n_r$")
ax.legend()
plt.show()

# %% [markdown]
# ## Language models
#
# A **[language model](../../book/glossary.md#term-language-model)** (语言模型) gives a
# probability to every sequence of tokens. By the chain rule of
# [the previous lesson](sequence_models.ipynb), it is enough to predict each token from the ones
# before it: $P(\text{deep, learning, is, fun}) = P(\text{deep})\,
# P(\text{learning} \mid \text{deep}) \cdots$. The simplest estimate of such a probability is a
# ratio of counts, as [Shannon (1948)](../../book/references.md) did for English:
#
# $$
# \hat P(x_t \mid x_{t-n+1}, \dots, x_{t-1}) =
# \frac{n(x_{t-n+1}, \dots, x_t) + k}{n(x_{t-n+1}, \dots, x_{t-1}) + k\,|\mathcal{V}|}, \tag{2}
# $$
#
# an $n$-gram model: a [Markov model](../../book/glossary.md#term-markov-model) of order
# $n - 1$ whose probabilities are counted, not learned. The $k$ is
# **[additive smoothing](../../book/glossary.md#term-additive-smoothing)** (加法平滑; $k = 1$ is
# Laplace smoothing): without it, an n-gram that never occurred in the training text gets
# probability 0, and the table above says that most long n-grams are exactly that rare. With it,
# every token of the vocabulary $\mathcal{V}$ keeps a little probability.
#
# ## Perplexity: how many choices?
#
# How good is a language model? As in
# [the information theory lesson](../02_linear/information_theory.ipynb), measure its
# cross-entropy on text it has not seen, and take the exponential: the
# [perplexity](../../book/glossary.md#term-perplexity) (困惑度)
#
# $$
# \mathrm{PPL} = \exp\Big(-\frac{1}{N} \sum_{t=1}^{N} \log \hat P(x_t \mid x_{t-1}, \dots)\Big),
# \tag{3}
# $$
#
# the number of equally likely tokens the model is hesitating between, on average, at each
# step. Character models make a clean example: the vocabulary has only 28 entries, and no
# character is ever unknown. The text is cut in order: the first 80 % of the characters to count
# from, the next 10 % to choose the settings on, the last 10 % to test.

# %%
text = " ".join(line for line in lines if line)    # one string, lines joined by spaces
cut_1, cut_2 = int(0.8 * len(text)), int(0.9 * len(text))
train_text, val_text, test_text = text[:cut_1], text[cut_1:cut_2], text[cut_2:]
vocab = Vocab(list(train_text))
print(f"{len(train_text):,} / {len(val_text):,} / {len(test_text):,} characters; "
      f"vocabulary of {len(vocab)}")
assert len(vocab) == 28 and all(c in vocab.token_to_idx for c in val_text + test_text)

# %% [markdown]
# A model that knows nothing gives every entry of the vocabulary the same probability $1/28$.
# Its cross-entropy is $\log 28$ at every step, so its perplexity is exactly 28, the size of the
# vocabulary: it hesitates between all of them. `d2lite.models.Perplexity` computes equation
# (3) from a model's scores; equal scores mean the uniform model.

# %%
test_ids = torch.tensor(vocab[list(test_text)])                  # (17343,)
uniform_scores = torch.zeros(len(test_ids), len(vocab))          # (17343, 28)
perplexity = d2lite.models.Perplexity()
total, count = perplexity(uniform_scores, test_ids)
uniform_ppl = perplexity.finish(total.item() / count.item())
print(f"uniform model: perplexity {uniform_ppl:.4f}, vocabulary size {len(vocab)}")
assert abs(uniform_ppl - len(vocab)) < 1e-4, f"{uniform_ppl} != {len(vocab)}"

# %% [markdown]
# Now the counting models of equation (2). `ngram_perplexity` counts the n-grams of the training
# text once and then scores a held-out text; every order is scored on the same characters (from
# the sixth on, so that even a 6-gram has its full context).

# %%
def ngram_perplexity(train_text, eval_text, n, k, vocab_size, first=5):
    """Perplexity on eval_text[first:] of the add-k n-gram model of equation (2)."""
    full = ngram_counts(train_text, n)
    context = ngram_counts(train_text, n - 1) if n > 1 else {(): len(train_text)}
    nll = 0.0
    for t in range(first, len(eval_text)):
        gram = tuple(eval_text[t - n + 1:t + 1])
        nll -= math.log((full[gram] + k) / (context.get(gram[:-1], 0) + k * vocab_size))
    return math.exp(nll / (len(eval_text) - first))


# %% [markdown]
# Two programs now compute equation (3): `Perplexity` from a network's scores, and
# `ngram_perplexity` from counts. They must agree. The 1-gram model's log-probabilities,
# $\log \hat P(c)$ for every character $c$, are scores whose softmax is $\hat P$ itself, so
# both programs can score it on the validation text from the first character on.

# %%
k = 0.1
counts_1 = ngram_counts(train_text, 1)
probs_1 = torch.tensor([(counts_1[(c,)] + k) / (len(train_text) + k * len(vocab))
                        for c in vocab.idx_to_token], dtype=torch.float64)      # (28,)
val_ids = torch.tensor(vocab[list(val_text)])                            # (17343,)
total, count = perplexity(probs_1.log().expand(len(val_ids), -1), val_ids)
from_scores = perplexity.finish(total.item() / count.item())
from_counts = ngram_perplexity(train_text, val_text, 1, k, len(vocab), first=0)
print(f"1-gram model on the validation text: {from_scores:.4f} from scores, "
      f"{from_counts:.4f} from counts")
assert math.isclose(from_scores, from_counts, rel_tol=1e-6), (from_scores, from_counts)

# %% [markdown]
# Two settings are open, the order $n$ and the smoothing $k$, so both are chosen on the
# validation text.

# %%
orders, smoothings = [1, 2, 3, 4, 5, 6], [0.01, 0.1, 1.0]
val_ppl = {(n, k): ngram_perplexity(train_text, val_text, n, k, len(vocab))
           for n in orders for k in smoothings}
for n in orders:
    print(f"{n}-gram: validation perplexity " +
          ", ".join(f"{val_ppl[n, k]:6.3f} (k={k})" for k in smoothings))
best_n, best_k = min(val_ppl, key=val_ppl.get)
print(f"chosen: {best_n}-grams with k = {best_k}")

# %% [markdown]
# Read the perplexities as numbers of choices ([Figure 2](#fig-text-and-language-models-ppl)).
# Knowing only how common each letter is (1-grams) cuts the 28 choices to about 17; knowing the
# previous letter, to about 9.5; three to four letters of context bring it below 5. Beyond that
# the counts run out. The cell below counts the n-grams of the validation text that never
# occurred in the training text: a few in a hundred 4-grams, about one in ten 5-grams, but a
# fifth of the 6-grams, so the 6-gram model does worse than the 5-gram model. Large $k$ hurts
# the long n-grams most: it pulls their sparse counts towards the uniform model.

# %%
def unseen_fraction(train_text, eval_text, n, first=5):
    """The share of eval_text's n-grams (from `first` on) that train_text lacks."""
    seen = ngram_counts(train_text, n)
    grams = [tuple(eval_text[t - n + 1:t + 1]) for t in range(first, len(eval_text))]
    return sum(seen[g] == 0 for g in grams) / len(grams)


unseen = {n: unseen_fraction(train_text, val_text, n) for n in (4, 5, 6)}
print("never seen in training:", {n: f"{u:.1%}" for n, u in unseen.items()})
best_at = {n: min(val_ppl[n, k] for k in smoothings) for n in orders}
assert unseen[4] < 0.05 and 0.05 < unseen[5] < 0.15 and 0.15 < unseen[6] < 0.3, unseen
assert all(best_at[n] > best_at[n + 1] for n in (1, 2, 3)), f"not falling: {best_at}"
assert best_at[4] < 5 and best_at[5] < 5, f"{best_at[4]}, {best_at[5]}"
assert 15 < best_at[1] < 19 and 8.5 < best_at[2] < 10.5, f"{best_at[1]}, {best_at[2]}"
assert best_at[6] > val_ppl[best_n, best_k] and best_n in (4, 5), f"chosen {best_n}"
assert val_ppl[5, 1.0] > val_ppl[5, 0.1], "k = 1 should over-smooth the 5-grams"

# %% mystnb={"figure": {"caption": "Validation perplexity of add-k character n-gram models against the order n, for three values of k; the uniform model's perplexity, the vocabulary size 28, is off the top of the scale.", "name": "fig-text-and-language-models-ppl"}}
ax = d2lite.plot(orders, [[val_ppl[n, k] for n in orders] for k in smoothings],
                 "order $n$", "validation perplexity",
                 legend=[f"k = {k}" for k in smoothings], fmts=["o-", "s--", "^-."],
                 figsize=(5, 3))
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
plt.show()

# %% [markdown]
# The choice is made, so the test text is opened, once. The chosen model hesitates between
# fewer than five characters on text it has never seen, down from 28 for the uniform model.
# Keep this number in mind: the recurrent networks of the next lessons learn their
# probabilities instead of counting them, and this is the bar they have to clear.

# %%
test_ppl = ngram_perplexity(train_text, test_text, best_n, best_k, len(vocab))
print(f"test perplexity of the {best_n}-gram model (k = {best_k}): {test_ppl:.3f}; "
      f"uniform: {uniform_ppl:.0f}")
assert 3.5 < test_ppl < 5.0, f"test perplexity {test_ppl:.3f}"

# %% [markdown]
# ## Minibatches of text: two ways to cut
#
# A recurrent network trains on pieces of the corpus of `num_steps` tokens, in minibatches
# $\mathbf{X}$ of shape (batch size, `num_steps`). Its targets $\mathbf{Y}$ are the same pieces
# shifted one token to the right: at every position the label is the next token. There are two
# ways to cut the corpus into such pieces, and `d2lite.text` has one function for each. Both
# start each pass over the data at a random offset in $[0, \text{num\_steps})$, so that different
# epochs cut the text at different places. Which pass you get depends only on the seed and the
# epoch, set with `set_epoch(e)` (`d2lite.fit` calls it at the start of every epoch), so two
# models trained on the same object see the same minibatches. On a toy corpus of the numbers 0 to 34 you can read
# off where every piece came from, since each token is its own position.
#
# **[Random sampling](../../book/glossary.md#term-random-sampling)** (随机采样) cuts the corpus
# into non-overlapping pieces and hands them out in random order: two neighbouring pieces of the
# text almost never meet in consecutive minibatches.

# %% tags=["nbval-check-output"]
toy = list(range(35))
for X, Y in d2lite.text.random_lm_batches(toy, batch_size=2, num_steps=5, seed=0):
    print("X:", X.tolist(), " Y:", Y.tolist())

# %% [markdown]
# **[Sequential partitioning](../../book/glossary.md#term-sequential-partitioning)** (顺序分区)
# splits the corpus into `batch_size` long rows and walks along them: row $i$ of each minibatch
# continues row $i$ of the minibatch before. A recurrent network can then carry its state from
# one minibatch to the next, as if it read each row as one long text.

# %% tags=["nbval-check-output"]
for X, Y in d2lite.text.sequential_lm_batches(toy, batch_size=2, num_steps=5, seed=0):
    print("X:", X.tolist(), " Y:", Y.tolist())

# %% [markdown]
# Check both claims, and the shift, on the real corpus: the training characters of *The Time
# Machine* as indices, in minibatches of 32 pieces of 35 characters. For each pair of
# consecutive minibatches, count the rows whose first token comes right after the last token of
# the same row in the minibatch before, in the text. Indices do not say where in the text a
# piece came from, so the cell cuts a second corpus, the positions $0, 1, 2, \dots$, with the
# same seed: the same cuts, and each token is its own position.

# %%
corpus = vocab[list(train_text)]                                  # 138,741 indices
positions = list(range(len(corpus)))
continued = {}
for name, sampler in (("random", d2lite.text.random_lm_batches),
                      ("sequential", d2lite.text.sequential_lm_batches)):
    batches = list(sampler(positions, batch_size=32, num_steps=35, seed=0))
    pairs = zip(batches[:-1], batches[1:], strict=True)
    continued[name] = sum((X2[:, 0] == X1[:, -1] + 1).float().mean().item()
                          for (X1, _), (X2, _) in pairs) / (len(batches) - 1)
    X, Y = next(iter(sampler(corpus, batch_size=32, num_steps=35, seed=0)))
    assert X.shape == Y.shape == (32, 35) and torch.equal(X[:, 1:], Y[:, :-1])
    print(f"{name:10s}: {len(batches)} minibatches, "
          f"{continued[name]:.1%} of rows continue the previous minibatch's row")
assert continued["sequential"] == 1.0, "every row should continue"
assert continued["random"] < 0.01, f"{continued['random']:.3f} of rows continue"

# %% [markdown]
# Which to use? Random sampling gives the model independent pieces, as a shuffled dataset does,
# and each piece starts the network from scratch. Sequential partitioning lets the state flow
# across minibatches, so the model can use context longer than `num_steps`, at the price of
# minibatches that are not independent of each other. The lessons on
# [recurrent networks](rnn_from_scratch.ipynb) use both.
#
# ## Summary
#
# - Text becomes numbers in two steps: tokens (words or characters), then indices from a
#   vocabulary with `<unk>` for unknown or rare tokens (`min_freq`). Indices map back to the same
#   tokens. An index enters a network through an embedding table, which is a one-hot vector times
#   a matrix without the multiplications; the output is a score for every vocabulary entry.
# - Word frequencies follow Zipf's law, $n_r \propto r^{-\alpha}$ with $\alpha \approx 1.04$ on
#   *The Time Machine*. Bigrams and trigrams follow power laws with smaller exponents, and the
#   longer the n-gram, the more of them occur only once.
# - An n-gram language model estimates each next-token probability by counting, with additive
#   smoothing for what it never saw. Its perplexity is the number of choices it hesitates
#   between: 28 for the uniform model over 28 characters, about 17 for letter frequencies, below
#   5 for the chosen 5-gram model; longer n-grams run out of counts.
# - Random sampling hands out independent pieces in random order; sequential partitioning makes
#   row $i$ of each minibatch continue row $i$ of the previous one.

# %% [markdown]
# ## Exercises
#
# 1. Zipf's law says that the word of rank $r$ occurs about $C / r^{\alpha}$ times. Use the
#    fitted $C$ and $\alpha$ to predict how often the 100th most frequent word occurs, and
#    compare with its count.

# %% tags=["hide-cell"]
# A solution: read off rank 100 (index 99) and compare with the fitted law.
word_100, count_100 = word_vocab.token_freqs[99]
predicted_100 = C / 100 ** alpha
print(f"rank 100: '{word_100}' occurs {count_100} times; Zipf's law predicts "
      f"{predicted_100:.1f}")
assert abs(predicted_100 / count_100 - 1) < 0.25, "the law misses by more than 25 %"

# %% [markdown]
# 2. Build word-level n-gram models of orders 1 to 3 with $k = 0.1$, counted on the first 80 %
#    of the words and scored on the next 10 %, and compare their perplexities with the size of
#    the word vocabulary. Which order wins, and why does the winner differ from the character
#    models'?

# %% tags=["hide-cell"]
# A solution. The word vocabulary is counted on the training words (<unk> for the rest).
cut = int(0.8 * len(all_words))
word_train, word_val = all_words[:cut], all_words[cut:int(0.9 * len(all_words))]
train_vocab = Vocab([word_train])
word_val = train_vocab.to_tokens(train_vocab[word_val])      # unknown words -> <unk>
word_ppl = {n: ngram_perplexity(word_train, word_val, n, 0.1, len(train_vocab), first=2)
            for n in (1, 2, 3)}
print(f"vocabulary {len(train_vocab)}:",
      ", ".join(f"{n}-gram {p:.0f}" for n, p in word_ppl.items()))
# Unigrams win: most word bigrams and trigrams of new text were never counted, and
# smoothing spreads k * 4,076 pseudo-counts evenly over the vocabulary.
assert word_ppl[1] < word_ppl[2] < word_ppl[3] < len(train_vocab), word_ppl

# %% [markdown]
# 3. Sequential partitioning drops a few tokens at the end of each pass, random sampling a few
#    more. For the training characters with 32 rows of 35 steps, how many tokens does each leave
#    out in one pass? (Hint: `len(batches) * 32 * 35`.)
# 4. A character-level model that has learned English spelling should never have perplexity
#    above that of the letter frequencies, about 17. Why might a badly trained network still end
#    up there for a while, and what does it predict at that point?
