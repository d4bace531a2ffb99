"""`reuse_freed_memory` (00_config, timed in chapter 02): `malloc` keeps freed memory for the next tensor, which saves
page faults and changes no number. Each case runs in a fresh Python process: the setting lasts as long as the process."""
import json
import os
import subprocess
import sys

import pytest

from llmcourse import config

linux = pytest.mark.skipif(not sys.platform.startswith('linux'), reason="glibc's malloc: Linux only")


def in_fresh_process(code: str, reuse: str = None) -> dict:
    "Run `code` (which prints one JSON line last) in a new Python process, `LLMCOURSE_REUSE_MEMORY` set to `reuse`."
    env = {k: v for k, v in os.environ.items() if k != 'LLMCOURSE_REUSE_MEMORY'}
    if reuse is not None: env['LLMCOURSE_REUSE_MEMORY'] = reuse
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


FAULTS = """
import json, resource, torch
from llmcourse.config import reuse_freed_memory
on = [reuse_freed_memory(), reuse_freed_memory()]
x = torch.ones(4096, 4096)
for _ in range(5): y = x.mul(2.0)
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30): y = x.mul(2.0)
print(json.dumps({'on': on, 'faults': (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 30}))
"""

TRAINING = """
import json
from llmcourse.benchmark import fingerprint
from llmcourse.config import reuse_freed_memory
from llmcourse.data import TextDataset
from llmcourse.finetune import TrainConfig, train
from llmcourse.models import load_tokenizer, tiny_bert
reuse_freed_memory()
texts = [f'review {i}: the tablets helped but the nausea ' * (1 + i % 7) for i in range(32)]
ds = TextDataset(texts, [i % 2 for i in range(32)], ['negative', 'positive'])
model = tiny_bert(seed=0)
train(model, load_tokenizer(), ds, None, TrainConfig(lr=1e-3, epochs=1, batch_size=8, max_length=128, seed=0, progress=False, verbose=False))
print(json.dumps({'weights': fingerprint(model)}))
"""


@pytest.fixture(scope='module')
def faults():
    "Page faults per fresh 64 MiB product, malloc as glibc sets it ('0') and as the course leaves it (no variable set)."
    return {'0': in_fresh_process(FAULTS, '0'), 'default': in_fresh_process(FAULTS)}


@linux
def test_on_by_default_and_off_when_the_environment_says_so(faults, monkeypatch):
    assert faults['default']['on'] == [True, True] and faults['0']['on'] == [False, False]
    monkeypatch.setattr(config, '_REUSING', [])
    for off in ('0', 'false', 'No', ''):
        monkeypatch.setenv('LLMCOURSE_REUSE_MEMORY', off)
        assert config.reuse_freed_memory() is False and config._REUSING == []


@linux
def test_kept_memory_faults_in_far_fewer_pages(faults):
    as_set, kept = faults['0']['faults'], faults['default']['faults']
    assert as_set > 8000                                  # a fresh 64 MiB result faults in its 16,384 pages ...
    assert kept < as_set / 4                              # ... and far fewer once malloc keeps what was freed


@linux
def test_training_gives_bitwise_the_same_weights_either_way():
    assert in_fresh_process(TRAINING, '0') == in_fresh_process(TRAINING, '1')


def test_does_nothing_where_there_is_no_glibc(monkeypatch):
    monkeypatch.setattr(config, '_REUSING', [])
    monkeypatch.setattr(config.sys, 'platform', 'darwin')
    monkeypatch.delenv('LLMCOURSE_REUSE_MEMORY', raising=False)
    assert config.reuse_freed_memory() is False and config._REUSING == []
