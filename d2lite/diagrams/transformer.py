"""Chapter 6's Transformer and the cost of attention: CNN, RNN and self-attention compared by
their paths and their parallel work, the lesson's Transformer drawn from a forward pass, the
decoder's causal mask and cross-attention, and tiled attention with the online softmax.
"""
from __future__ import annotations

import math

from .attention import _capture
from .canvas import ACCENT, KINDS, MUTED, Diagram
from .network import shape_text

__all__ = ["architectures_compared", "decoder_attention", "tiled_attention",
           "transformer_architecture"]


def architectures_compared(n: int = 5, kernel_size: int = 3):
    """One layer of a convolution, an RNN and self-attention on `n` tokens: which outputs
    each input reaches, what must run in order, and how many layers or steps a signal needs
    from the first token to the last (in red).

    Example:
        >>> from d2lite.diagrams import texts
        >>> labels = texts(architectures_compared(n=5, kernel_size=3))
        >>> "self-attention" in labels, "$x_1$ to $y_5$: 4 layers" in labels
        (True, True)
    """
    if not 2 <= n <= 6 or kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"architectures_compared(): got n={n}, kernel_size={kernel_size}; "
                         "expected 2 <= n <= 6 and an odd kernel_size >= 3")
    reach = kernel_size // 2
    notes = {
        f"CNN, kernel {kernel_size}": ("all positions in parallel",
                                       f"{math.ceil((n - 1) / reach)} layers", "$O(knd^2)$"),
        "RNN": (f"{n} steps, one after another", f"{n - 1} steps", "$O(nd^2)$"),
        "self-attention": ("all positions in parallel", "1 layer", "$O(n^2d)$"),
    }
    panel, width = 1.45, 4.8
    d = Diagram(width, panel * 3)
    step = min(0.62, 2.7 / n)
    xs = [0.35 + step * i for i in range(n)]
    for p, (title, (parallel, path, cost)) in enumerate(notes.items()):
        y0 = panel * (2 - p)
        d.label(0.12, y0 + panel - 0.14, title, size="label", ha="left")
        inputs = [d.tensor(x, y0 + 0.25, f"$x_{{{i + 1}}}$", w=0.36, h=0.24)
                  for i, x in enumerate(xs)]
        kind = "recurrent" if title == "RNN" else "tensor"
        outputs = [d.block(x, y0 + 0.95, f"$y_{{{i + 1}}}$", kind, w=0.36, h=0.26,
                           size="small") for i, x in enumerate(xs)]
        for i, out in enumerate(outputs):
            if title == "RNN":
                sources = [i]
                if i:
                    d.arrow(outputs[i - 1], out, colour=ACCENT)
            elif title == "self-attention":
                sources = range(n)
            else:
                sources = range(max(0, i - reach), min(n, i + reach + 1))
            for j in sources:
                red = (title == "RNN" and i == 0) or (i == n - 1 and (j == 0 or title[0] == "C"))
                d.arrow(inputs[j], out, colour=ACCENT if red else MUTED)
        x_note = xs[-1] + 0.4
        d.label(x_note, y0 + 0.95, parallel, size="tiny", ha="left")
        d.label(x_note, y0 + 0.62, f"$x_1$ to $y_{n}$: {path}", size="tiny", ha="left",
                colour=ACCENT)
        d.label(x_note, y0 + 0.29, f"cost {cost}", size="tiny", ha="left", colour=MUTED)
    return d.figure


def _sublayers(d: Diagram, below, y: float, names, *, side: int, w: float = 1.6):
    """A Transformer block above the box `below`: sublayers, each followed by add & norm,
    stacked from y upwards, with the residual connection drawn on the left (side=-1) or the
    right (side=1). Returns the boxes."""
    boxes, x = [], below.x
    for name, kind in names:
        box = d.block(x, y, name, kind, w=w, h=0.32, size="small")
        norm = d.block(x, y + 0.45, "add & norm", "norm", w=w, h=0.26, size="small")
        d.arrow(below, box)
        d.arrow(box, norm)
        split = box.bottom[1] - (0.12 if boxes else 0.1)
        edge = x + side * (w / 2 + 0.08)
        d.arrow((x, split), (x + side * w / 2, norm.y), via=[(edge, split), (edge, norm.y)])
        boxes += [box, norm]
        below, y = norm, y + 0.95
    return boxes


