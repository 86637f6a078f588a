"""Diagrams of recurrent cells and mechanisms (chapter 5): latent autoregressive models, an RNN
unrolled in time and its gradient paths, the GRU and LSTM cells in the manner of Chris Olah's
pictures (learned layers as boxes, element-wise operations as circles, the state lines running
left to right), and skip-gram with negative sampling."""
from __future__ import annotations

from .canvas import ACCENT, INK, KINDS, MUTED, Box, Diagram

__all__ = ["autoregressive_models", "rnn_unrolled", "bptt", "gru_cell", "lstm_cell",
           "skipgram_negative_sampling"]


def _background(d: Diagram, x0: float, y0: float, x1: float, y1: float,
                kind: str = "recurrent") -> None:
    """A cell drawn as a pale rounded panel under everything else (arrows included)."""
    from matplotlib.patches import FancyBboxPatch

    fill, edge = KINDS[kind]
    d.ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0,
                                  boxstyle="round,pad=0,rounding_size=0.15", facecolor=fill,
                                  edgecolor=edge, lw=1.2, zorder=0))


def _dot(d: Diagram, x: float, y: float) -> None:
    """A junction: where a line splits in two."""
    from matplotlib.patches import Circle

    d.ax.add_patch(Circle((x, y), 0.035, facecolor=INK, edgecolor=INK, zorder=1.5))


def _line(d: Diagram, *points, colour: str = INK) -> None:
    """A line through `points` without an arrow head."""
    d.arrow(points[0], points[-1], via=points[1:-1], head=False, colour=colour)


def _gradient(d: Diagram, start: Box, end: Box, dx: float = 0.0, dy: float = 0.0) -> None:
    """A gradient arrow from `start` to `end` (ACCENT), shifted by (dx, dy) so that it runs
    beside the forward arrow between the same boxes."""
    d.arrow(Box(start.x + dx, start.y + dy, start.w, start.h),
            Box(end.x + dx, end.y + dy, end.w, end.h), colour=ACCENT)


def autoregressive_models():
    """Two ways to predict $x_t$ from the past: a Markov model of order τ reads the last τ
    observations directly; a latent autoregressive model reads only its state $h_t$, updated
    from $h_{t-1}$ and $x_{t-1}$ by the same rule at every step.

    Example:
        >>> fig = autoregressive_models()
        >>> from d2lite.diagrams import texts
        >>> "$h_{t}$" in texts(fig) and "$x_{t-\\\\tau}$" in texts(fig)
        True
        >>> [t for t in texts(fig) if "model" in t]
        ['Markov model', 'latent autoregressive model']
    """
    d = Diagram(4.9, 2.15)
    y_in, y_h, y_out = 0.3, 1.0, 1.62
    # left: the last tau observations straight into the prediction
    d.label(1.15, 2.0, "Markov model", size="label")
    hat = d.block(1.15, y_out, r"$\hat{x}_t$", "output", w=0.55, h=0.32)
    for x, text in ((0.3, r"$x_{t-\tau}$"), (0.85, r"$\cdots$"), (1.4, r"$x_{t-2}$"),
                    (2.0, r"$x_{t-1}$")):
        if text == r"$\cdots$":
            d.label(x, y_in, text, size="label")
            continue
        d.arrow(d.tensor(x, y_in, text, w=0.5), hat)
    # right: a latent state carries the past, updated by g from h_{t-1} and x_{t-1}
    d.label(3.75, 2.0, "latent autoregressive model", size="label")
    d.label(2.75, y_h, r"$\cdots$", size="label")
    before = Box(2.95, y_h, 0, 0)
    for x, sub, prev in ((3.45, "t-1", "t-2"), (4.45, "t", "t-1")):
        h = d.block(x, y_h, f"$h_{{{sub}}}$", "recurrent", w=0.6, h=0.34)
        d.arrow(before, h)
        d.label((before.right[0] + h.left[0]) / 2, y_h + 0.12, "$g$", size="small", colour=MUTED)
        d.arrow(d.tensor(x, y_in, f"$x_{{{prev}}}$", w=0.5), h)
        d.arrow(h, d.block(x, y_out, f"$\\hat{{x}}_{{{sub}}}$", "output", w=0.55, h=0.32))
        before = h
    return d.figure


