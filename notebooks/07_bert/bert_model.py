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
# # BERT: a Transformer encoder that reads words in context
#
# A word vector from [word2vec](../05_rnn/word2vec.ipynb) is one row of a table: "bank" gets
# the same vector beside a river and beside a loan. In this lesson you see why that is a
# problem, how self-supervised learning lets a model learn from raw text without labels,
# and how BERT answers with a [Transformer](../06_attention/transformer.ipynb) encoder whose
# output for a word depends on its sentence. You build BERT's input, its WordPiece tokeniser
# and its encoder from scratch, load real pretrained weights into them, and watch the two
# meanings of "bank" separate layer by layer.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import itertools
import unicodedata
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from torch import nn
from torch.nn import functional as F
from d2lite import models
from d2lite.models import TransformerEncoderBlock
from d2lite.wordpiece import WordPiece

# %% [markdown]
# ## One vector per word is not enough
#
# Every embedding you have trained so far is a lookup table: token index in, one row out. The
# row is learned from all the contexts the word appears in, so for a word with two meanings
# it is a compromise between them, and the network after it has to untangle the meaning from
# the neighbouring words on its own. "An apple a day" and "an Apple phone" start from the same
# vector; so do "the bank of the river" and "the bank approved the loan".
#
# What we want instead is a model that takes a whole sentence and returns one vector per
# word, each computed from the word *and* its context. A sentence in, a row of vectors out:
# that is exactly what a Transformer encoder does.
# **[BERT](../../book/glossary.md#term-bert)** (BERT 模型, Bidirectional Encoder
# Representations from Transformers; [Devlin et al., 2019](../../book/references.md)) is
# such an encoder, and most of this lesson is about how little it adds to the blocks of
# chapter 6.
#
# Two models just before it show what "bidirectional" in its name means. ELMo
# ([Peters et al., 2018](../../book/references.md)) runs two LSTMs over the sentence, one left
# to right and one right to left, and concatenates their states: each half sees one side of a
# word, and the two halves never meet inside the model. GPT
# ([Radford et al., 2018](../../book/references.md)) is a stack of Transformer decoder blocks
# trained to predict the next word, so its causal mask lets each word see only the words
# before it. BERT's encoder has no mask: in every layer each word attends to both sides at
# once ([Figure 1](#fig-bert_model-contexts)). That is also why BERT cannot be trained the way
# GPT is: a word that sees both sides already sees the next word, so predicting it would teach
# nothing. BERT hides words instead, as the next section explains.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Which tokens the vector of token 3 depends on (red). ELMo: a left-to-right and a right-to-left LSTM, each seeing one side, concatenated. GPT: a Transformer decoder, the left side only. BERT: a Transformer encoder, both sides in every layer.", "name": "fig-bert_model-contexts"}}
d2lite.diagrams.context_directions(n=5, position=3)

# %% [markdown]
# The figure can be checked on small random networks. For each kind of model, the cell below
# asks which input positions each output position depends on, from the Jacobian of the
# outputs with respect to the inputs: row $i$, column $j$ is 1 when output $i$ changes with
# input $j$. `nn.LSTM(bidirectional=True)` runs two separate LSTMs, one per direction, and
# concatenates their outputs, as ELMo does. GPT's block, a decoder block with no
# cross-attention, is an encoder block under a causal mask; BERT's has no mask.

# %%
d2lite.seed_everything(0)
n, d = 5, 8
X_ctx = torch.randn(1, n, d)                                  # (batch, steps, features)
def depends(f):
    """(n, n) 0/1 table: 1 where output position i changes with input position j."""
    J = torch.autograd.functional.jacobian(f, X_ctx)[0, :, :, 0]   # (n, d_out, n, d)
    return (J.abs().sum(dim=(1, 3)) > 0).int()

# %%
lstm = nn.LSTM(d, d, bidirectional=True, batch_first=True)
block = TransformerEncoderBlock(d, 16, 2, dropout=0.0).eval()
causal = models.causal_valid_lens(1, n, offset=0)            # query i sees keys 0..i
sees = {"ELMo, left-to-right half": depends(lambda X: lstm(X)[0][..., :d]),
        "ELMo, right-to-left half": depends(lambda X: lstm(X)[0][..., d:]),
        "GPT, causal mask": depends(lambda X: block(X, causal)),
        "BERT, no mask": depends(lambda X: block(X))}
