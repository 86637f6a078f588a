"""Convolution mechanisms of chapter 4 with numbers: cross-correlation, padding and stride,
channels, the 1 × 1 convolution, pooling, receptive fields and what batch norm averages over."""
from __future__ import annotations

from .canvas import ACCENT, INK, KINDS, MUTED, Box, Diagram

__all__ = ["batch_norm_axes", "conv_1x1", "cross_correlation", "max_pooling", "multi_channel",
           "padding_stride", "receptive_field"]

TINT = "#f6dcd8"  # a light wash of ACCENT: the cells the caption points at


def _matrix(values, who: str, dims: int = 2) -> list:
    """`values` (a tensor or nested lists) as nested lists of floats with `dims` axes."""
    import torch

    values = torch.as_tensor(values, dtype=torch.float64)
    if values.dim() != dims:
        raise ValueError(f"{who}(): got values of shape {tuple(values.shape)}; expected "
                         f"{dims} axes, e.g. shape {(2, 3, 3)[-dims:]}")
    return values.tolist()


def _corr(X, K, stride: int = 1) -> list:
    """Cross-correlation of two nested lists (no padding): equation (1) of the lesson."""
    kh, kw = len(K), len(K[0])
    return [[sum(X[i + a][j + b] * K[a][b] for a in range(kh) for b in range(kw))
             for j in range(0, len(X[0]) - kw + 1, stride)]
            for i in range(0, len(X) - kh + 1, stride)]


def _num(v: float) -> str:
    return f"{v:g}".replace("-", "−")


def _sum_text(X, K, r: int, c: int) -> str:
    """The sum of products of the window at (r, c) of X with K, and its value."""
    kh, kw = len(K), len(K[0])
    terms = [f"{_num(X[r + a][c + b])}·" + (f"({_num(k)})" if (k := K[a][b]) < 0 else _num(k))
             for a in range(kh) for b in range(kw)]
    total = sum(X[r + a][c + b] * K[a][b] for a in range(kh) for b in range(kw))
    return " + ".join(terms) + f" = {_num(total)}"


def _cells(d: Diagram, x: float, y: float, values, *, cell: float = 0.3, muted=(),
           tint=(), windows=(), title: str = ""):
    """A grid of numbers with its lower-left corner at (x, y). `muted`: (row, col) cells drawn
    grey (padding); `tint`: cells washed in the accent colour; `windows`: (row, col, rows, cols,
    style) outlines, in the accent colour (style False) or dashed (True), or thin in a colour."""
    from matplotlib.patches import Rectangle

    fill, edge = KINDS["tensor"]
    n = len(values)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            cx, cy = x + j * cell, y + (n - 1 - i) * cell
            d.ax.add_patch(Rectangle((cx, cy), cell, cell, lw=0.8, zorder=2, edgecolor=edge,
                                     facecolor=TINT if (i, j) in tint else
                                     "#f2f2f2" if (i, j) in muted else fill))
            if value is not None:
                d.label(cx + cell / 2, cy + cell / 2, _num(value),
                        colour=MUTED if (i, j) in muted else INK)
    w, h = cell * len(values[0]), cell * n
    for r, c, nr, nc, style in windows:
        d.ax.add_patch(Rectangle((x + c * cell, y + h - (r + nr) * cell), nc * cell, nr * cell,
                                 fill=False, lw=1.6 if style else 2.2, zorder=4,
                                 edgecolor=style if isinstance(style, str) else ACCENT,
                                 linestyle="--" if style is True else "-"))
    if title:
        d.label(x + w / 2, y + h + 0.15, title, size="label")
    return Box(x + w / 2, y + h / 2, w, h)


def _row(d: Diagram, x: float, mid: float, items, cell: float, gap: float = 0.5) -> list:
    """Grids side by side, centred on height `mid`, with a symbol (⋆, =) in each gap.
    An item is a symbol or a dict of `_cells` arguments with `values`; returns the boxes."""
    boxes = []
    for item in items:
        if isinstance(item, str):
            d.label(x + gap / 2, mid, item, size="title")
            x += gap
            continue
        values = item["values"]
        boxes.append(_cells(d, x, mid - cell * len(values) / 2, cell=cell, **item))
        x += cell * len(values[0])
    return boxes