def _unrolled(d: Diagram, xs: list[float], y: dict, case: str) -> dict:
    """The unrolled recurrence of `rnn_unrolled` and `bptt`: inputs, states and outputs (and
    losses) at `xs`, rows at heights `y`; returns the boxes by (row, step)."""
    x_, h_, o_ = (("X", "H", "O") if case == "upper" else ("x", "h", "o"))
    bold = {name: f"\\mathbf{{{name}}}" for name in (x_, h_, o_)}
    boxes: dict = {}
    for t, x in enumerate(xs, start=1):
        boxes["x", t] = d.tensor(x, y["x"], f"${bold[x_]}_{t}$", w=0.44)
        boxes["h", t] = d.block(x, y["h"], f"${bold[h_]}_{t}$", "recurrent", w=0.62, h=0.36)
        boxes["o", t] = d.tensor(x, y["o"], f"${bold[o_]}_{t}$", w=0.44)
        d.arrow(boxes["x", t], boxes["h", t])
        d.arrow(boxes["h", t], boxes["o", t])
        d.label(x - 0.07, (y["x"] + y["h"]) / 2, r"$\mathbf{W}_{xh}$", size="tiny",
                colour=MUTED, ha="right")
        d.label(x - 0.07, (y["h"] + y["o"]) / 2, r"$\mathbf{W}_{hq}$", size="tiny",
                colour=MUTED, ha="right")
        if t > 1:
            d.arrow(boxes["h", t - 1], boxes["h", t])
            d.label((xs[t - 2] + x) / 2, y["h"] + 0.12, r"$\mathbf{W}_{hh}$", size="tiny",
                    colour=MUTED)
    return boxes


def rnn_unrolled(steps: int = 3):
    """An RNN unrolled over `steps` time steps: each hidden state $\\mathbf{H}_t$ reads the
    input $\\mathbf{X}_t$ and the state before it, and feeds the output $\\mathbf{O}_t$; the
    same three weight matrices at every step.

    Example:
        >>> fig = rnn_unrolled(3)
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if "H" in t]
        ['$\\\\mathbf{H}_0$', '$\\\\mathbf{H}_1$', '$\\\\mathbf{H}_2$', '$\\\\mathbf{H}_3$']
    """
    if not 1 <= steps <= 4:
        raise ValueError(f"rnn_unrolled(): got steps={steps}; expected 1 to 4 (the figure "
                         "must fit 5 inches)")
    gap = 1.1
    width = 1.3 + gap * steps
    d = Diagram(width, 1.75)
    y = {"x": 0.25, "h": 0.85, "o": 1.45}
    h0 = d.tensor(0.4, y["h"], r"$\mathbf{H}_0$", w=0.5)
    xs = [0.4 + gap * t for t in range(1, steps + 1)]
    boxes = _unrolled(d, xs, y, "upper")
    d.arrow(h0, boxes["h", 1])
    d.arrow(boxes["h", steps], (width - 0.05, y["h"]))
    d.label(width - 0.15, y["h"] + 0.14, "...", size="small", colour=MUTED)
    return d.figure


