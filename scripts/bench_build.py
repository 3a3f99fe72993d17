"""Benchmark the authoring loop: a cold strict build, then `mkdocs serve` rebuilds after four
kinds of edit. Prints seconds; asserts nothing (run: .venv/bin/python scripts/bench_build.py)."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
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


def _log_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((time.perf_counter(), line))


def _rebuilt_s(lines: queue.Queue, start: float, quiet_s: float = 2.0) -> float:
    """Seconds from `start` to the end of the last rebuild an edit triggered. A rebuild logs
    "Documentation built in" and then "Reloading browsers"; one save may trigger two rebuilds,
    so this waits until the log has been quiet for `quiet_s` after one."""
    last = None
    while True:
        try:
            when, line = lines.get(timeout=quiet_s if last is not None else 600)
        except queue.Empty:
            if last is None:
                raise TimeoutError("mkdocs serve did not rebuild") from None
            return last - start
        if "Reloading browsers" in line:
            last = when


def rebuild_times_s(port: int = 8799) -> list[tuple[str, float]]:
    """Seconds from saving each edit to mkdocs serve logging the end of the rebuild it triggers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "--no-strict", "-a", f"127.0.0.1:{port}"],
        cwd=ROOT, env=ENV, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_log_lines, args=(server.stdout, lines), daemon=True).start()
    times = []
    try:
        while "Serving on" not in lines.get(timeout=900)[1]:
            pass
        for what, name, text in EDITS:
            path = ROOT / name
            original = path.read_text(encoding="utf-8")
            time.sleep(1.0)
            start = time.perf_counter()
            path.write_text(original + text, encoding="utf-8")
            try:
                times.append((what, _rebuilt_s(lines, start)))
            finally:
                path.write_text(original, encoding="utf-8")
            _rebuilt_s(lines, time.perf_counter())  # the rebuild that undoing the edit triggers
        return times
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    print(f"cold strict build:                {cold_build_s():.2f} s")
    for what, seconds in rebuild_times_s():
        print(f"serve rebuild after {what + ':':<26} {seconds:.2f} s")
