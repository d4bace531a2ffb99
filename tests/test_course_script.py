"""scripts/run_course.py, the course's main job: it says which CPU it measured, a fast run leaves no scratch behind, a full
run can be done in parts of whole chapters from one commit on one kind of CPU; the README names commands that exist."""
import json
import re
import tempfile

import pytest

import run_course


def test_the_cpu_description_names_the_precision_the_chapters_use(monkeypatch):
    for native in (True, False):
        monkeypatch.setattr('llmcourse.config.native_bf16', lambda: native)
        text = run_course.cpu_description()
        assert f"native bf16: {'yes' if native else 'no'}" in text
        assert text.endswith('bf16' if native else 'float32')


def test_fast_mode_scratch_is_removed_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    (tmp_path/'llmcourse-fast-03'/'run').mkdir(parents=True)
    (tmp_path/'llmcourse-fast-03'/'run'/'state.json').write_text('{}')
    (tmp_path/'llmcourse-fast-results.json').write_text('{}')
    (tmp_path/'someone-else').mkdir()
    run_course.remove_fast_mode_scratch()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['someone-else']


def test_every_command_the_readme_names_exists():
    "The README's commands are what a newcomer runs first: each `bash scripts/...` it names is a script of the project."
    from nbtools import ROOT
    readme = (ROOT/'README.md').read_text()
    named = set(re.findall(r'bash (scripts/[\w./-]+\.sh)', readme))
    assert {'scripts/setup.sh', 'scripts/course.sh', 'scripts/test.sh'} <= named, sorted(named)
    missing = [p for p in named if not (ROOT/p).is_file()]
    assert not missing, f'the README names scripts that do not exist: {missing}'
    assert readme.index('Read it now') < readme.index('bash scripts/setup.sh') < readme.index('bash scripts/course.sh')


def test_a_run_resumes_only_from_its_own_commit_and_kind_of_cpu(tmp_path):
    path = tmp_path/'course_run.json'
    with pytest.raises(SystemExit, match='nothing to resume'): run_course.resumed_progress('abc', 'Xeon', path)
    run_course.save_progress({'commit': 'abc', 'cpu': 'Xeon', 'parts': 1, 'seconds': {'a.ipynb': 5.0}}, path)
    assert run_course.resumed_progress('abc', 'Xeon', path) == {'commit': 'abc', 'cpu': 'Xeon', 'parts': 2, 'seconds': {'a.ipynb': 5.0}}
    with pytest.raises(SystemExit, match="commit 'abc'"): run_course.resumed_progress('def', 'Xeon', path)
    with pytest.raises(SystemExit, match="cpu 'Xeon'"): run_course.resumed_progress('abc', 'EPYC', path)


def test_a_chapter_s_expected_minutes_come_from_this_cpu_else_the_slowest_other(tmp_path):
    path = tmp_path/'run_times.json'
    path.write_text(json.dumps({'Xeon': {'03_transfer': 77.0}, 'EPYC': {'03_transfer': 116.0, '04_adversarial': 76.0}}))
    assert run_course.expected_minutes('03_transfer.ipynb', 'Xeon', path) == 77.0
    assert run_course.expected_minutes('04_adversarial.ipynb', 'Xeon', path) == 76.0
    assert run_course.expected_minutes('99_new.ipynb', 'Xeon', path) is None
    assert run_course.fits(None, 1) and run_course.fits(10, 12) and not run_course.fits(10, 11)


def test_a_run_in_parts_runs_every_chapter_once_and_keeps_the_first_part_s_results(tmp_path, monkeypatch):
    from pathlib import Path
    names = ['index.ipynb', '01_a.ipynb', '02_b.ipynb', '03_c.ipynb']
    expected = {'index.ipynb': 0.5, '01_a.ipynb': 3, '02_b.ipynb': 20, '03_c.ipynb': 2}
    ran, recorded, results = [], {}, tmp_path/'results.json'
    monkeypatch.setattr(run_course, 'PROGRESS', tmp_path/'course_run.json')
    monkeypatch.setattr(run_course, 'fast_mode', lambda: False)
    monkeypatch.setattr(run_course, 'notebooks', lambda: [Path(n) for n in names])
    monkeypatch.setattr(run_course, 'run_notebook', lambda nb, write_back: ran.append(nb.name) or 60.0)
    monkeypatch.setattr(run_course, 'expected_minutes', lambda name, cpu: expected[name])
    monkeypatch.setattr(run_course, 'record_run_times', recorded.update)
    monkeypatch.setattr(run_course, 'results_path', lambda: results)
    for name in ('sh', 'cpu_description', 'cpu_label', 'git_commit'): monkeypatch.setattr(run_course, name, lambda *a: 'x')
    results.write_text('{"old": {}}')
    with pytest.raises(SystemExit) as stop: run_course.main(['--within', '10'])
    assert stop.value.code == 3 and ran == ['index.ipynb', '01_a.ipynb'] and not results.exists()
    results.write_text('{"01_a": {"n": 1}}')                         # what the first part's chapters recorded
    with pytest.raises(SystemExit): run_course.main(['--resume', '--within', '10'])   # 02_b still does not fit
    assert ran == ['index.ipynb', '01_a.ipynb']
    run_course.main(['--resume'])
    assert ran == names and sorted(recorded) == sorted(names) and results.exists()
    assert json.loads(run_course.PROGRESS.read_text())['parts'] == 3


def test_a_fast_run_refuses_to_go_in_parts(monkeypatch, capsys):
    monkeypatch.setattr(run_course, 'fast_mode', lambda: True)
    for argv in (['--resume'], ['--within', '90']):
        with pytest.raises(SystemExit) as stop: run_course.arguments(argv)
        assert stop.value.code == 2 and 'are for full mode' in capsys.readouterr().err
    monkeypatch.setattr(run_course, 'fast_mode', lambda: False)
    assert run_course.arguments(['--within', '90']).within == 90
