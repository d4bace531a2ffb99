"""The package keeps the shape its readers rely on: one idea per module, functions that fit on a screen,
and no module reaching into another's private names."""
import ast
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
