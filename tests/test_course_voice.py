"""The notebooks speak to a learner: they explain findings and never narrate how the course itself was made."""
import re

import nbformat
import pytest

from nbtools import ROOT, notebooks

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
