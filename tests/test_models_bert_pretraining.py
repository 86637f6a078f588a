"""d2lite.models.bert's pretraining heads and loss: shapes, the gather at the chosen positions,
the loss on cases computed by hand, and both heads against Hugging Face's `BertForPreTraining`
with the same weights (skipped without transformers, which the `test` extra installs)."""
import math

import pytest
import torch

from d2lite import models
from d2lite.models.bert import (
    BERTPretrainer,
    MaskLM,
    NextSentencePred,
    bert_pretraining_loss,
    bert_state_dict,
)


def test_the_heads_are_exported():
    for name in ("MaskLM", "NextSentencePred", "BERTPretrainer", "bert_pretraining_loss"):
        assert getattr(models, name) is not None
        assert name in models.__all__


def test_mask_lm_shapes_with_and_without_a_mask():
    mlm = MaskLM(vocab_size=11, num_hiddens=6)
    H = torch.randn(3, 5, 6)
    pred_mask = torch.zeros(3, 5, dtype=torch.bool)
    pred_mask[0, 1] = pred_mask[2, 0] = pred_mask[2, 4] = True
    assert mlm(H).shape == (3, 5, 11)
    assert mlm(H, pred_mask).shape == (3, 11)


def test_mask_lm_scores_exactly_the_chosen_positions_in_row_major_order():
    torch.manual_seed(0)
    mlm = MaskLM(vocab_size=7, num_hiddens=4)
    H = torch.randn(2, 4, 4)
    pred_mask = torch.tensor([[False, True, False, True], [True, False, False, False]])
    gathered = mlm(H, pred_mask)
    expected = torch.stack([mlm(H[b:b + 1, t:t + 1])[0, 0] for b, t in [(0, 1), (0, 3), (1, 0)]])
    torch.testing.assert_close(gathered, expected)
    torch.testing.assert_close(gathered, mlm(H)[pred_mask])


def test_mask_lm_names_a_bad_mask():
    mlm = MaskLM(vocab_size=7, num_hiddens=4)
    with pytest.raises(ValueError, match=r"MaskLM\(\): pred_mask is torch.int64 \(2, 4\); expected "
                                         r"torch.bool of shape \(2, 3\)"):
        mlm(torch.randn(2, 3, 4), torch.zeros(2, 4, dtype=torch.int64))


def test_next_sentence_pred_reads_only_the_cls_position():
    torch.manual_seed(0)
    nsp = NextSentencePred(num_hiddens=4)
    H = torch.randn(3, 5, 4)
    changed = H.clone()
    changed[:, 1:] = torch.randn(3, 4, 4)  # every position but [CLS]
    assert nsp(H).shape == (3, 2)
    torch.testing.assert_close(nsp(H), nsp(changed))
    expected = nsp.output(torch.tanh(nsp.pooler(H[:, 0])))
    torch.testing.assert_close(nsp(H), expected)


def test_pretrainer_is_the_encoder_and_the_two_heads():
    torch.manual_seed(0)
    net = BERTPretrainer(30, 8, 16, num_heads=2, num_layers=2, dropout=0.0, max_len=10).eval()
    tokens = torch.randint(30, (3, 6))
    segments = torch.tensor([[0, 0, 0, 1, 1, 1]] * 3)
    valid_lens = torch.tensor([6, 5, 3])
    pred_mask = torch.rand(3, 6) < 0.5
    mlm, nsp = net(tokens, segments, valid_lens, pred_mask)
    H = net.encoder(tokens, segments, valid_lens)
    assert mlm.shape == (int(pred_mask.sum()), 30) and nsp.shape == (3, 2)
    torch.testing.assert_close(mlm, net.mlm(H, pred_mask))
    torch.testing.assert_close(nsp, net.nsp(H))


