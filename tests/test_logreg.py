import warnings

import numpy as np
import pytest
import torch

from llmcourse.logreg import (boundary_line, breast_cancer_split, DivergenceWarning, gradient_check,
                              gradient_descent, log_loss_from_scores, LogisticRegression, loss_and_grad,
                              make_2d_data, newton, numerical_grad, parity_with_sklearn, relative_error,
                              run_estimator_checks, sigmoid, torch_loss, torch_manual_grad)
from llmcourse.logreg_playground import draw_playground, logreg_playground, playground_state


@pytest.fixture(scope='module')
def cancer(): return breast_cancer_split()


# --- numerics ---

def test_stable_sigmoid_at_large_scores():
    with np.errstate(over='raise', divide='raise', invalid='raise'):
        s = sigmoid(np.array([-1000.0, 1000.0, 0.0]))
    assert s[0] == 0.0 and s[1] == 1.0 and s[2] == 0.5
    assert np.allclose(sigmoid(np.array([-5., 5.])), 1 / (1 + np.exp(-np.array([-5., 5.]))))
    assert sigmoid(-30.0) > 0                                 # tiny but not rounded to zero


def test_log_loss_stays_finite_for_confident_mistakes():
    with np.errstate(over='raise', divide='raise', invalid='raise'):
        assert log_loss_from_scores([1.0], [-1000.0]) == pytest.approx(1000.0)
        assert log_loss_from_scores([0.0], [1000.0]) == pytest.approx(1000.0)
        assert log_loss_from_scores([1.0], [1000.0]) == pytest.approx(0.0, abs=1e-300)


def test_loss_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    y, z = (rng.random(50) > .5).astype(float), rng.normal(size=50)
    p = 1 / (1 + np.exp(-z))
    assert log_loss_from_scores(y, z) == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


# --- gradient check ---

def test_gradient_matches_finite_differences_and_autograd(cancer):
    errs = gradient_check(cancer[0], cancer[2], alpha=0.1)
    assert errs['vs finite differences'] < 1e-7
    assert errs['vs torch autograd'] < 1e-12
    assert errs['torch manual vs autograd'] < 1e-10


def test_a_wrong_gradient_is_caught(cancer):
    X, y = cancer[0][:50], cancer[2][:50]
    w, b = np.ones(X.shape[1]) * .1, 0.2
    _, gw, gb = loss_and_grad(w, b, X, y, 0.1)
    num = numerical_grad(lambda t: loss_and_grad(t[:-1], t[-1], X, y, 0.1)[0], np.append(w, b))
    assert relative_error(np.append(gw, gb), num) < 1e-7
    assert relative_error(np.append(gw - 0.1 * w, gb), num) > 1e-3       # forgetting the L2 term shows


def test_torch_manual_gradient_equals_autograd():
    X, y = torch.randn(20, 4, dtype=torch.float64), (torch.rand(20) > .5).double()
    w, b = torch.randn(4, dtype=torch.float64, requires_grad=True), torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    torch_loss(w, b, X, y, 0.5).backward()
    mw, mb = torch_manual_grad(w.detach(), b.detach(), X, y, 0.5)
    assert torch.allclose(mw, w.grad) and torch.allclose(mb, b.grad)


# --- solvers and parity with scikit-learn ---

def test_newton_reaches_sklearns_optimum(cancer):
    par = parity_with_sklearn(cancer[0], cancer[2], alpha=0.01)
    assert abs(par['loss_gap']) < 1e-6
    assert par['max_coef_gap'] < 1e-4


def test_gradient_descent_approaches_the_optimum_and_never_rises(cancer):
    X, y = cancer[0], cancer[2]
    *_, opt = newton(X, y, alpha=0.01)
    _, _, losses = gradient_descent(X, y, alpha=0.01, lr=0.5, max_iter=3000)
    assert losses[-1] - opt[-1] < 1e-4
    assert np.all(np.diff(losses) <= 1e-12)


def test_no_intercept_keeps_bias_at_zero(cancer):
    m = LogisticRegression(fit_intercept=False).fit(cancer[0], cancer[2])
    assert m.intercept_[0] == 0.0


def test_l2_shrinks_weights(cancer):
    small = LogisticRegression(alpha=1e-3).fit(cancer[0], cancer[2])
    big = LogisticRegression(alpha=1.0).fit(cancer[0], cancer[2])
    assert np.linalg.norm(big.coef_) < np.linalg.norm(small.coef_) / 3


# --- estimator API ---

