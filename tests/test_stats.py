"""Bootstrap intervals over test reviews, and the paired difference that "A beats B" rests on."""
import numpy as np
import pytest

from llmcourse.stats import bootstrap_interval, paired_difference, per_review


def test_the_interval_holds_the_accuracy_and_has_the_binomial_width():
    correct = np.r_[np.ones(280), np.zeros(63)]                     # 280 of 343 right
    low, high = bootstrap_interval(correct)
    se = np.sqrt(0.816 * 0.184 / 343)
    assert low < correct.mean() < high and abs((high - low) - 2 * 1.96 * se) < 0.01


def test_seeds_are_averaged_review_by_review():
    runs = np.array([[1, 0, 1, 1], [1, 1, 0, 1], [1, 0, 0, 1]])
    assert per_review(runs).tolist() == pytest.approx([1, 1 / 3, 1 / 3, 1])


def test_a_paired_difference_is_narrower_than_two_separate_intervals():
    rng = np.random.default_rng(0)
    a = rng.random(343) < 0.8
    b = a & (rng.random(343) > 0.05)                                 # b loses a few of a's right answers
    d = paired_difference(a, b)
    separate = np.subtract(*bootstrap_interval(a)[::-1]) + np.subtract(*bootstrap_interval(b)[::-1])
    assert d['difference'] > 0 and d['excludes_zero'] and d['ci95'][1] - d['ci95'][0] < separate / 3
    assert not paired_difference(a, a)['excludes_zero']


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match='expected \\(reviews,\\) or \\(seeds, reviews\\)'): bootstrap_interval([])
    with pytest.raises(ValueError, match='the same reviews'): paired_difference(np.ones(5), np.ones(6))
