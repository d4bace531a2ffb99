"""Committed outputs show what a learner's own run shows: no path of the machine that ran them, no progress bar frozen at
its first frame, no warning a learner cannot act on."""
import json
import re

import nbformat
import pytest

from nbtools import notebooks

NOISE = {
    'a path of the machine that ran it': re.compile(r'(/tmp/|/work/|/home/|/root/|/Users/|/private/var/|ipykernel_\d+)'),
    'a progress bar frozen at 0%': re.compile(r'\b0%\|'),
    "the kernel's TCP warning": re.compile(r'running over TCP without encryption'),
    "NumPy's non-writable array warning": re.compile(r'array is not writable'),
    "transformers' over-512-pieces warning": re.compile(r'Token indices sequence length is longer'),
    "TensorBoard's NOTE": re.compile(r'NOTE: Using experimental fast data loading'),
}


def output_text(out) -> str:
    if 'text' in out: return ''.join(out['text'])
    if out.get('output_type') == 'error': return '\n'.join(out.get('traceback', [])) + out.get('evalue', '')
    return json.dumps(out.get('data', {}))


def noise_in(nb) -> list:
    return [f'cell {i}: {what}: ...{text[max(0, m.start() - 60):m.end() + 40]!r}...'
            for i, cell in enumerate(nb.cells) for out in cell.get('outputs', [])
            for text in [output_text(out)] for what, pattern in NOISE.items() if (m := pattern.search(text))]


@pytest.mark.parametrize('path', notebooks(), ids=lambda p: p.stem)
def test_committed_outputs_hold_no_build_machine_paths_frozen_bars_or_unactionable_warnings(path):
    found = noise_in(nbformat.read(path, as_version=4))
    assert not found, f'{path.name}:\n' + '\n'.join(found)


def test_the_check_finds_each_kind_of_noise():
    outs = ['training state in /tmp/tmpay6s_uav is corrupt', 'encoding:   0%|          | 0/15',
            'Kernel is running over TCP without encryption', 'The given NumPy array is not writable, and PyTorch',
            'Token indices sequence length is longer than the specified maximum', 'NOTE: Using experimental fast data loading']
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output('stream', name='stderr', text=t)])
                                         for t in outs])
    assert len(noise_in(nb)) == len(outs)
    assert not noise_in(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        outputs=[nbformat.v4.new_output('stream', name='stdout', text='epoch 1 step 29 valid_accuracy 0.7073 100%|')])]))
