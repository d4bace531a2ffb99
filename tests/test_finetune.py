import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from llmcourse.data import TextDataset, load_drug_reviews
from llmcourse.batching import LengthGroupedBatches, make_loader
from llmcourse.benchmark import naive_loop
from llmcourse.checkpoints import load_model, load_state, save_model, save_state
from llmcourse.evaluation import evaluate, predict
from llmcourse.finetune import train, TrainConfig
from llmcourse.speed import fast_dropout, fast_dropout_attention, FAST_EAGER, FAST_EAGER_INTEGER, FastDropout, use_fast_dropout
from llmcourse.pretraining import weight_decay_groups
from llmcourse.steps import class_weights_for, standard_step
from llmcourse.models import tiny_bert

ROOT = Path(__file__).resolve().parent.parent
FAST = dict(epochs=2, lr=1e-3, batch_size=8, max_length=48, progress=False, seed=1)


@pytest.fixture(scope='module')
def data():
    return load_drug_reviews('train').sample(40), load_drug_reviews('valid').sample(16)


# --- batching ---

def test_length_grouped_batches_cover_every_index_once_and_repeat_per_epoch():
    lengths = np.random.default_rng(0).integers(5, 300, size=103)
    b = LengthGroupedBatches(lengths, 8, seed=3)
    e0 = b.batches(); b.set_epoch(1); e1 = b.batches(); b.set_epoch(0)
    assert sorted(i for x in e0 for i in x) == list(range(103)) and len(e0) == len(b) == 13
    assert e0 == b.batches() and e0 != e1


def test_grouping_cuts_padding():
    lengths = np.random.default_rng(0).integers(5, 300, size=400)
    pad = lambda bs: sum(len(x) * lengths[x].max() - lengths[x].sum() for x in map(np.array, bs))
    grouped = LengthGroupedBatches(lengths, 16, group=True).batches()
    plain = LengthGroupedBatches(lengths, 16, group=False).batches()
    assert pad(grouped) < pad(plain) / 5


def test_loader_pads_each_batch_to_its_own_longest(tok, data):
    dl = make_loader(data[0], tok, 8, 64, shuffle=True)
    shapes = {b['input_ids'].shape[1] for b in dl}
    assert len(shapes) > 1 and max(shapes) <= 64
    for b in dl: assert (b['attention_mask'].sum(1).max() == b['input_ids'].shape[1])


# --- fast dropout ---

def test_fast_dropout_drops_p_and_keeps_the_mean():
    torch.manual_seed(0)
    x = torch.full((1000, 1000), 2.0, requires_grad=True)
    y = fast_dropout(x, 0.1)
    assert abs((y == 0).float().mean().item() - 0.1) < 0.002
    kept = y.unique().tolist()
    assert abs(y.mean().item() - 2.0) < 0.01 and kept[0] == 0.0 and kept[1:] == [pytest.approx(2 / 0.9)]
    y.sum().backward()                      # the gradient flows through the kept values only, scaled alike
    assert torch.equal(x.grad == 0, y == 0) and torch.allclose(x.grad[y != 0], torch.tensor(1 / 0.9))
    assert fast_dropout(x, 0.1, training=False) is x and fast_dropout(x, 0.0) is x


def test_fast_dropout_rejects_a_probability_outside_0_to_1_and_drops_all_at_1():
    x = torch.ones(4, 5)
    for p in (-0.1, 1.5, float('nan')):
        with pytest.raises(ValueError, match='must lie in \\[0, 1\\]'): fast_dropout(x, p)
    assert torch.equal(fast_dropout(x, 1.0), torch.zeros(4, 5))


def test_integer_masks_drop_p_and_keep_the_mean_exactly():
    torch.manual_seed(0)
    x = torch.full((1000, 1000), 2.0, requires_grad=True)
    y = fast_dropout(x, 0.1, mask='integer')
    cut = round(0.1 * 32768)                                   # p rounded to 15 bits: 3277 / 32768
    assert abs((y == 0).float().mean().item() - cut / 32768) < 0.002
    kept = y.unique().tolist()
    assert kept[0] == 0.0 and kept[1:] == [pytest.approx(2 * 32768 / (32768 - cut))] and abs(y.mean().item() - 2.0) < 0.01
    y.sum().backward()
    assert torch.equal(x.grad == 0, y == 0)
    torch.manual_seed(1); z = fast_dropout(torch.ones(7, 3, 5), 0.5, mask='integer')      # any shape, any size
    assert z.shape == (7, 3, 5) and set(z.unique().tolist()) <= {0.0, 2.0}
    assert fast_dropout(x, 0.1, training=False, mask='integer') is x
    with pytest.raises(ValueError, match="mask must be one of"): fast_dropout(x, 0.1, mask='bits')


