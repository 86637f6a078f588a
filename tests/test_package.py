"""The package as a whole: what `import d2lite` loads, its lazy submodules, the one place that
decides how widgets are shown, and the measures of a package a newcomer can find their way in:
short modules, one name per thing, a doctest for every public name, one error-message form."""
import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import d2lite
from d2lite import display

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "d2lite"
HEAVY = ("matplotlib", "PIL", "ipywidgets", "pooch", "requests", "IPython")
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "d2lite.")
                 if m.name != "d2lite.__main__")


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_d2lite_loads_no_plotting_widgets_download_libraries_or_data_hub():
    loaded = run("import sys, d2lite; d2lite.fit; d2lite.plot; "
                 f"print(sorted((set({HEAVY!r}) | {{'d2lite.hub', 'd2lite.registry'}}) "
                 "& set(sys.modules)))")
    assert loaded == "[]"


def test_no_model_module_loads_the_data_hub():
    """All of them at once: if importing every model module loads no hub, neither does one."""
    models = [m for m in MODULES if m.startswith("d2lite.models")]
    assert run(f"import sys, {', '.join(models)}; print([m for m in ('d2lite.data', "
               "'d2lite.hub', 'd2lite.registry') if m in sys.modules])") == "[]"


def test_data_widgets_and_models_load_when_first_named():
    out = run("import sys, d2lite; before = [m in sys.modules for m in "
              "('d2lite.data', 'd2lite.widgets', 'd2lite.models')]; "
              "d2lite.data.batches; d2lite.widgets.lr_explorer; d2lite.models.LeNet; "
              "print(before, [m in sys.modules for m in "
              "('d2lite.data', 'd2lite.widgets', 'd2lite.models')])")
    assert out == "[False, False, False] [True, True, True]"
    with pytest.raises(AttributeError, match="module 'd2lite' has no attribute 'plott'"):
        d2lite.plott  # noqa: B018


def test_plot_is_the_function_and_plots_the_module():
    import d2lite.plots

    assert callable(d2lite.plot) and d2lite.plot is d2lite.plots.plot
    assert set(d2lite.__all__) <= set(dir(d2lite)) | {"data", "models", "widgets"}


def test_one_reading_of_d2lite_widgets(monkeypatch):
    monkeypatch.setenv("D2LITE_WIDGETS", " Static ")
    assert display.widget_mode() == "static"
    assert display.widget_mode("live") == "live"  # an argument beats the environment
    monkeypatch.setenv("D2LITE_WIDGETS", "")
    assert display.widget_mode() == "static"  # no kernel here
    monkeypatch.setattr(display, "in_notebook", lambda: True)
    assert display.widget_mode() == "live"
    monkeypatch.setenv("D2LITE_WIDGETS", "html")
    with pytest.raises(ValueError, match=r"lr_explorer\(\): got D2LITE_WIDGETS='html'; "
                                         r"expected 'live'"):
        display.widget_mode(caller="lr_explorer")
    with pytest.raises(ValueError, match=r"demo\(\): got mode='video'"):
        display.widget_mode("video", "demo")


# ---- the measures of d2lite 0.3 --------------------------------------------------------------

def public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return list(getattr(module, "__all__", []))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400, f"{path.name}: split it by what it holds"


def test_models_offer_every_name_their_modules_list_and_nothing_twice():
    import d2lite.models as models

    listed = [name for module in models._MODULES for name in module.__all__]
    assert models.__all__ == listed and len(set(listed)) == len(listed)
    assert all(getattr(models, name) is getattr(module, name)
               for module in models._MODULES for name in module.__all__)
    on_disk = {m.split(".")[-1] for m in MODULES if m.startswith("d2lite.models.")}
    assert {m.__name__.split(".")[-1] for m in models._MODULES} == on_disk


def test_diagrams_offer_every_name_their_modules_list_and_nothing_twice():
    import d2lite.diagrams as diagrams

    listed = [name for module in diagrams._MODULES for name in module.__all__]
    assert diagrams.__all__ == listed and len(set(listed)) == len(listed)
    on_disk = {m.split(".")[-1] for m in MODULES if m.startswith("d2lite.diagrams.")}
    assert {m.__name__.split(".")[-1] for m in diagrams._MODULES} == on_disk


