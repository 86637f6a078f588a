"""d2lite.models.seq2seq and encoder_decoder: d2lite.text's padding helpers and mask, the
encoder's wiring of nn.GRU (packing ignores padding), the decoder's context,
masked_cross_entropy against a loop, teacher forcing against step-by-step decoding, dropout in
train/eval, greedy_decode's stop; the attention decoder: its step equations, weights on valid
source positions only, padding ignored, teacher forcing = one token at a time, greedy_decode's
attention matrix."""
import pytest
import torch
from conftest import assert_train_eval
from torch import nn
from torch.nn import functional as F

from d2lite.models import (
    Decoder,
    Encoder,
    EncoderDecoder,
    Seq2SeqAttentionDecoder,
    Seq2SeqDecoder,
    Seq2SeqEncoder,
    greedy_decode,
    masked_cross_entropy,
)
from d2lite.text import Vocab, pad_sequences, sequence_mask, shift_right

RESERVED = ["<pad>", "<bos>", "<eos>"]


def small_net(src_vocab_size=11, tgt_vocab_size=13, num_layers=2, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return EncoderDecoder(Seq2SeqEncoder(src_vocab_size, 6, 10, num_layers, dropout),
                          Seq2SeqDecoder(tgt_vocab_size, 6, 10, num_layers, dropout))


def test_sequence_mask_and_padding_helpers():
    mask = sequence_mask(torch.tensor([0, 2, 5]), 4)
    assert mask.dtype == torch.bool and mask.tolist() == [
        [False] * 4, [True, True, False, False], [True] * 4]
    vocab = Vocab([["a", "b", "c"]], reserved_tokens=RESERVED)
    ids, valid_lens = pad_sequences([["a", "b"], ["c", "a", "b", "c"], ["zzz"]], vocab, 4)
    assert vocab.to_tokens(ids[0]) == ["a", "b", "<eos>", "<pad>"]
    assert vocab.to_tokens(ids[1]) == ["c", "a", "b", "c"]  # cut: <eos> does not fit
    assert vocab.to_tokens(ids[2]) == ["<unk>", "<eos>", "<pad>", "<pad>"]
    assert valid_lens.tolist() == [3, 4, 2] and ids.dtype == valid_lens.dtype == torch.int64
    assert torch.equal(sequence_mask(valid_lens, 4), ids != vocab["<pad>"])
    assert shift_right(ids, vocab["<bos>"])[:, 1:].equal(ids[:, :-1])
    assert (shift_right(ids, vocab["<bos>"])[:, 0] == vocab["<bos>"]).all()
    with pytest.raises(ValueError, match=r"pad_sequences\(\): the vocabulary has no <pad> or "
                                         r"<eos>; build it with reserved_tokens="):
        pad_sequences([["a"]], Vocab([["a"]]), 4)


def test_interface_base_classes_say_what_is_missing():
    with pytest.raises(NotImplementedError, match=r"Encoder must define forward\(X, valid_l"):
        Encoder()(torch.zeros(1, 2).long(), torch.tensor([2]))
    with pytest.raises(NotImplementedError, match=r"must define init_state\(enc_outputs"):
        Decoder().init_state(None, None)


def test_encoder_is_embedding_then_nn_gru_up_to_each_valid_length():
    encoder = Seq2SeqEncoder(11, 6, 10, num_layers=2).eval()
    assert isinstance(encoder.rnn, nn.GRU) and encoder.rnn.batch_first
    assert (encoder.rnn.input_size, encoder.rnn.hidden_size, encoder.rnn.num_layers) == (6, 10, 2)
    X, valid_lens = torch.randint(11, (3, 7)), torch.tensor([7, 2, 4])
    outputs, state = encoder(X, valid_lens)
    assert outputs.shape == (3, 7, 10) and state.shape == (2, 3, 10)
    for i, n in enumerate(valid_lens.tolist()):  # each row alone, unpadded, through the GRU
        expected_outputs, expected_state = encoder.rnn(encoder.embedding(X[i:i + 1, :n]))
        torch.testing.assert_close(outputs[i:i + 1, :n], expected_outputs)
        torch.testing.assert_close(state[:, i:i + 1], expected_state)
        assert (outputs[i, n:] == 0).all()
    X_other = X.clone()
    X_other[1, 2:] = (X[1, 2:] + 1) % 11  # other tokens in the padding of row 1
    torch.testing.assert_close(encoder(X_other, valid_lens)[1], state, atol=0, rtol=0)


def test_decoder_starts_from_encoder_state_and_sees_the_context_at_every_step():
    net = small_net().eval()
    X, valid_lens = torch.randint(11, (2, 5)), torch.tensor([5, 3])
    enc_outputs = net.encoder(X, valid_lens)
    context, hidden = net.decoder.init_state(enc_outputs, valid_lens)
    assert torch.equal(hidden, enc_outputs[1]) and torch.equal(context, enc_outputs[1][-1])
    decoder = net.decoder
    assert decoder.rnn.input_size == 6 + 10 and decoder.dense.out_features == 13
    Y = torch.randint(13, (2, 4))
    logits, (context_after, _) = decoder(Y, (context, hidden))
    assert logits.shape == (2, 4, 13) and torch.equal(context_after, context)
    inputs = torch.cat([decoder.embedding(Y), context[:, None].expand(-1, 4, -1)], dim=-1)
    torch.testing.assert_close(logits, decoder.dense(decoder.rnn(inputs, hidden)[0]))
    assert torch.equal(net(X, Y, valid_lens), logits)


def test_masked_cross_entropy_is_the_mean_over_valid_tokens_and_ignores_padding():
    torch.manual_seed(0)
    logits, Y = torch.randn(3, 5, 7), torch.randint(1, 7, (3, 5))
    valid_lens = torch.tensor([5, 2, 1])
    Y[1, 2:], Y[2, 1:] = 0, 0  # pad id 0
    terms = [F.cross_entropy(logits[i, t], Y[i, t], reduction="sum")
             for i in range(3) for t in range(int(valid_lens[i]))]
    expected = torch.stack(terms).mean()
    loss = masked_cross_entropy(logits, Y, valid_lens)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(masked_cross_entropy(logits, Y, pad_id=0), expected)
    changed = logits.clone()
    changed[1, 2:] = 1e4 * torch.randn(3, 7)  # scores at padded positions only
    changed[2, 1:] = float("inf")
    assert masked_cross_entropy(changed, Y, valid_lens) == loss
    assert masked_cross_entropy(changed, Y, pad_id=0) == loss
    with pytest.raises(ValueError, match=r"give exactly one of valid_lens and pad_id"):
        masked_cross_entropy(logits, Y)
    with pytest.raises(ValueError, match=r"logits \(3, 5, 7\) do not match labels \(3, 4\)"):
        masked_cross_entropy(logits, Y[:, :4], pad_id=0)


def test_padded_gradients_are_zero():
    logits = torch.randn(2, 4, 6, requires_grad=True)
    masked_cross_entropy(logits, torch.randint(6, (2, 4)), torch.tensor([4, 1])).backward()
    assert (logits.grad[1, 1:] == 0).all() and (logits.grad[0] != 0).any()


def test_teacher_forcing_equals_feeding_one_token_at_a_time():
    net = small_net().eval()
    X, valid_lens, Y = torch.randint(11, (3, 6)), torch.tensor([6, 4, 1]), torch.randint(13, (3, 5))
    all_at_once = net(X, Y, valid_lens)
    state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
    steps = []
    for t in range(5):
        logits, state = net.decoder(Y[:, t:t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), all_at_once, atol=1e-6, rtol=1e-5)


def test_dropout_only_in_training_mode():
    net = small_net(num_layers=2, dropout=0.5)
    assert net.encoder.rnn.dropout == net.decoder.rnn.dropout == 0.5
    X, Y, valid_lens = torch.randint(11, (4, 6)), torch.randint(13, (4, 5)), torch.full((4,), 6)
    assert_train_eval(net, X, Y, valid_lens, stochastic=True)


def test_greedy_decode_follows_the_argmax_and_stops_at_eos():
    vocab = Vocab([["a", "b", "c"]], reserved_tokens=RESERVED)  # <unk> <pad> <bos> <eos> a b c
    net = small_net(len(vocab), len(vocab), num_layers=1)
    order = {vocab["<bos>"]: "a", vocab["a"]: "b", vocab["b"]: "<eos>"}

    def scripted(Y, state):  # the next token depends on the input token alone
        logits = torch.full((1, 1, len(vocab)), -1.0)
        logits[0, 0, vocab[order.get(int(Y), "c")]] = 1.0
        return logits, state
    net.decoder.forward = scripted
    net.train()
    tokens, attention = greedy_decode(net, "a b c", vocab, vocab, num_steps=10)
    assert tokens == ["a", "b"] and attention is None and net.training  # mode restored
    order[vocab["b"]] = "c"  # never <eos>: stops after num_steps tokens
    assert greedy_decode(net, ["a"], vocab, vocab, num_steps=4)[0] == ["a", "b", "c", "c"]


def test_greedy_decode_stacks_attention_weights_when_the_decoder_keeps_them():
    vocab = Vocab([["a", "b"]], reserved_tokens=RESERVED)
    net = small_net(len(vocab), len(vocab), num_layers=1)
    forward = net.decoder.forward

    def with_weights(Y, state):
        net.decoder.attention_weights = torch.full((1, 1, 5), 0.2)  # (batch, queries, keys)
        return forward(Y, state)
    net.decoder.forward = with_weights
    tokens, attention = greedy_decode(net, "a", vocab, vocab, num_steps=5)
    assert attention.shape[1] == 5 and attention.shape[0] in (len(tokens), len(tokens) + 1)


def test_greedy_decode_matches_teacher_forcing_on_its_own_output():
    vocab = Vocab([list("abcdefgh")], reserved_tokens=RESERVED)
    net = small_net(len(vocab), len(vocab), num_layers=2, seed=3)
    tokens, _ = greedy_decode(net, "a b c", vocab, vocab, num_steps=6)
    X, valid_lens = pad_sequences([["a", "b", "c"]], vocab, 6)
    inputs = torch.tensor([[vocab["<bos>"]] + vocab[tokens]])
    with torch.no_grad():
        replay = net.eval()(X, inputs, valid_lens).argmax(-1)[0]
    assert replay[:len(tokens)].tolist() == vocab[tokens]


def attention_net(num_layers=2, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return EncoderDecoder(Seq2SeqEncoder(11, 6, 10, num_layers, dropout),
                          Seq2SeqAttentionDecoder(13, 6, 10, num_layers, dropout))


def test_attention_decoder_shapes_and_weights_on_valid_source_positions_only():
    net = attention_net().eval()
    X, valid_lens, Y = torch.randint(11, (3, 7)), torch.tensor([7, 2, 4]), torch.randint(13, (3, 5))
    logits = net(X, Y, valid_lens)
    weights = net.decoder.attention_weights
    assert logits.shape == (3, 5, 13) and weights.shape == (3, 5, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 5))
    assert (weights[1, :, 2:] == 0).all() and (weights[2, :, 4:] == 0).all()
    assert (weights[1, :, :2] > 0).all() and (weights[0] > 0).all()
    decoder = net.decoder
    assert decoder.rnn.input_size == 6 + 10 and decoder.rnn.num_layers == 2
    assert decoder.attention.W_q.in_features == decoder.attention.W_k.in_features == 10


def test_attention_decoder_follows_its_step_equations():
    net = attention_net().eval()
    X, valid_lens, Y = torch.randint(11, (2, 6)), torch.tensor([6, 3]), torch.randint(13, (2, 4))
    enc_outputs, hidden = net.encoder(X, valid_lens)
    decoder, logits, weights = net.decoder, [], []
    for t in range(4):  # c_t = sum_j alpha(s_{t-1}, h_j) h_j with the additive score
        scores = decoder.attention.w_v(torch.tanh(
            decoder.attention.W_q(hidden[-1])[:, None] + decoder.attention.W_k(enc_outputs)))
        scores = scores.squeeze(-1).masked_fill(~sequence_mask(valid_lens, 6), -1e30)
        alpha = torch.softmax(scores, dim=-1)  # (batch, src_steps)
        context = (alpha[:, :, None] * enc_outputs).sum(1)  # (batch, hiddens)
        inputs = torch.cat([decoder.embedding(Y[:, t]), context], dim=-1)[:, None]
        output, hidden = decoder.rnn(inputs, hidden)
        logits.append(decoder.dense(output))
        weights.append(alpha)
    torch.testing.assert_close(net(X, Y, valid_lens), torch.cat(logits, dim=1))
    torch.testing.assert_close(decoder.attention_weights, torch.stack(weights, dim=1))


def test_attention_decoder_ignores_source_padding():
    net = attention_net().eval()
    X, valid_lens, Y = torch.randint(11, (2, 8)), torch.tensor([3, 8]), torch.randint(13, (2, 5))
    logits = net(X, Y, valid_lens)
    X_other = X.clone()
    X_other[0, 3:] = (X[0, 3:] + 1) % 11  # other tokens in the padding of row 0
    torch.testing.assert_close(net(X_other, Y, valid_lens), logits, atol=0, rtol=0)
    shorter = net(X[:1, :3], Y[:1], valid_lens[:1])  # row 0 without any padding at all
    torch.testing.assert_close(shorter, logits[:1], atol=1e-6, rtol=1e-5)


def test_attention_decoder_teacher_forcing_equals_one_token_at_a_time():
    net = attention_net(seed=1).eval()
    X, valid_lens, Y = torch.randint(11, (3, 6)), torch.tensor([6, 4, 1]), torch.randint(13, (3, 5))
    all_at_once = net(X, Y, valid_lens)
    weights = net.decoder.attention_weights
    state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
    steps, step_weights = [], []
    for t in range(5):
        logits, state = net.decoder(Y[:, t:t + 1], state)
        steps.append(logits)
        step_weights.append(net.decoder.attention_weights)
    torch.testing.assert_close(torch.cat(steps, dim=1), all_at_once)
    torch.testing.assert_close(torch.cat(step_weights, dim=1), weights)


def test_attention_decoder_dropout_only_in_training_and_greedy_decode_weights():
    net = attention_net(dropout=0.5)
    X, Y, valid_lens = torch.randint(11, (4, 6)), torch.randint(13, (4, 5)), torch.full((4,), 6)
    assert_train_eval(net, X, Y, valid_lens, stochastic=True)
    vocab = Vocab([list("abcdefgh")], reserved_tokens=RESERVED)
    torch.manual_seed(2)
    net = EncoderDecoder(Seq2SeqEncoder(len(vocab), 6, 10, 2),
                         Seq2SeqAttentionDecoder(len(vocab), 6, 10, 2))
    tokens, attention = greedy_decode(net, "a b c", vocab, vocab, num_steps=6)
    assert attention.shape[1] == 6 and attention.shape[0] in (len(tokens), len(tokens) + 1)
    torch.testing.assert_close(attention.sum(-1), torch.ones(attention.shape[0]))
    assert (attention[:, 4:] == 0).all()  # "a b c <eos>": 4 valid source positions
