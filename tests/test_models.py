import numpy as np
import pytest
import torch

from llmcourse import models
from llmcourse.data import LABELS_THREE
from llmcourse.pooling import mean_pool
from llmcourse.models import (bundled_model_dir, load_classifier, load_encoder, load_tokenizer,
                              resolve_model, sentence_features, tiny_bert, token_table, tokenizer_explorer)


def test_bundled_model_is_minilm():
    cfg = load_encoder().config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size) == (6, 384, 12, 30522)
    assert (bundled_model_dir()/'model.safetensors').is_file()


def test_offline_classifier_forward_gives_logits_of_the_right_shape(tok):
    clf = load_classifier(label_names=LABELS_THREE).eval()
    batch = tok(['great drug', 'it made me sick for weeks'], padding=True, return_tensors='pt')
    with torch.no_grad(): logits = clf(**batch).logits
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    assert clf.config.id2label == {0: 'negative', 1: 'neutral', 2: 'positive'}


def test_classifier_head_is_seeded():
    a, b = load_classifier(seed=1), load_classifier(seed=1)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, load_classifier(seed=2).classifier.weight)


def test_pretrained_encoder_weights_are_loaded_not_random():
    a, b = load_encoder(), load_classifier(seed=5)
    assert torch.equal(a.embeddings.word_embeddings.weight, b.bert.embeddings.word_embeddings.weight)


def test_tiny_bert_runs_with_the_bundled_tokenizer(tok):
    m = tiny_bert(label_names=['a', 'b', 'c'])
    assert sum(p.numel() for p in m.parameters()) < 2_000_000
    batch = tok(['hello world'], return_tensors='pt')
    assert m(**batch).logits.shape == (1, 3)


def test_unknown_model_paths_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match='unknown model path'): resolve_model('./does/not/exist')
    with pytest.raises(FileNotFoundError, match='no config.json'): resolve_model(tmp_path)
    assert resolve_model('someuser/some-model') == 'someuser/some-model'   # a Hub id passes through


def test_hub_id_offline_fails_with_a_clear_message():
    with pytest.raises(OSError, match='could not load .*offline'): load_tokenizer('nobody/no-such-model-xyz')


def test_label_names_must_be_distinct():
    with pytest.raises(ValueError, match='distinct'): load_classifier(label_names=['pos', 'pos'])


def test_mean_pool_ignores_padding():
    h = torch.tensor([[[1.], [3.], [100.]]])
    assert mean_pool(h, torch.tensor([[1, 1, 0]])).item() == 2.0


def test_sentence_features_are_cached_and_order_independent(tmp_path, monkeypatch):
    monkeypatch.setenv('LLMCOURSE_CACHE', str(tmp_path))
    texts = ['short one', 'a much longer sentence about a drug that helped', 'ok']
    f = sentence_features(texts, progress=False)
    assert f.shape == (3, 384) and len(list(tmp_path.glob('features-*/features.npy'))) == 1
    single = sentence_features(texts[1:2], cache=False, progress=False)
    np.testing.assert_allclose(f[1], single[0], atol=1e-5)     # batching and padding do not change a text's feature
    np.testing.assert_array_equal(sentence_features(texts, progress=False), f)
    with pytest.raises(ValueError, match='no texts'): sentence_features([])
    with pytest.raises(TypeError, match='strings'): sentence_features([1, 2])


