"""Diagrams in one visual language, drawn with matplotlib from the code they show.

Each function returns a matplotlib Figure, shown once when it ends a notebook cell. The
primitives (`Diagram`: blocks, tensors, operations, arrows, frames, labels, grids) and the
palette live in `canvas`; the lessons' diagrams in one module per part of the book.
"""
from . import (
               attention,
               basics,
               bert,
               canvas,
               cnn,
               cnn_models,
               network,
               rnn,
               rnn_models,
               transformer,
)
from .attention import *  # noqa: F403
from .basics import *  # noqa: F403
from .bert import *  # noqa: F403
from .canvas import *  # noqa: F403
from .cnn import *  # noqa: F403
from .cnn_models import *  # noqa: F403
from .network import *  # noqa: F403
from .rnn import *  # noqa: F403
from .rnn_models import *  # noqa: F403
from .transformer import *  # noqa: F403

_MODULES = [canvas, network, basics, cnn, cnn_models, rnn, rnn_models, attention, transformer,
            bert]
__all__ = [name for module in _MODULES for name in module.__all__]
