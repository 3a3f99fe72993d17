#!/usr/bin/env bash
# Set up .venv, then lint with ruff and run every test: the snippets package, the figures, every Python block
# in docs/ (pytest-markdown-docs), the lab notebooks, a strict build of the whole site and the
# real-browser checks (headless Chromium + Playwright, axe-core from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Chromium for the browser tests (apt-get install chromium)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: Chromium is missing and cannot be installed here; the browser tests will be skipped"
  fi
fi
# scripts/setup.sh ran npm ci: axe-core for the browser tests, pyodide for the cells
export NO_MKDOCS_2_WARNING=1
lint=0
echo "test: ruff check (snippets, vis, pages, tests, hooks, scripts, docs_src)"
.venv/bin/ruff check snippets vis pages tests hooks scripts docs_src conftest.py || lint=$?
.venv/bin/python -m pytest --markdown-docs -p no:cacheprovider "$@" || exit $?
exit $lint
