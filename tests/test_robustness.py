import numpy as np
import pandas as pd
import pytest

from llmcourse.robustness import attack_outcomes, choose_setting, paired_rate_difference, rate_interval, success_rate
from llmcourse.text_attacks import AttackResult


def test_outcomes_and_success_rate_leave_skipped_reviews_out():
    rs = [AttackResult('x', 'x', 0, 0, 0, s) for s in ('succeeded', 'failed', 'skipped', 'succeeded')]
    out = attack_outcomes(rs)
    assert np.isnan(out[2]) and out[[0, 1, 3]].tolist() == [1, 0, 1]
    assert success_rate(out) == pytest.approx(2 / 3)
    assert success_rate([[1, np.nan], [0, 0]]) == pytest.approx(1 / 3)     # pooled over random seeds
    with pytest.raises(ValueError, match='skipped'): success_rate([np.nan, np.nan])


def test_rate_intervals_hold_the_rate_and_pair_the_reviews():
    rng = np.random.default_rng(0)
    a = (rng.random((3, 80)) < 0.5).astype(float); a[:, :5] = np.nan
    lo, hi = rate_interval(a)
    assert lo < success_rate(a) < hi and hi - lo < 0.25
    same = paired_rate_difference(a, a)
    assert same['difference'] == 0 and same['ci95'] == [0, 0] and not same['excludes_zero']
    zero = np.where(np.isnan(a), np.nan, 0.0)
    d = paired_rate_difference(zero, a)
    assert d['difference'] == pytest.approx(-success_rate(a)) and d['excludes_zero'] and d['ci95'][1] < 0
    with pytest.raises(ValueError, match='same reviews'): paired_rate_difference(a, a[:, :10])


def _sweep(rows):
    return pd.DataFrame(rows, columns=['method', 'size', 'accuracy', 'positive share', 'char success', 'word success',
                                       'train seconds'])


def test_choose_setting_skips_collapsed_and_costly_settings():
    plain = {'accuracy': 0.84, 'positive share': 0.70}
    t = choose_setting(_sweep([['FGM', 0.01, 0.84, 0.71, 0.30, 0.40, 10],
                               ['FGM', 0.3, 0.72, 1.00, 0.00, 0.00, 10],     # collapsed: every review called positive
                               ['PGD', 0.03, 0.78, 0.70, 0.10, 0.10, 30],    # robust, but 6 points of clean accuracy
                               ['discrete', 0.1, 0.83, 0.68, 0.20, 0.25, 12]]), plain)
    assert t['allowed'].tolist() == [True, False, False, True]
    assert t.loc[t.chosen, 'method'].tolist() == ['discrete']
    none = choose_setting(_sweep([['FGM', 0.3, 0.72, 1.0, 0.0, 0.0, 10]]), plain)
    assert not none['chosen'].any()
    with pytest.raises(ValueError, match='lacks'): choose_setting(pd.DataFrame({'method': ['FGM']}), plain)
