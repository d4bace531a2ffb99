import numpy as np
import pytest
import torch

from llmcourse.adversarial import (a2t_step, accuracy_under_embedding_attack, augment_step, embedding_attack, fgm_step,
                                   freelb_step, hotflip_swaps, perturbed_embeddings, pgd_step, project, radius, random_edits,
                                   random_start)
from llmcourse.text_attacks import (AttackResult, CandidateTable, attack_summary, char_attack, char_edits, crosses_polarity,
                                    crossing_edits, deepwordbug_attack, deepwordbug_edits, edits_html, negated_form,
                                    polarity, polarity_crossing_share, sentiment_lexicon, split_words, STOP_WORDS, Victim, attackable,
                                    word_attack)
from llmcourse.spelling import SpellingFrontEnd
from llmcourse.data import load_drug_reviews
from llmcourse.finetune import train, TrainConfig
from llmcourse.steps import standard_step
from llmcourse.models import tiny_bert

TEXT = 'The tablets stopped my headaches within a week and I never felt dizzy or sick.'


@pytest.fixture(scope='module')
def model(sharp_tiny_bert):
    return sharp_tiny_bert()


def batch_of(tok, texts): return tok(texts, padding=True, truncation=True, max_length=48, return_tensors='pt')


# --- embedding-space attacks ---

@pytest.mark.parametrize('norm', ['l2', 'linf'])
def test_pgd_stays_inside_its_ball_and_leaves_padding_alone(tok, model, norm):
    b = batch_of(tok, [TEXT, 'Awful.'])
    delta = embedding_attack(model, b, torch.tensor([1, 0]), eps=0.5, steps=5, norm=norm)
    size = delta.flatten(1).norm(dim=1) if norm == 'l2' else delta.flatten(1).abs().max(dim=1).values
    limit = 0.5 * b['attention_mask'].sum(1).sqrt() if norm == 'l2' else torch.full((2,), 0.5)   # l2: eps per word piece
    assert (size <= limit + 1e-5).all() and (size > 0.1).all()
    assert (delta[1, b['attention_mask'][1] == 0] == 0).all()


def test_stronger_attacks_hurt_more_and_zero_is_clean(tok, model):
    ds = load_drug_reviews('test').sample(24)
    pred = [int(model(**batch_of(tok, [t])).logits.argmax()) for t in ds.texts]
    ds.labels[:] = pred                                       # the model is right on all of them before the attack
    acc = accuracy_under_embedding_attack(model, tok, ds, [0.0, 2.0, 50.0], steps=3, max_length=48)
    assert acc.accuracy.iloc[0] == 1.0 and acc.accuracy.iloc[-1] < acc.accuracy.iloc[0]


def test_project():
    d = torch.ones(2, 3, 4); m = torch.tensor([[1., 1., 0.], [1., 0., 0.]])
    p = project(d, m, 1.0)                                    # eps per word piece: radius eps * sqrt(real pieces)
    assert torch.allclose(p.flatten(1).norm(dim=1), torch.tensor([2 ** 0.5, 1.0])) and (p[0, 2] == 0).all()
    whole = project(d, m, 1.0, per_piece=False)               # one radius for the whole review
    assert torch.allclose(whole.flatten(1).norm(dim=1), torch.tensor([1.0, 1.0]))
    small = d * 0.01
    assert torch.allclose(project(small, m, 1.0), small * m[..., None])   # inside the ball: untouched
    with pytest.raises(ValueError, match='norm'): project(d, m, 1.0, 'l1')
    with pytest.raises(ValueError, match='eps'): radius(m, -0.1)


def test_random_start_is_inside_the_ball_and_off_the_padding():
    torch.manual_seed(0)
    m = torch.tensor([[1.] * 10, [1.] * 4 + [0.] * 6])
    d = random_start((2, 10, 8), m, 0.2)
    n = d.flatten(1).norm(dim=1)
    assert (n <= radius(m, 0.2)).all() and (n > 0.3 * radius(m, 0.2)).all()
    assert (d[1, 4:] == 0).all()


def test_attacks_refuse_a_model_in_training_mode(tok):
    with pytest.raises(ValueError, match='eval mode'): Victim(tiny_bert().train(), tok)
    with pytest.raises(ValueError, match='eval mode'):
        embedding_attack(tiny_bert().train(), batch_of(tok, [TEXT]), torch.tensor([0]), 0.1)


