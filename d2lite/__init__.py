"""d2lite: the helper package of the d2lite book.

Notebooks write `d2lite.fit(...)`, `d2lite.try_gpu()`; everything public is listed in `__all__`.
Importing d2lite does not import ipywidgets or pooch: they load when first needed.
"""
__version__ = "0.1.0"

from d2lite import data, text, widgets  # submodules: d2lite.data.load_mnist(), d2lite.text.Vocab
from d2lite.checkpoint import load_checkpoint, save_checkpoint
from d2lite.device import num_gpus, seed_everything, try_all_gpus, try_gpu
from d2lite.metrics import accuracy
from d2lite.plot import plot, show_images  # the function d2lite.plot(...) hides the module name
from d2lite.train import EarlyStopping, History, evaluate, fit

__all__ = [
    "__version__",
    # submodules
    "data",
    "text",
    "widgets",
    # device
    "num_gpus",
    "seed_everything",
    "try_all_gpus",
    "try_gpu",
    # training
    "EarlyStopping",
    "History",
    "accuracy",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
    # plots
    "plot",
    "show_images",
]
