"""BERT (Devlin et al., 2019): the encoder (token + segment + position embeddings, then chapter 6's
Transformer encoder blocks with GELU), a loader for Hugging Face `BertModel` weights, and the two
pretraining heads (masked LM, next sentence) with their loss. No fine-tuning heads here."""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from d2lite.models.transformer import TransformerEncoderBlock

__all__ = ["BERTEmbedding", "BERTEncoder", "BERTPretrainer", "MaskLM", "NextSentencePred",
           "bert_pretraining_loss", "bert_state_dict", "load_minilm_encoder"]


class BERTEmbedding(nn.Module):
    """BERT's input: token + segment + learned position embeddings, layer norm, dropout.

    Every token's vector is the sum of three looked-up vectors: what the token is, which sentence
    of a pair it belongs to (segment 0 or 1) and where it stands (position 0, 1, ...).

    Args:
        vocab_size, num_hiddens: vocabulary and vector sizes.
        max_len: the number of positions (512 in BERT).
        num_segments: the number of segment types (2 in BERT).
        dropout: dropout after the layer norm (training only).
        norm_eps: the layer norm's epsilon (1e-12 in BERT).

    Shape:
        tokens: (batch, steps) int64; segments: None (all 0) or (batch, steps) int64
        -> (batch, steps, num_hiddens).

    Example:
        >>> embedding = BERTEmbedding(vocab_size=10, num_hiddens=8, max_len=16, dropout=0.0)
        >>> tuple(embedding(torch.tensor([[2, 5, 3]]), torch.tensor([[0, 0, 1]])).shape)
        (1, 3, 8)
    """

    def __init__(self, vocab_size: int, num_hiddens: int, max_len: int, dropout: float,
                 num_segments: int = 2, norm_eps: float = 1e-12):
        super().__init__()
        self.token = nn.Embedding(vocab_size, num_hiddens)
        self.segment = nn.Embedding(num_segments, num_hiddens)
        self.position = nn.Embedding(max_len, num_hiddens)
        self.ln = nn.LayerNorm(num_hiddens, eps=norm_eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        if tokens.shape[1] > self.position.num_embeddings:
            raise ValueError(f"BERTEmbedding(): {tokens.shape[1]} tokens but max_len="
                             f"{self.position.num_embeddings}; truncate the input")
        if segments is None:
            segments = torch.zeros_like(tokens)
        positions = torch.arange(tokens.shape[1], device=tokens.device)  # (steps,)
        X = self.token(tokens) + self.segment(segments) + self.position(positions)  # (b, s, d)
        return self.dropout(self.ln(X))


class BERTEncoder(nn.Module):
    """BERT without heads: `BERTEmbedding`, then `num_layers` post-norm Transformer encoder
    blocks with GELU (chapter 6's `TransformerEncoderBlock`).

    After each call, `hidden_states` lists num_layers + 1 tensors: the embedding's output and each
    block's output (the last is the return value), and `attention_weights` every block's weights.
    `bert_state_dict` renames a Hugging Face `BertModel` checkpoint for `load_state_dict`.

    Args:
        vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_layers: sizes (all-MiniLM-L6-v2:
            30522, 384, 1536, 12, 6; BERT-base: 30522, 768, 3072, 12, 12).
        dropout: on the embeddings, the attention weights and each sublayer's output.
        max_len, num_segments, norm_eps: as in `BERTEmbedding`.

    Shape:
        tokens: (batch, steps) int64; segments: None or (batch, steps); valid_lens: None or
        (batch,), the number of real tokens of each row (padding at the end)
        -> (batch, steps, num_hiddens). `hidden_states`: num_layers + 1 tensors of that shape.

    Example:
        >>> encoder = BERTEncoder(100, 8, 16, num_heads=2, num_layers=2, dropout=0.0, max_len=16)
        >>> out = encoder(torch.randint(100, (3, 5)), valid_lens=torch.tensor([5, 2, 4]))
        >>> tuple(out.shape), len(encoder.hidden_states)
        ((3, 5, 8), 3)
    """

    def __init__(self, vocab_size: int, num_hiddens: int, ffn_num_hiddens: int, num_heads: int,
                 num_layers: int, dropout: float, max_len: int = 512, num_segments: int = 2,
                 norm_eps: float = 1e-12):
        super().__init__()
        self.embedding = BERTEmbedding(vocab_size, num_hiddens, max_len, dropout, num_segments,
                                       norm_eps)
        self.blocks = nn.ModuleList([
            TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout,
                                    activation="gelu", norm_eps=norm_eps)
            for _ in range(num_layers)])
        self.hidden_states: list[torch.Tensor] = []
        self.attention_weights: list[torch.Tensor] = []

    def forward(self, tokens: torch.Tensor, segments: torch.Tensor | None = None,
                valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        H = self.embedding(tokens, segments)  # (batch, steps, num_hiddens)
        self.hidden_states = [H]
        for block in self.blocks:
            H = block(H, valid_lens)
            self.hidden_states.append(H)
        self.attention_weights = [b.attention.attention_weights for b in self.blocks]
        return H  # (batch, steps, num_hiddens)


class MaskLM(nn.Module):
    """The masked language model's head: an MLP from hidden states to vocabulary logits.

    Dense, GELU, layer norm, then a linear layer to `vocab_size` logits, as BERT's head (BERT
    also ties the last layer's weight to the token embedding; this head has its own). With
    `pred_mask`, only the chosen positions are gathered (`H[pred_mask]`) and scored, so the cost
    of the vocabulary-sized layer is paid where there is something to predict.

    Args:
        vocab_size, num_hiddens: vocabulary and vector sizes.
        norm_eps: the layer norm's epsilon (1e-12 in BERT).

    Shape:
        H: (batch, steps, num_hiddens); pred_mask: None or bool (batch, steps)
        -> (num_chosen, vocab_size) with num_chosen = pred_mask.sum(), rows in the order of
        `pred_mask.nonzero()` (batch by batch, then by position); without a mask
        (batch, steps, vocab_size).

    Example:
        >>> mlm = MaskLM(vocab_size=10, num_hiddens=8)
        >>> pred_mask = torch.tensor([[False, True, True], [True, False, False]])
        >>> tuple(mlm(torch.randn(2, 3, 8), pred_mask).shape)
        (3, 10)
    """

    def __init__(self, vocab_size: int, num_hiddens: int, norm_eps: float = 1e-12):
        super().__init__()
        self.dense = nn.Linear(num_hiddens, num_hiddens)
        self.ln = nn.LayerNorm(num_hiddens, eps=norm_eps)
        self.decoder = nn.Linear(num_hiddens, vocab_size)

    def forward(self, H: torch.Tensor, pred_mask: torch.Tensor | None = None) -> torch.Tensor:
        if pred_mask is not None:
            if pred_mask.dtype != torch.bool or pred_mask.shape != H.shape[:2]:
                raise ValueError(f"MaskLM(): pred_mask is {pred_mask.dtype} "
                                 f"{tuple(pred_mask.shape)}; expected torch.bool of shape "
                                 f"{tuple(H.shape[:2])}, True at the positions to predict")
            H = H[pred_mask]  # (num_chosen, num_hiddens)
        return self.decoder(self.ln(F.gelu(self.dense(H))))  # (..., vocab_size)


class NextSentencePred(nn.Module):
    """The next-sentence head: from the [CLS] position's state, two logits (0: the second
    sentence is a random one, 1: it is the real next sentence).

    The [CLS] state first goes through BERT's pooler (dense + tanh), then a linear layer.

    Shape:
        H: (batch, steps, num_hiddens), [CLS] at position 0 -> (batch, 2).

    Example:
        >>> nsp = NextSentencePred(num_hiddens=8)
        >>> tuple(nsp(torch.randn(4, 5, 8)).shape)
        (4, 2)
    """

    def __init__(self, num_hiddens: int):
        super().__init__()
        self.pooler = nn.Linear(num_hiddens, num_hiddens)
        self.output = nn.Linear(num_hiddens, 2)

    def forward(self, H: torch.Tensor) -> torch.Tensor:
        return self.output(torch.tanh(self.pooler(H[:, 0])))  # (batch, 2)


class BERTPretrainer(nn.Module):
    """`BERTEncoder` with both pretraining heads: `encoder`, `mlm` (`MaskLM`), `nsp`
    (`NextSentencePred`). Train it with `bert_pretraining_loss`; keep `encoder` afterwards.

    Args:
        as `BERTEncoder`.

    Shape:
        tokens, segments: (batch, steps) int64 (segments may be None); valid_lens: None or
        (batch,); pred_mask: None or bool (batch, steps)
        -> (mlm_logits, nsp_logits): as `MaskLM` and `NextSentencePred` return them.

    Example:
        >>> net = BERTPretrainer(20, 8, 16, num_heads=2, num_layers=1, dropout=0.0, max_len=8)
        >>> tokens = torch.randint(20, (2, 6))
        >>> mlm, nsp = net(tokens, valid_lens=torch.tensor([6, 4]), pred_mask=tokens > 14)
        >>> mlm.shape == ((tokens > 14).sum(), 20), tuple(nsp.shape)
        (True, (2, 2))
    """

    def __init__(self, vocab_size: int, num_hiddens: int, ffn_num_hiddens: int, num_heads: int,
                 num_layers: int, dropout: float, max_len: int = 512, num_segments: int = 2,
                 norm_eps: float = 1e-12):
        super().__init__()
        self.encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                                   num_layers, dropout, max_len, num_segments, norm_eps)
        self.mlm = MaskLM(vocab_size, num_hiddens, norm_eps)
        self.nsp = NextSentencePred(num_hiddens)

    def forward(self, tokens: torch.Tensor, segments: torch.Tensor | None = None,
                valid_lens: torch.Tensor | None = None,
                pred_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        H = self.encoder(tokens, segments, valid_lens)  # (batch, steps, num_hiddens)
        return self.mlm(H, pred_mask), self.nsp(H)


def bert_pretraining_loss(mlm_logits: torch.Tensor, mlm_labels: torch.Tensor,
                          nsp_logits: torch.Tensor, nsp_labels: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERT's pretraining loss: the mean cross-entropy over the chosen (masked) positions plus
    the mean cross-entropy of the next-sentence labels. Returns `(loss, mlm_loss, nsp_loss)`.

    With no chosen position in the batch the masked-LM term is 0.

    Shape:
        mlm_logits: (num_chosen, vocab_size); mlm_labels: (num_chosen,) the original tokens;
        nsp_logits: (batch, 2); nsp_labels: (batch,) 1 for a real next sentence -> three scalars.

    Example:
        >>> loss, mlm, nsp = bert_pretraining_loss(torch.zeros(3, 4), torch.tensor([0, 1, 3]),
        ...                                        torch.zeros(2, 2), torch.tensor([0, 1]))
        >>> round(mlm.item(), 4), round(nsp.item(), 4), round(loss.item(), 4)  # ln 4, ln 2
        (1.3863, 0.6931, 2.0794)
    """
    if mlm_logits.shape[:-1] != mlm_labels.shape or nsp_logits.shape[:-1] != nsp_labels.shape:
        raise ValueError(f"bert_pretraining_loss(): logits {tuple(mlm_logits.shape)} and "
                         f"{tuple(nsp_logits.shape)} do not match labels "
                         f"{tuple(mlm_labels.shape)} and {tuple(nsp_labels.shape)}; expected "
                         "(n, vocab_size) with (n,) and (batch, 2) with (batch,)")
    if mlm_labels.numel():
        mlm_loss = F.cross_entropy(mlm_logits, mlm_labels)
    else:
        mlm_loss = mlm_logits.sum() * 0.0  # keeps the graph; nothing to predict
    nsp_loss = F.cross_entropy(nsp_logits, nsp_labels)
    return mlm_loss + nsp_loss, mlm_loss, nsp_loss


# Hugging Face BertModel names -> BERTEncoder names (regular expression, replacement).
_RENAMES = (
    (r"embeddings\.word_embeddings\.", "embedding.token."),
    (r"embeddings\.token_type_embeddings\.", "embedding.segment."),
    (r"embeddings\.position_embeddings\.", "embedding.position."),
    (r"embeddings\.LayerNorm\.", "embedding.ln."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.query\.", r"blocks.\1.attention.W_q."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.key\.", r"blocks.\1.attention.W_k."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.value\.", r"blocks.\1.attention.W_v."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attention.W_o."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"blocks.\1.addnorm1.ln."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.ffn.dense1."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.ffn.dense2."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"blocks.\1.addnorm2.ln."),
)


def bert_state_dict(hf_state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the tensors of a Hugging Face `BertModel` checkpoint for `BERTEncoder`.

    The pooler (`pooler.*`, unused here) and the `embeddings.position_ids` buffer are dropped; a
    "bert." prefix is removed; any other unknown name is an error. Load the result with
    `load_state_dict(..., strict=True)`.

    Example:
        >>> names = bert_state_dict({"encoder.layer.3.attention.self.query.weight": torch.ones(1),
        ...                          "pooler.dense.bias": torch.ones(1)})
        >>> list(names)
        ['blocks.3.attention.W_q.weight']
    """
    renamed = {}
    for name, tensor in hf_state_dict.items():
        name = name.removeprefix("bert.")
        if name.startswith("pooler.") or name == "embeddings.position_ids":
            continue
        for pattern, replacement in _RENAMES:
            new_name, count = re.subn(f"^{pattern}", replacement, name)
            if count:
                renamed[new_name] = tensor
                break
        else:
            raise ValueError(f"bert_state_dict(): unknown tensor {name!r}; expected the names of "
                             "Hugging Face's BertModel (embeddings.*, encoder.layer.*, pooler.*)")
    return renamed


def load_minilm_encoder(*, dropout: float = 0.1, verbose: bool = True):
    """Build a `BERTEncoder` with the pretrained weights of all-MiniLM-L6-v2 and its tokenizer.

    Returns `(encoder, tokenizer)`: the encoder in eval mode (call `train()` to fine-tune), and a
    `d2lite.wordpiece.WordPiece` over the model's 30,522-token vocabulary. The files come from
    `d2lite.data.load_minilm` ($D2LITE_DATA, the cache, or a download of 91 MB).

    Example:
        >>> encoder, tokenizer = load_minilm_encoder(verbose=False)
        >>> ids, segments = tokenizer.encode("The bank of the river.")
        >>> tuple(encoder(torch.tensor([ids])).shape)
        (1, 8, 384)
    """
    from d2lite.data import load_minilm  # lazily: the models do not need the data hub
    from d2lite.wordpiece import WordPiece

    state_dict, vocab, config = load_minilm(verbose=verbose)
    if config.get("hidden_act") != "gelu" or config.get("position_embedding_type",
                                                           "absolute") != "absolute":
        raise ValueError("load_minilm_encoder(): the checkpoint is not a plain GELU BERT")
    encoder = BERTEncoder(config["vocab_size"], config["hidden_size"], config["intermediate_size"],
                          config["num_attention_heads"], config["num_hidden_layers"], dropout,
                          config["max_position_embeddings"], config["type_vocab_size"],
                          config["layer_norm_eps"])
    encoder.load_state_dict(bert_state_dict(state_dict), strict=True)
    return encoder.eval(), WordPiece(vocab)