def bptt(steps: int = 3):
    """Backpropagation through time on an RNN unrolled over `steps` steps: the forward pass in
    black, the gradient's paths in red, from the loss $L$ down through every output, back
    through the hidden states, and down to the shared weights, which add up a contribution
    from every step. Each step has its own loss $\\ell_t$; $L$ is their mean.

    Example:
        >>> fig = bptt(3)
        >>> from d2lite.diagrams import texts
        >>> "$\\\\ell_3$" in texts(fig) and r"$\\mathbf{h}_3$" in texts(fig)
        True
    """
    if not 2 <= steps <= 4:
        raise ValueError(f"bptt(): got steps={steps}; expected 2 to 4 (the figure must fit "
                         "5 inches)")
    gap = 1.3
    xs = [0.65 + gap * t for t in range(steps)]
    width = xs[-1] + 0.75
    d = Diagram(width, 2.85)
    y = {"w": 0.22, "x": 0.8, "h": 1.4, "o": 2.0, "L": 2.55}
    boxes = _unrolled(d, xs, y, "lower")
    weights = d.block((xs[0] + xs[-1]) / 2 + 0.1, y["w"], r"$\mathbf{W}_{xh},\ \mathbf{W}_{hh}$",
                      "dense", w=xs[-1] - xs[0] + 0.8, h=0.3, size="small")
    for t, x in enumerate(xs, start=1):
        o, h = boxes["o", t], boxes["h", t]
        loss = d.block(x, y["L"], f"$\\ell_{t}$", "output", w=0.5, h=0.3)
        d.arrow(o, loss)
        _gradient(d, loss, o, dx=0.13)
        _gradient(d, o, h, dx=0.13)
        if t > 1:
            _gradient(d, h, boxes["h", t - 1], dy=-0.1)
        # down to the shared weights, beside the input
        d.arrow((x + 0.27, h.bottom[1]), (x + 0.27, weights.top[1]), colour=ACCENT)
    return d.figure


def _gate(d: Diagram, x: float, y: float, symbol: str, name: str) -> Box:
    """A learned layer of a cell (a dense layer and its activation), named beneath."""
    box = d.block(x, y, symbol, "dense", w=0.46, h=0.32, size="small")
    d.label(x + 0.05, y - 0.3, name, size="tiny", colour=MUTED, ha="left")
    return box


def _hop(patch, background: str, width: float = 6) -> None:
    """Let a line cross another with a gap: a halo of the background colour around it."""
    from matplotlib import patheffects

    patch.set_path_effects([patheffects.withStroke(linewidth=width, foreground=background)])
    patch.set_zorder(1.2)


def _state_ends(d: Diagram, y: float, x0: float, x1: float, before: str, after: str) -> None:
    """The names of a state line where it enters the cell (left) and leaves it (right)."""
    d.label(x0, y + 0.15, before, size="small", ha="left")
    d.label(x1, y + 0.15, after, size="small", ha="right")


def gru_cell():
    """The GRU cell: the reset gate $\\mathbf{R}_t$ and the update gate $\\mathbf{Z}_t$ (σ
    layers), the candidate state $\\tilde{\\mathbf{H}}_t$ (a tanh layer that sees the old state
    through the reset gate), and the update
    $\\mathbf{H}_t = \\mathbf{Z}_t \\odot \\mathbf{H}_{t-1} + (1 - \\mathbf{Z}_t) \\odot
    \\tilde{\\mathbf{H}}_t$ on the state line along the top.

    Example:
        >>> fig = gru_cell()
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if t in ("reset", "update", "candidate")]
        ['update', 'reset', 'candidate']
    """
    d = Diagram(4.7, 3.2)
    top, mid, boxes, low = 2.75, 2.05, 1.35, 0.68
    _background(d, 0.5, 0.3, 4.3, 3.05)
    # the state line: H_{t-1} -> (Z ⊙) -> (+) -> H_t
    zx, cx, rx, hx = 1.3, 3.6, 2.25, 2.95
    keep = d.op(zx, top, "⊙")
    add = d.op(cx, top, "+")
    left = 0.85
    _line(d, (0.05, top), (left, top))
    _dot(d, left, top)
    d.arrow((left, top), keep)
    d.arrow(keep, add)
    d.arrow(add, (4.65, top))
    _state_ends(d, top, 0.05, 4.65, r"$\mathbf{H}_{t-1}$", r"$\mathbf{H}_t$")
    # the old state and the input feed the gates
    _line(d, (left, top), (left, low), (1.1, low))
    _dot(d, 1.1, low)
    z = _gate(d, zx, boxes, "σ", "update")
    r = _gate(d, rx, boxes, "σ", "reset")
    h_tilde = _gate(d, cx, boxes, "tanh", "candidate")
    _line(d, (1.1, low), (rx, low))
    _dot(d, zx, low)
    d.arrow((zx, low), z)
    d.arrow((rx, low), r)
    # the input: up at the candidate, and along the bottom to the gates
    d.arrow((cx, 0.05), h_tilde)
    _dot(d, cx, 0.45)
    _line(d, (cx, 0.45), (1.1, 0.45), (1.1, low))
    d.label(cx + 0.08, 0.12, r"$\mathbf{X}_t$", size="small", ha="left")
    # the update gate: Z ⊙ H_{t-1} on the line, (1 - Z) ⊙ candidate added
    d.arrow(z, keep, r"$\mathbf{Z}_t$", text_side="left")
    _dot(d, zx, mid)
    one_minus = d.op(2.45, mid, "1−")
    d.arrow((zx, mid), one_minus)
    write = d.op(cx, mid, "⊙")
    d.arrow(one_minus, write)
    d.arrow(h_tilde, write, r"$\tilde{\mathbf{H}}_t$")
    d.arrow(write, add)
    # the reset gate scales the old state on its way into the candidate; that line jumps
    # over the update gate's
    reset = d.op(hx, boxes, "⊙")
    d.arrow(r, reset)
    d.label((r.right[0] + reset.x - 0.15) / 2, boxes + 0.14, r"$\mathbf{R}_t$", size="tiny",
            colour=MUTED)
    y_r = 1.8
    _hop(d.arrow((left, y_r), reset, via=[(hx, y_r)]), KINDS["recurrent"][0])
    _dot(d, left, y_r)
    d.arrow(reset, h_tilde)
    return d.figure


