"""The book's models, one complete class each, for later lessons to import.

The reuse contract: the lesson that teaches a model builds it in its own cells (the copy readers
read), then loads the same weights into the class here and asserts both give the same outputs;
later lessons import it from `d2lite.models`. Every class takes explicit constructor arguments and
documents its tensor shapes; decoding and losses are plain functions beside the models.
`tests/test_models.py` checks each against torch's own module where torch has one.

Modules, one concern each: `cnn` (LeNet-style CNN, VGG), `resnet` (ResNet, DenseNet), `rnn`,
`attention`, `seq2seq`, `transformer`, `bert`. Each chapter adds its names below.
"""
from d2lite.models import cnn, resnet, rnn  # noqa: F401  (chapters 4, 5)
from d2lite.models.attention import (
    AdditiveAttention,
    DotProductAttention,
    MultiHeadAttention,
    PositionalEncoding,
    masked_softmax,
    merge_heads,
    split_heads,
)
from d2lite.models.bert import (
    BERTEmbedding,
    BERTEncoder,
    BERTPretrainer,
    MaskLM,
    NextSentencePred,
    bert_pretraining_loss,
    bert_state_dict,
    load_minilm_encoder,
)
from d2lite.models.cnn import VGG, LeNet, vgg_block
from d2lite.models.resnet import DenseBlock, DenseNet, Residual, ResNet, transition_block
from d2lite.models.rnn import RNNLM, GRUScratch, LSTMScratch, RNNScratch, lm_loss, predict
from d2lite.models.seq2seq import (
    Decoder,
    Encoder,
    EncoderDecoder,
    Seq2SeqAttentionDecoder,
    Seq2SeqDecoder,
    Seq2SeqEncoder,
    greedy_decode,
    masked_cross_entropy,
    pad_sequences,
    sequence_mask,
    shift_right,
    split_by_source,
)
from d2lite.models.transformer import (
    AddNorm,
    PositionWiseFFN,
    TransformerDecoder,
    TransformerDecoderBlock,
    TransformerEncoder,
    TransformerEncoderBlock,
    causal_valid_lens,
)
from d2lite.models.word2vec import SkipGram, nearest, skipgram_examples, skipgram_loss

__all__: list[str] = ["LeNet", "vgg_block", "VGG",
                      "Residual", "ResNet", "DenseBlock", "transition_block", "DenseNet",
                      "RNNScratch", "GRUScratch", "LSTMScratch", "RNNLM", "lm_loss",
                      "predict",
                      "masked_softmax", "AdditiveAttention", "DotProductAttention",
                      "split_heads", "merge_heads", "MultiHeadAttention", "PositionalEncoding",
                      "Encoder", "Decoder", "EncoderDecoder", "Seq2SeqEncoder", "Seq2SeqDecoder",
                      "Seq2SeqAttentionDecoder", "sequence_mask", "pad_sequences", "shift_right",
                      "masked_cross_entropy", "greedy_decode", "split_by_source",
                      "PositionWiseFFN", "AddNorm", "TransformerEncoderBlock",
                      "TransformerEncoder", "TransformerDecoderBlock", "TransformerDecoder",
                      "causal_valid_lens",
                      "SkipGram", "skipgram_examples", "skipgram_loss", "nearest",
                      "BERTEmbedding", "BERTEncoder", "bert_state_dict", "load_minilm_encoder",
                      "MaskLM", "NextSentencePred", "BERTPretrainer", "bert_pretraining_loss"]
