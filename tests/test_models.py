"""d2lite.models: every model against a torch reference where torch has one, with copied weights,
to 1e-5; shapes, train()/eval() behaviour and masks everywhere else; and the reuse contract
(explicit constructor arguments, a `Shape:` section, a running example) for every class.

How to add a model's tests (in tests/test_models_<module>.py, named in its chapter's section at
the end of this file), with the helpers that live in tests/conftest.py (`ATOL`, `copy_weights`,
`assert_same_outputs`, `assert_shapes`, `assert_train_eval`, `assert_ignores_masked`; import them
with `from conftest import ...`):
1. torch has the same module (nn.GRU, nn.LSTM, nn.MultiheadAttention, nn.TransformerEncoderLayer,
   F.scaled_dot_product_attention): build both, `copy_weights(ours, {name: tensor})` from the
   reference's weights, then `assert_same_outputs(ours, reference, *inputs)`.
2. otherwise: `assert_shapes(model, inputs, expected)`, `assert_train_eval(model, *inputs)` and,
   for models that take valid lengths or masks, `assert_ignores_masked(model_fn, X, keep)`.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest
import torch
from conftest import (
    assert_ignores_masked,
    assert_same_outputs,
    assert_shapes,
    assert_train_eval,
    copy_weights,
)
from torch import nn

import d2lite.models

# ---- the helpers themselves -----------------------------------------------------------------

class HandLinear(nn.Module):
    """A linear layer written out, to check the helpers against nn.Linear."""

    def __init__(self, num_inputs: int, num_outputs: int):
        super().__init__()
        self.W = nn.Parameter(torch.randn(num_inputs, num_outputs))
        self.b = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X):
        return X @ self.W + self.b


def test_helpers_catch_wrong_weights_shapes_and_masks():
    torch.manual_seed(0)
    reference, ours, X = nn.Linear(4, 3), HandLinear(4, 3), torch.randn(5, 4)
    copy_weights(ours, {"W": reference.weight.T, "b": reference.bias})
    assert_same_outputs(ours, reference, X)
    assert_shapes(ours, (X,), [(5, 3)])
    with pytest.raises(AssertionError, match=r"W: \(4, 3\) in the model but \(3, 4\) given"):
        copy_weights(ours, {"W": reference.weight, "b": reference.bias})  # not transposed
    with pytest.raises(AssertionError, match=r"names missing: \['b'\]"):
        copy_weights(ours, {"W": reference.weight.T})
    with torch.no_grad():
        ours.b += 1e-3
    with pytest.raises(AssertionError, match="output 0"):
        assert_same_outputs(ours, reference, X)
    assert_train_eval(nn.Sequential(ours, nn.Dropout(0.5)), X, stochastic=True)
    assert_train_eval(ours, X, stochastic=False)
    keep = torch.tensor([True, True, False, False])  # the last two features are padding
    assert_ignores_masked(lambda X: X[:, :2].sum(1), X, keep)
    with pytest.raises(AssertionError):
        assert_ignores_masked(ours, X, keep)


def test_scaled_dot_product_attention_reference():
    """The reference the attention models of chapter 6 are checked against, written out once."""
    torch.manual_seed(0)
    Q, K, V = torch.randn(2, 3, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 4)
    weights = torch.softmax(Q @ K.transpose(1, 2) / 8 ** 0.5, dim=-1)  # (batch, queries, keys)
    assert_same_outputs(lambda Q, K, V: weights @ V,
                        nn.functional.scaled_dot_product_attention, Q, K, V)


# ---- the reuse contract, for every class in d2lite.models -----------------------------------

def model_classes() -> list[type]:
    """Every public nn.Module subclass defined in a module of d2lite.models."""
    classes = []
    for info in pkgutil.iter_modules(d2lite.models.__path__):
        module = importlib.import_module(f"d2lite.models.{info.name}")
        classes += [obj for name, obj in vars(module).items() if not name.startswith("_")
                    and inspect.isclass(obj) and issubclass(obj, nn.Module)
                    and obj.__module__ == module.__name__]
    return classes


def test_every_model_keeps_the_reuse_contract():
    for cls in model_classes():
        doc, source = inspect.getdoc(cls) or "", inspect.getsource(inspect.getmodule(cls))
        assert re.search(r"^Shape:", doc, re.M), f"{cls.__name__}: no 'Shape:' section"
        assert ">>>" in doc, f"{cls.__name__}: no example (run by pytest --doctest-modules)"
        kinds = {p.kind for p in inspect.signature(cls.__init__).parameters.values()}
        assert not kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}, \
            f"{cls.__name__}: *args/**kwargs in the constructor; name every argument"
        for banned in ("Lazy", "add_to_class", "#@save", "currentframe", "_getframe"):
            assert banned not in source, f"{cls.__module__}: uses {banned}"


def test_models_lists_every_class_of_its_modules():
    assert {cls.__name__ for cls in model_classes()} <= set(d2lite.models.__all__)


# ---- chapter 4: CNNs (d2lite.models.cnn, d2lite.models.resnet) ------------------------------
# Their tests are in tests/test_models_cnn.py and tests/test_models_resnet.py.


# ---- chapter 5: RNNs (d2lite.models.rnn) ------------------------------------------------------
# RNNScratch, GRUScratch and LSTMScratch against nn.RNN, nn.GRU and nn.LSTM with copied weights,
# RNNLM around every kind of layer, lm_loss and predict: tests/test_models_rnn.py.
# Skip-gram (d2lite.models.word2vec) is tested in tests/test_models_word2vec.py; the
# encoder-decoder, its masked loss, greedy decoding and the Bahdanau attention decoder
# (d2lite.models.seq2seq) in tests/test_models_seq2seq.py.


# ---- chapter 6: attention and the Transformer -------------------------------------------------
# d2lite.models.attention (= F.scaled_dot_product_attention and nn.MultiheadAttention, masks,
# positional encoding) is tested in tests/test_models_attention.py; d2lite.models.transformer
# (= nn.TransformerEncoderLayer / nn.TransformerDecoderLayer, causal mask, cached decoding) in
# tests/test_models_transformer.py.


# ---- chapter 7: BERT (d2lite.models.bert) -------------------------------------------------------
# tests/test_models_bert.py: BERTEncoder = transformers.BertModel (random weights, and the real
# all-MiniLM-L6-v2 weights on a padded batch with attention masks, <= 1e-5), bert_state_dict's
# renaming, and d2lite.text.WordPiece = the tokenizers library on all 10,662 polarity sentences.
