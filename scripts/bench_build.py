"""Benchmark the authoring loop: a cold strict build, then `mkdocs serve` rebuilds after four
kinds of edit. Prints seconds; asserts nothing (run: .venv/bin/python scripts/bench_build.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}

#: (what, file, text appended): each edit is undone after the rebuild it triggers.
EDITS = (
    ("prose edit (chapter 1)", "docs/01_memory_bound.md", "\nA sentence added by bench_build.\n"),
    ("snippets edit, a comment", "snippets/roofline.py", "\n# touched by bench_build\n"),
    ("snippets edit, code", "snippets/roofline.py", "\n\ndef touched_by_bench_build():\n    return 1\n"),
)


def cold_build_s() -> float:
    shutil.rmtree(ROOT / ".cache", ignore_errors=True)
    with tempfile.TemporaryDirectory() as dest:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", dest],
                       cwd=ROOT, env=ENV, check=True)
        return time.perf_counter() - start


def rebuild_times_s(port: int = 8799) -> list[tuple[str, float]]:
    """Seconds from saving each edit to mkdocs serve logging the finished rebuild."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "--no-strict", "-a", f"127.0.0.1:{port}"],
        cwd=ROOT, env=ENV, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True,
    )
    times = []
    try:
        for line in server.stdout:
            if "Serving on" in line:
                break
        for what, name, text in EDITS:
            path = ROOT / name
            original = path.read_text(encoding="utf-8")
            time.sleep(1.0)
            start = time.perf_counter()
            path.write_text(original + text, encoding="utf-8")
            try:
                for line in server.stdout:
                    if "Documentation built in" in line or "Reloading browsers" in line:
                        times.append((what, time.perf_counter() - start))
                        break
            finally:
                path.write_text(original, encoding="utf-8")
            for line in server.stdout:  # the rebuild that undoing the edit triggers
                if "Documentation built in" in line or "Reloading browsers" in line:
                    break
        return times
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    print(f"cold strict build:                {cold_build_s():.2f} s")
    for what, seconds in rebuild_times_s():
        print(f"serve rebuild after {what + ':':<26} {seconds:.2f} s")