def _row_width(items, cell: float, gap: float = 0.5) -> float:
    return sum(gap if isinstance(i, str) else cell * len(i["values"][0]) for i in items)


def cross_correlation(X=None, K=None, *, window=(0, 0)):
    """Input, kernel and output of a 2-D cross-correlation with their numbers (2-D tensors or
    lists; by default the lesson's 3 × 3 ramp and 2 × 2 kernel): the window for output
    position `window` and the value it makes are outlined, its sum of products written out.

    Example:
        >>> from d2lite.diagrams import texts
        >>> fig = cross_correlation([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 0], [0, -1]])
        >>> "0·1 + 1·0 + 3·0 + 4·(−1) = −4" in texts(fig), texts(fig).count("−4")
        (True, 4)
    """
    X = _matrix([[0, 1, 2], [3, 4, 5], [6, 7, 8]] if X is None else X, "cross_correlation")
    K = _matrix([[1, 0], [0, -1]] if K is None else K, "cross_correlation")
    Y = _corr(X, K)
    i, j = window
    if not (Y and 0 <= i < len(Y) and 0 <= j < len(Y[0])):
        raise ValueError(f"cross_correlation(): got window={window} for an output of "
                         f"{len(Y)} × {len(Y[0]) if Y else 0}; expected a position inside it")
    kh, kw = len(K), len(K[0])
    items = [dict(values=X, title="input", windows=[(i, j, kh, kw, False)]), "∗",
             dict(values=K, title="kernel"), "=",
             dict(values=Y, title="output", windows=[(i, j, 1, 1, False)])]
    width = _row_width(items, 0.34) + 0.4
    d = Diagram(width, 0.34 * len(X) + 0.95)
    _row(d, 0.2, 0.5 + 0.34 * len(X) / 2, items, 0.34)
    d.label(width / 2, 0.2, _sum_text(X, K, i, j), colour=ACCENT)
    return d.figure


def padding_stride(X=None, K=None, *, padding: int = 1, stride: int = 2, window=(0, 1)):
    """Padding and stride with numbers: the input framed by `padding` rows and columns of
    zeros (grey), the kernel's window at output position `window` (outlined) and one stride
    before it (dashed), the output, and equation (1) of the lesson for the output's size.

    Example:
        >>> from d2lite.diagrams import texts
        >>> fig = padding_stride([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 0], [0, -1]])
        >>> [t for t in texts(fig) if "⌊" in t or "stride" in t]
        ['stride 2', 'n = 3, p = 1, k = 2, s = 2:  ⌊(3 + 2 − 2) / 2⌋ + 1 = 2']
    """
    X = _matrix([[0, 1, 2], [3, 4, 5], [6, 7, 8]] if X is None else X, "padding_stride")
    K = _matrix([[1, 0], [0, -1]] if K is None else K, "padding_stride")
    p, s = padding, stride
    n, kh, kw = len(X), len(K), len(K[0])
    zeros = [[0.0] * (len(X[0]) + 2 * p)] * max(p, 0)
    P = zeros + [[0.0] * p + row + [0.0] * p for row in X] + zeros
    Y = _corr(P, K, max(s, 1))
    i, j = window
    if p < 0 or s < 1 or not (Y and 0 <= i < len(Y) and 0 <= j < len(Y[0])):
        raise ValueError(f"padding_stride(): got padding={p}, stride={s}, window={window}; "
                         "expected padding >= 0, stride >= 1 and a window inside the output")
    muted = {(r, c) for r in range(len(P)) for c in range(len(P[0]))
             if not (p <= r < n + p and p <= c < len(X[0]) + p)}
    windows = [(i * s, j * s, kh, kw, False)] + ([(i * s, (j - 1) * s, kh, kw, True)]
                                                  if j > 0 else [])
    items = [dict(values=P, muted=muted, windows=windows), "∗", dict(values=K, title="kernel"),
             "=", dict(values=Y, title="output", windows=[(i, j, 1, 1, False)])]
    cell = 0.3
    width = _row_width(items, cell) + 0.4
    d = Diagram(width, cell * len(P) + 1.25)
    mid, top = 0.45 + cell * len(P) / 2, 0.45 + cell * len(P)
    padded = _row(d, 0.2, mid, items, cell)[0]
    d.label(padded.x, top + 0.5, "padded input", size="label")
    if j > 0:
        x0, x1 = 0.2 + ((j - 1) * s + kw / 2) * cell, 0.2 + (j * s + kw / 2) * cell
        d.arrow((x0, top + 0.1), (x1, top + 0.1), colour=ACCENT)
        d.label((x0 + x1) / 2, top + 0.24, f"stride {s}", size="tiny", colour=ACCENT)
    size = f"⌊({n} + {2 * p} − {kh}) / {s}⌋ + 1 = {len(Y)}"
    d.label(width / 2, 0.18, f"n = {n}, p = {p}, k = {kh}, s = {s}:  {size}", colour=MUTED)
    return d.figure


