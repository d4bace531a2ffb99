"""Build the course site offline: nbdev processes the notebooks, Sphinx (myst-nb, book theme) renders them.

`nbdev_docs` needs Quarto, which cannot be installed offline; this does the same job with
Python tools only:
1. `nbdev.serve.proc_nbs` writes processed notebooks to `_proc/` (directives removed, hidden
   cells dropped, a `show_doc` reference added under every exported function);
2. figures are copied beside them, an API reference page (autodoc of every module), a results page (every
   number of `results.json`, with its interval), a run-times page (`run_times.json`) and the table of contents are added;
3. `sphinx-build` writes the HTML site to `_docs/`, failing on any warning (broken link, missing image).
"""
import re
import shutil
import subprocess
import sys

import nbformat

from nbtools import ROOT, directives, strip_directives

PROC, OUT = ROOT/'_proc', ROOT/'_docs'


def process_notebooks():
    import nbdev.doclinks
    from nbdev.serve import proc_nbs
    nbdev.doclinks._build_modidx()
    if PROC.exists(): shutil.rmtree(PROC)
    proc_nbs(path=str(ROOT/'nbs'), n_workers=1, force=True)


def modules() -> list:
    return sorted(f'llmcourse.{p.stem}' for p in (ROOT/'llmcourse').glob('*.py') if not p.stem.startswith('_'))


def write_api_page():
    lines = ['# API reference', '', 'Every function and class the course exports, module by module.', '']
    for m in modules():
        lines += [f'## `{m}`', '', '```{eval-rst}', f'.. automodule:: {m}', '   :members:', '```', '']
    (PROC/'api.md').write_text('\n'.join(lines))


INTERVAL_OF = ('', '_mean', '_accuracy', '_test_accuracy')   # a key K's interval is P_ci95 where K is P plus one of these


def interval_key(key: str, numbers: dict):
    "The key of `key`'s 95% interval among a chapter's `numbers` (`<base>_ci95`), or None when it has none."
    if key.endswith('_ci95'): return None
    hits = [k for k in numbers if k.endswith('_ci95') and any(key == k[:-5] + s for s in INTERVAL_OF)]
    return max(hits, key=len) if hits else None


def show(value) -> str:
    "A recorded value as a table cell: numbers to four significant digits, lists and dicts spelled out."
    if isinstance(value, bool) or value is None: return str(value)
    if isinstance(value, (int, float)): return f'{value:.4g}'
    if isinstance(value, (list, tuple)): return '[' + ', '.join(show(v) for v in value) + ']'
    if isinstance(value, dict): return '; '.join(f'{k}: {show(v)}' for k, v in value.items())
    return str(value).replace('|', '/')


KEY_FIGURES = {   # the one figure that answers each chapter's question, shown on the results page above its numbers
    '01_logreg': '01_loss_curves.png', '01_pretraining': '01_pretraining_probes.png', '02_finetune': '02_learning_curves.png',
    '03_transfer': '03_learning_curves.png', '04_adversarial': '04_test.png', '05_explore': '05_reliability.png',
    '06_multimodal': '06_multimodal_fusion.png'}


def section_link(chapter: str, section: str) -> str:
    "The address of a section of a chapter's page (myst's heading anchors, GitHub-style slugs)."
    from myst_parser.slugs import github_slugify
    return f'{chapter}.ipynb#{github_slugify(section)}'


