"""Every chapter's exercises: each checker accepts the chapter's reference solution (read from the
notebook's folded solution cell), rejects a typical wrong answer with the hint meant for it, and
reports a missing answer without raising."""
import ast
import random
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

import make_learner_edition as edition   # defines what a solution cell is and where a notebook's checkers live
from nbtools import ROOT, chapters

CHAPTERS = [p.stem for p in chapters()]


def _cells(chapter):
    return nbformat.read(ROOT/'nbs'/f'{chapter}.ipynb', as_version=4).cells


def _module(chapter):
    return edition.module_of(nbformat.read(ROOT/'nbs'/f'{chapter}.ipynb', as_version=4))


def _namespace(chapter) -> dict:
    "The chapter's own import cells, then its module: the names a solution cell sees in the notebook."
    ns = {}
    for c in _cells(chapter):
        lines = c.source.splitlines()
        if (c.cell_type == 'code' and lines and edition.EXPORT_CELL not in c.source and 'default_exp' not in c.source
                and all(re.match(r'\s*(import |from |#\||$)', l) for l in lines)):
            exec(c.source, ns)
    exec(f'from llmcourse.{_module(chapter)} import *', ns)
    exec(f'from llmcourse.{_module(chapter)}_checks import *', ns)
    return ns


def _solutions(chapter) -> list:
    return [c.source for c in _cells(chapter) if edition.is_solution(c)]


def test_every_chapter_has_three_exercises_with_solutions():
    for ch in CHAPTERS:
        cells = _cells(ch)
        sections, current = [], None          # (title, number of solution cells under it), one per exercise
        for c in cells:
            if c.cell_type == 'markdown' and c.source.startswith('#'):
                current = [c.source.split('\n')[0], 0] if c.source.startswith(('### Exercise', '### Open exercise')) else None
                if current: sections.append(current)
            elif current and edition.is_solution(c): current[1] += 1
        closed = [n for t, n in sections if t.startswith('### Exercise')]
        assert len(closed) >= 3, f'{ch}: {len(closed)} exercises'
        assert all(n == 1 for n in closed), f'{ch}: each exercise needs one reference solution: {sections}'
        assert all(n <= 1 for t, n in sections), f'{ch}: an open exercise has more than one reference solution'
        assert len(_solutions(ch)) == sum(n for _, n in sections), f'{ch}: a solution outside the exercises'
        for c in cells:
            if edition.is_solution(c):
                assert c.metadata.get('jupyter', {}).get('source_hidden'), f'{ch}: a solution cell is not folded'


@pytest.mark.parametrize('chapter', CHAPTERS)
def test_reference_solutions_pass_their_checkers(chapter):
    ns = _namespace(chapter)
    for src in _solutions(chapter):
        tree = ast.parse(src)
        *body, last = tree.body
        exec(compile(ast.Module(body=body, type_ignores=[]), chapter, 'exec'), ns)
        feedback = eval(compile(ast.Expression(last.value), chapter, 'eval'), ns)
        assert feedback.correct, f'{chapter}: {feedback}'
        assert feedback.message


# --- one typical wrong answer per checker, and a word its hint must contain -------------------------------

def _unseeded_torch(seed):
    random.seed(seed); np.random.seed(seed)
    return random.random(), float(np.random.rand()), torch.rand(1).item()

def _regularised_bias_grad(w, b, X, y, alpha):
    r = 1 / (1 + np.exp(-(X @ w + b))) - y
    return X.T @ r / len(y) + alpha * w, r.mean() + alpha * b

def _hessian_bias_regularised(w, b, X, alpha):
    s = 1 / (1 + np.exp(-(X @ w + b)))
    X1 = np.c_[X, np.ones(len(X))]
    return X1.T @ (X1 * (s * (1 - s))[:, None]) / len(X) + alpha * np.eye(X.shape[1] + 1)

def _independent_budgets(labels, sizes, seed):
    rng = np.random.default_rng(seed)
    return {n: rng.choice(len(labels), n, replace=False) for n in sizes}

def _unstratified(labels, frac, seed):
    idx = np.random.default_rng(seed).permutation(len(labels))
    k = round(frac * len(labels))
    return idx[k:], idx[:k]

def _counting_skipped(statuses):
    return statuses.count('failed') / len(statuses), statuses.count('succeeded') / len(statuses)

def _unweighted_ece(probs, labels, n_bins):
    conf, right = probs.max(1), probs.argmax(1) == labels
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return float(np.mean([abs(right[bins == b].mean() - conf[bins == b].mean()) for b in range(n_bins) if (bins == b).any()]))

def _bert_without_pooler(v, h, l, i, p, t):
    lin = lambda a, b: a * b + b
    return (v + p + t) * h + 2 * h + l * (4 * lin(h, h) + lin(h, i) + lin(i, h) + 4 * h)

def _word_pieces_without_markers():
    from llmcourse.models import load_tokenizer
    return len(load_tokenizer()('Sertraline made my anxiety manageable.')['input_ids']) - 2

def _masking_every_position(ids, maskable, mask_id, vocab, p, generator):
    chosen = torch.rand(ids.shape, generator=generator) < p            # ignores `maskable`: [CLS] can be chosen
    return torch.where(chosen, torch.full_like(ids, mask_id), ids), torch.where(chosen, ids, torch.full_like(ids, -100))


