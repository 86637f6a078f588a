"""`Explorer`, a figure drawn from named controls (what to draw: d2lite.widgets), shown as a live
ipywidgets 7.6+/8 form or a kernel-free HTML frame slider. Frames are 8-bit palette PNGs at twice
the shown pixels: sharp on phones, and two widgets stay well under a lesson's 2 MB."""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
from collections.abc import Callable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from d2lite.display import widget_mode

__all__ = ["Explorer"]

CSS_DPI = 72  # a figure of width w inches is shown w * 72 CSS pixels wide: 10 pt text is 10 px
SCALE = 2  # ... and drawn with twice the pixels
DPI = CSS_DPI * SCALE


def _encode_png(fig: Figure) -> bytes:
    """Render `fig` and return a small PNG: 8-bit palette, which keeps lines and text sharp."""
    from PIL import Image  # Pillow comes with matplotlib

    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    out = io.BytesIO()
    Image.fromarray(rgb).quantize(colors=64).save(out, format="png", optimize=True)
    return out.getvalue()


def _frames_html(frames: list[bytes], sliders: list[tuple[str, list[str]]], start: list[int],
                 alt: str, salt: str = "", width: int | None = None) -> str:
    """Self-contained HTML: an <img>, a labelled range input per slider, JS swapping frames.

    Element ids hash the frames and `salt`, so outputs repeat exactly from run to run; the JS finds
    its own elements from its <script> tag, so even two identical copies on a page both work.
    """
    uid = "d2w-" + hashlib.sha1(b"".join(frames) + (alt + salt).encode()).hexdigest()[:12]
    sizes = [len(labels) for _, labels in sliders]
    k0 = int(np.ravel_multi_index(start, sizes)) if sliders else 0
    srcs = ["data:image/png;base64," + base64.b64encode(f).decode("ascii") for f in frames]
    first, srcs[k0] = srcs[k0], None  # the JS reads this one from the <img>: stored once
    rows = "".join(
        f'<label style="display:block;font:13px sans-serif;margin:2px 0">'
        f'<span style="display:inline-block;min-width:5.5em">{html.escape(name)}</span>'
        f'<input type="range" id="{uid}-s{i}" min="0" max="{len(labels) - 1}" step="1" '
        f'value="{start[i]}" style="vertical-align:middle;width:240px"> '
        f'<output id="{uid}-o{i}">{html.escape(labels[start[i]])}</output></label>'
        for i, (name, labels) in enumerate(sliders))
    data = json.dumps({"frames": srcs, "labels": [labels for _, labels in sliders], "sizes": sizes})
    data = data.replace("</", "<\\/")  # a token such as "</s>" must not close the script
    script = (
        "(function(){var s=document.currentScript,"
        f'root=(s&&s.parentNode)||document.getElementById("{uid}"),d={data},'
        'img=root.querySelector("img"),ins=root.querySelectorAll("input"),'
        f'outs=root.querySelectorAll("output");d.frames[{k0}]=img.src;'
        "function show(){var k=0;for(var i=0;i<ins.length;i++){var v=+ins[i].value;"
        "k=k*d.sizes[i]+v;outs[i].textContent=d.labels[i][v];}img.src=d.frames[k];}"
        'for(var i=0;i<ins.length;i++){ins[i].addEventListener("input",show);}})();')
    size = f' width="{width}"' if width else ""
    return (f'<div class="d2lite-widget" id="{uid}">{rows}<img id="{uid}-img" src="{first}" '
            f'alt="{html.escape(alt)}"{size} style="max-width:100%;height:auto">'
            f'<script>{script}</script></div>')


def _nearest(options: list, value: object) -> int:
    """Index of `value` in `options`, or of the closest number, or 0."""
    if value in options:
        return options.index(value)
    if isinstance(value, (int, float)) and all(isinstance(o, (int, float)) for o in options):
        return int(np.argmin([abs(o - value) for o in options]))
    return 0


