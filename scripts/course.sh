#!/usr/bin/env bash
# Set up, then run the course's main job: every chapter notebook, figures/, the docs site, a summary.
# Full mode by default (about two hours and fifty-five minutes on a 2-core laptop: each chapter states its time); LLMCOURSE_FAST=1 for the shrunk CI version.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
python scripts/run_course.py "$@"   # --within MINUTES / --resume: a full run in parts, chapter by chapter
