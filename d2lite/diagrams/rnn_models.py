"""Diagrams of whole recurrent models (chapter 5): a deep RNN and a bidirectional RNN unrolled in
time, the sentiment classifier and the encoder-decoder drawn from the lesson's model with the
shapes of a forward pass, and the decoder's inputs in training (teacher forcing) and in use
(greedy decoding)."""
from __future__ import annotations

from collections.abc import Sequence

from .canvas import ACCENT, INK, MUTED, Diagram
from .network import describe, shape_text
from .rnn import _dot, _hop

__all__ = ["deep_rnn", "bidirectional_rnn", "sentiment_model", "seq2seq_model",
           "teacher_forcing", "greedy_decoding"]


def deep_rnn(num_layers: int = 3, num_steps: int = 4):
    """A deep RNN unrolled in time: `num_layers` recurrent layers stacked over `num_steps`
    steps. Layer $l$ reads the state of layer $l-1$ at the same step (up) and its own state at
    the step before (right); only the top layer feeds the outputs.

    Example:
        >>> fig = deep_rnn(3, 4)
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if t.startswith("$\\\\mathbf{H}_1")]
        ['$\\\\mathbf{H}_1^{(1)}$', '$\\\\mathbf{H}_1^{(2)}$', '$\\\\mathbf{H}_1^{(3)}$']
    """
    if not (1 <= num_layers <= 4 and 1 <= num_steps <= 4):
        raise ValueError(f"deep_rnn(): got num_layers={num_layers}, num_steps={num_steps}; "
                         "expected 1 to 4 of each (the figure must fit 5 inches)")
    gap, rise = 1.05, 0.62
    xs = [0.9 + gap * t for t in range(num_steps)]
    d = Diagram(xs[-1] + 0.8, 0.6 + rise * (num_layers + 1) + 0.05)
    below = [d.tensor(x, 0.3, f"$\\mathbf{{X}}_{t}$", w=0.5) for t, x in enumerate(xs, 1)]
    for layer in range(1, num_layers + 1):
        y = 0.3 + rise * layer
        d.label(0.05, y, f"layer {layer}", size="tiny", colour=MUTED, ha="left")
        row = [d.block(x, y, f"$\\mathbf{{H}}_{t}^{{({layer})}}$", "recurrent", w=0.66, h=0.36)
               for t, x in enumerate(xs, 1)]
        for t, box in enumerate(row):
            d.arrow(below[t], box)
            if t:
                d.arrow(row[t - 1], box)
        d.arrow(row[-1], (row[-1].right[0] + 0.35, y))
        below = row
    y = 0.3 + rise * (num_layers + 1)
    for t, (x, box) in enumerate(zip(xs, below, strict=True), 1):
        d.arrow(box, d.tensor(x, y, f"$\\mathbf{{O}}_{t}$", w=0.5))
    return d.figure


def bidirectional_rnn(num_steps: int = 3):
    """A bidirectional RNN unrolled over `num_steps` steps: the forward states
    $\\overrightarrow{\\mathbf{H}}_t$ run left to right, the backward states
    $\\overleftarrow{\\mathbf{H}}_t$ right to left, both read $\\mathbf{X}_t$, and the output
    $\\mathbf{O}_t$ reads both. Lines that cross jump over each other.

    Example:
        >>> fig = bidirectional_rnn(3)
        >>> from d2lite.diagrams import texts
        >>> sum("overleftarrow" in t for t in texts(fig)), sum("O}_" in t for t in texts(fig))
        (3, 3)
    """
    if not 2 <= num_steps <= 4:
        raise ValueError(f"bidirectional_rnn(): got num_steps={num_steps}; expected 2 to 4 "
                         "(the figure must fit 5 inches)")
    gap = 1.3
    xs = [0.85 + gap * t for t in range(num_steps)]
    d = Diagram(xs[-1] + 0.95, 2.75)
    y_x, y_f, y_b, y_o = 0.3, 0.95, 1.7, 2.42
    white = "white"
    fwd, bwd = [], []
    for t, x in enumerate(xs, 1):
        inp = d.tensor(x, y_x, f"$\\mathbf{{X}}_{t}$", w=0.46)
        f = d.block(x - 0.28, y_f, f"$\\overrightarrow{{\\mathbf{{H}}}}_{t}$", "recurrent",
                    w=0.6, h=0.38)
        b = d.block(x + 0.28, y_b, f"$\\overleftarrow{{\\mathbf{{H}}}}_{t}$", "recurrent",
                    w=0.6, h=0.38)
        out = d.tensor(x, y_o, f"$\\mathbf{{O}}_{t}$", w=0.46)
        d.arrow(inp, f)
        d.arrow(b, out)
        fwd.append(f)
        bwd.append(b)
        # X_t to the backward state and the forward state to O_t: each jumps over the other
        # direction's state arrow
        _hop(d.arrow(inp, b), white)
        _hop(d.arrow(f, out), white)
    for t in range(1, num_steps):
        d.arrow(fwd[t - 1], fwd[t])
        d.arrow(bwd[t], bwd[t - 1])
    d.arrow((0.05, y_f), fwd[0])
    d.arrow(bwd[0], (0.05, y_b))
    d.arrow(fwd[-1], (xs[-1] + 0.9, y_f))
    d.arrow((xs[-1] + 0.9, y_b), bwd[-1])
    return d.figure


