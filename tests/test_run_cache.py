"""A model is trained once per name, settings, data and mode; every later call loads it."""
import io
from contextlib import redirect_stdout

import pytest
import torch

import llmcourse.recipe as recipe
import llmcourse.run_cache as run_cache
from llmcourse.data import load_drug_reviews
from llmcourse.finetune import TrainConfig
from llmcourse.run_cache import cached_train, run_key
from llmcourse.models import tiny_bert

CFG = TrainConfig(epochs=1, lr=1e-3, batch_size=8, max_length=32, progress=False)


@pytest.fixture(scope='module')
def data():
    return load_drug_reviews('train').sample(16, seed=2), load_drug_reviews('valid').sample(8, seed=2)


def call(tok, data, root, name='tiny', cfg=CFG):
    with redirect_stdout(io.StringIO()):
        return cached_train(name, lambda: tiny_bert(seed=cfg.seed), tok, *data, cfg, cache_root=root)


def test_the_second_call_loads_what_the_first_trained(tok, data, tmp_path, monkeypatch):
    m1, r1, hit1 = call(tok, data, tmp_path)
    monkeypatch.setattr(run_cache, 'train', lambda *a, **k: pytest.fail('trained again'))
    m2, r2, hit2 = call(tok, data, tmp_path)
    assert (hit1, hit2) == (False, True) and r1.history == r2.history
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert m2.config._attn_implementation == m1.config._attn_implementation   # evaluated alike, trained or loaded
    assert sorted(p.name for p in next(tmp_path.iterdir()).iterdir()) == ['model', 'result.json']   # no resumable state


def test_another_seed_name_data_or_mode_is_another_entry(tok, data, monkeypatch):
    base = run_key('tiny', CFG, *data)
    assert run_key('tiny', TrainConfig(**{**CFG.__dict__, 'seed': 1}), *data) != base
    assert run_key('other', CFG, *data) != base
    assert run_key('tiny', CFG, data[0].sample(8), data[1]) != base
    monkeypatch.setenv('LLMCOURSE_FAST', '0')
    assert run_key('tiny', CFG, *data) != base


def test_settings_that_do_not_change_the_model_share_an_entry(tok, data):
    assert run_key('tiny', TrainConfig(**{**CFG.__dict__, 'progress': True, 'log_dir': 'logs'}), *data) == \
           run_key('tiny', CFG, *data)


def test_an_unfinished_entry_is_trained_again(tok, data, tmp_path):
    call(tok, data, tmp_path)
    entry = next(tmp_path.iterdir())
    (entry/'result.json').unlink()
    assert call(tok, data, tmp_path)[2] is False


def test_a_name_that_is_not_a_folder_name_is_refused(tok, data, tmp_path):
    for bad in ('', 'a/b'):
        with pytest.raises(ValueError, match='name must be a non-empty folder name'): call(tok, data, tmp_path, name=bad)


@pytest.fixture
def fast_recipe(tmp_path, monkeypatch):
    "The recipe in fast mode, on a tiny BERT, with its run cache and logs in the test's `tmp_path`."
    monkeypatch.setenv('LLMCOURSE_FAST', '1')
    monkeypatch.setattr(run_cache, 'checkpoints_dir', lambda: tmp_path/'checkpoints')
    monkeypatch.setattr(recipe, 'runs_dir', lambda: tmp_path/'runs')
    monkeypatch.setattr(recipe, 'load_classifier', lambda label_names, seed, pooling:
                        tiny_bert(label_names, seed=seed, pooling=pooling))


@pytest.mark.usefixtures('fast_recipe')
def test_recipe_model_comes_from_the_cache_after_the_first_call(tok, tmp_path):
    tr, va, te = recipe.recipe_data('binary')
    assert (len(tr), len(va), len(te)) == (48, 24, 48)
    with redirect_stdout(io.StringIO()):
        m1, r1, hit1 = recipe.recipe_model('binary', 0, 'mean', tok, max_length=32, progress=False)
        m2, r2, hit2 = recipe.recipe_model('binary', 0, 'mean', tok, max_length=32, progress=False)
        _, _, hit3 = recipe.recipe_model('binary', 1, 'mean', tok, max_length=32, progress=False)
    assert (hit1, hit2, hit3) == (False, True, False) and len(r1.history) == 1 and r1.history == r2.history
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert len(list((tmp_path/'checkpoints'/'cache').iterdir())) == 2 and any((tmp_path/'runs').iterdir())


@pytest.mark.usefixtures('fast_recipe')
def test_recipe_test_run_trains_its_overrides_as_their_own_cache_entry(tok, tmp_path):
    with redirect_stdout(io.StringIO()):
        uniform = recipe.recipe_test_run('binary', 0, 'mean', tok, max_length=32)
        integer = recipe.recipe_test_run('binary', 0, 'mean', tok, max_length=32, fast_dropout='integer')
        again = recipe.recipe_test_run('binary', 0, 'mean', tok, max_length=32, fast_dropout='integer')
    assert (uniform['from_cache'], integer['from_cache'], again['from_cache']) == (False, False, True)
    assert len(list((tmp_path/'checkpoints'/'cache').iterdir())) == 2      # the integer masks' model is its own entry
    assert len(integer['test_correct']) == 48 and (integer['test_correct'] == again['test_correct']).all()
