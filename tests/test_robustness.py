import numpy as np
import pandas as pd
import pytest

from llmcourse.robustness import (accuracy_under_attack, attack_outcomes, attack_set, choose_defence, paired_rate_difference,
                                  rate_interval, success_rate)
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


def _defences(rows):
    return pd.DataFrame(rows, columns=['method', 'accuracy', 'positive share', 'char accuracy under attack',
                                       'word accuracy under attack']).set_index('method')


def test_choose_defence_skips_collapsed_and_costly_defences():
    plain = {'accuracy': 0.84, 'positive share': 0.70, 'char accuracy under attack': 0.40, 'word accuracy under attack': 0.60}
    t = choose_defence(_defences([['A', 0.84, 0.71, 0.45, 0.62],
                                  ['collapsed', 0.72, 1.00, 0.72, 0.72],     # every review called positive
                                  ['costly', 0.80, 0.70, 0.70, 0.75],        # robust, but 4 points of clean accuracy
                                  ['B', 0.835, 0.68, 0.60, 0.61]]), plain)
    assert t['allowed'].tolist() == [True, False, False, True]
    assert t.index[t.chosen].tolist() == ['B'] and t.loc['B', 'under attack change'] == pytest.approx(0.105)
    assert t.sort_values('rank').index.tolist() == ['B', 'A', 'costly', 'collapsed']   # the allowed first, then the rest
    none = choose_defence(_defences([['collapsed', 0.72, 1.0, 0.72, 0.72], ['costly', 0.80, 0.70, 0.70, 0.75]]), plain)
    assert not none['chosen'].any() and none.sort_values('rank').index.tolist() == ['costly', 'collapsed']
    with pytest.raises(ValueError, match='lacks'): choose_defence(pd.DataFrame({'accuracy': [0.8]}), plain)


def test_attack_set_is_the_same_for_every_model_and_holds_n_common_reviews():
    rng = np.random.default_rng(1)
    correct = rng.random((4, 200)) < 0.85
    cut, common = attack_set(correct, 50, seed=3)
    assert len(common) == 50 and correct[:, common].all() and set(common) <= set(cut)
    others = np.setdiff1d(cut, common)
    assert not correct[:, others].all(0).any()                  # the rest of the cut: some model gets each wrong
    assert correct[:, cut[-1]].all()                             # the cut ends on the 50th common review
    short_cut, short_common = attack_set(correct, 10_000)
    assert len(short_cut) == 200 and len(short_common) == correct.all(0).sum()


def test_accuracy_under_attack_counts_skipped_reviews_as_wrong():
    assert accuracy_under_attack([[1, 0, np.nan, 0]]).tolist() == [[0, 1, 0, 1]]
