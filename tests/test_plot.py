"""Plot helpers (matplotlib Agg): labelled curves, image grids, history panels, and the live
training plot (in place in Jupyter, one figure elsewhere, none when plot=False)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import d2lite  # noqa: E402
from d2lite import display, plots  # noqa: E402
from d2lite.plots import LivePlot, plot_history  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    plt.close("all")
    yield
    plt.close("all")


def test_plot_draws_labelled_curves():
    x = torch.arange(0, 3, 0.5)
    ax = d2lite.plot(x, [x ** 2, 2 * x], "x", "f(x)", legend=["x^2", "2x"], title="t")
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "f(x)" and ax.get_title() == "t"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["x^2", "2x"]
    assert list(lines[0].get_ydata()) == pytest.approx((x ** 2).tolist())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x^2", "2x"]


def test_plot_one_curve_without_x_and_log_scale():
    ax = d2lite.plot(None, [1.0, 10.0, 100.0], "step", "loss", yscale="log", ylim=(0.5, 200))
    assert len(ax.get_lines()) == 1 and list(ax.get_lines()[0].get_xdata()) == [0, 1, 2]
    assert ax.get_yscale() == "log" and ax.get_ylim() == pytest.approx((0.5, 200))
    assert ax.get_legend() is None


def test_plot_errors():
    with pytest.raises(ValueError, match=r"plot\(\): got 1 legend names for 2 curves"):
        d2lite.plot([0, 1], [[0, 1], [1, 0]], legend=["a"])
    with pytest.raises(ValueError, match=r"plot\(\): curve 0 has 3 values but x has 2"):
        d2lite.plot([0, 1], [1, 2, 3])


def test_show_images_grid():
    axes = d2lite.show_images(torch.rand(5, 8, 8), 2, 3, titles=list("abcde"))
    assert axes.shape == (2, 3)
    assert [ax.get_title() for ax in axes.flat] == ["a", "b", "c", "d", "e", ""]
    assert len(axes.flat[0].get_images()) == 1 and len(axes.flat[5].get_images()) == 0


def test_plot_history_puts_losses_and_metrics_in_two_panels():
    fig = plot_history({"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
                        "val_accuracy": [0.6, 0.8], "seconds": [1.0, 1.0]})
    left, right = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in right.get_lines()] == ["val_accuracy"]
    assert left.get_xlabel() == "epoch" and left.get_ylabel() == "loss"
    assert len(plot_history({"train_loss": [1.0]}).axes) == 1


def test_live_plot_outside_jupyter_draws_one_figure_at_the_end():
    live = LivePlot()
    for n in (1, 2, 3):
        live.update({"train_loss": [1.0, 0.5, 0.3][:n]})
    assert plt.get_fignums() == []
    live.close()
    assert len(plt.get_fignums()) == 1


class FakeHandle:
    def __init__(self):
        self.updates = 0

    def update(self, fig):
        self.updates += 1


def test_live_plot_in_jupyter_updates_one_display_in_place(monkeypatch):
    import IPython.display

    shown, handle = [], FakeHandle()

    def fake_display(fig, display_id=False):
        shown.append(display_id)
        return handle

    monkeypatch.setattr(plots, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    net = nn.Linear(2, 1)
    X = torch.randn(16, 2)
    d2lite.fit(net, [(X, X.sum(1, keepdim=True))], loss_fn=nn.MSELoss(), epochs=4, device="cpu",
               plot=True)
    assert shown == [True] and handle.updates == 3  # one display, then updated in place
    assert plt.get_fignums() == []  # closed, so the cell does not show it a second time


def test_fit_plot_false_makes_no_figure_and_true_makes_one():
    X = torch.randn(16, 2)
    data = [(X, X.sum(1, keepdim=True))]
    d2lite.fit(nn.Linear(2, 1), data, loss_fn=nn.MSELoss(), epochs=2, device="cpu")
    assert plt.get_fignums() == []  # plot=False is the default
    history = d2lite.fit(nn.Linear(2, 1), data, loss_fn=nn.MSELoss(), epochs=2, device="cpu",
                         val_data=data, plot=True)
    assert len(plt.get_fignums()) == 1
    labels = [line.get_label() for line in plt.gcf().axes[0].get_lines()]
    assert labels == ["train_loss", "val_loss"]
    assert history.plot()[0].get_lines()[0].get_ydata().tolist() == history["train_loss"]


def test_history_plot_has_whole_epoch_ticks():
    fig = plot_history({"train_loss": [0.9, 0.5, 0.4], "val_accuracy": [0.7, 0.8, 0.9]})
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_hidpi_figures_only_in_a_kernel(monkeypatch):
    from matplotlib_inline.config import InlineBackend

    assert display.use_hidpi_figures() is False  # no kernel here: nothing changes
    monkeypatch.setattr(display, "in_notebook", lambda: True)
    monkeypatch.setattr(InlineBackend.instance(), "figure_formats", {"png"})
    assert display.use_hidpi_figures() is True
    assert InlineBackend.instance().figure_formats == {"retina"}
