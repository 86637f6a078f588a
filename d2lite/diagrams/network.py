"""Networks as units and as layers: `draw_network` draws units as circles in columns (perceptrons,
MLPs, dropout); `layer_stack` draws a model's layers as a column of blocks with the shape of the
tensor between each two, read from a forward pass, so the picture cannot drift from the code.
"""
from __future__ import annotations

from collections.abc import Sequence

from .canvas import ACCENT, INK, KINDS, MUTED, SIZES, Diagram

__all__ = ["draw_network", "layer_stack"]


def draw_network(layers: Sequence[int | Sequence[str]], *,
                 labels: Sequence[Sequence[str]] | None = None,
                 layer_names: Sequence[str] | None = None,
                 dropped: dict[int, Sequence[int]] | None = None,
                 edge_labels: dict[tuple[int, int, int], str] | None = None,
                 figsize: tuple[float, float] = (4.5, 3.0)):
    """Draw a fully connected network, one column of units per layer; return the Figure.

    Args:
        layers: the number of units drawn in each layer, e.g. `[4, 5, 3]`.
        labels: optional text inside the units, one list per layer (math like "$x_1$" works;
            a label too wide for its unit is set smaller); "..." draws a unit as a vertical
            ellipsis, to stand for many units.
        layer_names: optional caption under each column, e.g. "input layer".
        dropped: `{layer: [unit, ...]}` units drawn crossed out, with their edges removed
            (dropout).
        edge_labels: `{(layer, unit, next_unit): text}` written along an edge, e.g. a weight.

    Example:
        >>> fig = draw_network([3, 4, 2], layer_names=["input", "hidden", "output"],
        ...                    dropped={1: [0, 2]})
        >>> ax = fig.axes[0]
        >>> len(ax.patches)  # 9 units
        9
        >>> len(ax.lines)  # 3*2 + 2*2 edges kept, and a cross (2 lines) per dropped unit
        14
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    sizes = [n if isinstance(n, int) else len(n) for n in layers]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"draw_network(): got layers={list(layers)!r}; expected two or more "
                         "layers of at least one unit each, e.g. [3, 4, 2]")
    labels = labels or [n if not isinstance(n, int) else [""] * n for n in layers]
    dropped = {layer: set(units) for layer, units in (dropped or {}).items()}
    figure = Figure(figsize=figsize, facecolor="white")
    FigureCanvasAgg(figure)  # a renderer, to measure the labels
    ax = figure.add_subplot()
    tallest, gap, radius = max(sizes), 2.0, 0.3
    pos = [[(gap * i, (tallest - 1) / 2 + (n - 1) / 2 - j) for j in range(n)]
           for i, n in enumerate(sizes)]  # unit j of layer i; columns centred on the tallest
    for i in range(len(sizes) - 1):
        for j, (x0, y0) in enumerate(pos[i]):
            for k, (x1, y1) in enumerate(pos[i + 1]):
                if (j in dropped.get(i, ()) or k in dropped.get(i + 1, ())
                        or "..." in (labels[i][j], labels[i + 1][k])):
                    continue
                ax.plot([x0 + radius, x1 - radius], [y0, y1], color=MUTED, lw=0.7, zorder=1)
                if (i, j, k) in (edge_labels or {}):
                    ax.text(x0 + 0.45 * (x1 - x0), y0 + 0.45 * (y1 - y0), edge_labels[i, j, k],
                            ha="center", va="center", fontsize=SIZES["small"], color=INK,
                            zorder=3, bbox={"fc": "white", "ec": "none", "pad": 0.5})
    inside = []  # the labels written in units
    for i, column in enumerate(pos):
        for j, (x, y) in enumerate(column):
            text = labels[i][j]
            if text == "...":
                ax.add_patch(Circle((x, y), radius, fill=False, lw=0))
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=14, color=INK)
                continue
            off = j in dropped.get(i, ())
            ax.add_patch(Circle((x, y), radius, zorder=2, lw=1.2,
                                    facecolor="white" if off else KINDS["dense"][0],
                                    edgecolor=MUTED if off else KINDS["dense"][1],
                                    linestyle="--" if off else "-"))
            if off:  # a cross over the dropped unit
                d = radius * 0.7
                ax.plot([x - d, x + d], [y - d, y + d], color=ACCENT, lw=1.2, zorder=3)
                ax.plot([x - d, x + d], [y + d, y - d], color=ACCENT, lw=1.2, zorder=3)
            elif text:
                inside.append(ax.text(x, y, text, ha="center", va="center", fontsize=9,
                                      color=INK, zorder=3))
    bottom = -radius - 0.35
    for i, name in enumerate(layer_names or []):
        ax.text(gap * i, bottom, name, ha="center", va="top", fontsize=SIZES["label"],
                color=INK)
    ax.set_xlim(-0.8, gap * (len(sizes) - 1) + 0.8)
    ax.set_ylim(bottom - 0.45, tallest - 1 + radius + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    _fit_in_units(ax, inside, radius)
    return ax.figure


def _fit_in_units(ax, texts, radius: float) -> None:
    """Shrink each label wider than its unit (e.g. "$x_{784}$") until it fits inside the circle."""
    if not texts:
        return
    ax.apply_aspect()  # the final data-to-pixel scale, as drawn
    renderer = ax.figure.canvas.get_renderer()
    room = 1.6 * radius * abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])
    for text in texts:
        width = text.get_window_extent(renderer).width
        if width > room:
            text.set_fontsize(text.get_fontsize() * room / width)


FOLDED = ("ReLU", "Sigmoid", "Tanh", "GELU", "Dropout", "Softmax")  # drawn inside the layer before


def describe(layer) -> tuple[str, str]:
    """A layer's label and kind, e.g. `("5×5 conv, 6", "conv")` for `nn.Conv2d(1, 6, 5)`."""
    name = type(layer).__name__
    size = getattr(layer, "kernel_size", None)
    size = size if isinstance(size, int) or size is None else size[0]
    if name == "Conv2d":
        extra = "".join(f", {k} {v}" for k, v, plain in (("stride", layer.stride[0], 1),
                                                         ("pad", layer.padding[0], 0))
                        if v != plain)
        return f"{size}×{size} conv, {layer.out_channels}{extra}", "conv"
    if name in ("MaxPool2d", "AvgPool2d"):
        stride = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
        how = "max" if name == "MaxPool2d" else "avg"
        return f"{size}×{size} {how} pool" + (f", stride {stride}" if stride != size else ""), \
            "pooling"
    if name in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        return "global avg pool" if "Avg" in name else "global max pool", "pooling"
    if name == "Linear":
        return f"dense, {layer.out_features}", "dense"
    if name.startswith("BatchNorm") or name.startswith("LayerNorm"):
        return ("batch norm" if name.startswith("Batch") else "layer norm"), "norm"
    if name == "Flatten":
        return "flatten", "tensor"
    if name == "Embedding":
        return f"embedding, {layer.embedding_dim}", "embedding"
    if name in ("RNN", "GRU", "LSTM"):
        return f"{name}, {layer.hidden_size}", "recurrent"
    if name == "Dropout":
        return f"dropout {layer.p:g}", "activation"
    return name, "dense"