# --- text attacks ---

def test_words_past_truncation_are_never_edited(tok, model):
    victim = Victim(model, tok, max_length=12)
    long = TEXT + ' ' + ' '.join(['headaches'] * 40)
    r = char_attack(victim, long, int(victim.probs([long])[0].argmax()), max_words=20)
    reach = victim.reach(long)
    assert 0 < reach < len(long) and all(sum(len(p) for p in split_words(long)[:i]) < reach for i, *_ in r.edits)


def test_split_words_joins_back():
    assert ''.join(split_words(TEXT + "  It's  fine!")) == TEXT + "  It's  fine!"


def test_char_edits_are_one_edit_away():
    rng = np.random.default_rng(0)
    for w in ['headaches', 'dizzy', 'ok']:
        for e in char_edits(w, rng):
            assert e != w and abs(len(e) - len(w)) <= 1


def _never_touches_stop_words(result):
    return all(old.lower() not in STOP_WORDS for _, old, _ in result.edits)


@pytest.mark.parametrize('kind', ['char', 'word'])
def test_attacks_respect_budgets_and_stop_words_and_really_flip(tok, model, kind):
    victim = Victim(model, tok, max_length=48)
    neighbours = CandidateTable(model, tok, k=8, min_similarity=0.0)
    texts = [' '.join(t.split()[:15]) for t in load_drug_reviews('test').sample(24).texts]   # short: a tiny model flips
    results = []
    for t in texts:
        label = int(victim.probs([t])[0].argmax())               # attack the model's own prediction
        r = (char_attack(victim, t, label, max_words=3) if kind == 'char'
             else word_attack(victim, t, label, neighbours, max_share=0.2))
        assert _never_touches_stop_words(r)
        assert len(r.edits) <= (3 if kind == 'char' else int(0.2 * r.words))
        if kind == 'word': assert all(n.lower() in [c.lower() for c, _ in neighbours(o)] for _, o, n in r.edits)
        if r.status == 'succeeded':                             # re-classified from scratch, with a fresh victim
            assert int(Victim(model, tok, max_length=48).probs([r.adversarial])[0].argmax()) != label
        else: assert r.adversarial_pred == label
        results.append(r)
    assert any(r.status == 'succeeded' for r in results)
    s = attack_summary(results)
    assert s['clean accuracy'] == 1.0 and s['accuracy under attack'] == 1 - s['attack success rate']
    assert '<ins' in edits_html(next(r for r in results if r.edits))


def test_stop_words_keep_the_halves_of_contractions_and_negations():
    "NLTK's list joined to scikit-learn's: no attack may swap did for didn, or touch not."
    assert {'didn', 'doesn', 'don', 'wasn', 'did', 'does', 'not', 'no', 'never'} <= STOP_WORDS
    assert [p for p in split_words("Didn't it work? It doesn't, and it did not.") if attackable(p)] == ['work']


def test_table_fingerprint_follows_its_candidates(tok, model):
    a, b = CandidateTable(model, tok, k=4, min_similarity=0.0), CandidateTable(model, tok, k=4, min_similarity=0.0)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 8
    assert CandidateTable(model, tok, k=3, min_similarity=0.0).fingerprint != a.fingerprint


def test_word_candidates_are_similar_and_keep_case(tok, model):
    n = CandidateTable(model, tok, k=5, min_similarity=0.2)
    c = n('Headache')
    assert all(w[0].isupper() and s >= 0.2 for w, s in c)
    assert n('zzqx') == []


def test_bad_input_to_attacks(tok, model):
    victim = Victim(model, tok)
    with pytest.raises(ValueError, match='empty'): char_attack(victim, '  ', 0)
    with pytest.raises(TypeError): char_attack(victim, None, 0)
    with pytest.raises(ValueError, match='budget'): char_attack(victim, TEXT, 0, max_words=-1)
    label = int(victim.probs([TEXT])[0].argmax())
    zero = char_attack(victim, TEXT, label, max_words=0)
    assert zero.adversarial == TEXT and zero.status == 'failed' and 'budget of 0' in zero.reason
    only_stop = 'It was not the one for me and I am not on it now.'
    lab = int(victim.probs([only_stop])[0].argmax())
    with pytest.raises(ValueError, match='no word the attack may edit'): char_attack(victim, only_stop, lab)
    wrong = char_attack(victim, TEXT, 1 - label)
    assert wrong.status == 'skipped' and wrong.queries == 1


