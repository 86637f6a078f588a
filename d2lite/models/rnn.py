"""Recurrent layers written out step by step, a character/word language model around any of them,
and greedy or sampled text generation (chapter 5). Sequences are seq-first, as in `nn.RNN`."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["RNNLM", "GRUScratch", "LSTMScratch", "RNNScratch", "predict"]


def _uniform_parameter(bound: float, *shape: int) -> nn.Parameter:
    """A parameter drawn uniformly from [-bound, bound], as torch initialises its RNN layers."""
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


def _layer(num_inputs: int, num_hiddens: int) -> tuple[nn.Parameter, ...]:
    """(W_x, W_h, b) of one layer or gate: (num_inputs, h), (h, h), (h,), bound 1/sqrt(h)."""
    bound = 1 / math.sqrt(num_hiddens)
    return (_uniform_parameter(bound, num_inputs, num_hiddens),
            _uniform_parameter(bound, num_hiddens, num_hiddens),
            _uniform_parameter(bound, num_hiddens))


class _Recurrent(nn.Module):
    """What the three scratch layers share: a zero start, the loop over time steps and torch's
    return values. A subclass defines `step(X, H, ...) -> (H, ...)`: one time step from the
    state it carries (H, or H and C for the LSTM), each (batch, num_hiddens)."""

    num_states = 1  # tensors in the state: 1 (H), or 2 for the LSTM (H, C)

    def __init__(self, num_inputs: int, num_hiddens: int):
        super().__init__()
        self.input_size, self.hidden_size = num_inputs, num_hiddens  # torch's names

    def forward(self, inputs: torch.Tensor, state=None):
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}(): got inputs {tuple(inputs.shape)}; "
                             f"expected (num_steps, batch, {self.input_size})")
        if state is None:
            zeros = inputs.new_zeros(1, inputs.shape[1], self.hidden_size)
            state = zeros if self.num_states == 1 else (zeros,) * self.num_states
        carried = (state,) if self.num_states == 1 else tuple(state)
        carried = tuple(s[0] for s in carried)  # each (batch, num_hiddens)
        outputs = []
        for X in inputs:  # X: (batch, num_inputs), one time step
            carried = self.step(X, *carried)
            outputs.append(carried[0])  # H
        final = tuple(s.unsqueeze(0) for s in carried)  # each (1, batch, num_hiddens)
        return torch.stack(outputs), final[0] if self.num_states == 1 else final


class RNNScratch(_Recurrent):
    """A one-layer tanh RNN, one time step at a time: H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h).

    It computes what `nn.RNN(num_inputs, num_hiddens)` computes, with the same shapes, but it
    keeps one bias `b_h` (torch's `bias_ih_l0 + bias_hh_l0`) and stores the weights the way the
    formula multiplies them: `W_xh` is torch's `weight_ih_l0.T`, `W_hh` is `weight_hh_l0.T`.
    Initialised like torch: uniform in [-1/sqrt(num_hiddens), 1/sqrt(num_hiddens)].

    Shape:
        inputs: (num_steps, batch, num_inputs); state: (1, batch, num_hiddens) or None (zeros).
        Returns outputs (num_steps, batch, num_hiddens), the hidden state of every step, and
        the final state (1, batch, num_hiddens), like `nn.RNN`'s `(output, h_n)`.

    Example:
        >>> rnn = RNNScratch(num_inputs=5, num_hiddens=8)
        >>> outputs, state = rnn(torch.randn(3, 2, 5))
        >>> tuple(outputs.shape), tuple(state.shape), bool((outputs[-1] == state[0]).all())
        ((3, 2, 8), (1, 2, 8), True)
    """

    def __init__(self, num_inputs: int, num_hiddens: int):
        super().__init__(num_inputs, num_hiddens)
        self.W_xh, self.W_hh, self.b_h = _layer(num_inputs, num_hiddens)

    def step(self, X: torch.Tensor, H: torch.Tensor) -> tuple[torch.Tensor]:
        return (torch.tanh(X @ self.W_xh + H @ self.W_hh + self.b_h),)


class GRUScratch(_Recurrent):
    """A one-layer GRU, one time step at a time, with PyTorch's gate equations:

        R_t = sigmoid(X_t W_xr + H_{t-1} W_hr + b_r)                 reset gate
        Z_t = sigmoid(X_t W_xz + H_{t-1} W_hz + b_z)                 update gate
        H~_t = tanh(X_t W_xh + b_xh + R_t * (H_{t-1} W_hh + b_hh))   candidate state
        H_t = Z_t * H_{t-1} + (1 - Z_t) * H~_t

    It computes what `nn.GRU(num_inputs, num_hiddens)` computes. The reset gate multiplies
    `H_{t-1} W_hh + b_hh` (torch's `b_hn` stays inside the product), not `H_{t-1}` as in
    Cho et al. (2014). torch stacks the gates' weights in the order r, z, n: `W_xr, W_xz, W_xh`
    are the three row blocks of `weight_ih_l0`, transposed; `b_r` is `b_ir + b_hr`, `b_z` is
    `b_iz + b_hz`, `b_xh` is `b_in`, `b_hh` is `b_hn`. Initialised like torch: uniform in
    [-1/sqrt(num_hiddens), 1/sqrt(num_hiddens)].

    Shape:
        inputs: (num_steps, batch, num_inputs); state: (1, batch, num_hiddens) or None (zeros).
        Returns outputs (num_steps, batch, num_hiddens) and the final state
        (1, batch, num_hiddens), like `nn.GRU`'s `(output, h_n)`.

    Example:
        >>> gru = GRUScratch(num_inputs=5, num_hiddens=8)
        >>> outputs, state = gru(torch.randn(3, 2, 5), torch.zeros(1, 2, 8))
        >>> tuple(outputs.shape), tuple(state.shape), bool((outputs[-1] == state[0]).all())
        ((3, 2, 8), (1, 2, 8), True)
    """

    def __init__(self, num_inputs: int, num_hiddens: int):
        super().__init__(num_inputs, num_hiddens)
        self.W_xr, self.W_hr, self.b_r = _layer(num_inputs, num_hiddens)    # reset gate
        self.W_xz, self.W_hz, self.b_z = _layer(num_inputs, num_hiddens)    # update gate
        self.W_xh, self.W_hh, self.b_xh = _layer(num_inputs, num_hiddens)   # candidate state
        self.b_hh = _uniform_parameter(1 / math.sqrt(num_hiddens), num_hiddens)  # torch's b_hn

    def step(self, X: torch.Tensor, H: torch.Tensor) -> tuple[torch.Tensor]:
        R_t = torch.sigmoid(X @ self.W_xr + H @ self.W_hr + self.b_r)
        Z_t = torch.sigmoid(X @ self.W_xz + H @ self.W_hz + self.b_z)
        H_tilde = torch.tanh(X @ self.W_xh + self.b_xh + R_t * (H @ self.W_hh + self.b_hh))
        return (Z_t * H + (1 - Z_t) * H_tilde,)


class LSTMScratch(_Recurrent):
    """A one-layer LSTM, one time step at a time:

        I_t = sigmoid(X_t W_xi + H_{t-1} W_hi + b_i)      input gate
        F_t = sigmoid(X_t W_xf + H_{t-1} W_hf + b_f)      forget gate
        O_t = sigmoid(X_t W_xo + H_{t-1} W_ho + b_o)      output gate
        C~_t = tanh(X_t W_xc + H_{t-1} W_hc + b_c)        candidate memory cell
        C_t = F_t * C_{t-1} + I_t * C~_t,  H_t = O_t * tanh(C_t)

    It computes what `nn.LSTM(num_inputs, num_hiddens)` computes. torch stacks the weights in
    the order i, f, g, o (g is the candidate cell): `W_xi, W_xf, W_xc, W_xo` are the four row
    blocks of `weight_ih_l0`, transposed, and each bias is torch's `b_i* + b_h*` of that block.
    Initialised like torch: uniform in [-1/sqrt(num_hiddens), 1/sqrt(num_hiddens)].

    Shape:
        inputs: (num_steps, batch, num_inputs); state: a tuple (H, C) of two
        (1, batch, num_hiddens) tensors, or None (zeros). Returns outputs
        (num_steps, batch, num_hiddens), the H of every step, and the final (H, C), like
        `nn.LSTM`'s `(output, (h_n, c_n))`.

    Example:
        >>> lstm = LSTMScratch(num_inputs=5, num_hiddens=8)
        >>> outputs, (H, C) = lstm(torch.randn(3, 2, 5))
        >>> tuple(outputs.shape), tuple(H.shape), tuple(C.shape), bool((outputs[-1] == H[0]).all())
        ((3, 2, 8), (1, 2, 8), (1, 2, 8), True)
    """

    num_states = 2  # H and C

    def __init__(self, num_inputs: int, num_hiddens: int):
        super().__init__(num_inputs, num_hiddens)
        self.W_xi, self.W_hi, self.b_i = _layer(num_inputs, num_hiddens)    # input gate
        self.W_xf, self.W_hf, self.b_f = _layer(num_inputs, num_hiddens)    # forget gate
        self.W_xo, self.W_ho, self.b_o = _layer(num_inputs, num_hiddens)    # output gate
        self.W_xc, self.W_hc, self.b_c = _layer(num_inputs, num_hiddens)    # candidate cell

    def step(self, X: torch.Tensor, H: torch.Tensor, C: torch.Tensor) -> tuple[torch.Tensor, ...]:
        I_t = torch.sigmoid(X @ self.W_xi + H @ self.W_hi + self.b_i)
        F_t = torch.sigmoid(X @ self.W_xf + H @ self.W_hf + self.b_f)
        O_t = torch.sigmoid(X @ self.W_xo + H @ self.W_ho + self.b_o)
        C_tilde = torch.tanh(X @ self.W_xc + H @ self.W_hc + self.b_c)
        C = F_t * C + I_t * C_tilde
        return O_t * torch.tanh(C), C


class RNNLM(nn.Module):
    """A language model: one-hot tokens -> a recurrent layer -> a linear layer to the vocabulary.

    `rnn` is any seq-first recurrent layer called as `rnn(inputs, state) -> (outputs, state)`
    with `input_size == vocab_size`: `RNNScratch`, `nn.RNN`, `nn.GRU`, `nn.LSTM` (whose state is
    an `(h, c)` tuple: the model passes states through untouched) or a bidirectional one.
    `forward` returns the logits only, so `d2lite.fit` can train it with `lm_loss`;
    `forward_with_state` also returns the final state, for generation and truncated BPTT.

    Shape:
        X: (batch, num_steps) token indices -> logits (batch, num_steps, vocab_size).
        state: whatever `rnn` takes and returns, e.g. (num_layers, batch, hidden_size); None
        starts from zeros.

    Example:
        >>> model = RNNLM(nn.LSTM(28, 16), vocab_size=28)
        >>> logits, (h, c) = model.forward_with_state(torch.randint(28, (4, 10)))
        >>> tuple(logits.shape), tuple(h.shape), tuple(model(torch.zeros(1, 3).long()).shape)
        ((4, 10, 28), (1, 4, 16), (1, 3, 28))
    """

    def __init__(self, rnn: nn.Module, vocab_size: int):
        super().__init__()
        if getattr(rnn, "batch_first", False):
            raise ValueError("RNNLM(): got a batch_first=True layer; pass a seq-first one (the "
                             "default), the model transposes the tokens itself")
        if rnn.input_size != vocab_size:
            raise ValueError(f"RNNLM(): the layer takes {rnn.input_size} inputs but vocab_size is "
                             f"{vocab_size}; one-hot inputs need input_size == vocab_size")
        self.rnn, self.vocab_size = rnn, vocab_size
        directions = 2 if getattr(rnn, "bidirectional", False) else 1
        self.output = nn.Linear(directions * rnn.hidden_size, vocab_size)

    def forward_with_state(self, X: torch.Tensor, state=None):
        """Logits (batch, num_steps, vocab_size) and the layer's final state."""
        inputs = F.one_hot(X.T, self.vocab_size).float()  # (num_steps, batch, vocab)
        outputs, state = self.rnn(inputs, state)  # (num_steps, batch, directions * hidden)
        return self.output(outputs).transpose(0, 1), state  # (batch, num_steps, vocab)

    def forward(self, X: torch.Tensor, state=None) -> torch.Tensor:
        return self.forward_with_state(X, state)[0]


@torch.no_grad()
def predict(prefix: str | Sequence[str], num_preds: int, model: RNNLM, vocab, *,
            sample: bool = False, temperature: float = 1.0, seed: int = 0):
    """Continue `prefix` by `num_preds` tokens: greedy (the likeliest next token) or sampled.

    The model reads the prefix to warm up its state, then feeds back each token it emits.
    A str prefix is a sequence of characters and the result is a str; a list of tokens gives a
    list. Sampling draws from softmax(logits / temperature) with a generator seeded by `seed`,
    so the same seed gives the same text.

    Example:
        >>> from d2lite.text import Vocab
        >>> vocab = Vocab(list("abcab"))
        >>> _ = torch.manual_seed(0); model = RNNLM(RNNScratch(len(vocab), 8), len(vocab))
        >>> text = predict("ab", 5, model, vocab, sample=True, seed=1)
        >>> text.startswith("ab"), text == predict("ab", 5, model, vocab, sample=True, seed=1)
        (True, True)
    """
    if len(prefix) == 0:
        raise ValueError("predict(): got an empty prefix; give at least one token to start from")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    tokens = list(prefix)
    ids = torch.tensor([vocab[tokens]], device=device)  # (1, len(prefix))
    logits, state = model.forward_with_state(ids)  # warm-up: read the whole prefix
    for _ in range(num_preds):
        last = logits[0, -1]  # (vocab,): the scores for the next token
        if sample:
            next_id = torch.multinomial(F.softmax(last / temperature, dim=-1), 1,
                                        generator=generator)
        else:
            next_id = last.argmax().reshape(1)
        tokens.append(vocab.to_tokens(int(next_id)))
        logits, state = model.forward_with_state(next_id.reshape(1, 1), state)
    model.train(was_training)
    return "".join(tokens) if isinstance(prefix, str) else tokens
