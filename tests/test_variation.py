"""d2lite.variation: the sweep's seed offset moves training (seed_everything, batch order) and
not the data (train_val_split, explicit generators); record writes only where asked."""
import json

import pytest
import torch

import d2lite
from d2lite.data import batches, train_val_split
from d2lite.text import random_lm_batches
from d2lite.variation import record, seed_offset, training_seed


def first_order(seed):
    return [y.tolist() for _, y in batches(torch.zeros(8, 1), torch.arange(8), 8, seed=seed)]


def test_the_offset_moves_training_seeds(monkeypatch):
    d2lite.seed_everything(0)
    init, order = torch.rand(3), first_order(0)
    lm = [X.tolist() for X, _ in random_lm_batches(list(range(40)), 2, 5, seed=0)]
    monkeypatch.setenv("D2LITE_SEED_OFFSET", "1")
    assert seed_offset() == 1 and training_seed(0) == 1000
    assert d2lite.seed_everything(0) == 1000
    assert not torch.equal(torch.rand(3), init)
    assert first_order(0) != order
    assert [X.tolist() for X, _ in random_lm_batches(list(range(40)), 2, 5, seed=0)] != lm
    monkeypatch.setenv("D2LITE_SEED_OFFSET", "0")
    d2lite.seed_everything(0)
    assert torch.equal(torch.rand(3), init) and first_order(0) == order


def test_the_offset_leaves_the_data_alone(monkeypatch):
    X, y = torch.arange(20.0)[:, None], torch.arange(20)
    data = torch.randn(5, generator=torch.Generator().manual_seed(0))
    (_, split), _ = train_val_split(X, y, 0.25, seed=0, stratify=False)
    monkeypatch.setenv("D2LITE_SEED_OFFSET", "2")
    assert torch.equal(torch.randn(5, generator=torch.Generator().manual_seed(0)), data)
    assert torch.equal(train_val_split(X, y, 0.25, seed=0, stratify=False)[0][1], split)


@pytest.mark.parametrize("text", ["-1", "one", "1.5"])
def test_a_bad_offset_says_what_to_do(monkeypatch, text):
    monkeypatch.setenv("D2LITE_SEED_OFFSET", text)
    with pytest.raises(ValueError, match=r"D2LITE_SEED_OFFSET=.*expected a whole number >= 0"):
        d2lite.seed_everything(0)


def test_record_writes_only_where_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("D2LITE_RECORD", raising=False)
    record("ignored", 1.0)  # nowhere to write: nothing happens
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv("D2LITE_RECORD", str(path))
    d2lite.record("test_acc", torch.tensor(0.91))
    d2lite.record("epochs", 3)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [{"test_acc": pytest.approx(0.91)}, {"epochs": 3.0}]


@pytest.mark.parametrize("name, value, error, text", [
    ("test acc", 1.0, ValueError, "expected an identifier"),
    ("acc", "high", TypeError, "expected a number"),
    ("acc", torch.ones(2), TypeError, "expected a number"),
    ("loss", float("nan"), ValueError, "expected a finite number"),
])
def test_record_refuses_what_it_cannot_store(name, value, error, text):
    with pytest.raises(error, match=text):
        record(name, value)