def test_integer_masks_reach_the_attention_and_train():
    model = tiny_bert(seed=0).train()
    model.set_attn_implementation('eager')
    use_fast_dropout(model, mask='integer')
    assert model.config._attn_implementation == FAST_EAGER_INTEGER
    assert {m.mask for m in model.modules() if isinstance(m, FastDropout)} == {'integer'}
    use_fast_dropout(model, on=False)
    assert model.config._attn_implementation == 'eager'
    with pytest.raises(ValueError, match="fast_dropout must be None"): TrainConfig(fast_dropout='sometimes')


def test_fast_dropout_attention_equals_eager_without_dropout():
    from transformers.models.bert.modeling_bert import eager_attention_forward
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 7, 8, generator=g) for _ in range(3))
    mask = torch.zeros(2, 1, 7, 7); mask[1, ..., 5:] = torch.finfo(torch.float32).min
    module = torch.nn.Module().eval()
    ours, theirs = fast_dropout_attention(module, q, k, v, mask), eager_attention_forward(module, q, k, v, mask)
    assert torch.allclose(ours[0], theirs[0], atol=1e-6) and torch.allclose(ours[1], theirs[1], atol=1e-6)


def test_use_fast_dropout_swaps_and_restores_and_leaves_evaluation_alone():
    model = tiny_bert(seed=0).eval()
    model.set_attn_implementation('eager')
    ids = torch.randint(5, 100, (2, 9)); mask = torch.ones_like(ids); mask[1, 6:] = 0
    with torch.no_grad(): before = model(input_ids=ids, attention_mask=mask).logits
    use_fast_dropout(model)
    drops = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and all(type(m) is FastDropout and not m.training for m in drops)
    assert model.config._attn_implementation == FAST_EAGER
    with torch.no_grad(): assert torch.equal(before, model(input_ids=ids, attention_mask=mask).logits)
    use_fast_dropout(model, on=False)
    assert model.config._attn_implementation == 'eager'
    assert all(type(m) is torch.nn.Dropout for m in model.modules() if isinstance(m, torch.nn.Dropout))


def test_fast_dropout_reaches_the_attention_of_the_mean_pooled_head():
    model = tiny_bert(pooling='mean').train()
    model.set_attn_implementation('eager')
    use_fast_dropout(model)
    assert model.config._attn_implementation == FAST_EAGER
    use_fast_dropout(model, on=False)
    assert model.config._attn_implementation == 'eager'


def test_mean_pooled_head_trains_and_its_checkpoint_resumes(tok, data, tmp_path):
    cfg = TrainConfig(**{**FAST, 'epochs': 3, 'lr': 3e-3}, output_dir=tmp_path/'run')
    res = train(tiny_bert(seed=0, pooling='mean'), tok, data[0], data[1], cfg)
    assert res.history[-1]['train_loss'] < res.history[0]['train_loss']
    again = train(tiny_bert(seed=5, pooling='mean'), tok, data[0], data[1], cfg)   # resumes from last/: nothing left to do
    assert again.history == res.history
    assert type(load_model(tmp_path/'run'/'best')[0]).__name__ == 'MeanPoolBertForSequenceClassification'


def test_train_hands_back_plain_dropout(tok, data):
    model = tiny_bert(seed=0)
    train(model, tok, data[0], None, TrainConfig(**{**FAST, 'epochs': 1}))
    assert model.config._attn_implementation == 'eager'
    assert not any(type(m) is FastDropout for m in model.modules())


# --- training ---

