import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import llmcourse.mlm as mlm
from llmcourse.data import TextDataset, load_drug_reviews, load_tweets
from llmcourse.checkpoints import save_model
from llmcourse.finetune import TrainConfig
from llmcourse.models import tiny_bert
from llmcourse.checkpoints import load_adapter, save_adapter
from llmcourse.mlm import domain_adapt, load_masked_lm, mlm_corpus, mlm_head_parameters, mlm_pretrain
from llmcourse.pretraining import mask_tokens
from llmcourse.recipe import RECIPE
from llmcourse.budgets import nested_stratified_order, nested_subsets
from llmcourse.transfer import (accuracy_table, choose_on_validation, compare, correctness, ensemble,
                                paired_comparison, run_grid, run_method, summarise, vocabulary_overlap)
from llmcourse.transfer_methods import (layerwise_lr_groups, lora_model, map_label_columns, METHODS, setfit_pairs_per_review,
                                        train_source_model, trainable_parameters, TransferSetup)


@pytest.fixture(scope='module')
def setup(tok, tmp_path_factory):
    "A complete transfer setup around a tiny random BERT: saved 'pretrained' encoder, source model and MLM-adapted encoder."
    work = tmp_path_factory.mktemp('transfer')
    save_model(tiny_bert(seed=0), tok, work/'pretrained')
    source = train_source_model(load_tweets('train', 'binary').sample(24), tok, name_or_path=str(work/'pretrained'),
                                max_length=32, progress=False, cache_root=work/'cache')
    corpus = mlm_corpus(load_drug_reviews('train').texts[:16], forbidden=load_drug_reviews('test').texts)
    domain_adapt(corpus, tok, work/'dapt', name_or_path=str(work/'pretrained'), warmup_epochs=1, epochs=1, max_length=32,
                 progress=False)
    return TransferSetup(tok, load_drug_reviews('train').sample(24), load_drug_reviews('valid').sample(8),
                         load_drug_reviews('test').sample(12),
                         name_or_path=str(work/'pretrained'), source_dir=source['dir'], dapt_dir=str(work/'dapt'),
                         label_map={'negative': 'negative', 'positive': 'positive'},
                         recipe=replace(RECIPE, max_length=32, batch_size=8), epochs=1, min_steps=2, lora_lr=1e-2,
                         setfit_pairs=16)


# --- label budgets ---

def test_nested_subsets_are_nested_and_stratified():
    ds = load_drug_reviews('train')
    share = ds.labels.mean()
    for seed in (0, 1):
        subs = nested_subsets(ds, [16, 32, 64, 128, None], seed)
        sizes = list(subs)
        assert sizes == [16, 32, 64, 128, len(ds)]
        for small, big in zip(sizes, sizes[1:]):
            assert set(subs[small].meta.review_id) <= set(subs[big].meta.review_id)
        for n, sub in subs.items():
            assert len(sub) == n and abs(sub.labels.sum() - share * n) <= 1   # within one example of the true share


def test_nested_order_depends_on_the_seed_and_three_classes_stay_stratified():
    labels = np.array([0] * 30 + [1] * 10 + [2] * 60)
    a, b = nested_stratified_order(labels, 0), nested_stratified_order(labels, 1)
    assert sorted(a) == list(range(100)) and not np.array_equal(a, b)
    for n in (10, 20, 50):
        counts = np.bincount(labels[a[:n]], minlength=3)
        assert np.all(np.abs(counts - n * np.array([0.3, 0.1, 0.6])) <= 1)


def test_a_budget_too_small_for_the_labels_is_refused():
    with pytest.raises(ValueError, match='cannot hold all 2 labels'):
        nested_subsets(load_drug_reviews('train'), [1], 0)


def test_a_budget_larger_than_the_training_set_is_refused():
    ds = load_drug_reviews('train').sample(20)
    assert len(nested_subsets(ds, [20], 0)[20]) == 20 and len(nested_subsets(ds, [None], 0)[20]) == 20
    with pytest.raises(ValueError, match='more than the 20 examples'):
        nested_subsets(ds, [21], 0)