def test_loss_on_a_case_computed_by_hand():
    # MLM: logits (ln 3, 0) with label 0 -> p = 3/4; logits (0, 0) with label 1 -> p = 1/2.
    mlm_logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    # NSP: logits (0, ln 4) with label 1 -> p = 4/5.
    nsp_logits = torch.tensor([[0.0, math.log(4.0)]])
    loss, mlm, nsp = bert_pretraining_loss(mlm_logits, torch.tensor([0, 1]), nsp_logits,
                                           torch.tensor([1]))
    expected_mlm = (-math.log(3 / 4) - math.log(1 / 2)) / 2
    assert mlm.item() == pytest.approx(expected_mlm)
    assert nsp.item() == pytest.approx(-math.log(4 / 5))
    assert loss.item() == pytest.approx(expected_mlm - math.log(4 / 5))


def test_loss_with_nothing_to_predict_is_the_nsp_loss_and_still_differentiable():
    mlm_logits = torch.zeros(0, 5, requires_grad=True)
    nsp_logits = torch.zeros(2, 2, requires_grad=True)
    loss, mlm, nsp = bert_pretraining_loss(mlm_logits, torch.zeros(0, dtype=torch.int64),
                                           nsp_logits, torch.tensor([0, 1]))
    assert mlm.item() == 0.0 and loss.item() == pytest.approx(math.log(2))
    loss.backward()
    assert nsp_logits.grad is not None


def test_loss_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"bert_pretraining_loss\(\): logits \(3, 4\) and "
                                         r"\(2, 2\) do not match labels \(2,\) and \(2,\)"):
        bert_pretraining_loss(torch.zeros(3, 4), torch.zeros(2, dtype=torch.int64),
                              torch.zeros(2, 2), torch.zeros(2, dtype=torch.int64))


def test_heads_match_transformers_bert_for_pretraining():
    transformers = pytest.importorskip("transformers", reason="the reference needs transformers "
                                       "(in the test extra: pip install -e '.[test]')")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=32,
                                     max_position_embeddings=12, tie_word_embeddings=False,
                                     hidden_act="gelu", attn_implementation="eager")
    reference = transformers.BertForPreTraining(config).eval()
    hf = reference.state_dict()
    encoder = bert_state_dict({k: v for k, v in hf.items() if k.startswith("bert.")})
    ours = {f"encoder.{name}": tensor for name, tensor in encoder.items()}
    ours.update({"mlm.dense.weight": hf["cls.predictions.transform.dense.weight"],
                 "mlm.dense.bias": hf["cls.predictions.transform.dense.bias"],
                 "mlm.ln.weight": hf["cls.predictions.transform.LayerNorm.weight"],
                 "mlm.ln.bias": hf["cls.predictions.transform.LayerNorm.bias"],
                 "mlm.decoder.weight": hf["cls.predictions.decoder.weight"],
                 "mlm.decoder.bias": hf["cls.predictions.decoder.bias"],
                 "nsp.pooler.weight": hf["bert.pooler.dense.weight"],
                 "nsp.pooler.bias": hf["bert.pooler.dense.bias"],
                 "nsp.output.weight": hf["cls.seq_relationship.weight"],
                 "nsp.output.bias": hf["cls.seq_relationship.bias"]})
    net = BERTPretrainer(40, 16, 32, num_heads=4, num_layers=2, dropout=0.0, max_len=12)
    net.load_state_dict(ours, strict=True)
    net.eval()
    tokens = torch.randint(40, (3, 9))
    segments = torch.tensor([[0] * 5 + [1] * 4] * 3)
    valid_lens = torch.tensor([9, 7, 4])
    attention_mask = (torch.arange(9) < valid_lens[:, None]).long()
    pred_mask = (torch.rand(3, 9) < 0.3) & attention_mask.bool()
    with torch.no_grad():
        mlm, nsp = net(tokens, segments, valid_lens, pred_mask)
        out = reference(input_ids=tokens, token_type_ids=segments, attention_mask=attention_mask)
    torch.testing.assert_close(mlm, out.prediction_logits[pred_mask], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(nsp, out.seq_relationship_logits, atol=1e-5, rtol=1e-5)