def test_bf16_sentence_features_are_cached_apart_and_agree_with_float32(tmp_path, monkeypatch):
    monkeypatch.setenv('LLMCOURSE_CACHE', str(tmp_path))
    texts = ['short one', 'a much longer sentence about a drug that helped', 'ok']
    f32 = sentence_features(texts, progress=False)
    bf16 = sentence_features(texts, progress=False, precision='bf16')
    assert len(list(tmp_path.glob('features-*/features.npy'))) == 2      # never served for one another
    cosine = (f32 * bf16).sum(1) / np.linalg.norm(f32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert cosine.min() > 0.999 and not np.array_equal(f32, bf16)
    with pytest.raises(ValueError, match='precision must be one of'): sentence_features(texts, precision='fp8')


def test_token_table_marks_specials_and_word_pieces(tok):
    t = token_table('Ibuprofen helped', tok)
    assert t.piece.iloc[0] == '[CLS]' and t.piece.iloc[-1] == '[SEP]'
    assert t.special.tolist() == [True] + [False] * (len(t) - 2) + [True]
    assert any(p.startswith('##') for p in t.piece)
    assert t.word.iloc[1] == 0 and t.word.iloc[-2] == 1
    with pytest.raises(TypeError): token_table(3, tok)


def test_tokenizer_explorer_updates_on_typing(tok):
    ui = tokenizer_explorer(tok, text='hello')
    before = ui.output.value
    assert 'hello' in before and '3 word pieces' in before
    ui.text.value = 'metformin works'
    assert ui.output.value != before and 'met' in ui.output.value and '##' in ui.output.value


# --- the mean-pooled head ---

def test_bundled_pooler_was_never_trained():
    from safetensors import safe_open
    with safe_open(bundled_model_dir()/'model.safetensors', 'pt') as f:
        assert (f.get_tensor('pooler.dense.bias') == 0).all()


def test_mean_pooled_classifier_has_the_pretrained_encoder_and_no_pooler():
    from llmcourse.pooling import MeanPoolBertForSequenceClassification
    m, enc = load_classifier(pooling='mean'), load_encoder()
    assert isinstance(m, MeanPoolBertForSequenceClassification) and m.bert.pooler is None
    assert torch.equal(m.bert.encoder.layer[5].output.dense.weight, enc.encoder.layer[5].output.dense.weight)
    assert torch.equal(load_classifier(pooling='mean', seed=3).classifier.weight, load_classifier(pooling='mean', seed=3).classifier.weight)


def test_mean_pooled_logits_do_not_depend_on_padding(tok):
    m = tiny_bert(label_names=LABELS_THREE, pooling='mean')
    texts = ['fine', 'it made me sick for weeks and weeks']
    with torch.no_grad():
        padded = m(**tok(texts, padding=True, return_tensors='pt')).logits
        alone = torch.cat([m(**tok([t], return_tensors='pt')).logits for t in texts])
    assert padded.shape == (2, 3) and torch.allclose(padded, alone, atol=1e-5)


def test_mean_pooled_head_reads_the_mean_not_cls(tok):
    m = tiny_bert(pooling='mean')
    batch = tok(['good drug', 'bad drug'], padding=True, return_tensors='pt')
    with torch.no_grad():
        hidden = m.bert(**batch).last_hidden_state
        assert torch.allclose(m(**batch).logits, m.classifier(mean_pool(hidden, batch['attention_mask'])), atol=1e-6)


def test_mean_pooled_checkpoint_loads_back_through_the_auto_class(tok, tmp_path):
    from transformers import AutoModelForSequenceClassification
    m = tiny_bert(label_names=LABELS_THREE, pooling='mean', seed=4)
    m.save_pretrained(tmp_path, safe_serialization=True)
    back = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(back) is type(m) and back.config.model_type == 'bert_mean_pool'
    batch = tok(['great drug', 'it made me sick'], padding=True, return_tensors='pt')
    with torch.no_grad(): assert torch.equal(m(**batch).logits, back(**batch).logits)


def test_unknown_pooling_is_a_clear_error():
    with pytest.raises(ValueError, match="pooling must be 'cls'"): load_classifier(pooling='max')
    with pytest.raises(ValueError, match="pooling must be 'cls'"): tiny_bert(pooling='CLS')


def test_mean_pooling_on_a_model_that_is_not_bert_is_a_clear_error(tmp_path):
    from transformers import DistilBertConfig
    DistilBertConfig(n_layers=1, dim=32, hidden_dim=64, n_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="built for BERT models.*'distilbert'"): load_classifier(tmp_path, pooling='mean')