for name, table in sees.items():
    print(f"{name:25s}", table.tolist())

# %% [markdown]
# Each ELMo half and GPT see one side only (a triangle), BERT sees everything. In BERT's
# table the entry at row $i$, column $i + 1$ is 1: the output at position $i$ already
# depends on the next word, the very word a left-to-right language model would ask it to
# predict. Trained on that objective, a bidirectional model would copy the answer instead of
# learning language, which is how the bidirectional RNN of
# [chapter 5](../05_rnn/deep_and_bidirectional.ipynb) cheats. Hence masked language
# modelling: hide the word in the input, then predict it.

# %%
lower = torch.ones(n, n, dtype=torch.int).tril()              # j <= i
assert (sees["ELMo, left-to-right half"] == lower).all()
assert (sees["ELMo, right-to-left half"] == lower.T).all()
assert (sees["GPT, causal mask"] == lower).all() and sees["BERT, no mask"].all()

# %% [markdown]
# ## Learning without labels
#
# A Transformer needs a great deal of training data, far more than anyone can label by hand.
# **[Self-supervised learning](../../book/glossary.md#term-self-supervised-learning)**
# (自监督学习) gets around this by making the labels out of the data itself: take an
# example, damage it, and train the model to repair it. The original example is the target,
# so no person has to label anything. With images you can cut a hole out of a photo and ask
# for the missing patch, or shuffle its tiles and ask for their order. With text you can
# hide a word and ask which word it was, or glue two sentences together and ask whether the
# second really followed the first. These are BERT's two pretraining tasks, masked language
# modelling and next-sentence prediction; [the next lesson](bert_pretraining.ipynb) builds
# them. Because the text can be any text, the training set can be billions of words.
#
# Here you skip the expensive part. The data mirror holds the weights of all-MiniLM-L6-v2, a
# small BERT (6 layers, 384 numbers per token, 12 heads) made in two steps. It keeps every
# second layer of MiniLM-L12, which was distilled from a larger pretrained model
# ([Wang et al., 2020](../../book/references.md)); then it was trained contrastively on about a
# billion sentence pairs, some of them labelled by people (pairs of questions that ask the same
# thing, a premise and what it implies), to give similar sentences similar vectors
# ([Sentence-Transformers, 2021](../../book/references.md); the method is
# [Reimers and Gurevych, 2019](../../book/references.md)). So it is not a model pretrained
# from raw text alone. `d2lite.data.load_minilm()` returns its tensors, its vocabulary and its
# configuration.

# %%
state_dict, vocab, config = d2lite.data.load_minilm()
num_params = sum(t.numel() for t in state_dict.values())
print(f"{len(state_dict)} tensors, {num_params / 1e6:.1f} M numbers,"
      f" {len(vocab):,} tokens")
print({k: config[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                              "intermediate_size", "max_position_embeddings")})

# %% [markdown]
# ## From text to tokens: WordPiece
#
# A vocabulary of whole words is either huge or full of `<unk>`. BERT uses a
# **[WordPiece](../../book/glossary.md#term-wordpiece)** (词片) vocabulary
# ([Wu et al., 2016](../../book/references.md)) of 30,522 entries: frequent words, and
# pieces of words marked `##` when they continue a word. A rare word is spelled with pieces
# (`snowboarding` becomes `snow`, `##boarding`), so almost nothing is unknown.
#
# Tokenising has two steps. The **basic split** cleans the text (control characters are
# dropped, every kind of whitespace becomes a space), puts spaces around Chinese characters
# so that each is a word of its own, splits at spaces, lower-cases, strips accents
# (café → cafe) and splits off every punctuation mark. The next cell writes it out.

# %%
def is_punctuation(char):
    cp = ord(char)  # ASCII symbols such as $ + ^ count as punctuation too
    ascii_symbol = (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96
                    or 123 <= cp <= 126)
    return ascii_symbol or unicodedata.category(char).startswith("P")


def is_cjk(char):
    cp = ord(char)  # the CJK ideograph blocks of Unicode
    return any(lo <= cp <= hi for lo, hi in [
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)])


