"""Plots for lessons: `plot` (labelled curves), `show_images`, and the live training plot
(redrawn in place in Jupyter, one figure at the end elsewhere). matplotlib loads when first used."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from d2lite.display import in_notebook


def _as_list(values) -> list:
    """A 1-D tensor, array or sequence as a list (tensors are detached and moved to the CPU)."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().reshape(-1).tolist()
    return list(values)


def plot(x, ys, xlabel: str | None = None, ylabel: str | None = None,
         legend: Sequence[str] | None = None, *, title: str | None = None,
         xlim: tuple[float, float] | None = None, ylim: tuple[float, float] | None = None,
         xscale: str = "linear", yscale: str = "linear", fmts: Sequence[str] | None = None,
         figsize: tuple[float, float] = (5, 3.5), ax=None):
    """Draw one or more curves against `x` with labelled axes; return the matplotlib Axes.

    Args:
        x: x values `(n,)` shared by all curves, or None for 0, 1, ..., n-1.
        ys: one curve `(n,)` or a list of curves (tensors, arrays or lists).
        xlabel, ylabel: axis labels. legend: one name per curve.
        fmts: matplotlib line formats, one per curve (default "-", "m--", "g-.", "r:").
        ax: draw into these Axes instead of a new figure of size `figsize`.

    Example:
        >>> x = torch.arange(0, 3, 0.1)
        >>> ax = plot(x, [x ** 2, 2 * x], "x", "f(x)", legend=["x^2", "2x"])
    """
    import matplotlib.pyplot as plt

    single = ys.dim() == 1 if isinstance(ys, torch.Tensor) else (
        len(ys) > 0 and not hasattr(ys[0], "__len__"))  # a list of numbers
    curves = [_as_list(ys)] if single else [_as_list(y) for y in ys]
    if legend is not None and len(legend) != len(curves):
        raise ValueError(f"plot(): got {len(legend)} legend names for {len(curves)} curves; "
                         "give one name per curve")
    fmts = fmts or ("-", "m--", "g-.", "r:")
    ax = ax or plt.subplots(figsize=figsize)[1]
    for i, curve in enumerate(curves):
        xs = list(range(len(curve))) if x is None else _as_list(x)
        if len(xs) != len(curve):
            raise ValueError(f"plot(): curve {i} has {len(curve)} values but x has {len(xs)}; "
                             "give them the same length")
        ax.plot(xs, curve, fmts[i % len(fmts)], label=legend[i] if legend else None)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xscale=xscale, yscale=yscale)
    if xlim is not None:
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    if legend is not None:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def show_images(images, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5):
    """Show a grid of images; return the array of Axes.

    Args:
        images: `(n, height, width)` grey or `(n, height, width, 3)` colour (tensor or list).
        num_rows, num_cols: the grid; the first `num_rows * num_cols` images are shown.
        titles: one title per image (e.g. the labels).

    Example:
        >>> axes = show_images(torch.rand(6, 28, 28), 2, 3, titles=list("abcdef"))
    """
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale),
                           squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image = images[i].detach().cpu().numpy() if torch.is_tensor(images[i]) else images[i]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        if titles is not None:
            ax.set_title(str(titles[i]))
    return axes


def plot_history(series: dict[str, list[float]], axes=None):
    """Draw training curves: losses on the left, other metrics on the right; return the figure.

    Args:
        series: name -> one value per epoch, e.g. `{"train_loss": [...], "val_accuracy": [...]}`
            (a `History`'s curves). Names ending in "loss" go to the loss panel.
        axes: existing Axes to draw into (one, or two when there are metrics).

    Example:
        >>> fig = plot_history({"train_loss": [0.9, 0.5, 0.4], "val_accuracy": [0.7, 0.8, 0.85]})
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    losses = {k: v for k, v in series.items() if k.endswith("loss") and v}
    others = {k: v for k, v in series.items() if not k.endswith("loss") and k != "seconds" and v}
    panels = [p for p in (losses, others) if p]
    if axes is None:
        fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(3.3 * max(len(panels), 1), 3),
                                 squeeze=False)
        axes = list(axes.flat)
    fig = axes[0].figure
    for ax, panel, ylabel in zip(axes, panels, ("loss" if losses else "metric", "metric"),
                                 strict=False):
        ax.clear()
        curves = list(panel.values())
        epochs = range(1, len(curves[0]) + 1)
        plot(epochs, curves, "epoch", ylabel, legend=list(panel), ax=ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if len(curves[0]) > 1:
            ax.set_xlim(1, len(curves[0]))
    fig.tight_layout()
    return fig


class LivePlot:
    """A training plot that `update` redraws: in place in Jupyter, once at `close` elsewhere.

    Example:
        >>> live = LivePlot()
        >>> live.update({"train_loss": [0.9, 0.5]}); live.close()
    """

    def __init__(self):
        self.series: dict[str, list[float]] = {}
        self.in_notebook, self.handle = in_notebook(), None  # handle: on first update

    def update(self, series: dict[str, list[float]]) -> None:
        """Record the curves so far; in Jupyter redraw the figure in place."""
        self.series = {name: list(values) for name, values in series.items()}
        if not self.in_notebook:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = plot_history(self.series)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)  # shown through the handle, not a second time at the end of the cell

    def close(self) -> None:
        """Finish: outside Jupyter draw the final figure (left open for `plt.show()`)."""
        if not self.in_notebook and self.series:
            plot_history(self.series)
