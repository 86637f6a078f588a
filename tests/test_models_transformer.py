"""d2lite.models.transformer: the blocks equal torch's Transformer layers with copied weights,
the decoder is causal, its cache makes step-by-step decoding equal teacher forcing, padding is
ignored."""
import pytest
import torch
from conftest import assert_same_outputs, assert_train_eval, copy_weights
from torch import nn

from d2lite import models
from d2lite.models.attention import split_heads
from d2lite.models.transformer import (
    AddNorm,
    PositionWiseFFN,
    TransformerDecoder,
    TransformerDecoderBlock,
    TransformerEncoder,
    TransformerEncoderBlock,
    causal_valid_lens,
)
from d2lite.text import Vocab

D, FFN, HEADS = 16, 32, 4


def attention_tensors(theirs: nn.MultiheadAttention, ours: str) -> dict[str, torch.Tensor]:
    """nn.MultiheadAttention's weights under the names of our MultiHeadAttention `ours`:
    in_proj = [W_q; W_k; W_v] (row blocks), out_proj = W_o."""
    tensors = {f"{ours}.W_o.weight": theirs.out_proj.weight,
               f"{ours}.W_o.bias": theirs.out_proj.bias}
    for W, weight, bias in zip(("W_q", "W_k", "W_v"), theirs.in_proj_weight.chunk(3),
                               theirs.in_proj_bias.chunk(3), strict=True):
        tensors |= {f"{ours}.{W}.weight": weight, f"{ours}.{W}.bias": bias}
    return tensors


def block_tensors(theirs: nn.Module, attentions: dict[str, nn.MultiheadAttention]) -> dict:
    """The weights of torch's Transformer layer `theirs` under our block's state_dict names, for
    copy_weights: `attentions` {our name: torch's attention}, linear1 and linear2 as ffn.dense1
    and ffn.dense2, norm1, norm2, ... as addnorm1.ln, addnorm2.ln, ... (one AddNorm after each
    attention and one after the FFN)."""
    tensors = {}
    for ours, attention in attentions.items():
        tensors |= attention_tensors(attention, ours)
    for i in (1, 2):
        linear = getattr(theirs, f"linear{i}")
        tensors |= {f"ffn.dense{i}.weight": linear.weight, f"ffn.dense{i}.bias": linear.bias}
    for i in range(1, len(attentions) + 2):
        norm = getattr(theirs, f"norm{i}")
        tensors |= {f"addnorm{i}.ln.weight": norm.weight, f"addnorm{i}.ln.bias": norm.bias}
    return tensors


