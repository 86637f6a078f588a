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
# # Datasets, data loaders and normalisation
#
# So far every model in this book learned from tensors you made up on the spot. Real data sits in
# files, one example at a time, in shapes a model cannot eat. In this lesson you will wrap a
# collection of text messages in a PyTorch `Dataset`, let a `DataLoader` cut it into shuffled
# minibatches, and write a collate function that turns messages of different lengths into one
# padded tensor. Then you load the MNIST digits, compute their famous normalisation constants
# yourself instead of copying them, and measure why, for data that fits in memory, slicing whole
# tensors beats fetching examples one by one.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import math
import time
import matplotlib.pyplot as plt
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, default_collate, random_split
from d2lite.text import Vocab, tokenize, truncate_pad

# %% [markdown]
# ## A data set in a file
#
# Our first data set is the SMS Spam Collection
# ([Almeida et al., 2011](../../book/references.md)), 5,574 English text messages that its
# authors gathered from several public sources and labelled. The file holds one message per
# line: a label, a tab, and the text. The label is `ham` for an ordinary message and `spam` for
# an unwanted advertisement, so the task is a binary classification, like the meal machine's
# rice-or-not decision in
# [the logistic regression lesson](../02_linear/logistic_regression.ipynb). Two lines of the
# file look like this:
#
# ```text
# ham	Ok lar... Joking wif u oni...
# spam	Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121 ...
# ```
#
# Reading such a file is a job of a few lines: split each line at the first tab, and turn the
# label into a number. `d2lite.data.load_sms_spam()` does exactly that (it also finds the file,
# or downloads it and checks its checksum). It returns the messages as a list of strings and the
# labels as an `int64` tensor, with 1 for spam and 0 for ham.

# %%
messages, labels = d2lite.data.load_sms_spam(verbose=False)
print(f"{len(messages):,} messages, {labels.sum().item()} spam")
print("ham: ", messages[1])
print("spam:", messages[2][:80], "...")

# %% [markdown]
# Only 747 of the 5,574 messages, 13.4 %, are spam, so there are 6.5 ham messages for every spam
# one. Such a **[class imbalance](../../book/glossary.md#term-class-imbalance)** (类别不平衡) is
# worth knowing before you train anything: a "classifier" that calls every message ham is
# already right 86.6 % of the time, so that is the number a real model has to beat.

# %%
spam_share = labels.float().mean().item()
assert len(messages) == 5574 and labels.shape == (5574,), (
    f"got {len(messages)} messages")
assert labels.sum().item() == 747, f"{labels.sum().item()} spam messages, expected 747"
assert abs(spam_share - 0.134) < 5e-4 and abs((1 - spam_share) - 0.866) < 5e-4
spam = labels.sum().item()
assert abs((len(messages) - spam) / spam - 6.5) < 0.05, (
    "about 6.5 ham messages per spam message")
print(f"spam share {spam_share:.3f}; "
      f"always saying 'ham' is right {1 - spam_share:.3f} of the time")

# %% [markdown]
# A first look at the data pays off in another way too.
# [Figure 1](#fig-data-pipeline-lengths) shows the message lengths, in characters, as two
# histograms scaled to the same area, since there are so many more ham messages. The dashed
# line marks 160 characters, what one SMS can hold.

# %% mystnb={"figure": {"caption": "Lengths of the ham and spam messages in characters, each histogram scaled to the same area; the dashed line is the 160 characters of one SMS.", "name": "fig-data-pipeline-lengths"}}
lengths_chars = torch.tensor([len(m) for m in messages]).float()   # (5574,)
ham_lengths, spam_lengths = lengths_chars[labels == 0], lengths_chars[labels == 1]
fig, ax = plt.subplots(figsize=(5, 3.5))
bins = range(0, 310, 10)
ax.hist(ham_lengths.numpy(), bins=bins, density=True, alpha=0.6, label="ham")
ax.hist(spam_lengths.numpy(), bins=bins, density=True, alpha=0.6, label="spam")
ax.axvline(160, color="k", linestyle="--", linewidth=1,
           label="one SMS (160 characters)")
ax.set_xlabel("message length (characters)")
ax.set_ylabel("density")
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# The two shapes differ a lot. Ham messages are mostly short, a few words between friends: half
# of them have at most 52 characters (a handful run far past the right edge, up to 910). Spam
# crowds against the 160-character limit, because an advertiser pays per message and fills every
# one: half of the spam messages have at least 149 characters, and about four in five lie between
# 100 and 160, against fewer than one ham message in five. The length alone is a strong clue.

# %%
def in_band(lengths):
    """The share of `lengths` between 100 and 160 characters."""
    return ((lengths >= 100) & (lengths <= 160)).float().mean().item()


print(f"median length: ham {ham_lengths.median():.0f}, "
      f"spam {spam_lengths.median():.0f}; longest ham {ham_lengths.max():.0f}")
print(f"share with 100-160 characters: spam {in_band(spam_lengths):.2f},"
      f" ham {in_band(ham_lengths):.2f}")
