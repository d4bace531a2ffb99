"""The transformer written from its definition (llmcourse.transformer), packing, the self-supervised objectives and loop, the run cache and the
[MASK] filler: each checked against transformers or against what it must refuse."""
import json
import math
import os

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

import llmcourse.pretraining as pre
from llmcourse.models import frozen_features
from llmcourse.pretraining import (EmbeddingStudent, cached_pretraining, classifier_from, corpus_tokenizer,
                                   distillation_objective, fill_mask, heldout_score, mask_tokens,
                                   masked_lm_objective, masked_positions, new_masked_lm, next_token_objective, pack, pretrain,
                                   pretraining_corpus, repeats_for_share, small_bert_config, text_rows)
from llmcourse.transformer import (GPT, attention, causal_mask, generate, layer_differences, padding_mask,
                                   transformer_from_bert)

TEXTS = ['the tablets helped my headaches a lot', 'terrible nausea for a week', 'no side effects so far, very happy',
         'it made me dizzy and tired', 'works well but costs too much'] * 8


def tiny_config(**kw):
    return small_bert_config(hidden=32, layers=2, heads=2, max_positions=64, **kw)


def test_our_layers_compute_what_a_transformers_bert_computes(tok):
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=len(tok), hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                                intermediate_size=96, attn_implementation='eager')).eval()
    batch = tok(TEXTS[:4], padding=True, return_tensors='pt')
    assert batch['attention_mask'].min() == 0, 'the batch should hold padding, so the padding mask is tested'
    diffs = layer_differences(transformer_from_bert(bert), bert, batch)
    assert list(diffs.index) == ['embeddings', 'layer 1', 'layer 2', 'layer 3']
    assert diffs.max_abs_diff.max() < 1e-5, diffs


def test_a_wrong_copy_is_seen_by_layer_differences(tok):
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, attn_implementation='eager')).eval()
    ours = transformer_from_bert(bert)
    with torch.no_grad(): ours.layers[1].ffn.up.weight.mul_(1.1)
    diffs = layer_differences(ours, bert, tok(TEXTS[:2], padding=True, return_tensors='pt'))
    assert diffs.loc['layer 1', 'max_abs_diff'] < 1e-5 < diffs.loc['layer 2', 'max_abs_diff']


