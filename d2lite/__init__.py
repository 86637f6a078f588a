"""d2lite: the helper package of the d2lite book.

Notebooks write `d2lite.fit(...)`, `d2lite.try_gpu()`; everything public is listed in `__all__`.
`import d2lite` loads torch and numpy only: matplotlib, ipywidgets and pooch load when first
used, and `d2lite.data` (with the data hub), `d2lite.models` and `d2lite.widgets` when first
named.

Example:
    >>> import d2lite
    >>> d2lite.History({"train_loss": [0.5]})["train_loss"]
    [0.5]
"""
import importlib

__version__ = "0.3.0"

from d2lite import diagrams, text, transforms, variation, wordpiece
from d2lite.checkpoint import load_checkpoint, load_model, save_checkpoint
from d2lite.device import num_gpus, seed_everything, try_gpu
from d2lite.display import use_hidpi_figures
from d2lite.metrics import accuracy
from d2lite.plots import plot, show_images
from d2lite.train import EarlyStopping, History, evaluate, fit
from d2lite.variation import record

_LAZY = ("data", "models", "widgets")  # imported when a lesson first names them

__all__ = [
    "__version__", "data", "diagrams", "models", "text", "transforms", "variation",
    "widgets", "wordpiece",  # submodules
    "num_gpus", "seed_everything", "try_gpu",  # devices
    "EarlyStopping", "History", "accuracy", "evaluate", "fit",  # training
    "load_checkpoint", "load_model", "save_checkpoint",
    "plot", "show_images",  # plots
    "record",  # the variation sweep's record
]


use_hidpi_figures()  # the one import-time effect: in a Jupyter kernel, figures with 2x pixels


def __getattr__(name: str):
    """Import `d2lite.data`, `d2lite.models` or `d2lite.widgets` the first time it is named."""
    if name in _LAZY:
        return importlib.import_module(f"d2lite.{name}")
    raise AttributeError(f"module 'd2lite' has no attribute {name!r}")