assert ham_lengths.median() == 52 and spam_lengths.median() == 149, "medians changed"
assert ham_lengths.max() == 910, (
    f"longest ham message has {ham_lengths.max():.0f} characters")
assert 0.78 < in_band(spam_lengths) < 0.85 and in_band(ham_lengths) < 0.2

# %% [markdown]
# ## The `Dataset` class
#
# A model does not want a file; it wants examples, one at a time or many at once. PyTorch
# separates the two concerns, as you saw in
# [concise linear regression](../02_linear/linear_regression_concise.ipynb): a
# [dataset](../../book/glossary.md#term-dataset) knows how many examples there are and how to
# fetch example number `i`, and a [data loader](../../book/glossary.md#term-data-loader) decides
# which examples to fetch and how to batch them. There, `TensorDataset` served tensors that were
# ready in memory. Data from a file needs a dataset of your own, which you write by subclassing
# `torch.utils.data.Dataset` and implementing two methods:
#
# - `__getitem__(self, i)` returns example `i`, here a pair (message, label). Python calls it
#   when you write `dataset[i]`.
# - `__len__(self)` returns the number of examples. Python calls it when you write
#   `len(dataset)`.
#
# Our dataset keeps the lists in memory and hands out one pair per call. A dataset for images on
# disk would instead open and decode image `i` inside `__getitem__`, so that it never holds more
# than one picture at a time.

# %%
class SMSDataset(Dataset):
    """The SMS Spam Collection: dataset[i] is (message: str, label: int64 scalar,
    1 = spam)."""

    def __init__(self, messages, labels):
        self.messages, self.labels = messages, labels

    def __getitem__(self, i):
        return self.messages[i], self.labels[i]

    def __len__(self):
        return len(self.messages)


# %% [markdown]
# Indexing and `len` now work like they do on a list.

# %% tags=["nbval-check-output"]
dataset = SMSDataset(messages, labels)
print(dataset[0])
print(len(dataset))

# %% [markdown]
# The base class `Dataset` implements neither method for you: its `__getitem__` only raises
# `NotImplementedError`, and it does not even declare `__len__`, because some data sets cannot
# know their size. But everything that shuffles or counts batches needs the length, so you should
# always write one. A dataset without `__len__` cannot be shuffled: the
# sampler that draws the random order asks for its length first.

# %%
class NoLength(Dataset):
    def __getitem__(self, i):
        return i


assert not hasattr(Dataset, "__len__"), "torch's Dataset declares no __len__"
try:
    DataLoader(NoLength(), batch_size=2, shuffle=True)
    refused = False
except TypeError as err:
    refused = True
    print("TypeError:", err)
assert refused, "shuffling a dataset without __len__ should fail"

# %% [markdown]
# Before anything else, set some messages aside for testing. `random_split` deals the indices
# out at random, 80 % for training and 20 % for testing, and returns two `Subset`s, which are
# datasets themselves: `train_set[0]` is some message of the original collection. A seeded
# generator makes the split the same on every run. Both parts keep roughly the spam share of the
# whole.

# %%
split_rng = torch.Generator().manual_seed(0)
train_set, test_set = random_split(dataset, [0.8, 0.2], generator=split_rng)
test_spam = labels[test_set.indices].float().mean().item()
print(f"train {len(train_set):,}, test {len(test_set):,}; "
      f"spam share in test {test_spam:.3f}")
assert len(train_set) + len(test_set) == 5574 and abs(len(test_set) - 0.2 * 5574) < 2
assert abs(test_spam - spam_share) < 0.02, f"the test split has {test_spam:.3f} spam"
assert not set(train_set.indices) & set(test_set.indices), (
    "the splits should not overlap")

# %% [markdown]
# The model at the end of this lesson has settings to choose (a learning rate, a number of
# epochs), and as in [the regularisation lesson](regularization.ipynb) they are chosen on a
# [validation set](../../book/glossary.md#term-validation-set) held out from the training
# messages, never on the test messages. `d2lite.data.train_val_split` splits tensors; here the
# tensor it splits is the list of training indices, with their labels, so that it holds out a
# tenth of the ham and a tenth of the spam. The validation indices become a third `Subset`.

# %%
train_idx = torch.tensor(train_set.indices)
(train_idx, _), (val_idx, _) = d2lite.data.train_val_split(
    train_idx, labels[train_idx], val_fraction=0.1, seed=0)
train_set = Subset(dataset, train_idx.tolist())
val_set = Subset(dataset, val_idx.tolist())
val_spam = labels[val_idx].float().mean().item()
print(f"train {len(train_set):,}, validation {len(val_set):,}, test {len(test_set):,};"
      f" spam share in validation {val_spam:.3f}")
assert len(train_set) + len(val_set) + len(test_set) == 5574, "messages lost or added"
assert not set(train_set.indices) & set(val_set.indices), (
    "the splits should not overlap")
assert abs(val_spam - spam_share) < 0.005, (
    f"stratified, but the spam share is {val_spam:.3f}")

