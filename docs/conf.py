"""Sphinx configuration for the course site, built offline from nbdev-processed notebooks (see scripts/build_docs.py)."""
import configparser
from pathlib import Path

_cfg = configparser.ConfigParser(delimiters=['='])
_cfg.read(Path(__file__).resolve().parent.parent/'settings.ini')
_d = _cfg['DEFAULT']

project = _d['title']
author = _d['author']
copyright = _d['copyright']
release = _d['version']

# sphinx-mathjax-offline serves MathJax from the site itself: no CDN.
extensions = ['myst_nb', 'sphinx.ext.autodoc', 'sphinx.ext.viewcode', 'sphinx-mathjax-offline']
root_doc = 'index'
exclude_patterns = ['_build', '**.ipynb_checkpoints', 'sidebar.yml', '_quarto.yml']

# The notebooks are committed with the outputs of a full run: render those, never re-execute.
nb_execution_mode = 'off'
nb_merge_streams = True
# Widgets need a kernel, which the site does not have: build_docs.py puts a screenshot in their place,
# so none of ipywidgets' JavaScript (a CDN download) is loaded.
nb_ipywidgets_js = {}
myst_enable_extensions = ['colon_fence', 'dollarmath', 'amsmath']
myst_heading_anchors = 3
suppress_warnings = ['mystnb.unknown_mime_type', 'myst.header']

autodoc_typehints = 'signature'
autodoc_member_order = 'bysource'

html_theme = 'sphinx_book_theme'
html_title = project
html_favicon = 'favicon.svg'    # without one, every browser asks for a /favicon.ico the site lacks
html_context = {'default_mode': 'light'}    # a stored empty mode otherwise logs a console error
html_theme_options = {'show_toc_level': 2, 'use_download_button': False, 'use_fullscreen_button': False}

# Docstrings are written in Markdown style: `x` is code.
default_role = 'literal'
nb_render_markdown_format = 'myst'


def _skip_sklearn_request_methods(app, what, name, obj, skip, options):
    "scikit-learn adds `set_*_request` methods to every estimator; they are its API, not the course's."
    if name.startswith('set_') and name.endswith('_request'): return True
    return skip


def setup(app):
    app.connect('autodoc-skip-member', _skip_sklearn_request_methods)