def multi_channel(X=None, K=None, *, window=(0, 0)):
    """A convolution over several input channels: each channel is cross-correlated with its
    own 2-D kernel, and the results are summed into one output channel. `X` has shape
    (c_i, h, w), `K` (c_i, k_h, k_w); the window at output position `window` is outlined.

    Example:
        >>> from d2lite.diagrams import texts
        >>> fig = multi_channel()
        >>> [t for t in texts(fig) if "channel" in t or "output" in t]
        ['channel 1', 'channel 2', 'output']
        >>> texts(fig)[-1]
        '−4 + 2 = −2'
    """
    X = _matrix([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 0], [0, 1, 2], [2, 0, 1]]]
                if X is None else X, "multi_channel", 3)
    K = _matrix([[[1, 0], [0, -1]], [[0, 1], [1, 0]]] if K is None else K, "multi_channel", 3)
    if len(X) != len(K):
        raise ValueError(f"multi_channel(): got {len(X)} input channels and {len(K)} "
                         "kernels; expected one 2-D kernel per input channel")
    parts = [_corr(x, k) for x, k in zip(X, K, strict=True)]
    Y = [[sum(part[r][c] for part in parts) for c in range(len(parts[0][0]))]
         for r in range(len(parts[0]))]
    i, j = window
    kh, kw = len(K[0]), len(K[0][0])
    cell, row_gap = 0.26, 0.5
    rows_h = [cell * len(x) for x in X]
    items = [[dict(values=x, title=f"channel {c + 1}",
                   windows=[(i, j, kh, kw, False)]), "∗", dict(values=k), "=",
              dict(values=part, windows=[(i, j, 1, 1, False)])]
             for c, (x, k, part) in enumerate(zip(X, K, parts, strict=True))]
    left = _row_width(items[0], cell, 0.42)
    d = Diagram(left + 1.1 + cell * len(Y[0]), sum(rows_h) + row_gap * len(X) + 0.05)
    y, ends = sum(rows_h) + row_gap * len(X) - 0.35, []
    for row, h in zip(items, rows_h, strict=True):
        boxes = _row(d, 0.2, y - h / 2, row, cell, 0.42)
        ends.append(boxes[-1])
        y -= h + row_gap
    mid = (ends[0].y + ends[-1].y) / 2
    plus = d.op(0.2 + left + 0.3, mid, "+")
    for box in ends:
        d.arrow(box.right, plus)
    out = _cells(d, plus.x + 0.35, mid - cell * len(Y) / 2, Y, cell=cell,
                 windows=[(i, j, 1, 1, False)], title="output")
    d.arrow(plus, out.left)
    d.label(out.x, out.y - out.h / 2 - 0.18, " + ".join(_num(part[i][j]) for part in parts)
            + f" = {_num(Y[i][j])}", size="tiny", colour=ACCENT)
    return d.figure