# %% [markdown]
# ## The `DataLoader`: batches and shuffling
#
# Stochastic gradient descent steps on random
# [minibatches](../../book/glossary.md#term-minibatch), and the `DataLoader` is what cuts them.
# It asks the dataset for examples, groups them into batches of `batch_size`, and, with
# `shuffle=True`, draws a new random order every time you start a loop over it, that is in every
# [epoch](../../book/glossary.md#term-epoch). Here are the source notes' settings, batches of
# two.

# %%
loader = DataLoader(dataset, batch_size=2, shuffle=True,
                    generator=torch.Generator().manual_seed(0))
batch_messages, batch_labels = next(iter(loader))
print(batch_messages)
print(batch_labels)
print("batches per epoch:", len(loader))

# %% [markdown]
# Each batch is no longer a list of (message, label) pairs but a pair of batches: a tuple of two
# messages and a tensor of two labels. The loader's default
# **[collate function](../../book/glossary.md#term-collate-function)** (整理函数),
# `default_collate`, did that regrouping. It stacks tensors (the labels) into one tensor with a
# new batch dimension and leaves strings alone. With 5,574 messages in batches of two, one epoch
# has $\lceil 5574 / 2 \rceil = 2787$ batches.

# %%
assert isinstance(batch_messages, tuple) and len(batch_messages) == 2
assert batch_labels.shape == (2,) and batch_labels.dtype == torch.int64
assert len(loader) == math.ceil(5574 / 2) == 2787, f"{len(loader)} batches"

# %% [markdown]
# A dataset need not be a subclass of `Dataset` at all: anything with `__getitem__` and `__len__`
# will do, even `range(10)`. That makes shuffling easy to watch, because the examples are their
# own indices. The last batch is smaller when the batch size does not divide the number of
# examples (pass `drop_last=True` to skip it). Each epoch visits every example exactly once, in a
# new order, and the same seed gives the same orders again.

# %%
def two_epochs(seed):
    """The batches of two epochs over range(10), shuffled by a generator seeded with
    `seed`."""
    loader = DataLoader(range(10), batch_size=4, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    return [[batch.tolist() for batch in loader] for _ in range(2)]


first, second = two_epochs(seed=0)
print("epoch 1:", first)
print("epoch 2:", second)
assert [len(b) for b in first] == [4, 4, 2], "batches of 4, 4 and the 2 left over"
assert sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(10)), (
    "a permutation")
assert first != second, "each epoch should have a new order"
assert two_epochs(seed=0) == [first, second], "the same seed should repeat both epochs"
assert two_epochs(seed=1) != [first, second], "another seed should give other orders"

# %% [markdown]
# Shuffling matters for training. The file lists the messages in whatever order they were
# collected; an epoch that walks through it in order could meet long runs of one class, and each
# gradient step would pull the model towards whichever class it just saw.
#
# ## A collate function for text
#
# A model cannot read strings, so each message must become a tensor of numbers. Two steps do it:
#
# 1. Cut the text into **[tokens](../../book/glossary.md#term-token)** (词元), here the words you
#    get by splitting the lower-cased text at spaces, with `d2lite.text.tokenize`.
# 2. Number the tokens with a **[vocabulary](../../book/glossary.md#term-vocabulary)** (词表),
#    `d2lite.text.Vocab`. It gives the most frequent token the smallest index, reserves index 0
#    for `<unk>`, which stands for every unknown token, and here we also reserve a `<pad>`
#    token, which you need in a moment.
#
# Build the vocabulary from the training messages only: the validation and test messages play
# the part of messages the model has never seen, and their words should not sneak into it. Words
# seen only once are left out (`min_freq=2`), since one occurrence teaches a model nothing.

# %%
train_tokens = tokenize([messages[i].lower() for i in train_set.indices])
vocab = Vocab(train_tokens, min_freq=2, reserved_tokens=["<pad>"])
PAD = vocab["<pad>"]
print(f"{len(vocab):,} tokens in the vocabulary; <unk> = {vocab.unk}, <pad> = {PAD}")
print("most frequent:", vocab.token_freqs[:6])
print(vocab[["ok", "lar...", "joking"]])
assert vocab.unk == 0 and PAD == 1 and vocab.to_tokens(vocab["free"]) == "free"

# %% [markdown]
# Now the problem. Messages have different numbers of tokens, and a tensor must be rectangular,
# so the default collate function cannot stack them.

# %%
try:
    default_collate([torch.tensor([5, 6, 7]), torch.tensor([8, 9])])
    stacked = True
except RuntimeError as err:
    stacked = False
    print("RuntimeError:", err)
assert not stacked, "tensors of different lengths should not stack"

# %% [markdown]
# The fix is **[padding](../../book/glossary.md#term-padding)** (填充): append `<pad>` tokens to
# every message of a batch until it is as long as the batch's longest message, `max_len`. Then
# the batch is a rectangle of shape (batch, max_len). Padding to the longest message *of the
# batch*, not of the whole data set, wastes less: the longest ham message of the training split
# has 171 words, while half of its messages have at most 12, so padding every batch to 171
# would be mostly padding. We also cut messages at 60 tokens, which `d2lite.text.truncate_pad`
# does in the same call. That loses little: no training spam message has more than 35 words,
# and only 27 of the 4,014 training messages have more than 60. Like the vocabulary, the cut
# is set from the training messages alone; the test messages are not looked at.

