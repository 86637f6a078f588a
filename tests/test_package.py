"""The package as a whole: what `import d2lite` loads, its lazy submodules, and the one place
($D2LITE_WIDGETS, notebook detection) that plots, fit and the widgets ask how to show things."""
import subprocess
import sys

import pytest
import torch
from torch import nn

import d2lite
from d2lite import settings

HEAVY = ("matplotlib", "PIL", "ipywidgets", "pooch", "requests", "IPython")


def test_import_d2lite_loads_no_plotting_widgets_or_download_libraries():
    code = ("import sys, d2lite; d2lite.fit; d2lite.plot; d2lite.data.load_mnist; "
            f"print(sorted(set({HEAVY!r}) & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_widgets_and_models_load_when_first_named():
    code = ("import sys, d2lite; before = 'd2lite.widgets' in sys.modules; "
            "d2lite.widgets.lr_explorer; d2lite.models; "
            "print(before, 'd2lite.widgets' in sys.modules, 'd2lite.models' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"]
    with pytest.raises(AttributeError, match="module 'd2lite' has no attribute 'plott'"):
        d2lite.plott  # noqa: B018


def test_plot_is_the_function_and_plots_the_module():
    import d2lite.plots

    assert callable(d2lite.plot) and d2lite.plot is d2lite.plots.plot
    assert set(d2lite.__all__) <= set(dir(d2lite)) | {"models", "widgets"}


def test_one_reading_of_d2lite_widgets(monkeypatch):
    monkeypatch.setenv("D2LITE_WIDGETS", " Static ")
    assert settings.widgets_setting() == "static" and settings.widget_mode() == "static"
    assert settings.widget_mode("live") == "live"  # an argument beats the environment
    monkeypatch.setenv("D2LITE_WIDGETS", "")
    assert settings.widgets_setting() is None
    assert settings.widget_mode() == "static"  # no kernel here
    monkeypatch.setattr(settings, "in_notebook", lambda: True)
    assert settings.widget_mode() == "live"
    monkeypatch.setenv("D2LITE_WIDGETS", "html")
    with pytest.raises(ValueError, match=r"fit\(\): got D2LITE_WIDGETS='html'; expected 'live'"):
        d2lite.fit(nn.Linear(1, 1), [(torch.ones(2, 1), torch.ones(2, 1))], loss_fn=nn.MSELoss(),
                   device="cpu", plot=False)
    with pytest.raises(ValueError, match=r"demo\(\): got mode='video'"):
        settings.widget_mode("video", "demo")
