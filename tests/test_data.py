"""Tests for d2lite.data: the IDX parser on tiny files written here, `batches`, and (when
D2LITE_DATA is set, as in CI) every loader on the real files."""
import gzip
import os

import numpy as np
import pytest
import torch

from d2lite import data, text
from d2lite.data import batches as d2lite_batches

needs_data = pytest.mark.skipif(not os.environ.get("D2LITE_DATA"),
                                reason="needs D2LITE_DATA (CI sets it)")


def idx_bytes(magic: int, shape: tuple, values: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape)
    return header + values


# ---- read_idx -----------------------------------------------------------------------------------

def test_read_idx_parses_images_and_labels_plain_and_gzipped(tmp_path):
    pixels = bytes(range(12))
    (tmp_path / "images-idx3-ubyte").write_bytes(idx_bytes(2051, (3, 2, 2), pixels))
    labels_gz = gzip.compress(idx_bytes(2049, (3,), b"\x07\x02\x01"))
    (tmp_path / "labels-idx1-ubyte.gz").write_bytes(labels_gz)
    images = data.read_idx(tmp_path / "images-idx3-ubyte", magic=2051)
    assert images.dtype == np.uint8 and images.shape == (3, 2, 2)
    assert images[1].tolist() == [[4, 5], [6, 7]]
    labels = data.read_idx(tmp_path / "labels-idx1-ubyte.gz", magic=2049)
    assert labels.tolist() == [7, 2, 1]
    torch.from_numpy(labels)  # writable: no warning, no copy needed


def test_read_idx_refuses_a_truncated_file(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(2051, (3, 2, 2), bytes(10))))
    with pytest.raises(ValueError, match=r"read_idx\(\): images.gz holds 10 data bytes but its"
                                         r" header promises \(3, 2, 2\) = 12; the file is"
                                         " truncated"):
        data.read_idx(path, magic=2051)
    path.write_bytes(idx_bytes(2051, (3, 2, 2), b"")[:9])
    with pytest.raises(ValueError, match="images.gz is not a complete gzip file"):
        data.read_idx(path, magic=2051)
    path.write_bytes(gzip.compress(idx_bytes(2051, (3, 2, 2), bytes(12)))[:-12])  # cut the gzip
    with pytest.raises(ValueError, match="images.gz is not a complete gzip file .*truncated or"
                                         " damaged: delete it so that it is fetched again"):
        data.read_idx(path, magic=2051)
    plain = tmp_path / "images"
    plain.write_bytes(idx_bytes(2051, (3, 2, 2), b"")[:10])
    with pytest.raises(ValueError, match="images is truncated: 10 bytes, shorter than its 16-byte"):
        data.read_idx(plain, magic=2051)


def test_read_idx_refuses_a_bad_magic_number(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(2049, (2,), b"\x01\x02"))
    with pytest.raises(ValueError, match="labels starts with magic number 2049, expected 2051"):
        data.read_idx(path, magic=2051)
    path.write_bytes(b"<html>")  # what a download from a dead link often gives
    found = int.from_bytes(b"<htm", "big")
    with pytest.raises(ValueError, match=f"starts with magic number {found}, expected 2049"):
        data.read_idx(path, magic=2049)
    with pytest.raises(ValueError, match=r"got magic=7; expected 2049 \(labels\) or 2051"):
        data.read_idx(path, magic=7)


# ---- batches --------------------------------------------------------------------------------

def toy(n=10, d=3):
    X = torch.arange(n * d, dtype=torch.float32).reshape(n, d)
    return X, torch.arange(n)


def test_batches_cover_every_row_once_per_epoch():
    X, y = toy(10)
    loader = data.batches(X, y, batch_size=4, seed=0)
    assert len(loader) == 3
    for _ in range(2):  # re-iterable
        parts = list(loader)
        assert [len(yb) for _, yb in parts] == [4, 4, 2]
        seen = torch.cat([yb for _, yb in parts])
        assert sorted(seen.tolist()) == list(range(10))
        for Xb, yb in parts:
            assert torch.equal(Xb, X[yb])  # rows stay with their targets
    assert len(data.batches(X, y, 4, drop_last=True)) == 2
    assert [len(yb) for _, yb in data.batches(X, y, 4, drop_last=True)] == [4, 4]


