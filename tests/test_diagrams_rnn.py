"""Chapter 5's diagrams: each fits the page, its texts do not overlap, and the model diagrams
label every tensor with the shape a forward pass of the lesson's model gives."""
import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from d2lite import diagrams  # noqa: E402
from d2lite.diagrams import texts  # noqa: E402
from d2lite.models import EncoderDecoder, Seq2SeqDecoder, Seq2SeqEncoder  # noqa: E402

PAD = 0


class SentimentGRU(nn.Module):
    """The sentiment lesson's classifier, as the lesson writes it."""

    def __init__(self, vocab_size, embed_size, num_hiddens, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.gru = nn.GRU(embed_size, num_hiddens, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(4 * num_hiddens, 2)

    def forward(self, X):
        valid = X != PAD
        lengths = valid.sum(dim=1, keepdim=True)
        X, valid = X[:, :lengths.max()], valid[:, :lengths.max()]
        outputs, _ = self.gru(self.dropout(self.embedding(X)))
        valid = valid.unsqueeze(2)
        top = outputs.masked_fill(~valid, float("-inf")).max(dim=1).values
        mean = (outputs * valid).sum(dim=1) / lengths
        return self.output(self.dropout(torch.cat([top, mean], dim=1)))


def sentiment_figure():
    torch.manual_seed(0)
    net = SentimentGRU(50, 12, num_hiddens=6)
    X = torch.randint(1, 50, (4, 9))
    X[:, 7:] = PAD
    return net, X


def seq2seq_figure():
    torch.manual_seed(0)
    net = EncoderDecoder(Seq2SeqEncoder(20, 8, 16, num_layers=2, dropout=0.1),
                         Seq2SeqDecoder(30, 8, 16, num_layers=2, dropout=0.1))
    X, Y = torch.randint(3, 20, (2, 6)), torch.randint(3, 30, (2, 5))
    return net, X, torch.tensor([6, 3]), Y


FIGURES = {
    "autoregressive_models": diagrams.autoregressive_models,
    "rnn_unrolled": diagrams.rnn_unrolled,
    "bptt": diagrams.bptt,
    "gru_cell": diagrams.gru_cell,
    "lstm_cell": diagrams.lstm_cell,
    "skipgram_negative_sampling": diagrams.skipgram_negative_sampling,
    "deep_rnn": diagrams.deep_rnn,
    "bidirectional_rnn": diagrams.bidirectional_rnn,
    "sentiment_model": lambda: diagrams.sentiment_model(*sentiment_figure()),
    "seq2seq_model": lambda: diagrams.seq2seq_model(*seq2seq_figure()),
    "teacher_forcing": diagrams.teacher_forcing,
    "greedy_decoding": diagrams.greedy_decoding,
}


@pytest.mark.parametrize("name", FIGURES)
def test_fits_the_page_and_no_two_texts_overlap(name):
    fig = FIGURES[name]()
    width, height = fig.get_size_inches()
    assert width <= 5 and height <= 5, (name, width, height)
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts
             if t.get_text()]
    for text, box in boxes:
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 \
            and box.y1 <= page.y1, f"{name}: {text!r} leaves the page"
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            assert not box_a.overlaps(box_b), f"{name}: {a!r} overlaps {b!r}"


def test_the_sentiment_diagram_has_the_shapes_of_a_forward_pass():
    net, X = sentiment_figure()
    state = torch.get_rng_state()
    fig = diagrams.sentiment_model(net, X)
    assert torch.equal(state, torch.get_rng_state()) and net.training  # nothing changed
    with torch.no_grad():
        net.eval()
        embedded = net.embedding(X)
        outputs, _ = net.gru(embedded[:, :7])
        logits = net(X)
    found = texts(fig)
    d, h2 = embedded.shape[-1], outputs.shape[-1]
    assert "(batch, steps)" in found
    assert f"(batch, steps, {d})" in found and f"(batch, steps, {h2})" in found
    assert found.count(f"(batch, {h2})") == 2  # max and mean pooling
    assert f"(batch, {2 * h2})" in found and f"(batch, {logits.shape[-1]})" in found
    assert f"embedding, {d} · dropout 0.5" in found
    assert f"bidirectional GRU, {h2 // 2}" in found and "dropout 0.5 · dense, 2" in found


def test_the_seq2seq_diagram_has_the_shapes_of_a_forward_pass():
    net, X, valid_lens, Y = seq2seq_figure()
    fig = diagrams.seq2seq_model(net, X, valid_lens, Y)
    assert net.training
    with torch.no_grad():
        net.eval()
        enc_outputs = net.encoder(X, valid_lens)
        context, hidden = net.decoder.init_state(enc_outputs, valid_lens)
        logits = net(X, Y, valid_lens)
    found = texts(fig)
    layers, _, h = hidden.shape
    assert f"state ({layers}, batch, {h})" in found
    assert f"$\\mathbf{{c}}$ (batch, {context.shape[-1]})" in found
    assert f"(batch, steps, {logits.shape[-1]})" in found
    assert f"dense, {logits.shape[-1]}" in found
    assert f"(batch, steps, {net.decoder.embedding.embedding_dim + h})" in found  # [e, c]
    assert found.count(f"GRU, {h}, {layers} layers") == 2


def test_the_decoder_inputs_are_the_shifted_target_or_the_predictions():
    for draw in (diagrams.teacher_forcing, diagrams.greedy_decoding):
        found = texts(draw(["go", "."], ["va", "!"]))
        assert found[-6:] == ["<bos>", "va", "va", "!", "!", "<eos>"]  # input, output pairs


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match=r"rnn_unrolled\(\): got steps=9"):
        diagrams.rnn_unrolled(9)
    with pytest.raises(ValueError, match=r"teacher_forcing\(\): got 5 source"):
        diagrams.teacher_forcing(["a"] * 5, ["b"])
    net, X = sentiment_figure()
    with pytest.raises(ValueError, match=r"sentiment_model\(\): got a dense layer of 24"):
        diagrams.sentiment_model(net, X, pooling=("max",))
    with pytest.raises(ValueError, match=r"seq2seq_model\(\): got a Linear"):
        diagrams.seq2seq_model(nn.Linear(2, 2), X, None, X)
