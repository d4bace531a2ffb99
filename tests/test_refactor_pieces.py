"""The pieces the package split made explicit: the model patch that `train` undoes even on error, the recipe as one
exported value, the one cached-grid runner, the one chunked-logits helper, epoch-end hooks as a list, and an export
that can run twice."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmcourse.batching import batched_logits, padded_chunks
from llmcourse.data import load_drug_reviews
from llmcourse.finetune import TrainConfig, train
from llmcourse.recipe import RECIPE, RECIPE_EPOCHS, recipe_config
from llmcourse.run_cache import cached_results
from llmcourse.models import tiny_bert
from llmcourse.speed import FAST_EAGER, FastDropout, fast_dropout_during

ROOT = Path(__file__).resolve().parent.parent


def dropout_types(model): return {type(m).__name__ for m in model.modules() if isinstance(m, torch.nn.Dropout)}


def test_fast_dropout_is_undone_when_the_block_raises():
    m = tiny_bert()
    m.set_attn_implementation('eager')
    with pytest.raises(RuntimeError, match='boom'):
        with fast_dropout_during(m):
            assert dropout_types(m) == {'FastDropout'} and m.config._attn_implementation == FAST_EAGER
            raise RuntimeError('boom')
    assert dropout_types(m) == {'Dropout'} and m.config._attn_implementation == 'eager'


def test_train_gives_the_model_back_unpatched_when_the_loss_becomes_nan(tok):
    m = tiny_bert()
    cfg = TrainConfig(epochs=1, lr=float('inf'), batch_size=8, max_length=32, progress=False, fast_dropout=True)
    with pytest.raises(FloatingPointError):
        train(m, tok, load_drug_reviews('train').sample(16), None, cfg)
    assert not any(isinstance(x, FastDropout) for x in m.modules())
    assert m.config._attn_implementation == 'eager'


def test_recipe_config_is_chapter_02s_recipe():
    cfg = recipe_config('three', seed=2)
    assert (cfg.lr, cfg.keep, cfg.epochs, cfg.seed) == (RECIPE.lr, 'last', RECIPE_EPOCHS['three'], 2)
    assert recipe_config('binary', epochs=1).epochs == 1
    with pytest.raises(ValueError, match='labels must be one of'): recipe_config('five')


def test_cached_results_runs_each_job_once_and_redoes_them_under_another_config(tmp_path):
    calls = []
    def run(job): calls.append(job); return {'job': job, 'square': job * job}
    cache = tmp_path/'runs.json'
    jobs = {f'j{i}': i for i in range(3)}
    assert [r['square'] for r in cached_results(jobs, run, {'a': 1}, cache, progress=False)] == [0, 1, 4]
    assert cached_results({**jobs, 'j3': 3}, run, {'a': 1}, cache, progress=False)[-1]['square'] == 9
    assert calls == [0, 1, 2, 3]                                   # the cached three were not run again
    cached_results(jobs, run, {'a': 2}, cache, progress=False)
    assert calls[4:] == [0, 1, 2] and json.loads(cache.read_text())['config'] == {'a': 2}


def test_batched_logits_keep_the_order_and_match_one_padded_batch(tok):
    m = tiny_bert().eval()
    texts = [f'review number {i} ' * (1 + i % 4) for i in range(7)]
    starts = [s for s, _ in padded_chunks(tok, texts, batch_size=3, max_length=32)]
    assert starts == [0, 3, 6]
    with torch.no_grad(): whole = m(**tok(texts, padding=True, truncation=True, max_length=32, return_tensors='pt')).logits
    assert torch.allclose(batched_logits(m, tok, texts, batch_size=3, max_length=32), whole, atol=1e-5)


def test_epoch_end_hooks_can_be_a_list(tok):
    seen = []
    train(tiny_bert(), tok, load_drug_reviews('train').sample(16), None,
          TrainConfig(epochs=2, batch_size=8, max_length=32, progress=False),
          on_epoch_end=[lambda s: seen.append(('a', s['epoch'])), lambda s: seen.append(('b', s['epoch']))])
    assert seen == [('a', 1), ('b', 1), ('a', 2), ('b', 2)]


def test_export_twice_changes_nothing():
    "nbdev_export would append per-cell export targets again; scripts/export.py writes each module afresh."
    before = {p.name: p.read_text() for p in (ROOT/'llmcourse').glob('*.py')}
    for _ in range(2):
        subprocess.run([sys.executable, str(ROOT/'scripts'/'export.py')], check=True, cwd=ROOT,
                       env={k: v for k, v in __import__('os').environ.items() if k != 'IN_TEST'})
    assert {p.name: p.read_text() for p in (ROOT/'llmcourse').glob('*.py')} == before
