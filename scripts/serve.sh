#!/usr/bin/env bash
# Set up .venv, then serve the course at http://127.0.0.1:8000 with live reload.
#   scripts/serve.sh          serve (edits to docs/, snippets/ and vis/ show on reload)
#   scripts/serve.sh build    build the static site into site/ instead (strict)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NO_MKDOCS_2_WARNING=1
if [ "${1:-serve}" = "build" ]; then
  exec .venv/bin/mkdocs build --strict "${@:2}"
fi
exec .venv/bin/mkdocs serve "${@:2}"
