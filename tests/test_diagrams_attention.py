"""Chapters 6-8's diagrams (d2lite.diagrams.attention, .transformer, .bert): the models are built
as the lessons build them, a forward pass gives the shapes, and every shape must be written on
the figure; the figures are small enough for a phone, made without pyplot, and leave the
model's mode alone."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from d2lite import diagrams, models  # noqa: E402
from d2lite.diagrams import texts  # noqa: E402


def shape(t) -> str:
    """A tensor's shape as the figures write it, the batch axis named."""
    return "(" + ", ".join(["batch", *map(str, t.shape[1:])]) + ")"


def written(fig) -> str:
    return "\n".join(texts(fig))


def test_bahdanau_decoder_labels_come_from_the_lessons_model():
    torch.manual_seed(0)
    encoder = models.Seq2SeqEncoder(40, 32, 32, num_layers=2)
    net = models.EncoderDecoder(encoder, models.Seq2SeqAttentionDecoder(50, 32, 32, 2))
    X, Y, lens = torch.zeros(1, 12, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long), \
        torch.tensor([12])
    net.train()
    with torch.no_grad():
        net(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long),
            torch.tensor([3, 2]))
    before = net.decoder.attention_weights                      # (2, 4, 3), the lesson's
    fig = diagrams.bahdanau_decoder(net, src_len=12)
    assert net.training, "the diagram left the model in eval mode"
    assert net.decoder.attention_weights is before, "the diagram replaced the stored weights"
    with torch.no_grad():
        enc_outputs, _ = net.encoder(X, lens)
        logits = net(X, Y, lens)
        embedded = net.decoder.embedding(Y)
    text = written(fig)
    assert f"keys = values\n{shape(enc_outputs)}" in texts(fig)
    assert f"logits {shape(logits)}" in texts(fig) and shape(embedded) in texts(fig)
    assert "(batch, 1, 64)" in texts(fig)  # the GRU's input: embedding 32 + context 32
    assert "embedding, 32" in text and "GRU, 32, 2 layers" in text


def test_multihead_attention_labels_come_from_the_lessons_layer():
    layer = models.MultiHeadAttention(num_hiddens=16, num_heads=4, dropout=0.0)
    queries, keys = torch.zeros(1, 4, 16), torch.zeros(1, 6, 16)
    fig = diagrams.multihead_attention(layer, num_queries=4, num_keys=6)
    with torch.no_grad():
        out = layer(queries, keys, keys)
        q_head = models.split_heads(layer.W_q(queries), 4)[:1]  # one head of one example
        k_head = models.split_heads(layer.W_k(keys), 4)[:1]
    labels = texts(fig)
    for expected in (shape(queries), shape(keys), shape(q_head), shape(k_head), shape(out),
                     f"{shape(q_head)} per head", "4 heads"):
        assert expected in labels, expected


def test_transformer_architecture_labels_come_from_the_lessons_model():
    net = models.EncoderDecoder(
        models.TransformerEncoder(184, 64, 128, 4, num_layers=2, dropout=0.1),
        models.TransformerDecoder(201, 64, 128, 4, num_layers=2, dropout=0.1))
    X, Y, lens = torch.zeros(1, 8, dtype=torch.long), torch.zeros(1, 7, dtype=torch.long), \
        torch.tensor([8])
    fig = diagrams.transformer_architecture(net, src_len=8, tgt_len=7)
    with torch.no_grad():
        memory = net.encoder(X, lens)
        logits = net(X, Y, lens)
    labels = texts(fig)
    for expected in (f"source {shape(X)}", f"target, shifted {shape(Y)}", shape(memory),
                     "(batch, 7, 64)", f"logits {shape(logits)}", "2 ×", "× 2",
                     "self-attention, 4 heads", "feed-forward, 128", "embedding, 64",
                     "dense, 201", "cross-attention", "masked self-attention"):
        assert expected in labels, expected


def test_bert_pretraining_labels_come_from_the_lessons_model():
    net = models.BERTPretrainer(5005, 64, 128, num_heads=2, num_layers=2, dropout=0.0,
                                max_len=24)
    tokens = torch.zeros(1, 24, dtype=torch.long)
    chosen = torch.zeros(1, 24, dtype=torch.bool)
    chosen[0, 3] = True
    fig = diagrams.bert_pretraining(net, num_steps=24)
    with torch.no_grad():
        H = net.encoder(tokens)
        mlm, nsp = net(tokens, None, None, chosen)
    labels = texts(fig)
    assert f"encoder, 2 blocks: {shape(tokens)} → {shape(H)}" in labels
    assert f"(num_chosen, {mlm.shape[-1]})" in labels and shape(nsp) in labels