def lstm_cell():
    """The LSTM cell: the memory cell $\\mathbf{C}_{t-1} \\to \\mathbf{C}_t$ runs along the
    top, touched only by the forget gate's ⊙ and the input gate's +; below, the forget, input
    and output gates (σ layers) and the candidate cell (a tanh layer) read $\\mathbf{H}_{t-1}$
    and $\\mathbf{X}_t$; the output gate lets $\\tanh(\\mathbf{C}_t)$ out as $\\mathbf{H}_t$.

    Example:
        >>> fig = lstm_cell()
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if t in ("forget", "input", "output", "candidate")]
        ['forget', 'input', 'candidate', 'output']
    """
    d = Diagram(4.9, 3.2)
    top, mid, boxes, low = 2.75, 2.05, 1.35, 0.68
    _background(d, 0.5, 0.3, 4.45, 3.05)
    fx, ix, cx, ox, tx = 1.2, 1.95, 2.7, 3.45, 4.0
    # the memory cell line: C_{t-1} -> (F ⊙) -> (+) -> C_t
    forget = d.op(fx, top, "⊙")
    add = d.op(cx, top, "+")
    d.arrow((0.05, top), forget)
    d.arrow(forget, add)
    d.arrow(add, (4.85, top))
    _dot(d, tx, top)
    _state_ends(d, top, 0.05, 4.85, r"$\mathbf{C}_{t-1}$", r"$\mathbf{C}_t$")
    # H_{t-1} and X_t feed the four layers
    _line(d, (0.05, low), (ox, low))
    _state_ends(d, low, 0.05, 4.85, r"$\mathbf{H}_{t-1}$", r"$\mathbf{H}_t$")
    d.arrow((0.9, 0.05), (0.9, low), head=False)
    _dot(d, 0.9, low)
    d.label(0.98, 0.12, r"$\mathbf{X}_t$", size="small", ha="left")
    layers = [_gate(d, x, boxes, symbol, name) for x, symbol, name in
              ((fx, "σ", "forget"), (ix, "σ", "input"), (cx, "tanh", "candidate"),
               (ox, "σ", "output"))]
    for layer in layers:
        if layer.x != ox:
            _dot(d, layer.x, low)
        d.arrow((layer.x, low), layer)
    f, i, c, o = layers
    # forget: F ⊙ C_{t-1}; input: I ⊙ candidate, added to the cell
    d.arrow(f, forget, r"$\mathbf{F}_t$", text_side="left")
    write = d.op(cx, mid, "⊙")
    d.arrow(i, write, via=[(ix, mid)])
    d.label(ix - 0.07, (boxes + mid) / 2 + 0.05, r"$\mathbf{I}_t$", size="tiny", colour=MUTED,
            ha="right")
    d.arrow(c, write, r"$\tilde{\mathbf{C}}_t$")
    d.arrow(write, add)
    # output: H_t = O ⊙ tanh(C_t), out along the bottom
    squash = d.op(tx, 2.3, "tanh", "activation", r=0.17)
    d.arrow((tx, top), squash)
    read = d.op(tx, 1.72, "⊙")
    d.arrow(squash, read)
    d.arrow(o, read, via=[(ox, read.y)])
    d.label((ox + tx - 0.15) / 2, read.y + 0.13, r"$\mathbf{O}_t$", size="tiny", colour=MUTED)
    d.arrow(read, (4.85, low), via=[(tx, low)])
    return d.figure


