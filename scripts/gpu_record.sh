#!/usr/bin/env bash
# Record a quick benchmark on a lent GPU (see the device tool): results land in $OUT.
# Runs with the machine's own python3/torch; the course package needs no install, but the
# results schema needs pydantic and the progress display rich (installed here if missing).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-bench-results}
mkdir -p "$OUT"
q="name,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu"
nvidia-smi --query-gpu=$q --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c "import pydantic, rich" 2>/dev/null || python3 -m pip install --quiet "pydantic>=2" "rich>=13"
python3 -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__)"
python3 -m snippets bench --quick --out "$OUT" "$@" 2>&1 | tee "$OUT/bench.log"
status=${PIPESTATUS[0]}
nvidia-smi --query-gpu=$q --format=csv,noheader | tee -a "$OUT/nvidia-smi.csv"
exit "$status"
