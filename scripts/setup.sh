#!/usr/bin/env bash
# Create or update .venv with the pinned tools (requirements/dev.txt) and the course package.
# Idempotent and quick when nothing changed. Used by serve.sh, test.sh and the publish workflow.
# One index per package source: torch's CPU wheel (and only it) from PyTorch's index, everything
# else from the default index; no install ever merges two indexes (--extra-index-url).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.course-setup
want=$(cat requirements/build.txt requirements/dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing pinned tools (requirements/build.txt, requirements/dev.txt)"
  .venv/bin/python -m pip install --quiet -r requirements/build.txt
  torch_pin=$(grep -E '^torch==' requirements/dev.txt)
  if ! command -v nvidia-smi >/dev/null 2>&1 && [ ! -e /proc/driver/nvidia ] \
     && ! .venv/bin/python -c 'import torch' >/dev/null 2>&1; then
    # No NVIDIA GPU: the CPU wheel, never ~3 GB of CUDA wheels. The pin (torch==X) is then
    # satisfied by X+cpu, so the next install keeps it.
    echo "setup: no NVIDIA GPU; installing the CPU build of $torch_pin"
    .venv/bin/python -m pip install --quiet --retries 1 --timeout 15 --no-deps "$torch_pin" --index-url https://download.pytorch.org/whl/cpu \
      || echo "setup: the CPU wheel index is unreachable; installing $torch_pin from the default index"
  fi
  .venv/bin/python -m pip install --quiet -r requirements/dev.txt
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi
# The npm packages of package.json: Pyodide (the site serves it to the editable cells, see
# hooks/pycells.py) and axe-core (the browser tests). Without npm the site still builds; its
# cells then cannot run.
if command -v npm >/dev/null 2>&1; then
  npm_stamp=node_modules/.course-setup
  npm_want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "$npm_want" ]; then
    echo "setup: installing the npm packages of package.json (npm ci: pyodide, axe-core)"
    npm ci --no-audit --no-fund --silent && echo "$npm_want" > "$npm_stamp"
  fi
else
  echo "setup: npm is missing; the site builds, but its Python cells cannot run (no node_modules/pyodide)"
fi
