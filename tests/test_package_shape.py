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
    monkeypatch.setattr(type(m), '_can_set_attn_implementation_cached_value', False, raising=False)
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
