"""Two-level bootstrap intervals over random seeds and test reviews, and the paired difference that "A beats B" rests on."""
import numpy as np
import pytest

from llmcourse.stats import bootstrap_interval, coverage, paired_difference, seed_review_table, variance_parts


def test_one_run_gets_the_binomial_width():
    correct = np.r_[np.ones(280), np.zeros(63)]                     # 280 of 343 right
    low, high = bootstrap_interval(correct)
    se = np.sqrt(0.816 * 0.184 / 343)
    assert low < correct.mean() < high and abs((high - low) - 2 * 1.96 * se) < 0.01


def test_one_run_becomes_one_row_of_the_table():
    assert seed_review_table([1, 0, 1]).shape == (1, 3)
    assert list(variance_parts([1, 0, 1, 1])) == ['test reviews']


@pytest.mark.parametrize('seed_sd', [0.0, 0.2, 0.35])
def test_a_95_percent_interval_holds_the_truth_95_percent_of_the_time(seed_sd):
    # 1,000 made-up experiments of 3 random seeds on 300 reviews, from no seed spread to the few-label runs' spread
    assert 0.93 <= coverage(bootstrap_interval, 1000, seeds=3, reviews=300, seed_sd=seed_sd) <= 0.97


def test_averaging_the_seeds_first_misses_the_truth_when_seeds_spread():
    def reviews_only(correct, seed=0): return bootstrap_interval(np.asarray(correct).mean(0), seed=seed)
    assert coverage(reviews_only, 300, seed_sd=0.35) < 0.85


def three_seeds_that_disagree():
    rng = np.random.default_rng(0)
    b = np.stack([rng.random(343) < 0.75 for _ in range(3)])
    a = b.copy()
    for s, (up, down) in enumerate([(7, 0), (2, 0), (0, 37)]):     # A - B: +0.020, +0.006, -0.108
        a[s, np.flatnonzero(~b[s])[:up]] = True
        a[s, np.flatnonzero(b[s])[:down]] = False
    return a.astype(float), b.astype(float)


def test_seeds_that_disagree_in_sign_give_an_interval_across_zero():
    a, b = three_seeds_that_disagree()
    d = paired_difference(a, b)
    assert d['per_seed'] == pytest.approx([0.0204, 0.0058, -0.1079], abs=1e-4)
    assert not d['excludes_zero'] and d['detectable'] > abs(d['difference'])
    assert bootstrap_interval((a - b).mean(0))[1] < 0        # averaging the seeds first claims A surely loses


def test_a_paired_difference_is_narrower_than_two_separate_intervals():
    rng = np.random.default_rng(0)
    a = rng.random(343) < 0.8
    b = a & (rng.random(343) > 0.05)                                 # b loses a few of a's right answers
    d = paired_difference(a, b)
    separate = np.subtract(*bootstrap_interval(a)[::-1]) + np.subtract(*bootstrap_interval(b)[::-1])
    assert d['difference'] > 0 and d['excludes_zero'] and d['ci95'][1] - d['ci95'][0] < separate / 3
    assert not paired_difference(a, a)['excludes_zero'] and paired_difference(a, a)['ci95'] == [0.0, 0.0]


def test_a_single_run_pairs_with_every_seed():
    a, b = three_seeds_that_disagree()
    d = paired_difference(a, b[0])
    assert len(d['per_seed']) == 3 and d['difference'] == pytest.approx((a - b[0]).mean())


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match='expected \\(reviews,\\) or \\(seeds, reviews\\)'): bootstrap_interval([])
    with pytest.raises(ValueError, match='the same reviews'): paired_difference(np.ones(5), np.ones(6))
    with pytest.raises(ValueError, match='3 random seeds and B 2'): paired_difference(np.ones((3, 5)), np.ones((2, 5)))