# --- masked-LM pretraining ---

def test_mlm_corpus_refuses_test_texts():
    test = load_drug_reviews('test').texts
    assert mlm_corpus(['a review', 'another'], forbidden=test) == ['a review', 'another']
    with pytest.raises(ValueError, match='test texts'):
        mlm_corpus(['a review', test[3]], forbidden=test)
    with pytest.raises(ValueError, match='empty'):
        mlm_corpus([], forbidden=test)


def test_mask_tokens_follows_the_recipe_and_never_touches_special_tokens(tok):
    b = tok(load_drug_reviews('train').texts[:64], truncation=True, max_length=128, padding=True, return_tensors='pt')
    maskable = mlm._maskable(b, tok)
    inputs, labels = mask_tokens(b['input_ids'], maskable, tok.mask_token_id, len(tok), generator=torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert not (chosen & ~maskable).any()                                   # never [CLS], [SEP] or padding
    assert (inputs[~chosen] == b['input_ids'][~chosen]).all()               # unchosen positions unchanged
    assert (labels[chosen] == b['input_ids'][chosen]).all()                 # the target is the original piece
    assert 0.13 < chosen.sum() / maskable.sum() < 0.17
    assert 0.76 < (inputs[chosen] == tok.mask_token_id).float().mean() < 0.84


def test_domain_adaptation_lowers_heldout_mlm_loss_and_runs_its_control(tok, tmp_path):
    save_model(tiny_bert(seed=0), tok, tmp_path/'pre')
    texts = load_drug_reviews('train').texts
    r = domain_adapt(texts[:32], tok, tmp_path/'dapt', heldout=texts[32:48], name_or_path=str(tmp_path/'pre'),
                     warmup_epochs=1, epochs=3, lr=1e-3, max_length=48, control=True, progress=False)
    assert r['heldout_end'] < r['heldout_fresh_head']
    assert len(r['adapt']['heldout_loss']) == len(r['control']['heldout_loss']) == 3
    assert r['heldout_start'] == r['warmup']['heldout_loss'][-1] and r['heldout_control_end'] is not None
    assert (tmp_path/'dapt'/'model.safetensors').is_file()


def test_head_only_mlm_training_moves_the_head_and_never_the_encoder(tok, tmp_path):
    save_model(tiny_bert(seed=0), tok, tmp_path/'pre')
    model = load_masked_lm(str(tmp_path/'pre'))
    head = mlm_head_parameters(model)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight   # tied: not the head's
    assert all(p is not model.bert.embeddings.word_embeddings.weight for p in head) and len(head) >= 3
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    mlm_pretrain(model, tok, load_drug_reviews('train').texts[:16], epochs=1, lr=1e-2, head_only=True, max_length=32,
                 progress=False)
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all(n.startswith('cls.') for n in moved)
    assert all(p.requires_grad for p in model.parameters())            # left trainable for what comes next


def test_an_untied_decoder_is_refused():
    from transformers import BertConfig, BertForMaskedLM
    untied = BertForMaskedLM(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                        intermediate_size=32, tie_word_embeddings=False))
    with pytest.raises(ValueError, match='tied'): mlm_head_parameters(untied)


# --- LoRA and layer-wise rates ---

def test_lora_freezes_everything_but_adapters_and_head():
    model = lora_model(tiny_bert(seed=0, hidden=32, layers=2), r=4, targets=('query', 'value'))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all('lora_' in n or 'classifier' in n for n in trainable)
    # per layer: query and value, each A (r x 32) and B (32 x r); plus the head 32 x 2 + 2
    assert trainable_parameters(model)[0] == 2 * 2 * (4 * 32 + 32 * 4) + (32 * 2 + 2)


