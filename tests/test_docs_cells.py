"""The docs build executes, out of order and with nothing else run, every code cell that holds an import (nbdev does, to
render `show_doc`): such a cell must hold imports only, or it fails on names the chapter defines elsewhere."""
import ast

import nbformat
import pytest

from nbtools import directives, notebooks


def imports_with_other_code(source: str) -> bool:
    "True when a cell that the docs build would execute (it imports something) also runs other statements."
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    has_import = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in nodes)
    return has_import and any(not isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)


def executed_by_the_docs_build(cell) -> bool:
    options = directives(cell.source)
    return (cell.cell_type == 'code' and 'nbdev_export()' not in cell.source
            and not any(o.split()[0] in ('export', 'exports', 'exporti', 'exec_doc') for o in options)
            and not any(o.replace(' ', '') == 'eval:false' for o in options))


@pytest.mark.parametrize('path', notebooks(), ids=lambda p: p.stem)
def test_cells_with_imports_hold_imports_only(path):
    nb = nbformat.read(path, as_version=4)
    bad = [i for i, c in enumerate(nb.cells) if executed_by_the_docs_build(c) and imports_with_other_code(c.source)]
    assert not bad, f'{path.name}: cells {bad} mix imports with other code; move the imports to the chapter\'s import cell'


def test_the_check_sees_a_mixed_cell():
    assert imports_with_other_code('import copy\nx = copy.copy(SEEDS)')
    assert imports_with_other_code('def f():\n    import copy\n    return copy')
    assert not imports_with_other_code('import copy\nfrom pathlib import Path')
    assert not imports_with_other_code('x = 1')
