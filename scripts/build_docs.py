"""Build the course site offline: nbdev processes the notebooks, Sphinx (myst-nb, book theme) renders them.

`nbdev_docs` needs Quarto, which cannot be installed offline; this does the same job with
Python tools only:
1. `nbdev.serve.proc_nbs` writes processed notebooks to `_proc/` (directives removed, hidden
   cells dropped, a `show_doc` reference added under every exported function);
2. figures are copied beside them, an API reference page (autodoc of every module) and the
   table of contents are added;
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
            toc = '\n'.join(['```{toctree}', ':hidden:', ':maxdepth: 1', '', *chapters(), 'api', '```'])
            nb.cells.append(nbformat.v4.new_markdown_cell(toc))
        nbformat.write(nb, nb_path)


def build():
    process_notebooks()
    write_api_page()
    finish_pages()
    if OUT.exists(): shutil.rmtree(OUT)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-c', str(ROOT/'docs'), '-W', '--keep-going', '-q',
           str(PROC), str(OUT)]
    subprocess.run(cmd, check=True)
    pages = sorted(OUT.glob('*.html'))
    print(f'docs: {len(pages)} pages in {OUT.relative_to(ROOT)}/ (open {OUT.relative_to(ROOT)}/index.html)')


if __name__ == '__main__':
    build()