def _stack(d: Diagram, x: float, y: float, planes: int, side: int, cell: float, pixel):
    """`planes` feature maps drawn back to front, each one cell up and to the right of the
    one in front, with the same `pixel` outlined in each; returns the box around them."""
    for k in reversed(range(planes)):
        _cells(d, x + k * cell, y + k * cell, [[None] * side] * side, cell=cell,
               tint={pixel}, windows=[(0, 0, side, side, MUTED), (*pixel, 1, 1, False)])
    w = (side + planes - 1) * cell
    return Box(x + w / 2, y + w / 2, w, w)


def conv_1x1(c_i: int = 3, c_o: int = 4, *, side: int = 3):
    """The 1 × 1 convolution as a dense layer at every pixel: the `c_i` values of one pixel
    (outlined in each channel) go through a dense layer to the `c_o` values of that pixel.

    Example:
        >>> from d2lite.diagrams import texts
        >>> texts(conv_1x1(3, 4))[:3]
        ['$c_i$ = 3 channels', '$c_o$ = 4 channels', 'dense $3 \\\\to 4$']
    """
    if min(c_i, c_o, side) < 1 or max(c_i, c_o) > 8:
        raise ValueError(f"conv_1x1(): got c_i={c_i}, c_o={c_o}, side={side}; expected "
                         "1 to 8 channels and a side of at least 1")
    cell, r = 0.2, 0.09
    height = max((side + max(c_i, c_o) - 1) * cell, max(c_i, c_o) * 0.3) + 0.75
    pixel = (0, side - 1)
    left = _stack(d := Diagram(4.6, height), 0.15, 0.45, c_i, side, cell, pixel)
    xo = 4.6 - 0.15 - (side + c_o - 1) * cell
    right = _stack(d, xo, 0.45, c_o, side, cell, pixel)
    mid = 0.45 + (height - 0.75) / 2
    xs = (left.x + left.w / 2 + 0.55, xo - 0.55)
    cols = [[(xs[k], mid + (n - 1) / 2 * 0.3 - u * 0.3) for u in range(n)]
            for k, n in enumerate((c_i, c_o))]
    for a in cols[0]:
        for b in cols[1]:
            d.ax.plot([a[0] + r, b[0] - r], [a[1], b[1]], color=MUTED, lw=0.6, zorder=1)
    for u in cols[0] + cols[1]:
        d.op(*u, "", "dense", r=r)
    d.arrow((left.x + left.w / 2 + 0.05, mid), (xs[0] - r - 0.08, mid), colour=ACCENT)
    d.arrow((xs[1] + r + 0.08, mid), (xo - 0.05, mid), colour=ACCENT)
    for x, text in [(left.x, f"$c_i$ = {c_i} channels"), (right.x, f"$c_o$ = {c_o} channels"),
                    (sum(xs) / 2, f"dense ${c_i} \\to {c_o}$")]:
        d.label(x, 0.2, text)
    d.label(sum(xs) / 2, height - 0.25, "same weights\nat every pixel", size="tiny",
            colour=MUTED)
    return d.figure


