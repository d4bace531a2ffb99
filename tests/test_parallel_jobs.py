"""Independent inference jobs in forked one-thread processes (`run_in_processes`, chapter 02, and `cached_results`'s
`processes`, meant for attacks): the same numbers as the jobs run in order in this process, every result kept, errors
passed on."""
import json
import sys

import numpy as np
import pytest
import torch

from llmcourse.batching import batched_logits
from llmcourse.config import mixed_precision
from llmcourse.models import tiny_bert
from llmcourse.run_cache import cached_results
from llmcourse.speed import run_in_processes

forks = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='workers are forked only on Linux')


@pytest.fixture(scope='module')
def score(tok):
    "A closure over three models (so nothing about it needs pickling): logits of every other text, per (model, half)."
    models = {s: tiny_bert(seed=s, hidden=64).eval() for s in range(3)}
    texts = [f'review {i}: ' + 'the tablets helped but the nausea ' * (1 + i % 5) for i in range(12)]
    def run(job):
        s, half = job
        with torch.no_grad(), mixed_precision('auto'):
            return batched_logits(models[s], tok, texts[half::2], 4, 64).float().numpy()
    return run


@forks
def test_forked_one_thread_workers_give_bitwise_the_logits_of_the_serial_run(score):
    jobs = {(s, half): (s, half) for s in range(3) for half in (0, 1)}
    serial = dict(run_in_processes(score, jobs, 1))
    parallel = dict(run_in_processes(score, jobs, 2))
    assert list(serial) == list(jobs)                           # in order when run here
    assert set(parallel) == set(jobs)                           # as they finish when forked, but every one
    assert all(np.array_equal(serial[k], parallel[k]) for k in jobs)


@forks
def test_cached_results_in_two_processes_keeps_the_order_and_the_cache_of_the_serial_run(score, tmp_path):
    jobs = {f'seed {s}, half {h}': (s, h) for s in range(3) for h in (0, 1)}
    as_lists = lambda job: score(job).tolist()
    serial = cached_results(jobs, as_lists, {'a': 1}, tmp_path/'serial.json', progress=False)
    parallel = cached_results(jobs, as_lists, {'a': 1}, tmp_path/'parallel.json', progress=False, processes=2)
    assert parallel == serial
    assert json.loads((tmp_path/'parallel.json').read_text())['runs'] == dict(zip(jobs, serial))


@forks
def test_an_error_in_a_worker_reaches_the_caller():
    def run(job):
        if job == 3: raise ValueError('job 3 has no reviews')
        return job
    with pytest.raises(ValueError, match='job 3 has no reviews'):
        dict(run_in_processes(run, {i: i for i in range(4)}, 2))


@pytest.mark.parametrize('processes', [0, -1, 1.5])
def test_processes_must_be_a_whole_number_of_at_least_one(processes):
    with pytest.raises(ValueError, match='processes must be a whole number'):
        list(run_in_processes(lambda j: j, {0: 0, 1: 1}, processes))


@forks
def test_training_jobs_with_one_thread_give_bitwise_the_same_weights_here_and_in_two_processes():
    "Training's numbers depend on the thread count; with `one_thread` the serial run uses one thread, as the workers do."
    def train_job(seed):
        model = tiny_bert(seed=seed, hidden=64).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed); torch.manual_seed(seed)      # dropout's masks too
        for _ in range(3):
            ids = torch.randint(5, 100, (8, 24), generator=g)
            with mixed_precision('auto'):
                loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids[:, 0] % 2).loss
            loss.backward(); opt.step(); opt.zero_grad()
        return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    threads = torch.get_num_threads()
    jobs = {s: s for s in range(3)}
    serial = dict(run_in_processes(train_job, jobs, 1, one_thread=True))
    assert torch.get_num_threads() == threads                   # given back after each job
    parallel = dict(run_in_processes(train_job, jobs, 2, one_thread=True))
    assert all(np.array_equal(serial[k], parallel[k]) for k in jobs)


@forks
def test_cached_results_with_one_thread_runs_every_job_on_one_thread_here_and_in_the_workers(tmp_path):
    "Chapter 03's training grids: `one_thread` reaches the jobs however many processes there are, and the cache keeps them all."
    threads = torch.get_num_threads()
    jobs = {f'job {i}': i for i in range(4)}
    seen = lambda i: {'job': i, 'threads': torch.get_num_threads()}
    serial = cached_results(jobs, seen, {'a': 1}, tmp_path/'serial.json', progress=False, one_thread=True)
    assert torch.get_num_threads() == threads
    parallel = cached_results(jobs, seen, {'a': 1}, tmp_path/'parallel.json', progress=False, processes=2, one_thread=True)
    assert serial == parallel == [{'job': i, 'threads': 1} for i in range(4)]
    assert json.loads((tmp_path/'parallel.json').read_text())['runs'] == dict(zip(jobs, serial))
