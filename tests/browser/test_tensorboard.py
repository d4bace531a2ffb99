"""TensorBoard as a learner opens it: chapter 02, run in JupyterLab (fast mode), starts a TensorBoard server on
loopback over the course's training logs; headless Chromium opens the address the notebook prints and finds the
recipe's runs with their training loss, learning rate and validation metrics. The screenshot goes where the widget
screenshots go (figures/ when refreshing them)."""
import json
import re

from test_widgets import page, run_notebook, screenshot_dir  # noqa: F401 (page: the JupyterLab page fixture)

TAGS = ['train/loss', 'train/lr', 'valid/loss', 'valid/accuracy', 'valid/macro_f1']


def test_chapter_02_serves_its_runs_in_tensorboard(page, jupyterlab):
    run_notebook(page, jupyterlab, '02_finetune')
    printed = page.locator('.jp-OutputArea-output', has_text='TensorBoard serves the training logs at').first.inner_text()
    url = re.search(r'http://127\.0\.0\.1:\d+/?', printed).group(0).rstrip('/') + '/'
    tags = json.loads(page.request.get(f'{url}data/plugin/scalars/tags').text())       # what TensorBoard read
    complete = [run for run, t in tags.items() if set(TAGS) <= set(t)]
    assert complete, f'no run with all of {TAGS}: {tags}'
    board = page.context.new_page()
    board.goto(f'{url}#timeseries', wait_until='load')
    board.get_by_text('valid/accuracy').first.wait_for()
    board.wait_for_timeout(1500)                              # let the charts draw
    text = re.sub(r'\s+', ' ', board.inner_text('body'))
    assert complete[0] in text, 'the runs should be listed by their folder names'
    assert re.search(r'train ?2 cards', text) and re.search(r'valid ?3 cards', text), 'both groups of curves should be shown'
    assert all(t in text.replace(' /', '/') for t in TAGS[:4])
    board.screenshot(path=str(screenshot_dir()/'tensorboard_02_finetune.png'))
    board.close()
