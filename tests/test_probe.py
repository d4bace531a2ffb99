import numpy as np

from llmcourse.data import load_drug_reviews
from llmcourse.logreg import linear_probe


def test_linear_probe_scores_test_and_validation_with_probabilities():
    tr, va, te = load_drug_reviews('train').sample(30), load_drug_reviews('valid').sample(7), load_drug_reviews('test').sample(9)
    r = linear_probe(tr, te, max_length=32, folds=3, valid=va)
    assert r['probabilities'].shape == (9, 2) and r['valid_probabilities'].shape == (7, 2)
    assert np.allclose(r['probabilities'].sum(1), 1) and np.allclose(r['valid_probabilities'].sum(1), 1)
    assert r['accuracy'] == np.mean(r['predictions'] == te.labels)
    assert 'valid_probabilities' not in linear_probe(tr, te, max_length=32, folds=3)
