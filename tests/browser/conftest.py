"""Fixtures for the browser tests: Debian's Chromium driven by Playwright (no browser download), a
JupyterLab server on loopback with a throwaway token, and the built docs site served on loopback."""
import functools
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get('LLMCOURSE_CHROMIUM', '/usr/bin/chromium')
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f'Chromium not found at {CHROMIUM}: install Debian\'s package (apt-get install chromium) '
                    'or point LLMCOURSE_CHROMIUM at a Chromium binary')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _lab_settings(folder: Path):
    "User settings for the test server: every cell kept in the DOM, no news or update checks (the network is closed)."
    settings = {'@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none'},
                '@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false', 'checkForUpdates': False},
                '@jupyterlab/docmanager-extension/plugin.jupyterlab-settings': {'autosave': False}}
    for rel, value in settings.items():
        path = folder/rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@pytest.fixture(scope='session')
def jupyterlab(tmp_path_factory):
    "A JupyterLab server on 127.0.0.1 over a copy of the course (the notebooks in the repository are never touched)."
    course = tmp_path_factory.mktemp('course')
    shutil.copy(ROOT/'settings.ini', course/'settings.ini')
    shutil.copytree(ROOT/'nbs', course/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    shutil.copytree(ROOT/'scripts', course/'scripts', ignore=shutil.ignore_patterns('__pycache__'))   # the export cell runs
    _lab_settings(course/'lab-settings')
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, 'LLMCOURSE_FAST': '1', 'JUPYTERLAB_SETTINGS_DIR': str(course/'lab-settings'),
           'JUPYTERLAB_WORKSPACES_DIR': str(course/'workspaces'), 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1',
           'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}
    log = open(course/'jupyterlab.log', 'w')
    server = subprocess.Popen(
        [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', f'--port={port}', '--ServerApp.ip=127.0.0.1',
         f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={course/"nbs"}', '--LabApp.expose_app_in_browser=True',
         '--LabApp.news_url='] + (['--allow-root'] if os.getuid() == 0 else []),
        cwd=course/'nbs', env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f'JupyterLab did not start: see {course/"jupyterlab.log"}:\n' + (course/'jupyterlab.log').read_text()[-3000:])
            time.sleep(0.5)
    yield {'url': base, 'token': token, 'root': course}
    server.terminate()
    try: server.wait(timeout=20)
    except subprocess.TimeoutExpired: server.kill()
    log.close()


@pytest.fixture(scope='session')
def docs_site():
    "The built docs site (`_docs/`) served on 127.0.0.1."
    site = ROOT/'_docs'
    if not (site/'index.html').exists():
        pytest.fail('the docs site is not built: run python scripts/build_docs.py first')
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {'url': f'http://127.0.0.1:{server.server_address[1]}', 'root': site}
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
