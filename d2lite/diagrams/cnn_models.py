"""Blocks and whole networks of chapter 4, drawn from the lesson's own modules: labels and
shapes come from the module and a forward pass of zeros (eval mode, no gradients, the mode
restored), so the picture cannot drift from the code. Data flows up."""
from __future__ import annotations

from itertools import groupby

from .canvas import ACCENT, MUTED, Box, Diagram
from .network import FOLDED, describe, shape_text

__all__ = ["batch_norm_position", "cnn_stack", "dense_block", "fine_tuning", "residual_block",
           "vgg_block"]


def _trace(net, input_shape, modules) -> dict:
    """Output shapes of `modules` (key: id; their inputs' under -id) and of `net` ("out") in
    one forward pass of zeros of `input_shape`."""
    import torch

    seen: dict = {}

    def hook(module, inputs, output):
        seen[id(module)], seen[-id(module)] = tuple(output.shape), tuple(inputs[0].shape)

    hooks = [m.register_forward_hook(hook) for m in modules]
    first, was_training = next(iter(net.parameters()), None), net.training
    net.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(tuple(input_shape), device=None if first is None else first.device)
            seen["out"] = tuple(net(x).shape)
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    return seen


def _name(layer) -> str:
    """Short names inside a row: 'BN' for batch norm, activations as they are spelled."""
    kind = type(layer).__name__
    if kind.startswith("BatchNorm"):
        return "BN"
    return ("dropout" if kind == "Dropout" else kind) if kind in FOLDED else describe(layer)[0]


def _units(layers, *, short: bool = False) -> list[list]:
    """A run of layers as units [text, kind, last layer]: activations (and batch norm after a
    conv or dense layer) fold into the layer before them."""
    units: list[list] = []
    for layer in layers:
        kind = type(layer).__name__
        folds = kind in FOLDED or (kind.startswith("BatchNorm") and units
                                   and units[-1][1] in ("conv", "dense"))
        if folds and units:
            units[-1][0] += " · " + _name(layer)
            units[-1][2] = layer
            continue
        text, what = describe(layer)
        text = _name(layer).split(", pad")[0] if short else text
        units.append([text, what if not kind.startswith("BatchNorm") else "norm", layer])
    return units


def _block_row(module) -> list | None:
    """One row [text, kind, module] for a block drawn as a single box, or None."""
    from torch import nn

    if hasattr(module, "conv1") and hasattr(module, "bn2"):          # a residual block
        c, s = module.conv1, module.conv1.stride[0]
        return [f"residual block, {c.out_channels}" + f", stride {s}" * (s != 1) + ", 1×1 "
                "shortcut" * (getattr(module, "conv3", None) is not None), "conv", module]
    if hasattr(module, "convs") and hasattr(module, "out_channels"):  # a dense block
        inner = " · ".join(u[0] for u in _units(module.convs[0], short=True))
        return [f"dense block: {len(module.convs)} × ({inner})", "conv", module]
    if isinstance(module, nn.Sequential):
        units = _units(module, short=True)  # repeated units: "2 × (3×3 conv, 32 · ReLU)"
        runs = [(text, len(list(run))) for text, run in groupby(u[0] for u in units)]
        joined = " · ".join(t if n == 1 else f"{n} × ({t})" for t, n in runs)
        pools = [type(m).__name__ for m in module]
        prefix = ("transition: " if "AvgPool2d" in pools and "Conv2d" in pools else
                  "VGG block: " if "MaxPool2d" in pools and "Conv2d" in pools else "")
        return [prefix + joined, units[0][1] if units[0][1] != "norm" else "conv", module]
    return None


def _part_rows(part) -> list[list]:
    """The rows of one part of a model (a Sequential of layers and blocks)."""
    from torch import nn

    rows, run = [], []
    for child in list(part) if isinstance(part, nn.Sequential) else [part]:
        row = _block_row(child) if list(child.children()) else None
        rows, run = (rows + _units(run) + [row], []) if row else (rows, run + [child])
    return rows + _units(run)


