from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from llmcourse.data import load_drug_reviews
from llmcourse.attributions import attribution_html, integrated_gradients, occlusion, word_attributions
from llmcourse.calibration import (calibration_report, expected_calibration_error, fit_temperature, nll,
                                   reliability_table, threshold_at_precision)
from llmcourse.explore import attention_maps, error_rates_by, error_table, Explainer, explorer
from llmcourse.guards import require_fine_tuned, encode_one, load_fine_tuned, UntrainedHeadError
from llmcourse.checkpoints import save_model
from llmcourse.models import tiny_bert

TEXT = 'The tablets stopped my headaches within a week, no side effects.'


@pytest.fixture(scope='module')
def model(sharp_tiny_bert):
    "A tiny BERT whose head has moved from its initial values, as after fine-tuning."
    m = sharp_tiny_bert()
    with torch.no_grad(): m.classifier.bias.copy_(torch.tensor([0.3, -0.2]))
    return m


# --- bad input ---

def test_empty_and_non_string_texts_are_refused(tok):
    for bad in ['', '  \n']:
        with pytest.raises(ValueError, match='empty'): encode_one(tok, bad)
    with pytest.raises(TypeError, match='string'): encode_one(tok, 3)


def test_truncation_is_stated(tok):
    assert encode_one(tok, TEXT, 64)['note'] == ''
    note = encode_one(tok, ' '.join([TEXT] * 30), 64)['note']
    assert 'truncated' in note and 'first 64' in note


def test_untrained_head_is_refused(tok, tmp_path, model):
    with pytest.raises(UntrainedHeadError, match='untrained'): require_fine_tuned(tiny_bert(seed=0))
    with pytest.raises(UntrainedHeadError): Explainer(tiny_bert(seed=0), tok)
    require_fine_tuned(model)
    from transformers import BertModel
    BertModel(tiny_bert().config).save_pretrained(tmp_path/'encoder')        # an encoder without any head
    with pytest.raises(UntrainedHeadError, match='no classification head'): load_fine_tuned(tmp_path/'encoder')
    save_model(model, tok, tmp_path/'tuned')
    loaded, _ = load_fine_tuned(tmp_path/'tuned')
    assert torch.equal(loaded.classifier.bias, model.classifier.bias)
    with pytest.raises(FileNotFoundError): load_fine_tuned(tmp_path/'nowhere')


# --- attention ---

def test_attention_shapes_and_rows_sum_to_one(tok, model):
    a = attention_maps(model, tok, TEXT)
    n = len(a['tokens'])
    assert a['attention'].shape == (2, 2, n, n)
    assert np.allclose(a['attention'].sum(-1), 1, atol=1e-5) and (a['attention'] >= 0).all()


# --- attributions ---

def test_integrated_gradients_completeness_shrinks_with_steps(tok, model):
    coarse = integrated_gradients(model, tok, TEXT, n_steps=2)
    fine = integrated_gradients(model, tok, TEXT, n_steps=64)
    gap = fine['logit'] - fine['baseline_logit']
    assert abs(gap) > 0.05                                              # a real gap to explain
    assert fine['completeness_error'] < 1e-3 * max(1.0, abs(gap))
    assert fine['completeness_error'] < coarse['completeness_error']
    assert len(fine['scores']) == len(fine['tokens'])


class BagOfWords(torch.nn.Module):
    "A classifier whose logits are a sum of per-word-piece weights: it ignores every piece without a weight."
    def __init__(self, weights: dict, vocab: int = 30522):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, 2); self.classifier = torch.nn.Linear(1, 2)
        with torch.no_grad():
            self.emb.weight.zero_(); self.classifier.bias.copy_(torch.tensor([0.1, -0.1]))
            for i, w in weights.items(): self.emb.weight[i] = torch.tensor(w)
    def get_input_embeddings(self): return self.emb
    def forward(self, input_ids, attention_mask=None, **kw):
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        return SimpleNamespace(logits=(self.emb(input_ids) * mask[..., None]).sum(1) + self.classifier.bias)


def test_occlusion_of_an_ignored_word_changes_nothing(tok):
    headache = tok.convert_tokens_to_ids('week')
    bag = BagOfWords({headache: [0.0, 2.5]})
    table = occlusion(bag, tok, TEXT, target=1)
    assert table.set_index('word').loc['week', 'occlusion'] == pytest.approx(2.5)
    assert (table[table.word != 'week'].occlusion == 0).all()
    assert [TEXT[s:e] for s, e in table[['start', 'end']].to_numpy()] == table.word.tolist()