def clean(text):
    chars = []
    for char in text:
        category = unicodedata.category(char)
        if char in " \t\n\r" or category == "Zs":
            chars.append(" ")                  # any whitespace -> one space
        elif ord(char) in (0, 0xFFFD) or category.startswith("C"):
            continue                           # control characters are dropped
        else:
            chars.append(f" {char} " if is_cjk(char) else char)
    return "".join(chars)


# %% [markdown]
# Then each word is lower-cased, its accents are removed (Unicode's NFD form writes é as e
# plus a combining accent, which we drop), and punctuation is cut off as words of their own.

# %%
def basic_split(text):
    words = []
    for word in clean(text).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        current = ""
        for char in word:
            if is_punctuation(char):
                words += [current, char] if current else [char]
                current = ""
            else:
                current += char
        if current:
            words.append(current)
    return words


print(basic_split("Héllo, wörld! The café's 深度学习\tmodel costs $5."))

# %% [markdown]
# The second step cuts each word into pieces, **greedily, longest match first**: take the
# longest prefix of the word that is in the vocabulary, then the longest continuation (with
# `##`) of the rest, and so on. If at some point no piece fits, the whole word becomes
# `[UNK]`; so does any word longer than 100 characters.

# %%
token_to_idx = {token: i for i, token in enumerate(vocab)}


def split_word(word, max_chars=100):
    if len(word) > max_chars:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:  # shrink the candidate until the vocabulary has it
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in token_to_idx:
                break
            end -= 1
        if end == start:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def wordpiece(text):
    return [piece for word in basic_split(text) for piece in split_word(word)]


# %% [markdown]
# Here is what it does to a few sentences. Common words stay whole; rarer ones are spelled
# with pieces, not always where a linguist would cut them ("unaffable" becomes `una`, `##ffa`,
# `##ble`). Each Chinese character is a word of its own, but this vocabulary was built from
# English text and knows only some of them: the others become `[UNK]`. A multilingual
# vocabulary would need many more entries.

# %% tags=["nbval-check-output"]
examples = ["The bank approved an unaffable loan officer.",
            "Tokenization handles snowboarding and embeddings!",
            "深度学习 is fun."]
for sentence in examples:
    print(wordpiece(sentence))

# %% [markdown]
# `d2lite.wordpiece.WordPiece` is the same algorithm, packaged with BERT's special tokens. The
# book's tests check it against Hugging Face's `tokenizers` library on all 10,662 movie-review
# sentences of [the sentiment lesson](../05_rnn/sentiment_rnn.ipynb); here you check that the
# cells above agree with the package on the first 2,000 of them.

# %%
tokenizer = WordPiece(vocab)
reviews, _ = d2lite.data.load_rt_polarity()
differ = [s for s in reviews[:2000] if wordpiece(s) != tokenizer.tokenize(s)]
print(f"{len(differ)} of 2,000 review sentences tokenized differently")
assert not differ, f"the cells and d2lite.wordpiece.WordPiece differ on {differ[:2]}"

# %% [markdown]
# ## BERT's input
#
# BERT reads one sentence or a pair of sentences at once (a question and a passage, two
# sentences that may or may not follow each other). Two special tokens frame them:
# `[CLS]` first, whose output vector is meant to summarise the whole input, and `[SEP]`
# after each sentence. Each token's input vector is the sum of three learned embeddings:
#
# $$\mathbf{x}_t = \mathbf{E}_{\text{token}}[w_t] + \mathbf{E}_{\text{segment}}[s_t] +
# \mathbf{E}_{\text{position}}[t], \tag{1}$$
#
# what the token is ($w_t$), which sentence it belongs to (segment $s_t$ = 0 or 1) and where
# it stands ($t$ = 0, 1, ..., up to 511). Unlike the sinusoidal encoding of chapter 6, the
# position vectors are learned like any other weight. A
# [layer normalisation](../../book/glossary.md#term-layer-normalisation) and dropout follow.

# %%
ids, segments = tokenizer.encode("The bank was closed.", "We sat by the river.")
print([vocab[i] for i in ids])
print(segments)

