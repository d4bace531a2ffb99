"""Every measured number in the prose is one the notebook shows: the matcher, and the record that holds the notebooks to it."""
import nbformat
import pytest

import prose_numbers as pn


def notebook(markdown: str, output: str):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('print(x)')
    cell.outputs = [nbformat.v4.new_output('stream', name='stdout', text=output)]
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), cell]
    return nb


@pytest.mark.parametrize('prose, output, found', [
    ('Accuracy 0.811 over three seeds.', 'accuracy 0.8114', True),        # shown at the precision the prose gives
    ('Accuracy 0.811 over three seeds.', 'accuracy 0.8164', False),       # another number
    ('It chose 14% of the pieces.', 'share 0.1405', True),                # a share, as a percentage
    ('It agrees to 2.6e-06.', 'gap 2.64e-06', True),                      # scientific notation
    ('It agrees to 2.6e-06.', 'gap 2.9e-05', False),
    ('BERT read 3.3 billion words (Devlin et al., 2019).', '', True),     # a cited number
    ('Tested on torch 2.13.', '', True),                                  # a version, no measurement
    ('46 of the 509 reviews are neutral.', '46 reviews', False),          # "N of M": both must be shown
])
def test_a_prose_number_is_found_only_where_the_notebook_shows_it(tmp_path, prose, output, found):
    path = tmp_path/'nb.ipynb'
    nbformat.write(notebook(prose, output), path)
    missing, checked = pn.unmatched(path, results=[])
    assert checked >= 1 or found
    assert (not missing) == found, missing


def test_no_notebook_states_a_number_its_run_did_not_show_beyond_the_record():
    now, record = set(pn.all_unmatched()), set(pn.known())
    new = sorted(now - record)
    assert not new, ('numbers in the prose that no output shows (bind them to the run, or cite their source):\n'
                     + '\n'.join(f'  {nb}: {n!r} in "{s}"' for nb, n, s in new))
    fixed = sorted(record - now)
    assert not fixed, f'{len(fixed)} recorded numbers are now shown: run `python scripts/prose_numbers.py --write-known`'
