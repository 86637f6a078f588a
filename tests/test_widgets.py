"""Tests for d2lite.widgets: drive the three explorers headlessly through `.update()`.

The mode choice and the Explorer machinery on their own are in test_explorer.py.
"""
import base64
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.text import Text
from torch import nn

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]

from d2lite import widgets  # noqa: E402


def frame_count(html: str) -> int:
    """Frames in a static widget: one data URI each (the shown one sits in the <img>)."""
    return html.count("data:image/png;base64,")


# ----------------------------------------------------------------------------- import and mode

def test_import_does_not_load_jupyter():
    code = ("import sys, d2lite, d2lite.widgets, d2lite.explorer; "
            "print(any(m in sys.modules for m in ('ipywidgets', 'IPython')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bad_mode_says_what_to_do(monkeypatch):
    monkeypatch.setenv("D2LITE_WIDGETS", "html")
    with pytest.raises(ValueError, match=r"lr_explorer\(\): got D2LITE_WIDGETS='html'; "
                                         r"expected 'live' \(ipywidgets\) or 'static'"):
        widgets.lr_explorer()
    with pytest.raises(ValueError, match=r"got mode='video'"):
        widgets.lr_explorer(mode="video")


# ----------------------------------------------------------------------------- learning rate

def test_lr_path_matches_closed_form():
    A = np.array([[1.0, 0.0], [0.0, 5.0]])
    data = widgets.lr_explorer(mode="static").update(lr=0.3, steps=10)
    expected = np.stack([np.linalg.matrix_power(np.eye(2) - 0.3 * A, t) @ [-3.0, 1.5]
                         for t in range(11)])
    assert data["bound"] == pytest.approx(2 / 5)
    np.testing.assert_allclose(data["path"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(data["loss"], 0.5 * np.einsum("ti,ij,tj->t", expected, A,
                                                             expected), rtol=1e-4)


def test_lr_past_the_bound_makes_the_loss_grow():
    explorer = widgets.lr_explorer(mode="static")
    below, above = explorer.update(lr=0.38), explorer.update(lr=0.42)
    assert below["loss"][-1] < 0.1 * below["loss"][0] and not below["diverged"]
    assert above["loss"][-1] > above["loss"][0] and above["diverged"]
    assert explorer.values == {"lr": 0.2, "steps": 30}  # what is shown stays at 1/λ_max
    assert not explorer.data["diverged"] and explorer.data["lr"] == 0.2
    far = explorer.update(lr=2.0, steps=100)  # stops once the loss grew a million-fold
    assert len(far["loss"]) < 101 and np.isfinite(far["loss"]).all()


def test_lr_on_a_lessons_own_loss_estimates_L():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(50, 2, generator=gen) * torch.tensor([1.0, 3.0])
    y = X @ torch.tensor([2.0, -1.0])
    explorer = widgets.lr_explorer(lambda w: ((X @ w - y) ** 2).mean(), w0=(0.0, 0.0))
    hessian = (2 / 50 * X.T @ X).double()
    L = torch.linalg.eigvalsh(hessian).max().item()
    assert explorer.data["lambda_max"] == pytest.approx(L, rel=1e-3)
    assert explorer.update(lr=0.9 * 2 / L)["loss"][-1] < 1.0
    assert explorer.update(lr=1.1 * 2 / L)["diverged"]


def test_lr_errors_name_the_fix():
    with pytest.raises(ValueError, match=r"lr_explorer\(\): got A of shape \(3,\); expected a "
                                         r"symmetric \(2, 2\) matrix"):
        widgets.lr_explorer(A=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match=r"loss\(w\) returned \(2,\); expected a scalar tensor"):
        widgets.lr_explorer(lambda w: w ** 2, lambda_max=1.0)
    explorer = widgets.lr_explorer(mode="static")
    with pytest.raises(TypeError, match=r"lr_explorer.update\(\): got unknown control\(s\) "
                                        r"\['learning_rate'\]; expected some of \['lr', 'steps'\]"):
        explorer.update(learning_rate=0.1)
    with pytest.raises(ValueError, match=r"got lr=-0.1, steps=30; expected lr > 0"):
        explorer.update(lr=-0.1)
    assert explorer.values["lr"] > 0  # a bad value leaves the state as it was


# ----------------------------------------------------------------------------- activations

def test_activation_function_and_derivative_match_torch():
    explorer = widgets.activation_explorer(widths=(8,), width=8, steps=20, mode="static")
    for name, fn in (("ReLU", torch.relu), ("leaky ReLU", lambda x: nn.functional.leaky_relu(
            x, 0.1)), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
            ("GELU", nn.functional.gelu)):
        data = explorer.update(activation=name)
        x = torch.tensor(data["x"], requires_grad=True)
        (df,) = torch.autograd.grad(fn(x).sum(), x)
        np.testing.assert_allclose(data["f"], fn(x).detach().numpy(), atol=1e-6)
        np.testing.assert_allclose(data["df"], df.numpy(), atol=1e-6)


def test_activation_changes_the_fit():
    explorer = widgets.activation_explorer(mode="static")
    tanh = explorer.update(activation="tanh")  # (no timing here: the machine may be busy)
    relu = explorer.update(activation="relu")
    assert np.abs(relu["fit"] - tanh["fit"]).max() > 0.01
    assert relu["loss"] < 0.05, f"a ReLU MLP of width 16 fits the curve to {relu['loss']:.3f}"
    assert explorer.update(width=4)["loss"] > relu["loss"]  # narrower fits worse here


def test_activation_boundary_and_errors():
    explorer = widgets.activation_explorer(task="boundary", widths=(16,), mode="static")
    data = explorer.data
    assert data["prob"].shape == (60, 60) and data["accuracy"] >= 0.95
    with pytest.raises(ValueError, match=r"got activation='swish'; expected one of \['relu', "):
        explorer.update(activation="swish")
    with pytest.raises(ValueError, match=r"got task='spiral'; expected 'curve' or 'boundary'"):
        widgets.activation_explorer(task="spiral")


# ----------------------------------------------------------------------------- attention

@pytest.fixture
def mha_weights():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 4, batch_first=True)
    X = torch.randn(2, 5, 8)
    _, weights = mha(X, X, X, need_weights=True, average_attn_weights=False)
    return weights  # (batch=2, heads=4, q=5, k=5)


def test_attention_heads_differ_and_match_the_weights(mha_weights):
    tokens = ["the", "cat", "sat", "on", "mats"]
    explorer = widgets.attention_explorer(mha_weights, tokens, tokens, mode="static")
    head0, head2 = explorer.update(head=0), explorer.update(head=2, example=1)
    np.testing.assert_allclose(head2["weights"], mha_weights[1, 2].detach().numpy(), atol=1e-7)
    assert np.abs(head0["weights"] - head2["weights"]).max() > 1e-3
    assert head2["keys"] == tokens and head2["head"] == 2


def test_attention_accepts_every_documented_layout(mha_weights):
    W = mha_weights.detach()
    averaged = W.mean(1)  # (batch, q, k), average_attn_weights=True
    layouts = {"(q, k)": (W[1, 3], 0), "(batch, q, k)": (averaged, 0),
               "(batch, heads, q, k)": (W, 3), "list over layers": ([W, W.flip(1)], 0),
               "(layers, batch, heads, q, k)": (torch.stack([W, W]), 3),
               "numpy": (W.numpy(), 3)}
    for name, (weights, head) in layouts.items():
        data = widgets.attention_explorer(weights, mode="static").update(head=head)
        assert data["weights"].shape == (5, 5), name
        assert data["queries"] == ["0", "1", "2", "3", "4"], name
    flat = W.reshape(8, 5, 5)  # (batch * heads, q, k), from-scratch multi-head attention
    data = widgets.attention_explorer(flat, num_heads=4, mode="static").update(example=1, head=3)
    np.testing.assert_allclose(data["weights"], W[1, 3].numpy())
    layered = widgets.attention_explorer([W, W.flip(1)], mode="static")
    np.testing.assert_allclose(layered.update(layer=1, head=0)["weights"], W[0, 3].numpy())


def test_attention_per_example_labels_crop_padding(mha_weights):
    explorer = widgets.attention_explorer(mha_weights, [["a", "b", "c"], list("vwxyz")],
                                          [["a", "b", "c"], list("vwxyz")], mode="static")
    assert explorer.update(example=0)["weights"].shape == (3, 3)
    assert explorer.update(example=1)["weights"].shape == (5, 5)


def test_attention_errors_name_the_fix(mha_weights):
    with pytest.raises(ValueError, match=r"got weights of shape \(5,\); expected \(q, k\), "
                                         r"\(batch, q, k\), \(batch, heads, q, k\)"):
        widgets.attention_explorer(torch.ones(5))
    with pytest.raises(ValueError, match=r"got queries labels of lengths \[2, 2\] for 2 "
                                         r"example\(s\) of 5 queries; pass one list"):
        widgets.attention_explorer(mha_weights, ["a", "b"], None)
    with pytest.raises(ValueError, match=r"with num_heads=3; expected \(batch \* num_heads"):
        widgets.attention_explorer(torch.ones(8, 5, 5), num_heads=3)
    with pytest.raises(ValueError, match=r"attention_explorer.update\(\): got head=4; expected "
                                         r"an int in \[0, 4\)"):
        widgets.attention_explorer(mha_weights, mode="static").update(head=4)


# ----------------------------------------------------------------------------- the two forms

def test_static_html_is_self_contained_with_one_frame_per_grid_point(mha_weights):
    explorer = widgets.lr_explorer(mode="static")
    html = explorer._repr_html_()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # frames may spell "http"
    assert "http" not in text.lower() and "url(" not in text  # no URL at all, no CDN
    assert set(re.findall(r'(?:src|href)="(\w*:?)', html)) == {"data:"}
    assert frame_count(html) == len(explorer.grid["lr"]) == 14
    assert html.count("<script>") == 1 and html.count("</script>") == 1
    assert len(html) < 700_000, f"{len(html)} bytes"  # 2x frames; a lesson stays under 2 MB
    label = re.search(r"<output[^>]*>([^<]*)</output>", html).group(1)
    assert label == "0.2 (0.50 × 2/λₘₐₓ)"  # the slider starts at the current lr = 1/λ_max
    attention = widgets.attention_explorer(mha_weights, mode="static")
    other = attention.to_html()
    assert frame_count(other) == 4 * 2  # heads x examples
    again = attention.to_html()  # the same widget shown a second time
    for first, second in ((html, other), (other, again)):
        ids = set(re.findall(r'id="([^"]+)"', first)) & set(re.findall(r'id="([^"]+)"', second))
        assert not ids, f"two widgets on one page share the ids {ids}"
    assert attention._repr_mimebundle_() is None  # static: IPython uses _repr_html_


def test_activation_static_html_size():
    # the lesson's grid (5 activations x 3 widths); fewer training steps change what the frames
    # show, not how many there are or how large they are
    html = widgets.activation_explorer(steps=30, mode="static").to_html()
    assert frame_count(html) == 5 * 3 and len(html) < 500_000, f"{len(html)} bytes"
    assert "http" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html).lower()


def test_live_widget_builds_and_follows_its_controls():
    ipywidgets = pytest.importorskip("ipywidgets")
    explorer = widgets.lr_explorer(mode="live")
    assert explorer._repr_html_() is None
    form = explorer.widget
    assert isinstance(form, ipywidgets.VBox)
    bundle = explorer._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == form.model_id and view["version_major"] == 2
    assert explorer._image.width == "576"  # shown at the figure's size; the PNG has 2x pixels
    before = explorer._image.value
    explorer._controls["lr"].value = explorer.options["lr"][-1]  # what dragging the slider does
    assert explorer.data["diverged"] and explorer._image.value != before
    assert explorer._readouts["lr"].value == "0.48 (1.20 × 2/λₘₐₓ)"
    shown = explorer._image.value
    probe = explorer.update(lr=explorer.options["lr"][0])  # a later cell's experiment ...
    assert not probe["diverged"] and probe["lr"] == explorer.options["lr"][0]
    assert explorer._controls["lr"].value == explorer.options["lr"][-1]  # ... moves nothing
    assert explorer._image.value == shown and explorer.data["diverged"]
    activation = widgets.activation_explorer(widths=(8,), width=8, steps=20, mode="live")
    activation._repr_mimebundle_()
    activation._controls["activation"].value = "tanh"  # the dropdown
    assert activation.values["activation"] == "tanh" and activation.data["f"].min() < -0.99


def test_frames_are_sharp_and_text_is_at_least_9px():
    from PIL import Image

    from d2lite.explorer import _encode_png

    explorers = [widgets.lr_explorer(mode="static"),
                 widgets.activation_explorer(widths=(8,), width=8, steps=20, mode="static"),
                 widgets.activation_explorer(task="boundary", widths=(8,), width=8, steps=20,
                                             mode="static"),
                 widgets.attention_explorer(torch.softmax(torch.randn(2, 3, 4), -1),
                                            mode="static")]
    for explorer in explorers:
        width, _ = Image.open(io.BytesIO(_encode_png(explorer.figure))).size
        assert width == 2 * explorer.width, f"{explorer.name}: {width} px for {explorer.width}"
        assert f'width="{explorer.width}"' in explorer.to_html()
        explorer.figure.canvas.draw()
        small = {(t.get_text(), t.get_fontsize()) for t in explorer.figure.findobj(Text)
                 if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 9}
        assert not small, f"{explorer.name}: text under 9 pt (9 px in the page): {small}"


# ----------------------------------------------------------------------------- in a notebook

LIVE_NOTEBOOK = [
    "import d2lite, d2lite.widgets as w\nimport matplotlib.pyplot as plt",
    "lr = w.lr_explorer()\nlr",
    "assert lr.update(lr=0.45)['diverged']  # a later experiment on the same explorer",
    "act = w.activation_explorer(widths=(4, 8), width=8, steps=20)\nact",
    "act.update(activation='sigmoid', width=4)['loss']",
    "plt.plot([1, 2, 3])\nplt.show()",
]


def test_live_widgets_open_in_the_state_their_cell_set_up(tmp_path, monkeypatch):
    """After Run All, each widget shows what its own cell set up, although later cells called
    .update(): read the widget state a notebook stores (what JupyterLab would show)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in LIVE_NOTEBOOK]
    monkeypatch.setenv("D2LITE_WIDGETS", "live")  # the kernel inherits the environment
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {k: v["state"] for k, v in state.items()}

    def shown(cell: int) -> dict:
        """{control description: label shown} and the image bytes of the widget in `cell`."""
        view = nb.cells[cell].outputs[-1]["data"]["application/vnd.jupyter.widget-view+json"]
        found, todo = {}, [view["model_id"]]
        while todo:
            model = models[todo.pop()]
            todo += [c.removeprefix("IPY_MODEL_") for c in model.get("children", [])]
            if "_options_labels" in model:
                found[model["description"]] = model["_options_labels"][model["index"]]
            if model.get("_model_name") == "ImageModel":
                found["image"] = model.get("width")
        return found

    ipywidgets = pytest.importorskip("ipywidgets")  # the kernel ran the same ipywidgets
    controls_version = {"7": "1.5.0", "8": "2.0.0"}[ipywidgets.__version__.split(".")[0]]
    assert {m["_model_module_version"] for m in models.values()
            if m.get("_model_module") == "@jupyter-widgets/controls"} == {controls_version}
    assert shown(1) == {"lr": "0.2 (0.50 × 2/λₘₐₓ)", "steps": "30", "image": "576"}, shown(1)
    controls = shown(3)
    assert controls["activation"] == "ReLU" and controls["width"] == "8", controls
    # d2lite makes the kernel's matplotlib figures high-DPI: twice the pixels, same size
    from PIL import Image

    figure = next(o for o in nb.cells[5].outputs if "image/png" in o.get("data", {}))
    pixels = Image.open(io.BytesIO(base64.b64decode(figure["data"]["image/png"]))).size[0]
    shown = figure.get("metadata", {}).get("image/png", {}).get("width")
    assert shown and pixels == 2 * shown, f"a {pixels}-pixel figure shown {shown} px wide"
