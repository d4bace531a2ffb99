"""Export the notebooks to `llmcourse/`: nbdev's own exporter, with per-cell `#| export <module>` targets.

A chapter notebook writes most of its cells to its `default_exp` module, and some cells to modules of
their own (`#| export batching`), so that the package keeps one idea per module while the chapter
grows its ideas in one place. nbdev 2's `nbdev_export` only appends such cells to a module file that
already exists, so running it twice would write them twice. This script runs nbdev's `nb_export` on
every notebook in nbdev's order, with a module maker that writes each module afresh the first time a
run meets it and appends to it after that. Then, as `nbdev_export` does, it updates `__init__.py` and
`_modidx.py`.

    python scripts/export.py      # or plain `nbdev_export` in the course's environment: scripts/setup.sh points it here

It exports the notebooks of this checkout, whatever arguments it is given (nbdev's `--path` and `--procs` are ignored:
the package is always made from every notebook). Like `nbdev_export`, it does nothing when IN_TEST is set.
"""
import os
import sys

from nbtools import ROOT, notebooks


def get_lib():
    from nbdev.config import get_config
    return get_config().lib_path.name


def export():
    from nbdev.doclinks import _build_modidx
    from nbdev.export import nb_export
    from nbdev.maker import ModuleMaker
    from nbdev.config import add_init, get_config
    written = set()

    class FreshModules(ModuleMaker):
        "nbdev's module maker, except that the first write of a module in this run starts the file anew."
        def __init__(self, dest, name, nb_path, is_new=True, **kwargs):
            super().__init__(dest, name, nb_path, is_new=is_new or name not in written, **kwargs)
            written.add(name)

    os.chdir(ROOT)
    for nb in notebooks(order='nbdev'): nb_export(nb, mod_maker=FreshModules)
    add_init(get_config().lib_path)
    _build_modidx()


if __name__ == '__main__':
    if os.environ.get('IN_TEST'): sys.exit(0)     # as nbdev_export: notebooks run under nbdev_test export nothing
    export()
    print(f'exported nbs/ to {get_lib()}/ (scripts/export.py)')