def _seq_shape(shape: Sequence[int]) -> str:
    """A shape as the sequence lessons write it: (batch, steps, 64); others as shape_text."""
    if len(shape) == 3:
        return f"(batch, steps, {shape[2]})"
    return shape_text(shape)


def _record(modules: dict, run) -> list:
    """Run `run()` in eval mode without gradients, with forward hooks on `modules`
    ({name: module}); return the calls in order as (name, input shape, output shape). A
    recurrent layer's output is its first tensor, a packed sequence its padded data."""
    import torch

    calls, handles = [], []

    def first(x):
        while isinstance(x, (tuple, list)):
            x = x[0]
        return x

    def hook(name):
        def record(module, inputs, output):
            out = first(output)
            out = getattr(out, "data", out) if type(out).__name__ == "PackedSequence" else out
            state = first(output[1]) if isinstance(output, tuple) else None
            calls.append((name, tuple(first(inputs).shape), tuple(out.shape),
                          None if state is None else tuple(state.shape)))
        return record

    for name, module in modules.items():
        handles.append(module.register_forward_hook(hook(name)))
    nets = {id(m): m for m in modules.values()}
    was = {key: m.training for key, m in nets.items()}
    try:
        for m in nets.values():
            m.eval()
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
        for key, m in nets.items():
            m.train(was[key])
    return calls


def _recurrent_label(layer) -> str:
    text, _ = describe(layer)
    if getattr(layer, "bidirectional", False):
        text = "bidirectional " + text
    if getattr(layer, "num_layers", 1) > 1:
        text += f", {layer.num_layers} layers"
    return text



def _find(net, kinds: tuple[str, ...]):
    """The first submodule of `net` whose class name is one of `kinds`, or None."""
    return next((m for m in net.modules() if type(m).__name__ in kinds), None)


def _shape_label(d: Diagram, x: float, y: float, shape) -> None:
    d.label(x + 0.06, y, _seq_shape(shape), size="tiny", colour=MUTED, ha="left")


