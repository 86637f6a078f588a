"""d2lite.models.rnn: RNNScratch, GRUScratch and LSTMScratch against nn.RNN, nn.GRU and nn.LSTM
with copied weights (outputs and gradients), where GRUScratch puts b_hn, RNNLM's shapes around
every kind of recurrent layer, lm_loss, and predict's determinism."""
import math

import pytest
import torch
from conftest import ATOL, assert_same_outputs, copy_weights
from torch import nn

from d2lite.models import RNNLM, GRUScratch, LSTMScratch, RNNScratch, lm_loss, predict
from d2lite.text import Vocab


def scratch_copy_of(torch_rnn: nn.RNN) -> RNNScratch:
    """An RNNScratch computing what a one-layer tanh nn.RNN computes (weights transposed, the
    two biases summed)."""
    return copy_weights(RNNScratch(torch_rnn.input_size, torch_rnn.hidden_size), {
        "W_xh": torch_rnn.weight_ih_l0.T, "W_hh": torch_rnn.weight_hh_l0.T,
        "b_h": torch_rnn.bias_ih_l0 + torch_rnn.bias_hh_l0})


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("reference_cls,seed", [(nn.RNN, 0), (nn.GRU, 2)])
def test_rnn_and_gru_scratch_equal_torch_with_copied_weights(reference_cls, seed, with_state):
    torch.manual_seed(seed)
    reference = reference_cls(7, 16)               # one layer, seq-first (nn.RNN: tanh)
    copy_of = scratch_copy_of if reference_cls is nn.RNN else gru_scratch_copy_of
    scratch = copy_of(reference)
    X = torch.randn(12, 3, 7)                      # (steps, batch, inputs)
    state = torch.randn(1, 3, 16) if with_state else None
    assert_same_outputs(scratch, reference, X, state)  # and shapes (12, 3, 16), (1, 3, 16)


def test_rnn_scratch_gradients_equal_nn_rnn():
    torch.manual_seed(1)
    reference = nn.RNN(4, 6)
    scratch = scratch_copy_of(reference)
    X = torch.randn(9, 2, 4)
    scratch(X)[0].sum().backward()
    reference(X)[0].sum().backward()
    torch.testing.assert_close(scratch.W_hh.grad, reference.weight_hh_l0.grad.T,
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scratch.b_h.grad, reference.bias_ih_l0.grad, atol=1e-5, rtol=1e-5)


def test_rnn_scratch_init_and_errors():
    rnn = RNNScratch(3, 25)
    assert rnn.W_xh.abs().max() <= 0.2 and rnn.W_hh.shape == (25, 25)
    assert (rnn.input_size, rnn.hidden_size) == (3, 25)
    with pytest.raises(ValueError, match=r"expected \(num_steps, batch, 3\)"):
        rnn(torch.randn(5, 3))


@pytest.mark.parametrize("layer", [RNNScratch(10, 8), nn.RNN(10, 8), nn.GRU(10, 8),
                                   nn.LSTM(10, 8, num_layers=2),
                                   nn.GRU(10, 8, bidirectional=True)])
def test_rnnlm_shapes_around_every_layer(layer):
    model = RNNLM(layer, vocab_size=10)
    X = torch.randint(10, (4, 6))                  # (batch, steps)
    logits, state = model.forward_with_state(X)
    assert logits.shape == (4, 6, 10)
    h = state[0] if isinstance(layer, nn.LSTM) else state
    assert h.shape[1:] == (4, 8)
    assert model(X).shape == (4, 6, 10)
    # carrying the state over equals reading the two halves in one go
    first, state = model.forward_with_state(X[:, :3])
    second, _ = model.forward_with_state(X[:, 3:], state)
    if not getattr(layer, "bidirectional", False):
        torch.testing.assert_close(torch.cat([first, second], dim=1), logits)


def test_rnnlm_refuses_batch_first_and_wrong_input_size():
    with pytest.raises(ValueError, match="batch_first=True"):
        RNNLM(nn.RNN(10, 8, batch_first=True), 10)
    with pytest.raises(ValueError, match="input_size == vocab_size"):
        RNNLM(nn.RNN(12, 8), 10)


def test_lm_loss_of_uniform_logits_is_log_vocab():
    loss = lm_loss(torch.zeros(3, 5, 28), torch.randint(28, (3, 5)))
    assert math.isclose(math.exp(loss.item()), 28.0, rel_tol=1e-6)


def test_predict_greedy_and_sampled_are_deterministic():
    vocab = Vocab(list("the time machine"))
    torch.manual_seed(0)
    model = RNNLM(RNNScratch(len(vocab), 16), len(vocab))
    greedy = predict("time ", 20, model, vocab)
    assert len(greedy) == 25 and greedy.startswith("time ")
    assert greedy == predict("time ", 20, model, vocab, sample=False, seed=7)  # seed unused
    sampled = [predict("time ", 30, model, vocab, sample=True, seed=s) for s in (0, 0, 1)]
    assert sampled[0] == sampled[1] and sampled[0] != sampled[2]
    words = predict(["t", "i"], 3, model, vocab)
    assert isinstance(words, list) and len(words) == 5
    assert model.training  # predict restores the mode it found
    with pytest.raises(ValueError, match="empty prefix"):
        predict("", 3, model, vocab)