def _chain(d: Diagram, cx: float, y: float, rows, *, step: float, w: float, below=None,
           shapes=()) -> list[Box]:
    """Boxes (text, kind) up from height `y`, each with an arrow from the one below (first
    from `below`); `shapes[k]`, if given, is written beside the arrow into box k."""
    boxes = []
    for k, (text, kind) in enumerate(rows):
        box = d.block(cx, y + step * k, text, kind, w=w, h=0.3,
                      size="small" if len(text) <= 15 * w else "tiny")
        if below is not None:
            d.arrow(below, box)
        if k < len(shapes) and shapes[k]:
            d.label(cx + 0.06, (below.y + below.h / 2 + box.y - box.h / 2) / 2, shapes[k],
                    size="tiny", colour=MUTED, ha="left")
        below = box
        boxes.append(box)
    return boxes


def cnn_stack(net, input_shape):
    """A network as a column of rows, input at the bottom, each top-level part (`features`,
    `head`; `stem`, `stages` ...) framed and named, the shape between two rows from a forward
    pass. Activations fold into the row before; a VGG, residual or dense block is one row.

    Example:
        >>> from d2lite.models import LeNet
        >>> from d2lite.diagrams import texts
        >>> fig = cnn_stack(LeNet(), (1, 1, 28, 28))
        >>> texts(fig)[:3], [t for t in texts(fig) if t.startswith("(")][-3:]
        (['(batch, 1, 28, 28)', '5×5 conv, 6, pad 2 · ReLU', '2×2 max pool'], \
['(batch, 120)', '(batch, 84)', '(batch, 10)'])
    """
    from torch import nn

    parts = [(None, net)] if isinstance(net, nn.Sequential) else list(net.named_children())
    groups = [(name, _part_rows(part)) for name, part in parts]
    rows = [row for _, group in groups for row in group]
    if not rows or len(input_shape) < 2:
        raise ValueError(f"cnn_stack(): got a {type(net).__name__} with {len(rows)} layers and "
                         f"input_shape={tuple(input_shape)}; expected layers and a shape with a "
                         "batch axis, e.g. (1, 1, 28, 28)")
    shapes = _trace(net, input_shape, [row[2] for row in rows])
    if shapes.get(id(rows[-1][2])) != shapes["out"]:
        raise ValueError(f"cnn_stack(): the last row of {type(net).__name__} does not make its "
                         "output; expected a model that runs its parts in order")
    step, gap, cx = 0.56, 0.3, 1.8
    d = Diagram(4.5, 0.95 + step * len(rows) + gap * (len(groups) - 1))
    below, prev, y = d.tensor(cx, 0.3, shape_text(input_shape)), None, 0.88
    for name, group in groups:
        labels = [shape_text(shapes[id(m)]) if m else "" for m in [prev] + [r[2] for r in group]]
        boxes = _chain(d, cx, y, [row[:2] for row in group], step=step, w=3.2, below=below,
                       shapes=labels)
        if name is not None and len(groups) > 1:
            d.frame(boxes, name)
        below, prev, y = boxes[-1], group[-1][2], boxes[-1].y + step + gap
    d.arrow(below, d.tensor(cx, below.y + step * 0.8, shape_text(shapes["out"])))
    return d.figure


def vgg_block(block, input_shape):
    """A VGG block from the lesson's `nn.Sequential`: its 3 × 3 convolution and ReLU in a frame
    marked with how often they repeat, then the max-pool; the shapes from a forward pass.

    Example:
        >>> from torch import nn
        >>> from d2lite.diagrams import texts
        >>> block = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        ...                       nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        >>> texts(vgg_block(block, (4, 3, 32, 32)))
        ['(batch, 3, 32, 32)', '3×3 conv, 8, pad 1', 'ReLU', '× 2', '2×2 max pool', \
'(batch, 8, 32, 32)', '(batch, 8, 16, 16)']
    """
    layers = list(block)
    convs = [m for m in layers if type(m).__name__ == "Conv2d"]
    if not convs or type(layers[-1]).__name__ != "MaxPool2d":
        raise ValueError(f"vgg_block(): got layers {[type(m).__name__ for m in layers]}; "
                         "expected convolutions with activations, then a MaxPool2d")
    shapes = _trace(block, input_shape, [layers[-2]])
    d = Diagram(3.0, 2.9)
    x = d.tensor(1.05, 0.25, shape_text(input_shape))
    conv, act = _chain(d, 1.05, 0.9, [(describe(convs[0])[0], "conv"),
                                      (_name(layers[1]), "activation")], step=0.45, w=1.6, below=x)
    d.frame([conv, act], f"× {len(convs)}")
    pool = _chain(d, 1.05, 2.2, [(describe(layers[-1])[0], "pooling")], step=0, w=1.6,
                  below=act, shapes=[shape_text(shapes[id(layers[-2])])])[0]
    d.arrow(pool, d.tensor(1.05, 2.7, shape_text(shapes["out"])))
    return d.figure


