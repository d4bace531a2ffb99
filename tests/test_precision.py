"""bf16 mixed precision: chosen by a switch (automatic where the CPU has native bf16), float32 master weights, and fast
dropout and eager attention still correct under it."""
import io
from contextlib import redirect_stdout

import pytest
import torch

import llmcourse.config as config
from llmcourse.batching import make_loader
from llmcourse.data import load_drug_reviews
from llmcourse.evaluation import evaluate
from llmcourse.finetune import TrainConfig, train
from llmcourse.models import tiny_bert
from llmcourse.config import autocast_dtype, mixed_precision, native_bf16
from llmcourse.speed import fast_dropout, use_fast_dropout


@pytest.mark.parametrize('avx512_bf16, amx, native', [(True, False, True), (False, True, True), (False, False, False)])
def test_native_bf16_reads_torchs_cpu_probes(monkeypatch, avx512_bf16, amx, native):
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported', lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: amx, raising=False)
    assert native_bf16() is native


@pytest.mark.parametrize('native', [True, False])
def test_auto_means_bf16_only_on_a_cpu_with_native_bf16(monkeypatch, native):
    monkeypatch.setattr(config, 'native_bf16', lambda: native)
    assert autocast_dtype('auto', 'cpu') == (torch.bfloat16 if native else None)
    assert autocast_dtype('auto', 'cuda') is None                  # a GPU keeps the accelerator's own choice
    assert autocast_dtype('fp32', 'cpu') is None and autocast_dtype('bf16', 'cpu') == torch.bfloat16


def test_an_unknown_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="precision must be one of \\('fp32', 'bf16', 'auto'\\)"): TrainConfig(precision='half')


def test_fast_dropout_keeps_its_distribution_in_bf16():
    torch.manual_seed(0)
    y = fast_dropout(torch.ones(1000, 1000, dtype=torch.bfloat16), 0.1)
    assert y.dtype == torch.bfloat16
    assert abs(float((y == 0).float().mean()) - 0.1) < 0.002 and abs(float(y.float().mean()) - 1) < 0.01


def test_eager_and_fast_dropout_attention_agree_under_bf16():
    m = tiny_bert(seed=0).eval()
    m.set_attn_implementation('eager')
    ids = torch.randint(5, 100, (2, 9)); mask = torch.ones_like(ids); mask[1, 6:] = 0
    with torch.no_grad():
        full = m(input_ids=ids, attention_mask=mask).logits
        with mixed_precision('bf16'): eager = m(input_ids=ids, attention_mask=mask).logits
        use_fast_dropout(m)
        with mixed_precision('bf16'): fast = m(input_ids=ids, attention_mask=mask).logits
    assert torch.equal(eager, fast)                              # evaluation: the same computation
    assert torch.allclose(eager.float(), full, atol=0.05)         # and close to float32


def test_training_in_bf16_keeps_float32_weights_and_learns(tok):
    tr, va = load_drug_reviews('train').sample(32, seed=5), load_drug_reviews('valid').sample(16, seed=5)
    m = tiny_bert(seed=0)
    with redirect_stdout(io.StringIO()):
        res = train(m, tok, tr, va, TrainConfig(epochs=2, lr=1e-3, batch_size=8, max_length=32, progress=False,
                                                precision='bf16'))
    assert all(p.dtype == torch.float32 for p in m.parameters())
    assert res.history[-1]['train_loss'] < res.history[0]['train_loss'] + 0.05
    dl = make_loader(va, tok, 16, 32, shuffle=False)
    assert abs(evaluate(m, dl, precision='bf16')['loss'] - evaluate(m, dl)['loss']) < 0.05


def test_the_benchmark_compares_bf16_rows_side_by_side(tok):
    from llmcourse.benchmark import benchmark_training
    tr, va = load_drug_reviews('train').sample(16, seed=1), load_drug_reviews('valid').sample(8, seed=1)
    speed, equal, matmul = benchmark_training(tr, va, steps=1, batch_size=8, max_length=32, budget_seconds=None,
                                              model_fn=lambda seed: tiny_bert(seed=seed), tokenizer=tok, bf16=True,
                                              matmul_size=256)     # small: a CPU without native bf16 emulates it slowly
    assert list(speed.index) == ['ours', 'Trainer, defaults', 'Trainer, grouped', 'naive loop (batch 1)', 'ours, bf16',
                                 'Trainer, grouped, bf16', 'ours, bf16, integer masks']
    assert speed.loc['ours', 'ours / this'] == 1 and speed['examples/s'].gt(0).all()
    assert set(speed.attrs['matmul GFLOP/s']) == {'fp32', 'bf16'} and matmul == speed.attrs['matmul GFLOP/s']['fp32']
    assert speed.loc[['ours', 'ours, bf16'], 'share of matmul rate'].gt(0).all() and equal.empty
    measured = speed.attrs['matmul GFLOP/s measured']          # before each of the seven timed runs and after the last
    assert len(measured) == len(speed) + 1 and all(set(m) == {'fp32', 'bf16'} for m in measured)
    assert speed.attrs['matmul GFLOP/s'] == {p: max(m[p] for m in measured) for p in ('fp32', 'bf16')}
    assert speed.loc['ours, bf16', 'share of matmul rate'] == speed.loc['ours, bf16', 'training GFLOP/s'] / speed.attrs['matmul GFLOP/s']['bf16']


def test_training_evaluation_and_prediction_default_to_auto():
    import inspect
    from llmcourse.evaluation import predict, predict_logits
    assert TrainConfig().precision == 'auto'
    assert {inspect.signature(f).parameters['precision'].default for f in (predict_logits, evaluate, predict)} == {'auto'}


def test_two_rounds_time_every_method_twice_in_alternating_order(tok, monkeypatch):
    import llmcourse.benchmark as bench
    calls, before = [], []
    fake = lambda name: lambda m, seed, **kw: calls.append(name) or {'examples': 8, 'seconds': 1.0 + len(calls),
                                                                     'examples_per_second': 8 / (1.0 + len(calls))}
    methods = {'ours': fake('ours'), 'peer': fake('peer')}
    va = load_drug_reviews('valid').sample(8, seed=1)
    speed = bench.throughput_table(methods, lambda seed: tiny_bert(seed=seed), 0, 1, 8, 8,
                                   make_loader(va, tok, 8, 32, shuffle=False), rounds=2,
                                   before_each=lambda: before.append(len(calls)))
    assert calls == ['ours', 'peer', 'peer', 'ours'] and list(speed.index) == ['ours', 'peer']
    assert before == [0, 1, 2, 3]                                  # called before every timed run
    assert speed.loc['ours', 'seconds'] == (2.0 + 5.0) / 2 and speed.loc['peer', 'seconds'] == (3.0 + 4.0) / 2
