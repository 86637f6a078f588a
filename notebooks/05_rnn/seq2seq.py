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
# # Sequence to sequence: translating with an encoder and a decoder
#
# A language model continues a sequence; a translator has to turn one sequence into another
# of a different length, in another language. In this lesson you build the
# **[encoder–decoder](../../book/glossary.md#term-encoder-decoder)** (编码器-解码器) design for
# that: a GRU that reads an English sentence into a state, and a second GRU that writes French
# from it. You pad sentences and mask the padding out of the loss, train with teacher forcing,
# translate by greedy search, and score translations with BLEU, computed by hand first.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import collections
import copy
import functools
import math
import operator
import matplotlib.pyplot as plt
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from d2lite import models
from d2lite.text import Vocab, bleu, truncate_pad

# %% [markdown]
# ## From one sequence to another
#
# Suppose you want an RNN to translate. The [language models](gru.ipynb) so far read one token
# and emit one token, so the obvious attempt reads an English word and emits a French word. That
# is a dictionary, not a translator: the output always has as many words as the input, and the
# word order of the source is kept even where the other language orders its words differently.
# "They are watching ." is four tokens; "Ils regardent ." is three.
#
# The fix, as the source notes tell it, is to use two networks. The **encoder** (编码器) reads
# the whole source sentence and condenses it into a state of fixed shape, whatever the
# sentence's length; you can think of it as the last hidden state of an RNN. The **decoder**
# (解码器) is a language model of the target language that is told, at every step, what that
# state says. It writes one token at a time and decides by itself when the sentence is over, by
# emitting an end-of-sequence token. This is the **[sequence-to-sequence](../../book/glossary.md#term-sequence-to-sequence)**
# (序列到序列, seq2seq) model of [Sutskever et al., 2014](../../book/references.md) and
# [Cho et al., 2014](../../book/references.md), the ancestor of the Transformer. Many tasks fit
# its shape: translation, speech recognition (sound frames in, words out), a chatbot (a message
# in, a reply out), even parsing a sentence into a tree written as a sequence of brackets.
# The source notes push it further, onto tasks that have models of their own: multi-label
# classification (the labels written out one by one, so the model decides how many) and
# object detection (each box written out as a few coordinate tokens). Whether such a
# brute-force seq2seq beats a model built for the task depends on the task and the data; the
# point is that the shape fits.
#
# ## The encoder–decoder interface
#
# The two halves meet in one place. The encoder maps the source tokens `X` to its outputs; the
# decoder's `init_state` turns those outputs into the decoder's starting state, and may need
# more than the outputs, for instance the source's valid length (the next section explains it).
# Then the decoder maps its input tokens and its state to scores over the target vocabulary and
# a new state. Written as three small classes:

# %%
class Encoder(nn.Module):
    """X: (batch, steps) tokens, valid_lens: (batch,) -> whatever the decoder reads."""
    def forward(self, X, valid_lens):
        raise NotImplementedError


class Decoder(nn.Module):
    """init_state(enc_outputs, valid_lens) -> state; forward(Y, state) -> (logits,
    state)."""
    def init_state(self, enc_outputs, valid_lens):
        raise NotImplementedError

    def forward(self, Y, state):
        raise NotImplementedError


class EncoderDecoder(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, X, Y, valid_lens):       # -> logits (batch, tgt_steps, vocab)
        state = self.decoder.init_state(self.encoder(X, valid_lens), valid_lens)
        return self.decoder(Y, state)[0]


# %% [markdown]
# Chapter 6 keeps this interface and swaps in decoders with attention, then
# [the Transformer](../06_attention/transformer.ipynb).
#
# ## English–French sentence pairs
#
# The data are the English–French pairs of the Tatoeba project, lower-cased, with punctuation
# split off as tokens. The file starts with the shortest sentences, and the lesson takes the
# first 600 pairs, which keeps training within seconds on a CPU. Many English sentences come
# with several French translations.

# %%
source, target = d2lite.data.load_fra_eng(num_examples=600, verbose=False)
for i in (0, 49, 349, 590, 591):
    print(f"{' '.join(source[i]):14s} -> {' '.join(target[i])}")
english = list(dict.fromkeys(" ".join(s) for s in source))   # distinct, in order
print(f"{len(source)} pairs, {len(english)} distinct English sentences")

# %% [markdown]
# A model that is tested on pairs it was trained on is graded on memory. Worse, a random split
# of the pairs would put "i beg you ." → "je vous en prie ." in training and "i beg you ." →
# "je vous en supplie ." in the test split. So the split is by English sentence: 15 % of the
# sentences (all their translations) are the test split, 15 % of the rest the validation split.
# Three sentences that the lesson translates at the end, "go .", "i lost ." and "i'm home .",
# stay in training: they show what the model memorised. (A fourth, "he's calm .", is not in
# the 600 pairs at all.)

# %%
examples = {"go .": "va !", "i lost .": "j'ai perdu .", "he's calm .": "il est calme .",
            "i'm home .": "je suis chez moi ."}
ids = torch.tensor([i for i, e in enumerate(english) if e not in examples])
(rest, _), (test_ids, _) = d2lite.data.train_val_split(ids, ids.float(), 0.15, seed=0)
(_, _), (val_ids, _) = d2lite.data.train_val_split(rest, rest.float(), 0.15, seed=0)
split_of = collections.defaultdict(lambda: "train")
split_of.update({english[i]: "val" for i in val_ids.tolist()})
split_of.update({english[i]: "test" for i in test_ids.tolist()})
pairs = {"train": [], "val": [], "test": []}
for src, tgt in zip(source, target, strict=True):
    pairs[split_of[" ".join(src)]].append((src, tgt))
print({name: len(p) for name, p in pairs.items()}, "pairs")
assert d2lite.data.split_by_source(list(zip(source, target, strict=True)),
                                   keep_in_train=examples) == pairs

# %% [markdown]
# ## Special tokens, padding and valid lengths
#
# Each language gets its own vocabulary, built from the training pairs, with three reserved
# tokens besides `<unk>`:
#
# - `<eos>` (end of sequence) is appended to every sentence. The decoder learns to emit it, and
#   that is how it learns to stop.
# - `<bos>` (beginning of sequence) is the decoder's first input, before it has written anything.
# - `<pad>` fills every sentence up to the same length, `num_steps`, so that a minibatch is one
#   rectangular tensor: this is [padding](../../book/glossary.md#term-padding), as in
#   [the data pipeline lesson](../03_mlp/data_pipeline.ipynb). A sentence's
#   **[valid length](../../book/glossary.md#term-valid-length)** (有效长度) is the number of
#   tokens before the padding, `<eos>` included.

# %%
reserved = ["<pad>", "<bos>", "<eos>"]
src_vocab = Vocab([s for s, _ in pairs["train"]], reserved_tokens=reserved)
tgt_vocab = Vocab([t for _, t in pairs["train"]], reserved_tokens=reserved)
num_steps = 8                                   # the longest sentence + <eos> fits
def to_ids(sentences, vocab):
    """Token lists -> ids (n, num_steps) with <eos> and <pad>, valid lengths (n,)."""
    ids = [truncate_pad(vocab[s] + [vocab["<eos>"]], num_steps, vocab["<pad>"])
           for s in sentences]
    valid_lens = [min(len(s) + 1, num_steps) for s in sentences]
    return torch.tensor(ids), torch.tensor(valid_lens)