def _residual_panel(d: Diagram, x0: float, block, shapes, input_shape, title: str) -> None:
    """One residual block: the main path up the middle, the shortcut on the right."""
    cx, sx, y = x0 + 0.83, x0 + 2.03, 0.25
    x = d.tensor(cx, y, shape_text(input_shape))
    split = (cx, y + 0.33)
    d.arrow(x, split, head=False)
    below = _chain(d, cx, y + 0.7, [(describe(block.conv1)[0].replace(", pad 1", ""), "conv"),
                                    ("batch norm", "norm"), ("ReLU", "activation"),
                                    (describe(block.conv2)[0].replace(", pad 1", ""), "conv"),
                                    ("batch norm", "norm")], step=0.45, w=1.38, below=split)[-1]
    add = d.op(cx, below.y + 0.5, "+")
    d.arrow(below, add)
    relu = _chain(d, cx, add.y + 0.45, [("ReLU", "activation")], step=0, w=1.38, below=add)[0]
    d.arrow(relu, out := d.tensor(cx, relu.y + 0.5, shape_text(shapes["out"])))
    if (c := block.conv3) is None:
        d.arrow(split, add, via=[(sx, split[1]), (sx, add.y)])
    else:
        label = f"1×1 conv, {c.out_channels}" + f"\nstride {c.stride[0]}" * (c.stride[0] != 1)
        short = d.block(sx, (split[1] + add.y) / 2, label, "conv", w=0.78, h=0.42, size="tiny")
        d.arrow(split, short, via=[(sx, split[1])])
        d.arrow(short, add, via=[(sx, add.y)])
    d.label(x0 + 1.2, out.y + 0.38, title, size="label")


def residual_block(blocks, input_shape):
    """Residual blocks side by side, from the lesson's modules: 3 × 3 convolutions with batch
    norm up the middle, the shortcut (identity or 1 × 1 convolution) on the right, added (+)
    before the last ReLU; input and output shapes from a forward pass.

    Example:
        >>> from d2lite.models import Residual
        >>> from d2lite.diagrams import texts
        >>> fig = residual_block([Residual(16, 16), Residual(16, 32, 2, True)], (4, 16, 14, 14))
        >>> [t for t in texts(fig) if "shortcut" in t or "1×1" in t]
        ['identity shortcut', '1×1 conv, 32\\nstride 2', '1×1 convolution shortcut']
        >>> [t for t in texts(fig) if t.startswith("(batch")]
        ['(batch, 16, 14, 14)', '(batch, 16, 14, 14)', '(batch, 16, 14, 14)', \
'(batch, 32, 7, 7)']
    """
    blocks = list(blocks) if isinstance(blocks, (list, tuple)) else [blocks]
    if not blocks or not all(hasattr(b, "conv1") and hasattr(b, "conv3") for b in blocks):
        raise ValueError(f"residual_block(): got {[type(b).__name__ for b in blocks]}; "
                         "expected residual blocks with conv1, bn1, conv2, bn2 and conv3")
    d = Diagram(2.45 * len(blocks), 4.7)
    for k, block in enumerate(blocks):
        shapes = _trace(block, input_shape, [])
        title = "identity shortcut" if block.conv3 is None else "1×1 convolution shortcut"
        _residual_panel(d, 2.45 * k, block, shapes, input_shape, title)
    return d.figure