def max_pooling(X=None, *, size: int = 2, window=(0, 1)):
    """Max pooling with numbers: a `size` × `size` window with stride `size` tiles the input
    (thin lines between the windows); the window at output position `window` is outlined,
    its largest value washed in the accent colour, and so is the output value it gives.

    Example:
        >>> from d2lite.diagrams import texts
        >>> fig = max_pooling([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 2], [2, 6, 1, 0]])
        >>> texts(fig)[-6:]
        ['4', '5', '6', '3', 'output', '2×2 max pool']
    """
    X = _matrix([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 2], [2, 6, 1, 0]] if X is None else X,
                "max_pooling")
    rows, cols = len(X) // size, len(X[0]) // size
    i, j = window
    if size < 1 or not (0 <= i < rows and 0 <= j < cols):
        raise ValueError(f"max_pooling(): got size={size}, window={window} for a "
                         f"{len(X)} × {len(X[0])} input; expected a window inside the output")
    Y = [[max(X[r * size + a][c * size + b] for a in range(size) for b in range(size))
          for c in range(cols)] for r in range(rows)]
    top = max(((a, b) for a in range(i * size, (i + 1) * size)
               for b in range(j * size, (j + 1) * size)), key=lambda rc: X[rc[0]][rc[1]])
    cell = 0.32
    width = cell * (len(X[0]) + cols) + 1.6
    d = Diagram(width, cell * len(X) + 0.6)
    mid = 0.2 + cell * len(X) / 2
    tiles = [(r * size, c * size, size, size, KINDS["pooling"][1]) for r in range(rows)
             for c in range(cols)]  # the windows, in the pooling colour
    box = _cells(d, 0.2, 0.2, X, cell=cell, tint={top}, title="input",
                 windows=tiles + [(i * size, j * size, size, size, False)])
    out = _cells(d, width - 0.2 - cell * cols, mid - cell * rows / 2, Y, cell=cell,
                 tint={(i, j)}, windows=[(i, j, 1, 1, False)], title="output")
    d.arrow(box.right, out.left)
    d.label((box.x + box.w / 2 + out.x - out.w / 2) / 2, mid + 0.14, f"{size}×{size} max pool",
            size="tiny", colour=MUTED)
    return d.figure


def receptive_field(stacks=((3, 3), (5,))):
    """The receptive field of stacked convolutions, a panel per stack of kernel sizes: one value
    at the top and the region it depends on below (washed in the accent colour), with the
    weights per channel pair; dashed: one value of a middle map and the input it sees.

    Example:
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(receptive_field()) if "weights" in t]
        ['two 3×3 layers:\\n9 + 9 = 18 weights', 'one 5×5 layer:\\n25 weights']
    """
    stacks = [tuple(s) for s in stacks]
    if not stacks or any(not s or min(s) < 1 for s in stacks):
        raise ValueError(f"receptive_field(): got stacks={stacks}; expected kernel sizes per "
                         "stack, e.g. ((3, 3), (5,))")
    fields = [1 + sum(k - 1 for k in s) for s in stacks]
    cell, gap = 0.17, 0.5
    panel = max(fields) * cell + 1.3
    height = max(cell * sum(f - sum(k - 1 for k in s[:m]) for m in range(len(s) + 1))
                 + gap * len(s) for s, f in zip(stacks, fields, strict=True)) + 0.7
    d = Diagram(panel * len(stacks), height)
    for p, (stack, field) in enumerate(zip(stacks, fields, strict=True)):
        cx = panel * p + panel / 2
        sides = [field - sum(k - 1 for k in stack[:m]) for m in range(len(stack) + 1)]
        span = height - 0.85 - cell * (1 + sum(sides[:-1]))
        y, boxes = 0.75, []
        for m, s in enumerate(sides):
            k = stack[0] if m == 0 else 1  # one value of the map above the input, dashed
            dashed = [(0, 0, k, k, True)] if len(stack) > 1 and m < len(sides) - 1 else []
            boxes.append(_cells(d, cx - s * cell / 2, y, [[None] * s] * s, cell=cell,
                                tint={(a, b) for a in range(s) for b in range(s)},
                                windows=dashed))
            y += s * cell + span / len(stack)
        for m, (below, above) in enumerate(zip(boxes, boxes[1:], strict=False)):
            for side in (-1, 1):
                d.ax.plot([above.x + side * above.w / 2, below.x + side * below.w / 2],
                          [above.y - above.h / 2, below.y + below.h / 2], color=ACCENT,
                          lw=0.8, zorder=1)
            k = stack[m]
            d.label(cx + below.w / 2 + 0.08, (below.y + below.h / 2 + above.y - above.h / 2) / 2,
                    f"{k}×{k} conv", size="tiny", colour=MUTED, ha="left")
        counts = " + ".join(str(k * k) for k in stack)
        total = f" = {sum(k * k for k in stack)}" if len(stack) > 1 else ""
        name = (f"{'one two three'.split()[len(stack) - 1]} {stack[0]}×{stack[0]} layer"
                + "s" * (len(stack) > 1) if len(set(stack)) == 1 and len(stack) < 4 else
                " + ".join(f"{k}×{k}" for k in stack))
        d.label(cx, 0.32, f"{name}:\n{counts}{total} weights")
    return d.figure


