"""Chapter 7's BERT and the appendix's data parallelism: BERT's input embeddings, its two
pretraining heads (drawn from the lesson's model), the fine-tuning tasks, which context ELMo,
GPT and BERT see, and data-parallel training with gradients all-reduced.
"""
from __future__ import annotations

from .attention import _capture
from .canvas import ACCENT, MUTED, Box, Diagram
from .network import shape_text

__all__ = ["bert_finetuning_tasks", "bert_input", "bert_pretraining", "context_directions",
           "data_parallel"]


def _plain(text: str) -> str:
    """A token as plain text for matplotlib: a dollar sign would start mathtext."""
    return text.replace("$", r"\$")


def bert_input(tokens, segments):
    """BERT's input representation of a token sequence: each token's vector is the sum of its
    token embedding, its segment embedding (0 for the first sentence, 1 for the second) and
    its position embedding. `tokens` are the token strings ([CLS] ... [SEP] ... [SEP]) and
    `segments` their segment ids.

    Example:
        >>> from d2lite.diagrams import texts
        >>> labels = texts(bert_input(["[CLS]", "hi", "[SEP]", "yo", "[SEP]"], [0, 0, 0, 1, 1]))
        >>> "[CLS]" in labels, "sum" in labels, "sentence B" in labels
        (True, True, True)
    """
    tokens, segments = list(tokens), [int(s) for s in segments]
    if not tokens or len(tokens) != len(segments) or not set(segments) <= {0, 1}:
        raise ValueError(f"bert_input(): got {len(tokens)} tokens and segments {segments}; "
                         "expected one segment id, 0 or 1, per token")
    row = 0.25
    d = Diagram(4.45, 0.5 + row * len(tokens))
    top = 0.1 + row * len(tokens)
    for x, name in ((0.65, "token"), (1.6, "segment"), (2.5, "position"), (3.25, "")):
        d.label(x, top + 0.04, f"{name}\nembedding" if name else "sum", size="tiny",
                colour=MUTED, va="bottom")
    for t, (token, segment) in enumerate(zip(tokens, segments, strict=True)):
        y = top - (t + 0.5) * row
        d.block(0.65, y, _plain(token), "embedding", w=0.95, h=0.21, size="tiny")
        d.block(1.6, y, str(segment), "embedding", w=0.5, h=0.21, size="tiny",
                dashed=segment == 1)
        d.block(2.5, y, str(t), "embedding", w=0.5, h=0.21, size="tiny")
        for x, sign in ((1.22, "+"), (2.05, "+"), (2.87, "=")):
            d.label(x, y, sign, size="small", colour=MUTED)
        d.tensor(3.25, y, rf"$\mathbf{{x}}_{{{t}}}$", w=0.5, h=0.21)
    for segment, name in ((0, "sentence A"), (1, "sentence B")):
        rows = [t for t, s in enumerate(segments) if s == segment]
        if not rows:
            continue
        y0, y1 = top - rows[0] * row - 0.03, top - (rows[-1] + 1) * row + 0.03
        d.ax.plot([3.6, 3.65, 3.65, 3.6], [y0, y0, y1, y1], color=MUTED, lw=1)
        d.label(3.73, (y0 + y1) / 2, name, size="tiny", ha="left")
    return d.figure


def _answer(d: Diagram, x: float, y: float, text: str, size: str = "small") -> Box:
    """A prediction in red, as a box an arrow can end at."""
    d.label(x, y, text, size=size, colour=ACCENT)
    return Box(x, y, 0.3, 0.2)


def _column(d: Diagram, x: float, y: float, text: str, kind: str = "tensor", w: float = 0.36):
    return d.block(x, y, text, kind, w=w, h=0.24, size="tiny")


