"""draw_network: one circle per unit, edges between neighbouring layers, dropped units crossed."""
import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from d2lite.diagrams import draw_network  # noqa: E402


def test_units_and_edges_are_drawn():
    ax = draw_network([2, 3, 1], layer_names=["in", "hidden", "out"])
    assert len(ax.patches) == 6 and len(ax.lines) == 2 * 3 + 3 * 1
    assert [t.get_text() for t in ax.texts] == ["in", "hidden", "out"]


def test_dropped_units_lose_their_edges_and_ellipses_have_none():
    ax = draw_network([2, 3, 1], dropped={1: [1]})
    assert len(ax.lines) == 2 * 2 + 2 * 1 + 2  # kept edges, and the cross of the dropped unit
    ax = draw_network([3, 1], labels=[["$x_1$", "...", "$x_d$"], ["$o$"]])
    assert len(ax.lines) == 2 and "⋮" in [t.get_text() for t in ax.texts]


def test_bad_layers_are_explained():
    with pytest.raises(ValueError, match=r"draw_network\(\): got layers=\[3\]"):
        draw_network([3])


def test_a_long_label_is_shrunk_to_fit_inside_its_unit():
    ax = draw_network([2, 1], labels=[["$x_1$", "$x_{784}$"], ["$o$"]], figsize=(2.2, 1.6))
    renderer = ax.figure.canvas.get_renderer()
    for circle, text in zip(ax.patches, ax.texts, strict=True):
        box, disc = text.get_window_extent(renderer), circle.get_window_extent(renderer)
        assert disc.x0 < box.x0 and box.x1 < disc.x1, (text.get_text(), box, disc)
    sizes = {text.get_text(): text.get_fontsize() for text in ax.texts}
    assert sizes["$x_1$"] == 9 and sizes["$x_{784}$"] < 9  # only the long one shrinks