def test_lora_on_all_linear_layers_reaches_the_mean_pooled_head_and_every_projection():
    model = lora_model(tiny_bert(seed=0, hidden=32, layers=2, pooling='mean'), r=4)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any('classifier' in n for n in trainable)                        # the head reads the mean of the states: it trains
    for proj in ('query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'):
        assert any(proj in n and 'lora_A' in n for n in trainable), proj
    assert model.peft_config['default'].lora_alpha == 8                     # alpha defaults to 2r


def test_saved_adapter_reloads_to_identical_logits(tok, tmp_path):
    model = lora_model(tiny_bert(seed=0), r=4)
    with torch.no_grad():                                    # B starts at zero: move it so the adapter matters
        for n, p in model.named_parameters():
            if 'lora_B' in n: p.normal_()
    model.eval()
    batch = tok(['works well', 'made me sick'], padding=True, return_tensors='pt')
    before = model(**batch).logits
    save_adapter(model, tmp_path/'adapter')
    reloaded = load_adapter(tiny_bert(seed=0), tmp_path/'adapter')
    assert torch.equal(before, reloaded(**batch).logits)
    assert not torch.allclose(before, tiny_bert(seed=0)(**batch).logits)
    with pytest.raises(FileNotFoundError): load_adapter(tiny_bert(seed=0), tmp_path/'missing')


def test_layerwise_groups_cover_each_parameter_once_with_rates_falling_with_depth():
    model = tiny_bert(seed=0, layers=3)
    groups = layerwise_lr_groups(0.5)(model, TrainConfig(lr=1.0))
    ids = [id(p) for g in groups for p in g['params']]
    assert len(ids) == len(set(ids)) == sum(1 for p in model.parameters())
    rate = {id(p): g['lr'] for g in groups for p in g['params']}
    params = dict(model.named_parameters())
    assert rate[id(params['classifier.weight'])] == 1.0
    assert rate[id(params['bert.encoder.layer.2.output.dense.weight'])] == 0.5
    assert rate[id(params['bert.encoder.layer.0.output.dense.weight'])] == 0.125
    assert rate[id(params['bert.embeddings.word_embeddings.weight'])] == 0.0625


# --- methods ---

def test_label_map_is_explicit():
    logits = torch.tensor([[1., 2., 3.]])
    out = map_label_columns(logits, ['negative', 'neutral', 'positive'], ['negative', 'positive'],
                            {'negative': 'negative', 'positive': 'positive'})
    assert out.tolist() == [[1., 3.]]
    with pytest.raises(ValueError, match='no source label'):
        map_label_columns(logits, ['negative', 'neutral', 'positive'], ['negative', 'positive'], {'negative': 'negative'})
    with pytest.raises(ValueError, match='lacks'):
        map_label_columns(logits, ['neg', 'pos', 'x'], ['negative', 'positive'], {'negative': 'neg', 'positive': 'good'})


@pytest.mark.parametrize('method', list(METHODS))
def test_each_method_runs_end_to_end(setup, method):
    r = run_method(setup, method, nested_subsets(setup.train, [12], 0)[12], seed=0)
    assert 0 <= r['accuracy'] <= 1 and 0 <= r['macro_f1'] <= 1
    assert len(r['predictions']) == len(setup.test) and set(r['predictions']) <= {0, 1}
    if method == 'LoRA': assert 0 < r['trainable'] < trainable_parameters(tiny_bert())[0] / 2


def test_setfit_refuses_a_training_set_of_one_label(setup):
    one = setup.train.subset(np.flatnonzero(setup.train.labels == 1)[:6])
    with pytest.raises(ValueError, match='examples of every label'):
        run_method(setup, 'SetFit', one, 0)


def test_setfit_draws_the_papers_pairs_at_16_labels_and_the_same_number_beyond():
    assert setfit_pairs_per_review(16, 640) == 20 and setfit_pairs_per_review(64, 640) == 5
    assert setfit_pairs_per_review(1000, 640) == 1                 # never fewer than one pair per review


