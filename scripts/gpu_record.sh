#!/usr/bin/env bash
# Record the benchmark on a lent GPU (see the device tool): results land in $OUT as they are
# measured (the JSON is rewritten, atomically, after every section, marked incomplete until the
# run ends), with the log and nvidia-smi's readings before and after.
# Runs with the machine's own python3/torch; the course package needs no install, but the
# results schema needs pydantic and the progress display rich: installed from wheels in .whl/
# when that folder exists (an offline machine: see the device tool's notes), else from PyPI.
# BENCH_LIMIT_S (default 420) stops the run with Ctrl-C's signal: what was measured is saved
# (SIGKILL 20 s later if it does not stop). Extra arguments go to the bench, e.g.
#   BENCH_LIMIT_S=480 bash scripts/gpu_record.sh --batches 1,2,4,8,16,32,64,128,256 --profile 1
# PYTHON picks the interpreter (default python3). Without nvidia-smi (a CPU, as in the test that
# runs this script at tiny shapes: tests/test_gpu_record.py) the readings are skipped with a note.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-bench-results}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
q="name,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu"
smi() {
  if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=$q "$@"; else echo "no nvidia-smi: no readings"; fi
}
smi --format=csv | tee "$OUT/nvidia-smi.csv"
if ! "$PY" -c "import pydantic, rich" 2>/dev/null; then
  if [ -d .whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=$PWD:/tmp/site
  else
    "$PY" -m pip install --quiet "pydantic>=2" "rich>=13" || exit 1
  fi
fi
"$PY" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__)"
timeout -s INT -k 20 "${BENCH_LIMIT_S:-420}" "$PY" -m snippets bench --out "$OUT" "$@" 2>&1 | tee "$OUT/bench.log"
status=${PIPESTATUS[0]}
smi --format=csv,noheader | tee -a "$OUT/nvidia-smi.csv"
exit "$status"
