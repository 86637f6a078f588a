"""Dataset loaders that return plain tensors and lists (files from `d2lite.hub.fetch`), and
`batches`, an in-memory minibatcher: the book's datasets fit in memory, so slicing is enough."""
from __future__ import annotations

import gzip
import json
import math
import os
import re
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from d2lite.hub import fetch, read_member
from d2lite.registry import DataFile
from d2lite.variation import training_seed

__all__ = ["FASHION_MNIST_CLASSES", "batches", "load_fashion_mnist", "load_fra_eng", "load_minilm",
           "load_mnist", "load_ptb", "load_rt_polarity", "load_sms_spam", "load_time_machine",
           "load_wikitext2", "read_idx", "split_by_source", "train_val_split"]

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
"""Fashion-MNIST's class names, indexed by label: `FASHION_MNIST_CLASSES[9] == "Ankle boot"`."""

_IDX_MAGIC = {2049: 1, 2051: 3}  # unsigned-byte labels (1 dim) and images (3 dims)


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Parse an IDX file (gzip-compressed if its name ends in .gz) of unsigned bytes.

    Checks the magic number (2049 for labels, 2051 for images) and that the data fill the file
    exactly. Returns a uint8 array of shape (n,) for labels or (n, rows, cols) for images.

    Example:
        >>> read_idx(fetch("mnist", "t10k-labels-idx1-ubyte.gz"), magic=2049).shape
        (10000,)
    """
    path = Path(path)
    if magic not in _IDX_MAGIC:
        raise ValueError(f"read_idx(): got magic={magic}; expected 2049 (labels) or 2051 (images)")
    raw = path.read_bytes()
    try:
        raw = bytearray(gzip.decompress(raw) if path.suffix == ".gz" else raw)  # writable
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"read_idx(): {path.name} is not a complete gzip file ({err}); the file"
                         " is truncated or damaged: delete it so that it is fetched again") from err
    ndim = _IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise ValueError(f"read_idx(): {path.name} starts with magic number {found}, expected"
                         f" {magic}; it is not an IDX file of this kind")
    if len(raw) < header:
        raise ValueError(f"read_idx(): {path.name} is truncated: {len(raw)} bytes, shorter than"
                         f" its {header}-byte header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    if len(raw) - header != math.prod(shape):
        raise ValueError(f"read_idx(): {path.name} holds {len(raw) - header:,} data bytes but its"
                         f" header promises {shape} = {math.prod(shape):,}; the file is truncated"
                         " or damaged")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """Return the lines of a text file, split at "\n" only (not at other Unicode line breaks)."""
    lines = path.read_text(encoding=encoding).split("\n")
    return [line.rstrip("\r") for line in lines[:-1 if lines[-1] == "" else None]]


def _load_idx_dataset(name: str, verbose: bool) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    splits = []
    for prefix in ("train", "t10k"):
        images = read_idx(fetch(name, f"{prefix}-images-idx3-ubyte.gz", verbose=verbose), 2051)
        labels = read_idx(fetch(name, f"{prefix}-labels-idx1-ubyte.gz", verbose=verbose), 2049)
        if len(images) != len(labels):
            raise ValueError(f"load_{name.replace('-', '_')}(): {len(images)} {prefix} images but"
                             f" {len(labels)} labels; the files do not belong together")
        X = torch.from_numpy(images).unsqueeze(1).to(torch.float32).div_(255)  # (n, 1, 28, 28)
        splits.append((X, torch.from_numpy(labels).to(torch.int64)))
    return tuple(splits)


def load_mnist(*, verbose: bool = True) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """Load MNIST's handwritten digits: `(X_train, y_train), (X_test, y_test)`.

    X: float32 in [0, 1], shape (60000, 1, 28, 28) and (10000, 1, 28, 28); y: int64 digits 0-9.

    Example:
        >>> (X_train, y_train), (X_test, y_test) = load_mnist()
        >>> X_train.shape, y_test[:3].tolist()
        (torch.Size([60000, 1, 28, 28]), [7, 2, 1])
    """
    return _load_idx_dataset("mnist", verbose)


def load_fashion_mnist(*, verbose: bool = True) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """Load Fashion-MNIST's clothing images: `(X_train, y_train), (X_test, y_test)`.

    Same shapes and dtypes as `load_mnist`; label i is `FASHION_MNIST_CLASSES[i]`.

    Example:
        >>> (X_train, y_train), _ = load_fashion_mnist()
        >>> FASHION_MNIST_CLASSES[int(y_train[0])]
        'Ankle boot'
    """
    return _load_idx_dataset("fashion-mnist", verbose)


def load_time_machine(*, raw: bool = False, verbose: bool = True) -> list[str]:
    """Load H. G. Wells' *The Time Machine* as a list of 3,221 lines.

    By default each line keeps only letters, lower-cased, with every other run of characters
    turned into one space ("The Time Machine, by H. G. Wells [1898]" -> "the time machine by h g
    wells"); `raw=True` gives the lines as in the file.

    Example:
        >>> load_time_machine()[0]
        'the time machine by h g wells'
    """
    lines = _read_lines(fetch("timemachine", verbose=verbose))
    return lines if raw else [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in lines]


def load_fra_eng(num_examples: int | None = None, *, verbose: bool = True,
                 ) -> tuple[list[list[str]], list[list[str]]]:
    """Load English-French sentence pairs as `(source, target)` token lists (167,130 pairs).

    Lower-cased; the punctuation marks , . ! ? are split off as tokens of their own.
    `num_examples` keeps only the first pairs (the file starts with the shortest sentences).

    Example:
        >>> source, target = load_fra_eng(num_examples=600)
        >>> source[0], target[0]
        (['go', '.'], ['va', '!'])
    """
    if num_examples is not None and (not isinstance(num_examples, int) or num_examples < 1):
        raise ValueError(f"load_fra_eng(): got num_examples={num_examples!r}; expected None or an"
                         " int >= 1")
    lines = read_member(fetch("fra-eng", verbose=verbose), "fra-eng/fra.txt").decode().split("\n")
    text = "\n".join([line for line in lines if "\t" in line][:num_examples])
    # one pass over the whole text: lower-case, no-break spaces to spaces, split off , . ! ?
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    text = re.sub(r"(?<! )([,.!?])", r" \1", text)
    pairs = [line.split("\t")[:2] for line in text.split("\n")]
    return [english.split() for english, _ in pairs], [french.split() for _, french in pairs]


def _check_split(func: str, split: str) -> None:
    if split not in ("train", "valid", "test"):
        raise ValueError(f"{func}(): got split={split!r}; expected 'train', 'valid' or 'test'")


def load_ptb(split: str = "train", *, verbose: bool = True) -> list[str]:
    """Load a split of the Penn Treebank (Mikolov's version) as lines of space-separated words.

    Already tokenized and lower-cased, with rare words replaced by `<unk>`; train has 42,068
    lines, and `d2lite.text.tokenize(lines)` gives the words (9,999 distinct ones in train).

    Example:
        >>> load_ptb()[0].split()[:3]
        ['aer', 'banknote', 'berlitz']
    """
    _check_split("load_ptb", split)
    return [line.strip() for line in _read_lines(fetch("ptb", f"ptb.{split}.txt", verbose=verbose))]


def load_wikitext2(split: str = "train", *, verbose: bool = True) -> list[str]:
    """Load a split of WikiText-2 (tokenized, v1) as its lines, blank lines and headings included.

    Train has 36,718 lines; headings look like '= Valkyria Chronicles III ='. Counting one `<eos>`
    per line, as language models do, train has 2,088,628 tokens.

    Example:
        >>> load_wikitext2()[1]
        '= Valkyria Chronicles III ='
    """
    _check_split("load_wikitext2", split)
    path = fetch("wikitext-2", f"wiki.{split}.tokens", verbose=verbose)
    return [line.strip() for line in _read_lines(path)]


def load_rt_polarity(*, verbose: bool = True) -> tuple[list[str], torch.Tensor]:
    """Load the sentence polarity movie reviews (Pang & Lee 2005): `(sentences, labels)`.

    10,662 lower-cased, tokenized sentences: the 5,331 positive ones (label 1) first, then the
    5,331 negative ones (label 0). labels: int64, shape (10662,). The files are Windows-1252.

    Example:
        >>> sentences, labels = load_rt_polarity()
        >>> len(sentences), labels.sum().item()
        (10662, 5331)
    """
    sentences, labels = [], []
    for file, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
        path = fetch("rt-polarity", file, verbose=verbose)
        lines = [line.strip() for line in _read_lines(path, encoding="cp1252")]
        sentences += lines
        labels += [label] * len(lines)
    return sentences, torch.tensor(labels, dtype=torch.int64)


def load_sms_spam(*, verbose: bool = True) -> tuple[list[str], torch.Tensor]:
    """Load the SMS Spam Collection: `(messages, labels)`, label 1 for spam and 0 for ham.

    5,574 messages in file order, 747 of them spam; labels: int64, shape (5574,).

    Example:
        >>> messages, labels = load_sms_spam()
        >>> messages[0][:19], labels[0].item()
        ('Go until jurong poi', 0)
    """
    messages, labels = [], []
    for line in _read_lines(fetch("sms-spam", verbose=verbose)):
        kind, message = line.split("\t", 1)
        messages.append(message)
        labels.append(1 if kind == "spam" else 0)
    return messages, torch.tensor(labels, dtype=torch.int64)


def load_minilm(*, verbose: bool = True, registry: Mapping[str, Sequence[DataFile]] | None = None,
                ) -> tuple[dict[str, torch.Tensor], list[str], dict]:
    """Load all-MiniLM-L6-v2, a pretrained 6-layer BERT: `(state_dict, vocab, config)`.

    state_dict: the 104 float32 tensors of `model.safetensors` (read with the `safetensors`
    package), named as Hugging Face's `BertModel` names them ("embeddings.word_embeddings.weight",
    "encoder.layer.0.attention.self.query.weight", ...; `d2lite.models.bert_state_dict` maps them
    to `d2lite.models.BERTEncoder`). vocab: the 30,522 WordPiece tokens of `vocab.txt`, token i
    on line i. config: `config.json` as a dict (hidden_size 384, num_hidden_layers 6, ...).
    `registry` replaces `REGISTRY` (for tests). Apache-2.0, from the sentence-transformers model.

    Example:
        >>> state_dict, vocab, config = load_minilm()
        >>> len(state_dict), len(vocab), vocab[101], config["hidden_size"]
        (104, 30522, '[CLS]', 384)
    """
    try:
        from safetensors.torch import load_file  # lazily: only this loader needs it
    except ImportError as err:
        raise ImportError("load_minilm(): it reads the weights with the safetensors package: "
                          "pip install safetensors") from err
    state_dict = load_file(fetch("minilm", "model.safetensors", verbose=verbose,
                                 registry=registry))
    vocab = _read_lines(fetch("minilm", "vocab.txt", verbose=verbose, registry=registry))
    config = json.loads(fetch("minilm", "config.json", verbose=verbose,
                              registry=registry).read_text(encoding="utf-8"))
    return state_dict, vocab, config


class batches:  # lower case like `range`: called like a function, iterated once per epoch
    """Re-iterable minibatches of in-memory tensors, made by slicing (no collate); `len()` is the
    number of batches, each pass (epoch) yields `(X_batch, y_batch)`.

    Args:
        X: (n, ...) inputs, or a tuple of such tensors (then X_batch is a tuple: `model(*X_batch)`).
        y: (n, ...) targets.
        batch_size: rows per batch; the last batch is smaller unless `drop_last=True`.
        shuffle: a new random order every epoch.
        seed: epoch e's order is seeded with seed + e, so runs repeat (set `epoch` to resume);
            None uses torch's global generator (`d2lite.seed_everything`). Batch order is part
            of training: the sweep's seed offset shifts it (`d2lite.variation.training_seed`).
        device: move X and y there once, up front (e.g. `d2lite.try_gpu()`).

    Example:
        >>> data = batches(torch.randn(1000, 784), torch.randint(0, 10, (1000,)), 256, seed=0)
        >>> len(data), [tuple(X.shape) for X, y in data][-1]
        (4, (232, 784))
    """

    def __init__(self, X: torch.Tensor | tuple[torch.Tensor, ...], y: torch.Tensor,
                 batch_size: int, shuffle: bool = True, seed: int | None = None,
                 device: torch.device | str | None = None, drop_last: bool = False):
        inputs = X if isinstance(X, tuple) else (X,)
        if not inputs or not all(isinstance(t, torch.Tensor) for t in (*inputs, y)):
            raise TypeError(f"batches(): X must be a tensor or a tuple of tensors and y a tensor;"
                            f" got X={type(X).__name__}, y={type(y).__name__}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batches(): got batch_size={batch_size!r}; expected an int >= 1")
        for i, t in enumerate(inputs):
            if t.ndim == 0 or len(t) != len(y):
                raise ValueError(f"batches(): X{f'[{i}]' if isinstance(X, tuple) else ''} has shape"
                                 f" {tuple(t.shape)} but y has {len(y)} rows; every tensor needs"
                                 " the same first dimension (one row per example)")
        self.inputs = tuple(t.to(device) for t in inputs) if device is not None else inputs
        self.y = y.to(device) if device is not None else y
        self.tuple_input = isinstance(X, tuple)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed, self.epoch = seed, 0  # epoch: the number of passes started so far

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch `epoch` (as DistributedSampler does; `fit` calls it)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple]:
        order = None
        if self.shuffle:
            generator = None if self.seed is None else torch.Generator().manual_seed(
                training_seed(self.seed) + self.epoch)
            order = torch.randperm(len(self.y), generator=generator).to(self.y.device)  # (n,)
        self.epoch += 1
        for b in range(len(self)):
            rows = slice(b * self.batch_size, (b + 1) * self.batch_size)
            if order is None:  # slices are views: no copy at all
                Xb, yb = tuple(t[rows] for t in self.inputs), self.y[rows]
            else:  # one gather per tensor
                Xb = tuple(t.index_select(0, order[rows]) for t in self.inputs)
                yb = self.y.index_select(0, order[rows])
            yield (Xb if self.tuple_input else Xb[0]), yb



def train_val_split(X: torch.Tensor | tuple[torch.Tensor, ...], y: torch.Tensor,
                    val_fraction: float = 0.1, *, seed: int = 0, stratify: bool | None = None
                    ) -> tuple[tuple, tuple]:
    """Hold out a validation split: `(X_train, y_train), (X_val, y_val)`.

    Tune every choice on the validation split; touch the test split once, at the end.

    Args:
        X: (n, ...) inputs, or a tuple of such tensors.
        y: (n,) labels or (n, ...) targets.
        val_fraction: the share of rows held out, in (0, 1).
        seed: the permutation's seed.
        stratify: keep each label's share the same in both splits (each class gives
            `round(val_fraction * its count)` rows). Default: True when y is a 1-d integer tensor.

    Example:
        >>> X, y = torch.arange(20.).reshape(10, 2), torch.tensor([0] * 6 + [1] * 4)
        >>> (X_tr, y_tr), (X_val, y_val) = train_val_split(X, y, 0.5, seed=0)
        >>> len(y_tr), len(y_val), int(y_val.sum())  # 3 of the six 0s, 2 of the four 1s
        (5, 5, 2)
    """
    inputs = X if isinstance(X, tuple) else (X,)
    if not isinstance(y, torch.Tensor) or any(len(t) != len(y) for t in inputs):
        raise ValueError("train_val_split(): X and y need the same number of rows; got "
                         f"{[len(t) for t in inputs]} and {len(y) if hasattr(y, '__len__') else y}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"train_val_split(): got val_fraction={val_fraction!r}; expected a "
                         "number between 0 and 1, e.g. 0.1 to hold out a tenth")
    if stratify is None:
        stratify = y.ndim == 1 and not y.is_floating_point()
    generator = torch.Generator().manual_seed(seed)
    groups = [torch.nonzero(y == label).flatten() for label in torch.unique(y)] if stratify \
        else [torch.arange(len(y))]
    val_rows, train_rows = [], []
    for rows in groups:
        rows = rows[torch.randperm(len(rows), generator=generator)]
        k = round(val_fraction * len(rows))
        val_rows.append(rows[:k])
        train_rows.append(rows[k:])
    if sum(len(r) for r in val_rows) == 0 or sum(len(r) for r in train_rows) == 0:
        raise ValueError(f"train_val_split(): val_fraction={val_fraction} of {len(y)} rows "
                         "leaves one split empty; use more data or another fraction")
    # Shuffle across classes too, so neither split is sorted by label.
    splits = []
    for rows in (torch.cat(train_rows), torch.cat(val_rows)):
        index = rows[torch.randperm(len(rows), generator=generator)]
        Xs = tuple(t[index] for t in inputs)
        splits.append(((Xs if isinstance(X, tuple) else Xs[0]), y[index]))
    return tuple(splits)


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