def test_one_step_lowers_the_loss_on_a_fixed_batch(tok, data):
    model = tiny_bert(seed=0).train()
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout): m.p = 0.0
    batch = next(iter(make_loader(data[0], tok, 8, 48, shuffle=False)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.functional.cross_entropy
    inputs = {k: v for k, v in batch.items() if k != 'labels'}
    before = standard_step(model, inputs, batch['labels'], loss_fn, lambda l: l.backward())
    opt.step(); opt.zero_grad()
    with torch.no_grad():
        after = loss_fn(model(**{k: v for k, v in batch.items() if k != 'labels'}).logits, batch['labels'])
    assert after < before


def test_training_lowers_training_loss(tok, data):
    res = train(tiny_bert(seed=0), tok, data[0], data[1], TrainConfig(**{**FAST, 'epochs': 3, 'lr': 3e-3}))
    assert res.history[-1]['train_loss'] < res.history[0]['train_loss']
    assert res.tokens > 0 and res.steps == 3 * math.ceil(40 / 8)


def test_save_and_load_round_trip_gives_identical_logits(tok, data, tmp_path):
    model = tiny_bert(seed=2)
    save_model(model, tok, tmp_path/'ck')
    assert (tmp_path/'ck'/'model.safetensors').is_file() and not list((tmp_path/'ck').glob('*.bin'))
    loaded, tok2 = load_model(tmp_path/'ck')
    batch = tok2(data[1].texts[:3], padding=True, return_tensors='pt')
    with torch.no_grad(): assert torch.equal(model.eval()(**batch).logits, loaded(**batch).logits)
    assert loaded.config.id2label == {0: 'negative', 1: 'positive'}
    from transformers import AutoModelForSequenceClassification
    assert isinstance(AutoModelForSequenceClassification.from_pretrained(tmp_path/'ck'), type(loaded))


def test_resume_equals_an_uninterrupted_run(tok, data, tmp_path):
    cfg = dict(FAST, epochs=3)
    m1 = tiny_bert(seed=0)
    straight = train(m1, tok, data[0], data[1], TrainConfig(**cfg, output_dir=str(tmp_path/'a'), patience=None))

    class Stop(Exception): pass
    def stop(state):
        if state['epoch'] == 2: raise Stop
    with pytest.raises(Stop):
        train(tiny_bert(seed=0), tok, data[0], data[1], TrainConfig(**cfg, output_dir=str(tmp_path/'b')), on_epoch_end=stop)
    assert load_state(tmp_path/'b'/'last')['progress']['epoch'] == 2
    m2 = tiny_bert(seed=7)      # different initial weights: everything must come from the checkpoint
    resumed = train(m2, tok, data[0], data[1], TrainConfig(**cfg, output_dir=str(tmp_path/'b')))
    assert straight.history == resumed.history
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()): assert torch.equal(a, b)
    last1, last2 = load_model(tmp_path/'a'/'last')[0], load_model(tmp_path/'b'/'last')[0]
    for a, b in zip(last1.state_dict().values(), last2.state_dict().values()): assert torch.equal(a, b)


def test_same_seed_repeats_exactly(tok, data):
    r1 = train(tiny_bert(seed=0), tok, data[0], None, TrainConfig(**FAST))
    r2 = train(tiny_bert(seed=0), tok, data[0], None, TrainConfig(**FAST))
    r3 = train(tiny_bert(seed=0), tok, data[0], None, TrainConfig(**{**FAST, 'seed': 2}))
    assert r1.history == r2.history and r1.history != r3.history


def test_class_weights_are_balanced_and_change_the_loss(tok, data):
    w = class_weights_for(np.array([0, 1, 1, 1]), 2)
    assert torch.allclose(w, torch.tensor([2.0, 2 / 3]))
    a = train(tiny_bert(seed=0), tok, data[0], None, TrainConfig(**FAST))
    b = train(tiny_bert(seed=0), tok, data[0], None, TrainConfig(**FAST, class_weights=True))
    assert a.history[0]['train_loss'] != b.history[0]['train_loss']


def test_early_stopping_stops_when_validation_stalls(tok, data):
    res = train(tiny_bert(seed=0), tok, data[0], data[1], TrainConfig(**{**FAST, 'epochs': 6, 'lr': 1e-12}, patience=2))
    assert len(res.history) == 3 and res.best_epoch == 1


def test_an_early_stopped_run_stays_stopped_when_run_again(tok, data, tmp_path):
    cfg = TrainConfig(**{**FAST, 'epochs': 6, 'lr': 1e-12}, patience=2, output_dir=tmp_path/'run')
    first = train(tiny_bert(seed=0), tok, data[0], data[1], cfg)
    again = train(tiny_bert(seed=0), tok, data[0], data[1], cfg)
    assert len(first.history) == 3 and again.history == first.history and again.steps == first.steps


def test_keep_last_returns_and_saves_the_final_epoch_even_when_validation_got_worse(tok, data, tmp_path):
    cfg = dict(**{**FAST, 'epochs': 3, 'lr': 1e-12})          # nothing changes: validation never improves after epoch 1
    assert train(tiny_bert(seed=0), tok, data[0], data[1], TrainConfig(**cfg)).best_epoch == 1
    m = tiny_bert(seed=0)
    res = train(m, tok, data[0], data[1], TrainConfig(**cfg, keep='last', output_dir=tmp_path/'run'))
    assert res.best_epoch == 3 and res.best == res.history[-1]
    saved, _ = load_model(tmp_path/'run'/'best')
    last, _ = load_model(tmp_path/'run'/'last')
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), last.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), last.state_dict().values()))


