"""d2lite: the helper package of the d2lite book.

Notebooks write `d2lite.fit(...)`, `d2lite.try_gpu()`; everything public is listed in `__all__`.
Importing d2lite does not import ipywidgets or pooch: they load when first needed.
"""
__version__ = "0.1.0"

from d2lite.device import num_gpus, seed_everything, try_all_gpus, try_gpu

__all__ = [
    "__version__",
    # device
    "num_gpus",
    "seed_everything",
    "try_all_gpus",
    "try_gpu",
]
