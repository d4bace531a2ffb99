"""TensorBoard as a learner opens it: a short run of the course's `train` writes its logs, TensorBoard serves them
on loopback, and headless Chromium finds the training loss, the learning rate and the validation metrics on the
scalars dashboard. The screenshot goes where the widget screenshots go."""
import io
from contextlib import redirect_stdout

import pytest

from conftest import free_port
from test_widgets import screenshot_dir

TAGS = ['train/loss', 'train/lr', 'valid/loss', 'valid/accuracy', 'valid/macro_f1']


@pytest.fixture(scope='module')
def tensorboard_url(tmp_path_factory):
    from tensorboard import program
    from llmcourse.data import load_drug_reviews
    from llmcourse.finetune import TrainConfig, train
    from llmcourse.models import load_tokenizer, tiny_bert
    logs = tmp_path_factory.mktemp('runs')
    cfg = TrainConfig(epochs=2, lr=1e-3, batch_size=8, max_length=32, progress=False, log_dir=str(logs/'tiny-recipe'))
    with redirect_stdout(io.StringIO()):
        train(tiny_bert(), load_tokenizer(), load_drug_reviews('train').sample(32), load_drug_reviews('valid').sample(16), cfg)
    board = program.TensorBoard()
    board.configure(argv=[None, '--logdir', str(logs), '--host', '127.0.0.1', '--port', str(free_port())])
    return board.launch()


def test_the_scalars_dashboard_lists_loss_learning_rate_and_validation_metrics(browser, tensorboard_url):
    import json, re
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.set_default_timeout(60_000)
    tags = json.loads(page.request.get(f'{tensorboard_url}data/plugin/scalars/tags').text())   # what TensorBoard read
    assert sorted(tags.get('tiny-recipe', {})) == sorted(TAGS), tags
    page.goto(f'{tensorboard_url}#timeseries', wait_until='load')
    page.get_by_text('valid/accuracy').first.wait_for()
    page.wait_for_timeout(1500)                            # let the charts draw
    text = re.sub(r'\s+', ' ', page.inner_text('body'))
    assert 'tiny-recipe' in text, 'the run should be listed by its folder name'
    assert re.search(r'train ?2 cards', text) and re.search(r'valid ?3 cards', text), 'the training and validation groups should show all their curves'
    flat = text.replace(' /', '/')
    assert all(t in flat for t in TAGS[:4]), [t for t in TAGS if t not in flat]
    page.screenshot(path=str(screenshot_dir()/'tensorboard_02_finetune.png'))
    page.close()