def test_keep_last_refuses_early_stopping():
    with pytest.raises(ValueError, match="patience.*keep='best'"): TrainConfig(keep='last', patience=2)
    with pytest.raises(ValueError, match='keep'): TrainConfig(keep='first')


def test_weight_decay_groups_skip_biases_and_layernorm():
    groups = weight_decay_groups(tiny_bert(), 0.01)
    assert all(p.ndim >= 2 for p in groups[0]['params']) and groups[1]['weight_decay'] == 0.0
    assert sum(p.numel() for g in groups for p in g['params']) == sum(p.numel() for p in tiny_bert().parameters())


def test_tensorboard_logs_are_written(tok, data, tmp_path):
    train(tiny_bert(), tok, data[0], data[1], TrainConfig(**{**FAST, 'epochs': 1}, log_dir=str(tmp_path/'tb')))
    assert list((tmp_path/'tb').glob('events.out.tfevents.*'))


def test_predict_returns_names_and_probabilities(tok):
    names, probs = predict(tiny_bert(label_names=['negative', 'neutral', 'positive']), tok, ['good', 'bad', 'meh'])
    assert len(names) == 3 and set(names) <= {'negative', 'neutral', 'positive'}
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1)


def test_state_round_trip_without_pickles(tmp_path):
    state = {'a': torch.arange(3.0), 'b': [1, (2, 'x')], 'c': {0: np.arange(2), 'k': None}, 'd': 1.5}
    save_state(tmp_path, state)
    back = load_state(tmp_path)
    assert torch.equal(back['a'], state['a']) and back['b'] == [1, (2, 'x')] and back['d'] == 1.5
    assert np.array_equal(back['c'][0], np.arange(2)) and back['c']['k'] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ['state.json', 'state.safetensors']


def test_seed_loop_runs_one_example_per_step(tok, data):
    r = naive_loop(tiny_bert(), tok, data[0], max_examples=5, progress=False)
    assert r['examples'] == 5 and r['examples_per_second'] > 0


# --- bad input ---

def test_empty_training_set(tok, data):
    with pytest.raises(ValueError, match='training set is empty'):
        train(tiny_bert(), tok, data[0].subset([]), None, TrainConfig(**FAST))


def test_label_outside_the_label_set(tok):
    three = load_drug_reviews('train', 'three').sample(20)
    with pytest.raises(ValueError, match="fall outside the model's 2 labels"):
        train(tiny_bert(), tok, three, None, TrainConfig(**FAST))


def test_texts_that_are_not_strings(tok):
    with pytest.raises(TypeError, match='strings'): TextDataset(['ok', None], [0, 1], ['negative', 'positive'])
    with pytest.raises(TypeError, match='TextDataset'): train(tiny_bert(), tok, ['ok'], None, TrainConfig(**FAST))
    with pytest.raises(TypeError, match='strings'): predict(tiny_bert(), tok, ['ok', 3])


def test_missing_and_corrupt_checkpoints(tok, tmp_path):
    with pytest.raises(FileNotFoundError, match='no checkpoint folder'): load_model(tmp_path/'nope')
    save_model(tiny_bert(), tok, tmp_path/'ck')
    (tmp_path/'ck'/'model.safetensors').write_bytes(b'not a safetensors file')
    with pytest.raises(ValueError, match='corrupt'): load_model(tmp_path/'ck')
    (tmp_path/'ck'/'model.safetensors').unlink()
    with pytest.raises(FileNotFoundError, match='incomplete'): load_model(tmp_path/'ck')


