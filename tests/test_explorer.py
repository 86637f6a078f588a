"""Tests for d2lite.explorer: the mode choice and a tiny Explorer in its kernel-free form."""
import re

import matplotlib
import pytest

matplotlib.use("Agg")

from d2lite import display, explorer  # noqa: E402


def test_mode_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("D2LITE_WIDGETS", "live")
    assert display.widget_mode("static") == "static"
    assert display.widget_mode() == "live"
    monkeypatch.setenv("D2LITE_WIDGETS", "Static ")
    assert display.widget_mode() == "static"
    monkeypatch.delenv("D2LITE_WIDGETS")
    assert display.widget_mode() == "static"  # no kernel here
    with pytest.raises(ValueError, match=r"demo\(\): got mode='video'; expected 'live' "
                                         r"\(ipywidgets\) or 'static'"):
        display.widget_mode("video", "demo")


def line_explorer(**kwargs) -> explorer.Explorer:
    """A line from (0, 0) to (1, slope); the labels include a token that could close a script."""
    def draw(fig, slope, colour):
        if slope < 0:
            raise ValueError(f"line.update(): got slope={slope}; expected slope >= 0")
        fig.add_subplot().plot([0, 1], [0, slope], color=colour)
        return {"slope": slope}

    labels = {0.5: "</s>", 1.0: "one", 2.0: "two & more"}
    return explorer.Explorer("line", draw, {"slope": 1.2, "colour": "k"},
                             {"slope": [0.5, 1.0, 2.0], "colour": ["k", "r"]},
                             {"slope": [0.5, 1.0, 2.0]},
                             describe=lambda name, value: labels.get(value, str(value)),
                             figsize=(2, 2), **kwargs)


def test_static_html_has_a_frame_per_grid_value_and_escapes_labels():
    line = line_explorer(mode="static")
    html = line.to_html()
    assert html.count("data:image/png;base64,") == 3
    assert html.count("</script>") == 1 and "<\\/s>" in html  # "</s>" kept out of the script
    assert re.search(r"<output[^>]*>([^<]*)</output>", html).group(1) == "one"  # nearest to 1.2
    assert line.to_html() != html and line.values == {"slope": 1.2, "colour": "k"}
    assert line._repr_mimebundle_() is None and line._repr_html_() is not None


def test_update_errors_leave_the_state_alone():
    line = line_explorer(mode="static")
    with pytest.raises(TypeError, match=r"line.update\(\): got unknown control\(s\) \['width'\]; "
                                        r"expected some of \['colour', 'slope'\]"):
        line.update(width=3)
    with pytest.raises(ValueError, match=r"got slope=-1; expected slope >= 0"):
        line.update(slope=-1)
    assert line.values["slope"] == 1.2 and line.update(colour="r") == {"slope": 1.2}
