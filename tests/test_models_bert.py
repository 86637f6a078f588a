"""d2lite.models.bert against Hugging Face `transformers.BertModel` (random small weights, and the
real all-MiniLM-L6-v2 weights when D2LITE_DATA has them), and d2lite.wordpiece.WordPiece against the
`tokenizers` library on every sentence of the polarity dataset. transformers and tokenizers come
with the `test` extra (`pip install -e ".[test]"`); without them these tests are skipped."""
import os

import pytest
import torch

from d2lite import data, models, wordpiece
from d2lite.models.bert import BERTEncoder, bert_state_dict

needs_data = pytest.mark.skipif(not os.environ.get("D2LITE_DATA"),
                                reason="needs D2LITE_DATA (CI sets it)")
SENTENCES = ["He sat on the bank of the river.",
             "The bank raised its interest rates again this year.",
             "Fishing from the muddy bank, she waited for hours.",
             "Héllo, wörld! Unaffable caféS don't exist?",
             "深度学习 is fun",
             "A",
             "The river overflowed its banks after the storm, flooding the fields nearby.",
             "I deposited the cheque at the bank."]


def transformers_or_skip():
    return pytest.importorskip("transformers", reason="the reference BertModel needs "
                               "transformers (in the test extra: pip install -e '.[test]')")


def padded_batch(tokenizer: wordpiece.WordPiece, sentences):
    """Token ids padded at the end, valid lengths and the matching 0/1 attention mask."""
    rows = [tokenizer.encode(s)[0] for s in sentences]
    lens = torch.tensor([len(r) for r in rows])
    tokens = torch.full((len(rows), int(lens.max())), tokenizer.pad_id)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = torch.tensor(row)
    mask = torch.arange(tokens.shape[1]) < lens[:, None]  # (batch, steps)
    return tokens, lens, mask


def max_difference(ours: BERTEncoder, reference, tokens, lens, mask) -> float:
    ours.eval(), reference.eval()
    with torch.no_grad():
        a = ours(tokens, valid_lens=lens)
        b = reference(input_ids=tokens, attention_mask=mask.long()).last_hidden_state
    return (a - b)[mask].abs().max().item()  # real tokens only: padding's rows are unused


def test_bert_encoder_equals_transformers_bert_model_with_random_weights():
    transformers = transformers_or_skip()
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=32,
                                     max_position_embeddings=20, attn_implementation="eager")
    reference = transformers.BertModel(config, add_pooling_layer=True)
    ours = BERTEncoder(50, 16, 32, num_heads=4, num_layers=2, dropout=0.1, max_len=20)
    ours.load_state_dict(bert_state_dict(reference.state_dict()), strict=True)
    tokens = torch.randint(1, 50, (3, 7))
    lens = torch.tensor([7, 3, 5])
    mask = torch.arange(7) < lens[:, None]
    segments = (torch.arange(7) >= 2).long().expand(3, 7)
    assert max_difference(ours, reference, tokens, lens, mask) <= 1e-5
    with torch.no_grad():
        a = ours(tokens, segments, lens)
        b = reference(input_ids=tokens, token_type_ids=segments,
                      attention_mask=mask.long()).last_hidden_state
    torch.testing.assert_close(a[mask], b[mask], atol=1e-5, rtol=0)


def test_bert_input_is_the_sum_of_token_segment_and_position_embeddings():
    torch.manual_seed(0)
    embedding = models.BERTEmbedding(vocab_size=20, num_hiddens=8, max_len=6, dropout=0.0)
    tokens, segments = torch.tensor([[2, 7, 3, 9, 9, 3]]), torch.tensor([[0, 0, 0, 1, 1, 1]])
    summed = (embedding.token.weight[tokens] + embedding.segment.weight[segments]
              + embedding.position.weight[:6])                          # (1, 6, 8)
    torch.testing.assert_close(embedding(tokens, segments), embedding.ln(summed))
    same_token = embedding(tokens, segments)[0, 3:5]   # token 9 at positions 3 and 4
    assert not torch.allclose(same_token[0], same_token[1])  # its position tells them apart
    with pytest.raises(ValueError, match=r"BERTEmbedding\(\): 7 tokens but max_len=6"):
        embedding(torch.zeros(1, 7, dtype=torch.int64))