def test_estimator_passes_sklearn_checks():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        records = run_estimator_checks()
    assert all(r['status'] in ('passed', 'skipped') for r in records)
    assert sum(r['status'] == 'passed' for r in records) >= 50


def test_estimator_api_with_string_labels(cancer):
    X, y = cancer[0], np.where(cancer[2] == 1, 'benign', 'malignant')
    m = LogisticRegression(alpha=0.01).fit(X, y)
    assert list(m.classes_) == ['benign', 'malignant'] and m.coef_.shape == (1, X.shape[1])
    p = m.predict_proba(X)
    assert p.shape == (len(y), 2) and np.allclose(p.sum(1), 1)
    assert set(m.predict(X)) <= {'benign', 'malignant'} and m.score(X, y) > 0.95
    assert np.array_equal(m.decision_function(X) > 0, m.predict(X) == 'malignant')
    assert m.set_params(alpha=0.5).get_params()['alpha'] == 0.5


def test_threshold_moves_predictions(cancer):
    X, y = cancer[0], cancer[2]
    lo, hi = LogisticRegression(threshold=0.05).fit(X, y), LogisticRegression(threshold=0.95).fit(X, y)
    assert lo.predict(X).sum() > hi.predict(X).sum()


def test_works_in_a_pipeline_with_cross_validation():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = load_breast_cancer(return_X_y=True)
    assert cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(alpha=0.01)), X, y, cv=3).mean() > 0.95


# --- bad input ---

def test_mismatched_lengths(cancer):
    with pytest.raises(ValueError, match='inconsistent numbers of samples'):
        LogisticRegression().fit(cancer[0], cancer[2][:-1])


def test_non_binary_labels(cancer):
    with pytest.raises(ValueError, match='Only binary classification is supported. y has 3 classes'):
        LogisticRegression().fit(cancer[0], np.arange(len(cancer[2])) % 3)


@pytest.mark.parametrize('bad,match', [(np.nan, 'NaN'), (np.inf, 'infinity')])
def test_nan_or_infinite_features(cancer, bad, match):
    X = cancer[0].copy(); X[3, 2] = bad
    with pytest.raises(ValueError, match=match): LogisticRegression().fit(X, cancer[2])


def test_divergent_learning_rate_warns_and_stops(cancer):
    with pytest.warns(DivergenceWarning, match='lower the learning rate'):
        m = LogisticRegression(solver='gd', lr=50, max_iter=200).fit(cancer[0], cancer[2])
    assert m.n_iter_ < 200


def test_unknown_solver_and_negative_alpha(cancer):
    with pytest.raises(ValueError, match='solver'): LogisticRegression(solver='sgd').fit(cancer[0], cancer[2])
    with pytest.raises(ValueError, match='alpha'): LogisticRegression(alpha=-1).fit(cancer[0], cancer[2])


# --- the playground's logic ---

def test_playground_state_responds_to_each_control():
    X, y = make_2d_data()
    base = playground_state(X, y, lr=0.3, iterations=50, alpha=1e-4, threshold=0.5)
    assert not np.allclose(playground_state(X, y, lr=0.01, iterations=50)['w'], base['w'])
    assert len(playground_state(X, y, iterations=10)['losses']) == 11
    assert np.linalg.norm(playground_state(X, y, alpha=3.0, iterations=50)['w']) < np.linalg.norm(base['w'])
    assert playground_state(X, y, threshold=0.99)['confusion'][:, 1].sum() < base['confusion'][:, 1].sum()
    assert playground_state(X, y, lr=15, iterations=50, alpha=0.3)['diverged'] and not base['diverged']
    assert base['confusion'].sum() == len(y) and base['accuracy'] > 0.8


def test_draw_playground_and_boundary():
    import matplotlib; matplotlib.use('Agg')
    X, y = make_2d_data()
    fig = draw_playground(playground_state(X, y), X, y)
    assert len(fig.axes) == 3
    xs, ys = boundary_line(np.array([1.0, 2.0]), 1.0, np.array([0.0, 1.0]))
    assert np.allclose(1.0 * xs + 2.0 * ys + 1.0, 0)
    assert boundary_line(np.array([1.0, 0.0]), 0.0, xs) is None


def test_playground_widget_updates_when_a_slider_moves():
    import matplotlib; matplotlib.use('Agg')
    ui = logreg_playground()
    before_w, before_text = ui.state['w'].copy(), ui.summary.value
    ui.controls['lr'].value = 0.01
    assert ui.state['lr'] == 0.01 and not np.allclose(ui.state['w'], before_w)
    assert ui.summary.value != before_text
    ui.controls['threshold'].value = 0.9
    assert ui.state['threshold'] == 0.9
