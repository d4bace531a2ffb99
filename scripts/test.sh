#!/usr/bin/env bash
# Set up, then run every check CI runs, printing the time each step took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
declare -a TIMES=()
# Leave no trace: fast-mode scratch folders in the temp directory, and the checkpoints/ and runs/ entries the fast
# notebook runs add, are removed at exit (entries that were there before stay).
before=$(ls -d checkpoints/* runs/* 2>/dev/null || true)
cleanup() {
  rm -rf "${TMPDIR:-/tmp}"/llmcourse-*
  for d in checkpoints/* runs/*; do
    [ -e "$d" ] && ! grep -qxF "$d" <<<"$before" && rm -rf "$d"
  done
  rmdir checkpoints runs 2>/dev/null || true
}
trap cleanup EXIT
rm -rf "${TMPDIR:-/tmp}"/llmcourse-*    # and a clean start: fast-mode leftovers of another run are not this run's
step() {  # step NAME COMMAND...: run a step, time it, stop at the first failure
  local name="$1"; shift
  echo "== $name"
  local t0=$SECONDS
  "$@"
  TIMES+=("$(printf '%-34s %5ss' "$name" $((SECONDS - t0)))")
}
git_clean() {  # fail when the last step changed tracked files under the given paths, or left new ones
  git diff --exit-code --stat -- "$@"
  local new; new=$(git status --porcelain --untracked-files=all -- "$@")
  if [ -n "$new" ]; then echo "untracked files appeared:"; echo "$new"; return 1; fi
}

step "setup (venv, pinned installs)" source scripts/setup.sh
step "pip check" pip check
step "notebooks and package in sync" bash -c 'python scripts/export.py && '"$(declare -f git_clean)"'; git_clean llmcourse'
step "notebooks clean (nbdev_clean)" bash -c 'nbdev_clean && '"$(declare -f git_clean)"'; git_clean nbs'
step "README agrees with index.ipynb" python scripts/make_readme.py --check
step "pytest tests/" python -m pytest -q tests --ignore=tests/browser
step "pytest tests/, lowest declared versions" bash scripts/test_lowest.sh
step "notebooks run in fast mode (nbdev_test)" nbdev_test --n_workers 1 --timing --do_print
step "learner's edition current, runs to 1st exercise" python scripts/make_learner_edition.py --check
step "docs build (nbdev + Sphinx)" python scripts/build_docs.py
step "Chromium (Debian package)" bash scripts/install_chromium.sh
step "browser: widgets in JupyterLab, docs site" python -m pytest -q -s -p no:cacheprovider tests/browser

echo; echo "== Step times"; printf '%s\n' "${TIMES[@]}"
