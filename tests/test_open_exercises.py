"""The open exercises' checker: it passes a well-formed experiment and names what is wrong with one that is not."""
import pandas as pd
import pytest

from llmcourse.exercises import check_experiment

GOOD = pd.DataFrame({'steps': [200, 700, 1400], 'valid_score': [0.70, 0.74, 0.78], 'chosen': [False, False, True],
                     'test_score': [None, None, 0.77], 'test_ci95': [None, None, [0.73, 0.81]]})


def test_a_well_formed_experiment_passes_and_is_told_what_no_checker_judges():
    feedback = check_experiment(GOOD, 'steps')
    assert feedback.correct and 'no checker can judge' in feedback.message


@pytest.mark.parametrize('table, hint', [
    (GOOD.head(2), 'at least 3'),
    (GOOD.assign(chosen=[True, False, False]), 'never on test'),
    (GOOD.assign(chosen=[False, True, True]), 'exactly one'),
    (GOOD.assign(test_ci95=[None, None, [0.80, 0.85]]), 'interval around it'),
    (GOOD.drop(columns='test_ci95'), "lacks the columns ['test_ci95']"),
    (GOOD.to_dict(), 'DataFrame'),
])
def test_what_can_be_checked_is_checked(table, hint):
    feedback = check_experiment(table, 'steps')
    assert not feedback.correct and hint in feedback.message, feedback.message


def test_no_answer_yet():
    assert 'no answer yet' in check_experiment(None, 'steps').message