def results_markdown(results: dict, figures: dict) -> str:
    """The results page, a report: for each chapter, a link to it, the figures it writes and its key figure
    (`KEY_FIGURES`) shown; then its numbers grouped by the question they answer (`result_labels.QUESTIONS`), each with a
    sentence-length label linked to the section that measured it, its value, its 95% interval when the chapter recorded
    one, and its `results.json` key. A key no question labels is shown under "Other numbers", never lost."""
    from result_labels import QUESTIONS, label_of, section_of
    lines = ['# Results', '',
             'Every headline number the course measures, chapter by chapter and question by question. Each label links',
             'to the section of the chapter that measured the number; the last column names its key in `results.json`.',
             'Only a full-mode run writes that file (fast mode writes its shrunk numbers to a scratch file), so every',
             'number here comes from the committed full run of its chapter: the chapter page shows that run, its code and',
             'its time. An interval is a 95% bootstrap interval: over random seeds and test examples together where',
             'the number comes from several random seeds (chapter 02 explains it), over test examples where it comes',
             'from one run.', '']
    for chapter, numbers in results.items():
        runs = [chapter] + sorted({section_of(chapter, s)[0] for _, s, _ in QUESTIONS.get(chapter, [])} - {chapter})  # notebooks measuring it
        lines += [f'## {chapter}', '', f"From the full run{'s' if len(runs) > 1 else ''} of "
                  + ' and '.join(f'[{nb}]({nb}.ipynb)' for nb in runs) + '.'
                  + (' Its figures: ' + ', '.join(f'`{f}`' for f in figures.get(chapter, [])) + '.' if figures.get(chapter) else ''), '',
                  *([f'![{chapter}: its key figure](figures/{KEY_FIGURES[chapter]})', '']
                    if KEY_FIGURES.get(chapter) in figures.get(chapter, []) else [])]
        shown = {interval_key(k, numbers) for k in numbers} - {None}
        groups = {}                                   # question -> (rank, row); shown in QUESTIONS' order below
        for key, value in numbers.items():
            if key in shown: continue
            question, section, label, rank = label_of(chapter, key) or ('Other numbers', None, key, 0)
            ci = interval_key(key, numbers)
            text = f'[{label}]({section_link(*section_of(chapter, section))})' if section else label
            groups.setdefault(question, []).append((rank, text, value, ci, key))
        order = [q for q, _, _ in QUESTIONS.get(chapter, [])] + ['Other numbers']
        for question in sorted(groups, key=order.index):
            lines += [f'### {question}', '', '| number | value | 95% interval | key |', '| --- | --- | --- | --- |']
            lines += [f'| {text} | {show(value)} | {show(numbers[ci]) if ci else ""} | `{key}` |' for _, text, value, ci, key in sorted(groups[question], key=lambda row: row[0])]
            lines.append('')
    return '\n'.join(lines)


def chapter_figures(chapter: str) -> list:
    "The figures a chapter's notebook saves (the names its `save_figure` calls give), as they are in figures/."
    path = ROOT/'nbs'/f'{chapter}.ipynb'
    if not path.exists(): return []
    code = '\n'.join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == 'code')
    names = re.findall(r"save_figure\(\w+, f?'([^']+)'\)", code)
    patterns = [re.sub(r'\{[^}]*\}', '*', n).removesuffix('.png') + '.png' for n in names]
    return sorted({p.name for pattern in patterns for p in (ROOT/'figures').glob(pattern)})


def write_results_page():
    import json
    results = json.loads((ROOT/'results.json').read_text())
    figures = {c: chapter_figures(c) for c in results}
    (PROC/'results.md').write_text(results_markdown(results, figures))


def run_times_markdown(table: dict) -> str:
    "The Run times page: minutes per chapter in full mode, one column per kind of CPU, as full runs recorded them."
    names = sorted({n for row in table.values() for n in row if n != 'total'})
    lines = ['# Run times', '',
             'Minutes each chapter took in full mode on a 2-core CPU, by kind of CPU, as `scripts/run_course.py` records',
             'them after a full run of the course (in `run_times.json`); a column without a total holds chapters timed',
             'one at a time, with what the chapters before them leave in the caches, as in a full run. A chapter that',
             'trains runs much faster where the CPU multiplies bf16 matrices natively, and fastest with AMX; a CPU',
             'without native bf16 trains in float32. An empty cell is a chapter not yet timed on that CPU. Fast mode',
             'runs every chapter in a minute or two.', '',
             '| chapter | ' + ' | '.join(table) + ' |', '| --- |' + ' --- |' * len(table)]
    cell = lambda row, n: f'{row[n]:.1f}' if n in row else ''
    lines += [f'| {n} | ' + ' | '.join(cell(row, n) for row in table.values()) + ' |' for n in names]
    lines.append('| **total** | ' + ' | '.join(cell(row, 'total') for row in table.values()) + ' |')
    return '\n'.join(lines) + '\n'


