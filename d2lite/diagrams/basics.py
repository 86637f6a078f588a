"""Diagrams of the first three chapters: tensors in memory, broadcasting, computation graphs and
a network with its forward values and backward gradients."""
from __future__ import annotations

from .canvas import ACCENT, MUTED, Box, Diagram

__all__ = ["storage_views", "broadcast_sum", "computation_graph", "backprop_network"]


def _shade(offset: float, top: float) -> str:
    """A pale-to-mid blue for offset in [0, top]: cells that share memory share a colour."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return to_hex(colormaps["YlGnBu"](0.08 + 0.5 * offset / max(top, 1)))


def storage_views(views: dict) -> object:
    r"""Draw one storage and several 2-D views of it: the storage as a strip of cells on top, each
    view below as a grid whose cells take the colour of their offset in the storage.

    Example:
        >>> import torch
        >>> grid = torch.arange(6).view(2, 3)
        >>> fig = storage_views({"grid": grid, "grid.t()": grid.t()})
        >>> from d2lite.diagrams import texts
        >>> [t.split("\n")[0] for t in texts(fig) if "stride" in t]
        ['grid: shape (2, 3), stride (3, 1)', 'grid.t(): shape (3, 2), stride (1, 3)']
    """
    import torch

    if not views or any(v.dim() != 2 for v in views.values()):
        raise ValueError("storage_views(): expected a dict of 2-D views of one tensor, e.g. "
                         "{'grid': grid, 'grid.t()': grid.t()}")
    first = next(iter(views.values()))
    size = first.untyped_storage().nbytes() // first.element_size()
    storage = torch.as_strided(first, (size,), (1,), 0)
    cell, gap = 0.3, 1.2
    width = max(size * cell + 0.4, sum(v.shape[1] * cell + gap for v in views.values()) + 0.4)
    tallest = max(v.shape[0] for v in views.values())
    d = Diagram(width, tallest * cell + 1.9)
    top = d.figure.get_figheight() - 0.65
    x0 = (width - size * cell) / 2
    d.grid(x0, top, [storage.tolist()], cell=cell,
           fills=[[_shade(k, size - 1) for k in range(size)]],
           title=f"storage: {size} numbers in one row of memory, offsets 0 to {size - 1}")
    x = (width - sum(v.shape[1] * cell + gap for v in views.values()) + gap) / 2
    for name, view in views.items():
        rows, cols = view.shape
        offsets = [[view.storage_offset() + i * view.stride(0) + j * view.stride(1)
                    for j in range(cols)] for i in range(rows)]
        y = top - 0.75 - rows * cell
        d.grid(x, y, view.tolist(), cell=cell,
               fills=[[_shade(o, size - 1) for o in row] for row in offsets])
        d.label(x + cols * cell / 2, y + rows * cell + 0.25,
                f"{name}: shape {tuple(view.shape)}, stride {view.stride()}\n"
                f"next row +{view.stride(0)}, next column +{view.stride(1)}", size="tiny")
        x += cols * cell + gap
    return d.figure


def broadcast_sum(a, b, names: tuple[str, str] = ("a", "b")) -> object:
    """Draw `a + b` for two small integer tensors that broadcast to a 2-D shape: each operand
    stretched to the result's shape, its stretched copies pale and dashed (never stored);
    `names` are the operands' names as the lesson writes them.

    Example:
        >>> import torch
        >>> fig = broadcast_sum(torch.tensor([[0], [10]]), torch.tensor([0, 1, 2]))
        >>> from d2lite.diagrams import texts
        >>> [t for t in texts(fig) if ":" in t]
        ['a: (2, 1) → (2, 3)', 'b: (3,) → (1, 3) → (2, 3)', 'a + b: (2, 3)']
    """
    import torch

    try:
        shape = torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError as error:
        raise ValueError(f"broadcast_sum(): shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                         f"broadcast ({error})") from None
    if len(shape) != 2:
        raise ValueError(f"broadcast_sum(): the result has shape {tuple(shape)}; expected a "
                         "2-D result, which a page can show")
    total = a + b
    top = max(int(total.max()), 1)
    cell, gap = 0.3, 0.55
    rows, cols = shape
    d = Diagram(3 * cols * cell + 2 * gap + 0.4, rows * cell + 0.7)
    x = 0.2
    for name, t in ((names[0], a), (names[1], b), (" + ".join(names), total)):
        wide = t.expand(shape)
        padded = (1,) * (2 - t.dim()) + tuple(t.shape)  # shapes line up from the right
        faded = [[(padded[0] == 1 and i > 0) or (padded[1] == 1 and j > 0)
                  for j in range(cols)] for i in range(rows)] if t is not total else None
        d.grid(x, 0.15, wide.tolist(), cell=cell, faded=faded,
               fills=[[_shade(float(v), top) for v in row] for row in wide.tolist()])
        how = (f"{tuple(t.shape)} → " + (f"{padded} → " if t.dim() < 2 else "")
               if t is not total else "")
        d.label(x + cols * cell / 2, rows * cell + 0.4, f"{name}: {how}{tuple(shape)}",
                size="tiny")
        if t is not total:
            d.label(x + cols * cell + gap / 2, 0.15 + rows * cell / 2,
                    "+" if t is a else "=", size="title")
        x += cols * cell + gap
    return d.figure


def _layers(edges: dict) -> tuple[dict, dict]:
    """A row for each node of a DAG {node: [nodes it points to]}: one below its lowest parent
    (walked in Kahn's order), sources moved down to sit just above their first consumer; and
    each node's parents."""
    parents = {n: [] for n in edges}
    for n, targets in edges.items():
        for t in targets:
            parents.setdefault(t, []).append(n)
    waiting = {n: len(ps) for n, ps in parents.items()}
    ready, row = [n for n, k in waiting.items() if k == 0], {}
    while ready:
        n = ready.pop(0)
        row[n] = max((row[p] + 1 for p in parents[n]), default=0)
        for t in edges.get(n, ()):
            waiting[t] -= 1
            if waiting[t] == 0:
                ready.append(t)
    if len(row) < len(parents):
        raise ValueError("computation_graph(): the edges hold a cycle; a computation graph "
                         "is acyclic")
    for n in row:
        if not parents[n] and edges.get(n):
            row[n] = min(row[t] for t in edges[n]) - 1
    return row, parents


def computation_graph(edges: dict, labels: dict, title: str = "") -> object:
    r"""Draw a computation graph {node: [nodes it points to]} from the top down: a box per node
    with its label, an arrow per edge (an arrow that skips rows bends around the others).

    Example:
        >>> fig = computation_graph({"x": ["y"], "w": ["y"], "y": []},
        ...                         {"x": "x", "w": "w", "y": "y\nmul"})
        >>> from d2lite.diagrams import texts
        >>> sorted(texts(fig))
        ['w', 'x', 'y\nmul']
    """
    row, parents = _layers(edges)
    rows = [sorted((n for n in row if row[n] == r), key=lambda n: bool(parents[n]))
            for r in range(max(row.values()) + 1)]
    sizes = {n: (0.3 + 0.075 * max(map(len, str(labels[n]).split("\n"))),
                 0.14 + 0.2 * len(str(labels[n]).split("\n"))) for n in row}
    width = max(4.0, max(sum(sizes[n][0] + 0.4 for n in r) for r in rows) + 0.6)
    step = max(h for _, h in sizes.values()) + 0.4
    height = step * len(rows) + (0.45 if title else 0.1)
    d = Diagram(width, height)
    box: dict = {}
    for r, names in enumerate(rows):
        for i, n in enumerate(names):
            x, y = width * (i + 1) / (len(names) + 1), height - (0.45 if title else 0.1) \
                - step * (r + 0.5)
            box[n] = d.block(x, y, str(labels[n]), "plain", w=sizes[n][0], h=sizes[n][1],
                             size="small")
    for n, targets in edges.items():
        for t in targets:
            a, b = box[n], box[t]
            if row[t] - row[n] > 1:  # around the rows between, on the outer side
                side = -1 if a.x < width / 2 else 1
                x = max(a.x + a.w / 2, b.x + b.w / 2) + 0.25 if side > 0 \
                    else min(a.x - a.w / 2, b.x - b.w / 2) - 0.25
                d.arrow(Box(a.x, a.y, a.w, a.h), b, via=[(x, a.y), (x, b.y)])
            else:
                d.arrow(a, b)
    if title:
        d.label(width / 2, height - 0.22, title, size="label")
    return d.figure


def backprop_network(layers, text: dict, edges: dict, node_grads: dict,
                     edge_grads: dict) -> object:
    r"""Draw a small network with both passes: each neuron's forward values (black) and the
    gradient of the output with respect to its weighted sum (red), and on each connection its
    weight's name and gradient (red). `layers` lists the node names column by column.

    Example:
        >>> fig = backprop_network([["x"], ["u"]], {"x": "x = 1", "u": "u = 2"},
        ...                        {"w": ("x", "u")}, {"u": 1.0}, {"w": 0.5})
        >>> from d2lite.diagrams import texts
        >>> texts(fig)
        ['x = 1', 'u = 2', '+1.000', 'w\n+0.500']
    """
    tallest = max(len(column) for column in layers)
    size = {n: (0.25 + 0.068 * max(map(len, text[n].split("\n"))),
                0.1 + 0.2 * len(text[n].split("\n"))) for column in layers for n in column}
    widths = [max(size[n][0] for n in column) for column in layers]
    gap_x, gap_y = 0.8, 1.15  # room between columns for the weights' labels
    xs = [0.2 + sum(widths[:i]) + gap_x * i + widths[i] / 2 for i in range(len(layers))]
    d = Diagram(xs[-1] + widths[-1] / 2 + 0.2, gap_y * (tallest - 1) + 1.3)
    box = {}
    for i, column in enumerate(layers):
        for j, n in enumerate(column):
            y = 0.65 + gap_y * ((tallest - 1) / 2 + (len(column) - 1) / 2 - j)
            box[n] = d.block(xs[i], y, text[n], "dense" if i else "tensor", w=size[n][0],
                             h=size[n][1], size="small")
            if n in node_grads:  # above a top-row neuron, below the others
                below = -1 if j else 1
                d.label(xs[i], y + below * (box[n].h / 2 + 0.13),
                        f"{float(node_grads[n]):+.3f}", colour=ACCENT)
    for name, (a, b) in edges.items():
        start, end = box[a].right, box[b].left
        d.arrow(start, end, colour=MUTED)
        t = 0.5 if start[1] == end[1] else 0.3  # crossing arrows: label near the start
        d.label(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]),
                f"{name}\n{float(edge_grads[name]):+.3f}", size="tiny", colour=ACCENT,
                bbox={"fc": "white", "ec": "none", "pad": 0.5})
    return d.figure