# %%
train_messages = [messages[i] for i in train_set.indices]
words = torch.tensor([len(tokens) for tokens in tokenize(train_messages)])  # (4014,)
train_labels = labels[train_set.indices]
longest_ham = words[train_labels == 0].max()
longest_spam = words[train_labels == 1].max()
print(f"words per message: median {words.median()}, longest ham {longest_ham},"
      f" longest spam {longest_spam}, more than 60: {(words > 60).sum()}")
assert words.median() == 12, f"median {words.median()} words"
assert (longest_ham, longest_spam) == (171, 35), f"{longest_ham}, {longest_spam} words"
assert len(words) == 4014 and (words > 60).sum() == 27, (
    f"{(words > 60).sum()} messages have more than 60 words")

# %% [markdown]
# The padded positions are not data, so the model must be able to ignore them. The collate
# function therefore also returns a vector of lengths, the number of real tokens of each
# message. It receives the list of `(message, label)` pairs that the loader fetched and returns
# `((tokens, lengths), labels)`; the inner pair is what the model will take as its two inputs.

# %%
MAX_TOKENS = 60


def collate_sms(pairs):
    """[(message, label), ...] -> ((tokens (batch, max_len), lengths (batch,)),
    labels (batch,))."""
    batch_messages, batch_labels = zip(*pairs, strict=True)
    ids = [vocab[tokens] for tokens in tokenize([m.lower() for m in batch_messages])]
    lengths = torch.tensor([min(len(x), MAX_TOKENS) for x in ids])   # (batch,)
    max_len = int(lengths.max())
    # (batch, max_len)
    tokens = torch.tensor([truncate_pad(x, max_len, PAD) for x in ids])
    return (tokens, lengths), torch.stack(batch_labels)


# %% [markdown]
# A collate function is an ordinary function, so you can try it on a handful of examples before
# handing it to a loader. Here are the first four messages of the file, which have 20, 6, 28 and
# 11 words.

# %% tags=["nbval-check-output"]
(tokens, lengths), y = collate_sms([dataset[i] for i in range(4)])
print("tokens", tuple(tokens.shape), tokens.dtype)
print("lengths", lengths.tolist(), "labels", y.tolist())

# %% [markdown]
# The first ten positions of the second message, decoded back into tokens, show its six words
# and the start of the padding (a word missing from the vocabulary would show up as `<unk>`):

# %%
print(vocab.to_tokens(tokens[1, :10]))

# %% [markdown]
# The batch is a rectangle as wide as its longest message. Row $i$ holds real tokens up to
# `lengths[i]` and `<pad>` after that, so comparing a row of positions $0, 1, \dots$ with the
# lengths rebuilds the padding mask; broadcasting does it for all rows at once.

# %%
positions = torch.arange(tokens.shape[1])    # (max_len,)
# (max_len,) vs (batch, 1) -> (batch, max_len)
mask = positions < lengths[:, None]
assert tokens.shape == (4, 28) and lengths.tolist() == [20, 6, 28, 11]
assert y.tolist() == [0, 0, 1, 0], f"labels {y.tolist()}"
assert torch.equal(mask, tokens != PAD), "real tokens exactly where the mask is True"
assert vocab.to_tokens(tokens[1, :2]) == ["ok", "lar..."], (
    "the second message starts 'ok lar...'")
assert vocab.to_tokens(tokens[1, 6:10]) == ["<pad>"] * 4, (
    "after six words comes padding")

# %% [markdown]
# Now hand `collate_sms` to three loaders: shuffled batches of 64 for training and fixed batches
# of 256 for validation and testing (order does not matter for measuring). Every training batch
# has the promised shapes, and over one epoch about two thirds of the entries are padding,
# against three quarters if every message were padded to 60 tokens.

# %%
shuffle_rng = torch.Generator().manual_seed(0)
train_loader = DataLoader(train_set, batch_size=64, shuffle=True,
                          collate_fn=collate_sms, generator=shuffle_rng)
val_loader = DataLoader(val_set, batch_size=256, collate_fn=collate_sms)
test_loader = DataLoader(test_set, batch_size=256, collate_fn=collate_sms)
entries = real = 0
for (tokens, lengths), y in train_loader:
    assert tokens.shape == (len(y), lengths.max()) and lengths.shape == y.shape
    entries, real = entries + tokens.numel(), real + lengths.sum().item()
per_batch, fixed = 1 - real / entries, 1 - real / (len(train_set) * MAX_TOKENS)
print(f"{len(train_loader)} batches; share of padding: "
      f"{per_batch:.2f} padded per batch, {fixed:.2f} padded to 60")
assert 0.6 < per_batch < 0.72 < fixed < 0.8, "padding per batch should waste less"

