"""The docs site's results page: every number of results.json, labelled and grouped by the question it answers, each
beside its interval, under its chapter."""
import json
import re

import nbformat

from build_docs import ROOT, chapter_figures, interval_key, results_markdown


def test_each_number_finds_its_interval_and_intervals_are_not_rows_of_their_own():
    numbers = {'binary_test_accuracy_mean': 0.81, 'binary_test_accuracy_std': 0.01, 'binary_test_accuracy_ci95': [0.77, 0.85],
               'best_binary_test_accuracy': 0.85, 'best_binary_test_ci95': [0.8, 0.9], 'orphan_ci95': [0, 1], 'minutes': 8.85}
    assert interval_key('binary_test_accuracy_mean', numbers) == 'binary_test_accuracy_ci95'
    assert interval_key('best_binary_test_accuracy', numbers) == 'best_binary_test_ci95'
    assert interval_key('binary_test_accuracy_std', numbers) is None and interval_key('minutes', numbers) is None
    page = results_markdown({'02_finetune': numbers}, {'02_finetune': ['02_learning_curves.png']})
    assert ('| [Test accuracy of the recipe, mean of three random seeds](02_finetune.ipynb#the-recipe-and-results-over-three-'
            'random-seeds) | 0.81 | [0.77, 0.85] | `binary_test_accuracy_mean` |') in page
    assert '### How well does the recipe do, over three random seeds?' in page
    assert '| 0.85 | [0.8, 0.9] | `best_binary_test_accuracy` |' in page
    assert '`binary_test_accuracy_ci95`' not in page
    assert '### Other numbers' in page and '| orphan_ci95 | [0, 1] |  | `orphan_ci95` |' in page   # unlabelled: shown, never lost
    assert '[02_finetune](02_finetune.ipynb)' in page and '`02_learning_curves.png`' in page
    bench = results_markdown({'02_finetune': {'parallel_seeds_speedup': 1.2}}, {})
    assert 'From the full runs of [02_finetune](02_finetune.ipynb) and [02b_engineering](02b_engineering.ipynb).' in bench
    assert '](02b_engineering.ipynb#measuring-speed-a-profile-a-ratio-a-parity-check) | 1.2 |' in bench


def test_the_committed_results_all_appear_with_their_chapters_figures():
    results = json.loads((ROOT/'results.json').read_text())
    page = results_markdown(results, {c: chapter_figures(c) for c in results})
    for chapter, numbers in results.items():
        assert f'## {chapter}' in page and (ROOT/'nbs'/f'{chapter}.ipynb').exists(), chapter
        for key in numbers:
            assert f'`{key}`' in page or interval_key(key, numbers) is None and any(interval_key(k, numbers) == key for k in numbers), key
    assert '01_pretraining_mlm_curves.png' in chapter_figures('01_pretraining')
    assert not any(f.startswith('01_pretraining') for f in chapter_figures('01_logreg'))   # 01_* is not all 01_logreg's


def test_each_chapter_shows_its_key_figure_when_it_has_one():
    from build_docs import KEY_FIGURES
    page = results_markdown({'04_adversarial': {'plain_char_success': 0.347}, '00_data': {'n': 1}},
                            {'04_adversarial': ['04_test.png', '04_validation.png'], '00_data': []})
    assert '![04_adversarial: its key figure](figures/04_test.png)' in page and page.count('![') == 1
    assert all((ROOT/'figures'/f).exists() for f in KEY_FIGURES.values()), 'a key figure names a file figures/ lacks'


def test_every_committed_number_has_a_label_and_every_section_is_a_heading_of_its_chapter():
    from result_labels import QUESTIONS, label_of, section_of
    results = json.loads((ROOT/'results.json').read_text())
    unlabelled = [(c, k) for c, numbers in results.items() for k in numbers
                  if label_of(c, k) is None and not any(interval_key(other, numbers) == k for other in numbers)]
    assert not unlabelled, f'give these a label in scripts/result_labels.py: {unlabelled}'
    assert label_of('03_transfer', 'test_accuracy[LoRA, 463 labels]')[2].endswith(': LoRA, 463 labels')
    assert label_of('03_transfer', 'test_accuracy_of_something') is None
    def headings(notebook):
        nb = nbformat.read(ROOT/'nbs'/f'{notebook}.ipynb', as_version=4)
        return {m.strip() for c in nb.cells if c.cell_type == 'markdown' for m in re.findall(r'^#{1,3} (.+)$', c.source, re.M)}
    for chapter, questions in QUESTIONS.items():
        for question, section, _ in questions:
            notebook, heading = section_of(chapter, section)
            assert heading in headings(notebook), f'{chapter}: "{question}" links to a section {notebook} lacks: {heading}'
