"""Metrics: accuracy and Perplexity against plain torch references, the (sum, count) protocol,
and Meter's batch-size-weighted totals."""
import math

import pytest
import torch
from torch.nn import functional as F

import d2lite
from d2lite.metrics import Meter, accuracy, named_metrics
from d2lite.models import Perplexity

CPU = torch.device("cpu")


def test_accuracy_matches_argmax_for_every_layout():
    torch.manual_seed(0)
    logits, labels = torch.randn(50, 7), torch.randint(0, 7, (50,))
    correct, count = accuracy(logits, labels)
    assert count == 50 and int(correct) == int((logits.argmax(1) == labels).sum())

    steps_last = torch.randn(4, 9, 7)  # (batch, steps, classes)
    targets = torch.randint(0, 7, (4, 9))
    correct, count = accuracy(steps_last, targets)
    assert count == 36 and int(correct) == int((steps_last.argmax(-1) == targets).sum())
    # the layout CrossEntropyLoss takes, (batch, classes, steps), gives the same answer
    assert accuracy(steps_last.permute(0, 2, 1), targets) == (correct, 36)


def test_accuracy_binary_logits():
    logits = torch.tensor([2.0, -1.0, 0.5, -0.2])
    assert accuracy(logits, torch.tensor([1.0, 0.0, 0.0, 0.0])) == (3, 4)
    assert accuracy(logits[:, None], torch.tensor([[1], [0], [1], [1]])) == (3, 4)


def test_accuracy_errors():
    with pytest.raises(ValueError, match=r"accuracy\(\): got logits \(4, 3\) for targets \(5,\)"):
        accuracy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match=r"accuracy\(\): got y_hat of type list"):
        accuracy([0.1, 0.9], torch.tensor([1]))


def test_perplexity_matches_exp_cross_entropy_and_skips_padding():
    torch.manual_seed(0)
    logits, tokens = torch.randn(3, 5, 11), torch.randint(1, 11, (3, 5))
    tokens[0, 3:] = 0  # padding
    metric = Perplexity(ignore_index=0)
    total, count = metric(logits, tokens)
    reference = F.cross_entropy(logits.reshape(-1, 11), tokens.reshape(-1), ignore_index=0)
    assert int(count) == 13
    assert metric.finish(float(total) / int(count)) == pytest.approx(math.exp(reference), 1e-5)
    with pytest.raises(ValueError, match=r"Perplexity\(\): got logits \(3, 11\)"):
        metric(torch.zeros(3, 11), tokens)


def test_meter_weights_losses_by_batch_size_and_applies_finish():
    meter = Meter({"accuracy": accuracy, "perplexity": Perplexity()}, CPU)
    meter.add(torch.tensor(1.0), torch.tensor([[3.0, 0.0]] * 3), torch.tensor([0, 0, 1]))
    meter.add(torch.tensor(4.0), torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
    totals = meter.totals()
    assert totals["loss"] == pytest.approx((1.0 * 3 + 4.0 * 1) / 4)
    assert totals["accuracy"] == pytest.approx(2 / 4)
    expected = (2 * F.cross_entropy(torch.tensor([[3.0, 0.0]]), torch.tensor([0])) +
                F.cross_entropy(torch.tensor([[3.0, 0.0]]), torch.tensor([1])) + math.log(2)) / 4
    assert totals["perplexity"] == pytest.approx(math.exp(expected), 1e-6)


def test_meter_finds_the_first_non_finite_batch():
    meter = Meter({}, CPU)
    for value in [1.0, 2.0, float("nan"), 3.0, float("inf")]:
        meter.add(torch.tensor(value), None, torch.zeros(2))
    assert meter.sync() == 2
    meter.add(torch.tensor(1.0), None, torch.zeros(2))
    assert meter.sync() is None


def test_a_lesson_metric_plugs_into_fit():
    def mean_abs_error(y_hat, y):  # (sum, count): the protocol a lesson follows
        return (y_hat - y).abs().sum(), y.numel()

    X = torch.linspace(-1, 1, 32)[:, None]
    net = torch.nn.Linear(1, 1)
    history = d2lite.fit(net, [(X, 3 * X)], loss_fn=torch.nn.MSELoss(), metrics=[mean_abs_error],
                         val_data=[(X, 3 * X)], device="cpu", plot=False, verbose=False)
    with torch.no_grad():
        reference = (net(X) - 3 * X).abs().mean().item()
    assert history["val_mean_abs_error"][0] == pytest.approx(reference)


def test_named_metrics_accepts_one_a_list_or_a_dict():
    assert named_metrics("fit", None) == {}
    assert named_metrics("fit", accuracy) == {"accuracy": accuracy}
    ppl = Perplexity()
    assert named_metrics("fit", [accuracy, ppl]) == {"accuracy": accuracy, "perplexity": ppl}
    assert named_metrics("fit", {"acc": accuracy}) == {"acc": accuracy}
    with pytest.raises(TypeError, match=r"fit\(\): got metrics='accuracy'; expected a function"):
        named_metrics("fit", "accuracy")