# %% [markdown]
# ## Does the pipeline work? A tiny spam filter
#
# The proof of a data pipeline is a model that learns from it. The simplest model for a bag of
# tokens gives each token a vector of 32 numbers, an *embedding*, averages the vectors of the
# real tokens of a message and maps the average to two scores, ham and spam. `nn.Embedding` with
# `padding_idx=PAD` keeps the vector of `<pad>` at zero, so summing over all positions and
# dividing by the length is the average over the real tokens: the length vector at work. The
# model ignores word order, and it will still do well.
#
# `d2lite.fit` takes the loaders as they are: it calls `model(tokens, lengths)` because the
# inputs come as a pair.

# %%
class MeanOfEmbeddings(nn.Module):
    """Average the token embeddings of a message, then score ham and spam:
    (batch, 2) logits."""

    def __init__(self, vocab_size, dim=32):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.output = nn.Linear(dim, 2)

    def forward(self, tokens, lengths):
        # (batch, max_len, dim); <pad> gives zeros
        vectors = self.embedding(tokens)
        # (batch, dim) -> (batch, 2)
        return self.output(vectors.sum(dim=1) / lengths[:, None])


# %% [markdown]
# Train it for five epochs with Adam at learning rate 0.01, with the validation loader as
# `val_data`, so that `fit` reports after every epoch how the filter does on messages it has
# not trained on.

# %%
d2lite.seed_everything(0)
model = MeanOfEmbeddings(len(vocab))
history = d2lite.fit(model, train_loader, loss_fn=nn.CrossEntropyLoss(), epochs=5,
                     optimizer=torch.optim.Adam(model.parameters(), lr=0.01),
                     val_data=val_loader, metrics=[d2lite.accuracy])
print("validation accuracy by epoch:", [round(a, 3) for a in history["val_accuracy"]])

# %% [markdown]
# The validation accuracy climbs over the first epochs and ends above 96 %, so these settings
# will do; had it not, you would change them and look at the validation split again. Only now,
# with the choice made, does the test split come out of the drawer, once.

# %%
val_acc = history["val_accuracy"]
assert val_acc[-1] >= 0.96 and val_acc[-1] > val_acc[0], (
    f"validation accuracy {val_acc}")
test_acc = d2lite.evaluate(model, test_loader, metrics=[d2lite.accuracy])["accuracy"]
baseline = 1 - labels[test_set.indices].float().mean().item()
print(f"test accuracy {test_acc:.3f}; always 'ham' on the same messages {baseline:.3f}")

# %% [markdown]
# After five epochs, a few seconds of training, the filter classifies at least 96 % of the test
# messages correctly, well above the 86 % of always saying ham.

# %%
assert test_acc >= 0.96, f"test accuracy {test_acc:.3f} is below 96 %"
assert abs(baseline - 0.86) < 5e-3, (
    f"always saying ham scores {baseline:.3f} on the test split")
assert test_acc > baseline + 0.08, (
    f"{test_acc:.3f} is not well above the baseline {baseline:.3f}")

# %% [markdown]
# ## MNIST through `d2lite.data`
#
# For images the source notes reach for `torchvision`, whose `datasets.MNIST` downloads the
# digits and wraps each one as a picture object with its label. d2lite does the same in one call
# without the extra library: `d2lite.data.load_mnist()` returns MNIST
# ([LeCun et al., 1998](../../book/references.md)) as four tensors, 60,000 training and 10,000
# test images with their labels. The images arrive already prepared: 28 × 28 pixels, grey levels
# only, each digit centred in its box. The file stores each pixel as a byte from 0 (background)
# to 255 (ink), and the loader divides by 255, so the pixels lie in $[0, 1]$.

# %% tags=["nbval-check-output"]
(X_train, y_train), (X_test, y_test) = d2lite.data.load_mnist(verbose=False)
print("train", tuple(X_train.shape), X_train.dtype, tuple(y_train.shape), y_train.dtype)
print("test ", tuple(X_test.shape), tuple(y_test.shape))
print("pixels from", X_train.min().item(), "to", X_train.max().item())
print("first labels", y_train[:10].tolist())

# %% [markdown]
# [Figure 2](#fig-data-pipeline-digits) shows the first ten training digits with their labels.

# %% mystnb={"figure": {"caption": "The first ten MNIST training digits, titled with their labels.", "name": "fig-data-pipeline-digits"}}
d2lite.show_images(X_train[:10, 0], 2, 5, titles=y_train[:10].tolist(), scale=1.2)
plt.show()

# %%
assert X_train.shape == (60_000, 1, 28, 28) and X_test.shape == (10_000, 1, 28, 28)
assert X_train.min() == 0 and X_train.max() == 1, "pixels should fill [0, 1]"
held = X_train.untyped_storage().nbytes()   # bytes of memory the tensor really holds
assert held == 60_000 * 784 * 4, f"X_train holds {held:,} bytes, not its own 188 MB"
assert sorted(y_train.unique().tolist()) == list(range(10)), (
    "labels should be the digits 0-9")