WRONG = {
    'config.check_seeded_draws': (_unseeded_torch, 'torch'),
    'config.check_atomic_write': (lambda path, text: Path(path).write_text(text), 'half written'),
    'config.check_is_fast': (lambda env: env.get('LLMCOURSE_FAST') == '1', 'fast_mode() says'),
    'data.check_majority_accuracy': (lambda tr, te: float(np.mean(te == np.bincount(te).argmax())), 'peeks'),
    'data.check_shared_texts': (lambda a, b: set(a) & set(b), 'lower-case'),
    'data.check_stratified_split': (_unstratified, 'each class'),
    'models.check_word_pieces': (_word_pieces_without_markers, '[CLS]'),
    'models.check_mean_pool': (lambda hidden, mask: hidden.mean(1), 'padding'),
    'models.check_bert_parameters': (_bert_without_pooler, 'outside the layers'),
    'pretraining.check_attention': (lambda q, k, v, mask: (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1) @ v, 'mask'),
    'pretraining.check_causal_mask': (lambda n: torch.ones(n, n, dtype=torch.bool).triu(), 'upper triangle'),
    'pretraining.check_masking': (_masking_every_position, '[CLS]'),
    'multimodal.check_info_nce': (lambda x, t, tau: torch.nn.functional.cross_entropy(x @ t.T / tau, torch.arange(len(x))), 'caption-to-image'),
    'multimodal.check_recall_at_k': (lambda sim, q, items, k: float((items[sim.argmax(1)] == q).float().mean()), 'recall@1'),
    'multimodal.check_gated_fusion': (lambda ht, hm, zl: (1 - torch.sigmoid(zl)) * ht + torch.sigmoid(zl) * hm, 'swapped'),
    'logreg.check_grad': (_regularised_bias_grad, 'bias term'),
    'logreg.check_stable_sigmoid': (lambda z: 1 / (1 + np.exp(-z)), 'negative z'),
    'logreg.check_hessian': (_hessian_bias_regularised, 'bias is not regularised'),
    'finetune.check_decays': (lambda name, p: not name.endswith('bias'), 'LayerNorm'),
    'finetune.check_lr_at': (lambda s, total, warm, peak: peak * (total - s) / total, 'warm-up'),
    'finetune.check_balanced_weights': (lambda labels, k: np.bincount(labels, minlength=k) / len(labels), 'inverse'),
    'benchmark.check_training_flops': (lambda m, mask: 6 * sum(p.numel() for n, p in m.named_parameters() if 'embeddings' not in n) * mask.numel(), 'padding'),
    'benchmark.check_to_bf16': (lambda x: (x.view(torch.int32) & -65536).view(torch.float32), 'truncates'),
    'benchmark.check_turn_order': (lambda ways, rounds: list(ways) * rounds, 'later on average'),
    'transfer.check_nested_budgets': (_independent_budgets, 'not all inside'),
    'transfer.check_lora_parameters': (lambda h, l, r, t: l * t * r * h, 'two factors'),
    'transfer.check_layer_lrs': (lambda base, d, n: [base * d ** k for k in range(n + 2)], 'reversed'),
    'adversarial.check_project_l2': (lambda delta, eps: delta * min(1.0, eps / float(delta.norm())), 'whole batch'),
    'adversarial.check_fgsm_linf': (lambda grad, mask, eps: eps * grad.sign(), 'padding'),
    'adversarial.check_rates': (_counting_skipped, 'skipped'),
    'explore.check_ece': (_unweighted_ece, 'counts equally'),
    'explore.check_fit_t': (lambda z, y: 1 / __import__('llmcourse.calibration').calibration.fit_temperature(z, y), '1/T'),
    'explore.check_ig': (lambda grad_f, x, b, steps: np.mean([grad_f(b + a * (x - b)) for a in (np.arange(steps) + .5) / steps], axis=0), 'multiply'),
}


def _checks_of(module):
    "Where a chapter's checkers live: its own module of checks (`models_checks` for `models`), or `exercises`."
    import importlib
    try: return importlib.import_module(f'llmcourse.{module}_checks')
    except ModuleNotFoundError: return importlib.import_module(f'llmcourse.{module}')


def _checker(name):
    module, fn = name.split('.')
    return getattr(_checks_of(module), fn)


@pytest.mark.parametrize('name', sorted(WRONG))
def test_checker_rejects_a_wrong_answer_with_its_hint(name):
    wrong, hint = WRONG[name]
    answer = wrong() if name == 'models.check_word_pieces' else wrong
    feedback = _checker(name)(answer)
    assert not feedback.correct, f'{name} accepted a wrong answer'
    assert hint in feedback.message, f'{name}: {feedback.message!r} lacks {hint!r}'


@pytest.mark.parametrize('name', sorted(WRONG))
def test_checker_reports_a_missing_answer_without_raising(name):
    def stub(*args, **kwargs): raise NotImplementedError
    for answer in (None,) if name == 'models.check_word_pieces' else (None, stub):
        feedback = _checker(name)(answer)
        assert not feedback.correct and 'no answer yet' in feedback.message


def test_every_checker_has_a_wrong_answer_test():
    found = {f'{m}.{n}' for m in {k.split('.')[0] for k in WRONG} | {_module(c) for c in CHAPTERS}
             for n in getattr(_checks_of(m), '__all__', ()) if n.startswith('check_')}
    assert found == set(WRONG), found ^ set(WRONG)



def test_the_mean_pooling_checker_compares_with_the_package_even_when_the_notebook_redefines_mean_pool():
    "In the notebook the checker's cell and the learner's answer share a namespace, and the answer is named `mean_pool`."
    from nbtools import strip_directives
    cell = next(c.source for c in _cells('00_models') if "@checker('mean pooling')" in c.source)
    ns = {}
    exec('from llmcourse.exercises import Hint, checker\nfrom llmcourse.pooling import mean_pool', ns)
    exec(strip_directives(cell), ns)
    exec('def mean_pool(hidden, attention_mask): return hidden.mean(1)', ns)    # a wrong answer, under the course's name
    assert not ns['check_mean_pool'](ns['mean_pool']).correct