def test_word_attributions_line_up_with_the_words(tok, model):
    table, ig = word_attributions(model, tok, TEXT, n_steps=16)
    assert table.word.tolist()[:3] == ['The', 'tablets', 'stopped']
    assert table['integrated gradients'].sum() == pytest.approx(ig['scores'][1:-1].sum(), abs=1e-5)   # [CLS]/[SEP] aside
    html = attribution_html(TEXT, table)
    assert html.count('<span') == len(table) and 'headaches' in html


# --- calibration ---

def test_temperature_recovers_overconfidence_and_lowers_validation_nll():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, size=(4000, 3))
    labels = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in true_logits])
    t = fit_temperature(3.0 * true_logits, labels)                      # a model three times too confident
    assert t == pytest.approx(3.0, rel=0.1)
    assert nll(3.0 * true_logits, labels, t) < nll(3.0 * true_logits, labels)


def test_calibration_never_looks_at_test_data():
    rng = np.random.default_rng(1)
    vz, vy = rng.normal(0, 3, (300, 2)), rng.integers(0, 2, 300)
    a = calibration_report(vz, vy, rng.normal(0, 3, (50, 2)), rng.integers(0, 2, 50))
    b = calibration_report(vz, vy, rng.normal(5, 1, (80, 2)), np.zeros(80, dtype=int))
    assert a['temperature'] == b['temperature'] == fit_temperature(vz, vy)
    assert a['valid_nll_after'] <= a['valid_nll_before']


def test_ece_and_reliability_table():
    probs = np.array([[0.9, 0.1]] * 10 + [[0.3, 0.7]] * 10)
    labels = np.array([0] * 9 + [1] + [1] * 7 + [0] * 3)              # 90% right at 0.9, 70% right at 0.7: calibrated
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(probs, np.array([0] * 10 + [1] * 10)) == pytest.approx(0.2)
    t = reliability_table(probs, labels)
    assert t['count'].tolist() == [10, 10] and t.accuracy.tolist() == pytest.approx([0.7, 0.9])
    with pytest.raises(ValueError, match='labels'): reliability_table(probs, labels[:3])


def test_threshold_at_precision():
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    pos = np.array([1, 1, 1, 0, 1, 0], dtype=bool)
    r = threshold_at_precision(scores, pos, 0.99)
    assert r['threshold'] == 0.8 and r['recall'] == 0.75
    assert threshold_at_precision(scores, pos, 0.8)['threshold'] == 0.6


# --- errors ---

def test_error_table_lists_only_mistakes_most_confident_first():
    ds = load_drug_reviews('test').sample(30)
    probs = np.random.default_rng(0).dirichlet([1, 1], size=len(ds))
    errs = error_table(ds, probs)
    assert len(errs) == int((probs.argmax(1) != ds.labels).sum())
    assert errs.confidence.is_monotonic_decreasing and (errs.true != errs.predicted).all()
    by = error_rates_by(ds, probs, 'true label', 1)
    assert by.errors.sum() == len(errs)
    with pytest.raises(ValueError, match='no column'): error_rates_by(ds, probs, 'colour')


# --- the explorer ---

def test_explorer_updates_together(tok, model):
    ui = explorer(Explainer(model, tok, temperature=2.0, n_steps=8), [TEXT, 'Awful. Made me dizzy and sick for days.'])
    first = (ui.summary.value, ui.words.value)
    assert 'headaches' in ui.words.value and ui.view['label'] in ('negative', 'positive')
    ui.controls['example'].value = ui.controls['example'].options[1][1]          # pick the other review
    assert ui.controls['text'].value.startswith('Awful') and 'dizzy' in ui.words.value
    assert (ui.summary.value, ui.words.value) != first
    ui.controls['head'].value = 2
    assert ui.view['head'] == 1 and ui.figure.axes[0].get_title() == 'layer 1, head 2'
    ui.controls['text'].value = ''
    assert 'empty' in ui.summary.value


def test_explain_calibrates_without_changing_the_prediction(tok, model):
    view = Explainer(model, tok, temperature=3.0, n_steps=8).explain(TEXT)
    assert view['probs'].argmax() == view['raw_probs'].argmax()
    assert view['probs'].max() < view['raw_probs'].max()
    with pytest.raises(ValueError, match='layer'): Explainer(model, tok).explain(TEXT, layer=5)
