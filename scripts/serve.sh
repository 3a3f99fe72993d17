#!/usr/bin/env bash
# Set up .venv, then serve the course at http://127.0.0.1:8000 with live reload.
#   scripts/serve.sh [mkdocs serve options]   serve; e.g. -a 127.0.0.1:8123. Not strict: a failing
#                                             block, link or value shows its error in the page and
#                                             the next save rebuilds
#   scripts/serve.sh build [options]          build the static site into site/ (strict: any warning fails)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NO_MKDOCS_2_WARNING=1
if [ "${1:-}" = "build" ]; then
  shift
  exec .venv/bin/python -m mkdocs build --strict "$@"
fi
exec .venv/bin/python -m mkdocs serve --no-strict "$@"