def transformer_architecture(net, src_len: int, tgt_len: int):
    """The lesson's Transformer: the encoder stack (self-attention, feed-forward network, each
    with add & norm) and the decoder stack (masked self-attention, cross-attention to the
    encoder's outputs, feed-forward network), each framed with its number of blocks, and the
    shapes of a forward pass of a source of `src_len` and a target of `tgt_len` tokens. `net`
    has `encoder` and `decoder`, each with `embedding` and `blocks`, and `decoder.dense`.

    Example:
        >>> from d2lite.diagrams import texts
        >>> from d2lite.models import EncoderDecoder, TransformerDecoder, TransformerEncoder
        >>> net = EncoderDecoder(TransformerEncoder(10, 8, 16, 2, num_layers=2, dropout=0.0),
        ...                      TransformerDecoder(12, 8, 16, 2, num_layers=2, dropout=0.0))
        >>> labels = texts(transformer_architecture(net, src_len=5, tgt_len=4))
        >>> "cross-attention" in labels, "logits (batch, 4, 12)" in labels, "× 2" in labels
        (True, True, True)
    """
    import torch

    enc, dec = getattr(net, "encoder", None), getattr(net, "decoder", None)
    if not all(hasattr(part, "blocks") and hasattr(part, "embedding") for part in (enc, dec)):
        raise ValueError(f"transformer_architecture(): got a {type(net).__name__}; expected an "
                         "encoder-decoder whose encoder and decoder have embedding and blocks")
    device = next(net.parameters()).device
    X = torch.zeros(1, src_len, dtype=torch.long, device=device)
    Y = torch.zeros(1, tgt_len, dtype=torch.long, device=device)
    shapes = _capture(net, {"src": enc.embedding, "enc": enc.blocks[-1], "tgt": dec.embedding,
                            "dec": dec.blocks[-1], "dense": dec.dense},
                      lambda: net(X, Y, torch.tensor([src_len], device=device)))
    first = enc.blocks[0]
    heads = first.attention.num_heads
    ffn = f"feed-forward, {first.ffn.dense1.out_features}"
    d_model = shapes["src"][-1]

    d = Diagram(4.95, 6.35)
    plus_boxes: list = []
    columns = ((1.35, X, "source", "src", -1), (3.6, Y, "target, shifted", "tgt", 1))
    for x, tokens, name, key, side in columns:
        tensor = d.tensor(x, 0.3, f"{name} {shape_text(tokens.shape)}", w=1.6)
        emb = d.block(x, 0.85, f"embedding, {d_model}", "embedding", w=1.6, h=0.32,
                      size="small")
        d.arrow(tensor, emb)
        plus = d.op(x, 1.4, "+")
        d.arrow(emb, plus)
        pos = d.tensor(x - side * 0.62, 1.4, "positions", w=0.72, h=0.24)
        d.arrow(pos, plus)
        d.label(x + side * 0.06, 1.72, shape_text(shapes[key]), size="tiny", colour=MUTED,
                ha="left" if side > 0 else "right")
        plus_boxes.append(plus)
    names = [(f"self-attention, {heads} heads", "attention"), (ffn, "dense")]
    enc_boxes = _sublayers(d, plus_boxes[0], 2.25, names, side=-1)
    names = [("masked self-attention", "attention"), ("cross-attention", "attention"),
             (ffn, "dense")]
    dec_boxes = _sublayers(d, plus_boxes[1], 2.25, names, side=1)
    frame = d.frame(enc_boxes)
    d.label(frame.x - frame.w / 2 - 0.06, frame.y, f"{len(enc.blocks)} ×", size="label",
            ha="right")
    d.frame(dec_boxes, f"× {len(dec.blocks)}")
    memory = d.tensor(1.35, 4.4, shape_text(shapes["enc"]), w=1.2)
    d.arrow(enc_boxes[-1], memory)
    cross = dec_boxes[2]
    d.arrow(memory, (cross.x - 0.8, cross.y), via=[(2.48, memory.y), (2.48, cross.y)],
            colour=ACCENT)
    d.label(2.0, memory.y + 0.04, "keys, values", size="tiny", colour=ACCENT, ha="left",
            va="bottom")
    dense = d.block(3.6, 5.5, f"dense, {shapes['dense'][-1]}", "dense", w=1.6, h=0.32,
                    size="small")
    d.arrow(dec_boxes[-1], dense, shape_text(shapes["dec"]))
    logits = d.tensor(3.6, 6.1, f"logits {shape_text(shapes['dense'])}", w=1.75)
    d.arrow(dense, logits)
    return d.figure


def _mask_grid(d: Diagram, x: float, y: float, keep, columns, cell: float = 0.28):
    """A grid of queries (rows) by keys (columns), a cell filled where the query may attend,
    with the key names written up above each column."""
    from matplotlib.patches import Rectangle

    fill, edge = KINDS["attention"]
    for i, row in enumerate(keep):
        for j, on in enumerate(row):
            d.ax.add_patch(Rectangle((x + j * cell, y - (i + 1) * cell), cell, cell, lw=0.8,
                                     facecolor=fill if on else "white",
                                     edgecolor=edge if on else "#cccccc", zorder=2))
    for j, name in enumerate(columns):
        d.label(x + (j + 0.5) * cell, y + 0.05, name, size="tiny", rotation=90, va="bottom")


