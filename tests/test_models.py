"""d2lite.models: every model against a torch reference where torch has one, with copied weights,
to 1e-5; shapes, train()/eval() behaviour and masks everywhere else; and the reuse contract
(explicit constructor arguments, a `Shape:` section, a running example) for every class.

How to add a model's tests (each chapter appends one section at the end of this file):
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
from torch import nn

import d2lite.models

ATOL = 1e-5  # outputs of a model and its torch reference, float32, same weights


# ---- helpers --------------------------------------------------------------------------------

def copy_weights(model: nn.Module, tensors: dict[str, torch.Tensor]) -> nn.Module:
    """Set every parameter and buffer of `model` from `tensors` {state_dict name: tensor}.

    Every name of `model.state_dict()` must be given, with its exact shape, so a forgotten or
    transposed weight fails here rather than as a small output difference later.
    """
    own = model.state_dict()
    missing, extra = own.keys() - tensors.keys(), tensors.keys() - own.keys()
    assert not missing and not extra, f"names missing: {sorted(missing)}, unknown: {sorted(extra)}"
    for name, tensor in tensors.items():
        assert own[name].shape == tensor.shape, f"{name}: {tuple(own[name].shape)} in the model " \
            f"but {tuple(tensor.shape)} given"
    model.load_state_dict({name: tensor.detach().clone() for name, tensor in tensors.items()})
    return model


def _flat(outputs) -> list[torch.Tensor]:
    """The tensors of a model's output: a tensor, or (nested) tuples and lists of them."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [t for item in outputs if item is not None for t in _flat(item)]


def assert_same_outputs(model: nn.Module, reference, *inputs, atol: float = ATOL) -> None:
    """`model(*inputs)` equals `reference(*inputs)` (tensors or tuples of them) to `atol`, in
    eval mode (no dropout), without gradients."""
    for module in (model, reference):
        if isinstance(module, nn.Module):
            module.eval()
    with torch.no_grad():
        ours, theirs = _flat(model(*inputs)), _flat(reference(*inputs))
    assert len(ours) == len(theirs), f"{len(ours)} outputs, the reference gives {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.shape == b.shape, f"output {i}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
        torch.testing.assert_close(a, b, atol=atol, rtol=0, msg=lambda m, i=i: f"output {i}: {m}")


def assert_shapes(model: nn.Module, inputs: tuple, expected: tuple) -> None:
    """The output tensors of `model(*inputs)` have the `expected` shapes, in order."""
    with torch.no_grad():
        got = [tuple(t.shape) for t in _flat(model(*inputs))]
    assert got == [tuple(s) for s in expected], f"shapes {got}, expected {list(expected)}"


def assert_train_eval(model: nn.Module, *inputs, stochastic: bool) -> None:
    """eval() is deterministic; train() differs between two calls exactly when `stochastic`
    (dropout); the model is left in eval mode."""
    model.eval()
    with torch.no_grad():
        first, second = _flat(model(*inputs)), _flat(model(*inputs))
        assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True)), \
            "eval() gives different outputs for the same input"
        model.train()
        a, b = _flat(model(*inputs)), _flat(model(*inputs))
    model.eval()
    differ = not all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert differ == stochastic, f"train() outputs {'differ' if differ else 'repeat'} between calls"


def assert_ignores_masked(model_fn, X: torch.Tensor, keep: torch.Tensor) -> None:
    """`model_fn(X)` does not change when the entries of X where `keep` is False (padding,
    masked positions; `keep` broadcasts against X) are replaced by large random values."""
    noisy = torch.where(keep, X, 1e3 * torch.randn_like(X))
    with torch.no_grad():
        for a, b in zip(_flat(model_fn(X)), _flat(model_fn(noisy)), strict=True):
            torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


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
# More tests (RNNLM around nn.GRU/nn.LSTM, lm_loss, predict) are in tests/test_models_rnn.py.
# Skip-gram (d2lite.models.word2vec) is tested in tests/test_models_word2vec.py; the
# encoder-decoder, its masked loss, greedy decoding and the Bahdanau attention decoder
# (d2lite.models.seq2seq) in tests/test_models_seq2seq.py.

def test_rnn_scratch_equals_nn_rnn():
    torch.manual_seed(0)
    reference = nn.RNN(5, 7)
    ours = copy_weights(d2lite.models.RNNScratch(5, 7), {
        "W_xh": reference.weight_ih_l0.T, "W_hh": reference.weight_hh_l0.T,
        "b_h": reference.bias_ih_l0 + reference.bias_hh_l0})
    X, state = torch.randn(9, 3, 5), torch.randn(1, 3, 7)
    assert_same_outputs(ours, reference, X)
    assert_same_outputs(ours, reference, X, state)


# ---- chapter 6: attention and the Transformer -------------------------------------------------
# d2lite.models.attention (= F.scaled_dot_product_attention and nn.MultiheadAttention, masks,
# positional encoding) is tested in tests/test_models_attention.py; d2lite.models.transformer
# (= nn.TransformerEncoderLayer / nn.TransformerDecoderLayer, causal mask, cached decoding) in
# tests/test_models_transformer.py.


# ---- chapter 7: BERT (d2lite.models.bert) -------------------------------------------------------
# tests/test_models_bert.py: BERTEncoder = transformers.BertModel (random weights, and the real
# all-MiniLM-L6-v2 weights on a padded batch with attention masks, <= 1e-5), bert_state_dict's
# renaming, and d2lite.text.WordPiece = the tokenizers library on all 10,662 polarity sentences.
