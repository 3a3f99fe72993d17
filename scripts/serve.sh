#!/usr/bin/env bash
# Set up .venv, then serve the course at http://127.0.0.1:8000 with live reload.
#   scripts/serve.sh [mkdocs serve options]   serve; e.g. -a 127.0.0.1:8123. Not strict: a failing
#                                             block, link or value shows its error in the page and
#                                             the next save rebuilds
#   scripts/serve.sh build [options]          build the static site into site/ (strict: any warning fails)
# Both first fill the store (.cache/store) with `python -m pages compute`, one page per core: the
# slow results and figures a page needs; then MkDocs renders from it. Under serve, what an edit
# makes stale is computed again in place.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NO_MKDOCS_2_WARNING=1
if [ "${1:-}" = "build" ]; then
  shift
  .venv/bin/python -m pages compute
  exec .venv/bin/python -m mkdocs build --strict "$@"
fi
.venv/bin/python -m pages compute || echo "serve: some blocks failed (above); their pages show the error"
exec .venv/bin/python -m mkdocs serve --no-strict "$@"