def dense_block(block, input_shape):
    """A dense block from the lesson's module: each unit reads everything so far, and its output
    is concatenated ([ ]) to it along the channels, so the channels (on the left) grow by the
    growth rate at every unit; the shapes come from a forward pass.

    Example:
        >>> from d2lite.models import DenseBlock
        >>> from d2lite.diagrams import texts
        >>> fig = dense_block(DenseBlock(2, 3, growth_rate=10), (4, 3, 8, 8))
        >>> [t for t in texts(fig) if "channels" in t]
        ['3 channels', '3 + 10 = 13 channels', '13 + 10 = 23 channels']
    """
    convs = list(getattr(block, "convs", []))
    if not convs:
        raise ValueError(f"dense_block(): got a {type(block).__name__}; expected a dense block "
                         "with a list of conv blocks in `convs`")
    shapes = _trace(block, input_shape, convs)
    d, tx, ux, channels = Diagram(4.6, 0.9 + 1.15 * len(convs)), 2.22, 3.74, input_shape[1]
    x = d.tensor(tx, 0.3, shape_text(input_shape))
    d.label(tx - x.w / 2 - 0.1, x.y, f"{channels} channels", size="tiny", colour=MUTED,
            ha="right")
    for conv in convs:
        y = x.y
        inner = " · ".join(u[0] for u in _units(conv, short=True))
        unit = d.block(ux, y + 0.45, inner, "conv", w=1.5, h=0.3, size="tiny")
        cat = d.op(tx, y + 0.8, "[ ]")
        d.arrow(x, unit, via=[(ux, y)])
        d.arrow(unit, cat, via=[(ux, cat.y)])
        d.arrow(x, cat)
        grown = shapes[id(conv)][1]
        x = d.tensor(tx, y + 1.15, shape_text((0, channels + grown, *shapes[id(conv)][2:])))
        d.arrow(cat, x)
        d.label(tx - x.w / 2 - 0.1, x.y, f"{channels} + {grown} = {channels + grown} channels",
                size="tiny", colour=MUTED, ha="right")
        channels += grown
    d.label(tx, x.y + 0.32, f"dense block, growth rate {shapes[id(convs[0])][1]}",
            size="label")
    return d.figure


def _find(net, first: str, norm: str):
    """The first [layer, batch norm, activation] run in `net`'s Sequentials, or None."""
    from torch import nn

    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        layers = list(seq)
        for a, b, c in zip(layers, layers[1:], layers[2:], strict=False):
            if (type(a).__name__, type(b).__name__) == (first, norm) and \
                    type(c).__name__ in FOLDED:
                return [a, b, c]
    return None


def batch_norm_position(net, input_shape):
    """Where batch normalization sits in the lesson's model: after a convolution (or a dense
    layer) and before its activation, one column for each kind the model has, with the shapes
    from a forward pass and what each BN layer normalises over.

    Example:
        >>> from d2lite.models import LeNet
        >>> from d2lite.diagrams import texts
        >>> fig = batch_norm_position(LeNet(batch_norm=True), (1, 1, 28, 28))
        >>> [t for t in texts(fig) if "per" in t]
        ['per channel\\nover batch, h, w', 'per feature\\nover batch']
    """
    runs = [(r, note, title) for r, note, title in [
        (_find(net, "Conv2d", "BatchNorm2d"), "per channel\nover batch, h, w", "convolution"),
        (_find(net, "Linear", "BatchNorm1d"), "per feature\nover batch", "dense layer")] if r]
    if not runs:
        raise ValueError(f"batch_norm_position(): got a {type(net).__name__} with no layer "
                         "followed by batch norm and an activation; expected e.g. "
                         "LeNet(batch_norm=True)")
    shapes = _trace(net, input_shape, [m for run, *_ in runs for m in run])
    d = Diagram(2.4 * len(runs), 3.15)
    for k, (run, note, title) in enumerate(runs):
        cx = 2.4 * k + 0.85
        below = d.tensor(cx, 0.25, shape_text(shapes[-id(run[0])]))
        kinds = ("conv" if title == "convolution" else "dense", "norm", "activation")
        _, bn, below = _chain(d, cx, 0.8, [(describe(run[0])[0], kinds[0]),
                                           ("batch norm", "norm"), (_name(run[2]), kinds[2])],
                              step=0.6, w=1.4, below=below,
                              shapes=[""] + [shape_text(shapes[id(m)]) for m in run[:2]])
        d.label(cx + 0.75, bn.y, note, size="tiny", colour=ACCENT, ha="left")
        d.arrow(below, d.tensor(cx, below.y + 0.55, shape_text(shapes[id(run[-1])])))
        d.label(cx, 2.95, title, size="label")
    return d.figure