def sentiment_model(net, X, pooling: Sequence[str] = ("max", "mean")):
    """Draw a sentiment classifier like the lesson's `SentimentGRU` (an embedding, a
    recurrent layer, pooling over the words, a dense layer), with the shape of every tensor
    from a forward pass of `net` on the word indices `X` (batch, steps), in eval mode without
    gradients. `pooling` names the poolings whose outputs are concatenated before the dense
    layer (the dense layer's input must have one recurrent output's width per pooling).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.embedding = nn.Embedding(10, 8)
        ...         self.gru = nn.GRU(8, 4, batch_first=True, bidirectional=True)
        ...         self.output = nn.Linear(16, 2)
        ...     def forward(self, X):
        ...         outputs, _ = self.gru(self.embedding(X))
        ...         return self.output(torch.cat([outputs.max(1).values, outputs.mean(1)], 1))
        >>> fig = sentiment_model(Net(), torch.zeros(3, 5, dtype=torch.long))
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if t.startswith("(batch")]
        ['(batch, steps)', '(batch, steps, 8)', '(batch, steps, 8)', '(batch, 8)', '(batch, 8)', \
'(batch, 16)', '(batch, 2)']
    """
    embedding = _find(net, ("Embedding",))
    rnn = _find(net, ("RNN", "GRU", "LSTM"))
    dense = [m for m in net.modules() if type(m).__name__ == "Linear"]
    if embedding is None or rnn is None or not dense:
        raise ValueError(f"sentiment_model(): got a {type(net).__name__} without an "
                         "nn.Embedding, a recurrent layer or an nn.Linear; expected all three")
    modules = {"embedding": embedding, "rnn": rnn, "dense": dense[-1]}
    modules.update({f"dropout{k}": m for k, m in enumerate(net.modules())
                    if type(m).__name__ == "Dropout"})
    calls = _record(modules, lambda: net(X))
    shapes = {name: (inp, out) for name, inp, out, _ in calls if not name.startswith("drop")}
    width = shapes["rnn"][1][-1]
    if shapes["dense"][0][-1] != width * len(pooling):
        raise ValueError(f"sentiment_model(): got a dense layer of {shapes['dense'][0][-1]} "
                         f"inputs after a recurrent layer of {width} outputs; expected "
                         f"{width} per pooling in pooling={tuple(pooling)}")
    text = {"embedding": describe(embedding)[0], "rnn": _recurrent_label(rnn),
            "dense": describe(dense[-1])[0]}
    for name, inp, _, _ in calls:       # dropout joins the layer whose output it takes
        if name.startswith("drop"):
            where = "embedding" if inp == shapes["embedding"][1] else "dense"
            drop = describe(modules[name])[0]
            text[where] = (f"{text[where]} · {drop}" if where == "embedding"
                           else f"{drop} · {text[where]}")
    d = Diagram(4.0, 4.05)
    x, step = 2.0, 0.6
    y = [0.25 + step * k for k in range(8)]
    bottom = d.tensor(x, y[0], _seq_shape(tuple(X.shape)).replace(f", {X.shape[1]})",
                                                                  ", steps)"))
    emb = d.block(x, y[1], text["embedding"], "embedding", w=3.0, h=0.3, size="small")
    rec = d.block(x, y[2], text["rnn"], "recurrent", w=3.0, h=0.3, size="small")
    d.arrow(bottom, emb)
    d.arrow(emb, rec)
    _shape_label(d, x, (y[1] + y[2]) / 2, shapes["embedding"][1])
    # the recurrent outputs go to every pooling, whose outputs are concatenated
    fork, join = y[2] + 0.42, y[4] - 0.05
    _shape_label(d, x, (rec.top[1] + fork) / 2, shapes["rnn"][1])
    spread = 1.6 / max(len(pooling) - 1, 1)
    xs = [x - 0.8 + spread * k for k in range(len(pooling))] if len(pooling) > 1 else [x]
    d.arrow(rec, (x, fork), head=False)
    _dot(d, x, fork)
    cat = d.op(x, join, "[ ]") if len(pooling) > 1 else None
    for k, (px, name) in enumerate(zip(xs, pooling, strict=True)):
        pool = d.block(px, y[3] + 0.2, f"{name} over words", "pooling", w=1.4, h=0.3,
                       size="small")
        d.arrow((x, fork), pool, via=[(px, fork)])
        if cat is not None:
            d.arrow(pool, cat, via=[(px, join)])
            d.label(px + (0.06 if k else -0.06), join + 0.12, _seq_shape((1, width)),
                    size="tiny", colour=MUTED, ha="left" if k else "right")
    top = d.block(x, y[5], text["dense"], "dense", w=3.0, h=0.3, size="small")
    d.arrow(cat or pool, top)
    _shape_label(d, x, (join + top.y) / 2, shapes["dense"][0])
    d.arrow(top, d.tensor(x, y[6] - 0.05, _seq_shape(shapes["dense"][1])))
    return d.figure


