"""The book's visual language and the primitives every diagram is built from.

One colour per kind of layer, everywhere in the book; one font ladder; one arrow style. A
`Diagram` is a matplotlib figure whose data units are inches, so a box 1.2 wide is 1.2 inches
wide on the page and text sizes mean the same in every diagram. Data flows up in architectures
(input at the bottom, as in the Transformer paper) and left to right in time.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "Box", "Diagram", "texts"]

# kind -> (fill, edge): flat pastel fills with a darker edge of the same hue, readable on the
# white card every figure sits on (in the dark theme too)
KINDS = {
    "dense": ("#fde9a9", "#a07800"),
    "conv": ("#c6dbef", "#2b6ca3"),
    "pooling": ("#c7e9e0", "#2a8c72"),
    "norm": ("#d9ead3", "#4d8a3b"),
    "attention": ("#fcd5b4", "#c0622d"),
    "recurrent": ("#e1d5f0", "#6b4c9a"),
    "embedding": ("#f8d0dc", "#b0466a"),
    "activation": ("#eeeeee", "#555555"),
    "tensor": ("#ffffff", "#777777"),
    "output": ("#e6e6e6", "#555555"),
    "plain": ("#ffffff", "#333333"),
}
INK = "#222222"      # text and arrows
MUTED = "#777777"    # shapes, notes
ACCENT = "#c0392b"   # gradients, highlights, what the caption asks you to look at
SIZES = {"title": 11, "label": 9.5, "small": 8.5, "tiny": 7.5}


@dataclass(frozen=True)
class Box:
    """A drawn shape: its centre and size in inches, and whether it is round (an operation).

    Example:
        >>> box = Box(1.0, 2.0, w=1.2, h=0.4)
        >>> box.top, box.right
        ((1.0, 2.2), (1.6, 2.0))
        >>> box.edge_towards((1.0, 5.0))  # straight up: leaves through the top edge
        (1.0, 2.2)
    """
    x: float
    y: float
    w: float
    h: float
    round: bool = False

    @property
    def top(self) -> tuple[float, float]:
        return self.x, self.y + self.h / 2

    @property
    def bottom(self) -> tuple[float, float]:
        return self.x, self.y - self.h / 2

    @property
    def left(self) -> tuple[float, float]:
        return self.x - self.w / 2, self.y

    @property
    def right(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y

    def edge_towards(self, point: tuple[float, float]) -> tuple[float, float]:
        """Where the line from the centre to `point` leaves the shape."""
        dx, dy = point[0] - self.x, point[1] - self.y
        if dx == dy == 0:
            return self.x, self.y
        if self.round:
            t = (self.w / 2) / (dx * dx + dy * dy) ** 0.5
        else:
            t = min(self.w / 2 / abs(dx) if dx else float("inf"),
                    self.h / 2 / abs(dy) if dy else float("inf"))
        return self.x + t * dx, self.y + t * dy


def _point(p) -> tuple[float, float]:
    return (p.x, p.y) if isinstance(p, Box) else (float(p[0]), float(p[1]))


class Diagram:
    """A blank page `width` by `height` inches to draw blocks, tensors, operations and arrows on.

    Example:
        >>> d = Diagram(3, 2)
        >>> x = d.tensor(1.5, 0.3, "(batch, 784)")
        >>> h = d.block(1.5, 1.2, "Linear", "dense")
        >>> _ = d.arrow(x, h)
        >>> _ = d.frame([h], "× 2")
        >>> texts(d.figure)
        ['(batch, 784)', 'Linear', '× 2']
    """

    def __init__(self, width: float, height: float):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if width <= 0 or height <= 0:
            raise ValueError(f"Diagram(): got width={width}, height={height}; both are inches "
                             "and must be positive")
        self.figure = Figure(figsize=(width, height), facecolor="white")
        FigureCanvasAgg(self.figure)  # a renderer, to measure text
        self.ax = self.figure.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(0, height)
        self.ax.set_aspect("equal")
        self.ax.axis("off")

    def block(self, x: float, y: float, text: str, kind: str = "dense", *, w: float = 1.3,
              h: float = 0.36, size: str = "label", dashed: bool = False) -> Box:
        """A layer: a rounded box centred at (x, y), filled with its kind's colour."""
        from matplotlib.patches import FancyBboxPatch

        if kind not in KINDS:
            raise ValueError(f"Diagram.block(): got kind={kind!r}; expected one of "
                             f"{', '.join(KINDS)}")
        fill, edge = KINDS[kind]
        pad = min(w, h) * 0.12
        self.ax.add_patch(FancyBboxPatch(
            (x - w / 2 + pad, y - h / 2 + pad), w - 2 * pad, h - 2 * pad,
            boxstyle=f"round,pad={pad}", facecolor=fill, edgecolor=edge, lw=1.2, zorder=2,
            linestyle="--" if dashed else "-"))
        if text:
            self.ax.text(x, y, text, ha="center", va="center", fontsize=SIZES[size],
                         color=INK, zorder=3)
        return Box(x, y, w, h)

    def tensor(self, x: float, y: float, text: str, *, w: float | None = None,
               h: float = 0.26) -> Box:
        """A tensor: its name or shape in small type on a white box with a thin grey edge."""
        w = w if w is not None else 0.3 + 0.068 * len(text)
        return self.block(x, y, text, "tensor", w=w, h=h, size="small")

    def op(self, x: float, y: float, symbol: str, kind: str = "plain", *,
           r: float = 0.15) -> Box:
        """An operation node (+, ⊙, σ, tanh, softmax ...): a circle with its symbol."""
        from matplotlib.patches import Circle

        fill, edge = KINDS["activation" if kind == "activation" else kind]
        self.ax.add_patch(Circle((x, y), r, facecolor=fill, edgecolor=edge, lw=1.2, zorder=2))
        size = "label" if len(symbol) <= 2 else "tiny"
        self.ax.text(x, y, symbol, ha="center", va="center", fontsize=SIZES[size], color=INK,
                     zorder=3)
        return Box(x, y, 2 * r, 2 * r, round=True)

    def arrow(self, start, end, text: str = "", *, via=(), colour: str = INK,
              dashed: bool = False, head: bool = True, text_side: str = "right"):
        """An arrow from `start` to `end` (points or Boxes, clipped to their edges), through
        the corner points `via`, with an optional label beside its middle segment."""
        from matplotlib.patches import FancyArrowPatch
        from matplotlib.path import Path

        points = [_point(start), *map(_point, via), _point(end)]
        if isinstance(start, Box):
            points[0] = start.edge_towards(points[1])
        if isinstance(end, Box):
            points[-1] = end.edge_towards(points[-2])
        codes = [Path.MOVETO] + [Path.LINETO] * (len(points) - 1)
        patch = FancyArrowPatch(path=Path(points, codes), arrowstyle="-|>" if head else "-",
                                mutation_scale=9, color=colour, lw=1.1, zorder=1,
                                linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0)
        self.ax.add_patch(patch)
        if text:
            k = len(points) // 2
            (x0, y0), (x1, y1) = points[k - 1], points[k]
            dx = 0.06 if text_side == "right" else -0.06
            self.ax.text((x0 + x1) / 2 + dx, (y0 + y1) / 2, text, fontsize=SIZES["tiny"],
                         color=colour if colour != INK else MUTED, va="center",
                         ha="left" if text_side == "right" else "right", zorder=3)
        return patch

    def frame(self, boxes, text: str = "", *, pad: float = 0.14, colour: str = MUTED) -> Box:
        """A dashed frame around `boxes`, e.g. a block repeated N times, labelled at its
        right-hand side."""
        from matplotlib.patches import FancyBboxPatch

        x0 = min(b.x - b.w / 2 for b in boxes) - pad
        x1 = max(b.x + b.w / 2 for b in boxes) + pad
        y0 = min(b.y - b.h / 2 for b in boxes) - pad
        y1 = max(b.y + b.h / 2 for b in boxes) + pad
        self.ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0.02",
                                         fill=False, edgecolor=colour, lw=1, linestyle="--",
                                         zorder=0))
        if text:
            self.ax.text(x1 + 0.08, (y0 + y1) / 2, text, fontsize=SIZES["label"], color=INK,
                         va="center", ha="left")
        return Box((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)

    def label(self, x: float, y: float, text: str, *, size: str = "small",
              colour: str = INK, ha: str = "center", va: str = "center", **kwargs):
        """Free text: a note, a title or a shape."""
        return self.ax.text(x, y, text, fontsize=SIZES[size], color=colour, ha=ha, va=va,
                            zorder=3, **kwargs)

    def grid(self, x: float, y: float, values, *, cell: float = 0.3, kind: str = "tensor",
             highlight=None, fmt: str = "{:g}", title: str = "", fills=None,
             faded=None) -> Box:
        """A matrix of numbers with its lower-left corner at (x, y); `highlight` is a
        (row, col, rows, cols) window drawn in the accent colour; `fills` gives each cell its
        own colour and `faded[i][j]` draws a cell pale and dashed (a copy never stored)."""
        from matplotlib.patches import Rectangle

        rows = [list(r) for r in values]
        fill, edge = KINDS[kind]
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                cx, cy = x + j * cell, y + (len(rows) - 1 - i) * cell
                pale = bool(faded[i][j]) if faded is not None else False
                self.ax.add_patch(Rectangle(
                    (cx, cy), cell, cell, facecolor=fills[i][j] if fills else fill,
                    edgecolor=MUTED if pale else edge, lw=0.8, zorder=2,
                    alpha=0.4 if pale else 1, linestyle="--" if pale else "-"))
                text = value if isinstance(value, str) else fmt.format(float(value))
                self.ax.text(cx + cell / 2, cy + cell / 2, text, ha="center", va="center",
                             fontsize=SIZES["small"], color=MUTED if pale else INK, zorder=3)
        w, h = cell * len(rows[0]), cell * len(rows)
        if highlight is not None:
            r, c, nr, nc = highlight
            self.ax.add_patch(Rectangle((x + c * cell, y + h - (r + nr) * cell), nc * cell,
                                        nr * cell, fill=False, edgecolor=ACCENT, lw=2.2,
                                        zorder=4))
        if title:
            self.label(x + w / 2, y + h + 0.16, title, size="label")
        return Box(x + w / 2, y + h / 2, w, h)


def texts(figure) -> list[str]:
    """Every text drawn on a figure, in drawing order: what a test checks a diagram says.

    Example:
        >>> d = Diagram(1, 1)
        >>> _ = d.label(0.5, 0.5, "hello")
        >>> texts(d.figure)
        ['hello']
    """
    return [t.get_text() for ax in figure.axes for t in ax.texts if t.get_text()]
