"""The step contract: every `train` step gets the batch's inputs, its labels (None for unlabelled text), `train`'s loss
function, the backward hook and the run's config; so gradient accumulation treats a masked LM as it treats a classifier."""
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from llmcourse.data import TextDataset, load_drug_reviews
from llmcourse.finetune import TrainConfig, train
from llmcourse.mlm import mlm_step
from llmcourse.models import tiny_bert
from llmcourse.pretraining import new_masked_lm, small_bert_config
from llmcourse.steps import standard_step


def gradients_at_each_update(make_model, tok, ds, step, grad_accum: int) -> tuple:
    "Train one pass with a vanishing learning rate (the weights do not move); the flat gradient at each optimiser step, and the logged loss."
    seen = []
    def keep(opt, args, kwargs):
        seen.append(torch.cat([p.grad.flatten() for g in opt.param_groups for p in g['params'] if p.grad is not None]).clone())
    handle = register_optimizer_step_pre_hook(keep)
    try:
        cfg = TrainConfig(epochs=1, lr=1e-20, batch_size=4, grad_accum=grad_accum, max_length=32, grad_clip=None,
                          warmup_ratio=0.0, progress=False, verbose=False)
        res = train(make_model(), tok, ds, None, cfg, step=step)
    finally: handle.remove()
    return seen, res.history[0]['train_loss']


@pytest.mark.parametrize('kind', ['classification', 'masked LM'])
def test_grad_accum_2_is_the_mean_of_the_two_batches_and_the_loss_is_logged_unscaled(tok, kind):
    reviews = load_drug_reviews('train').sample(8)
    if kind == 'classification': ds, make, step = reviews, lambda: tiny_bert(seed=0), standard_step
    else:
        ds, step = TextDataset.unlabelled(reviews.texts), mlm_step(tok)
        make = lambda: new_masked_lm(small_bert_config(hidden=32, layers=2, heads=2, max_positions=64), seed=0)
    each, loss_each = gradients_at_each_update(make, tok, ds, step, grad_accum=1)
    accumulated, loss_accumulated = gradients_at_each_update(make, tok, ds, step, grad_accum=2)
    assert len(each) == 2 and len(accumulated) == 1
    assert torch.allclose(accumulated[0], (each[0] + each[1]) / 2, rtol=1e-3, atol=1e-7)   # the loss divided once
    assert loss_accumulated == pytest.approx(loss_each, rel=1e-4)                          # and logged undivided


def test_a_classifier_step_on_unlabelled_text_is_a_clear_error(tok):
    ds = TextDataset.unlabelled(load_drug_reviews('train').sample(4).texts)
    with pytest.raises(ValueError, match='needs labels'):
        train(tiny_bert(), tok, ds, None, TrainConfig(epochs=1, max_length=32, progress=False, verbose=False))


def test_unlabelled_validation_data_and_class_weights_without_labels_are_refused(tok):
    texts = TextDataset.unlabelled(load_drug_reviews('train').sample(4).texts)
    with pytest.raises(ValueError, match='validation set needs labels'):
        train(tiny_bert(), tok, load_drug_reviews('train').sample(4), texts, TrainConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match='class_weights needs labelled'):
        train(tiny_bert(), tok, texts, None, TrainConfig(epochs=1, class_weights=True, progress=False), step=mlm_step(tok))


def test_a_quiet_run_prints_nothing(tok, capsys):
    train(tiny_bert(), tok, load_drug_reviews('train').sample(8), load_drug_reviews('valid').sample(4),
          TrainConfig(epochs=1, max_length=32, progress=False, verbose=False))
    assert capsys.readouterr().out == ''
