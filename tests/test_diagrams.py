"""draw_network: one circle per unit, edges between neighbouring layers, dropped units crossed."""
import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from d2lite.diagrams import draw_network  # noqa: E402


def test_units_and_edges_are_drawn():
    ax = draw_network([2, 3, 1], layer_names=["in", "hidden", "out"]).axes[0]
    assert len(ax.patches) == 6 and len(ax.lines) == 2 * 3 + 3 * 1
    assert [t.get_text() for t in ax.texts] == ["in", "hidden", "out"]


def test_dropped_units_lose_their_edges_and_ellipses_have_none():
    ax = draw_network([2, 3, 1], dropped={1: [1]}).axes[0]
    assert len(ax.lines) == 2 * 2 + 2 * 1 + 2  # kept edges, and the cross of the dropped unit
    ax = draw_network([3, 1], labels=[["$x_1$", "...", "$x_d$"], ["$o$"]]).axes[0]
    assert len(ax.lines) == 2 and "⋮" in [t.get_text() for t in ax.texts]


def test_bad_layers_are_explained():
    with pytest.raises(ValueError, match=r"draw_network\(\): got layers=\[3\]"):
        draw_network([3])


def test_a_long_label_is_shrunk_to_fit_inside_its_unit():
    ax = draw_network([2, 1], labels=[["$x_1$", "$x_{784}$"], ["$o$"]],
                      figsize=(2.2, 1.6)).axes[0]
    renderer = ax.figure.canvas.get_renderer()
    for circle, text in zip(ax.patches, ax.texts, strict=True):
        box, disc = text.get_window_extent(renderer), circle.get_window_extent(renderer)
        assert disc.x0 < box.x0 and box.x1 < disc.x1, (text.get_text(), box, disc)
    sizes = {text.get_text(): text.get_fontsize() for text in ax.texts}
    assert sizes["$x_1$"] == 9 and sizes["$x_{784}$"] < 9  # only the long one shrinks


def test_every_kind_of_layer_has_its_own_colour_and_a_darker_edge():
    from matplotlib.colors import to_rgb

    from d2lite.diagrams import KINDS

    layers = ["dense", "conv", "pooling", "norm", "attention", "recurrent", "embedding"]
    fills = [KINDS[k][0] for k in layers]
    assert len(set(fills)) == len(layers)
    for fill, edge in KINDS.values():
        assert sum(to_rgb(edge)) < sum(to_rgb(fill)), (fill, edge)  # ink on a pale fill


def test_a_diagram_is_drawn_in_inches_and_arrows_stop_at_box_edges():
    from d2lite.diagrams import Box, Diagram, texts

    d = Diagram(3, 2)
    a, b = d.block(1.5, 0.4, "a", "conv"), d.op(1.5, 1.5, "+")
    assert isinstance(a, Box) and b.round
    d.arrow(a, b)  # from where the line between the centres leaves a to where it enters b
    assert a.edge_towards((b.x, b.y)) == a.top
    assert b.edge_towards((a.x, a.y)) == pytest.approx((1.5, 1.5 - 0.15))
    assert d.figure.get_size_inches().tolist() == [3, 2] and texts(d.figure) == ["a", "+"]
    with pytest.raises(ValueError, match=r"Diagram.block\(\): got kind='convolution'"):
        d.block(1, 1, "x", "convolution")


def test_layer_stack_writes_the_shapes_of_a_forward_pass():
    import torch
    from torch import nn

    from d2lite.diagrams import layer_stack, texts

    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.LazyLinear(5)).train()
    fig = layer_stack(net, (2, 3, 32, 32))
    x, shapes = torch.zeros(2, 3, 32, 32), []
    with torch.no_grad():
        for layer in net:
            x = layer(x)
            shapes.append("(batch, " + ", ".join(map(str, x.shape[1:])) + ")")
    drawn = texts(fig)
    assert drawn[1] == "3×3 conv, 8, stride 2 · relu" and "2×2 max pool" in drawn
    assert all(s in drawn for s in shapes) and net.training  # the mode is restored
