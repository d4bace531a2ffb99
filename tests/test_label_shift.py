"""Label shift: EM recovers a known class prior from unlabelled posteriors, and re-weighting follows Bayes' rule."""
import numpy as np
import pytest

from llmcourse.label_shift import adjust_to_prior, em_prior


def posteriors(prior_positive, n=4000, seed=0):
    "Exact posteriors under a 50/50 prior for two unit-variance Gaussians at -1 and +1, drawn with `prior_positive`."
    rng = np.random.default_rng(seed)
    y = rng.random(n) < prior_positive
    p1 = 1 / (1 + np.exp(-2 * rng.normal(np.where(y, 1.0, -1.0), 1.0)))
    return np.stack([1 - p1, p1], 1), y


@pytest.mark.parametrize('prior_positive', [0.2, 0.5, 0.8])
def test_em_recovers_the_prior_the_data_were_drawn_with(prior_positive):
    probs, y = posteriors(prior_positive)
    prior, _ = em_prior(probs, [0.5, 0.5])
    assert abs(prior[1] - y.mean()) < 0.03


def test_adjusting_to_the_true_prior_helps_and_to_the_same_prior_changes_nothing():
    probs, y = posteriors(0.8)
    assert np.allclose(adjust_to_prior(probs, [0.5, 0.5], [0.5, 0.5]), probs)
    adjusted = adjust_to_prior(probs, [0.5, 0.5], [0.2, 0.8])
    assert np.allclose(adjusted.sum(1), 1) and (adjusted.argmax(1) == y).mean() > (probs.argmax(1) == y).mean()


def test_bad_priors_are_clear_errors():
    probs, _ = posteriors(0.5, n=10)
    with pytest.raises(ValueError, match='one prior entry per class'): adjust_to_prior(probs, [0.3, 0.3, 0.4], [0.5, 0.5])
    with pytest.raises(ValueError, match='positive source prior'): adjust_to_prior(probs, [0.0, 1.0], [0.5, 0.5])
