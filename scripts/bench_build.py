"""Benchmark the authoring loop: the cold pipeline (an empty store: compute, then a strict build), a
warm build, then `mkdocs serve` rebuilds after four kinds of edit, with the number of store
entries each one computed, and whether an author's mistake shows in the page and the server
recovers. Prints what it found; asserts nothing (.venv/bin/python scripts/bench_build.py)."""

from __future__ import annotations

import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}

#: (what, file, text replaced or "" to append, new text): each edit is undone after the rebuild it triggers.
_SPEEDUP = "def speedup(alpha: float, gamma: int, draft_cost: float) -> float:\n"
EDITS = (
    ("prose edit (chapter 1)", "docs/01_memory_bound.md", "", "\nA sentence added by bench_build.\n"),
    ("page module edit (ch1)", "pages/ch1.py", "", "\ntouched_by_bench_build = 1\n"),
    ("new function (roofline)", "snippets/roofline.py", "", "\n\ndef touched_by_bench_build():\n    return 1\n"),
    ("function body (speedup)", "snippets/speculative.py", _SPEEDUP, _SPEEDUP + "    alpha = float(alpha)\n"),
)
STORE = ROOT / ".cache" / "store"
MISTAKE, MISTAKE_PAGE = "\ndef broken(:\n", "01_memory_bound/"  # a syntax error in pages/ch1.py


def _run_s(*command: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def cold_and_warm_s() -> tuple[float, float, float]:
    """(compute stage from an empty store, the strict build after it, the median of three more)."""
    shutil.rmtree(STORE, ignore_errors=True)
    with tempfile.TemporaryDirectory() as dest:
        compute = _run_s("pages", "compute")
        build = _run_s("mkdocs", "build", "--strict", "-q", "-d", dest)
        warm = [_run_s("mkdocs", "build", "--strict", "-q", "-d", dest) for _ in range(3)]
        return compute, build, statistics.median(warm)


def _entries() -> set[str]:
    """One entry per result, named by its key: a result the store reuses after an edit keeps its
    entry; one computed again (its key changed) gets a new one."""
    return {p.name for p in STORE.glob("*.pickle")}


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


def _page(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{MISTAKE_PAGE}") as response:
        return response.read().decode()


def _mistake_shown_and_recovered(lines: queue.Queue, port: int) -> tuple[bool, bool]:
    """(the page shows the author's mistake after saving it, and no longer after undoing it)."""
    path = ROOT / "pages" / "ch1.py"
    original = path.read_text(encoding="utf-8")
    time.sleep(1.0)
    path.write_text(original + MISTAKE, encoding="utf-8")
    try:
        _rebuilt_s(lines, time.perf_counter())
        shown = "SyntaxError" in _page(port)
    finally:
        path.write_text(original, encoding="utf-8")
    _rebuilt_s(lines, time.perf_counter())
    return shown, "SyntaxError" not in _page(port)


def rebuild_times_s(port: int = 8799, repeats: int = 3) -> tuple[list[tuple[str, list[float], list[str]]],
                                                                  tuple[bool, bool]]:
    """Seconds from saving each edit to mkdocs serve logging the end of the rebuild it triggers
    (`repeats` times: serve polls for changes every 0.5 s; a repeat finds in the store what the
    first computed), and the functions of the store entries the first rebuild computed; then
    whether an author's mistake shows in the page and the server recovers when it is undone."""
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
        for what, name, old, new in EDITS:
            path = ROOT / name
            original = path.read_text(encoding="utf-8")
            assert not old or old in original, f"{name} no longer has {old!r}"
            seconds, computed = [], []
            for _ in range(repeats):
                time.sleep(1.0)
                before = _entries()
                start = time.perf_counter()
                path.write_text(original.replace(old, new, 1) if old else original + new, encoding="utf-8")
                try:
                    seconds.append(_rebuilt_s(lines, start))
                    if len(seconds) == 1:
                        computed = sorted(n.split("-")[0] for n in _entries() - before)
                finally:
                    path.write_text(original, encoding="utf-8")
                _rebuilt_s(lines, time.perf_counter())  # the rebuild that undoing the edit triggers
            times.append((what, seconds, computed))
        return times, _mistake_shown_and_recovered(lines, port)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    compute, build, warm = cold_and_warm_s()
    print(f"cold: compute {compute:.2f} s + strict build {build:.2f} s = {compute + build:.2f} s")
    print(f"warm strict build:               {warm:.2f} s median of 3")
    edits, (shown, recovered) = rebuild_times_s()
    for what, seconds, computed in edits:
        print(f"serve rebuild after {what + ':':<26} {seconds[0]:.2f} s, saved again "
              f"{', '.join(f'{s:.2f}' for s in seconds[1:])} s ({len(computed)} store entries computed by the first"
              f"{': ' + ', '.join(computed) if computed else ''})")
    print(f"a syntax error saved in pages/ch1.py: shown in chapter 1's page {'yes' if shown else 'NO'}; "
          f"gone after undoing it {'yes' if recovered else 'NO'}")
