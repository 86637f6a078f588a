"""How d2lite shows things: `in_notebook()`, `widget_mode()` (the one place that reads
$D2LITE_WIDGETS: "live" or "static", any case; blank means unset) and `use_hidpi_figures()`."""
from __future__ import annotations

import os
import sys

__all__ = ["in_notebook", "use_hidpi_figures", "widget_mode"]

_MODES = ("live", "static")


def in_notebook() -> bool:
    """True inside a Jupyter kernel, which shows figures and widgets in place (not plain IPython).

    Example:
        >>> in_notebook()   # under pytest, or in a script
        False
    """
    ipython = sys.modules.get("IPython")  # a kernel has imported it; never import it here
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def widget_mode(mode: str | None = None, caller: str = "widget_mode") -> str:
    """Return "live" (ipywidgets, needs a kernel) or "static" (a kernel-free frame slider, how the
    book's pages are built): `mode` if given, else $D2LITE_WIDGETS, else live in a kernel.

    Example:
        >>> widget_mode("static")
        'static'
    """
    source, value = ("mode", mode) if mode is not None else (
        "D2LITE_WIDGETS", os.environ.get("D2LITE_WIDGETS", "").strip().lower() or None)
    if value is None:
        return "live" if in_notebook() else "static"
    if value not in _MODES:
        raise ValueError(f"{caller}(): got {source}={value!r}; expected 'live' (ipywidgets) or "
                         "'static' (kernel-free frame slider)")
    return value


def use_hidpi_figures() -> bool:
    """In a Jupyter kernel, show figures with twice the pixels at the same size (sharp on phones);
    `import d2lite` calls it; returns True when it changed the kernel's figure format.

    Example:
        >>> use_hidpi_figures()   # not in a kernel: nothing to do
        False
    """
    if not in_notebook():
        return False
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        from matplotlib_inline.config import InlineBackend
    except ImportError:  # a kernel without matplotlib-inline shows no inline figures anyway
        return False
    InlineBackend.instance().figure_formats = {"retina"}  # kept when pyplot starts the backend
    set_matplotlib_formats("retina")
    return True