def bert_pretraining(net, num_steps: int):
    """BERT's two pretraining heads on the lesson's model: the masked language model scores
    the vocabulary at the chosen (masked) positions only, next-sentence prediction reads the
    <cls> position. `net` has `encoder` (with `blocks`), `mlm` and `nsp`, and is called as
    `net(tokens, segments, valid_lens, pred_mask)`; the shapes come from a forward pass of
    one sequence of `num_steps` tokens.

    Example:
        >>> from d2lite.diagrams import texts
        >>> from d2lite.models import BERTPretrainer
        >>> net = BERTPretrainer(20, 8, 16, num_heads=2, num_layers=1, dropout=0.0, max_len=10)
        >>> labels = texts(bert_pretraining(net, num_steps=10))
        >>> "(num_chosen, 20)" in labels, "(batch, 2)" in labels
        (True, True)
    """
    import torch

    if not all(hasattr(net, part) for part in ("encoder", "mlm", "nsp")):
        raise ValueError(f"bert_pretraining(): got a {type(net).__name__}; expected a model "
                         "with encoder, mlm and nsp")
    if num_steps < 3:
        raise ValueError(f"bert_pretraining(): got num_steps={num_steps}; expected 3 or more")
    device = next(net.parameters()).device
    tokens = torch.zeros(1, num_steps, dtype=torch.long, device=device)
    chosen = torch.zeros(1, num_steps, dtype=torch.bool, device=device)
    chosen[0, 1:3] = True
    shapes = _capture(net, {"encoder": net.encoder, "mlm": net.mlm, "nsp": net.nsp},
                      lambda: net(tokens, torch.zeros_like(tokens),
                                  torch.tensor([num_steps], device=device), chosen))
    example = ["<cls>", "the", "<mask>", "sat", "<sep>", "it", "<mask>", "<sep>"]
    answers = {2: "cat", 6: "purred"}
    xs = [0.42 + 0.56 * i for i in range(len(example))]
    d = Diagram(4.8, 3.55)
    encoder = d.block(2.38, 1.0, f"encoder, {len(net.encoder.blocks)} blocks: "
                      f"{shape_text(tokens.shape)} → {shape_text(shapes['encoder'])}",
                      "attention", w=4.5, h=0.38, size="small")
    for i, (x, token) in enumerate(zip(xs, example, strict=True)):
        d.arrow(_column(d, x, 0.3, token, w=0.52), (x, encoder.bottom[1]))
        h = _column(d, x, 1.7, rf"$\mathbf{{h}}_{i}$")
        d.arrow((x, encoder.top[1]), h)
        if i == 0 or i in answers:
            head = _column(d, x, 2.4, "NSP" if i == 0 else "MLM", "dense", w=0.5)
            d.arrow(h, head)
            out = "next" if i == 0 else answers[i]
            label = shape_text(shapes["nsp"]) if i == 0 else \
                "(num_chosen, " + str(shapes["mlm"][-1]) + ")" if i == 2 else ""
            d.arrow(head, _answer(d, x, 3.1, out), label)
    d.label(4.75, 3.42, "MLM: the masked positions only; NSP: the <cls> position",
            size="tiny", colour=MUTED, ha="right")
    return d.figure


def _task(d: Diagram, x0: float, y0: float, title: str, tokens, heads):
    """One fine-tuning task: `tokens` into BERT, a head on the columns `heads` maps to their
    outputs; a head covering several columns is one block."""
    step = 2.3 / len(tokens)
    xs = [x0 + 0.1 + step * (i + 0.5) for i in range(len(tokens))]
    d.label(x0 + 0.1, y0 + 2.05, title, size="small", ha="left")
    bert = d.block(x0 + 1.25, y0 + 0.85, "BERT", "attention", w=2.3, h=0.34, size="small")
    for x, token in zip(xs, tokens, strict=True):
        d.arrow(_column(d, x, y0 + 0.25, token, w=step - 0.04), (x, bert.bottom[1]))
    for columns, outputs in heads:
        left, right = xs[columns[0]], xs[columns[-1]]
        head = d.block((left + right) / 2, y0 + 1.35, "dense", "dense",
                       w=max(right - left + step - 0.06, 0.55), h=0.26, size="tiny")
        for i, out in zip(columns, outputs, strict=True):
            d.arrow((xs[i], bert.top[1]), (xs[i], head.bottom[1]))
            d.arrow((xs[i], head.top[1]), _answer(d, xs[i], y0 + 1.75, out, "tiny"))


