"""A checkpoint is resumed only by the run that made it; inputs that used to pass silently get a clear answer; a Hub id
that cannot be reached fails in seconds."""
import io
import time
from contextlib import redirect_stdout

import pytest

from llmcourse.data import load_drug_reviews
from llmcourse.evaluation import TruncationWarning, predict
from llmcourse.finetune import TrainConfig, train
from llmcourse.models import hub_reachable, load_tokenizer, tiny_bert

BASE = dict(epochs=2, lr=1e-3, batch_size=8, max_length=32, progress=False, seed=1)


@pytest.fixture(scope='module')
def data():
    return load_drug_reviews('train').sample(24, seed=3), load_drug_reviews('valid').sample(8, seed=3)


def quiet_train(tok, tr, va, **cfg):
    with redirect_stdout(io.StringIO()) as out:
        res = train(tiny_bert(seed=0), tok, tr, va, TrainConfig(**cfg))
    return res, out.getvalue()


@pytest.fixture
def stopped_run(tok, data, tmp_path):
    "A run interrupted after its first epoch: output_dir/last holds its checkpoint."
    class Stop(Exception): pass
    def stop(state): raise Stop
    with pytest.raises(Stop), redirect_stdout(io.StringIO()):
        train(tiny_bert(seed=0), tok, *data, TrainConfig(**BASE, output_dir=tmp_path), on_epoch_end=stop)
    return tmp_path


def test_the_same_run_resumes(tok, data, stopped_run):
    res, log = quiet_train(tok, *data, **BASE, output_dir=stopped_run)
    assert 'resumed from' in log and len(res.history) == 2


@pytest.mark.parametrize('change, named', [({'lr': 2e-3}, 'lr 0.001 there, 0.002 here'),
                                           ({'epochs': 3}, 'epochs 2 there, 3 here')])
def test_other_settings_are_refused_by_name(tok, data, stopped_run, change, named):
    before = sorted(p.name for p in (stopped_run/'last').iterdir())
    with pytest.raises(ValueError, match=f"another run .*{named}.*resume='never'"):
        quiet_train(tok, *data, **{**BASE, **change}, output_dir=stopped_run)
    assert sorted(p.name for p in (stopped_run/'last').iterdir()) == before       # nothing was touched


def test_other_data_is_refused(tok, data, stopped_run):
    with pytest.raises(ValueError, match='other training or validation data'):
        quiet_train(tok, load_drug_reviews('train').sample(24, seed=4), data[1], **BASE, output_dir=stopped_run)


def test_the_other_mode_is_refused(tok, data, stopped_run, monkeypatch):
    monkeypatch.setenv('LLMCOURSE_FAST', '0')                                     # the checkpoint was made in fast mode
    with pytest.raises(ValueError, match='made in fast mode'):
        quiet_train(tok, *data, **BASE, output_dir=stopped_run)


def test_resume_never_starts_afresh(tok, data, stopped_run):
    res, log = quiet_train(tok, *data, **{**BASE, 'lr': 2e-3, 'resume': 'never'}, output_dir=stopped_run)
    assert 'resumed' not in log and len(res.history) == 2
    res, log = quiet_train(tok, *data, **{**BASE, 'lr': 2e-3}, output_dir=stopped_run)   # and that run is now the one
    assert 'resumed from' in log


def test_a_checkpoint_without_a_fingerprint_is_refused(tok, data, stopped_run):
    (stopped_run/'last'/'run.json').unlink()
    with pytest.raises(ValueError, match='records no run fingerprint'):
        quiet_train(tok, *data, **BASE, output_dir=stopped_run)


def test_max_length_leaves_room_for_a_word_piece():
    with pytest.raises(ValueError, match=r'max_length must be >= 3 \(\[CLS\], at least one word piece, \[SEP\]\)'):
        TrainConfig(max_length=1)
    with pytest.raises(ValueError, match="resume must be 'auto' or 'never'"): TrainConfig(resume='always')


def test_predict_refuses_empty_texts_and_counts_truncated_ones(tok):
    m = tiny_bert()
    with pytest.raises(ValueError, match='text 1 is empty'): predict(m, tok, ['fine', '  '])
    with pytest.warns(TruncationWarning, match='1 of 2 texts are longer than 16 word pieces'):
        predict(m, tok, ['short', 'a much longer review ' * 10], max_length=16)


def test_an_unreachable_hub_id_fails_fast_and_names_the_fix(monkeypatch):
    import llmcourse.models as models
    for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'): monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(models, 'hub_reachable', lambda timeout=3.0: False)
    t0 = time.perf_counter()
    with pytest.raises(OSError, match='Hub cannot be reached.*bundled MiniLM.*HF_HUB_OFFLINE=1'):
        load_tokenizer('nobody/no-such-model-xyz')
    assert time.perf_counter() - t0 < 5


def test_the_hub_probe_answers_within_its_timeout():
    t0 = time.perf_counter()
    assert hub_reachable(timeout=1.0) in (True, False)
    assert time.perf_counter() - t0 < 2


def test_a_saved_mean_pooled_model_runs_in_plain_transformers_after_import_llmcourse(tok, tmp_path):
    "In a fresh process: `import llmcourse`, then only transformers' own API, and no trust_remote_code."
    import json
    import subprocess
    import sys
    from llmcourse.checkpoints import save_model
    save_model(tiny_bert(pooling='mean'), tok, tmp_path/'model')
    code = ('import json, llmcourse\n'
            'from transformers import AutoModelForSequenceClassification, pipeline\n'
            f'path = {str(tmp_path/"model")!r}\n'
            'model = AutoModelForSequenceClassification.from_pretrained(path)\n'
            'out = pipeline("text-classification", model=path, device="cpu")("It helped my migraines.")\n'
            'print(json.dumps([type(model).__name__, out[0]["label"]]))')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    name, label = json.loads(res.stdout.strip().splitlines()[-1])
    assert name == 'MeanPoolBertForSequenceClassification' and label in ('negative', 'positive')