def _hatch(d: Diagram, box: Box) -> None:
    """Grey diagonal hatching over a box: the parts that are frozen."""
    from matplotlib.patches import Rectangle

    d.ax.add_patch(Rectangle((box.x - box.w / 2 + 0.04, box.y - box.h / 2 + 0.04),
                             box.w - 0.08, box.h - 0.08, fill=False, hatch="///",
                             edgecolor="#c4c4c4", lw=0, zorder=2.5))


def _column(d: Diagram, cx: float, net, shapes, input_shape, top: float, *, frozen: bool,
            new: bool) -> Box:
    """One network as input, features (one block listing its layers), head, output."""
    feats = "\n".join(u[0] for u in _units(net.features))
    head = "\n".join(u[0] for u in _units(_layers(net.head)))
    x = d.tensor(cx, 0.75, shape_text(input_shape))
    nf, nh = feats.count("\n") + 1, head.count("\n") + 1
    f = d.block(cx, 1.35 + 0.09 * nf, feats, "conv", w=1.75, h=0.18 * nf + 0.2, size="tiny",
                dashed=frozen)
    if frozen:
        _hatch(d, f)
    d.arrow(x, f)
    h = d.block(cx, f.y + f.h / 2 + 0.6 + 0.09 * nh, head, "dense", w=1.75, h=0.18 * nh + 0.2,
                size="tiny")
    d.arrow(f, h)
    d.label(cx + 0.06, f.y + f.h / 2 + 0.25, shape_text(shapes[id(net.features)]),
            size="tiny", colour=MUTED, ha="left")
    d.arrow(h, d.tensor(cx, top, shape_text(shapes["out"])))
    if new:
        d.label(cx - 0.95, h.y, "new", size="tiny", colour=ACCENT, ha="right")
    return f


def _layers(module) -> list:
    return list(module) if hasattr(module, "__iter__") else [module]


def fine_tuning(source, target, input_shape):
    """Transfer learning between the lesson's networks (`features`, then `head`): the target
    (right) copies the source's features and gets a new head; features frozen in the target
    (no parameter requires a gradient) are hatched; shapes from a forward pass.

    Example:
        >>> import copy
        >>> from torch import nn
        >>> from d2lite.models import LeNet
        >>> from d2lite.diagrams import texts
        >>> source = LeNet(num_classes=5)
        >>> target = copy.deepcopy(source)
        >>> target.head = nn.Linear(400, 5)
        >>> _ = target.features.requires_grad_(False)
        >>> [t for t in texts(fine_tuning(source, target, (1, 1, 28, 28))) if "frozen" in t]
        ['frozen: not trained']
    """
    for net in (source, target):
        if not (hasattr(net, "features") and hasattr(net, "head")):
            raise ValueError(f"fine_tuning(): got a {type(net).__name__}; expected networks "
                             "with `features` and `head`, like d2lite.models.LeNet")
    frozen = not any(p.requires_grad for p in target.features.parameters())
    tallest = max(len(_units(_layers(n.head))) for n in (source, target))
    top = 2.5 + 0.18 * len(_units(source.features)) + 0.18 * tallest
    d = Diagram(4.6, top + 0.5)
    boxes = []
    for k, net in enumerate((source, target)):
        shapes = _trace(net, input_shape, [net.features])
        cx = 1.15 + 2.3 * k
        boxes.append(_column(d, cx, net, shapes, input_shape, top, frozen=frozen and k == 1,
                             new=k == 1))
        d.label(cx, top + 0.32, ("source, pretrained", "target")[k], size="label")
    d.arrow(boxes[0], boxes[1], colour=ACCENT)
    d.label(2.3, boxes[0].y + 0.12, "copy", size="tiny", colour=ACCENT)
    if frozen:
        _hatch(d, d.block(1.0, 0.25, "", "conv", w=0.4, h=0.2, dashed=True))
        d.label(1.3, 0.25, "frozen: not trained", size="tiny", colour=MUTED, ha="left")
    return d.figure