# %% [markdown]
# [Figure 2](#fig-bert_model-input) lays equation (1) out for this pair, one row per token.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "BERT's input for the pair above: each token's vector x_t is the sum of its token embedding, its segment embedding (0 for [CLS], the first sentence and its [SEP]; 1 for the second sentence, dashed) and its position embedding.", "name": "fig-bert_model-input"}}
d2lite.diagrams.bert_input([vocab[i] for i in ids], segments)

# %% [markdown]
# The embedding layer is equation (1) in code. BERT uses a tiny epsilon in its layer norms,
# $10^{-12}$, so we pass it on.

# %%
class BERTInput(nn.Module):
    def __init__(self, vocab_size, num_hiddens, max_len, dropout, eps=1e-12):
        super().__init__()
        self.token = nn.Embedding(vocab_size, num_hiddens)
        self.segment = nn.Embedding(2, num_hiddens)
        self.position = nn.Embedding(max_len, num_hiddens)
        self.ln = nn.LayerNorm(num_hiddens, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens, segments):
        positions = torch.arange(tokens.shape[1], device=tokens.device)  # (steps,)
        X = self.token(tokens) + self.segment(segments) + self.position(positions)
        return self.dropout(self.ln(X))  # (batch, steps, num_hiddens)


# %% [markdown]
# ## The encoder: chapter 6's blocks with GELU
#
# After the input layer, BERT is a stack of the
# [Transformer encoder blocks](../06_attention/transformer.ipynb) you already built:
# self-attention, add & norm, a position-wise feed-forward network, add & norm. The only
# change is the feed-forward network's activation, GELU instead of ReLU
# ([the activations lesson](../03_mlp/activations.ipynb) drew both). The model keeps every
# layer's output, because the second half of this lesson looks inside.

# %%
class BERT(nn.Module):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_layers,
                 dropout, max_len=512):
        super().__init__()
        self.embedding = BERTInput(vocab_size, num_hiddens, max_len, dropout)
        self.blocks = nn.ModuleList([
            TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout,
                                    activation="gelu", norm_eps=1e-12)
            for _ in range(num_layers)])

    def forward(self, tokens, segments, valid_lens):
        H = self.embedding(tokens, segments)   # (batch, steps, num_hiddens)
        self.hidden_states = [H]
        for block in self.blocks:
            H = block(H, valid_lens)
            self.hidden_states.append(H)
        return H


net = BERT(len(vocab), 384, 1536, num_heads=12, num_layers=6, dropout=0.1)

# %% [markdown]
# The checkpoint names its tensors the way Hugging Face's `BertModel` does, for example
# `encoder.layer.0.attention.self.query.weight`. A few string replacements turn them into our
# names (`blocks.0.attention.W_q.weight`); the pooler, a layer on top of `[CLS]` that we do not
# use, and a buffer of position indices are left out. The order of the replacements matters:
# `attention.output.dense` must be renamed before the plain `output.dense` of the FFN.

# %%
RENAMES = [("embeddings.word_embeddings", "embedding.token"),
           ("embeddings.token_type_embeddings", "embedding.segment"),
           ("embeddings.position_embeddings", "embedding.position"),
           ("embeddings.LayerNorm", "embedding.ln"), ("encoder.layer", "blocks"),
           ("attention.self.query", "attention.W_q"),
           ("attention.self.key", "attention.W_k"),
           ("attention.self.value", "attention.W_v"),
           ("attention.output.dense", "attention.W_o"),
           ("attention.output.LayerNorm", "addnorm1.ln"),
           ("intermediate.dense", "ffn.dense1"), ("output.dense", "ffn.dense2"),
           ("output.LayerNorm", "addnorm2.ln")]


def rename(name):
    for old, new in RENAMES:
        name = name.replace(old, new)
    return name


weights = {rename(name): tensor for name, tensor in state_dict.items()
           if not name.startswith("pooler.") and name != "embeddings.position_ids"}
net.load_state_dict(weights, strict=True)  # every tensor used, none missing
net.eval();

# %% [markdown]
# `strict=True` would have failed on a single misnamed or missing tensor. Now a padded batch:
# three sentences of different lengths, padded with `[PAD]` to the longest, and their valid
# lengths so that attention ignores the padding. The output has one 384-number vector per
# token.

