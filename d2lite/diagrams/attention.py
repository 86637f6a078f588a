"""Chapter 6's attention mechanisms: attention pooling over key-value pairs, the two scoring
functions, Bahdanau attention in a GRU decoder and multi-head attention. The decoder and the
multi-head layer are drawn from the lesson's model, with the shapes of a forward pass.
"""
from __future__ import annotations

from .canvas import ACCENT, MUTED, Diagram
from .network import shape_text

__all__ = ["attention_pooling", "bahdanau_decoder", "multihead_attention", "scoring_function"]


def _capture(net, modules: dict, call) -> dict[str, tuple[int, ...]]:
    """Run `call()` once with `net` in eval mode and without gradients; return the output
    shape of each named module (`name`) and the shape of its first input (`name<`). The
    model's mode and the plain attributes its layers keep (such as `attention_weights`) are
    restored and the hooks removed, whatever happens, so drawing changes nothing."""
    import torch

    found: dict[str, tuple[int, ...]] = {}
    kept = [(m, {k: v for k, v in vars(m).items() if not k.startswith("_")})
            for m in net.modules()]

    def hook(name):
        def record(module, args, output):
            first = output[0] if isinstance(output, tuple) else output
            found[name] = tuple(first.shape)
            if args and hasattr(args[0], "shape"):
                found[name + "<"] = tuple(args[0].shape)
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            call()
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()
        for module, attributes in kept:
            for name in set(vars(module)) - set(attributes) - {"training"}:
                if not name.startswith("_"):
                    delattr(module, name)
            vars(module).update(attributes)
    return found


def _stacked(d: Diagram, x: float, y: float, text: str, kind: str, copies: int, *,
             w: float = 1.0, h: float = 0.36, step: float = 0.07):
    """A block with up to three copies drawn behind it, offset up and right: h heads."""
    for k in range(min(copies, 4) - 1, 0, -1):
        d.block(x + k * step, y + k * step, "", kind, w=w, h=h)
    return d.block(x, y, text, kind, w=w, h=h, size="small")


def attention_pooling():
    """A query scored against every key, the scores turned into weights by a softmax, and the
    weighted sum of the values: attention pooling, f(q) = sum_i alpha(q, k_i) v_i.

    Example:
        >>> from d2lite.diagrams import texts
        >>> fig = attention_pooling()
        >>> "softmax" in texts(fig), "$f(\\\\mathbf{q})$" in texts(fig)
        (True, True)
    """
    d = Diagram(4.9, 4.8)
    cols, dots, names = (1.35, 2.55, 4.05), 3.45, ("1", "2", "m")
    query = d.tensor(0.45, 0.3, r"$\mathbf{q}$", w=0.42)
    d.label(0.45, 0.06, "query", size="tiny", colour=MUTED)
    for y, text in ((0.68, "keys"), (1.25, "scores"), (2.6, "weights")):
        d.label(0.12, y, text, size="tiny", colour=MUTED, ha="left")
    scorers, products = [], []
    for x, i in zip(cols, names, strict=True):
        key = d.tensor(x - 0.2, 0.68, rf"$\mathbf{{k}}_{i}$", w=0.42, h=0.24)
        scorer = d.block(x, 1.25, rf"$a(\mathbf{{q}}, \mathbf{{k}}_{i})$", "attention",
                         w=0.95, size="small")
        d.arrow(key, (x - 0.2, scorer.bottom[1]))
        d.arrow(query, (x + 0.28, scorer.bottom[1]), via=[(x + 0.28, 0.3)])
        scorers.append(scorer)
    softmax = d.block(2.75, 1.95, "softmax", "activation", w=3.55)
    for x, i, scorer in zip(cols, names, scorers, strict=True):
        d.arrow(scorer, (x, softmax.bottom[1]))
        weight = d.tensor(x, 2.6, rf"$\alpha(\mathbf{{q}}, \mathbf{{k}}_{i})$", w=0.95)
        d.arrow((x, softmax.top[1]), weight)
        times = d.op(x, 3.25, "×")
        d.arrow(weight, times)
        value = d.tensor(x + 0.55, 3.25, rf"$\mathbf{{v}}_{i}$", w=0.4, h=0.24)
        d.arrow(value, times)
        products.append(times)
    for y in (0.68, 1.25, 2.6, 3.25):
        d.label(dots, y, "⋯", size="label")
    total = d.op(2.75, 3.95, "Σ")
    for times in products:
        d.arrow(times, total)
    d.label(3.0, 3.95, "weighted sum of the values", size="tiny", colour=MUTED, ha="left")
    out = d.tensor(2.75, 4.55, r"$f(\mathbf{q})$", w=0.7)
    d.arrow(total, out)
    return d.figure