def write_run_times_page():
    import json
    (PROC/'run_times.md').write_text(run_times_markdown(json.loads((ROOT/'run_times.json').read_text())))


def chapters() -> list:
    return sorted(p.stem for p in PROC.glob('*.ipynb') if p.stem != 'index')


WIDGET = 'application/vnd.jupyter.widget-view+json'
WIDGET_NOTE = ('*An interactive widget goes here: it needs a running kernel, so open this notebook in '
               'JupyterLab to use it. The static figures around it show what it draws.*')
SCREENSHOT_NOTE = ('![The widget in JupyterLab]({path})\n\n*A screenshot of the widget in JupyterLab, taken by the '
                   'browser tests after moving one of its controls; they run the notebook in fast mode, so any '
                   'model behind it is barely trained. The widget needs a running kernel: open this notebook in '
                   'JupyterLab to use it.*')


def adapt_for_sphinx(cell, chapter: str = ''):
    "Turn Quarto's cell options (left by nbdev) into myst-nb's: `echo: false` hides the source; drop `---` rules."
    if cell.cell_type == 'markdown':
        cell.source = re.sub(r'\]\(\.\./figures/', '](figures/', cell.source)
        return
    if cell.cell_type != 'code': return
    options = directives(cell.source)
    cell.source = strip_directives(cell.source).strip()
    if any(re.match(r'echo:\s*false', o) for o in options):
        cell.metadata.setdefault('tags', []).append('remove-input')
    outputs = []
    for out in cell.get('outputs', []):
        data = out.get('data', {})
        if 'text/markdown' in data: data['text/markdown'] = re.sub(r'^\s*---\s*\n', '', data['text/markdown'])
        if WIDGET in data:
            # No kernel on the site: a widget's saved output is only its Python repr, and a progress
            # bar's is its first frame. Say what the widget is for; drop the stale bars.
            if not data.get('text/plain', '').startswith(('VBox(', 'HBox(')): continue
            shot = f'figures/widget_{chapter}.png'
            note = SCREENSHOT_NOTE.format(path=shot) if (ROOT/shot).exists() else WIDGET_NOTE
            out = nbformat.v4.new_output('display_data', data={'text/markdown': note})
        outputs.append(out)
    if 'outputs' in cell: cell.outputs = outputs


def title_cell(cell):
    "nbdev moves a notebook's `# Title` and `> description` into Quarto front matter; put them back as Markdown."
    import yaml
    if cell.cell_type != 'raw' or not cell.source.startswith('---'): return cell
    meta = yaml.safe_load(cell.source.strip().strip('-')) or {}
    text = f"# {meta.get('title', '')}" + (f"\n\n> {meta['description']}" if meta.get('description') else '')
    return nbformat.v4.new_markdown_cell(text)


def finish_pages():
    "Copy the figures beside the pages, adapt the cells for myst-nb, and add the table of contents to the home page."
    shutil.copytree(ROOT/'figures', PROC/'figures', dirs_exist_ok=True)
    for nb_path in PROC.glob('*.ipynb'):
        nb = nbformat.read(nb_path, as_version=4)
        nb.cells = [title_cell(c) for c in nb.cells]
        for c in nb.cells: adapt_for_sphinx(c, nb_path.stem)
        nb.metadata.pop('widgets', None)
        if nb_path.stem == 'index':
            toc = '\n'.join(['```{toctree}', ':hidden:', ':maxdepth: 1', '', *chapters(), 'results', 'run_times', 'api', '```'])
            nb.cells.append(nbformat.v4.new_markdown_cell(toc))
        nbformat.write(nb, nb_path)


def build():
    process_notebooks()
    write_api_page()
    write_results_page()
    write_run_times_page()
    finish_pages()
    if OUT.exists(): shutil.rmtree(OUT)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-c', str(ROOT/'docs'), '-W', '--keep-going', '-q',
           str(PROC), str(OUT)]
    subprocess.run(cmd, check=True)
    pages = sorted(OUT.glob('*.html'))
    print(f'docs: {len(pages)} pages in {OUT.relative_to(ROOT)}/ (open {OUT.relative_to(ROOT)}/index.html)')


if __name__ == '__main__':
    build()