# --- adversarial training ---

def test_fgm_step_leaves_the_embedding_weights_and_hooks_as_they_were(tok):
    model = tiny_bert(seed=0).train()
    layer = model.get_input_embeddings()
    before = layer.weight.detach().clone()
    b = dict(batch_of(tok, [TEXT, 'Awful, made me sick.']))
    loss = fgm_step(eps=1.0)(model, b, torch.tensor([1, 0]), torch.nn.functional.cross_entropy, lambda l: l.backward())
    assert torch.isfinite(loss)
    assert torch.equal(layer.weight, before) and not layer._forward_hooks
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_adversarial_gradient_differs_from_the_clean_one(tok):
    grads = {}
    for name, step in [('clean', standard_step), ('fgm', fgm_step(eps=5.0))]:
        model = tiny_bert(seed=0).train()
        torch.manual_seed(0)
        b = dict(batch_of(tok, [TEXT]))
        step(model, b, torch.tensor([1]), torch.nn.functional.cross_entropy, lambda l: l.backward())
        grads[name] = model.classifier.weight.grad.clone()
    assert not torch.allclose(grads['clean'], grads['fgm'])


@pytest.fixture(scope='module')
def swaps(tok, model):
    return CandidateTable(model, tok, k=4, min_similarity=0.0)


@pytest.mark.parametrize('make', ['fgm', 'pgd', 'freelb', 'augment', 'a2t'])
def test_adversarial_training_runs_through_the_shared_helper(tok, swaps, make):
    step = {'fgm': lambda: fgm_step(eps=0.5), 'pgd': lambda: pgd_step(eps=0.5, steps=3), 'freelb': lambda: freelb_step(eps=0.5),
            'augment': lambda: augment_step(swaps, p=1.0, share=0.2), 'a2t': lambda: a2t_step(swaps, fraction=0.5)}[make]()
    ds = load_drug_reviews('train').sample(16)
    res = train(tiny_bert(seed=0), tok, ds, None, TrainConfig(epochs=1, lr=1e-3, batch_size=8, max_length=32,
                                                              progress=False), step=step)
    assert res.steps == 2 and np.isfinite(res.history[0]['train_loss'])


def test_steps_refuse_no_ascent_steps():
    with pytest.raises(ValueError, match='PGD'): pgd_step(0.1, steps=0)
    with pytest.raises(ValueError, match='FreeLB'): freelb_step(0.1, steps=0)


def test_perturbation_hook_is_removed_even_on_error(tok, model):
    layer = model.get_input_embeddings()
    with pytest.raises(RuntimeError):
        with perturbed_embeddings(model, lambda out: torch.zeros_like(out)): raise RuntimeError('boom')
    assert not layer._forward_hooks


def test_a_second_attack_reuses_the_word_ranking(tok, model):
    victim = Victim(model, tok, max_length=48)
    label = int(victim.probs([TEXT])[0].argmax())
    first = char_attack(victim, TEXT, label, max_words=1)
    again = char_attack(victim, TEXT, label, max_words=1)
    assert first.queries > again.queries and first.edits == again.edits


def test_a_table_from_another_tokenizer_is_refused(tok, model):
    from llmcourse.models import load_tokenizer
    grown = load_tokenizer(); grown.add_tokens(['zzqxword'])
    with pytest.raises(ValueError, match="tokenizer has 30,523 entries but the model's embedding table has 30,522 rows"):
        CandidateTable(model, grown)


# --- the instrument: sentiment, DeepWordBug, spelling ---

def test_the_lexicon_flags_antonyms_and_negated_forms():
    assert len(sentiment_lexicon()) > 7000 and polarity('good') == 1 and polarity('bad') == -1 and polarity('tablets') == 0
    assert crosses_polarity('good', 'bad') and crosses_polarity('Effective', 'ineffective') and crosses_polarity('happy', 'unhappy')
    assert negated_form('able', 'unable') and negated_form('non-toxic', 'toxic') and not negated_form('awful', 'terrible')
    assert not crosses_polarity('awful', 'terrible') and not crosses_polarity('months', 'weeks')