def seq2seq_model(net, X, valid_lens, Y):
    """Draw an encoder-decoder like the lesson's (an embedding and a GRU in each half, the
    encoder's final state starting the decoder, its top layer's final state, the context
    $\\mathbf{c}$, concatenated to every decoder input, a dense layer to the target
    vocabulary), with the shape of every tensor from a forward pass `net(X, Y, valid_lens)` in
    eval mode without gradients.

    Example:
        >>> import torch
        >>> from d2lite.models import EncoderDecoder, Seq2SeqDecoder, Seq2SeqEncoder
        >>> net = EncoderDecoder(Seq2SeqEncoder(10, 8, 16, 2), Seq2SeqDecoder(12, 8, 16, 2))
        >>> X, Y = torch.ones(4, 7, dtype=torch.long), torch.ones(4, 5, dtype=torch.long)
        >>> fig = seq2seq_model(net, X, torch.tensor([7, 3, 1, 5]), Y)
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if "state" in t or "mathbf{c}" in t]
        ['state (2, batch, 16)', '$\\\\mathbf{c}$ (batch, 16)', 'initial state']
        >>> sorted(t for t in texts(fig) if t.startswith("(batch, steps,"))
        ['(batch, steps, 12)', '(batch, steps, 16)', '(batch, steps, 24)', '(batch, steps, 8)', \
'(batch, steps, 8)']
    """
    names = {"enc_embedding": ("encoder", "embedding"), "enc_rnn": ("encoder", "rnn"),
             "dec_embedding": ("decoder", "embedding"), "dec_rnn": ("decoder", "rnn"),
             "dense": ("decoder", "dense")}
    modules = {key: getattr(getattr(net, part, None), attr, None)
               for key, (part, attr) in names.items()}
    if any(m is None for m in modules.values()):
        raise ValueError(f"seq2seq_model(): got a {type(net).__name__} without "
                         "encoder.embedding, encoder.rnn, decoder.embedding, decoder.rnn or "
                         "decoder.dense; expected the lesson's encoder-decoder")
    calls = {name: (inp, out, state)
             for name, inp, out, state in _record(modules, lambda: net(X, Y, valid_lens))}
    state = calls["enc_rnn"][2]                           # (layers, batch, hiddens)
    d = Diagram(4.9, 4.05)
    ex, dx, w = 0.95, 3.7, 1.55
    ys = [0.3, 0.9, 1.55, 2.2, 2.85, 3.45]
    d.label(ex, 2.75, "encoder", size="label")
    d.label(dx, 3.85, "decoder", size="label")
    # encoder: tokens -> embedding -> GRU -> final state
    src = d.tensor(ex, ys[0], "source (batch, steps)")
    e_emb = d.block(ex, ys[1], describe(modules["enc_embedding"])[0], "embedding", w=w, h=0.3,
                    size="small")
    e_rnn = d.block(ex, ys[2], _recurrent_label(modules["enc_rnn"]), "recurrent", w=w, h=0.3,
                    size="small")
    final = d.tensor(ex, ys[3], f"state ({state[0]}, batch, {state[2]})")
    d.arrow(src, e_emb)
    d.arrow(e_emb, e_rnn)
    d.arrow(e_rnn, final)
    _shape_label(d, ex, (ys[1] + ys[2]) / 2, calls["enc_embedding"][1])
    # decoder: tokens -> embedding -> [ , c] -> GRU (started from the state) -> dense
    tgt = d.tensor(dx, ys[0], "target (batch, steps)")
    d_emb = d.block(dx, ys[1], describe(modules["dec_embedding"])[0], "embedding", w=w, h=0.3,
                    size="small")
    cat = d.op(dx, ys[2], "[ ]")
    d_rnn = d.block(dx, ys[3], _recurrent_label(modules["dec_rnn"]), "recurrent", w=w,
                    h=0.3, size="small")
    dense = d.block(dx, ys[4], describe(modules["dense"])[0], "dense", w=w, h=0.3,
                    size="small")
    logits = d.tensor(dx, ys[5], _seq_shape(calls["dense"][1]))
    for a, b in ((tgt, d_emb), (d_emb, cat), (cat, d_rnn), (d_rnn, dense), (dense, logits)):
        d.arrow(a, b)
    _shape_label(d, dx, (ys[1] + ys[2]) / 2, calls["dec_embedding"][1])
    _shape_label(d, dx, (ys[2] + ys[3]) / 2, calls["dec_rnn"][0])
    _shape_label(d, dx, (ys[3] + ys[4]) / 2, calls["dec_rnn"][1])
    # the two links: the context at every step, the final state as the first state
    context = d.tensor((ex + w / 2 + dx) / 2, ys[2], f"$\\mathbf{{c}}$ (batch, {state[2]})",
                       w=1.05)
    d.arrow(e_rnn, context)
    d.arrow(context, cat)
    d.arrow(final, d_rnn)
    d.label((final.right[0] + d_rnn.left[0]) / 2, ys[3] + 0.12, "initial state", size="tiny",
            colour=MUTED)
    return d.figure