# %% [markdown]
# ## Normalising images: compute the constants, don't copy them
#
# Does a pixel's exact value matter? Darken every pixel of a 5 by the same amount and you still
# see a 5: what carries the digit is the pattern of ink, not the level. So you are free to shift
# and scale all pixels, and the right choice helps training. You saw why with the ravine in
# [the optimisers lesson](../02_linear/optimizers.ipynb): inputs that are off-centre or on an
# odd scale stretch the loss surface into a long valley, and inputs centred on zero with unit
# spread make it a round bowl, where gradient descent walks straight down. The usual choice is
# [standardisation](../../book/glossary.md#term-standardisation), the z-score,
#
# $$
# z = \frac{x - \mu}{\sigma},
# $$
#
# where $\mu$ is the mean and $\sigma$ the standard deviation of the pixels. Dividing by 255 was
# already a rescaling
# ([min-max normalisation](../../book/glossary.md#term-min-max-normalisation) onto $[0, 1]$);
# the z-score goes further and centres the data.
#
# Countless MNIST scripts contain the line `Normalize((0.1307,), (0.3081,))`. Those two numbers
# are not magic: they are the mean and standard deviation of all training pixels. Compute them
# once per channel, over the images and both pixel axes, keeping the dimensions so that the
# result broadcasts against a batch; MNIST has a single channel, so there is one of each.

# %%
mean = X_train.mean(dim=(0, 2, 3), keepdim=True)   # (1, channels, 1, 1) = (1, 1, 1, 1)
std = X_train.std(dim=(0, 2, 3), keepdim=True)     # (1, 1, 1, 1)
print(f"mean {mean.item():.4f}, std {std.item():.4f}, shape {tuple(mean.shape)}")
assert abs(mean.item() - 0.1307) < 1e-4, f"mean {mean.item():.5f} is not 0.1307"
assert abs(std.item() - 0.3081) < 1e-4, f"std {std.item():.5f} is not 0.3081"

# %% [markdown]
# There are the constants. Applying them is one tensor operation, broadcast over every image
# and pixel. The test images get the *training* mean and deviation: at test time you may not
# peek at the test set, and the model must see its inputs on the scale it was trained on. So
# the normalised training pixels have mean 0 and standard deviation 1 exactly (up to rounding),
# while the test pixels come out close to that but not exactly. The background, 0, becomes
# $-0.1307 / 0.3081 \approx -0.424$, and full ink, 1, becomes about 2.82.

# %%
Z_train, Z_test = (X_train - mean) / std, (X_test - mean) / std   # (n, 1, 28, 28) each
print(f"train: mean {Z_train.mean():.1e}, std {Z_train.std():.4f},"
      f" from {Z_train.min():.3f} to {Z_train.max():.3f}")
print(f"test:  mean {Z_test.mean():.4f}, std {Z_test.std():.4f}")
assert abs(Z_train.mean()) < 1e-4 and abs(Z_train.std() - 1) < 1e-4, "not standardised"
assert abs(Z_train.min() + 0.424) < 1e-3 and abs(Z_train.max() - 2.822) < 1e-3
assert 1e-3 < Z_test.mean() < 0.02 and abs(Z_test.std() - 1) < 0.02, (
    "test is close, not exact")

# %% [markdown]
# The histogram of all training pixel values before and after,
# [Figure 3](#fig-data-pipeline-pixels), shows what the z-score does and does not do. The counts
# are on a log scale because one value dominates: about 81 % of all pixels are pure background.
# The whole histogram moves left and stretches (the tall background bar goes from 0 to $-0.42$,
# the bar of full ink from 1 to 2.82), but its shape does not change at all. Normalisation
# changes the units, not the picture.

# %% mystnb={"figure": {"caption": "All MNIST training pixel values before (raw, in [0, 1]) and after the z-score, on a log scale of counts.", "name": "fig-data-pipeline-pixels"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.hist(Z_train.flatten().numpy(), bins=60, alpha=0.6,
        label="normalised: (x - 0.1307) / 0.3081")
ax.hist(X_train.flatten().numpy(), bins=60, alpha=0.6, label="raw: x in [0, 1]")
ax.set_yscale("log")
ax.set_xlabel("pixel value")
ax.set_ylabel("number of pixels (log scale)")
ax.legend(fontsize=8)
plt.show()

# %%
background = (X_train == 0).float().mean().item()
print(f"share of background pixels: {background:.3f}")
assert 0.80 < background < 0.82, f"{background:.3f} of the pixels are background"
assert torch.equal(Z_train == Z_train.min(), X_train == 0), (
    "background maps to one value")

# %% [markdown]
# ## Per-example `Dataset` or whole-tensor batches?
#
# MNIST fits in memory with room to spare: 60,000 × 784 `float32` numbers take 188 MB. You
# could still wrap it in a `Dataset` like the SMS one, with `__getitem__` returning one image and
# its label, and let a `DataLoader` assemble batches. Or you could skip the per-example step:
# `d2lite.data.batches` draws one random permutation per epoch and copies each batch's rows out
# of the big tensor in a single operation. Let's time one shuffled epoch, in batches of 256, of
# each, keeping the best of three runs to soften the noise of a busy machine.

