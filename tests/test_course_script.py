"""scripts/run_course.py, the course's main job: it says which CPU it measured, and a fast run leaves no scratch behind; the README names commands that exist."""
import re
import tempfile

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
