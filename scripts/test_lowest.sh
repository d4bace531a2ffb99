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
mkdir -p "$VENV" && echo "$floors" > "$VENV/floors.txt"
# the course's own setup, with this environment and the floors as its constraints
LLMCOURSE_VENV="$VENV" LLMCOURSE_CONSTRAINTS="$VENV/floors.txt" source "$ROOT/scripts/setup.sh"
python - "$floors" <<'PYTHON'
import importlib.metadata as md, sys
from packaging.version import Version
pins = [p.split('==') for p in sys.argv[1].split()]
wrong = [f'{name} {md.version(name)} (want {want})' for name, want in pins if Version(Version(md.version(name)).public) != Version(want)]
if wrong: sys.exit(f'not the lowest versions: {wrong}')
print('installed:', ', '.join(f'{name} {md.version(name)}' for name, _ in pins))
PYTHON
python -m pytest -q -p no:cacheprovider tests --ignore=tests/browser