def test_attention_gives_masked_keys_no_weight_and_matches_torch():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 6, 8, generator=g) for _ in range(3))
    mask = padding_mask(torch.tensor([[1, 1, 1, 1, 0, 0], [1] * 6]))
    out = attention(q, k, v, mask)
    torch.testing.assert_close(out, torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    v2 = v.clone(); v2[0, :, 4:] = 1e3                                    # values of padded keys must not matter
    torch.testing.assert_close(attention(q, k, v2, mask), out)


def test_the_causal_mask_makes_every_output_independent_of_later_pieces():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    model = GPT(vocab=50, hidden=16, layers=2, heads=2, max_positions=10).eval()
    ids = torch.randint(50, (1, 8))
    changed = ids.clone(); changed[0, 5] = (ids[0, 5] + 1) % 50
    moved = (model(ids) - model(changed)).abs().amax(-1)[0] > 1e-6
    assert not moved[:5].any() and moved[5:].all()


def test_pack_ends_texts_with_sep_and_starts_blocks_with_cls(tok):
    blocks = pack(tok, TEXTS, block=16)
    pieces = sum(len(tok(t, add_special_tokens=False)['input_ids']) + 1 for t in TEXTS)
    assert blocks.shape == (pieces // 15, 16)
    assert (blocks[:, 0] == tok.cls_token_id).all()
    assert int((blocks == tok.sep_token_id).sum()) >= len(TEXTS) * 15 * len(blocks) // pieces - 1
    first = tok(TEXTS[0], add_special_tokens=False)['input_ids']
    assert blocks[0, 1:len(first) + 2].tolist() == first + [tok.sep_token_id]
    with pytest.raises(ValueError, match='fewer than one block'): pack(tok, ['short'], block=128)
    with pytest.raises(ValueError, match='at least 8'): pack(tok, TEXTS, block=4)


def test_the_corpus_refuses_emptiness_and_test_texts():
    assert pretraining_corpus(['a text', '  ', None, 'another'], forbidden=[]) == ['a text', 'another']
    with pytest.raises(ValueError, match='empty'): pretraining_corpus([], forbidden=[])
    with pytest.raises(ValueError, match='empty'): pretraining_corpus(['', '   '], forbidden=[])
    with pytest.raises(ValueError, match='1 pretraining corpus texts are test texts'):
        pretraining_corpus(['fine', 'a test review'], forbidden=['a test review'])


def test_pretraining_lowers_the_heldout_masked_lm_loss(tok):
    blocks = pack(tok, TEXTS, block=16)
    model = new_masked_lm(tiny_config(vocab=len(tok)))
    objective = masked_lm_objective(tok)
    run = pretrain(model, objective, blocks, blocks, steps=30, batch_size=8, lr=3e-3, evals=2, snapshot_at=(0, 30),
                   progress=False)
    curve = run['curve']
    assert list(curve.step) == [0, 15, 30] and curve.heldout_loss.iloc[-1] < curve.heldout_loss.iloc[0] - 1
    assert set(run['snapshots']) == {0, 30} and run['pieces'] == 30 * 8 * 16
    again = heldout_score(model, objective, blocks)                         # the held-out masking is the same each call
    assert again == heldout_score(model, objective, blocks)
    with pytest.raises(ValueError, match='steps'): pretrain(model, objective, blocks, blocks, steps=0)


def test_next_token_pretraining_lowers_the_loss_and_generates(tok):
    blocks = pack(tok, TEXTS, block=12)
    model = GPT(len(tok), hidden=32, layers=2, heads=2, max_positions=12)
    run = pretrain(model, next_token_objective, blocks, blocks, steps=30, batch_size=8, lr=3e-3, evals=1, progress=False)
    assert run['curve'].heldout_loss.iloc[-1] < run['curve'].heldout_loss.iloc[0] - 1
    text = generate(model, tok, 'the tablets', pieces=5, temperature=0.7)
    assert text.startswith('the tablets') and generate(model, tok, 'the tablets', 5, 0.7) == text   # seeded
    with pytest.raises(ValueError, match='temperature must be > 0'): generate(model, tok, 'x', temperature=0)


def test_the_run_cache_reuses_a_pretraining_and_keys_on_settings_and_corpus(tok, tmp_path, monkeypatch):
    monkeypatch.setattr(pre, 'checkpoints_dir', lambda: tmp_path)
    blocks, objective = pack(tok, TEXTS, block=16), masked_lm_objective(tok)
    make = lambda: new_masked_lm(tiny_config(vocab=len(tok)))
    settings = dict(steps=4, batch_size=4, evals=1, progress=False)
    m1, r1, hit1 = cached_pretraining('mlm', make, objective, blocks, blocks, snapshot_at=(0,), **settings)
    def pretrained_again(*a, **k): raise RuntimeError('pretrained again')
    monkeypatch.setattr(pre, 'pretrain', pretrained_again)
    m2, r2, hit2 = cached_pretraining('mlm', make, objective, blocks, blocks, snapshot_at=(0,), **settings)
    assert (hit1, hit2) == (False, True) and r1['snapshot_at'] == r2['snapshot_at'] == [0, 4]
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert r1['curve'].heldout_loss.tolist() == pytest.approx(r2['curve'].heldout_loss.tolist())
    entry = next((tmp_path/'01_pretraining').iterdir())
    assert sorted(p.name for p in entry.iterdir()) == ['run.json', 'step-0.safetensors', 'step-4.safetensors']
    with pytest.raises(RuntimeError, match='pretrained again'):             # another corpus or setting trains afresh
        cached_pretraining('mlm', make, objective, blocks[:-1], blocks, snapshot_at=(0,), **settings)
    with pytest.raises(RuntimeError, match='pretrained again'):
        cached_pretraining('mlm', make, objective, blocks, blocks, snapshot_at=(0,), **{**settings, 'lr': 3e-4})
    with pytest.raises(RuntimeError, match='pretrained again'):             # and so does another architecture or dropout
        cached_pretraining('mlm', lambda: new_masked_lm(tiny_config(vocab=len(tok), hidden_dropout_prob=0.0)), objective,
                           blocks, blocks, snapshot_at=(0,), **settings)


def test_fill_mask_names_what_is_wrong_with_the_text(tok):
    model = new_masked_lm(tiny_config(vocab=len(tok))).eval()
    table = fill_mask(model, tok, 'it [MASK] my [MASK] .', k=3)
    assert list(table['mask']) == [1, 1, 1, 2, 2, 2] and (table.probability.diff().dropna()[[1, 2, 4, 5]] <= 0).all()
    with pytest.raises(ValueError, match=r'no \[MASK\] in the text'): fill_mask(model, tok, 'no mask here')
    with pytest.raises(ValueError, match='splits it into'): masked_positions(tok, 'it [mask] me')
    with pytest.raises(ValueError, match='splits it into'): masked_positions(tok, 'it <mask> me')
    with pytest.raises(ValueError, match='empty'): masked_positions(tok, '  ')
    with pytest.raises(TypeError, match='string'): masked_positions(tok, None)


def test_classifier_from_copies_the_encoder_and_nothing_else(tok):
    config = tiny_config(vocab=len(tok))
    mlm = new_masked_lm(config, seed=3)
    pretrained, scratch = classifier_from(config, ['negative', 'positive'], mlm), classifier_from(config, ['negative', 'positive'])
    for (name, a), b in zip(pretrained.bert.state_dict().items(), mlm.bert.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(scratch.bert.embeddings.word_embeddings.weight, mlm.bert.embeddings.word_embeddings.weight)
    assert pretrained.config.id2label == {0: 'negative', 1: 'positive'}


def test_a_corpus_vocabulary_has_the_special_tokens_and_is_reused_from_the_run_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(pre, 'checkpoints_dir', lambda: tmp_path)
    vocab = corpus_tokenizer(TEXTS, size=200, min_frequency=1)
    assert len(vocab) <= 200 and vocab.tokenize('[MASK]') == ['[MASK]'] and vocab.pad_token_id == 0
    ids = vocab('the tablets helped')['input_ids']
    assert ids[0] == vocab.cls_token_id and ids[-1] == vocab.sep_token_id
    assert vocab.get_vocab() == corpus_tokenizer(TEXTS, size=200, min_frequency=1).get_vocab()    # the cached one
    assert len(list((tmp_path/'01_pretraining').iterdir())) == 1


def test_a_corpus_vocabulary_is_the_same_in_every_fresh_process(tmp_path):
    """The library numbers '##' pieces in a hash map's order, different in each process; trained twice from empty run
    caches in two processes, the vocabulary must come out identical, and '##' in a text must not be a special token."""
    import subprocess, sys
    code = ('import json; from llmcourse.data import load_drug_reviews; from llmcourse.pretraining import corpus_tokenizer; '
            "v = corpus_tokenizer(load_drug_reviews('train').texts, size=1500); "
            "print(json.dumps([sorted(v.get_vocab().items()), v.tokenize('so ##good'), len(v.all_special_tokens)]))")
    runs = []
    for k in range(2):
        (tmp_path/str(k)).mkdir()
        env = os.environ | {'LLMCOURSE_FAST': '1', 'TMPDIR': str(tmp_path/str(k))}        # each its own empty run cache
        runs.append(json.loads(subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                                              check=True).stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
    vocab, pieces, n_special = runs[0]
    assert n_special == 5 and len(vocab) == 1500 and '##g' in dict(vocab)
    assert pieces[:3] == ['so', '[UNK]', '[UNK]']          # '#' is not in the reviews; as a special token, '##g' would be one piece


def test_a_corpus_vocabulary_refuses_an_empty_corpus_too_few_pieces_and_test_texts(tmp_path, monkeypatch):
    monkeypatch.setattr(pre, 'checkpoints_dir', lambda: tmp_path)
    with pytest.raises(ValueError, match='empty'): corpus_tokenizer([])
    with pytest.raises(ValueError, match='empty'): corpus_tokenizer(['  ', ''])
    with pytest.raises(ValueError, match='no room beyond its 5 special tokens'): corpus_tokenizer(TEXTS, size=5)
    with pytest.raises(ValueError, match='test texts'): corpus_tokenizer(TEXTS, forbidden=[TEXTS[1]])
    assert not (tmp_path/'01_pretraining').exists()                          # nothing was trained or written


def test_reviews_are_repeated_to_their_share_of_the_text():
    assert repeats_for_share(['x' * 900], ['y' * 100], 0.5) == 9
    assert repeats_for_share(['x' * 100], ['y' * 900], 0.5) == 1                 # never fewer than once
    with pytest.raises(ValueError, match=r'share must be in \[0, 1\)'): repeats_for_share(['x'], ['y'], 1.0)


def test_a_masking_rate_outside_zero_and_one_is_refused(tok):
    ids = torch.randint(1000, 2000, (4, 16))
    for p in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match=r'masking rate p must be in \(0, 1\)'): masked_lm_objective(tok, p)
        with pytest.raises(ValueError, match=r'masking rate p must be in \(0, 1\)'):
            mask_tokens(ids, torch.ones_like(ids, dtype=torch.bool), tok.mask_token_id, len(tok), p)
    _, labels = mask_tokens(ids.repeat(50, 1), torch.ones(200, 16, dtype=torch.bool), tok.mask_token_id, len(tok), 0.4,
                            torch.Generator().manual_seed(0))
    assert abs(float((labels != -100).float().mean()) - 0.4) < 0.03


def test_the_run_cache_keys_on_the_objective(tok, tmp_path, monkeypatch):
    monkeypatch.setattr(pre, 'checkpoints_dir', lambda: tmp_path)
    blocks = pack(tok, TEXTS, block=16)
    make = lambda: new_masked_lm(tiny_config(vocab=len(tok)))
    settings = dict(steps=2, batch_size=4, evals=1, progress=False)
    cached_pretraining('mlm', make, masked_lm_objective(tok, 0.15), blocks, blocks, **settings)
    _, _, hit = cached_pretraining('mlm', make, masked_lm_objective(tok, 0.4), blocks, blocks, **settings)
    assert not hit and len(list((tmp_path/'01_pretraining').iterdir())) == 2


def test_distillation_pulls_the_student_towards_the_teacher(tok):
    config = tiny_config(vocab=len(tok), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    rows = text_rows(tok, TEXTS[:5], max_length=16)
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4] and (rows[:, 1] == tok.cls_token_id).all()
    teacher = torch.randn(5, 48, generator=torch.Generator().manual_seed(0)).numpy()
    objective = distillation_objective(teacher, tok.pad_token_id)
    student = EmbeddingStudent(config, teacher_width=48)
    run = pretrain(student, objective, rows, rows, steps=40, batch_size=5, lr=3e-3, evals=1, progress=False)
    assert run['curve'].heldout_loss.iloc[-1] < run['curve'].heldout_loss.iloc[0] / 2
    assert run['curve'].heldout_accuracy.iloc[-1] > 0.5                     # the mean cosine with the teacher
    mlm_shape = classifier_from(config, ['negative', 'positive'], student)   # a classifier copies the student's encoder
    assert torch.equal(mlm_shape.bert.embeddings.word_embeddings.weight, student.bert.embeddings.word_embeddings.weight)


def test_distillation_to_another_width_needs_a_projection(tok):
    config = tiny_config(vocab=len(tok))
    with pytest.raises(ValueError, match='through a projection'): EmbeddingStudent(config, teacher_width=48, projection=False)
    same_width = EmbeddingStudent(config, teacher_width=32, projection=False)             # 32 wide: no projection needed
    objective = distillation_objective(np.zeros((5, 48), np.float32), tok.pad_token_id)
    with pytest.raises(ValueError, match="teacher's 48"): objective(same_width, text_rows(tok, TEXTS[:5], 16))


def test_frozen_features_come_back_in_the_order_of_the_texts(tok):
    model = new_masked_lm(tiny_config(vocab=len(tok)))
    texts = ['short', 'a much longer text than the others here', 'mid length text']
    both = frozen_features(model, tok, texts, batch_size=2)
    alone = np.concatenate([frozen_features(model, tok, [t]) for t in texts])
    np.testing.assert_allclose(both, alone, atol=1e-5)
    with pytest.raises(ValueError, match='no texts'): frozen_features(model, tok, [])


def test_widen_grids_goes_past_an_edge_until_the_best_is_inside_or_the_ladder_ends():
    from llmcourse.rate_search import widen_grids
    ladder = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    peaks = {'inside': 3e-4, 'low': 3e-5, 'high': 3e-3, 'beyond': 1.0}
    rounds = []
    def score(todo):
        rounds.append(todo)
        return {n: {r: -abs(math.log10(r / peaks[n])) for r in rates} for n, rates in todo.items()}
    chosen, tried = widen_grids(score, ladder, (1e-4, 3e-4, 1e-3), peaks)
    assert chosen == {'inside': 3e-4, 'low': 3e-5, 'high': 3e-3, 'beyond': 1e-2}
    assert sorted(tried['inside']) == [1e-4, 3e-4, 1e-3]                      # nothing spent beyond a best inside
    assert sorted(tried['high']) == [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]            # one rate past the best, to see it fall
    assert sorted(tried['beyond']) == [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]          # stops at the end of the ladder
    assert rounds[0] == {n: [1e-4, 3e-4, 1e-3] for n in peaks} and all(len(r) == 1 for t in rounds[1:] for r in t.values())
    for bad in ((1e-4, 1e-3), (2e-4,), ()):
        with pytest.raises(ValueError, match='must be neighbours on the ladder'): widen_grids(score, ladder, bad, ['x'])
