#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; no browser download). Idempotent.
set -euo pipefail
CHROMIUM="${LLMCOURSE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then "$CHROMIUM" --version; exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "Chromium is missing and this is not a Debian-like system: install Chromium and set LLMCOURSE_CHROMIUM to its path" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation >/dev/null
"$CHROMIUM" --version