def test_bert_input_writes_every_token_segment_and_position():
    tokens = ["[CLS]", "the", "bank", "[SEP]", "a", "river", "[SEP]"]
    labels = texts(diagrams.bert_input(tokens, [0, 0, 0, 0, 1, 1, 1]))
    assert all(token in labels for token in tokens)
    assert all(str(t) in labels for t in range(len(tokens)))
    assert labels.count("1") >= 3 and "sentence A" in labels and "sentence B" in labels


def test_the_fixed_pictures_name_their_parts():
    assert "$x_1$ to $y_5$: 2 layers" in texts(diagrams.architectures_compared(5, 5))
    assert "<pad>" in texts(diagrams.decoder_attention())
    assert "$\\mathbf{V}_4$" in texts(diagrams.tiled_attention(num_blocks=4))
    assert "a span of the passage" in texts(diagrams.bert_finetuning_tasks())
    assert "a Transformer decoder: the left side only" in texts(diagrams.context_directions())
    assert "all-reduce: $\\mathbf{g} = (\\mathbf{g}_0 + \\mathbf{g}_1 + \\mathbf{g}_2) / 3$" \
        in texts(diagrams.data_parallel(3, 32))
    assert "masked softmax" in texts(diagrams.scoring_function("dot product"))


def all_figures():
    bert = models.BERTPretrainer(30, 8, 16, num_heads=2, num_layers=1, dropout=0.0, max_len=6)
    transformer = models.EncoderDecoder(
        models.TransformerEncoder(10, 8, 16, 2, num_layers=1, dropout=0.0),
        models.TransformerDecoder(12, 8, 16, 2, num_layers=1, dropout=0.0))
    seq2seq = models.EncoderDecoder(models.Seq2SeqEncoder(10, 8, 16, 2),
                                    models.Seq2SeqAttentionDecoder(12, 8, 16, 2))
    return [diagrams.attention_pooling(), diagrams.scoring_function("additive"),
            diagrams.scoring_function("dot product"), diagrams.bahdanau_decoder(seq2seq, 5),
            diagrams.multihead_attention(models.MultiHeadAttention(8, 2, 0.0), 3, 5),
            diagrams.architectures_compared(), diagrams.transformer_architecture(transformer,
                                                                                 5, 4),
            diagrams.decoder_attention(), diagrams.tiled_attention(),
            diagrams.bert_input(["[CLS]", "a", "[SEP]"], [0, 0, 0]),
            diagrams.bert_pretraining(bert, 6), diagrams.bert_finetuning_tasks(),
            diagrams.context_directions(), diagrams.data_parallel()]


def test_figures_fit_a_phone_and_are_made_without_pyplot():
    before = plt.get_fignums()
    figures = all_figures()
    assert plt.get_fignums() == before, "a diagram opened a pyplot figure"
    for fig in figures:
        width, height = fig.get_size_inches()
        assert width <= 5 and height <= 6.5, (texts(fig)[:2], width, height)


@pytest.mark.parametrize("call, message", [
    (lambda: diagrams.scoring_function("cosine"), r"scoring_function\(\): got kind='cosine'"),
    (lambda: diagrams.bahdanau_decoder(torch.nn.Linear(2, 2), 5), r"bahdanau_decoder\(\): got"),
    (lambda: diagrams.multihead_attention(torch.nn.Linear(2, 2), 1, 1),
     r"multihead_attention\(\): got a Linear"),
    (lambda: diagrams.architectures_compared(5, 4), r"architectures_compared\(\): got n=5"),
    (lambda: diagrams.transformer_architecture(torch.nn.Linear(2, 2), 3, 3),
     r"transformer_architecture\(\): got a Linear"),
    (lambda: diagrams.decoder_attention(src_valid_len=9), r"decoder_attention\(\): got"),
    (lambda: diagrams.tiled_attention(7), r"tiled_attention\(\): got num_blocks=7"),
    (lambda: diagrams.bert_input(["[CLS]"], [0, 1]), r"bert_input\(\): got 1 tokens"),
    (lambda: diagrams.bert_pretraining(torch.nn.Linear(2, 2), 8), r"bert_pretraining\(\): got"),
    (lambda: diagrams.context_directions(5, 6), r"context_directions\(\): got n=5"),
    (lambda: diagrams.data_parallel(1), r"data_parallel\(\): got num_processes=1"),
])
def test_bad_arguments_are_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