X, X_valid_lens = to_ids([["i", "lost", "."], ["go", "."]], src_vocab)
print(f"{len(src_vocab)} English, {len(tgt_vocab)} French tokens")
print(X, X_valid_lens)
package_ids = d2lite.text.pad_sequences([["i", "lost", "."], ["go", "."]], src_vocab, 8)
assert torch.equal(X, package_ids[0]) and torch.equal(X_valid_lens, package_ids[1])

# %% [markdown]
# `d2lite.text.pad_sequences` does the same, as the last line checks.
#
# ## The encoder
#
# The encoder embeds each token and runs a GRU over the sentence; with two layers, as here,
# its final state holds one vector per layer, and the top layer's is the summary of the
# sentence. One detail matters: a GRU that reads "go . `<eos>`" followed by five `<pad>` tokens
# ends in a state that depends on the padding. Packing the batch
# (`pack_padded_sequence` with the valid lengths) makes the GRU stop at each sentence's own end,
# so the final state is the one after `<eos>`, and the outputs at padded positions are zeros.

# %%
class Seq2SeqEncoder(Encoder):
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, batch_first=True,
                          dropout=dropout)

    def forward(self, X, valid_lens):
        embs = self.embedding(X)                      # (batch, steps, embed_size)
        packed = pack_padded_sequence(embs, valid_lens.cpu(), batch_first=True,
                                      enforce_sorted=False)   # lengths live on the CPU
        outputs, state = self.rnn(packed)             # state: (layers, batch, hiddens)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True,
                                         total_length=X.shape[1])
        return outputs, state                         # outputs: (batch, steps, hiddens)


# %% [markdown]
# A check on a small random encoder: the shapes, and the same final state for "go ." whatever
# token fills its padded positions.

# %%
d2lite.seed_everything(0)
encoder = Seq2SeqEncoder(len(src_vocab), embed_size=32, num_hiddens=32, num_layers=2)
outputs, state = encoder(X, X_valid_lens)
print("outputs", tuple(outputs.shape), "state", tuple(state.shape))
X_noisy = X.clone()
X_noisy[1, 3:] = torch.randint(3, len(src_vocab), (num_steps - 3,))   # junk after <eos>
gap = (encoder(X_noisy, X_valid_lens)[1] - state).abs().max().item()
assert outputs.shape == (2, 8, 32) and state.shape == (2, 2, 32) and gap == 0.0

# %% [markdown]
# ## The decoder
#
# The decoder is a GRU language model of French with two links to the encoder. Its hidden
# state starts from the encoder's final state (so its layers must match the encoder's). And the
# **[context variable](../../book/glossary.md#term-context-variable)** (上下文变量)
# $\mathbf{c}$, the encoder's final top-layer state, is concatenated to the embedding of every
# input token, so that the source stays in view however far the decoder has written. At step
# $t'$, with input token $y_{t'-1}$, the new state is
# $\mathbf{s}_{t'} = \mathrm{GRU}([\mathbf{e}(y_{t'-1}); \mathbf{c}], \mathbf{s}_{t'-1})$, and a
# linear layer turns it into scores for the next token.

# %%
class Seq2SeqDecoder(Decoder):
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                          batch_first=True, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, valid_lens):
        enc_state = enc_outputs[1]                    # (layers, batch, hiddens)
        return enc_state[-1], enc_state               # the context c, the first state

    def forward(self, Y, state):
        context, hidden = state
        embs = self.embedding(Y)                      # (batch, steps, embed_size)
        c = context[:, None, :].expand(-1, Y.shape[1], -1)  # (batch, steps, hiddens)
        outputs, hidden = self.rnn(torch.cat([embs, c], dim=-1), hidden)
        return self.dense(outputs), (context, hidden)  # (batch, steps, vocab)


# %% [markdown]
# The whole network, on the two sentences above and a French input of 8 tokens per sentence,
# gives one score per target token at every position:

# %%
def make_net(dropout, seed=0):
    d2lite.seed_everything(seed)
    return EncoderDecoder(
        Seq2SeqEncoder(len(src_vocab), 32, 32, num_layers=2, dropout=dropout),
        Seq2SeqDecoder(len(tgt_vocab), 32, 32, num_layers=2, dropout=dropout))
net = make_net(dropout=0.1).eval()
Y, Y_valid_lens = to_ids([["j'ai", "perdu", "."], ["va", "!"]], tgt_vocab)
logits = net(X, Y, X_valid_lens)
print("logits", tuple(logits.shape))
assert logits.shape == (2, num_steps, len(tgt_vocab))

# %% [markdown]
# [Figure 1](#fig-seq2seq-model) draws this network, with the shapes of the forward pass you
# just ran.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The encoder-decoder with the shapes of a forward pass. The encoder's final state, one vector per layer, is the decoder's initial state; its top layer, the context c, is concatenated to the embedding of every decoder input.", "name": "fig-seq2seq-model"}}
d2lite.diagrams.seq2seq_model(net, X, X_valid_lens, Y)

# %% [markdown]
# ## A loss that ignores the padding
#
# The loss is the cross-entropy between the scores and the target tokens, but only at valid
# positions: what the decoder predicts after `<eos>` does not matter, and averaging over the
# padding would reward a model for predicting `<pad>`. A mask built from the valid lengths
# zeroes those terms, and the mean is taken over the valid tokens.

# %%
def sequence_mask(valid_lens, num_steps):
    """(batch,) -> (batch, num_steps), True where the position is < the valid length."""
    steps = torch.arange(num_steps, device=valid_lens.device)
    return steps[None, :] < valid_lens[:, None]


def masked_cross_entropy(logits, Y, valid_lens):
    mask = sequence_mask(valid_lens, Y.shape[1])                 # (batch, steps)
    losses = F.cross_entropy(logits.transpose(1, 2), Y, reduction="none")
    return (losses * mask).sum() / mask.sum()                    # per valid token


print(sequence_mask(Y_valid_lens, num_steps))
loss = masked_cross_entropy(logits, Y, Y_valid_lens)
junk = logits.clone()
junk[1, 3:] = torch.randn(num_steps - 3, len(tgt_vocab)) * 100    # after "va ! <eos>"
same = masked_cross_entropy(junk, Y, Y_valid_lens)
print(f"loss {loss:.4f}; with junk after <eos>: {same:.4f}; "
      f"uniform guessing: ln {len(tgt_vocab)} = {math.log(len(tgt_vocab)):.4f}")
assert loss == same and abs(loss - math.log(len(tgt_vocab))) < 0.1

# %% [markdown]
# An untrained network is about as good as uniform guessing over the French vocabulary, and
# changing the scores after `<eos>` leaves the loss unchanged.
#
# ## The same weights in `d2lite.models`
#
# `d2lite.models` holds the copies that later lessons import: `EncoderDecoder`,
# `Seq2SeqEncoder`, `Seq2SeqDecoder` and `masked_cross_entropy`, which also takes the padding
# token's index instead of the valid lengths. Loaded with your weights, they must give your
# network's scores and loss.

# %%
package_net = models.EncoderDecoder(
    models.Seq2SeqEncoder(len(src_vocab), 32, 32, num_layers=2, dropout=0.1),
    models.Seq2SeqDecoder(len(tgt_vocab), 32, 32, num_layers=2, dropout=0.1))
