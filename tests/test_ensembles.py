"""Chapter 03's shipped model: late fusion of probabilities, its weights chosen on validation, ensembles compared with an
interval over random seeds and test reviews, and metadata that must line up with the reviews."""
import numpy as np
import pandas as pd
import pytest

from llmcourse.data import load_drug_reviews
from llmcourse.ensembles import MetadataModel, choose_weight, ensemble_difference, mixed, seed_probabilities, tfidf_model


def _probs(correct, rng, seeds=3):
    "(seeds, reviews, 2) probabilities whose argmax is right where `correct` (seeds, reviews) says."
    truth = np.zeros(correct.shape[1], dtype=int)
    p_right = 0.5 + 0.4 * rng.random(correct.shape)
    p_class0 = np.where(correct, p_right, 1 - p_right)
    return np.stack([p_class0, 1 - p_class0], -1), truth


def test_mixed_weighs_the_text_model_and_refuses_rows_that_do_not_line_up():
    text, other = np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    assert np.allclose(mixed(text, other, 0.5), [[0.6, 0.4], [0.3, 0.7]])
    assert np.allclose(mixed(np.stack([text, text]), other, 1.0), np.stack([text, text]))     # seeds broadcast
    with pytest.raises(ValueError, match='rows do not line up'): mixed(text, other[:1], 0.5)
    with pytest.raises(ValueError, match='between 0 and 1'): mixed(text, other, 1.5)


def test_choose_weight_finds_the_better_model_and_prefers_the_text_alone_on_a_tie():
    labels = np.array([0, 1, 0, 1])
    good, poor = np.array([[0.9, 0.1], [0.1, 0.9]] * 2), np.full((4, 2), 0.5)
    assert choose_weight(poor, good, labels)[0] == 0.0                 # the other model is the better one
    w, losses = choose_weight(good, poor, labels)
    assert w == 1.0 and losses[1.0] < losses[0.5] < losses[0.0]
    assert choose_weight(good, good, labels)[0] == 1.0                 # a tie keeps the text alone


def test_ensemble_difference_counts_random_seeds_and_reviews():
    rng = np.random.default_rng(0)
    reviews = 300
    steady = rng.random((1, reviews)) < 0.8
    a, truth = _probs(np.repeat(steady, 3, 0), rng)
    same = ensemble_difference(a, a, truth)
    assert same['difference'] == 0 and same['ci95'] == [0.0, 0.0] and not same['excludes_zero']
    alone = ensemble_difference(a, None, truth)
    assert alone['accuracy'] == pytest.approx(steady.mean()) and alone['ci95'][0] < steady.mean() < alone['ci95'][1]
    worse, _ = _probs(np.repeat(steady & (rng.random((1, reviews)) < 0.8), 3, 0), rng)
    d = ensemble_difference(a, worse, truth)
    assert d['difference'] > 0.1 and d['excludes_zero'] and 0 < d['detectable'] < d['difference']
    wild = np.stack([_probs(rng.random((1, reviews)) < q, rng, 1)[0][0] for q in (0.95, 0.5, 0.95)])   # seeds that disagree
    assert np.diff(ensemble_difference(wild, None, truth)['ci95']) > np.diff(ensemble_difference(wild[[0]], None, truth)['ci95'])
    with pytest.raises(ValueError, match=r'\(random seeds, 300 reviews, classes\)'): ensemble_difference(a[0], None, truth)
    with pytest.raises(ValueError, match='B must be'): ensemble_difference(a, a[:, :10], truth)


def test_seed_probabilities_stack_the_runs_of_one_cell_in_seed_order():
    runs = pd.DataFrame({'method': ['a', 'a', 'b'], 'labels': 8, 'seed': [1, 0, 0],
                         'test_probs': [[[0.1, 0.9]], [[0.8, 0.2]], [[0.5, 0.5]]], 'valid_probs': [[[0, 1]], [[1, 0]], [[1, 0]]]})
    assert np.allclose(seed_probabilities(runs, 'a', 8), [[[0.8, 0.2]], [[0.1, 0.9]]])
    assert seed_probabilities(runs, 'a', 8, 'valid').shape == (2, 1, 2)
    with pytest.raises(ValueError, match='no runs'): seed_probabilities(runs, 'c', 8)


def test_metadata_model_refuses_rows_that_do_not_line_up_with_the_reviews():
    train = load_drug_reviews('train')
    with pytest.raises(ValueError, match='metadata rows for .* labelled reviews'):
        MetadataModel(['drug', 'condition']).fit(train.meta.iloc[1:], train.labels)
    with pytest.raises(ValueError, match='source of the label'): MetadataModel(['rating']).fit(train.meta, train.labels)
    model = MetadataModel(['drug', 'condition', 'date']).fit(train.meta, train.labels)
    p = model.predict_proba(train.meta.iloc[:5])
    assert p.shape == (5, 2) and np.allclose(p.sum(1), 1)
    with pytest.raises(ValueError, match='rows do not line up'): mixed(np.full((6, 2), 0.5), p, 0.5)


def test_the_lexical_model_learns_words_that_carry_sentiment():
    train = load_drug_reviews('train')
    model = tfidf_model(train)
    p = model.predict_proba(['This drug worked great, I love it, no side effects.', 'Terrible, awful, it made everything worse.'])
    assert p[0, 1] > 0.5 > p[1, 1]