# %%
def batch_of(sentences):
    rows = [tokenizer.encode(s)[0] for s in sentences]
    valid_lens = torch.tensor([len(row) for row in rows])
    tokens = torch.full((len(rows), int(valid_lens.max())), tokenizer.pad_id)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = torch.tensor(row)
    return tokens, torch.zeros_like(tokens), valid_lens


tokens, segs, valid_lens = batch_of(examples)
with torch.no_grad():
    out = net(tokens, segs, valid_lens)
print(tuple(tokens.shape), "->", tuple(out.shape), "valid lengths", valid_lens.tolist())
assert out.shape == (3, int(valid_lens.max()), 384), f"output shape {tuple(out.shape)}"

# %% [markdown]
# The package's `d2lite.models.BERTEncoder` is this model; later lessons import it. Loading
# our weights into it must give the same outputs, and its own renaming function must produce
# exactly our tensors. (The book's tests also check it against Hugging Face's `BertModel` with
# these weights: the last layers agree to about $10^{-6}$.)

# %%
package_net = models.BERTEncoder(len(vocab), 384, 1536, num_heads=12, num_layers=6,
                                 dropout=0.1).eval()
package_net.load_state_dict(net.state_dict())
with torch.no_grad():
    gap = (package_net(tokens, segs, valid_lens) - out).abs().max().item()
print(f"largest difference from d2lite.models.BERTEncoder: {gap:.1e}")
assert gap < 1e-6, f"the cells and the package differ by {gap:.1e}"
packaged = models.bert_state_dict(state_dict)
assert packaged.keys() == weights.keys(), "the two renamings disagree"

# %% [markdown]
# ## What the checkpoint learned: "bank" in context
#
# Now the test that motivated BERT. Below are four sentences where "bank" is the side of a
# river and four where it is a place for money. We run all eight through the model and
# collect the vector at the position of "bank" in every layer: layer 0 is the input of
# equation (1), layers 1 to 6 the blocks' outputs.

# %%
river = ["They had a picnic on the bank of the river.",
         "The boat drifted toward the muddy bank of the stream.",
         "Willows grow along the bank of the lake.",
         "Frogs sat on the bank of the pond."]
money = ["The bank approved our loan for the new house.",
         "The bank charged a fee on my savings account.",
         "My bank sent a new credit card.",
         "She opened an account at the bank."]
tokens, segs, valid_lens = batch_of(river + money)
where = (tokens == token_to_idx["bank"]).int().argmax(dim=1)  # position of "bank"
with torch.no_grad():
    net(tokens, segs, valid_lens)
bank_vectors = [H[torch.arange(8), where] for H in net.hidden_states]  # 7 x (8, 384)
print("position of 'bank':", where.tolist())

# %% [markdown]
# How close two vectors are is measured by their cosine similarity, as in the word2vec
# lesson. For each layer we compare every same-sense pair (river with river, money with money)
# with every cross-sense pair.

# %%
sense = torch.tensor([0] * 4 + [1] * 4)
same = (sense[:, None] == sense[None, :]) & ~torch.eye(8, dtype=torch.bool)
cross = sense[:, None] != sense[None, :]
similarity = [F.normalize(V, dim=1) @ F.normalize(V, dim=1).T for V in bank_vectors]
for layer, S in enumerate(similarity):
    print(f"layer {layer}: same sense min {S[same].min():.3f} mean {S[same].mean():.3f}"
          f" | cross-sense max {S[cross].max():.3f} mean {S[cross].mean():.3f}")

# %% [markdown]
# In the upper layers the two meanings have come apart: the least similar same-sense pair is
# still closer than the most similar cross-sense pair. The check asserts it for layers 4 to 6.

# %%
for layer in (4, 5, 6):
    S = similarity[layer]
    assert S[same].min() > S[cross].max(), \
        f"layer {layer}: a cross-sense pair ({S[cross].max():.3f}) is at least" \
        f" as close as a same-sense pair ({S[same].min():.3f})"

# %% [markdown]
# The input layer cannot tell the senses apart. Its vector for "bank" is the same token
# embedding in every sentence, plus a position and a segment; two sentences with "bank" at
# the same position get identical input vectors whatever the word means, and the average
# same-sense similarity barely exceeds the cross-sense one.