class Explorer:
    """A figure drawn from named controls, shown as a live ipywidgets form or a frame slider.

    The display keeps the state its cell set up until the reader moves its controls;
    `update(**values)` returns the data for other values without changing it. `data` and
    `values` are what is shown; `widget` is the live form, `to_html()` the kernel-free one.

    Args:
        name: shown in error messages, e.g. "lr_explorer".
        draw: `draw(figure, **values) -> dict` draws on the (cleared) figure, returns its data.
        values: the starting value of every control; `options`: each control's choices in the live
            form; `grid`: the values the kernel-free form precomputes one frame for.
        describe: `describe(name, value) -> str`, the label shown for a value.
        figsize, mode: the figure size in inches; "live" or "static" (see `widget_mode`).

    Example:
        >>> def draw(fig, k):
        ...     fig.add_subplot().plot([0, k])
        ...     return {"k": k}
        >>> demo = Explorer("demo", draw, {"k": 1}, {"k": [1, 2]}, {"k": [1, 2]},
        ...                 describe=lambda name, value: str(value), figsize=(2, 2), mode="static")
        >>> demo.update(k=2)
        {'k': 2}
        >>> demo.values, demo.data   # what is shown has not changed
        ({'k': 1}, {'k': 1})
    """

    def __init__(self, name: str, draw: Callable[..., dict], values: dict,
                 options: dict[str, list], grid: dict[str, list], *,
                 describe: Callable[[str, object], str], figsize: tuple[float, float],
                 mode: str | None = None):
        self.name, self.mode = name, widget_mode(mode, name)
        self.values, self.options, self.grid = dict(values), options, grid
        self.figure = FigureCanvasAgg(Figure(figsize=figsize, dpi=DPI)).figure  # what is shown
        self._probe = FigureCanvasAgg(Figure(figsize=figsize, dpi=DPI)).figure  # update() draws

        self.width = round(figsize[0] * CSS_DPI)  # shown width in CSS pixels
        self._draw, self._describe = draw, describe
        self._widget, self._frames, self._shown = None, None, 0
        self.data = self._render(self.figure, self.values)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{self.name}({shown}; mode={self.mode!r})"

    def _render(self, figure: Figure, values: dict) -> dict:
        figure.clear()
        return self._draw(figure, **values)

    def _merged(self, values: dict) -> dict:
        unknown = sorted(set(values) - set(self.values))
        if unknown:
            raise TypeError(f"{self.name}.update(): got unknown control(s) {unknown}; "
                            f"expected some of {sorted(self.values)}")
        return {**self.values, **values}

    def update(self, **values) -> dict:
        """Return the data plotted for these controls (e.g. `lr=0.3`; the others as shown); the
        display does not change."""
        return self._render(self._probe, self._merged(values))

    def _show(self, **values) -> dict:
        """Move the displayed explorer to these controls (what the live controls call)."""
        merged = self._merged(values)
        self.data = self._render(self.figure, merged)  # raises before anything changes if bad
        self.values = merged
        if self._widget is not None:
            for key, control in self._controls.items():
                if merged[key] in self.options[key] and control.value != merged[key]:
                    control.value = merged[key]
                if key in self._readouts:
                    self._readouts[key].value = self._describe(key, merged[key])
            self._image.value = _encode_png(self.figure)
        return self.data

    @property
    def widget(self):
        """The live form: one control per option list above the figure (an ipywidgets.VBox)."""
        if self._widget is None:
            import ipywidgets

            self._controls, self._readouts, rows = {}, {}, []
            for key, opts in self.options.items():
                labels = [(self._describe(key, o), o) for o in opts]
                value = self.values[key] if self.values[key] in opts else opts[0]
                if all(isinstance(o, str) for o in opts):
                    control = ipywidgets.Dropdown(options=labels, value=value, description=key)
                    rows.append(control)
                else:  # a Label as readout: the slider's own cuts long texts short
                    control = ipywidgets.SelectionSlider(options=labels, value=value,
                                                         description=key, readout=False,
                                                         continuous_update=False)
                    self._readouts[key] = ipywidgets.Label(self._describe(key, value))
                    rows.append(ipywidgets.HBox([control, self._readouts[key]]))
                control.observe(self._on_change(key), names="value")
                self._controls[key] = control
            # width: the figure's size in CSS pixels (the PNG has twice the pixels)
            self._image = ipywidgets.Image(value=_encode_png(self.figure), format="png",
                                           width=str(self.width),
                                           layout=ipywidgets.Layout(max_width="100%",
                                                                    height="auto"))
            self._widget = ipywidgets.VBox([*rows, self._image])
        return self._widget

    def _on_change(self, key: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            if change["new"] != self.values[key]:
                self._show(**{key: change["new"]})
        return handler

    def to_html(self) -> str:
        """The kernel-free form: frames over `grid` (other controls as now) as plain HTML."""
        key = repr(sorted(self.values.items()))
        if self._frames is None or self._frames[0] != key:
            frames = []
            for combo in itertools.product(*self.grid.values()):
                self._render(self._probe, {**self.values, **dict(zip(self.grid, combo,
                                                                     strict=True))})
                frames.append(_encode_png(self._probe))
            self._frames = (key, frames)
        sliders = [(n, [self._describe(n, v) for v in vs]) for n, vs in self.grid.items()]
        start = [_nearest(vs, self.values[n]) for n, vs in self.grid.items()]
        self._shown += 1  # a second display of this widget gets its own element ids
        return _frames_html(self._frames[1], sliders, start, self.name, salt=str(self._shown),
                            width=self.width)

    def _repr_html_(self) -> str | None:
        return self.to_html() if self.mode == "static" else None

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict | None:
        if self.mode != "live":
            return None
        form = self.widget
        if hasattr(form, "_repr_mimebundle_"):  # ipywidgets 8
            return form._repr_mimebundle_(include=include, exclude=exclude)
        # ipywidgets 7 (Colab's) displays itself instead; this is the bundle it would send
        return {"text/plain": repr(form),
                "application/vnd.jupyter.widget-view+json": {
                    "version_major": 2, "version_minor": 0, "model_id": form.model_id}}