def forward_shapes(net, x) -> list[tuple[int, ...]]:
    """The shape of `x` after each top-level layer of `net` (a `nn.Sequential`), one forward
    pass in eval mode without gradients; the model's mode is restored."""
    import torch

    shapes, was_training = [], net.training
    net.eval()
    try:
        with torch.no_grad():
            for layer in net:
                x = layer(x)
                shapes.append(tuple(x.shape))
    finally:
        net.train(was_training)
    return shapes


def shape_text(shape: Sequence[int]) -> str:
    """A shape as the lessons write it, the batch axis named: (batch, 6, 28, 28)."""
    return "(" + ", ".join(["batch", *map(str, shape[1:])]) + ")"


def layer_stack(net, input_shape: Sequence[int], *, labels: dict[int, str] | None = None,
                title: str = "", width: float = 3.6):
    """Draw `net`, a `nn.Sequential`, as a column of layers from the input at the bottom to the
    output at the top, each arrow labelled with the shape of the tensor it carries (from a
    forward pass of zeros of `input_shape`); return the Figure. Activations and dropout are
    written into the layer before them; `labels` replaces the text of layer `i` of `net`.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(),
        ...                     nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6 * 14 * 14, 10))
        >>> fig = layer_stack(net, (1, 1, 28, 28))
        >>> from d2lite.diagrams import texts
        >>> texts(fig)[:4]
        ['(batch, 1, 28, 28)', '5×5 conv, 6, pad 2 · sigmoid', '(batch, 6, 28, 28)', '2×2 avg pool']
        >>> texts(fig)[-1]
        '(batch, 10)'
    """
    import torch

    layers = list(net)
    if not layers or len(input_shape) < 2:
        raise ValueError(f"layer_stack(): got {len(layers)} layers and input_shape="
                         f"{tuple(input_shape)}; expected a nn.Sequential with layers and a "
                         "shape with a batch axis, e.g. (1, 1, 28, 28)")
    first = next(iter(net.parameters()), None)
    x = torch.zeros(input_shape, device=first.device if first is not None else None)
    shapes = forward_shapes(net, x)
    rows: list[list] = []  # [label, kind, output shape]
    for i, (layer, shape) in enumerate(zip(layers, shapes, strict=True)):
        text, kind = describe(layer)
        text = (labels or {}).get(i, text)
        if type(layer).__name__ in FOLDED and rows:
            rows[-1][0] += " · " + text.lower()
            rows[-1][2] = shape
        else:
            rows.append([text, kind, shape])
    step = 0.62
    height = 0.5 + step * (len(rows) + 1) + (0.3 if title else 0)
    d = Diagram(width, height)
    cx = width / 2
    below = d.tensor(cx, 0.3, shape_text(input_shape))
    for k, (text, kind, shape) in enumerate(rows):
        box = d.block(cx, 0.3 + step * (k + 1) - step / 2 + 0.15, text, kind, w=width - 0.8,
                      h=0.3, size="small")
        d.arrow(below, box)
        below = box
        if k < len(rows) - 1:
            d.label(cx + 0.06, box.y + step / 2, shape_text(shape), size="tiny", colour=MUTED,
                    ha="left")
    top = d.tensor(cx, below.y + step * 0.75, shape_text(rows[-1][2]))
    d.arrow(below, top)
    if title:
        d.label(cx, height - 0.2, title, size="label")
    return d.figure