def order(loader):
    return torch.cat([yb for _, yb in loader]).tolist()


def test_batches_with_a_seed_repeat_each_epoch():
    X, y = toy(50)
    a, b = data.batches(X, y, 8, seed=3), data.batches(X, y, 8, seed=3)
    a0, a1 = order(a), order(a)
    assert a0 == order(b) and a1 == order(b)  # epoch e is the same in both runs
    assert a0 != a1  # but epochs differ
    resumed = data.batches(X, y, 8, seed=3)
    resumed.epoch = 1  # resume at epoch 1
    assert order(resumed) == a1


def test_batches_without_a_seed_follow_torchs_generator():
    X, y = toy(50)
    torch.manual_seed(0)
    first = order(data.batches(X, y, 8))
    torch.manual_seed(0)
    assert order(data.batches(X, y, 8)) == first


def test_batches_without_shuffle_are_views_in_order():
    X, y = toy(10)
    Xb, yb = next(iter(data.batches(X, y, 4, shuffle=False)))
    assert yb.tolist() == [0, 1, 2, 3] and Xb.data_ptr() == X.data_ptr()  # a slice, no copy


def test_batches_gather_any_dtype_and_keep_autograd():
    X, y = toy(10)
    for dtype in (torch.bfloat16, torch.float16, torch.int8, torch.bool):
        Xd = X.to(dtype)
        for Xb, yb in data.batches(Xd, y, 4, seed=0):
            assert Xb.dtype == dtype and torch.equal(Xb, Xd[yb])
    W = X.clone().requires_grad_()
    Wb, _ = next(iter(data.batches(W, y, 4, seed=0)))
    Wb.sum().backward()
    assert W.grad.sum() == 4 * 3  # gradients flow back to the rows taken


def test_batches_with_several_inputs_yield_a_tuple():
    X, y = toy(10)
    mask = torch.arange(10) % 2 == 0
    for (Xb, mb), yb in data.batches((X, mask), y, 4, seed=0):
        assert torch.equal(Xb, X[yb]) and torch.equal(mb, mask[yb])


def test_batches_move_to_the_device_once():
    X, y = toy(10)
    loader = data.batches(X, y, 4, device=torch.device("cpu"))
    assert all(Xb.device.type == "cpu" for Xb, _ in loader)
    if torch.cuda.is_available():
        Xb, yb = next(iter(data.batches(X, y, 4, device="cuda")))
        assert Xb.is_cuda and yb.is_cuda


def test_batches_explain_bad_arguments():
    X, y = toy(10)
    with pytest.raises(ValueError, match=r"batches\(\): X has shape \(9, 3\) but y has 10 rows;"
                                         " every tensor needs the same first dimension"):
        data.batches(X[:9], y, 4)
    with pytest.raises(ValueError, match=r"X\[1\] has shape \(3,\) but y has 10 rows"):
        data.batches((X, y[:3]), y, 4)
    with pytest.raises(ValueError, match=r"got batch_size=0; expected an int >= 1"):
        data.batches(X, y, 0)
    with pytest.raises(TypeError, match=r"X must be a tensor or a tuple of tensors and y a tensor;"
                                        " got X=list"):
        data.batches([1, 2], y, 4)


# ---- loaders on the real files (D2LITE_DATA) --------------------------------------------------

def test_loaders_explain_bad_arguments():
    with pytest.raises(ValueError, match=r"load_ptb\(\): got split='dev'; expected 'train',"):
        data.load_ptb("dev")
    with pytest.raises(ValueError, match=r"load_wikitext2\(\): got split='training'"):
        data.load_wikitext2("training")
    with pytest.raises(ValueError, match=r"load_fra_eng\(\): got num_examples=0; expected None or"):
        data.load_fra_eng(num_examples=0)