# %%
class ImageDataset(Dataset):
    """Images in memory, served one at a time: dataset[i] = (image (1, 28, 28), label).
    `calls` counts the calls of __getitem__."""

    def __init__(self, X, y):
        self.X, self.y, self.calls = X, y, 0

    def __getitem__(self, i):
        self.calls += 1
        return self.X[i], self.y[i]

    def __len__(self):
        return len(self.y)


# %% [markdown]
# A small helper times one pass over a loader, keeping the best of three runs so that a busy
# moment of the machine does not decide the result.

# %%
def epoch_seconds(data):
    """Seconds to loop once over `data` (the best of three runs), and the last batch's
    shape."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for X, _ in data:
            shape = tuple(X.shape)
        best = min(best, time.perf_counter() - start)
    return best, shape


# %% [markdown]
# Now time both on the normalised MNIST training set, in shuffled batches of 256.

# %%
images = ImageDataset(Z_train, y_train)
per_example = DataLoader(images, batch_size=256, shuffle=True,
                         generator=torch.Generator().manual_seed(0))
in_memory = d2lite.data.batches(Z_train, y_train, batch_size=256, seed=0)
slow, slow_last = epoch_seconds(per_example)
fast, fast_last = epoch_seconds(in_memory)
print(f"{len(in_memory)} batches per epoch, the last of shape {fast_last}")
print(f"Dataset + DataLoader {slow:.3f} s, d2lite.data.batches {fast:.3f} s "
      f"({slow / fast:.1f} times as long)")

# %% [markdown]
# Both deliver the same 235 shuffled batches, the last one holding the remaining
# $60000 - 234 \cdot 256 = 96$ images. The printed times say which is faster, and by how much,
# on the machine that ran this page; timings depend on the machine and on how busy it is, so
# they are shown, not checked, and you should run the cell yourself.

# %%
assert len(per_example) == len(in_memory) == 235, "both should give 235 batches"
assert slow_last == fast_last == (96, 1, 28, 28), "the last batch should hold 96 images"

# %% [markdown]
# The reason is per-example work, and that part can be counted rather than timed. For every
# batch the `DataLoader` calls `__getitem__` 256 times, each call a Python function that builds
# two small tensors, and then `default_collate` stacks the 256 images into a new tensor. The
# dataset counted its calls: three timed epochs made 180,000 of them, 60,000 an epoch.
# `d2lite.data.batches` pays its overhead once per *batch*, 235 times an epoch: one index
# tensor, one copy of the batch's rows.

# %%
print(f"__getitem__ calls in three epochs: {images.calls:,}")
assert images.calls == 3 * 60_000, f"{images.calls:,} calls, expected one per example"

# %% [markdown]
# How much does one call cost? Time 60,000 calls of `__getitem__` with no batching at all and
# compare with the whole-tensor epoch above: on most machines the calls alone, with no
# batching, take longer than an entire epoch of whole-tensor batches.

# %%
calls_seconds = math.inf
for _ in range(3):
    start = time.perf_counter()
    for i in range(len(images)):
        images[i]                      # fetch example i and throw it away
    calls_seconds = min(calls_seconds, time.perf_counter() - start)
print(f"60,000 calls of __getitem__: {calls_seconds:.3f} s; "
      f"one epoch of d2lite.data.batches: {fast:.3f} s")

# %% [markdown]
# With `device=d2lite.try_gpu()`, `d2lite.data.batches` even moves the whole data set to the GPU
# once, so no batch has to travel there during training.
#
# Per-example datasets earn their place when the data does not fit in memory (images read and
# decoded from disk one at a time), when each example gets its own random change (data
# augmentation, which you will meet with CNNs), or when loading is slow enough to spread over
# several worker processes (`num_workers=`). For data that fits in memory as tensors, as in most
# lessons of this book, slicing tensors is simpler and faster.

# %% [markdown]
# ## Summary
#
# - A `Dataset` answers two questions: how many examples (`__len__`) and what is example `i`
#   (`__getitem__`). Always write `__len__`; shuffling needs it. `random_split` splits a dataset
#   into `Subset`s with a seeded generator.
# - A `DataLoader` fetches examples, groups them into batches and reshuffles every epoch; a
#   seeded `generator` makes the orders reproducible. Its collate function turns a list of
#   examples into a batch; the default stacks tensors and leaves strings alone.
# - Text needs its own collate function: tokenise, map tokens to indices with a vocabulary built
#   on the training data, pad each batch to its longest message, and return the lengths so the
#   model can ignore the padding.
# - The SMS Spam Collection has 5,574 messages, 13.4 % spam, so always saying ham scores 86.6 %;
#   spam messages are long, crowding the 160-character limit. A mean-of-embeddings model fed by
#   our pipeline reaches at least 96 % on held-out messages.
# - Normalise with constants you compute from the training data:
#   MNIST's mean 0.1307 and standard deviation 0.3081 are just that. Apply them to the test data
#   too, as one broadcast tensor operation.
# - For data that fits in memory, whole-tensor batches (`d2lite.data.batches`) beat a
#   per-example `Dataset`, because they pay Python's overhead per batch instead of per example.

# %% [markdown]
# ## Exercises
#
# 1. **Per-channel statistics.** Colour images have three channels, and each gets its own mean
#    and standard deviation. Write `channel_stats(X)` that takes images of shape
#    `(n, channels, height, width)` and returns the mean and the standard deviation, each of
#    shape `(1, channels, 1, 1)`, without a Python loop. Then run the cell, which checks your
#    function against a loop over the channels.

# %%
def channel_stats(X):
    """Return (mean, std) of each channel of X (n, c, h, w), each (1, c, 1, 1)."""
    return None  # replace this line with your answer


def check_channel_stats(fn):
    """Compare fn with a loop over the channels on random colour images."""
    # a different spread per channel
    scales = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    X = scales * torch.rand(50, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    result = fn(X)
    if result is None:
        print("channel_stats() returns None: write it, then run this cell again")
        return
    mean, std = result
    shapes = (tuple(mean.shape), tuple(std.shape))
    assert shapes == ((1, 3, 1, 1),) * 2, (
        f"got shapes {shapes}, expected (1, 3, 1, 1) twice")
    for c in range(3):
        assert torch.allclose(mean[0, c, 0, 0], X[:, c].mean()), (
            f"channel {c}: wrong mean")
        assert torch.allclose(std[0, c, 0, 0], X[:, c].std()), f"channel {c}: wrong std"
    print("channel_stats() is correct")


check_channel_stats(channel_stats)

# %% tags=["hide-cell"]
# A solution: reduce over the images and both pixel axes and keep the dimensions, as
# for MNIST above.
def channel_stats(X):
    """Return (mean, std) of each channel of X (n, c, h, w), each (1, c, 1, 1)."""
    return X.mean(dim=(0, 2, 3), keepdim=True), X.std(dim=(0, 2, 3), keepdim=True)


check_channel_stats(channel_stats)

# %% [markdown]
# 2. **A one-rule spam filter.** The histogram suggests a rule: call a message spam when it has
#    more than 100 characters. What accuracy does this rule reach on the validation split
#    (`val_set.indices`)? How does it compare with always saying ham and with the trained
#    model? Which messages does it get wrong?

# %% tags=["hide-cell"]
# A solution. The rule catches most spam but also calls every long ham message spam, and
# ham is 6.5 times as common: it scores below always saying ham.
val_lengths = torch.tensor([len(messages[i]) for i in val_set.indices])   # (446,)
val_labels = labels[val_set.indices]                                       # (446,)
rule = (val_lengths > 100).long()
rule_acc = (rule == val_labels).float().mean().item()
always_ham = 1 - val_labels.float().mean().item()
false_spam = ((rule == 1) & (val_labels == 0)).sum().item()
missed = ((rule == 0) & (val_labels == 1)).sum().item()
print(f"rule {rule_acc:.3f}, always ham {always_ham:.3f}, trained {val_acc[-1]:.3f}; "
      f"{false_spam} ham called spam, {missed} spam missed")
assert rule_acc < always_ham < val_acc[-1], "rule < always ham < trained model"
assert false_spam > 5 * missed, "most mistakes should be long ham messages"

# %% [markdown]

# 3. **Less padding by sorting.** Padding wastes about two thirds of each training batch. If the
#    messages of a batch had similar lengths, there would be little to pad. Write a batch
#    sampler that sorts the training indices by length, cuts them into batches of 64 and
#    shuffles the order of the *batches* (pass it as
#    `DataLoader(train_set, batch_sampler=..., collate_fn=...)`), and measure the padding share
#    again. What does the model lose when the batches are no longer random samples?
#
# 4. **Fashion-MNIST's constants.** Load Fashion-MNIST with `load_fashion_mnist()` from
#    `d2lite.data` and compute its normalisation constants. Are they close to MNIST's? Why would
#    copying MNIST's constants to Fashion-MNIST be a mistake that raises no error?

# %% tags=["hide-cell"]
# A solution. Clothes cover more of the picture than strokes of ink, so the mean is more
# than twice MNIST's. MNIST's constants would still produce numbers, just not mean 0 and
# standard deviation 1: nothing fails, training is only slower.
(X_fashion, _), _ = d2lite.data.load_fashion_mnist(verbose=False)
f_mean, f_std = X_fashion.mean().item(), X_fashion.std().item()
print(f"Fashion-MNIST: mean {f_mean:.4f}, std {f_std:.4f}")
assert abs(f_mean - 0.2860) < 1e-4 and abs(f_std - 0.3530) < 1e-4, (f_mean, f_std)
Z_wrong = (X_fashion - mean) / std            # MNIST's constants on Fashion-MNIST
print(f"with MNIST's constants: mean {Z_wrong.mean():.3f}, std {Z_wrong.std():.3f}")
assert Z_wrong.mean() > 0.4, "MNIST's constants leave Fashion-MNIST off-centre"

# %% [markdown]

# 5. **Workers.** Time the per-example MNIST loader again with `num_workers=2`. Is it faster on
#    this machine? Look at how many CPU cores you have (`os.cpu_count()`) and at what each worker
#    process must do to send a batch back, and explain the result.