def test_predict_greedy_follows_a_trained_cycle():
    torch.manual_seed(0)
    vocab = Vocab(list("abc"))
    model = RNNLM(nn.RNN(len(vocab), 16), len(vocab))
    ids = torch.tensor([vocab[list("abc" * 20)]])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(100):
        loss = lm_loss(model(ids[:, :-1]), ids[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert predict("ab", 6, model, vocab) == "abcabcab"


def gru_scratch_copy_of(torch_gru: nn.GRU) -> GRUScratch:
    """A GRUScratch computing what a one-layer nn.GRU computes (torch's gate order: r, z, n;
    b_hn stays apart, inside the reset product)."""
    W_ir, W_iz, W_in = torch_gru.weight_ih_l0.chunk(3)
    W_hr, W_hz, W_hn = torch_gru.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = torch_gru.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = torch_gru.bias_hh_l0.chunk(3)
    return copy_weights(GRUScratch(torch_gru.input_size, torch_gru.hidden_size), {
        "W_xr": W_ir.T, "W_hr": W_hr.T, "b_r": b_ir + b_hr,
        "W_xz": W_iz.T, "W_hz": W_hz.T, "b_z": b_iz + b_hz,
        "W_xh": W_in.T, "W_hh": W_hn.T, "b_xh": b_in, "b_hh": b_hn})


def lstm_scratch_copy_of(torch_lstm: nn.LSTM) -> LSTMScratch:
    """An LSTMScratch computing what a one-layer nn.LSTM computes (gate order: i, f, g, o; our
    candidate cell g is `c`, each bias is torch's two summed)."""
    W_x = torch_lstm.weight_ih_l0.chunk(4)
    W_h = torch_lstm.weight_hh_l0.chunk(4)
    b = (torch_lstm.bias_ih_l0 + torch_lstm.bias_hh_l0).chunk(4)
    tensors = {}
    for k, gate in enumerate("ifco"):
        tensors |= {f"W_x{gate}": W_x[k].T, f"W_h{gate}": W_h[k].T, f"b_{gate}": b[k]}
    return copy_weights(LSTMScratch(torch_lstm.input_size, torch_lstm.hidden_size), tensors)


def test_gru_scratch_keeps_b_hn_inside_the_reset_product_like_nn_gru():
    """nn.GRU's candidate state is tanh(x_n + R * (h_n + b_hn)), x_n = W_in x + b_in and
    h_n = W_hn h, with b_hn inside the reset product: GRUScratch equals nn.GRU to ATOL, and so
    does that step written out from nn.GRU's weights, while the same step with b_hn outside
    (Cho et al.'s tanh(x_n + b_hn + R * h_n)) misses nn.GRU by far more than ATOL, as b_hn is
    nonzero and the reset gate R is away from 1."""
    torch.manual_seed(3)
    reference = nn.GRU(4, 6)
    with torch.no_grad():
        reference.bias_hh_l0.uniform_(-1, 1)               # b_hn clearly nonzero
    X, H = torch.randn(1, 2, 4), torch.randn(1, 2, 6)      # one step from a random state
    assert_same_outputs(gru_scratch_copy_of(reference), reference, X, H)
    with torch.no_grad():                                  # the step written out, gates r, z, n
        (x,), (h,) = X, H
        x_r, x_z, x_n = (x @ reference.weight_ih_l0.T + reference.bias_ih_l0).chunk(3, dim=-1)
        h_r, h_z, h_n = (h @ reference.weight_hh_l0.T).chunk(3, dim=-1)
        b_hr, b_hz, b_hn = reference.bias_hh_l0.chunk(3)
        R, Z = torch.sigmoid(x_r + h_r + b_hr), torch.sigmoid(x_z + h_z + b_hz)
        inside = Z * h + (1 - Z) * torch.tanh(x_n + R * (h_n + b_hn))
        outside = Z * h + (1 - Z) * torch.tanh(x_n + b_hn + R * h_n)
        expected = reference(X, H)[0][0]
    assert R.max() < 0.95 and b_hn.abs().max() > 0.5
    torch.testing.assert_close(inside, expected, atol=ATOL, rtol=0)
    assert (outside - expected).abs().max() > 100 * ATOL


@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_scratch_equals_nn_lstm_with_copied_weights(with_state):
    torch.manual_seed(4)
    reference = nn.LSTM(7, 16)
    scratch = lstm_scratch_copy_of(reference)
    X = torch.randn(12, 3, 7)
    state = (torch.randn(1, 3, 16), torch.randn(1, 3, 16)) if with_state else None
    assert_same_outputs(scratch, reference, X, state)  # and shapes: outputs, H and C


@pytest.mark.parametrize("cls,reference_cls", [(GRUScratch, nn.GRU), (LSTMScratch, nn.LSTM)])
def test_gated_scratch_gradients_equal_torch(cls, reference_cls):
    torch.manual_seed(5)
    reference = reference_cls(4, 6)
    copy_of = gru_scratch_copy_of if cls is GRUScratch else lstm_scratch_copy_of
    scratch = copy_of(reference)
    X = torch.randn(9, 2, 4)
    scratch(X)[0].sum().backward()
    reference(X)[0].sum().backward()
    hidden_to_hidden = scratch.W_hr if cls is GRUScratch else scratch.W_hi   # the first block
    torch.testing.assert_close(hidden_to_hidden.grad, reference.weight_hh_l0.grad[:6].T,
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", [GRUScratch, LSTMScratch])
def test_gated_scratch_init_errors_and_rnnlm(cls):
    layer = cls(3, 25)
    assert all(p.abs().max() <= 0.2 for p in layer.parameters())
    assert (layer.input_size, layer.hidden_size) == (3, 25)
    with pytest.raises(ValueError,
                       match=rf"{cls.__name__}\(\): .*expected \(num_steps, batch, 3\)"):
        layer(torch.randn(5, 3))
    model = RNNLM(cls(10, 8), vocab_size=10)
    X = torch.randint(10, (4, 6))
    logits, state = model.forward_with_state(X)
    first, state_half = model.forward_with_state(X[:, :3])
    second, _ = model.forward_with_state(X[:, 3:], state_half)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)