def test_tuned_changes_reach_only_their_own_method_and_budget(setup):
    tuned = replace(setup, tuned={'fine-tune (target only)|4': {'subset_lr': 3e-5}})
    assert tuned.for_cell('fine-tune (target only)', 4).config(4, 0).lr == 3e-5
    assert tuned.for_cell('fine-tune (target only)', 8).config(8, 0).lr == setup.recipe.lr
    assert tuned.for_cell('sequential (tweets, then drugs)', 4).config(4, 0).lr == setup.recipe.lr
    assert tuned.fingerprint() != setup.fingerprint()             # a cached grid under other choices is recomputed


def test_choose_on_validation_keeps_the_best_validation_macro_f1_and_hands_its_run_on(setup, monkeypatch):
    calls = []
    def fake(s, train_ds, seed):                                   # right on validation only at the rate 3e-5
        calls.append(s.subset_lr)
        right = np.eye(2)[setup.valid.labels] if s.subset_lr == 3e-5 else np.tile([0.4, 0.6], (len(setup.valid), 1))
        return np.tile([0.4, 0.6], (len(setup.test), 1)), right, {'examples_trained': 0}
    monkeypatch.setitem(METHODS, 'fake', fake)
    options = {'recipe': {'subset_lr': 1e-4}, 'low': {'subset_lr': 3e-5}}
    table, tuned, reuse = choose_on_validation(setup, {'fake|4': options}, progress=False)
    assert sorted(calls) == [3e-5, 1e-4] and tuned == {'fake|4': {'subset_lr': 3e-5}}
    assert table.set_index('candidate').chosen.to_dict() == {'recipe': False, 'low': True}
    assert reuse[('fake', 4, 0)]['valid_macro_f1'] == 1.0
    with pytest.raises(ValueError, match="'method|labels'"):
        choose_on_validation(setup, {'fake': options}, progress=False)


def test_unknown_method_and_missing_source_are_clear_errors(setup):
    with pytest.raises(ValueError, match='unknown method'): run_method(setup, 'magic', setup.train, 0)
    with pytest.raises(ValueError, match='source_dir'):
        run_method(replace(setup, source_dir=None), 'sequential (tweets, then drugs)', setup.train, 0)


def test_grid_caches_finished_runs(setup, tmp_path, monkeypatch):
    calls = []
    def fake(setup, train_ds, seed):
        calls.append((len(train_ds), seed))
        return np.tile([0.6, 0.4], (len(setup.test), 1)), np.tile([0.6, 0.4], (len(setup.valid), 1)), {'examples_trained': 0}
    monkeypatch.setitem(METHODS, 'fake', fake)
    cache = tmp_path/'runs.json'
    runs = run_grid(setup, ['fake'], [4, None], [0, 1], cache=cache, progress=False)
    assert len(runs) == 4 and len(calls) == 4 and set(runs.labels) == {4, len(setup.train)}
    again = run_grid(setup, ['fake'], [4, None], [0, 1], cache=cache, progress=False)
    assert len(calls) == 4 and again.accuracy.tolist() == runs.accuracy.tolist()
    run_grid(replace(setup, recipe=replace(setup.recipe, lr=1.0)), ['fake'], [4], [0], cache=cache, progress=False)   # another recipe: recomputed
    assert len(calls) == 5


def test_grid_follows_a_plan_per_budget_and_reuses_given_runs(setup, monkeypatch):
    calls = []
    def fake(setup, train_ds, seed):
        calls.append((len(train_ds), seed))
        return np.tile([0.6, 0.4], (len(setup.test), 1)), np.tile([0.6, 0.4], (len(setup.valid), 1)), {'examples_trained': 0}
    monkeypatch.setitem(METHODS, 'fake', fake)
    monkeypatch.setitem(METHODS, 'other', fake)
    done = {'method': 'other', 'labels': len(setup.train), 'seed': 0, 'accuracy': 0.5, 'predictions': [0] * len(setup.test)}
    runs = run_grid(setup, {4: ['fake'], None: ['fake', 'other']}, [4, None], [0], progress=False,
                    reuse={('other', len(setup.train), 0): done})
    assert sorted(calls) == [(4, 0), (len(setup.train), 0)]                 # 'other' at all labels came from reuse
    assert set(zip(runs.method, runs.labels)) == {('fake', 4), ('fake', len(setup.train)), ('other', len(setup.train))}
    with pytest.raises(ValueError, match='do not hold'):                  # a planned budget the sizes lack is not dropped silently
        run_grid(setup, {4: ['fake'], 6: ['fake']}, [4], [0], progress=False)