# %%
S = similarity[0]
gap0 = (S[same].mean() - S[cross].mean()).item()
gap6 = (similarity[6][same].mean() - similarity[6][cross].mean()).item()
print(f"layer 0: closest cross-sense pair {S[cross].max():.4f}, "
      f"mean gap {gap0:.3f} (layer 6: {gap6:.3f})")
assert S[cross].max() > S[same].min(), "the input layer already separates the senses"
assert gap0 < 0.05 and gap6 > 3 * gap0, \
    f"mean gaps: layer 0 {gap0:.3f}, layer 6 {gap6:.3f}"

# %% [markdown]
# [Figure 3](#fig-bert_model-similarity) shows the eight-by-eight similarity matrix of every
# layer, river sentences first. At layer 0 the only structure is position: three money
# sentences have "bank" as their third token and look alike, and the first river sentence
# and the last money sentence, both with "bank" at position 7, are identical. From layer 1
# on, two blocks appear along the diagonal and sharpen.

# %% mystnb={"figure": {"caption": "Cosine similarity of the eight vectors of \"bank\" in each layer (rows and columns: four river sentences, then four money sentences). Layer 0 is the input embedding.", "name": "fig-bert_model-similarity"}}
fig, axes = plt.subplots(2, 4, figsize=(6, 3.4))
for layer, ax in enumerate(axes.flat):
    if layer == 7:
        ax.axis("off")
        continue
    image = ax.imshow(similarity[layer], vmin=0.5, vmax=1.0, cmap="viridis")
    ax.set_title(f"layer {layer}", fontsize=9)
    ax.set_xticks([1.5, 5.5], ["river", "money"], fontsize=7)
    ax.set_yticks([1.5, 5.5], ["river", "money"], fontsize=7)
fig.colorbar(image, ax=axes[1, 3], fraction=0.8, label="cosine similarity")
plt.tight_layout()
plt.show()

# %% [markdown]
# [Figure 4](#fig-bert_model-gap) summarises each matrix by its mean same-sense and mean
# cross-sense similarity. The gap opens in the first block and stays open to the top.

# %% mystnb={"figure": {"caption": "Mean cosine similarity of same-sense and cross-sense pairs of \"bank\" vectors, by layer.", "name": "fig-bert_model-gap"}}
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot([S[same].mean().item() for S in similarity], "o-", label="same sense")
ax.plot([S[cross].mean().item() for S in similarity], "s-", label="different sense")
ax.set_xlabel("layer (0 = input embedding)")
ax.set_ylabel("mean cosine similarity")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend()
plt.show()

# %% [markdown]
# ## How sturdy is this?
#
# The separation is clear on average, but the margin between the closest cross-sense pair
# and the farthest same-sense pair is only a few hundredths, so it is fair to ask whether
# these eight sentences were lucky. They were chosen: they are eight of the sixteen below.
# The next cell runs all sixteen and computes, for every layer, each "bank" vector's
# nearest other "bank" vector, a test that does not hinge on the single worst pair.

# %%
more_river = ["The fisherman sat on the grassy bank all afternoon.",
              "After the flood, the river bank was covered in mud.",
              "We walked along the bank and watched the ducks swim by.",
              "The river burst its bank after the storm."]
more_money = ["She deposited her salary at the bank on Monday.",
              "He works as a teller at a bank in the city.",
              "I need to withdraw some cash from the bank today.",
              "The central bank raised interest rates."]
tokens, segs, valid_lens = batch_of(river + more_river + money + more_money)
where = (tokens == token_to_idx["bank"]).int().argmax(dim=1)
with torch.no_grad():
    net(tokens, segs, valid_lens)
labels = torch.tensor([0] * 8 + [1] * 8)  # 8 river sentences, then 8 money sentences
all16 = [F.normalize(H[torch.arange(16), where], dim=1) for H in net.hidden_states]
agree = []
for V in all16:
    S = (V @ V.T).fill_diagonal_(-2.0)  # a vector is not its own neighbour
    agree.append((labels[S.argmax(dim=1)] == labels).float().mean().item())
print("nearest neighbour of the same sense, layers 0-6:", [f"{a:.0%}" for a in agree])

# %% [markdown]
# From the first block on, every one of the sixteen vectors has a same-sense nearest
# neighbour; at the input, position coincidences mislead some of them.

