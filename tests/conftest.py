import os

# Tests never reach a model hub, and run the course in fast mode.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
os.environ.setdefault('LLMCOURSE_FAST', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')

import pytest  # noqa: E402


@pytest.fixture(scope='session')
def tok():
    "The bundled MiniLM's tokenizer, loaded once for the whole test session (tests never change it)."
    from llmcourse.models import load_tokenizer
    return load_tokenizer()


@pytest.fixture(scope='session')
def sharp_tiny_bert():
    "A factory of tiny BERTs whose weight matrices are large enough that the logits depend on the words."
    def make(seed: int = 0):
        import torch
        from llmcourse.models import tiny_bert
        m = tiny_bert(seed=seed)
        with torch.no_grad():
            for p in m.parameters():
                if p.ndim == 2: p.normal_(0, 0.3)
        return m.eval()
    return make