def test_setup_gives_subsets_more_steps_and_class_weights_and_all_labels_the_recipe(setup):
    small, full = setup.config(4, seed=0), setup.config(len(setup.train), seed=0)
    assert small.max_steps == max(setup.min_steps, setup.epochs * 1) and small.class_weights
    assert full.max_steps is None and not full.class_weights and full.keep == 'last'
    assert replace(setup, subset_class_weights=False).config(4, 0).class_weights is False


def test_recipe_models_are_refused_for_another_training_set(setup):
    with pytest.raises(ValueError, match='recipe'):
        run_method(replace(setup, recipe_models=True), 'fine-tune (target only)', setup.train, 0)


def _runs(truth):
    "Two methods, three random seeds, on five test reviews: a right on 4 of 5, b on 2 of 5."
    rows = []
    for s in range(3):
        for m, preds in (('a', [1, 1, 0, 0, 0]), ('b', [1, 0, 1, 1, 0])):
            probs = [[0.2, 0.8] if p else [0.8, 0.2] for p in preds]
            rows.append({'method': m, 'labels': 8, 'seed': s, 'predictions': preds, 'test_probs': probs, 'valid_probs': probs[:2],
                         'accuracy': float(np.mean(np.array(preds) == truth)), 'valid_accuracy': 0.5})
    return pd.DataFrame(rows)


def test_intervals_and_paired_comparison_and_ensemble():
    truth = np.array([1, 1, 0, 0, 1])
    runs = _runs(truth)
    assert correctness(runs, 'a', 8, truth).shape == (3, 5)
    t = accuracy_table(runs, truth).set_index('method')
    assert t.loc['a', 'mean'] == pytest.approx(0.8) and t.loc['a', 'ci_low'] <= 0.8 <= t.loc['a', 'ci_high']
    c = paired_comparison(runs, 'a', 'b', 8, truth)
    assert c['difference'] == pytest.approx(0.6) and c['per_seed'] == [0.6, 0.6, 0.6]
    e = ensemble(runs, 'a', 8, truth, [1, 1])
    assert e['test_accuracy'] == pytest.approx(0.8) and e['valid_accuracy'] == 1.0
    assert 'all 6 models' in ensemble(runs, ['a', 'b'], 8, truth, [1, 1])['method']
    with pytest.raises(ValueError, match='no runs'): correctness(runs, 'c', 8, truth)


def test_compare_needs_every_seed_to_agree():
    runs = pd.DataFrame({'method': ['a'] * 3 + ['b'] * 3, 'labels': 16, 'seed': [0, 1, 2] * 2,
                         'accuracy': [0.80, 0.81, 0.82, 0.70, 0.71, 0.72]})
    c = compare(runs, 'a', 'b', 16)
    assert c['difference'] == pytest.approx(0.10) and c['beyond_spread']
    runs.loc[2, 'accuracy'] = 0.60
    assert not compare(runs, 'a', 'b', 16)['beyond_spread']
    s = summarise(runs)
    assert list(s.seeds) == [3, 3]


def test_vocabulary_overlap_is_a_share(tok):
    o = vocabulary_overlap(['good drug'], ['good drug', 'bad drug'], tok)
    assert o['target_types_in_source'] == pytest.approx(2 / 3) and o['target_tokens_in_source'] == pytest.approx(3 / 4)