def randomise(module: nn.Module) -> None:
    """LayerNorms start at (1, 0) and biases at 0; give everything random values."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 1 and p.numel() == D else 0))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("padded", [False, True])
def test_encoder_block_equals_torch_layer(activation, padded):
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(D, HEADS, FFN, dropout=0.0, activation=activation,
                                        batch_first=True, norm_first=False).eval()
    randomise(theirs)
    ours = copy_weights(TransformerEncoderBlock(D, FFN, HEADS, dropout=0.0, activation=activation),
                        block_tensors(theirs, {"attention": theirs.self_attn})).eval()
    X, valid_lens = torch.randn(3, 7, D), torch.tensor([7, 2, 5])
    lens, mask = (valid_lens, torch.arange(7) >= valid_lens[:, None]) if padded else (None, None)
    assert_same_outputs(lambda X: ours(X, lens), lambda X: theirs(X, src_key_padding_mask=mask), X)


@pytest.mark.parametrize("padded", [False, True])
def test_decoder_block_equals_torch_layer(padded):
    torch.manual_seed(1)
    theirs = nn.TransformerDecoderLayer(D, HEADS, FFN, dropout=0.0, batch_first=True,
                                        norm_first=False).eval()
    randomise(theirs)
    ours = copy_weights(TransformerDecoderBlock(D, FFN, HEADS, dropout=0.0), block_tensors(
        theirs, {"attention1": theirs.self_attn, "attention2": theirs.multihead_attn})).eval()
    X, memory, enc_valid_lens = torch.randn(3, 6, D), torch.randn(3, 5, D), torch.tensor([5, 1, 3])
    causal = nn.Transformer.generate_square_subsequent_mask(6)
    lens, memory_mask = ((enc_valid_lens, torch.arange(5) >= enc_valid_lens[:, None]) if padded
                         else (None, None))
    assert_same_outputs(lambda X, memory: ours(X, memory, lens)[0],
                        lambda X, memory: theirs(X, memory, tgt_mask=causal,
                                                 memory_key_padding_mask=memory_mask), X, memory)
    K, V, enc_K, enc_V = ours(X, memory, lens)[1]  # the cache: projected, split into heads
    torch.testing.assert_close(K, split_heads(ours.attention1.W_k(X), HEADS))
    torch.testing.assert_close(enc_V, split_heads(ours.attention2.W_v(memory), HEADS))


def test_ffn_addnorm_and_causal_lengths():
    ffn = PositionWiseFFN(4, 8, activation="gelu")
    X = torch.randn(2, 3, 4)
    assert torch.allclose(ffn(X), ffn.dense2(nn.functional.gelu(ffn.dense1(X))))
    out = AddNorm(4, dropout=0.0)(X, X)
    assert torch.allclose(out, nn.functional.layer_norm(2 * X, (4,)), atol=1e-6)
    assert causal_valid_lens(2, 3, 0).tolist() == [[1, 2, 3], [1, 2, 3]]
    with pytest.raises(ValueError,
                       match=r"PositionWiseFFN\(\): got activation='tanh'; expected one"):
        PositionWiseFFN(4, 8, activation="tanh")


def make_net(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return models.EncoderDecoder(TransformerEncoder(11, D, FFN, HEADS, 2, dropout),
                                 TransformerDecoder(13, D, FFN, HEADS, 2, dropout)).eval()


def test_causal_mask_blocks_the_future():
    net = make_net()
    X, valid_lens = torch.randint(11, (2, 6)), torch.tensor([6, 4])
    Y = torch.randint(13, (2, 7))
    out = net(X, Y, valid_lens)
    for t in range(6):
        changed = Y.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % 13
        new = net(X, changed, valid_lens)
        assert torch.equal(new[:, :t + 1], out[:, :t + 1]), t   # exactly: masked weights are 0
        assert (new[:, t + 1] - out[:, t + 1]).abs().max() > 1e-4, t


def test_teacher_forcing_equals_step_by_step_with_cache():
    net = make_net(seed=2)
    X, valid_lens, Y = torch.randint(11, (3, 5)), torch.tensor([5, 3, 1]), torch.randint(13, (3, 6))
    state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
    forced, _ = net.decoder(Y, state)
    forced_cross = net.decoder.cross_attention_weights
    steps, crosses = [], []
    for t in range(6):
        logits, state = net.decoder(Y[:, t:t + 1], state)
        steps.append(logits)
        crosses.append(net.decoder.cross_attention_weights)
    assert (torch.cat(steps, 1) - forced).abs().max() < 1e-5
    assert [c[0].shape[1] for c in state[2]] == [6, 6]  # each layer's K: six positions
    for layer in range(2):  # cross-attention too, step by step
        stacked = torch.cat([c[layer] for c in crosses], dim=2)  # (batch, heads, steps, src)
        assert (stacked - forced_cross[layer]).abs().max() < 1e-6
    # two chunks of 2 and 4 tokens: the same again
    state = net.decoder.init_state(net.encoder(X, valid_lens), valid_lens)
    first, state = net.decoder(Y[:, :2], state)
    second, _ = net.decoder(Y[:, 2:], state)
    assert (torch.cat([first, second], 1) - forced).abs().max() < 1e-5


def test_the_key_value_cache_projects_each_position_once_and_saves_flops():
    """Step by step with the cache, every call projects only its new token (keys, values
    and the encoder's keys and values are reused); without it, the whole prefix again."""
    from torch.utils.flop_counter import FlopCounterMode

    net = make_net(seed=4)
    X, valid_lens, Y = torch.randint(11, (2, 5)), torch.tensor([5, 3]), torch.randint(13, (2, 8))
    enc = net.encoder(X, valid_lens)
    projected = []  # rows W_k of layer 0's self-attention sees per call
    hook = net.decoder.blocks[0].attention1.W_k.register_forward_hook(
        lambda module, args, out: projected.append(args[0].shape[1]))
    cached_flops, uncached_flops = FlopCounterMode(display=False), FlopCounterMode(display=False)
    with torch.no_grad(), cached_flops:
        state, cached = net.decoder.init_state(enc, valid_lens), []
        for t in range(8):
            logits, state = net.decoder(Y[:, t:t + 1], state)
            cached.append(logits)
    hook.remove()
    assert projected == [1] * 8  # one new position per call, never the earlier ones
    with torch.no_grad(), uncached_flops:
        uncached = [net.decoder(Y[:, :t + 1], net.decoder.init_state(enc, valid_lens))[0][:, -1:]
                    for t in range(8)]
    torch.testing.assert_close(torch.cat(cached, 1), torch.cat(uncached, 1), atol=1e-5,
                               rtol=1e-5)
    assert cached_flops.get_total_flops() < 0.5 * uncached_flops.get_total_flops()


def test_padding_is_ignored():
    net = make_net(seed=3)
    X, valid_lens, Y = torch.randint(11, (2, 6)), torch.tensor([3, 6]), torch.randint(13, (2, 4))
    junk = X.clone()
    junk[0, 3:] = torch.randint(11, (3,))
    enc, enc_junk = net.encoder(X, valid_lens), net.encoder(junk, valid_lens)
    assert (enc[0, :3] - enc_junk[0, :3]).abs().max() < 1e-6
    assert (net(X, Y, valid_lens) - net(junk, Y, valid_lens)).abs().max() < 1e-5
    weights = net.encoder.attention_weights[0]  # (batch, heads, 6, 6)
    assert weights[0, :, :, 3:].abs().max() == 0
    assert net.decoder.cross_attention_weights[1][0, :, :, 3:].abs().max() == 0
    self_weights = net.decoder.self_attention_weights[0]  # (batch, heads, 4, 4)
    assert torch.equal(self_weights.triu(1), torch.zeros_like(self_weights))


def test_shapes_and_attention_weights():
    net = make_net()
    X, valid_lens, Y = torch.randint(11, (2, 6)), torch.tensor([6, 4]), torch.randint(13, (2, 3))
    logits = net(X, Y, valid_lens)
    assert logits.shape == (2, 3, 13)
    assert [w.shape for w in net.encoder.attention_weights] == [(2, HEADS, 6, 6)] * 2
    assert [w.shape for w in net.decoder.cross_attention_weights] == [(2, HEADS, 3, 6)] * 2
    assert torch.allclose(net.decoder.attention_weights,
                          net.decoder.cross_attention_weights[-1].mean(1))


def test_greedy_decode_and_dropout_only_in_training():
    vocab = Vocab([["a", "b", "c"]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    torch.manual_seed(0)
    net = models.EncoderDecoder(TransformerEncoder(len(vocab), D, FFN, HEADS, 2, 0.2),
                                TransformerDecoder(len(vocab), D, FFN, HEADS, 2, 0.2))
    tokens, attention = models.greedy_decode(net, "a b", vocab, vocab, num_steps=5)
    assert net.training and len(tokens) <= 5
    assert attention.shape == (len(tokens) + (len(tokens) < 5), 5)  # <eos>'s step included
    assert torch.allclose(attention.sum(-1), torch.ones(len(attention)))
    X, valid_lens, Y = torch.randint(len(vocab), (2, 4)), torch.tensor([4, 2]), \
        torch.randint(len(vocab), (2, 3))
    assert_train_eval(net, X, Y, valid_lens, stochastic=True)


def test_decoder_rejects_positions_past_max_len():
    decoder = TransformerDecoder(5, 8, 16, 2, 1, 0.0, max_len=4)
    state = decoder.init_state(torch.randn(1, 3, 8), None)
    with pytest.raises(ValueError, match=r"TransformerDecoder\(\): position 4 is past max_len=4"):
        decoder(torch.zeros(1, 5, dtype=torch.long), state)
