"""Network diagrams drawn with matplotlib: units as circles in columns, every unit of one layer
joined to every unit of the next. Enough for perceptrons, MLPs and dropout; not a graph layout tool.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["draw_network"]


def draw_network(layers: Sequence[int | Sequence[str]], *,
                 labels: Sequence[Sequence[str]] | None = None,
                 layer_names: Sequence[str] | None = None,
                 dropped: dict[int, Sequence[int]] | None = None,
                 ax=None, figsize: tuple[float, float] = (4.5, 3.0)):
    """Draw a fully connected network, one column of units per layer; return the Axes.

    Args:
        layers: the number of units drawn in each layer, e.g. `[4, 5, 3]`.
        labels: optional text inside the units, one list per layer (math like "$x_1$" works;
            a label too wide for its unit is set smaller); "..." draws a unit as a vertical
            ellipsis, to stand for many units.
        layer_names: optional caption under each column, e.g. "input layer".
        dropped: `{layer: [unit, ...]}` units drawn crossed out, with their edges removed
            (dropout).

    Example:
        >>> ax = draw_network([3, 4, 2], layer_names=["input", "hidden", "output"],
        ...                   dropped={1: [0, 2]})
        >>> len(ax.patches)  # 9 units
        9
        >>> len(ax.lines)  # 3*2 + 2*2 edges kept, and a cross (2 lines) per dropped unit
        14
    """
    import matplotlib.pyplot as plt

    sizes = [n if isinstance(n, int) else len(n) for n in layers]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"draw_network(): got layers={list(layers)!r}; expected two or more "
                         "layers of at least one unit each, e.g. [3, 4, 2]")
    labels = labels or [n if not isinstance(n, int) else [""] * n for n in layers]
    dropped = {layer: set(units) for layer, units in (dropped or {}).items()}
    if ax is None:
        ax = plt.figure(figsize=figsize).add_subplot()
    tallest, gap, radius = max(sizes), 2.0, 0.3
    pos = [[(gap * i, (tallest - 1) / 2 + (n - 1) / 2 - j) for j in range(n)]
           for i, n in enumerate(sizes)]  # unit j of layer i; columns centred on the tallest
    for i in range(len(sizes) - 1):
        for j, (x0, y0) in enumerate(pos[i]):
            for k, (x1, y1) in enumerate(pos[i + 1]):
                if (j in dropped.get(i, ()) or k in dropped.get(i + 1, ())
                        or "..." in (labels[i][j], labels[i + 1][k])):
                    continue
                ax.plot([x0 + radius, x1 - radius], [y0, y1], color="0.6", lw=0.8, zorder=1)
    inside = []  # the labels written in units
    for i, column in enumerate(pos):
        for j, (x, y) in enumerate(column):
            text = labels[i][j]
            if text == "...":
                ax.add_patch(plt.Circle((x, y), radius, fill=False, lw=0))
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=14)
                continue
            off = j in dropped.get(i, ())
            ax.add_patch(plt.Circle((x, y), radius, zorder=2, lw=1.2,
                                    facecolor="white" if off else "#cfe2f3",
                                    edgecolor="0.6" if off else "#1f4e79",
                                    linestyle="--" if off else "-"))
            if off:  # a cross over the dropped unit
                d = radius * 0.7
                ax.plot([x - d, x + d], [y - d, y + d], color="#c00000", lw=1.2, zorder=3)
                ax.plot([x - d, x + d], [y + d, y - d], color="#c00000", lw=1.2, zorder=3)
            elif text:
                inside.append(ax.text(x, y, text, ha="center", va="center", fontsize=9,
                                      zorder=3))
    bottom = -radius - 0.35
    for i, name in enumerate(layer_names or []):
        ax.text(gap * i, bottom, name, ha="center", va="top", fontsize=10)
    ax.set_xlim(-0.8, gap * (len(sizes) - 1) + 0.8)
    ax.set_ylim(bottom - 0.45, tallest - 1 + radius + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    _fit_in_units(ax, inside, radius)
    return ax


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
