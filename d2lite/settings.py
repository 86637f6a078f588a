"""The one place that reads $D2LITE_WIDGETS and detects a notebook, for the live plot, `fit`'s
progress bars and the widgets: "live" or "static" (any case, blank means unset), else an error."""
from __future__ import annotations

import os
import sys

MODES = ("live", "static")


def in_notebook() -> bool:
    """True inside a Jupyter kernel, which shows figures and widgets in place (not plain IPython).

    Example:
        >>> in_notebook()   # under pytest, or in a script
        False
    """
    ipython = sys.modules.get("IPython")  # a kernel has imported it; never import it here
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def widgets_setting(caller: str = "widgets_setting") -> str | None:
    """Return $D2LITE_WIDGETS checked: "live", "static" (how the book's notebooks are executed:
    no progress bars, kernel-free widgets), or None when it is unset or blank.

    Example:
        >>> import os; os.environ.get("D2LITE_WIDGETS", "") in ("", "live", "static")
        True
    """
    return _check(os.environ.get("D2LITE_WIDGETS", "").strip().lower() or None, "D2LITE_WIDGETS",
                  caller)


def widget_mode(mode: str | None = None, caller: str = "widget_mode") -> str:
    """Return "live" or "static": `mode` if given, else $D2LITE_WIDGETS, else live in a kernel.

    Example:
        >>> widget_mode("static")
        'static'
    """
    if mode is not None:
        return _check(mode, "mode", caller)
    return widgets_setting(caller) or ("live" if in_notebook() else "static")


def _check(value: str | None, source: str, caller: str) -> str | None:
    if value is not None and value not in MODES:
        raise ValueError(f"{caller}(): got {source}={value!r}; expected 'live' (ipywidgets) or "
                         "'static' (kernel-free frame slider)")
    return value
