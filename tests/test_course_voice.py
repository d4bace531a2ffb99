"""The notebooks speak to a learner: they explain findings and never narrate how the course itself was made."""
import re

import nbformat
import pytest

from nbtools import ROOT, chapters, notebooks

# Phrases that narrate the course's own development rather than teach; each once appeared in a draft of a chapter.
NARRATION = ['an earlier run', 'an earlier full run', 'a previous run', 'the previous run', "the plan's", 'the plan says',
             'another job', 'shared the machine', 'earlier session', 'this session', 'were made before', 'was re-run',
             'we re-ran', 'tried elsewhere', 'the seed article', 'in the seed', 'the seed notebook']


@pytest.mark.parametrize('path', notebooks(), ids=lambda p: p.stem)
def test_no_narration_of_the_course_s_own_development(path):
    found = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        text = cell.source if cell.cell_type == 'markdown' else '\n'.join(re.findall(r'#.*', cell.source))   # prose and comments
        found += [f'cell {i}: {p!r}' for p in NARRATION if p in text.lower()]
    assert not found, f'{path.name} narrates the project instead of teaching: {found}'


@pytest.mark.parametrize('path', chapters(), ids=lambda p: p.stem)
def test_each_chapter_opens_with_what_it_teaches_costs_and_needs_and_closes_with_a_summary(path):
    cells = nbformat.read(path, as_version=4).cells
    opening = cells[0].source
    for words in ('**Run time:**', '**You will learn**'):
        assert words in opening, f'{path.name}: the first cell lacks {words}'
    assert '**You need**' in opening or '**It needs**' in opening, f'{path.name}: the first cell does not say what it needs'
    summaries = [i for i, c in enumerate(cells) if c.cell_type == 'markdown'
                 and c.source.startswith(('## What the numbers showed', '## In short'))]
    assert summaries, f'{path.name}: no closing summary ("## What the numbers showed")'
    later = [c.source.split('\n')[0] for c in cells[summaries[-1] + 1:] if c.cell_type == 'markdown']
    assert all(h.startswith("## What's next") for h in later), f'{path.name}: sections after the summary: {later}'