def decoder_attention(source=("i", "lost", ".", "<eos>", "<pad>", "<pad>"),
                      src_valid_len: int = 4, target=("<bos>", "j'ai", "perdu", ".")):
    """Which keys each decoder query may attend to: in masked self-attention the target
    position t sees positions 0 ... t (the causal mask, a lower triangle); in cross-attention
    every target position sees the first `src_valid_len` source tokens, the padding masked.

    Example:
        >>> from d2lite.diagrams import texts
        >>> labels = texts(decoder_attention())
        >>> "masked self-attention" in labels, "cross-attention" in labels
        (True, True)
    """
    source, target, src_valid_len = list(source), list(target), int(src_valid_len)
    if not 1 <= src_valid_len <= len(source) or not target:
        raise ValueError(f"decoder_attention(): got src_valid_len={src_valid_len} for "
                         f"{len(source)} source tokens and {len(target)} target tokens; "
                         "expected 1 <= src_valid_len <= len(source) and a target")
    cell, n, m = 0.28, len(target), len(source)
    left = 0.9
    right = left + n * cell + 0.45
    width = max(right + m * cell + 0.15, 3.4)
    top = 0.55 + n * cell
    d = Diagram(width, top + 0.65)
    for i, name in enumerate(target):
        d.label(left - 0.08, top - (i + 0.5) * cell, name, size="tiny", ha="right")
    d.label(0.1, top - n * cell / 2, "queries", size="tiny", colour=MUTED, rotation=90)
    _mask_grid(d, left, top, [[j <= i for j in range(n)] for i in range(n)], target)
    _mask_grid(d, right, top, [[j < src_valid_len for j in range(m)] for _ in range(n)],
               source)
    for x, k, title, note in ((left, n, "masked self-attention", "keys: the target so far"),
                              (right, m, "cross-attention", "keys: the source")):
        d.label(x + k * cell / 2, 0.32, title, size="small")
        d.label(x + k * cell / 2, 0.1, note, size="tiny", colour=MUTED)
    return d.figure


def tiled_attention(num_blocks: int = 3):
    """Attention computed one block of keys at a time (FlashAttention): each tile of scores
    S_j = Q K_j^T / sqrt(d) updates a running maximum m, a running sum l and a running output
    o, rescaled by exp(m - m') when the maximum grows; the n x n score matrix is never
    stored whole.

    Example:
        >>> from d2lite.diagrams import texts
        >>> labels = texts(tiled_attention(num_blocks=3))
        >>> "$\\\\mathbf{K}_3^\\\\top$" in labels, "$\\\\mathbf{o} / \\\\ell$" in labels
        (True, True)
    """
    if not 2 <= num_blocks <= 4:
        raise ValueError(f"tiled_attention(): got num_blocks={num_blocks}; expected 2 to 4")
    tile, gap = 0.85, 0.22
    xs = [1.3 + (tile + gap) * j for j in range(num_blocks)]
    d = Diagram(xs[-1] + tile / 2 + 1.05, 4.45)
    base = 1.2
    d.tensor(0.42, base + 1.95, r"$\mathbf{Q}$", w=0.34, h=0.6)
    state = d.tensor(0.42, base + 0.9, r"$m, \ell, \mathbf{o}$", w=0.7)
    d.label(0.42, base + 0.6, r"$-\infty, 0, \mathbf{0}$", size="tiny", colour=MUTED)
    for j, x in enumerate(xs, start=1):
        d.tensor(x, base + 2.7, rf"$\mathbf{{K}}_{j}^\top$", w=tile, h=0.28)
        scores = d.block(x, base + 1.95, rf"$\mathbf{{S}}_{j}$", "attention", w=tile, h=0.6)
        d.label(x, base + 1.78, "(n, block)", size="tiny", colour=MUTED)
        update = d.block(x, base + 0.9, "update", "activation", w=tile, h=0.42, size="small")
        d.arrow(scores, update)
        value = d.tensor(x, base + 0.25, rf"$\mathbf{{V}}_{j}$", w=0.45, h=0.26)
        d.arrow(value, update)
        d.arrow(state, update)
        state = update
    out = d.tensor(xs[-1] + tile / 2 + 0.55, base + 0.9, r"$\mathbf{o} / \ell$", w=0.6)
    d.arrow(state, out)
    d.label(xs[0] - tile / 2, base + 3.07, "one tile of scores at a time: the n × n matrix is "
            "never stored", size="tiny", colour=MUTED, ha="left")
    rules = (r"$\mathbf{S}_j = \mathbf{Q}\mathbf{K}_j^\top / \sqrt{d}$",
             r"$m' = \max(m, \max\ \mathbf{S}_j)$",
             r"$\ell' = e^{m - m'}\ell + \sum\ e^{\mathbf{S}_j - m'}$",
             r"$\mathbf{o}' = e^{m - m'}\mathbf{o} + e^{\mathbf{S}_j - m'}\mathbf{V}_j$")
    for k, rule in enumerate(rules):
        d.label(0.12, 0.97 - 0.27 * k, rule, size="small", ha="left")
    return d.figure