def scoring_function(kind: str = "additive"):
    """How a scoring function turns queries and keys into attention weights, with the shapes
    of a minibatch (B examples, n queries, m keys): `kind="additive"`, a one-hidden-layer
    network w_v^T tanh(W_q q + W_k k) that broadcasts every query against every key, or
    `kind="dot product"`, Q K^T / sqrt(d) with no parameters.

    Example:
        >>> from d2lite.diagrams import texts
        >>> "(B, n, m, h)" in texts(scoring_function("additive"))
        True
        >>> "$\\\\div\\\\sqrt{d}$" in texts(scoring_function("dot product"))
        True
    """
    if kind not in ("additive", "dot product"):
        raise ValueError(f"scoring_function(): got kind={kind!r}; expected 'additive' or "
                         "'dot product'")
    additive = kind == "additive"
    d = Diagram(3.5, 4.75 if additive else 3.55)
    size = ("$d_q$", "$d_k$") if additive else ("d", "d")
    q = d.tensor(0.95, 0.3, f"queries (B, n, {size[0]})", w=1.45)
    k = d.tensor(2.55, 0.3, f"keys (B, m, {size[1]})", w=1.45)
    if additive:
        wq = d.block(0.95, 0.95, r"$\mathbf{W}_q$", "dense", w=0.9)
        wk = d.block(2.55, 0.95, r"$\mathbf{W}_k$", "dense", w=0.9)
        d.arrow(q, wq)
        d.arrow(k, wk)
        plus = d.op(1.75, 1.8, "+")
        d.arrow(wq, plus, "(B, n, 1, h)", via=[(0.95, 1.8)], text_side="left")
        d.arrow(wk, plus, "(B, 1, m, h)", via=[(2.55, 1.8)])
        tanh = d.op(1.75, 2.45, "tanh", "activation", r=0.2)
        d.arrow(plus, tanh, "(B, n, m, h)")
        below = d.block(1.75, 3.05, r"$\mathbf{w}_v^\top$", "dense", w=0.9)
        d.arrow(tanh, below)
    else:
        below = d.block(1.75, 1.0, r"$\mathbf{Q}\mathbf{K}^\top$", "plain", w=0.9)
        d.arrow(q, below, via=[(0.95, 1.0)])
        d.arrow(k, below, via=[(2.55, 1.0)])
        scale = d.block(1.75, 1.75, r"$\div\sqrt{d}$", "plain", w=0.9)
        d.arrow(below, scale, "(B, n, m)")
        below = scale
    top = below.top[1]
    softmax = d.block(1.75, top + 0.65, "masked softmax", "activation", w=1.6)
    d.arrow(below, softmax, "scores (B, n, m)")
    weights = d.tensor(1.75, softmax.y + 0.65, "weights (B, n, m)", w=1.45)
    d.arrow(softmax, weights)
    return d.figure