# %%
assert all(a == 1.0 for a in agree[1:]), f"nearest-neighbour agreement {agree}"
assert agree[0] < 1.0, "the input layer already puts every bank beside its own sense"

# %% [markdown]
# The strict check, every same-sense pair above every cross-sense pair, is another matter.
# Of the 4,900 ways to choose four river and four money sentences out of these sixteen, the
# next cell counts how many pass it in all of layers 4 to 6.

# %%
passing = 0
choices = list(itertools.combinations(range(8), 4))
for r in choices:
    for m in choices:
        rows = torch.tensor(list(r) + [8 + i for i in m])
        ok = True
        for layer in (4, 5, 6):
            S = all16[layer][rows] @ all16[layer][rows].T
            ok = ok and bool(S[same].min() > S[cross].max())
        passing += ok
print(f"{passing} of {len(choices) ** 2:,} choices pass in layers 4-6")
assert 0 < passing < 0.1 * len(choices) ** 2, f"{passing} choices pass"

# %% [markdown]
# Fewer than one choice in ten passes, so the strict check says more about the sentences
# than about the model; the nearest-neighbour test and the mean gap of
# [Figure 4](#fig-bert_model-gap) are the sturdier evidence. Either way, nothing here was
# trained by us, and no word-sense labels were involved: the checkpoint's whole recipe
# (distillation from a pretrained model, then sentence pairs, some labelled by people) is what
# taught it that "bank" near "river" and "bank" near "loan" differ. How much masked-word
# pretraining alone would give is a different question; [the next lesson](bert_pretraining.ipynb)
# measures what a tiny masked language model learns by itself.
#
# ## Summary
#
# - A static embedding gives a word one vector whatever its sentence; BERT returns one
#   vector per token computed from the whole sentence, so word senses can separate.
# - Self-supervised learning makes its labels by damaging the data and asking for the
#   original, so a model can train on unlabelled text at scale.
# - BERT's input is `[CLS]`, the WordPiece tokens, `[SEP]` (and a second sentence and
#   `[SEP]`), each token embedded as token + segment + learned position, then layer norm.
# - WordPiece splits text into words and punctuation, then spells each word with the longest
#   vocabulary pieces first (`##` for continuations), so unknown words are rare.
# - The encoder is chapter 6's Transformer encoder blocks with GELU; real pretrained weights
#   (all-MiniLM-L6-v2) load into it by renaming tensors, and in its upper layers every
#   same-sense pair of "bank" vectors is closer than every cross-sense pair.

# %% [markdown]
# ## Exercises
#
# 1. Which layer separates the two senses of "bank" best on the sixteen sentences, measured
#    by the mean same-sense similarity minus the mean cross-sense similarity? Is it the last
#    layer, and how much larger is its gap than the input layer's?

# %% tags=["hide-cell"]
same16 = (labels[:, None] == labels[None, :]) & ~torch.eye(16, dtype=torch.bool)
cross16 = labels[:, None] != labels[None, :]
gaps = [((V @ V.T)[same16].mean() - (V @ V.T)[cross16].mean()).item() for V in all16]
best = max(range(7), key=lambda layer: gaps[layer])
print("gaps by layer:", [f"{g:.3f}" for g in gaps], "best layer:", best)
assert best > 0 and gaps[best] > 5 * gaps[0], f"gaps {gaps}"

# %% [markdown]
# 2. How many of the 10,662 review sentences contain at least one word that WordPiece spells
#    with more than one piece, and what fraction of all words is split?

# %% tags=["hide-cell"]
words = [w for s in reviews for w in basic_split(s)]
pieces = {w: split_word(w) for w in set(words)}
split_fraction = sum(len(pieces[w]) > 1 for w in words) / len(words)
with_split = sum(any(len(pieces[w]) > 1 for w in basic_split(s)) for s in reviews)
print(f"{with_split:,} sentences have a split word;"
      f" {split_fraction:.1%} of words are split")
assert 0.05 < split_fraction < 0.1, f"{split_fraction:.1%} of words split"

# %% [markdown]
# 3. Feed the pair ("The bank was closed.", "We sat by the river.") with all segment ids set
#    to 0 instead of 0 and 1. Which layers' vectors of "bank" change, and by how much? Why
#    does the first sentence's "bank" change at all, when its own segment id is the same?
