"""Each chapter's widget, used the way a learner uses it: JupyterLab in headless Chromium opens the
notebook, runs every cell (fast mode), moves one control and checks that the rendered output changes
as it should. A screenshot of each widget goes to a scratch folder, or with LLMCOURSE_REFRESH_SCREENSHOTS=1 to
figures/, where the README and the docs site show it."""
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RUN_ALL = """async () => {
  const nb = window.jupyterapp.shell.currentWidget;
  await nb.context.ready; await nb.sessionContext.ready;
  while (!nb.sessionContext.session || !nb.sessionContext.session.kernel) await new Promise(r => setTimeout(r, 200));
  await window.jupyterapp.commands.execute('notebook:run-all-cells');
  const kernel = () => nb.sessionContext.session.kernel.status;
  for (let idle = 0; idle < 5; ) { await new Promise(r => setTimeout(r, 200)); idle = kernel() === 'idle' ? idle + 1 : 0; }
}"""

PROBLEMS = """() => {
  const nb = window.jupyterapp.shell.currentWidget, problems = [];
  nb.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code' || !cell.model.sharedModel.getSource().trim()) return;
    if (cell.model.executionCount === null) problems.push(`cell ${i} did not run`);
    for (let j = 0; j < cell.model.outputs.length; j++) {
      const o = cell.model.outputs.get(j).toJSON();
      if (o.output_type === 'error') problems.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
  });
  return problems;
}"""


def run_notebook(page, lab, chapter):
    page.goto(f"{lab['url']}/lab/tree/{chapter}.ipynb?reset&token={lab['token']}")   # reset: no other notebook restored
    page.wait_for_function('(path) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; '
                           'return w && w.context && w.context.path === path && w.sessionContext; }', arg=f'{chapter}.ipynb')
    page.evaluate(RUN_ALL)
    problems = page.evaluate(PROBLEMS)
    assert not problems, f'{chapter} did not run cleanly in JupyterLab: {problems}'


def open_widget(page, lab, chapter, control_css, **filters):
    "Run the chapter's notebook in JupyterLab; return the widget's control (first match in the outputs) and the whole widget."
    run_notebook(page, lab, chapter)
    control = page.locator(f'.jp-OutputArea-output {control_css}', **filters).first
    return control, widget_root(control)


def widget_root(control):
    "The outermost widget box around a control: the whole widget, for the screenshot."
    return control.locator('xpath=ancestor::div[contains(concat(" ", normalize-space(@class), " "), " widget-vbox ")][last()]')


def wait_for_change(page, locator, before, what, timeout=60_000):
    "Wait until `locator`'s inner HTML differs from `before`; fail with a message naming what did not react."
    handle = locator.element_handle()
    try:
        page.wait_for_function('([el, before]) => el.innerHTML !== before', arg=[handle, before], timeout=timeout)
    except Exception as e:
        raise AssertionError(f'the widget did not react: {what} stayed the same after the control moved') from e
    return locator.inner_html()


def screenshot_dir() -> Path:
    "figures/ when LLMCOURSE_REFRESH_SCREENSHOTS=1 asks to refresh the committed screenshots, else a scratch folder."
    if os.environ.get('LLMCOURSE_REFRESH_SCREENSHOTS') == '1': return ROOT/'figures'
    d = Path(tempfile.gettempdir())/'llmcourse-screenshots'
    d.mkdir(exist_ok=True)
    return d


def screenshot(root, chapter):
    root.scroll_into_view_if_needed()
    root.screenshot(path=str(screenshot_dir()/f'widget_{chapter}.png'))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={'width': 1400, 'height': 1000})
    p = context.new_page()
    p.set_default_timeout(180_000)
    yield p
    try: p.evaluate('() => window.jupyterapp.serviceManager.sessions.shutdownAll()')   # free the kernel's memory
    finally: context.close()


def test_tokeniser_explorer_shows_the_pieces_of_typed_text(page, jupyterlab):
    box, root = open_widget(page, jupyterlab, '00_models', '.widget-text input')
    table = root.locator('.widget-html-content').first
    before = table.inner_html()
    assert '[CLS]' in before and '##tral' not in before, 'the explorer should start with the pieces of its own sentence'
    box.fill('Sertraline works')
    after = wait_for_change(page, table, before, 'the word-piece table')
    assert '##tral' in after and 'works' in after, 'the table should show the pieces of the typed text'
    screenshot(root, '00_models')


def test_logreg_playground_redraws_when_the_learning_rate_moves(page, jupyterlab):
    slider, root = open_widget(page, jupyterlab, '01_logreg', '.widget-slider', has_text='learning rate')
    plot, summary = root.locator('.widget-output').first, root.locator('.widget-label', has_text='accuracy').first
    before_plot, before_summary = plot.inner_html(), summary.inner_text()
    readout = slider.locator('.widget-readout')
    readout.click(); page.keyboard.press('Control+A'); page.keyboard.type('12'); page.keyboard.press('Enter')
    wait_for_change(page, plot, before_plot, 'the decision-boundary figure')
    assert summary.inner_text() != before_summary, 'the accuracy and loss summary should change with the learning rate'
    assert readout.inner_text().startswith('12'), readout.inner_text()
    screenshot(root, '01_logreg')