def _seq2seq_unrolled(source: Sequence[str], outputs: Sequence[str], greedy: bool, who: str):
    """The encoder and decoder unrolled in time: the source tokens in, the context fed to
    every decoder step, the decoder's inputs `<bos>` and then either the target (teacher
    forcing) or its own previous outputs (greedy decoding, drawn as red arrows)."""
    source, outputs = list(source), list(outputs)
    if not (1 <= len(source) <= 4 and 1 <= len(outputs) <= 4):
        raise ValueError(f"{who}(): got {len(source)} source and {len(outputs)} target tokens; "
                         "expected 1 to 4 of each, without <eos> (the figure must fit 5 "
                         "inches)")
    source, outputs = source + ["<eos>"], outputs + ["<eos>"]
    inputs = ["<bos>"] + outputs[:-1]
    gap, cell = 0.7, 0.36
    xe = [0.3 + 0.45 * k for k in range(len(source))]
    xd = [xe[-1] + 0.8 + gap * k for k in range(len(outputs))]
    d = Diagram(xd[-1] + 0.35, 2.45)
    y_tok, y_c, y_cell, y_out = 0.22, 0.72, 1.2, 1.85
    d.label((xe[0] + xe[-1]) / 2, 2.27, "encoder", size="label")
    d.label((xd[0] + xd[-1]) / 2, 2.27, "decoder", size="label")
    enc = [d.block(x, y_cell, "", "recurrent", w=cell, h=0.36) for x in xe]
    for x, word, box in zip(xe, source, enc, strict=True):
        d.label(x, y_tok, word, size="small")
        d.arrow((x, y_tok + 0.12), box)
    dec = [d.block(x, y_cell, "", "recurrent", w=cell, h=0.36) for x in xd]
    for boxes in (enc, dec):
        for a, b in zip(boxes[:-1], boxes[1:], strict=True):
            d.arrow(a, b)
    # the final encoder state starts the decoder and is its context at every step
    mid = (xe[-1] + xd[0]) / 2
    d.arrow(enc[-1], dec[0])
    _dot(d, mid, y_cell)
    d.arrow((mid, y_cell), (xd[-1] + 0.1, y_c), via=[(mid, y_c)], head=False)
    d.label(mid - 0.06, (y_c + y_cell) / 2, r"$\mathbf{c}$", size="small", ha="right")
    for k, (x, box) in enumerate(zip(xd, dec, strict=True)):
        _dot(d, x + 0.1, y_c)
        d.arrow((x + 0.1, y_c), (x + 0.1, box.bottom[1]))
        colour = ACCENT if greedy and k else INK
        d.label(x, y_tok, inputs[k], size="small", colour=colour)
        _hop(d.arrow((x - 0.08, y_tok + 0.12), (x - 0.08, box.bottom[1])), "white")
        d.label(x, y_out, outputs[k], size="small")
        d.arrow(box, (x, y_out - 0.12))
        if greedy and k < len(outputs) - 1:      # the output becomes the next input
            right = x + gap / 2
            _hop(d.arrow((x + 0.21, y_out), (xd[k + 1] - 0.2, y_tok),
                         via=[(right, y_out), (right, y_tok)], colour=ACCENT), "white",
                 width=4)
    return d.figure


def teacher_forcing(source: Sequence[str] = ("i", "lost", "."),
                    target: Sequence[str] = ("j'ai", "perdu", ".")):
    """The encoder-decoder in training: the decoder reads `<bos>` and then the true target
    shifted one step to the right, and learns to predict the target followed by `<eos>`; the
    context $\\mathbf{c}$, the encoder's final state, starts the decoder and enters every step.

    Example:
        >>> fig = teacher_forcing(["i", "lost", "."], ["j'ai", "perdu", "."])
        >>> from d2lite.diagrams import texts
        >>> texts(fig)[-8:]
        ['<bos>', "j'ai", "j'ai", 'perdu', 'perdu', '.', '.', '<eos>']
    """
    return _seq2seq_unrolled(source, target, False, "teacher_forcing")


def greedy_decoding(source: Sequence[str] = ("i", "lost", "."),
                    predictions: Sequence[str] = ("j'ai", "perdu", ".")):
    """The encoder-decoder translating: the decoder starts from `<bos>`, and each step's
    likeliest token (`predictions`) becomes the next step's input (red), until `<eos>`.

    Example:
        >>> fig = greedy_decoding(["i", "lost", "."], ["j'ai", "perdu", "."])
        >>> from d2lite.diagrams import texts
        >>> texts(fig)[-8:]
        ['<bos>', "j'ai", "j'ai", 'perdu', 'perdu', '.', '.', '<eos>']
    """
    return _seq2seq_unrolled(source, predictions, True, "greedy_decoding")