@needs_data
def test_load_mnist_sizes_dtypes_and_digit_counts():
    (X_train, y_train), (X_test, y_test) = data.load_mnist(verbose=False)
    assert X_train.shape == (60_000, 1, 28, 28) and X_test.shape == (10_000, 1, 28, 28)
    assert X_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert X_train.min() == 0 and X_train.max() == 1
    assert y_train.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                                           5949]
    assert y_test.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    mean, std = X_train.mean().item(), X_train.std().item()
    assert abs(mean - 0.1307) < 1e-4 and abs(std - 0.3081) < 1e-4  # the well-known constants


@needs_data
def test_load_fashion_mnist_sizes_and_classes():
    (X_train, y_train), (X_test, y_test) = data.load_fashion_mnist(verbose=False)
    assert X_train.shape == (60_000, 1, 28, 28) and X_test.shape == (10_000, 1, 28, 28)
    assert y_train.bincount().tolist() == [6000] * 10 and y_test.bincount().tolist() == [1000] * 10
    assert len(data.FASHION_MNIST_CLASSES) == 10
    assert data.FASHION_MNIST_CLASSES[int(y_train[0])] == "Ankle boot"


@needs_data
def test_load_sms_spam():
    messages, labels = data.load_sms_spam(verbose=False)
    assert len(messages) == 5_574 and labels.shape == (5_574,) and labels.dtype == torch.int64
    assert int(labels.sum()) == 747
    assert messages[0].startswith("Go until jurong point")
    assert messages[-1] == "Rofl. Its true to its name"


@needs_data
def test_load_rt_polarity():
    sentences, labels = data.load_rt_polarity(verbose=False)
    assert len(sentences) == 10_662 and int(labels[:5_331].sum()) == 5_331
    assert int(labels[5_331:].sum()) == 0
    assert sentences[0].startswith("the rock is destined to be the 21st century's new")
    assert any("\u2026" in s for s in sentences)  # cp1252's 0x85 decoded as an ellipsis


@needs_data
def test_load_ptb_has_9999_words_and_10000_with_eos():
    lines = data.load_ptb(verbose=False)
    assert len(lines) == 42_068 and [len(data.load_ptb(s, verbose=False)) for s in
                                      ("valid", "test")] == [3_370, 3_761]
    tokens = text.tokenize(lines)
    assert len({word for line in tokens for word in line}) == 9_999
    vocab = text.Vocab([line + ["<eos>"] for line in tokens])
    assert len(vocab) == 10_000  # PTB's own <unk> is the vocabulary's <unk>


@needs_data
def test_load_wikitext2_token_counts():
    lines = data.load_wikitext2(verbose=False)
    assert len(lines) == 36_718 and lines[1] == "= Valkyria Chronicles III ="
    counts = [sum(len(line.split()) + 1 for line in data.load_wikitext2(s, verbose=False))
              for s in ("train", "valid", "test")]
    assert counts == [2_088_628, 217_646, 245_569]  # with one <eos> per line, as published


@needs_data
def test_load_time_machine_and_fra_eng():
    lines = data.load_time_machine(verbose=False)
    assert len(lines) == 3_221 and lines[0] == "the time machine by h g wells"
    assert data.load_time_machine(raw=True, verbose=False)[0].startswith("The Time Machine, by")
    assert set("".join(lines)) <= set("abcdefghijklmnopqrstuvwxyz ")
    source, target = data.load_fra_eng(verbose=False)
    assert len(source) == len(target) == 167_130
    assert (source[0], target[0]) == (["go", "."], ["va", "!"])
    assert target[2] == ["cours", "!"]  # the narrow no-break space before "!" became a split
    few_source, few_target = data.load_fra_eng(num_examples=600, verbose=False)
    assert len(few_source) == len(few_target) == 600 and few_source == source[:600]


def test_batches_set_epoch_repeats_that_epochs_order():
    X, y = torch.arange(20.0).reshape(10, 2), torch.arange(10)
    loader = d2lite_batches(X, y, batch_size=3, seed=5)
    first, second = [yb.tolist() for _, yb in loader], [yb.tolist() for _, yb in loader]
    assert first != second, "each pass should reshuffle"
    next(iter(loader))  # someone peeks at a batch (fit's first-batch check does)
    loader.set_epoch(1)
    assert [yb.tolist() for _, yb in loader] == second