def test_diagrams_import_neither_models_nor_the_data_hub():
    """A diagram takes the lesson's model as an argument; it imports no d2lite module."""
    upward = [(path.stem, name) for path in sorted((PACKAGE / "diagrams").glob("*.py"))
              for name in top_level_imports(path)]
    assert upward == []


def test_no_second_names_for_one_object():
    """A public name is defined where it lives, not re-exported under a module's `__all__`
    elsewhere (the submodules and d2lite's own short names are the exceptions)."""
    owners: dict[int, list[str]] = {}
    for module_name in MODULES:
        if module_name in ("d2lite.models", "d2lite.diagrams"):
            continue
        module = importlib.import_module(module_name)
        for name in public_names(module_name):
            obj = getattr(module, name)
            if not isinstance(obj, type(sys)):
                owners.setdefault(id(obj), []).append(f"{module_name}.{name}")
    twice = [names for names in owners.values() if len(names) > 1]
    assert twice == []


def test_every_public_function_and_class_has_a_doctest():
    missing = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in public_names(module_name):
            obj = getattr(module, name)
            if callable(obj) and ">>>" not in (obj.__doc__ or ""):
                missing.append(f"{module_name}.{name}")
    assert missing == []


def test_every_public_name_is_used_by_a_lesson_a_test_or_the_docs():
    """Every name in a module's `__all__` appears in a lesson, a test other than this file, the
    README or the book's pages: the package holds nothing that nobody calls."""
    texts = [p.read_text() for p in (*ROOT.glob("notebooks/*/*.py"), ROOT / "README.md",
                                     *ROOT.glob("book/*.md"), *ROOT.glob("tests/*.py"))
             if p.name != "test_package.py"]
    corpus = "\n".join(texts)
    unused = [f"{m}.{name}" for m in MODULES for name in public_names(m)
              if not re.search(rf"\b{re.escape(name)}\b", corpus)]
    assert unused == []


PREFIX = re.compile(r"^(?:[\w.]|\{[^{}]*\})+\(\): ")  # who(): or {who}(): ...
NOT_FOR_READERS = (  # internal messages, caught and reworded before a reader sees them
    "the file served has", "member {member!r} has", "not a complete zip archive",
    "{start}", "module 'd2lite' has no attribute",
    "{type(self).__name__} must define",  # the interface's NotImplementedError, a sentence
)


def raised_messages():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            call = node.exc if isinstance(node, ast.Raise) else None
            if not isinstance(call, ast.Call) or not call.args:
                continue
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield path.name, first.value
            elif isinstance(first, ast.JoinedStr):
                yield path.name, ast.unparse(first)[2:-1]


def test_every_error_message_starts_with_who_raised_it_in_one_form():
    wrong = [(name, message[:50]) for name, message in raised_messages()
             if not PREFIX.match(message) and not message.startswith(NOT_FOR_READERS)]
    assert wrong == []


# The import graph in layers: a module imports (at its top) only from layers below its own, so
# data comes before training, training before plots and widgets, and the models sit on top
# without the data hub (bert's `load_minilm_encoder` fetches its files lazily, inside the call).
LAYERS = [
    {"variation", "registry", "display", "wordpiece", "metrics", "checkpoint", "transforms",
     "diagrams"},
    {"device", "hub", "text", "distributed", "plots", "explorer"},
    {"data", "_checks", "widgets"},
    {"train"},
    {"__init__", "__main__"},
]
MODEL_MAY_IMPORT = {"text", "models"}


def top_level_imports(path: Path) -> set[str]:
    """The d2lite modules `path` imports outside any function (`d2lite.x` -> "x")."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("d2lite"):
            parts = node.module.split(".")[1:]
            names = [parts[0]] if parts else [alias.name for alias in node.names]
            found.update(names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("d2lite."))
    return found


def test_the_import_graph_has_layers_and_nothing_imports_upward():
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    upward = []
    for path in sorted(PACKAGE.glob("*.py")):
        assert path.stem in rank, f"{path.name}: put the new module in a layer of LAYERS"
        upward += [(path.stem, name) for name in top_level_imports(path)
                   if name != "models" and rank[name] >= rank[path.stem]
                   and path.stem not in ("__init__", "__main__")]
    for path in sorted((PACKAGE / "models").glob("*.py")):
        upward += [(f"models.{path.stem}", name) for name in top_level_imports(path)
                   if name not in MODEL_MAY_IMPORT]
    assert upward == []
