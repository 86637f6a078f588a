"""The helpers every model test uses (tests/test_models*.py import them with
`from conftest import ...`; pytest puts tests/ on sys.path). They are tested themselves in
tests/test_models.py::test_helpers_catch_wrong_weights_shapes_and_masks.

1. torch has the same module: build both, `copy_weights(ours, {name: tensor})` from the
   reference's weights, then `assert_same_outputs(ours, reference, *inputs)`.
2. otherwise: `assert_shapes(model, inputs, expected)`, `assert_train_eval(model, *inputs)` and,
   for models that take valid lengths or masks, `assert_ignores_masked(model_fn, X, keep)`.
"""
from __future__ import annotations

import torch
from torch import nn

ATOL = 1e-5  # outputs of a model and its torch reference, float32, same weights


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


def flat(outputs) -> list[torch.Tensor]:
    """The tensors of a model's output: a tensor, or (nested) tuples and lists of them."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [t for item in outputs if item is not None for t in flat(item)]


def assert_same_outputs(model: nn.Module, reference, *inputs, atol: float = ATOL) -> None:
    """`model(*inputs)` equals `reference(*inputs)` (tensors or tuples of them) to `atol`, in
    eval mode (no dropout), without gradients."""
    for module in (model, reference):
        if isinstance(module, nn.Module):
            module.eval()
    with torch.no_grad():
        ours, theirs = flat(model(*inputs)), flat(reference(*inputs))
    assert len(ours) == len(theirs), f"{len(ours)} outputs, the reference gives {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.shape == b.shape, f"output {i}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
        torch.testing.assert_close(a, b, atol=atol, rtol=0, msg=lambda m, i=i: f"output {i}: {m}")


def assert_shapes(model: nn.Module, inputs: tuple, expected: tuple) -> None:
    """The output tensors of `model(*inputs)` have the `expected` shapes, in order."""
    with torch.no_grad():
        got = [tuple(t.shape) for t in flat(model(*inputs))]
    assert got == [tuple(s) for s in expected], f"shapes {got}, expected {list(expected)}"


def assert_train_eval(model: nn.Module, *inputs, stochastic: bool) -> None:
    """eval() is deterministic; train() differs between two calls exactly when `stochastic`
    (dropout); the model is left in eval mode."""
    model.eval()
    with torch.no_grad():
        first, second = flat(model(*inputs)), flat(model(*inputs))
        assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True)), \
            "eval() gives different outputs for the same input"
        model.train()
        a, b = flat(model(*inputs)), flat(model(*inputs))
    model.eval()
    differ = not all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert differ == stochastic, f"train() outputs {'differ' if differ else 'repeat'} between calls"


def assert_ignores_masked(model_fn, X: torch.Tensor, keep: torch.Tensor) -> None:
    """`model_fn(X)` does not change when the entries of X where `keep` is False (padding,
    masked positions; `keep` broadcasts against X) are replaced by large random values."""
    noisy = torch.where(keep, X, 1e3 * torch.randn_like(X))
    with torch.no_grad():
        for a, b in zip(flat(model_fn(X)), flat(model_fn(noisy)), strict=True):
            torch.testing.assert_close(a, b, atol=ATOL, rtol=0)