def test_mask_explorer_fills_the_typed_mask_at_each_pretraining_step(page, jupyterlab):
    box, root = open_widget(page, jupyterlab, '01_pretraining', '.widget-text input')
    table = root.locator('.widget-html-content').first
    before = table.inner_html()
    assert 'mask-table' in before and 'step 0' in before, 'the explorer should start with a table for its own sentence'
    box.fill('no mask in this one'); box.press('Enter')
    error = wait_for_change(page, table, before, 'the prediction table')
    assert 'mask-table' not in error and '[MASK]' in error, 'text without [MASK] should get the error that names it'
    box.fill('the side effects were [MASK].'); box.press('Enter')
    after = wait_for_change(page, table, error, 'the error message')
    assert 'mask-table' in after and after != before, 'a new sentence should get its own predictions'
    screenshot(root, '01_pretraining')


def test_curves_explorer_follows_the_chosen_methods(page, jupyterlab):
    methods, root = open_widget(page, jupyterlab, '03_transfer', '.widget-select-multiple select')
    figure, table = root.locator('.widget-output').nth(0), root.locator('.widget-output').nth(1)
    options = [o.replace('\xa0', ' ') for o in methods.locator('option').all_inner_texts()]
    before_fig, before_table = figure.inner_html(), table.inner_text()
    assert options[1] in before_table, 'the table should start with the first methods chosen'
    methods.select_option(index=0)
    wait_for_change(page, figure, before_fig, 'the learning-curve figure')
    page.wait_for_function('([el, name]) => !el.innerText.includes(name)', arg=[table.element_handle(), options[1]])
    assert options[0] in table.inner_text()
    screenshot(root, '03_transfer')


def test_attack_playground_attacks_the_picked_review(page, jupyterlab):
    pick, root = open_widget(page, jupyterlab, '04_adversarial', '.widget-dropdown select')
    panes, text = root.locator('.widget-html-content'), root.locator('textarea').first
    first_pane, last_pane = panes.filter(has_text='before:').first, panes.filter(has_text='before:').last
    before, before_last, before_text = first_pane.inner_html(), last_pane.inner_html(), text.input_value()
    pick.select_option(index=1)
    wait_for_change(page, first_pane, before, 'the first model\'s pane (probabilities and edits)')
    wait_for_change(page, last_pane, before_last, 'the second model\'s pane')
    assert text.input_value() != before_text, 'picking an example should put it in the text box'
    assert 'after:' in first_pane.inner_text()
    screenshot(root, '04_adversarial')


def test_explorer_explains_the_picked_review(page, jupyterlab):
    pick, root = open_widget(page, jupyterlab, '05_explore', '.widget-dropdown select')
    summary, attention = root.locator('.widget-html-content').first, root.locator('.widget-output').first
    before, before_attention = summary.inner_html(), attention.inner_html()
    pick.select_option(index=1)
    wait_for_change(page, summary, before, 'the prediction summary')
    wait_for_change(page, attention, before_attention, 'the attention map')   # redrawn last: then the screenshot is whole
    assert 'Integrated Gradients' in root.inner_text(), 'the attributions should be shown with the summary'
    screenshot(root, '05_explore')


def test_clip_explorer_follows_the_picked_image_and_the_typed_caption(page, jupyterlab):
    pick, root = open_widget(page, jupyterlab, '06_multimodal', '.widget-dropdown select')
    image_pane, caption_pane = root.locator('.widget-html-content').nth(0), root.locator('.widget-html-content').nth(1)
    before_image, before_caption = image_pane.inner_html(), caption_pane.inner_html()
    assert 'clip-image' in before_image and 'clip-results' in before_caption
    pick.select_option(index=1)
    wait_for_change(page, image_pane, before_image, 'the image and its caption similarities')
    box = root.locator('.widget-text input').first
    box.fill('   '); box.press('Enter')
    error = wait_for_change(page, caption_pane, before_caption, 'the nearest images')
    assert 'empty' in error and 'clip-results' not in error, 'an empty caption should get the error that names it'
    box.fill('a handwritten seven.'); box.press('Enter')
    wait_for_change(page, caption_pane, error, 'the error message')
    assert 'clip-results' in caption_pane.inner_html()
    screenshot(root, '06_multimodal')
    scenes = widget_root(page.locator('.jp-OutputArea-output .widget-toggle-buttons').first)   # the scene explorer
    pane, box = scenes.locator('.widget-html-content').first, scenes.locator('.widget-text input').first
    before = pane.inner_html()
    assert 'scene-results' in before, f'the scene explorer should show scenes at first, not {before[:200]!r}'
    box.fill('a seven to the left of a three.'); box.press('Enter')
    after = wait_for_change(page, pane, before, 'the scenes nearest to the typed caption')
    assert 'scene-results' in after, f'a caption naming two digits should rank scenes, not {after[:200]!r}'
    box.fill('some squiggles'); box.press('Enter')
    error = wait_for_change(page, pane, after, 'the scenes nearest to the typed caption')
    assert 'names no digit' in error, 'a caption with no digit word should get the error that names it'