def bahdanau_decoder(net, src_len: int):
    """One step t' of the GRU decoder with Bahdanau attention: the previous decoder state
    s_{t'-1} is the query, the encoder's outputs h_1 ... h_T are the keys and the values, and
    the context c_{t'} is concatenated with the embedding of the previous token before the
    GRU. `net` is the lesson's encoder-decoder (`net.encoder`, and `net.decoder` with
    `attention`, `embedding`, `rnn`, `dense`); the shapes come from a forward pass of a source
    of `src_len` tokens and one target token.

    Example:
        >>> from d2lite.diagrams import texts
        >>> from d2lite.models import EncoderDecoder, Seq2SeqAttentionDecoder, Seq2SeqEncoder
        >>> net = EncoderDecoder(Seq2SeqEncoder(10, 8, 16, 2),
        ...                      Seq2SeqAttentionDecoder(12, 8, 16, 2))
        >>> labels = texts(bahdanau_decoder(net, src_len=5))
        >>> "additive attention" in labels, any("(batch, 5, 16)" in t for t in labels)
        (True, True)
    """
    import torch

    decoder = getattr(net, "decoder", None)
    parts = ("attention", "embedding", "rnn", "dense")
    if decoder is None or not all(hasattr(decoder, part) for part in parts):
        raise ValueError(f"bahdanau_decoder(): got a {type(net).__name__}; expected an "
                         "encoder-decoder whose decoder has attention, embedding, rnn and dense")
    if src_len < 1:
        raise ValueError(f"bahdanau_decoder(): got src_len={src_len}; expected 1 or more")
    device = next(net.parameters()).device
    X = torch.zeros(1, src_len, dtype=torch.long, device=device)
    Y = torch.zeros(1, 1, dtype=torch.long, device=device)
    lens = torch.tensor([src_len], device=device)
    shapes = _capture(net, {"encoder": net.encoder, **{p: getattr(decoder, p) for p in parts}},
                      lambda: net(X, Y, lens))
    rnn = decoder.rnn
    layers = f", {rnn.num_layers} layers" if rnn.num_layers > 1 else ""

    d = Diagram(4.8, 4.75)
    src = d.tensor(1.2, 0.3, f"source {shape_text(X.shape)}", w=1.45)
    enc = d.block(1.2, 0.95, f"encoder: {type(net.encoder.rnn).__name__}{layers}"
                  if hasattr(net.encoder, "rnn") else "encoder", "recurrent", w=2.0)
    d.arrow(src, enc)
    attention = d.block(1.2, 2.35, "additive attention", "attention", w=2.0)
    for x, i in ((0.45, "1"), (0.95, "2"), (1.95, "T")):
        h = d.tensor(x, 1.55, rf"$\mathbf{{h}}_{i}$", w=0.4, h=0.24)
        d.arrow((x, enc.top[1]), h)
        d.arrow(h, (x, attention.bottom[1]))
    d.label(1.45, 1.55, "⋯", size="label")
    d.label(2.25, 1.55, f"keys = values\n{shape_text(shapes['encoder'])}", size="tiny",
            colour=MUTED, ha="left")
    query = d.tensor(2.0, 3.15, r"$\mathbf{s}_{t'-1}$", w=0.55)
    d.label(2.0, 3.42, "previous state", size="tiny", colour=MUTED)
    d.arrow(query, (2.0, attention.top[1]), "query", text_side="left")
    token = d.tensor(3.75, 0.3, rf"$y_{{t'-1}}$ {shape_text(Y.shape)}", w=1.2)
    emb = d.block(3.75, 0.95, f"embedding, {shapes['embedding'][-1]}", "embedding", w=1.5)
    d.arrow(token, emb)
    concat = d.op(3.75, 2.35, "[ ]")
    d.arrow(emb, concat, shape_text(shapes["embedding"]))
    d.arrow(attention, concat)
    d.label(2.95, 2.47, rf"$\mathbf{{c}}_{{t'}}$ {shape_text(shapes['attention'])}",
            size="tiny", colour=ACCENT, va="bottom")
    gru = d.block(3.75, 3.15, f"GRU, {rnn.hidden_size}{layers}", "recurrent", w=1.5)
    d.arrow(concat, gru, shape_text(shapes["rnn<"]))
    d.arrow(query, gru)
    dense = d.block(3.75, 3.85, f"dense, {shapes['dense'][-1]}", "dense", w=1.5)
    d.arrow(gru, dense, rf"$\mathbf{{s}}_{{t'}}$ {shape_text(shapes['rnn'])}")
    d.arrow(dense, d.tensor(3.75, 4.5, f"logits {shape_text(shapes['dense'])}", w=1.5))
    return d.figure


