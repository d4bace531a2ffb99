"""The open exercises' checker: it passes a well-formed experiment and names what is wrong with one that is not."""
import nbformat
import pandas as pd
import pytest

from nbtools import chapters

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


@pytest.mark.parametrize('path', chapters(), ids=lambda p: p.stem)
def test_every_chapter_ends_with_an_open_exercise_the_checker_reads(path):
    cells = nbformat.read(path, as_version=4).cells
    heads = [i for i, c in enumerate(cells) if c.cell_type == 'markdown' and c.source.startswith('### Open exercise')]
    assert len(heads) == 1, f'{path.name}: expected one "### Open exercise" section, found {len(heads)}'
    after = [c for c in cells[heads[0] + 1:] if c.cell_type == 'code']
    calls = [c for c in after[:3] if 'check_experiment(my_experiment' in c.source]
    assert calls, f'{path.name}: the open exercise has no cell that gives my_experiment to check_experiment'
    outputs = ''.join(o.get('text', '') or str(o.get('data', {}).get('text/plain', '')) for o in calls[0].outputs)
    assert 'no answer yet' in outputs, f'{path.name}: the open exercise cell has not been run (or is already answered)'