package_net.load_state_dict(net.state_dict())
package_logits = package_net.eval()(X, Y, X_valid_lens)
gap = (package_logits - logits).abs().max().item()
losses = [models.masked_cross_entropy(package_logits, Y, Y_valid_lens),
          models.masked_cross_entropy(package_logits, Y, pad_id=tgt_vocab["<pad>"])]
print(f"max gap in the logits {gap:.1e}; losses {losses[0]:.4f}, {losses[1]:.4f}")
assert gap < 1e-6 and all(abs(x - loss) < 1e-6 for x in losses)

# %% [markdown]
# ## Teacher forcing
#
# In training, the decoder is shown the correct French sentence, shifted one step to the right:
# its inputs are `<bos> j'ai perdu .` and its labels `j'ai perdu . <eos>`. At every position it
# predicts the next token from the *true* previous tokens, never from its own guesses, whatever
# they were. This is **[teacher forcing](../../book/glossary.md#term-teacher-forcing)**
# (强制教学): the whole target goes through the decoder in one call, and an early mistake does
# not derail the rest of the sentence while the model is still learning
# ([Figure 2](#fig-seq2seq-teacher-forcing)).

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Teacher forcing, unrolled in time. The encoder reads the source and its final state starts the decoder; the context c enters every decoder step. The decoder's inputs are <bos> and the true target, shifted one step to the right; its labels are the target followed by <eos>.", "name": "fig-seq2seq-teacher-forcing"}}
d2lite.diagrams.teacher_forcing(["i", "lost", "."], ["j'ai", "perdu", "."])

# %%
def shift_right(Y):
    """Labels (batch, steps) -> decoder inputs: <bos>, then the labels but the last."""
    bos = torch.full_like(Y[:, :1], tgt_vocab["<bos>"])
    return torch.cat([bos, Y[:, :-1]], dim=1)


print(tgt_vocab.to_tokens(shift_right(Y)[0]))
print(tgt_vocab.to_tokens(Y[0]))
assert torch.equal(shift_right(Y), d2lite.text.shift_right(Y, tgt_vocab["<bos>"]))

# %% [markdown]
# ## Greedy decoding
#
# A translation has no teacher. The decoder starts from `<bos>`, and at every step its own
# output becomes its next input. **[Greedy search](../../book/glossary.md#term-greedy-search)**
# (贪心搜索) takes the likeliest token every time, and stops at `<eos>` or after `num_steps`
# tokens. The state carries everything written so far, so each step feeds one token
# ([Figure 3](#fig-seq2seq-greedy)).

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Greedy decoding, unrolled in time: after <bos>, each input is the token the decoder chose at the step before (red), so an early mistake is carried forward. The tokens drawn are a correct translation; the untrained network below writes other ones.", "name": "fig-seq2seq-greedy"}}
d2lite.diagrams.greedy_decoding(["i", "lost", "."], ["j'ai", "perdu", "."])

# %%
@torch.no_grad()
def translate(net, sentence):
    """Greedy search: English str -> French tokens, without <eos>."""
    net.eval()
    device = next(net.parameters()).device
    X, valid_lens = (t.to(device) for t in to_ids([sentence.split()], src_vocab))
    state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
    token, output = torch.tensor([[tgt_vocab["<bos>"]]], device=device), []
    for _ in range(num_steps):
        logits, state = net.decoder(token, state)          # (1, 1, vocab)
        token = logits.argmax(dim=-1)                      # (1, 1)
        if token.item() == tgt_vocab["<eos>"]:
            break
        output.append(tgt_vocab.to_tokens(token.item()))
    return output


# %% [markdown]
# Feeding tokens one at a time computes the same thing as one teacher-forced call over the
# same tokens: the decoder is a GRU either way. So if you give the greedy output back to the
# decoder as a whole sequence, the top scores must be the greedy choices again. On the
# untrained network, that is a check of the decoding loop:

# %%
words = translate(net, "i lost .")
inputs = torch.tensor([[tgt_vocab["<bos>"]] + tgt_vocab[words]])    # (1, len + 1)
X1, len1 = to_ids([["i", "lost", "."]], src_vocab)
replayed = net(X1, inputs, len1).argmax(dim=-1)[0]                  # (len + 1,)
print(words, "->", tgt_vocab.to_tokens(replayed))
assert replayed[:-1].tolist() == tgt_vocab[words]
package_words, _ = models.greedy_decode(net, "i lost .", src_vocab, tgt_vocab, 8)
assert package_words == words

# %% [markdown]
# The untrained network writes nonsense, of course. The last line checks that
# `d2lite.models.greedy_decode` writes the same nonsense.
#
# ## BLEU
#
# How good is a translation? **[BLEU](../../book/glossary.md#term-bleu)** (bilingual evaluation
# understudy, [Papineni et al., 2002](../../book/references.md)) asks, for every
# $n$-gram of the prediction, whether it occurs in the label. The source notes define it as
#
# $$
# \exp\left(\min\left(0, 1 - \frac{\mathrm{len}_{\text{label}}}{\mathrm{len}_{\text{pred}}}
# \right)\right) \prod_{n=1}^{k} p_n^{1/2^n}, \tag{1}
# $$
#
# where $p_n$ is the share of the prediction's $n$-grams that match the label (a label
# $n$-gram can be matched at most as often as it occurs there), and $k$ is the longest
# $n$-gram counted. A perfect prediction scores 1. Since $p_n \le 1$, raising it to the power
# $1/2^n$ lifts it towards 1, and the more so the larger $n$: a precision of 0.5 becomes
# $0.5^{1/2} \approx 0.71$ for unigrams but $0.5^{1/4} \approx 0.84$ for bigrams. In the
# logarithm, $\log \mathrm{BLEU}$ adds $2^{-n} \log p_n$, so a poor match of long $n$-grams
# costs *less* than an equally poor match of single words: long $n$-grams weigh less. (Long
# matches are rarer, so their precisions are small even for good translations, and the weights
# keep them from dominating.) And since precisions alone would reward a prediction that says
# very little, the first factor, the brevity penalty, punishes a prediction shorter than the
# label.
#
# Take the label "je suis très calme ." (5 tokens) and the prediction "je suis calme ."
# (4 tokens), with $k = 2$. All 4 unigrams occur in the label: $p_1 = 4/4$. Of the 3 bigrams,
# "je suis" and "calme ." do, "suis calme" does not: $p_2 = 2/3$. The brevity penalty is
# $\exp(1 - 5/4) = e^{-0.25}$, so BLEU $= e^{-0.25} \cdot 1^{1/2} \cdot (2/3)^{1/4} \approx
# 0.704$. The code counts the same way:

