"""Build the learner's edition of the course in `learner/`: each chapter notebook with its prose kept,
its exported functions turned into exercises (signature and docstring kept, the body left to write),
the exercise checkers imported from `llmcourse`, and the reference solutions and outputs left out.

    python scripts/make_learner_edition.py           # (re)write learner/
    python scripts/make_learner_edition.py --check   # fail if learner/ is stale, then run each notebook
                                                     # (fast mode) up to and including its first exercise
"""
import argparse
import ast
import os
import sys
import tempfile
from pathlib import Path

import nbformat

from nbtools import ROOT, chapters, default_module, directives, export_module, is_exported, strip_directives

OUT = ROOT/'learner'
SOLUTION_MARK = '# Reference solution'
EXERCISE_MARK = 'NotImplementedError("exercise:'
EXPORT_CELL = 'scripts/export.py'     # the hidden last cell that exports the package: no part of the learner's work


def _offsets(src: str) -> list:
    "Character offset of the start of each line (1-based line numbers index it directly)."
    starts, total = [0, 0], 0
    for line in src.splitlines(keepends=True):
        total += len(line); starts.append(total)
    return starts


def stub_functions(src: str) -> tuple:
    "Replace the body of each top-level function with a `raise NotImplementedError`, keeping signature and docstring."
    tree = ast.parse(src)
    starts, names, edits = _offsets(src), [], []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)): continue
        body = node.body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], 'value', None), ast.Constant) and isinstance(body[0].value.value, str)
        first = body[1] if has_doc and len(body) > 1 else body[0]
        if has_doc and len(body) == 1: continue
        if has_doc and body[0].end_lineno == node.lineno: first = body[0]      # docstring on the def line: replace it all
        start = starts[first.lineno] + first.col_offset
        end = starts[node.end_lineno] + node.end_col_offset
        indent = ' ' * (node.col_offset + 4)
        msg = f'{indent}raise NotImplementedError("exercise: write `{node.name}`; the text above explains what it does")'
        edits.append((start, end, '\n' + msg if first.lineno == node.lineno else msg.lstrip()))
        names.append(node.name)
    for start, end, text in sorted(edits, reverse=True):
        src = src[:start] + text + src[end:]
    ast.parse(src)
    return src, names


def is_solution(cell) -> bool:
    return cell.cell_type == 'code' and SOLUTION_MARK in cell.source[:200]


def module_of(nb) -> str:
    "The notebook's `default_exp` module (its exercise checkers live in `<module>_checks`)."
    return default_module(nb.cells)


def defined_names(src: str) -> list:
    return [n.name for n in ast.parse(strip_directives(src)).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def learner_notebook(path: Path):
    nb = nbformat.read(path, as_version=4)
    module, cells, in_exercises, checkers = module_of(nb), [], False, []
    banner = nbformat.v4.new_markdown_cell(
        f"**Learner's edition.** Generated from `nbs/{path.name}` by `scripts/make_learner_edition.py`: the prose is "
        f"the chapter's, but each function the chapter builds is left for you to write (its signature and "
        f"docstring are given; the cell raises `NotImplementedError` until you do). Later cells use your "
        f"functions, so work top to bottom. Stuck on one? The note above each cell names the `llmcourse` module "
        f"whose import gives the course's version. The exercises at the end check themselves.")
    for cell in nb.cells:
        src = cell.source
        if cell.cell_type == 'markdown':
            if src.startswith('## Exercises'): in_exercises = True
            cells.append(nbformat.v4.new_markdown_cell(src))
            if len(cells) == 1: cells.append(banner)
            continue
        if cell.cell_type != 'code': continue
        ds = directives(src)
        if any(d.startswith('default_exp') for d in ds) or EXPORT_CELL in src or is_solution(cell): continue
        exported = is_exported(src)
        code = strip_directives(src)
        if in_exercises and exported:
            checkers += [n for n in defined_names(src) if n.startswith('check_')]
            checks_module = export_module(src, module)           # the chapter's module of checkers
            continue
        if exported:
            code, names = stub_functions(code)
            if names:
                cells.append(nbformat.v4.new_markdown_cell(
                    '**Your turn:** write ' + ', '.join(f'`{n}`' for n in names) + '. (The course\'s version: '
                    f'`from llmcourse.{export_module(src, module)} import {", ".join(names)}`.)'))
        if code.strip(): cells.append(nbformat.v4.new_code_cell(code))
    if checkers:
        first_ex = next(i for i, c in enumerate(cells) if c.cell_type == 'markdown' and c.source.startswith('## Exercises'))
        cells.insert(first_ex + 1, nbformat.v4.new_code_cell(f"from llmcourse.{checks_module} import {', '.join(checkers)}"))
    out = nbformat.v4.new_notebook(cells=cells, metadata={k: v for k, v in nb.metadata.items() if k in ('kernelspec', 'language_info')})
    for i, c in enumerate(out.cells): c.id = f'{path.stem[:2]}-{i:03d}'    # stable ids: regenerating changes nothing
    return out


def write(folder: Path) -> list:
    folder.mkdir(exist_ok=True)
    written = []
    for p in chapters():
        nb = learner_notebook(p)
        text = nbformat.writes(nb, version=4)
        (folder/p.name).write_text(text + ('' if text.endswith('\n') else '\n'))
        written.append(folder/p.name)
    return written


def run_to_first_exercise(path: Path):
    "Execute the notebook in fast mode, cell by cell, up to and including its first exercise cell; raise on any error."
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and EXERCISE_MARK in c.source), None)
    if first is None: raise SystemExit(f'{path.name}: no exercise found')
    nb.cells = nb.cells[:first + 1]
    os.environ.setdefault('LLMCOURSE_FAST', '1')
    NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    return sum(c.cell_type == 'code' for c in nb.cells)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--check', action='store_true', help='fail if learner/ is stale, then run each notebook up to its first exercise')
    args = ap.parse_args()
    if not args.check:
        for p in write(OUT): print(f'wrote {p.relative_to(ROOT)}')
        return
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p.read_text() for p in write(Path(tmp))}
    stale = [n for n, t in fresh.items() if not (OUT/n).exists() or (OUT/n).read_text() != t]
    extra = [p.name for p in OUT.glob('*.ipynb') if p.name not in fresh]
    if stale or extra:
        sys.exit(f'learner/ is out of date ({", ".join(stale + extra)}): run python scripts/make_learner_edition.py')
    for n in sorted(fresh):
        cells = run_to_first_exercise(OUT/n)
        print(f'{n}: {cells} code cells run up to the first exercise')


if __name__ == '__main__':
    main()
