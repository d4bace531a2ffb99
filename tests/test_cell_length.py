"""Short cells: a learner reads a code cell in one screen. No code cell of any notebook runs over 60 lines; the test
prints the 90th percentile of code-cell lengths across the course (the course aims at 25 or less)."""
import nbformat
import numpy as np
import pytest

from nbtools import notebooks

MAX_CELL_LINES = 60


def code_cells(nb) -> list:
    "(index in the notebook, number of lines, first line) of each code cell, in order."
    return [(i, len(c.source.splitlines()), c.source.partition('\n')[0]) for i, c in enumerate(nb.cells) if c.cell_type == 'code']


def code_cell_lengths(nb) -> list:
    "Lines of each code cell, in order."
    return [n for _, n, _ in code_cells(nb)]


@pytest.mark.parametrize('path', notebooks(), ids=lambda p: p.stem)
def test_no_code_cell_runs_over_60_lines(path):
    long = [f'cell {i} ({n} lines): {first[:60]!r}' for i, n, first in code_cells(nbformat.read(path, as_version=4))
            if n > MAX_CELL_LINES]
    assert not long, f'{path.name}: code cells over {MAX_CELL_LINES} lines, split them by definition:\n' + '\n'.join(long)


def test_report_the_90th_percentile_of_code_cell_lengths(capsys):
    lengths = [n for p in notebooks() for n in code_cell_lengths(nbformat.read(p, as_version=4))]
    p90 = float(np.percentile(lengths, 90))
    with capsys.disabled():
        print(f'\ncode cells: {len(lengths)}, 90th percentile {p90:.0f} lines (goal 25 or less), longest {max(lengths)}')
    assert lengths and p90 <= MAX_CELL_LINES


def test_the_length_check_sees_a_long_cell():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('\n'.join(['x = 1'] * 61)), nbformat.v4.new_code_cell('y = 2')])
    assert code_cell_lengths(nb) == [61, 1]
