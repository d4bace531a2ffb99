#!/usr/bin/env bash
# Usage: bash scripts/install_nbdev_export.sh VENV
# `nbdev_export` in the environment VENV runs the project's exporter: nbdev's own appends a second copy of every cell
# that names its module (`#| export batching`), so in this project it would corrupt the package. Outside a
# checkout of the course the command is nbdev's, unchanged. (pip may put nbdev's back: this runs on every setup.)
set -euo pipefail
cat > "$1/bin/nbdev_export" <<'WRAPPER'
#!/usr/bin/env bash
# Written by llmcourse's scripts/install_nbdev_export.sh: nbdev's exporter, with each module of the course written afresh.
root="$PWD"                                   # the project is where nbdev finds it: the nearest settings.ini above
while [ "$root" != / ] && [ ! -f "$root/settings.ini" ]; do root="$(dirname "$root")"; done
if [ -f "$root/scripts/export.py" ] && grep -q '^lib_name = llmcourse' "$root/settings.ini" 2>/dev/null; then
  exec "$(dirname "$0")/python" "$root/scripts/export.py" "$@"
fi
exec "$(dirname "$0")/python" -c 'import sys; from nbdev.doclinks import nbdev_export; sys.exit(nbdev_export())' "$@"
WRAPPER
chmod +x "$1/bin/nbdev_export"