def multihead_attention(layer, num_queries: int, num_keys: int):
    """Multi-head attention as the lesson's layer computes it: queries, keys and values each
    projected h times (one slice of W_q, W_k, W_v per head), scaled dot-product attention in
    every head, the heads concatenated and projected by W_o. `layer` has `W_q`, `W_k`, `W_v`,
    `W_o`, `attention` and `num_heads`; the shapes come from a forward pass of `num_queries`
    queries and `num_keys` key-value pairs.

    Example:
        >>> from d2lite.diagrams import texts
        >>> from d2lite.models import MultiHeadAttention
        >>> labels = texts(multihead_attention(MultiHeadAttention(16, 4, 0.0), 4, 6))
        >>> "scaled dot-product attention" in labels, "(batch, 6, 4)" in labels
        (True, True)
    """
    import torch

    parts = ("W_q", "W_k", "W_v", "W_o", "attention")
    if not all(hasattr(layer, part) for part in (*parts, "num_heads")):
        raise ValueError(f"multihead_attention(): got a {type(layer).__name__}; expected a "
                         "layer with W_q, W_k, W_v, W_o, attention and num_heads")
    heads, size = layer.num_heads, layer.W_q.in_features
    device = layer.W_q.weight.device
    queries = torch.zeros(1, num_queries, size, device=device)
    keys = torch.zeros(1, num_keys, size, device=device)
    shapes = _capture(layer, {p: getattr(layer, p) for p in parts},
                      lambda: layer(queries, keys, keys))
    per_head = {name: (1, *shapes["attention<" if name == "q" else "attention"][1:])
                for name in ("q", "out")}
    per_head["kv"] = (1, num_keys, per_head["q"][-1])

    d = Diagram(4.6, 4.9)
    inputs = [("queries", queries.shape, "q", "q"), ("keys", keys.shape, "k", "kv"),
              ("values", keys.shape, "v", "kv")]
    attention_y = 2.3
    for x, (name, shape, sub, which) in zip((0.9, 2.25, 3.6), inputs, strict=True):
        tensor = d.tensor(x, 0.42, shape_text(shape), w=1.2)
        d.label(x, 0.12, name, size="tiny", colour=MUTED)
        proj = _stacked(d, x, 1.15, rf"$\mathbf{{W}}_{sub}^{{(i)}}$", "dense", heads, w=0.8)
        d.arrow(tensor, proj)
        d.arrow(proj, (x, attention_y - 0.21), shape_text(per_head[which]))
    attention = _stacked(d, 2.25, attention_y, "scaled dot-product attention", "attention",
                         heads, w=2.95, h=0.42)
    d.label(3.98, attention_y + 0.05, f"{heads} heads", size="small", ha="left")
    concat = d.op(2.25, 3.3, "[ ]")
    stack_top = attention.top[1] + 0.07 * (min(heads, 4) - 1)
    d.arrow((2.25, stack_top), concat, f"{shape_text(per_head['out'])} per head")
    out_proj = d.block(2.25, 3.95, r"$\mathbf{W}_o$", "dense", w=0.9)
    d.arrow(concat, out_proj, shape_text(shapes["W_o<"]))
    out = d.tensor(2.25, 4.62, shape_text(shapes["W_o"]), w=1.2)
    d.arrow(out_proj, out)
    return d.figure