def skipgram_negative_sampling():
    """Skip-gram with negative sampling: the center word's vector $\\mathbf{v}_c$ is scored by
    a dot product against the vectors $\\mathbf{u}$ of the true context word $w_o$ and of $K$
    noise words; a sigmoid turns each score into the probability that the pair really
    occurred, trained towards label 1 for the context word and 0 for every noise word.

    Example:
        >>> fig = skipgram_negative_sampling()
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if t in ("1", "0")]
        ['1', '0', '0']
        >>> "K noise words" in texts(fig)
        True
    """
    d = Diagram(4.7, 3.55)
    y_word, y_table, y_vec, y_dot, y_sig, y_label = 0.5, 1.05, 1.6, 2.17, 2.72, 3.27
    cols = [(1.75, "o", "1"), (2.75, "1", "0"), (3.45, "", ""), (4.15, "K", "0")]
    # the center word and its vector
    wc = d.tensor(0.6, y_word, "$w_c$", w=0.5)
    center = d.block(0.6, y_table, "center " + r"$\mathbf{V}$", "embedding", w=0.95, h=0.34,
                     size="small")
    vc = d.tensor(0.6, y_vec, r"$\mathbf{v}_c$", w=0.5)
    d.arrow(wc, center)
    d.arrow(center, vc)
    d.label(0.6, 0.2, "center word", size="tiny", colour=MUTED)
    # the context word and K noise words share one table
    context = d.block(2.95, y_table, "context " + r"$\mathbf{U}$", "embedding", w=2.9, h=0.34,
                      size="small")
    dots = d.block(2.95, y_dot, r"dot product $\mathbf{u}^\top \mathbf{v}_c$", "plain",
                   w=2.9, h=0.34, size="small")
    d.arrow(vc, dots, via=[(0.6, y_dot)])
    for x, k, label in cols:
        if not k:
            for y in (y_word, y_vec, y_sig, y_label):
                d.label(x, y, r"$\cdots$", size="label")
            continue
        word = d.tensor(x, y_word, f"$w_{k}$", w=0.46)
        vec = d.tensor(x, y_vec, f"$\\mathbf{{u}}_{k}$", w=0.46)
        d.arrow(word, (x, context.bottom[1]))
        d.arrow((x, context.top[1]), vec)
        d.arrow(vec, (x, dots.bottom[1]))
        sig = d.op(x, y_sig, "σ", "activation")
        d.arrow((x, dots.top[1]), sig)
        target = d.block(x, y_label, label, "output", w=0.36, h=0.3, size="small")
        d.arrow(sig, target, dashed=True, head=False)
    d.label(1.75, 0.2, "context word", size="tiny", colour=MUTED)
    d.label(3.45, 0.2, "K noise words", size="tiny", colour=MUTED)
    d.label(0.6, y_label, "labels", size="small", colour=MUTED)
    return d.figure