# %%
def precision(pred, label, n):
    """p_n: the share of pred's n-grams found in label, clipped by label's counts."""
    grams = lambda tokens: collections.Counter(
        tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    found, wanted = grams(pred), grams(label)
    return sum((found & wanted).values()) / sum(found.values())


def bleu_by_hand(pred, label, k):
    pred, label = pred.split(), label.split()
    score = math.exp(min(0, 1 - len(label) / len(pred)))
    for n in range(1, k + 1):
        score *= precision(pred, label, n) ** (1 / 2 ** n)
    return score


pred, label = "je suis calme .", "je suis très calme ."
print([round(precision(pred.split(), label.split(), n), 4) for n in (1, 2)])
print(f"{bleu_by_hand(pred, label, 2):.4f} by hand, "
      f"{bleu(pred, label, k=2):.4f} d2lite.text.bleu")
assert abs(bleu_by_hand(pred, label, 2) - math.exp(-0.25) * (2 / 3) ** 0.25) < 1e-12
lifted = [0.5 ** (1 / 2 ** n) for n in (1, 2, 3, 4)]     # p_n = 0.5 after its exponent
print("a precision of 0.5 counts as", [round(x, 2) for x in lifted], "for n = 1..4")
assert lifted == sorted(lifted) and lifted[0] < lifted[1], "long n-grams weigh less"

# %% [markdown]
# The clipping matters for a prediction that repeats itself: "le le le ." has four unigrams,
# three of them "le", but the label "le chat dort ." has only one "le" to match, so
# $p_1 = 2/4$, not $4/4$. On a few more pairs and values of $k$, your function and
# `d2lite.text.bleu` agree:

# %%
cases = [("le le le .", "le chat dort .", 1), ("le le le .", "le chat dort .", 2),
         ("il est calme .", "il est calme .", 2), ("il est .", "il est calme .", 2),
         ("je suis chez moi .", "je suis chez toi .", 3)]
for pred, label, k in cases:
    ours, theirs = bleu_by_hand(pred, label, k), bleu(pred, label, k=k)
    print(f"{pred:20s} | {label:22s} k={k}: {ours:.4f} {theirs:.4f}")
    assert abs(ours - theirs) < 1e-12
assert precision("le le le .".split(), "le chat dort .".split(), 1) == 2 / 4  # clipped

# %% [markdown]
# ## The BLEU that papers report
#
# Equation (1) is the form of the source notes and of the d2l book, scored one sentence at a
# time. It is *not* the BLEU that translation papers report, which
# [Papineni et al., 2002](../../book/references.md) define on a whole test corpus, and which
# differs in three ways:
#
# - **Corpus counts.** The clipped matches and the $n$-grams are summed over all sentences
#   before dividing, so $p_n$ is one number for the corpus, not one per sentence.
# - **A geometric mean.** The precisions $p_1, \dots, p_4$ get equal weights:
#   $\exp\big(\frac{1}{4}\sum_{n=1}^{4} \log p_n\big)$, not the weights $2^{-n}$.
# - **One brevity penalty.** It compares the total length of the predictions, $c$, with the
#   total length $r$ of the labels (for each sentence, the label closest in length to the
#   prediction): $\exp(\min(0, 1 - r/c))$.
#
# With several labels per sentence, an $n$-gram may match as often as it occurs in any one of
# them. The two definitions give different numbers for the same translations, so a BLEU score
# means something only with its definition. The function below is the standard one; on three
# sentences you can count it by hand. With $k = 2$: the predictions have $c = 4 + 2 + 5 = 11$
# tokens and the closest labels $r = 5 + 3 + 5 = 13$; all 11 unigrams match, and 7 of the 8
# bigrams ("suis calme" does not), so BLEU $= e^{1 - 13/11} (1 \cdot 7/8)^{1/2}$.

# %%
def ngrams(tokens, n):
    """The counts of the n-grams of a token list."""
    return collections.Counter(tuple(tokens[i:i + n])
                               for i in range(len(tokens) - n + 1))


def corpus_bleu(preds, labels, k=4):
    """Standard BLEU-k. preds: token lists; labels: for each, a list of token lists."""
    matches, totals, c, r = [0] * k, [0] * k, 0, 0
    for pred, refs in zip(preds, labels, strict=True):
        c += len(pred)
        r += min((abs(len(ref) - len(pred)), len(ref)) for ref in refs)[1]  # closest
        for n in range(1, k + 1):
            found = ngrams(pred, n)
            wanted = functools.reduce(operator.or_, (ngrams(ref, n) for ref in refs))
            matches[n - 1] += sum((found & wanted).values())   # | keeps the max count
            totals[n - 1] += sum(found.values())
    if min(matches) == 0:
        return 0.0                                   # some p_n = 0: no smoothing
    log_p = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / k
    return math.exp(min(0, 1 - r / c) + log_p)

# %% [markdown]
# The three sentences, with two labels for the second:

# %%
hand_preds = [s.split() for s in ("je suis calme .", "il dort", "je suis chez moi .")]
hand_labels = [[s.split() for s in labels] for labels in (
    ["je suis très calme ."], ["il dort .", "il dort bien ."], ["je suis chez moi ."])]
standard = corpus_bleu(hand_preds, hand_labels, k=2)
per_sentence = sum(max(bleu(p, ref, k=2) for ref in refs)
                   for p, refs in zip(hand_preds, hand_labels, strict=True)) / 3
print(f"standard BLEU-2 {standard:.4f}; mean of equation (1) per sentence "
      f"{per_sentence:.4f}")
assert abs(standard - math.exp(1 - 13 / 11) * (7 / 8) ** 0.5) < 1e-12

# %% [markdown]
# [sacreBLEU](https://github.com/mjpost/sacrebleu) is the reference implementation that
# papers use, so that their scores can be compared. The book's test dependencies install it;
# elsewhere, `pip install sacrebleu` brings it. Given the tokens as they are (no tokeniser of
# its own) and no smoothing, it must give the numbers of `corpus_bleu` for every $k$:

# %%
try:
    from sacrebleu.metrics import BLEU
except ImportError:
    BLEU = None
    print("sacreBLEU is not installed (pip install sacrebleu): its check is skipped")


def sacre_bleu(preds, labels, k):
    """sacreBLEU's corpus BLEU-k (0 to 1) of token lists, labels padded with None."""
    streams = [[" ".join(refs[j]) if j < len(refs) else None for refs in labels]
               for j in range(max(map(len, labels)))]      # streams[j][i]: label j of i
    metric = BLEU(tokenize="none", smooth_method="none", max_ngram_order=k)
    return metric.corpus_score([" ".join(p) for p in preds], streams).score / 100


if BLEU is not None:
    for k in (1, 2, 3, 4):
        ours, theirs = corpus_bleu(hand_preds, hand_labels, k), sacre_bleu(
            hand_preds, hand_labels, k)
        print(f"k={k}: corpus_bleu {ours:.6f}, sacreBLEU {theirs:.6f}")
        assert 0 < ours and abs(ours - theirs) < 1e-9

# %% [markdown]
# A held-out English sentence may have several French translations, and any of them is right.
# The lesson scores a sentence by its best BLEU over them, with $k = 2$ (the sentences are
# short), and averages over the distinct English sentences of a split.

# %%
def split_bleu(translator, name):
    """Mean over the English sentences of a split: the best BLEU over the labels.
    translator: English str -> French tokens, e.g. lambda s: translate(net, s)."""
    labels = collections.defaultdict(list)
    for src, tgt in pairs[name]:
        labels[" ".join(src)].append(" ".join(tgt))
    scores = [max(bleu(translator(s), label.split(), k=2) for label in ls)
              for s, ls in labels.items()]
    return sum(scores) / len(scores)


# %% [markdown]
# ## Training
#
# Each minibatch is `((X, decoder inputs, X_valid_lens), labels)`, the form `d2lite.fit` passes
# to a model with several inputs, and the loss masks the labels' padding by the `<pad>` index.

# %%
def minibatches(name, batch_size, seed=None):
    X, X_valid_lens = to_ids([s for s, _ in pairs[name]], src_vocab)
    Y, _ = to_ids([t for _, t in pairs[name]], tgt_vocab)
    return d2lite.data.batches((X, shift_right(Y), X_valid_lens), Y, batch_size,
                               seed=seed)
loss_fn = functools.partial(models.masked_cross_entropy, pad_id=tgt_vocab["<pad>"])
train_data, val_data = minibatches("train", 64, seed=0), minibatches("val", 256)
print(len(train_data), "minibatches per epoch")

# %% [markdown]
# The network is small, 32 embedding dimensions and 32 hidden units in two layers with dropout
# 0.1 between them, and trains with Adam and gradient clipping. Two things are chosen on the
# validation split: the learning rate, and how long to train. On 600 pairs the network soon
# starts to learn the training sentences by heart, so a run stops once its validation loss has
# not improved for 6 epochs, and `EarlyStopping(restore_best=True)` hands back the weights of
# its best epoch: the checkpoint kept is the one validation chose, not the last one.
#
# Why the validation loss and not the validation BLEU? The validation split holds 42 English
# sentences, and the BLEU of one short sentence is often 0 or 1: one sentence more or less
# right moves the mean by up to $1/42 \approx 0.024$, as much as two learning rates differ.
# The loss averages over every label token, 290 of them, and it is what the network is
# trained on.

# %%
def train(lr, seed=0, max_epochs=100):
    """Adam at rate lr until the validation loss has not improved for 6 epochs; the
    network comes back with the weights of its best epoch."""
    net = make_net(dropout=0.1, seed=seed)
    stopper = d2lite.EarlyStopping("val_loss", patience=6, restore_best=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)    # tiny matrices: on a CPU, a second thread only waits
    try:
        history = d2lite.fit(
            net, train_data, loss_fn=loss_fn, val_data=val_data, epochs=max_epochs,
            optimizer=torch.optim.Adam(net.parameters(), lr=lr), grad_clip=1.0,
            callbacks=[stopper], device=d2lite.try_gpu())
    finally:
        torch.set_num_threads(threads)
    return net.eval(), history

# %% [markdown]
# Two runs are best compared on the same tokens, so the next function returns the loss of
# every valid label token, not only their mean.

# %%
@torch.no_grad()
def token_losses(net, data):
    """The cross-entropy of every valid label token of `data`, as one vector."""
    net.eval()
    device = next(net.parameters()).device
    losses = []
    for inputs, Y in data:
        X, dec_inputs, X_valid_lens = (t.to(device) for t in inputs)
        Y = Y.to(device)
        logits = net(X, dec_inputs, X_valid_lens)               # (batch, steps, vocab)
        ce = F.cross_entropy(logits.transpose(1, 2), Y, reduction="none")
        losses.append(ce[Y != tgt_vocab["<pad>"]].cpu())        # valid tokens only
    return torch.cat(losses)

# %% [markdown]
# Five learning rates, a factor of 2 to 2.5 apart, one run each:

# %%
learning_rates = [0.001, 0.002, 0.005, 0.01, 0.02]
runs = {lr: train(lr) for lr in learning_rates}
val_tokens = {lr: token_losses(net, val_data) for lr, (net, _) in runs.items()}
n_sentences = len({" ".join(s) for s, _ in pairs["val"]})
print(f"validation: {n_sentences} English sentences, {len(val_tokens[0.01])} label "
      "tokens")
for lr, (_, history) in runs.items():
    best = history["val_loss"].index(min(history["val_loss"]))
    print(f"lr {lr:<5}: best epoch {best + 1:>2} of {len(history)}, validation loss "
          f"{val_tokens[lr].mean():.3f}")
    assert abs(val_tokens[lr].mean() - min(history["val_loss"])) < 1e-4  # best restored

# %% [markdown]
# The smaller rates reach lower validation losses, but the lowest few are close. Are their
# differences real? Compared token by token on the same 290 tokens, a difference in mean loss
# has a standard error, printed below beside each difference: two standard errors come to
# about half a nat, more than any difference here. Strictly, then, the validation split cannot
# rank these rates at all. The choice therefore follows a stated rule: a rate counts as tied
# with the lowest when its validation loss is higher by less than 0.1 nats per token (a
# perplexity higher by about a tenth at most), and among the tied rates the largest is kept,
# since it trains in the fewest epochs.

# %%
lowest = min(learning_rates, key=lambda lr: val_tokens[lr].mean())
tied = []
for lr in learning_rates:
    diff = val_tokens[lr] - val_tokens[lowest]                # token by token
    se = diff.std().item() / len(diff) ** 0.5              # 0 for the lowest itself
    tied += [lr] if diff.mean() < 0.1 else []
    print(f"lr {lr:<5}: {diff.mean():+.3f} against lr {lowest}, two standard errors "
          f"{2 * se:.3f}")
best_lr = max(tied)
best_epochs = [runs[lr][1]["val_loss"].index(min(runs[lr][1]["val_loss"]))
               for lr in learning_rates]
print("tied:", tied, "-> chosen learning rate:", best_lr)
assert learning_rates[0] < best_lr < learning_rates[-1], f"{best_lr} is at an edge"
assert best_epochs == sorted(best_epochs, reverse=True), "larger rates: later best?"
net, history = runs[best_lr]
d2lite.record("best_lr", best_lr)
d2lite.record("val_loss", val_tokens[best_lr].mean())

# %% [markdown]
# Two checks keep the search honest: the chosen rate is inside the grid, not at an edge where
# a better one might lie beyond, and the larger the rate, the earlier its best epoch, as it
# should be if the rates really differ in speed. [Figure 4](#fig-seq2seq-loss) shows the
# chosen run's masked loss on the training and validation pairs. The training loss keeps
# falling; the validation loss reaches its minimum and then rises, while the network goes on
# learning the training pairs by heart. The dotted line marks the epoch whose weights are kept.

# %% mystnb={"figure": {"caption": "Masked cross-entropy per token on the training pairs and on the validation pairs (held-out English sentences), epoch by epoch, for the chosen learning rate. The run stops 6 epochs after the validation minimum (dotted), whose weights are kept.", "name": "fig-seq2seq-loss"}}
epochs = range(1, len(history) + 1)
ax = d2lite.plot(list(epochs), [history["train_loss"], history["val_loss"]], "epoch",
                 "loss per token", legend=["training", "validation"], figsize=(5, 3))
best_epoch = history["val_loss"].index(min(history["val_loss"])) + 1
ax.axvline(best_epoch, color="gray", linestyle=":")
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
plt.show()
train_loss = history["train_loss"]
print(f"training loss {train_loss[0]:.2f} -> {train_loss[best_epoch - 1]:.2f} at the "
      f"best epoch {best_epoch} -> {train_loss[-1]:.2f} at the stop")
assert train_loss[best_epoch - 1] < train_loss[0] - 2, "the training loss did not fall"
assert train_loss[-1] < train_loss[best_epoch - 1], "training stopped improving too"
d2lite.record("best_epoch", best_epoch)

# %% [markdown]
# ## Translations
#
# The four sentences that the d2l book translates: three are training sentences; "he's calm ."
# is new, though "he's" and "calm" occur in other training sentences.

# %%
scores = []
for english_sentence, label in examples.items():
    french = " ".join(translate(net, english_sentence))
    scores.append(bleu(french, label, k=2))
    print(f"{english_sentence:12s} => {french:22s} BLEU {scores[-1]:.3f}")
mean_bleu = sum(scores) / len(scores)
print(f"mean BLEU {mean_bleu:.3f}")
assert mean_bleu > 0, "the network translates none of the four examples"
d2lite.record("examples_bleu", mean_bleu)

# %% [markdown]
# Four sentences are far too few to judge a translator by. Stopped where its validation loss
# is lowest, the network has not learned its
# training sentences by heart (exercise 5 trains on and shows what that buys); it writes short
# sentences from the commonest French frames, right in part for many inputs.
#
# ## Beam search
#
# Greedy search takes the likeliest token at every step, but the likeliest *sentence* need not
# start with the likeliest word. The decoder gives every output $y_1, \dots, y_L$ (the last
# one `<eos>`) a probability given the source $x$,
#
# $$\log P(y \mid x) = \sum_{t=1}^{L} \log P(y_t \mid y_1, \dots, y_{t-1}, x),$$
#
# and trying all $|\mathcal{V}|^L$ outputs to find the likeliest is out of reach: with 429
# French tokens and up to 8 of them, about $10^{21}$. **[Beam search](../../book/glossary.md#term-beam-search)** (束搜索) is the usual
# compromise. It keeps the $k$ best partial sentences, a beam of width $k$. At every step it
# extends each of them by every token, scores the candidates by their log-probability so far,
# and keeps the best $k$; a candidate that ends with `<eos>` leaves the beam as a finished
# sentence, and when none is left, the best finished one wins. Width 1 is greedy search; a
# width of $k$ costs $k$ times as many decoder steps.
#
# The search below receives the decoder as a function `step(token, state)` that returns the
# log-probabilities of the next token and the new state, so it works for any decoder; each
# hypothesis carries its own state. Extending each hypothesis by its own $k$ best tokens is
# enough: a token outside those has $k$ better siblings, so it cannot be among the best $k$.

# %%
def beam_search(step, state, bos, eos, width, max_len, alpha=0.0):
    """(tokens, log-probability) of the best finished hypothesis. step(token, state) ->
    (log-probabilities (vocab,), state); alpha > 0 ranks by score / length ** alpha."""
    beams, finished = [(0.0, [bos], state)], []     # (log-probability, tokens, state)
    for _ in range(max_len):
        candidates = []
        for score, tokens, state in beams:
            log_probs, new_state = step(tokens[-1], state)
            top = log_probs.topk(min(width, len(log_probs)))
            candidates += [(score + lp, tokens + [t], new_state) for lp, t in
                           zip(top.values.tolist(), top.indices.tolist(), strict=True)]
        candidates.sort(key=lambda c: c[0], reverse=True)
        beams = []
        for score, tokens, state in candidates[:width]:
            if tokens[-1] == eos:
                finished.append((score, tokens[1:]))    # without <bos>, with <eos>
            else:
                beams.append((score, tokens, state))
        if not beams:
            break
    finished += [(score, tokens[1:]) for score, tokens, _ in beams]   # cut at max_len
    score, tokens = max(finished, key=lambda f: f[0] / len(f[1]) ** alpha)
    return tokens, score

# %% [markdown]
# Is the beam's sentence always at least as likely as greedy's? With width 1 it *is* greedy's.
# With a wider beam it usually is, but not always: greedy's sentence can be pruned on the way,
# when other hypotheses have better continuations for a step, and those may end badly. A toy
# decoder over the tokens `<eos>`, a, b, c shows it. Its next-token probabilities depend on the
# tokens so far: after "a", `<eos>` is likeliest; after "b", two tokens are likely; elsewhere a
# fixed distribution holds.

# %%
toy_words = ["<eos>", "a", "b", "c"]            # id 4 is <bos>
toy_table = {(): [0.05, 0.40, 0.35, 0.20],     # P(<eos>), P(a), P(b), P(c)
             (1,): [0.30, 0.26, 0.24, 0.20],
             (2,): [0.05, 0.46, 0.05, 0.44]}
def toy_step(token, prefix):
    prefix = prefix if token == 4 else prefix + (token,)
    return torch.tensor(toy_table.get(prefix, [0.4, 0.3, 0.2, 0.1])).log(), prefix

toy = {width: beam_search(toy_step, (), bos=4, eos=0, width=width, max_len=3)
       for width in (1, 2, 3)}
for width, (tokens, score) in toy.items():
    print(f"width {width}: {' '.join(toy_words[t] for t in tokens):12s} "
          f"probability {math.exp(score):.4f}")
assert toy[2][1] < toy[1][1] and toy[3][0] == toy[1][0], "the toy should prune greedy"

# %% [markdown]
# Width 2 keeps "a" and "b" after the first step, but at the second, both continuations of "b"
# (0.35 × 0.46 and 0.35 × 0.44) beat "a `<eos>`" (0.4 × 0.3 = 0.12), which drops out; the
# sentences that start with "b" then end at about 0.06. Width 3 has room for "a `<eos>`"
# and returns it. So what holds exactly is: width 1 is greedy search, and a beam wide enough to
# keep every hypothesis is exact search; in between, a wider beam usually finds likelier
# sentences, without a guarantee.
#
# For the translator, `step` runs one decoder step on one token. A second function computes
# $\log P(y \mid x)$ of any output by one teacher-forced pass, independently of the search: the
# two must agree on the search's own output.

# %%
@torch.no_grad()
def translate_beam(net, sentence, width, alpha=0.0):
    """Beam search: English str -> (French tokens without <eos>, log-probability)."""
    net.eval()
    device = next(net.parameters()).device
    X, valid_lens = (t.to(device) for t in to_ids([sentence.split()], src_vocab))
    def step(token, state):
        logits, state = net.decoder(torch.tensor([[token]], device=device), state)
        return F.log_softmax(logits[0, -1], dim=-1), state     # (vocab,)
    state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
    eos = tgt_vocab["<eos>"]
    tokens, score = beam_search(step, state, tgt_vocab["<bos>"], eos, width, num_steps,
                                alpha)
    return tgt_vocab.to_tokens([t for t in tokens if t != eos]), score


@torch.no_grad()
def log_prob(net, sentence, words):
    """log P(words <eos> | sentence), by one teacher-forced pass."""
    device = next(net.parameters()).device
    (X, X_len), (Y, Y_len) = to_ids([sentence.split()], src_vocab), to_ids([words],
                                                                           tgt_vocab)
    logits = net(X.to(device), shift_right(Y).to(device), X_len.to(device))
    log_probs = F.log_softmax(logits[0], dim=-1).cpu()        # (steps, vocab)
    return log_probs[torch.arange(Y_len[0]), Y[0, :Y_len[0]]].sum().item()

# %% [markdown]
# Now greedy search against beams of width 2 and 4 on the validation sentences, and a beam of
# width 4 that ranks its finished sentences with **[length normalisation](../../book/glossary.md#term-length-normalisation)**: the log-probability
# divided by $L^{\alpha}$, with $\alpha = 0.75$ as in d2l. Every token multiplies the
# probability by a factor below 1, so the plain score favours short sentences; the normalised
# one is closer to an average per token.

# %%
val_sentences = list(dict.fromkeys(" ".join(s) for s, _ in pairs["val"]))
greedy = {s: translate(net, s) for s in val_sentences}
greedy_lp = {s: log_prob(net, s, greedy[s]) for s in val_sentences}
searches = {(width, alpha): {s: translate_beam(net, s, width, alpha)
                             for s in val_sentences}
            for width, alpha in ((1, 0.0), (2, 0.0), (4, 0.0), (4, 0.75))}
assert all(searches[1, 0.0][s][0] == greedy[s] for s in val_sentences), "width 1"
for out in searches.values():
    gap = max(abs(score - log_prob(net, s, words)) for s, (words, score) in out.items())
    assert gap < 1e-4, f"the search's scores are off by {gap:.1e}"

# %% [markdown]
# For each search, the mean log-probability of its outputs, their mean length, how many
# sentences came out *less* likely than greedy's, and the validation BLEU:

# %%
summary = {}
for (width, alpha), out in searches.items():
    mean_lp = sum(score for _, score in out.values()) / len(out)
    length = sum(len(words) for words, _ in out.values()) / len(out)
    below = sum(out[s][1] < greedy_lp[s] - 1e-5 for s in val_sentences)
    val_bleu = split_bleu(lambda s, out=out: out[s][0], "val")
    summary[width, alpha] = mean_lp, length, val_bleu
    print(f"width {width}, alpha {alpha}: log-probability {mean_lp:.2f}, {length:.2f} "
          f"tokens, {below} below greedy, validation BLEU {val_bleu:.3f}")
assert summary[4, 0.0][0] > summary[1, 0.0][0], "the beam should find likelier outputs"
assert summary[4, 0.0][1] <= summary[1, 0.0][1], "the beam's outputs should be shorter"
d2lite.record("beam_gain", summary[4, 0.0][0] - summary[1, 0.0][0])
d2lite.record("beam_bleu_change", summary[4, 0.0][2] - summary[1, 0.0][2])

# %% [markdown]
# The wider beam finds likelier translations on average, and on average no longer ones: the
# plain score prefers to stop early. With length normalisation, the search maximises a different
# score, so some of its outputs may be less likely than greedy's (the third column), as
# expected. And BLEU need not follow the probability at all: beam search answers "which
# sentence does the model find likeliest?", BLEU "how many of its $n$-grams does a human
# translation share?". Where the model is wrong, as a model trained on 431 pairs often is,
# a likelier sentence is not a better translation, and a shorter one pays BLEU's brevity
# penalty. The next cell looks for validation sentences where the beam's output is likelier
# but scores a lower BLEU than greedy's, and prints the first:

# %%
def best_bleu(words, sentence):
    return max(bleu(words, " ".join(t), k=2) for s, t in pairs["val"] if " ".join(s)
               == sentence)

worse = [s for s in val_sentences if searches[4, 0.0][s][1] > greedy_lp[s] + 1e-5
         and best_bleu(searches[4, 0.0][s][0], s) < best_bleu(greedy[s], s)]
for s in worse[:1]:
    print(s)
    for name, (words, score) in (("greedy", (greedy[s], greedy_lp[s])),
                                 ("beam 4", searches[4, 0.0][s])):
        print(f"  {name} {' '.join(words)!r}: log P {score:.2f}, "
              f"BLEU {best_bleu(words, s):.3f}")
print(f"{len(worse)} of {len(val_sentences)} sentences are like this")

# %% [markdown]
# Translation systems use beam search all the same, with widths of 4 to 10 and length
# normalisation, because their models are far better than this one, and for a good model a
# likelier sentence is more often a better one. Here, the validation split is too small to
# tell the searches apart by BLEU, so the test split is translated by greedy search, the
# decoder the lesson built first.
#
# ## The test split, once
#
# The honest number is BLEU on the test split, English sentences the network has never seen,
# read once, now. A held-out score needs a baseline. The simplest translator that knows French
# but never reads the English writes the same sentence for every input: the likeliest one
# under the [bigram counts](text_and_language_models.ipynb) of the training French, taking the
# most frequent next token from `<bos>` until `<eos>`. It is a decoder without an encoder, so
# whatever the network scores above it comes from reading the source. Later lessons call the
# same function as `d2lite.text.bigram_guess`.

# %%
def french_only_guess():
    """Greedy decoding of a bigram model of the training French: one fixed sentence."""
    follow = collections.defaultdict(collections.Counter)   # token -> next-token counts
    for _, tgt in pairs["train"]:
        tokens = ["<bos>"] + tgt + ["<eos>"]
        for a, b in zip(tokens[:-1], tokens[1:], strict=True):
            follow[a][b] += 1
    words, token = [], "<bos>"
    while len(words) < num_steps:
        token = follow[token].most_common(1)[0][0]
        if token == "<eos>":
            return words
        words.append(token)
    return words


guess = french_only_guess()
french = [tgt for _, tgt in pairs["train"]]
assert d2lite.text.bigram_guess(french, num_steps) == guess   # the same, in the package
guess_bleu = split_bleu(lambda s: guess, "test")
print(f"for every sentence: {' '.join(guess)}; test BLEU {guess_bleu:.3f}")

# %% [markdown]
# Now the network on the test sentences, greedy search, once: BLEU of equation (1) per
# sentence as before, beside the same score on the training sentences, and a few of the
# translations.

# %%
translator = functools.partial(translate, net)
train_bleu, test_bleu = split_bleu(translator, "train"), split_bleu(translator, "test")
print(f"BLEU: training sentences {train_bleu:.3f}, "
      f"held-out test sentences {test_bleu:.3f}, French-only guess {guess_bleu:.3f}")
for src, tgt in pairs["test"][:40:8]:                  # a few held-out sentences
    print(f"{' '.join(src):18s} => {' '.join(translate(net, ' '.join(src))):24s}"
          f" (one label: {' '.join(tgt)})")
d2lite.record("train_bleu", train_bleu)
d2lite.record("test_bleu", test_bleu)
d2lite.record("test_over_guess", test_bleu - guess_bleu)

# %% [markdown]
# The test split holds a few dozen English sentences, so, as on validation, one sentence more
# or less right moves the mean BLEU by a few hundredths: too coarse to tell whether the network
# beats the guess. The loss says it more reliably. If the network reads the source, its loss on
# the test pairs must rise when each French sentence is paired with the English of another
# (shuffled within the test split); a decoder that ignored the English would not notice.

# %%
(X, dec_inputs, X_valid_lens), Y = next(iter(minibatches("test", 256)))
device = next(net.parameters()).device
generator = torch.Generator().manual_seed(0)
shuffles = [torch.arange(len(X))] + [torch.randperm(len(X), generator=generator)
                                     for _ in range(5)]              # 5 shuffles
with torch.no_grad():
    losses = [loss_fn(net(X[p].to(device), dec_inputs.to(device),
                          X_valid_lens[p].to(device)), Y.to(device)).item()
              for p in shuffles]
shuffled = sum(losses[1:]) / 5
n_test = len({" ".join(s) for s, _ in pairs["test"]})
print(f"{n_test} test sentences; loss per token {losses[0]:.3f} with the true English, "
      f"{shuffled:.3f} with shuffled English")
assert shuffled > losses[0] + 0.1, "the network does not use the source sentence"
d2lite.record("test_loss", losses[0])
d2lite.record("shuffle_gain", shuffled - losses[0])

# %% [markdown]
# Finally the standard BLEU of the same test translations, at the corpus level, for $k = 2$
# and the usual $k = 4$, and sacreBLEU's where it is installed. Most test outputs have fewer
# than four tokens, and without smoothing a single $p_n = 0$ sets the score to 0, so BLEU-4
# says little about sentences this short: which is why the lesson scores them with $k = 2$.

# %%
test_labels = collections.defaultdict(list)            # English -> its French labels
for src, tgt in pairs["test"]:
    test_labels[" ".join(src)].append(tgt)
test_preds = [translate(net, s) for s in test_labels]
for k in (2, 4):
    ours = corpus_bleu(test_preds, list(test_labels.values()), k)
    theirs = sacre_bleu(test_preds, list(test_labels.values()), k) if BLEU else None
    print(f"standard BLEU-{k} of the test translations: {ours:.4f}"
          + (f", sacreBLEU {theirs:.4f}" if BLEU else ""))
    assert BLEU is None or abs(ours - theirs) < 1e-9, "corpus_bleu is not sacreBLEU"
    d2lite.record(f"test_corpus_bleu{k}", ours)

# %% [markdown]
# What holds the network back is mostly data. With 600 pairs, most French words of the
# training pairs occur there once or twice, as the next cell counts: too few examples to
# learn what they translate. More data helps most. Attention lets the decoder look back at
# every source token instead of one fixed vector:
# [Bahdanau attention](../06_attention/bahdanau_attention.ipynb) in chapter 6 adds it to this
# model and compares the two on longer sentences, where one vector has more to hold.

# %%
french_counts = collections.Counter(t for _, tgt in pairs["train"] for t in tgt)
rare = sum(c <= 2 for c in french_counts.values()) / len(french_counts)
print(f"{len(french_counts)} distinct French words in training, {rare:.0%} of them "
      "seen once or twice")
assert rare > 0.5, f"only {rare:.0%} of the French words are rare"

# %% [markdown]
# ## Summary
#
# - An encoder–decoder maps a sequence to a sequence of another length: the encoder condenses
#   the source into a state, the decoder is a conditional language model started from that
#   state, with the context concatenated to every input; `<eos>` lets it decide when to stop.
#   Translation, speech recognition, chatbots and parsing all fit that shape.
# - Padding makes minibatches rectangular; valid lengths say where each sentence ends. Packing
#   keeps the padding out of the encoder's state, and a masked cross-entropy keeps it out of
#   the loss.
# - Teacher forcing trains the decoder on the true previous tokens, all positions in one call;
#   greedy search translates by feeding back the likeliest token, one step at a time. Beam
#   search keeps the $k$ likeliest partial sentences; it usually finds likelier outputs than
#   greedy search, without a guarantee, and a likelier output need not score a higher BLEU.
# - The notes' BLEU multiplies per-sentence $n$-gram precisions weighted by $1/2^n$ (long
#   $n$-grams weigh less) with a brevity penalty; the BLEU that papers report (sacreBLEU's)
#   counts over the corpus and takes the geometric mean of $p_1, \dots, p_4$.
# - The learning rate and the stopping epoch are chosen on the validation loss. On 600 pairs
#   the network reads the source (shuffling it raises the test loss) but translates new
#   sentences poorly: it needs more data.

# %% [markdown]
# ## Exercises
#
# 1. A prediction that is the first half of its label, e.g. "je suis" for "je suis chez moi .",
#    has every $p_n = 1$. What is its BLEU, and which factor of equation (1) sets it?

# %% tags=["hide-cell"]
# A solution: every n-gram of a prefix occurs in the label, so BLEU is the brevity
# penalty alone, exp(1 - 5/2) = exp(-1.5).
pred, label = "je suis", "je suis chez moi ."
print([precision(pred.split(), label.split(), n) for n in (1, 2)],
      f"BLEU {bleu(pred, label, k=2):.4f}, exp(-1.5) = {math.exp(-1.5):.4f}")
assert abs(bleu(pred, label, k=2) - math.exp(-1.5)) < 1e-12

# %% [markdown]
# 2. Run the encoder's GRU without packing, on "go ." padded to 8 and to 12 tokens. Do the two
#    final states agree? And with packing?

# %% tags=["hide-cell"]
# A solution: unpacked, the GRU reads the <pad> tokens, and the final state depends on
# how many there are; packed, it stops after <eos> both times.
enc = net.encoder.eval()
go = src_vocab[["go", ".", "<eos>"]]
device = next(enc.parameters()).device
X8, X12 = (torch.tensor([go + [src_vocab["<pad>"]] * (n - 3)], device=device)
           for n in (8, 12))
with torch.no_grad():
    unpacked = [enc.rnn(enc.embedding(Xn))[1] for Xn in (X8, X12)]
    packed = [enc(Xn, torch.tensor([3]))[1] for Xn in (X8, X12)]
gaps = [(a - b).abs().max().item() for a, b in (unpacked, packed)]
print(f"unpacked gap {gaps[0]:.3f}, packed gap {gaps[1]:.1e}")
assert gaps[0] > 1e-3 and gaps[1] < 1e-6

# %% [markdown]
# 3. Count the network's parameters. How many of them are there only because the French
#    vocabulary has 429 tokens, and what share is that?

# %% tags=["hide-cell"]
# A solution: the decoder's embedding (one 32-vector per token) and its output layer
# (one row of 32 weights and a bias per token) grow with the vocabulary.
sizes = {name: p.numel() for name, p in net.named_parameters()}
per_token = sizes["decoder.embedding.weight"] + sizes["decoder.dense.weight"] \
    + sizes["decoder.dense.bias"]
total = sum(sizes.values())
print(f"{total:,} parameters, {per_token:,} of them per French token "
      f"({per_token / total:.0%})")
assert per_token == (32 + 32 + 1) * len(tgt_vocab) and per_token > total / 3

# %% [markdown]
# 4. Train on the first 3,000 pairs (same split rules) for the same number of minibatches. How
#    does the test BLEU change? And the gap to the training BLEU?

# %% [markdown]
# 5. Train at the rate 0.01 for 80 epochs without early stopping, as a first version of this
#    lesson did. What happens to the BLEU on the training sentences, and on the validation
#    sentences?

# %% tags=["hide-cell"]
# A solution: past the validation minimum the network learns the training pairs by
# heart: its training BLEU climbs far, the validation BLEU does not follow.
long_net = make_net(dropout=0.1)
threads = torch.get_num_threads()
torch.set_num_threads(1)
d2lite.fit(long_net, train_data, loss_fn=loss_fn, epochs=80, grad_clip=1.0,
           optimizer=torch.optim.Adam(long_net.parameters(), lr=0.01),
           device=d2lite.try_gpu())
torch.set_num_threads(threads)
found = {name: [split_bleu(functools.partial(translate, m), split)
                for split in ("train", "val")]
         for name, m in (("stopped", net), ("80 epochs", long_net))}
for name, (train_b, val_b) in found.items():
    print(f"{name:9s}: training BLEU {train_b:.3f}, validation BLEU {val_b:.3f}")
assert found["80 epochs"][0] > found["stopped"][0] + 0.3, "no memorisation?"
