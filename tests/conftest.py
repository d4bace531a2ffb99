import os

# Tests never reach a model hub, and run the course in fast mode.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
os.environ.setdefault('LLMCOURSE_FAST', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')
