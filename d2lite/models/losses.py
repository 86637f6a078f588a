"""Cross-entropy per token, the loss of every sequence model in the book, in one place: as a
loss (`lm_loss`; `masked_cross_entropy`, which leaves padding out) and as a metric
(`Perplexity`, its exponential, for `fit(metrics=...)`)."""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from d2lite.text import sequence_mask

__all__ = ["Perplexity", "lm_loss", "masked_cross_entropy"]


def lm_loss(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per token; its exponential is the perplexity.

    Shape:
        logits: (batch, num_steps, vocab); Y: (batch, num_steps) next-token indices.

    Example:
        >>> round(math.exp(lm_loss(torch.zeros(2, 3, 28), torch.zeros(2, 3).long())), 4)
        28.0
    """
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))


def masked_cross_entropy(logits: torch.Tensor, Y: torch.Tensor,
                         valid_lens: torch.Tensor | None = None, *,
                         pad_id: int | None = None) -> torch.Tensor:
    """Mean cross-entropy over the valid tokens only; padding counts for nothing.

    Give the valid lengths or the padding index (positions where `Y == pad_id` are masked).
    The mean is per token, so its exponential is the perplexity of the valid tokens. With
    `pad_id` it equals `F.cross_entropy(logits.transpose(1, 2), Y, ignore_index=pad_id)`.

    Shape:
        logits: (batch, num_steps, vocab); Y: (batch, num_steps); valid_lens: (batch,).

    Example:
        >>> logits, Y = torch.zeros(2, 3, 5), torch.tensor([[1, 2, 0], [3, 0, 0]])
        >>> logits[1, 1:, 0] = 100.0   # wrong scores, but at padded positions: no effect
        >>> a = masked_cross_entropy(logits, Y, torch.tensor([3, 1]))
        >>> b = masked_cross_entropy(logits, Y, pad_id=0)
        >>> round(a.exp().item(), 4), bool(a == b)   # uniform over 5 tokens: perplexity 5
        (5.0, True)
    """
    if (valid_lens is None) == (pad_id is None):
        raise ValueError("masked_cross_entropy(): give exactly one of valid_lens and pad_id; "
                         f"got valid_lens={'None' if valid_lens is None else 'a tensor'}, "
                         f"pad_id={pad_id!r}")
    if logits.shape[:2] != Y.shape:
        raise ValueError(f"masked_cross_entropy(): logits {tuple(logits.shape)} do not match "
                         f"labels {tuple(Y.shape)}; expected (batch, num_steps, vocab) and "
                         "(batch, num_steps)")
    mask = sequence_mask(valid_lens, Y.shape[1]) if pad_id is None else Y != pad_id
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1),
                             reduction="none").reshape(Y.shape)  # (batch, num_steps)
    return losses.masked_fill(~mask, 0.0).sum() / mask.sum().clamp(min=1)


class Perplexity:
    """Perplexity `exp(mean cross-entropy per token)` of next-token logits; tokens equal to
    `ignore_index` (padding) are left out.

    Args (of a call):
        y_hat: logits `(batch, steps, vocab)` (vocabulary last) or `(batch * steps, vocab)`.
        y: token indices `(batch, steps)` or `(batch * steps,)`.

    Example:
        >>> ppl = Perplexity()
        >>> total, count = ppl(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long))
        >>> round(ppl.finish(float(total) / count), 3)   # uniform over 4 words: perplexity 4
        4.0
    """

    def __init__(self, ignore_index: int = -100):
        self.ignore_index = ignore_index

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if y_hat.shape[:-1] != y.shape:
            raise ValueError(f"Perplexity(): got logits {tuple(y_hat.shape)} for targets "
                             f"{tuple(y.shape)}; expected (..., vocab) logits for (...) targets")
        logits, targets = y_hat.reshape(-1, y_hat.shape[-1]).float(), y.reshape(-1)  # (tokens, ...)
        total = F.cross_entropy(logits, targets, ignore_index=self.ignore_index, reduction="sum")
        return total, (targets != self.ignore_index).sum()

    def finish(self, mean_nll: float) -> float:
        """Turn the mean negative log-likelihood per token into a perplexity."""
        return math.exp(mean_nll)
