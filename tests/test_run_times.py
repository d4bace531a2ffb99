"""The course's stated run times agree: each chapter's header, the README's total and per-chapter figures, and the
header of scripts/course.sh."""
import re

import nbformat
import pytest

from nbtools import ROOT, chapters

NUMBERS = {w: i for i, w in enumerate('zero one two three four five six seven eight nine ten eleven twelve thirteen '
                                      'fourteen fifteen sixteen seventeen eighteen nineteen'.split())}
NUMBERS.update({w: 10 * i for i, w in enumerate('twenty thirty forty fifty sixty seventy eighty ninety'.split(), 2)})
NUMBERS.update({'a': 1, 'an': 1})
UNITS = {'second': 1 / 60, 'minute': 1, 'hour': 60}


def number(word: str) -> float:
    "'54', 'forty', 'forty-five', 'a', 'half a' or 'a few' as a number."
    word = word.strip().lower()
    if word == 'a few': return 3
    if word == 'half a': return 0.5
    if re.fullmatch(r'\d+(\.\d+)?', word): return float(word)
    parts = word.split('-')
    if not all(p in NUMBERS for p in parts): raise ValueError(f'not a number: {word!r}')
    return sum(NUMBERS[p] for p in parts)


def minutes(phrase: str) -> float:
    "A stated duration in minutes: 'about 22 minutes', 'a few seconds', 'about two hours and forty minutes', ..."
    found = re.findall(r'(\d+(?:\.\d+)?|half a|a few|[a-z]+(?:-[a-z]+)?) (second|minute|hour)s?\b', phrase.lower())
    if not found: raise ValueError(f'no duration in {phrase!r}')
    return sum(number(n) * UNITS[u] for n, u in found)


def flat(text: str) -> str:
    return re.sub(r'\s+', ' ', text)


def header_minutes(path) -> float:
    "What a chapter's first cell states as its full-mode run time."
    opening = flat(nbformat.read(path, as_version=4).cells[0].source)
    m = re.search(r'\*\*Run time:\*\* (.*?)(?: on a 2-core| in full mode|\.|$)', opening)
    assert m, f'{path.name}: no "**Run time:**" sentence'
    return minutes(m.group(1))


def readme_statement() -> tuple:
    "The README's total for a full run of the course, and the chapter figures it names."
    index = flat('\n'.join(c.source for c in nbformat.read(ROOT/'nbs'/'index.ipynb', as_version=4).cells))
    m = re.search(r'runs the chapters in full mode \(about (.*?) on a 2-core laptop, the sum of the times each chapter '
                  r'states at its top: (.*?), as they', index)
    assert m, 'the course home no longer states the full-mode total and its chapters in the expected sentence'
    named = {}
    for part in m.group(2).split(', '):
        name, _, amount = part.partition(' about ')
        named[name.strip()] = minutes(amount if ' minute' in amount or ' hour' in amount else amount + ' minutes')
    return minutes(m.group(1)), named


@pytest.mark.parametrize('phrase, want', [('a few seconds', 0.05), ('about ten seconds', 1 / 6), ('half a minute', 0.5),
                                          ('about a minute', 1), ('two hours and forty minutes', 160),
                                          ('about 22 minutes', 22), ('an hour and twenty-five minutes', 85)])
def test_durations_are_read_as_stated(phrase, want):
    assert minutes(phrase) == pytest.approx(want)


def test_a_sentence_without_a_duration_is_an_error():
    with pytest.raises(ValueError, match='no duration'): minutes('quickly')


def test_every_chapter_states_a_readable_run_time():
    for path in chapters(): assert header_minutes(path) >= 0


def test_the_readme_names_each_chapter_s_own_figure():
    _, named = readme_statement()
    stems = {p.stem: p for p in chapters()}
    for name, stated in named.items():
        match = [s for s in stems if s == name or s.startswith(name + '_')]
        assert len(match) == 1, f'the README names {name!r}, which is not one chapter: {match}'
        assert header_minutes(stems[match[0]]) == pytest.approx(stated), \
            f'the README says {name} takes about {stated:g} minutes; its header says {header_minutes(stems[match[0]]):g}'


def test_the_readme_total_is_the_sum_of_the_chapters_headers():
    total, _ = readme_statement()
    summed = sum(header_minutes(p) for p in chapters())
    assert abs(total - summed) <= max(5, 0.05 * summed), \
        f'the README states {total:g} minutes in all; the chapters state {summed:.1f} between them'


def test_course_sh_states_the_readme_total():
    total, _ = readme_statement()
    m = re.search(r'Full mode by default \(about (.*?) on a 2-core', (ROOT/'scripts'/'course.sh').read_text())
    assert m, 'scripts/course.sh no longer states its full-mode time in its header'
    assert minutes(m.group(1)) == pytest.approx(total), \
        f'scripts/course.sh states {m.group(1)!r}; the README {total:g} minutes'


def test_a_full_run_records_its_chapter_times_under_its_cpu_and_keeps_the_others(tmp_path):
    import json
    from run_course import cpu_label, record_run_times
    path = tmp_path/'run_times.json'
    path.write_text(json.dumps({'Some Other CPU (native bf16: AMX)': {'02_finetune': 12.0}}))
    record_run_times({'02_finetune.ipynb': 600.0, '05_explore.ipynb': 120.0}, path)
    table = json.loads(path.read_text())
    assert table['Some Other CPU (native bf16: AMX)'] == {'02_finetune': 12.0}
    assert table[cpu_label()] == {'02_finetune': 10.0, '05_explore': 2.0, 'total': 12.0}


def test_the_run_times_page_lists_every_chapter_under_every_cpu_recorded():
    import json
    from build_docs import run_times_markdown
    table = json.loads((ROOT/'run_times.json').read_text())
    page = run_times_markdown(table)
    assert all(f'| {c.stem} |' in page for c in chapters()) and all(cpu in page for cpu in table)


def test_chapter_headers_name_no_processor():
    for path in chapters():
        opening = nbformat.read(path, as_version=4).cells[0].source
        assert not re.search(r'EPYC|Xeon|AMX|AVX|shared machine|slower day', opening), f'{path.name}: a hardware history in the header'
