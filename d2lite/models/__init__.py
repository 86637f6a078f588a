"""The book's models, one complete class each, for later lessons to import.

The reuse contract: the lesson that teaches a model builds it in its own cells (the copy readers
read), then loads the same weights into the class here and asserts both give the same outputs;
later lessons import it from `d2lite.models`. Every class takes explicit constructor arguments and
documents its tensor shapes; decoding and losses are plain functions beside the models.
`tests/test_models.py` checks each against torch's own module where torch has one.

One module per lesson that builds a model, in book order; each lists its public names in its
`__all__`, and `d2lite.models` offers every one of them (a new module goes into `_MODULES`).
No module here imports the data hub: the models need tensors, not files.
"""
from d2lite.models import (
    attention,
    bert,
    cnn,
    densenet,
    encoder_decoder,
    losses,
    resnet,
    rnn,
    seq2seq,
    transformer,
    word2vec,
)
from d2lite.models.attention import *  # noqa: F403
from d2lite.models.bert import *  # noqa: F403
from d2lite.models.cnn import *  # noqa: F403
from d2lite.models.densenet import *  # noqa: F403
from d2lite.models.encoder_decoder import *  # noqa: F403
from d2lite.models.losses import *  # noqa: F403
from d2lite.models.resnet import *  # noqa: F403
from d2lite.models.rnn import *  # noqa: F403
from d2lite.models.seq2seq import *  # noqa: F403
from d2lite.models.transformer import *  # noqa: F403
from d2lite.models.word2vec import *  # noqa: F403

_MODULES = (cnn, resnet, densenet, rnn, losses, word2vec, encoder_decoder, seq2seq, attention,
            transformer, bert)
__all__ = [name for module in _MODULES for name in module.__all__]