def test_a_table_with_the_lexicon_holds_no_crossing_swap(tok, model):
    loose = CandidateTable(model, tok, k=16, min_similarity=-1.0)          # random embeddings: every word has 16 candidates
    crossing = [(w, c) for w in loose.words[:4000] for c, _ in loose(w) if crosses_polarity(w, c)]
    assert crossing                                                          # the rule has something to remove...
    kept = CandidateTable(model, tok, k=16, min_similarity=-1.0, lexicon=sentiment_lexicon())
    assert not [(w, c) for w in kept.words[:4000] for c, _ in kept(w) if crosses_polarity(w, c)]   # ...and removes it
    assert sum(kept.dropped.values()) > 0 and len(kept) > 0.9 * len(loose)


def test_polarity_crossing_share_counts_successes_with_a_crossing_swap():
    def res(status, edits): return AttackResult('x', 'y', 1, 1, 0 if status == 'succeeded' else 1, status, edits)
    results = [res('succeeded', [(0, 'good', 'bad')]), res('succeeded', [(0, 'awful', 'terrible'), (2, 'happy', 'glad')]),
               res('failed', [(0, 'good', 'bad')]), res('succeeded', [(4, 'effective', 'ineffective')])]
    assert crossing_edits(results[0]) == [('good', 'bad')] and crossing_edits(results[1]) == []
    assert polarity_crossing_share(results) == pytest.approx(2 / 3)
    assert np.isnan(polarity_crossing_share(results[2:3]))


def test_deepwordbug_edits_are_textattacks_four_transformations():
    rng = np.random.default_rng(0)
    import string
    for w in ['headaches', 'dizzy', 'ok']:
        edits = deepwordbug_edits(w, rng)
        assert edits and all(e != w and set(e) <= set(string.ascii_letters) for e in edits)
        assert all(abs(len(e) - len(w)) <= 1 for e in edits)
        assert all(sorted(e) == sorted(w) or len(e) != len(w) or sum(a != b for a, b in zip(e, w)) == 1 for e in edits)
    assert deepwordbug_edits('a', rng) == []


def test_deepwordbug_ranks_with_the_unknown_token_and_respects_the_budget(tok, model):
    victim = Victim(model, tok, max_length=48)
    label = int(victim.probs([TEXT])[0].argmax())
    r = deepwordbug_attack(victim, TEXT, label, max_words=2)
    assert len(r.edits) <= 2 and _never_touches_stop_words(r)
    assert (TEXT, label, 'unk') in victim.rankings and (TEXT, label, 'delete') not in victim.rankings


def test_the_spelling_front_end_undoes_one_edit_and_keeps_known_words(tok):
    sp = SpellingFrontEnd({'nausea': 5, 'awful': 3, 'helped': 2, 'the': 9, 'was': 9, 'it': 9, 'but': 9, 'awl': 1})
    assert sp('The nasuea was awfl but it hepled') == 'The nausea was awful but it helped'
    assert sp('AWFL, Nausae!') == 'AWFUL, Nausea!'
    assert sp('zzzzqq stays') == 'zzzzqq stays'                             # nothing known one edit away
    assert sp.correct('awl') == 'awl'                                        # a known word is never changed
    with pytest.raises(ValueError, match='vocabulary'): SpellingFrontEnd({})
    with pytest.raises(ValueError, match='vocabulary'): SpellingFrontEnd({'': 3, '123': 1})
    texts = load_drug_reviews('train').sample(40).texts
    trained = SpellingFrontEnd.from_texts(texts, tok)
    assert all(trained(t) == t for t in texts)                               # the training reviews pass unchanged


def test_an_attack_queries_the_whole_pipeline(tok, model):
    sp = SpellingFrontEnd.from_texts([TEXT], tok)
    typo = TEXT.replace('headaches', 'headahces').replace('dizzy', 'dizy')
    guarded = Victim(model, tok, max_length=48, front_end=sp)
    assert np.allclose(guarded.probs([typo]), Victim(model, tok, max_length=48).probs([TEXT]))
    assert guarded.queries == 1


# --- training on edits ---