def test_bert_encoder_ignores_padding_and_keeps_its_hidden_states():
    torch.manual_seed(0)
    encoder = BERTEncoder(30, 8, 16, num_heads=2, num_layers=3, dropout=0.0, max_len=10).eval()
    tokens, lens = torch.randint(30, (2, 6)), torch.tensor([6, 3])
    noisy = tokens.clone()
    noisy[1, 3:] = torch.randint(30, (3,))
    with torch.no_grad():
        out, out_noisy = encoder(tokens, valid_lens=lens), encoder(noisy, valid_lens=lens)
    torch.testing.assert_close(out[1, :3], out_noisy[1, :3], atol=1e-6, rtol=0)
    assert len(encoder.hidden_states) == 4 and encoder.hidden_states[-1] is out_noisy
    with pytest.raises(ValueError, match="11 tokens but max_len=10"):
        encoder(torch.zeros(1, 11, dtype=torch.long))


def test_bert_state_dict_renames_drops_and_refuses():
    renamed = bert_state_dict({"bert.embeddings.LayerNorm.weight": torch.ones(2),
                               "embeddings.position_ids": torch.arange(2),
                               "pooler.dense.weight": torch.ones(2, 2),
                               "encoder.layer.11.output.LayerNorm.bias": torch.zeros(2)})
    assert list(renamed) == ["embedding.ln.weight", "blocks.11.addnorm2.ln.bias"]
    with pytest.raises(ValueError, match=r"unknown tensor 'cls\.predictions\.bias'"):
        bert_state_dict({"cls.predictions.bias": torch.ones(2)})


@needs_data
def test_minilm_encoder_equals_transformers_on_a_padded_batch():
    transformers = transformers_or_skip()
    pytest.importorskip("safetensors")
    ours, tokenizer = models.load_minilm_encoder(verbose=False)
    folder = os.path.join(os.environ["D2LITE_DATA"], "minilm")
    # transformers 5 ignores BertTokenizer(vocab_file=...); the model is loaded from the folder
    reference = transformers.BertModel.from_pretrained(folder, attn_implementation="eager")
    tokens, lens, mask = padded_batch(tokenizer, SENTENCES)
    assert int(lens.min()) < tokens.shape[1]  # the batch really is padded
    difference = max_difference(ours, reference, tokens, lens, mask)
    print(f"max |ours - transformers| on real tokens: {difference:.2e}")
    assert difference <= 1e-5


@needs_data
def test_wordpiece_equals_the_tokenizers_library_on_every_polarity_sentence():
    tokenizers = pytest.importorskip("tokenizers", reason="the reference WordPiece needs "
                                     "tokenizers (in the test extra: pip install -e '.[test]')")
    pytest.importorskip("safetensors")
    _, vocab, _ = data.load_minilm(verbose=False)
    folder = os.path.join(os.environ["D2LITE_DATA"], "minilm")
    reference = tokenizers.BertWordPieceTokenizer(os.path.join(folder, "vocab.txt"),
                                                  lowercase=True)
    ours = wordpiece.WordPiece(vocab)
    sentences, _ = data.load_rt_polarity(verbose=False)  # cp1252, split at "\n" only
    theirs = [encoding.ids for encoding in reference.encode_batch(sentences)]
    differ = [s for s, ids in zip(sentences, theirs, strict=True) if ours.encode(s)[0] != ids]
    assert len(sentences) == 10662 and differ == [], f"{len(differ)} differ, e.g. {differ[:3]}"
    pair = reference.encode("A bank.", "The river!")
    assert ours.encode("A bank.", "The river!") == (pair.ids, pair.type_ids)
