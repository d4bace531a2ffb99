"""scripts/run_course.py, the course's main job: it says which CPU it measured, and a fast run leaves no scratch behind."""
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