def test_nan_loss_stops_and_leaves_checkpoints_intact(tok, data, tmp_path):
    out = tmp_path/'run'
    train(tiny_bert(seed=0), tok, data[0], data[1], TrainConfig(**{**FAST, 'epochs': 1}, output_dir=str(out)))
    before = {p.name: p.read_bytes() for p in (out/'best').iterdir()}
    with pytest.raises(FloatingPointError, match='loss became nan'):
        train(tiny_bert(seed=0), tok, data[0], data[1], TrainConfig(**{**FAST, 'epochs': 1, 'lr': float('inf')}, output_dir=str(tmp_path/'other')))
    shutil.rmtree(out/'last')                       # no resume: a fresh run that goes wrong in a folder with a checkpoint
    model = tiny_bert(seed=0)
    with torch.no_grad(): model.classifier.weight.fill_(float('nan'))
    with pytest.raises(FloatingPointError):
        train(model, tok, data[0], data[1], TrainConfig(**{**FAST, 'epochs': 3}, output_dir=str(out)))
    assert {p.name: p.read_bytes() for p in (out/'best').iterdir()} == before
    load_model(out/'best')


def test_bad_config_values():
    with pytest.raises(ValueError, match='batch_size'): TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match='metric'): TrainConfig(metric='auc')


# --- several processes ---

@pytest.mark.skipif(shutil.which('torchrun') is None and not (Path(sys.executable).parent/'torchrun').exists(),
                    reason='torchrun not installed')
def test_two_process_accelerate_run(tmp_path):
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent/'torchrun')
    cmd = [torchrun, '--standalone', '--nproc_per_node', '2', str(ROOT/'scripts'/'finetune.py'),
           '--tiny', '--limit', '40', '--epochs', '1', '--max-length', '48', '--batch-size', '8', '--lr', '1e-3',
           '--output-dir', str(tmp_path/'ddp')]
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1'}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    ranks = re.findall(r'rank (\d)/(\d): steps (\d+), parameter checksum (\S+)', out.stdout)
    assert sorted(r[0] for r in ranks) == ['0', '1'] and {r[1] for r in ranks} == {'2'}
    assert len({r[3] for r in ranks}) == 1                  # both processes hold the same weights
    assert int(ranks[0][2]) == math.ceil(math.ceil(40 / 8) / 2)   # each process took half of the batches
    assert '2 process(es)' in out.stdout and (tmp_path/'ddp'/'best'/'model.safetensors').is_file()


def test_fine_tune_and_score_keeps_the_last_epoch_and_scores_validation_once(tok, data, monkeypatch):
    from llmcourse import finetune as ft
    train_ds, valid_ds = data
    calls = []
    real_train = ft.train
    monkeypatch.setattr(ft, 'train', lambda m, t, tr, va, cfg: calls.append(va) or real_train(m, t, tr, va, cfg))
    last = ft.fine_tune_and_score(lambda: tiny_bert(seed=0), tok, train_ds, valid_ds, valid_ds, 1e-3, 2, keep='last')
    best = ft.fine_tune_and_score(lambda: tiny_bert(seed=0), tok, train_ds, valid_ds, valid_ds, 1e-3, 2, keep='best')
    assert calls == [None, valid_ds]                     # 'last' trains without a validation pass after each epoch
    assert last['epoch'] == 2 and 1 <= best['epoch'] <= 2 and len(last['correct']) == len(valid_ds)
    assert last['valid_accuracy'] == pytest.approx(last['test_accuracy'])   # the same reviews, scored the same way


def test_fine_tune_and_score_passes_the_class_balanced_loss_on_to_train(tok, data, monkeypatch):
    from llmcourse import finetune as ft
    train_ds, valid_ds = data
    seen = []
    real_train = ft.train
    monkeypatch.setattr(ft, 'train', lambda m, t, tr, va, cfg: seen.append(cfg.class_weights) or real_train(m, t, tr, va, cfg))
    for weighted in (True, False):
        ft.fine_tune_and_score(lambda: tiny_bert(seed=0), tok, train_ds, valid_ds, valid_ds, 1e-3, 1, keep='last', class_weights=weighted)
    assert seen == [True, False]