def test_hotflip_and_random_edits_change_only_attackable_words(tok, model, swaps):
    ids = tok(TEXT)['input_ids']
    emb = model.get_input_embeddings().weight.detach()
    grad = torch.randn(len(ids), emb.shape[1], generator=torch.Generator().manual_seed(0))
    flipped = hotflip_swaps(ids, grad, emb, swaps, 0.3)
    changed = [(o, n) for o, n in zip(ids, flipped) if o != n]
    assert len(flipped) == len(ids) and changed and all(n in swaps.ids[o].tolist() for o, n in changed)
    assert all(tok.convert_ids_to_tokens(o).lower() not in STOP_WORDS for o, _ in changed)
    rng = np.random.default_rng(0)
    words = random_edits(ids, swaps, 0.3, rng, 'word')
    assert len(words) == len(ids) and all(n in swaps.ids[o].tolist() for o, n in zip(ids, words) if o != n)
    chars = random_edits(ids, swaps, 0.3, rng, 'char')
    assert chars != ids and chars[0] == ids[0] and chars[-1] == ids[-1]
    with pytest.raises(ValueError, match='kind'): random_edits(ids, swaps, 0.3, rng, 'both')


def _weights_after(tok, step, seed=0):
    model = tiny_bert(seed=0)
    train(model, tok, load_drug_reviews('train').sample(16, seed=seed), None,
          TrainConfig(epochs=1, lr=1e-3, batch_size=8, max_length=32, progress=False, seed=0), step=step)
    return model.classifier.weight.detach().clone()


def test_a2t_trains_clean_first_and_augmentation_at_p0_is_plain(tok, swaps):
    plain = _weights_after(tok, standard_step)
    assert torch.allclose(_weights_after(tok, a2t_step(swaps, clean_batches=2)), plain)     # both batches clean
    assert not torch.allclose(_weights_after(tok, a2t_step(swaps, fraction=1.0, clean_batches=0)), plain)
    assert torch.allclose(_weights_after(tok, augment_step(swaps, p=0.0)), plain)
    assert not torch.allclose(_weights_after(tok, augment_step(swaps, p=1.0)), plain)
    with pytest.raises(ValueError, match='probability'): augment_step(swaps, p=1.5)
    with pytest.raises(ValueError, match='fraction'): a2t_step(swaps, fraction=0)


def test_victim_switches_attention_for_its_queries_and_keeps_the_answers(tok):
    texts = [TEXT, 'Did nothing for my headaches.']
    eager = Victim(tiny_bert(seed=3).eval(), tok, max_length=48, precision='fp32', attention='eager')
    sdpa = Victim(tiny_bert(seed=3).eval(), tok, max_length=48, precision='fp32', attention='sdpa')
    assert sdpa.model.config._attn_implementation == 'sdpa' and eager.model.config._attn_implementation == 'eager'
    assert np.allclose(eager.probs(texts), sdpa.probs(texts), atol=1e-5)
    with pytest.raises(ValueError, match='attention must be'): Victim(tiny_bert().eval(), tok, attention='flash')


def test_victim_answers_a_repeated_text_once_and_the_same(tok):
    calls = []
    victim = Victim(tiny_bert(seed=3).eval(), tok, max_length=48, precision='fp32', front_end=lambda t: t.replace('awfull', 'awful'))
    forward = victim.model.forward
    victim.model.forward = lambda *a, **k: (calls.append(k['input_ids'].shape[0]), forward(*a, **k))[1]
    first = victim.probs([TEXT, 'It was awful.'])
    again = victim.probs(['It was awfull.', TEXT, TEXT])       # the front end undoes the edit: three texts the model has read
    assert victim.queries == 5 and calls == [2]                 # every text counts as a query; the model ran once
    assert np.array_equal(again, first[[1, 0, 0]])


def test_victim_answers_with_bf16_weights_close_to_float32_and_leaves_the_model(tok):
    model = tiny_bert(seed=3).eval()
    texts = [TEXT, 'Did nothing for my headaches.']
    full = Victim(model, tok, max_length=48, precision='fp32').probs(texts)
    half = Victim(model, tok, max_length=48, precision='fp32', weights='bf16')
    assert half.model is not model and next(half.model.parameters()).dtype == torch.bfloat16
    assert next(model.parameters()).dtype == torch.float32
    assert np.allclose(half.probs(texts), full, atol=0.02)
    with pytest.raises(ValueError, match='weights must be'): Victim(model, tok, weights='int8')