def bert_finetuning_tasks():
    """The four shapes of a fine-tuning task on one pretrained BERT, each with a small new
    head: a label for one sentence and for a pair (from [CLS]), a label per token (tagging),
    and a span of a passage (start and end scores per passage token).

    Example:
        >>> from d2lite.diagrams import texts
        >>> labels = texts(bert_finetuning_tasks())
        >>> "a pair of sentences" in labels, "start" in labels, "end" in labels
        (True, True, True)
    """
    d = Diagram(5.0, 4.6)
    panels = (
        ("one sentence", ["[CLS]", "$x_1$", "$x_2$", "$x_3$", "[SEP]"], [([0], ["class"])]),
        ("a pair of sentences", ["[CLS]", "$a_1$", "[SEP]", "$b_1$", "$b_2$", "[SEP]"],
         [([0], ["class"])]),
        ("tagging", ["[CLS]", "$x_1$", "$x_2$", "$x_3$", "[SEP]"],
         [([1, 2, 3], ["tag", "tag", "tag"])]),
        ("a span of the passage", ["[CLS]", "$q_1$", "[SEP]", "$p_1$", "$p_2$", "[SEP]"],
         [([3, 4], ["start", "end"])]),
    )
    for k, (title, tokens, heads) in enumerate(panels):
        _task(d, 2.5 * (k % 2), 2.3 * (1 - k // 2), title, tokens, heads)
    return d.figure


def _chain(d: Diagram, xs, y: float, red, *, reverse: bool, text: str):
    """Recurrent boxes at xs, their state passed left to right (or right to left)."""
    boxes = [d.block(x, y, text, "recurrent", w=0.3, h=0.26, size="tiny") for x in xs]
    order = list(range(len(xs)))[::-1] if reverse else list(range(len(xs)))
    for a, b in zip(order, order[1:], strict=False):
        d.arrow(boxes[a], boxes[b], colour=ACCENT if a in red and b in red else MUTED)
    return boxes


def context_directions(n: int = 5, position: int = 3):
    """Which tokens the vector of token `position` (counted from 1) depends on: ELMo joins a
    left-to-right and a right-to-left LSTM, each seeing one side; GPT's causal Transformer
    sees the left side only; BERT's encoder sees both sides in every layer. Red: what reaches
    that token's vector.

    Example:
        >>> from d2lite.diagrams import texts
        >>> labels = texts(context_directions())
        >>> "ELMo" in labels, "GPT" in labels, "BERT" in labels
        (True, True, True)
    """
    if not 1 <= position <= n <= 6:
        raise ValueError(f"context_directions(): got n={n}, position={position}; expected "
                         "1 <= position <= n <= 6")
    t, panel = position - 1, 1.5
    d = Diagram(4.8, panel * 3)
    notes = {"ELMo": "two LSTMs, one left-to-right and one right-to-left, concatenated",
             "GPT": "a Transformer decoder: the left side only",
             "BERT": "a Transformer encoder: both sides at once"}
    for p, (name, note) in enumerate(notes.items()):
        y0 = panel * (2 - p)
        d.label(0.1, y0 + panel - 0.17, name, size="label", ha="left")
        d.label(0.72, y0 + panel - 0.17, note, size="tiny", colour=MUTED, ha="left")
        if name == "ELMo":
            join = d.op(2.4, y0 + 1.12, "[ ]", r=0.12)
            for half, reverse in ((0, False), (1, True)):
                xs = [0.3 + 2.45 * half + 0.42 * i for i in range(n)]
                seen = set(range(t, n)) if reverse else set(range(t + 1))
                boxes = _chain(d, xs, y0 + 0.65, seen, reverse=reverse,
                               text="←" if reverse else "→")
                for i, x in enumerate(xs):
                    x_in = d.tensor(x, y0 + 0.2, f"$x_{{{i + 1}}}$", w=0.3, h=0.24)
                    d.arrow(x_in, boxes[i], colour=ACCENT if i in seen else MUTED)
                d.arrow(boxes[t], join, colour=ACCENT)
            continue
        step = 4.3 / n
        xs = [0.35 + step * i for i in range(n)]
        inputs = [d.tensor(x, y0 + 0.2, f"$x_{{{i + 1}}}$", w=0.36, h=0.24)
                  for i, x in enumerate(xs)]
        outputs = [d.block(x, y0 + 0.95, f"$y_{{{i + 1}}}$", "attention", w=0.36, h=0.26,
                           size="small") for i, x in enumerate(xs)]
        for i, out in enumerate(outputs):
            for j in range(n if name == "BERT" else i + 1):
                d.arrow(inputs[j], out, colour=ACCENT if i == t else MUTED)
    return d.figure


def data_parallel(num_processes: int = 2, batch_size: int = 64):
    """Data-parallel training: each process holds a copy of the model and takes its own
    `batch_size` examples of the global batch; the gradients are averaged across processes
    (all-reduce), so every copy takes the same step and the copies stay identical.

    Example:
        >>> from d2lite.diagrams import texts
        >>> labels = texts(data_parallel(num_processes=2, batch_size=64))
        >>> "global batch of 128" in labels, "process 1" in labels
        (True, True)
    """
    if not 2 <= num_processes <= 4 or batch_size < 1:
        raise ValueError(f"data_parallel(): got num_processes={num_processes}, batch_size="
                         f"{batch_size}; expected 2 to 4 processes and a positive batch size")
    k = num_processes
    gap = 4.2 / k
    xs = [0.3 + gap * (i + 0.5) for i in range(k)]
    d = Diagram(4.8, 4.25)
    batch = d.tensor(2.4, 0.3, f"global batch of {k * batch_size}", w=2.0)
    terms = " + ".join(rf"\mathbf{{g}}_{i}" for i in range(k))
    mean = rf"$\mathbf{{g}} = ({terms}) / {k}$"
    reduce = d.block(2.4, 2.85, f"all-reduce: {mean}", "plain", w=4.3, h=0.36, size="small")
    for i, x in enumerate(xs):
        shard = d.tensor(x, 0.95, f"{batch_size} examples", w=1.2)
        d.arrow(batch, shard)
        model = d.block(x, 1.6, "model copy", "dense", w=1.2, h=0.34, size="small")
        d.arrow(shard, model)
        grad = d.tensor(x, 2.25, rf"$\mathbf{{g}}_{i}$", w=0.45)
        d.arrow(model, grad, "backward", colour=ACCENT)
        d.arrow(grad, (x, reduce.bottom[1]), colour=ACCENT)
        step = d.block(x, 3.5, r"$\mathbf{w} \leftarrow \mathbf{w} - \eta\,\mathbf{g}$",
                       "plain", w=1.3, h=0.34, size="small")
        d.arrow((x, reduce.top[1]), step, colour=ACCENT)
        frame = d.frame([shard, model, step], pad=0.1)
        d.label(x, frame.y + frame.h / 2 + 0.12, f"process {i}", size="small")
    return d.figure
