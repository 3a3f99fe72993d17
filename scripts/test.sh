#!/usr/bin/env bash
# Set up .venv, then run every test: the snippets package, the figures, every Python block
# in docs/ (pytest-markdown-docs), the lab notebooks and a strict build of the whole site.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NO_MKDOCS_2_WARNING=1
exec .venv/bin/python -m pytest --markdown-docs -p no:cacheprovider "$@"
