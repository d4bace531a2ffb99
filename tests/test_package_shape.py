"""The package keeps the shape its readers rely on: one idea per module, functions that fit on a screen,
and no module reaching into another's private names."""
import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent/'llmcourse'
MODULES = sorted(p for p in PKG.glob('*.py') if p.name != '_modidx.py')
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 350, 60


@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_module_size(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_MODULE_LINES, f'{path.name} has {n} lines (at most {MAX_MODULE_LINES}): split it by idea'


@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_function_length(path):
    long = [f'{node.name} ({node.end_lineno - node.lineno + 1} lines)' for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f'{path.name}: longer than {MAX_FUNCTION_LINES} lines: {long}'


@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_no_private_names_across_modules(path):
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or '').startswith('llmcourse')):
            bad += [f'{node.module}.{a.name}' for a in node.names if a.name.startswith('_')]
    assert not bad, f'{path.name} imports private names of other modules: {bad}'



def test_the_mean_pooled_head_passes_attentions_and_hidden_states_through():
    import torch
    from llmcourse.models import tiny_bert
    m = tiny_bert(pooling='mean').eval()
    m.set_attn_implementation('eager')
    out = m(input_ids=torch.tensor([[101, 2000, 102]]), output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == m.config.num_hidden_layers and len(out.hidden_states) == m.config.num_hidden_layers + 1


def test_set_attention_reaches_the_encoder_when_the_head_class_cannot_switch(monkeypatch):
    "As for a head class defined in a notebook, which transformers will not switch: the encoder still switches."
    import torch
    from llmcourse.models import tiny_bert
    from llmcourse.speed import set_attention
    m = tiny_bert(pooling='mean').eval()
    monkeypatch.setattr(type(m), '_can_set_attn_implementation', classmethod(lambda cls: False))
    m.set_attn_implementation('eager')
    assert m.base_model.config._attn_implementation != 'eager'          # the head class alone does not switch
    set_attention(m, 'eager')
    assert m.base_model.config._attn_implementation == 'eager'
    out = m(input_ids=torch.tensor([[101, 2000, 102]]), output_attentions=True)
    assert len(out.attentions) == m.config.num_hidden_layers


# The map of the package: which notebook writes each module, and which modules each one imports (at the top or inside
# a function). The chapters build on each other in order, and so do their modules.
NOTEBOOKS = sorted(p.stem for p in (PKG.parent/'nbs').glob('*.ipynb') if p.stem != 'index')


def home_notebook(path: Path) -> str:
    "The notebook that writes a module: the one its 'File to edit' line names."
    found = re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', path.read_text())
    return found.group(1) if found else None


def package_imports(path: Path) -> set:
    "The package's modules that `path` imports, wherever in the file the import stands."
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module: names.add(node.module.split('.')[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('llmcourse.'): names.add(node.module.split('.')[1])
        elif isinstance(node, ast.ImportFrom) and node.module == 'llmcourse': names |= {a.name for a in node.names}
        elif isinstance(node, ast.Import): names |= {a.name.split('.')[1] for a in node.names if a.name.startswith('llmcourse.')}
    return names & {p.stem for p in MODULES}


GRAPH = {p.stem: package_imports(p) - {p.stem} for p in MODULES if p.stem != '__init__'}


def test_no_module_imports_itself_round_a_circle():
    def circle_from(start, node, path):
        for nxt in GRAPH.get(node, ()):
            if nxt == start: return path + [nxt]
            if nxt not in path and (found := circle_from(start, nxt, path + [nxt])): return found
    circles = [' -> '.join(c) for m in GRAPH if (c := circle_from(m, m, [m]))]
    assert not circles, f'import circles: {circles}'


@pytest.mark.parametrize('path', [p for p in MODULES if p.stem != '__init__'], ids=lambda p: p.name)
def test_no_module_imports_one_from_a_later_notebook(path):
    home = home_notebook(path)
    assert home in NOTEBOOKS, f'{path.name} names no notebook of nbs/ as its source'
    later = sorted(m for m in GRAPH[path.stem] if NOTEBOOKS.index(home_notebook(PKG/f'{m}.py')) > NOTEBOOKS.index(home))
    assert not later, f'{path.name} ({home}) imports modules of later notebooks: ' + \
        ', '.join(f'{m} ({home_notebook(PKG/f"{m}.py")})' for m in later)


def test_the_library_never_redirects_stdout():
    users = [p.name for p in MODULES if 'redirect_stdout' in p.read_text()]
    assert not users, f'{users} redirect stdout: make the noisy call quiet instead (TrainConfig(verbose=False))'


def test_plain_nbdev_export_in_a_clean_copy_makes_the_committed_package(tmp_path):
    "The command a contributor used to nbdev types, in the course's environment, on a copy of the notebooks."
    import os, shutil, subprocess, sys
    root = PKG.parent
    for part in ('nbs', 'scripts', 'llmcourse'): shutil.copytree(root/part, tmp_path/part, ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(root/'settings.ini', tmp_path)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path/'llmcourse').rglob('*.py')}
    command = Path(sys.executable).parent/'nbdev_export'
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    done = subprocess.run([str(command)], cwd=tmp_path/'nbs', env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path/'llmcourse').rglob('*.py')}
    changed = sorted(str(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f'plain nbdev_export changed {changed}: run `bash scripts/setup.sh` (it points nbdev_export at scripts/export.py)'


def test_the_recipe_is_defined_once_as_its_changes_to_the_defaults():
    from llmcourse.finetune import TrainConfig
    from llmcourse.recipe import RECIPE
    assert isinstance(RECIPE, TrainConfig) and set(RECIPE.changes()) == {'epochs', 'lr', 'keep'}
    where = [p.relative_to(PKG.parent).as_posix() for p in MODULES + sorted((PKG.parent/'scripts').glob('*.py'))
             if re.search(r'^RECIPE\w* = ', p.read_text(), flags=re.M)]
    assert where == ['llmcourse/recipe.py'], f'the recipe is defined in {where}'
    literal = [p.name for p in sorted((PKG.parent/'scripts').glob('*.py')) if re.search(r'\b(max_length|default)=256\b', p.read_text())]
    assert not literal, f'{literal} write the recipe\'s maximum length by hand: use RECIPE.max_length'


def test_the_package_map_has_every_module_once_under_the_notebook_that_writes_it():
    from nbtools import package_map
    listed = [m['module'] for modules in package_map().values() for m in modules]
    wanted = sorted(f'llmcourse.{p.stem}' for p in MODULES if p.stem != '__init__')
    assert sorted(listed) == wanted and len(listed) == len(set(listed))
    for nb, modules in package_map().items():
        for m in modules: assert nb in m['writers'], f"{m['module']} is listed under {nb}, which writes none of it"