def _face(d: Diagram, corners, fill: str, edge: str, lw: float = 0.8, z: int = 2):
    from matplotlib.patches import Polygon
    d.ax.add_patch(Polygon(corners, facecolor=fill, edgecolor=edge, lw=lw, zorder=z))


def batch_norm_axes(dense_shape=(5, 10), conv_shape=(5, 3, 7, 7), *, feature: int = 0,
                    channel: int = 0):
    """What batch normalization averages (washed in the accent colour): a dense layer's
    (batch, features) output, per column; a convolution's (batch, channels, h, w) output,
    drawn as a block of batch × channels × positions, per channel slab.

    Example:
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(batch_norm_axes()) if "over" in t]
        ['over 5 numbers', 'over 5 · 7 · 7 = 245 numbers']
    """
    (m, f), (n, c, h, w) = tuple(dense_shape), tuple(conv_shape)
    if not (0 <= feature < f and 0 <= channel < c):
        raise ValueError(f"batch_norm_axes(): got feature={feature}, channel={channel} for "
                         f"shapes {tuple(dense_shape)}, {tuple(conv_shape)}; expected indices "
                         "inside them")
    d = Diagram(4.7, 2.35)
    q, base, x0, x1, dx, dy = min(0.17, 1.7 / f, 0.85 / max(m, n)), 0.85, 0.45, 3.05, 0.4, 0.3
    top = base + max(m, n) * q
    _cells(d, x0, top - m * q, [[None] * f] * m, cell=q, tint={(i, feature) for i in range(m)},
           windows=[(0, feature, m, 1, False)])
    _cells(d, x1, top - n * q, [[None] * c] * n, cell=q, tint={(i, channel) for i in range(n)})
    edge, right = KINDS["tensor"][1], x1 + c * q
    for j in range(c):  # the top face: one strip per channel, running back over h · w
        _face(d, [(x1 + j * q, top), (x1 + j * q + q, top), (x1 + j * q + q + dx, top + dy),
                  (x1 + j * q + dx, top + dy)], TINT if j == channel else "white", edge)
    for i in range(n):  # the right face: one strip per example
        y = top - (i + 1) * q
        _face(d, [(right, y), (right + dx, y + dy), (right + dx, y + dy + q), (right, y + q)],
              TINT if channel == c - 1 else "white", edge)
    xa = x1 + channel * q  # the outline of the averaged slab
    _face(d, [(xa, top - n * q), (xa, top), (xa + dx, top + dy), (xa + q + dx, top + dy),
              (xa + q, top), (xa + q, top - n * q)], "none", ACCENT, lw=1.8, z=4)
    for x, rows, cols, note, title in [
            (x0, m, f * q, f"features {f}", f"dense layer: ({m}, {f})"),
            (x1, n, c * q + dx, f"channels {c}", f"convolution: ({n}, {c}, {h}, {w})")]:
        d.label(x - 0.12, top - rows * q / 2, f"batch {rows}", size="tiny", colour=MUTED,
                rotation=90)
        d.label(x + (cols if x == x0 else c * q) / 2, top - rows * q - 0.13, note, size="tiny",
                colour=MUTED)
        d.label(x + cols / 2, top + 0.5, title, size="label")
    d.label(right + dx + 0.06, top - n * q + dy / 2, f"h · w\n{h} · {w}", size="tiny",
            colour=MUTED, ha="left")
    for x, what, over in [(x0 + f * q / 2, "feature", f"{m}"),
                          (x1 + (c * q + dx) / 2, "channel", f"{n} · {h} · {w} = {n * h * w}")]:
        d.label(x, 0.3, f"one mean per {what},", size="tiny", va="bottom")
        d.label(x, 0.28, f"over {over} numbers", size="tiny", va="top")
    return d.figure
