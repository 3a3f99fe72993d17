"""Benchmark the authoring loop: a cold strict build, and a `mkdocs serve` reload after an
edit to a `snippets` module. Prints seconds; asserts nothing (run: .venv/bin/python scripts/bench_build.py)."""

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


def cold_build_s() -> float:
    shutil.rmtree(ROOT / ".cache", ignore_errors=True)
    with tempfile.TemporaryDirectory() as dest:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", dest],
                       cwd=ROOT, env=ENV, check=True)
        return time.perf_counter() - start


def reload_after_edit_s(module: str = "snippets/roofline.py", port: int = 8799) -> float:
    """Seconds from saving `module` to mkdocs serve logging the finished rebuild."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
        cwd=ROOT, env=ENV, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True,
    )
    path = ROOT / module
    original = path.read_text(encoding="utf-8")
    try:
        for line in server.stdout:
            if "Serving on" in line:
                break
        time.sleep(1.0)
        start = time.perf_counter()
        path.write_text(original + "\n# touched by bench_build\n", encoding="utf-8")
        for line in server.stdout:
            if "Documentation built in" in line or "Reloading browsers" in line:
                return time.perf_counter() - start
        raise RuntimeError("mkdocs serve ended before rebuilding")
    finally:
        path.write_text(original, encoding="utf-8")
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    print(f"cold strict build:          {cold_build_s():.2f} s")
    print(f"reload after snippets edit: {reload_after_edit_s():.2f} s")
