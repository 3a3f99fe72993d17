"""scripts/gpu_record.sh, the one command that records a lent GPU, run on the CPU at tiny
shapes: it finds no nvidia-smi and says so, runs the bench under its time limit with the given
interpreter, and leaves a valid results file, its log and the (empty) readings in $OUT."""

import os
import subprocess
import sys
from pathlib import Path

from snippets import results

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--device", "cpu", "--model", "GPT-2 small", "--layers", "1", "--batches", "1", "--context", "8",
        "--repeats", "1", "--dtype", "fp32", "--prompts", "4", "--skip", "bandwidth,matmul,attention"]


def test_gpu_record_runs_on_the_cpu_at_tiny_shapes(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "BENCH_LIMIT_S": "300",
           "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists())}
    done = subprocess.run(["bash", "scripts/gpu_record.sh", *TINY], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (json_path,) = tmp_path.glob("*.json")
    doc = results.load(json_path)
    assert doc["complete"] and doc["decode"] and doc["prefill"]
    assert "no nvidia-smi" in (tmp_path / "nvidia-smi.csv").read_text()
    assert "Device:" in (tmp_path / "bench.log").read_text()
