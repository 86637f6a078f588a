"""d2lite: the helper package of the d2lite book.

Notebooks write `d2lite.fit(...)`, `d2lite.try_gpu()`; everything public is listed in `__all__`.
`import d2lite` loads torch and numpy only: matplotlib, ipywidgets and pooch load when first
used, and `d2lite.widgets` and `d2lite.models` when first named.

Example:
    >>> import d2lite
    >>> d2lite.History({"train_loss": [0.5]})["train_loss"]
    [0.5]
"""
import importlib

__version__ = "0.2.0"

from d2lite import data, diagrams, text, transforms, variation  # d2lite.data.load_mnist()
from d2lite.checkpoint import load_checkpoint, load_model, save_checkpoint
from d2lite.device import num_gpus, seed_everything, try_all_gpus, try_gpu
from d2lite.metrics import accuracy
from d2lite.plots import plot, show_images
from d2lite.train import EarlyStopping, History, evaluate, fit
from d2lite.variation import record

_LAZY = ("models", "widgets")  # widgets loads matplotlib: only when a lesson first names it

__all__ = [
    "__version__", "data", "diagrams", "models", "text", "transforms", "variation",
    "widgets",  # submodules
    "num_gpus", "seed_everything", "try_all_gpus", "try_gpu",  # devices
    "EarlyStopping", "History", "accuracy", "evaluate", "fit",  # training
    "load_checkpoint", "load_model", "save_checkpoint",
    "plot", "show_images",  # plots
    "record",  # the variation sweep's record
]


def __getattr__(name: str):
    """Import `d2lite.widgets` or `d2lite.models` the first time the name is used."""
    if name in _LAZY:
        return importlib.import_module(f"d2lite.{name}")
    raise AttributeError(f"module 'd2lite' has no attribute {name!r}")
