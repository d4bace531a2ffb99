import json

import numpy as np
import pytest

from llmcourse import config


@pytest.mark.parametrize('value,expected', [('1', True), ('true', True), ('0', False), ('false', False), ('', False)])
def test_fast_mode_forced_by_env(monkeypatch, value, expected):
    monkeypatch.setenv('LLMCOURSE_FAST', value)
    assert config.fast_mode() is expected
    assert config.pick(full='full', fast='fast') == ('fast' if expected else 'full')


@pytest.mark.parametrize('value,expected', [(None, 'default'), ('1', True), ('yes', True), (' No ', False), ('FALSE', False), ('', False)])
def test_env_flag_reads_one_switch_the_same_way_for_every_variable(monkeypatch, value, expected):
    monkeypatch.delenv('LLMCOURSE_SOME_SWITCH', raising=False)
    if value is not None: monkeypatch.setenv('LLMCOURSE_SOME_SWITCH', value)
    for default in (True, False):
        assert config.env_flag('LLMCOURSE_SOME_SWITCH', default) is (default if expected == 'default' else expected)


def test_fast_mode_follows_nbdev_test(monkeypatch):
    monkeypatch.delenv('LLMCOURSE_FAST', raising=False)
    monkeypatch.delenv('IN_TEST', raising=False)
    assert not config.fast_mode()
    monkeypatch.setenv('IN_TEST', '1')
    assert config.fast_mode()


def test_set_seed_repeats_numpy_and_torch():
    import torch
    config.set_seed(3); a = (np.random.rand(3), torch.rand(3))
    config.set_seed(3); b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_fast_mode_never_writes_repository_figures(monkeypatch):
    monkeypatch.setenv('LLMCOURSE_FAST', '1')
    assert config.figures_dir() != config.course_root()/'figures'
    monkeypatch.setenv('LLMCOURSE_FAST', '0')
    assert config.figures_dir() == config.course_root()/'figures'


def test_record_result_merges_atomically(monkeypatch, tmp_path):
    monkeypatch.setattr(config, 'results_path', lambda: tmp_path/'results.json')
    config.record_result('ch', 'a', 1)
    config.record_result('ch', 'b', 2.5)
    assert json.loads((tmp_path/'results.json').read_text()) == {'ch': {'a': 1, 'b': 2.5}}
    assert not list(tmp_path.glob('*.tmp'))


def test_drop_stale_results_removes_only_what_the_run_no_longer_records(monkeypatch, tmp_path):
    monkeypatch.setattr(config, 'results_path', lambda: tmp_path/'results.json')
    for key in ('acc[plain]', 'acc[A2T]', 'acc[front end]', 'speed'): config.record_result('ch', key, 1)
    config.record_result('other', 'acc[A2T]', 2)
    assert config.drop_stale_results('ch', 'acc[', keep={'acc[plain]': 1, 'acc[front end]': 1}) == ['acc[A2T]']
    assert json.loads((tmp_path/'results.json').read_text()) == {'ch': {'acc[plain]': 1, 'acc[front end]': 1, 'speed': 1},
                                                                'other': {'acc[A2T]': 2}}
    assert config.drop_stale_results('ch', 'acc[', keep=['acc[plain]', 'acc[front end]']) == []


def test_save_figure_replaces_a_figure_whole_or_not_at_all(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import llmcourse.config as config
    monkeypatch.setattr(config, 'figures_dir', lambda: tmp_path)
    fig, ax = plt.subplots(); ax.plot([0, 1])
    path = config.save_figure(fig, 'curve')
    before = path.read_bytes()
    assert path.name == 'curve.png' and before[:4] == b'\x89PNG' and [p.name for p in tmp_path.iterdir()] == ['curve.png']
    def crash(target, **kwargs):
        open(target, 'wb').write(b'half a pic'); raise OSError('disk full')
    monkeypatch.setattr(fig, 'savefig', crash)
    with pytest.raises(OSError): config.save_figure(fig, 'curve')
    assert path.read_bytes() == before                                   # the old figure is whole
    plt.close(fig)
