"""What the course's scripts and tests share about the notebooks: where they are, their order, and nbdev's
cell directives (`#| export`, `#| hide`, ...)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$', flags=re.M)


def notebooks(order: str = 'course') -> list:
    "Every notebook in nbs/: in the course's order (index first, then the chapters), or in nbdev's (by file name)."
    paths = sorted(NBS.glob('*.ipynb'), key=lambda p: p.name)
    return paths if order == 'nbdev' else sorted(paths, key=lambda p: (p.stem != 'index', p.name))


def chapters() -> list:
    "The chapter notebooks: every notebook but the course's home page."
    return [p for p in notebooks() if p.stem != 'index']


def directives(src: str) -> list:
    "The nbdev directives of a cell's source, e.g. ['export batching', 'hide']."
    return [d.strip() for d in DIRECTIVE.findall(src)]


def strip_directives(src: str) -> str:
    "A cell's source without its directive lines."
    return "\n".join(l for l in src.splitlines() if not DIRECTIVE.match(l)).strip("\n")


def directive_args(src: str) -> dict:
    "Each directive's name and its words after it, e.g. {'export': ['batching'], 'hide': []}."
    return {d.split()[0]: d.split()[1:] for d in directives(src) if d}


def is_exported(src: str) -> bool:
    "Whether nbdev writes this cell to the package (`#| export` or `#| exports`, to any module)."
    return bool(directive_args(src).keys() & {'export', 'exports'})


def export_module(src: str, default: str) -> str:
    "The module an exported cell goes to: the one its directive names, else the notebook's `default_exp`."
    args = directive_args(src)
    named = args.get('export') or args.get('exports')
    return named[0] if named else default


def default_module(cells) -> str:
    "The `default_exp` module of a notebook's cells."
    for c in cells:
        named = directive_args(c.source).get('default_exp')
        if named: return named[0]
    raise ValueError('notebook has no default_exp')


def package_map() -> dict:
    """The package as the code has it: each notebook (in the course's order) with the modules it is the home of, and for
    each module the notebooks that write into it and the names it exports (its `__all__`)."""
    import ast
    lib = ROOT/'llmcourse'
    order = [p.stem for p in notebooks()]
    out = {nb: [] for nb in order}
    for path in sorted(lib.glob('*.py')):
        if path.stem in ('__init__', '_modidx'): continue
        text = path.read_text()
        home = re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', text)
        if not home: raise ValueError(f'{path} names no notebook: every module of the package is written by one')
        writers = list(dict.fromkeys(re.findall(r'^# %% \.\./nbs/(\S+)\.ipynb', text, flags=re.M)))
        names = next((ast.literal_eval(n.value) for n in ast.parse(text).body if isinstance(n, ast.Assign)
                      and any(getattr(t, 'id', None) == '__all__' for t in n.targets)), [])
        out[home.group(1)].append({'module': f'llmcourse.{path.stem}', 'writers': writers, 'exports': names})
    return out


def package_map_markdown() -> str:
    "`package_map` as Markdown: a line per module under each notebook."
    lines = []
    for nb, modules in package_map().items():
        if not modules: continue
        lines.append(f'- **[{nb}]({nb}.ipynb)**')
        for m in sorted(modules, key=lambda m: (m['module'].endswith('_checks'), m['module'])):
            others = [w for w in m['writers'] if w != nb]
            also = f" (cells from {', '.join(others)} too)" if others else ''
            lines.append(f"  - `{m['module']}`{also}: {', '.join(f'`{n}`' for n in m['exports'])}")
    return '\n'.join(lines)


PROGRESS_BAR = re.compile(r'^\s*[^|\n]*\d+%\|')


def drop_progress_bars(nb) -> int:
    """Remove the tqdm progress bars a run leaves in its outputs: a notebook keeps a bar's widget, not its state, so
    JupyterLab would show its first frame (0%) for good. Returns how many were removed."""
    removed = 0
    for cell in nb.cells:
        keep = []
        for out in cell.get('outputs', []):
            data = out.get('data', {})
            text = data.get('text/plain', '')
            text = ''.join(text) if isinstance(text, list) else text
            if 'application/vnd.jupyter.widget-view+json' in data and PROGRESS_BAR.match(text): removed += 1
            else: keep.append(out)
        if 'outputs' in cell: cell['outputs'] = keep
    return removed