def test_train_val_split_is_seeded_stratified_and_disjoint():
    X = torch.arange(1000.).reshape(500, 2)
    y = torch.tensor([0] * 400 + [1] * 100)
    (X_tr, y_tr), (X_val, y_val) = data.train_val_split(X, y, 0.2, seed=3)
    assert len(y_val) == 100 and len(y_tr) == 400
    assert int((y_val == 1).sum()) == 20 and int((y_tr == 1).sum()) == 80  # shares kept
    rows = set(X_tr[:, 0].tolist()) | set(X_val[:, 0].tolist())
    assert len(rows) == 500  # every row once, in one split only
    assert all(y[int(x) // 2] == label for x, label in zip(X_val[:, 0], y_val, strict=True))
    again = data.train_val_split(X, y, 0.2, seed=3)[1][0]
    other = data.train_val_split(X, y, 0.2, seed=4)[1][0]
    assert torch.equal(again, X_val) and not torch.equal(other, X_val)
    assert not torch.equal(y_val, y_val.sort().values)  # not ordered by class


def test_train_val_split_of_regression_targets_and_tuples():
    X, y = torch.randn(50, 3), torch.randn(50)
    (X_tr, y_tr), (X_val, y_val) = data.train_val_split((X, X * 2), y, 0.1)
    assert isinstance(X_tr, tuple) and len(y_val) == 5 and torch.equal(X_val[1], X_val[0] * 2)


def test_train_val_split_explains_bad_arguments():
    X, y = torch.zeros(10, 2), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match=r"train_val_split\(\): got val_fraction=1.5"):
        data.train_val_split(X, y, 1.5)
    with pytest.raises(ValueError, match="same number of rows"):
        data.train_val_split(X, y[:5])
    with pytest.raises(ValueError, match="leaves one split empty"):
        data.train_val_split(X, y, 0.01)


# ---- load_minilm: pretrained BERT weights, on tiny files written here and on the real ones ----

def test_load_minilm_reads_weights_vocab_and_config(tmp_path, monkeypatch):
    pytest.importorskip("safetensors", reason="load_minilm() needs the safetensors package")
    import hashlib
    import json

    from safetensors.torch import save_file

    from d2lite.registry import DataFile, Source

    folder = tmp_path / "data" / "minilm"
    folder.mkdir(parents=True)
    tensors = {"embeddings.word_embeddings.weight": torch.randn(5, 4),
               "encoder.layer.0.output.dense.bias": torch.arange(4.0)}
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n##s\ncafé\n", encoding="utf-8")
    (folder / "config.json").write_text(json.dumps({"hidden_size": 4}), encoding="utf-8")
    entries = tuple(DataFile(path.name, hashlib.sha256(path.read_bytes()).hexdigest(),
                             path.stat().st_size, (Source(f"http://127.0.0.1:9/{path.name}"),))
                    for path in sorted(folder.iterdir()))
    monkeypatch.setenv("D2LITE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("D2LITE_CACHE", str(tmp_path / "cache"))
    state_dict, vocab, config = data.load_minilm(registry={"minilm": entries}, verbose=False)
    assert state_dict.keys() == tensors.keys()
    assert all(torch.equal(state_dict[k], v) for k, v in tensors.items())
    assert vocab == ["[PAD]", "[UNK]", "[CLS]", "##s", "café"] and config == {"hidden_size": 4}
    (folder / "vocab.txt").write_text("[PAD]\n", encoding="utf-8")  # damaged: wrong sha256
    with pytest.raises(ValueError, match="vocab.txt has sha256"):
        data.load_minilm(registry={"minilm": entries}, verbose=False)


@needs_data
def test_load_minilm_real_files():
    pytest.importorskip("safetensors", reason="load_minilm() needs the safetensors package")
    state_dict, vocab, config = data.load_minilm(verbose=False)
    assert len(state_dict) == 104 and len(vocab) == config["vocab_size"] == 30522
    assert state_dict["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert vocab[:1] == ["[PAD]"] and vocab[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert (config["num_hidden_layers"], config["num_attention_heads"]) == (6, 12)
