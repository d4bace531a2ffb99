"""Write README.md from nbs/index.ipynb (Quarto, which `nbdev_readme` needs, cannot be installed offline).

Markdown cells are copied; visible code cells become fenced code with their text output; the package map (which
notebook writes which module, and what each exports) is generated from the code where index.ipynb marks its place;
links are rewritten from the notebook folder's point of view to the repository root's.
Usage: python scripts/make_readme.py [--check]   (--check: exit 1 if README.md is out of date)
"""
import re
import sys
from pathlib import Path

import nbformat

from nbtools import ROOT, directive_args, package_map_markdown

MAP = '<!-- package map: scripts/make_readme.py writes the map here, from the code (notebook, its modules, what each exports) -->'


def _visible(cell) -> bool:
    return not directive_args(cell.source).keys() & {'hide', 'export', 'exports'}


def _relink(md: str) -> str:
    md = re.sub(r'\]\(\.\./', '](', md)                           # ../figures/x.png -> figures/x.png
    return re.sub(r'\]\((\w[\w.-]*\.ipynb)', r'](nbs/\1', md)     # 00_data.ipynb -> nbs/00_data.ipynb


def render(nb_path: Path = ROOT/'nbs'/'index.ipynb') -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = ['<!-- Generated from nbs/index.ipynb by scripts/make_readme.py: edit the notebook, not this file. -->']
    for cell in nb.cells:
        if not _visible(cell): continue
        if cell.cell_type == 'markdown': parts.append(_relink(cell.source.replace(MAP, package_map_markdown())))
        elif cell.cell_type == 'code':
            parts.append(f'```python\n{cell.source}\n```')
            text = ''.join(o.get('text', '') or o.get('data', {}).get('text/plain', '') for o in cell.outputs)
            if text.strip(): parts.append(f'```\n{text.rstrip()}\n```')
    return '\n\n'.join(parts).rstrip() + '\n'


if __name__ == '__main__':
    readme, text = ROOT/'README.md', render()
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run python scripts/make_readme.py')
        print('README.md agrees with nbs/index.ipynb')
    else:
        readme.write_text(text)
        print(f'wrote {readme.relative_to(ROOT)}')
