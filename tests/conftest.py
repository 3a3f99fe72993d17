"""Fixtures shared by the site tests: two clean strict builds, and a local server for the first."""

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build_site(dest: Path, store: Path) -> subprocess.CompletedProcess:
    """The publishing pipeline into `dest`: the compute stage, then a strict build, both with the
    store in `store`."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "COURSE_CACHE": str(store)}
    computed = subprocess.run([sys.executable, "-m", "pages", "compute"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
    if computed.returncode != 0:
        return computed
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(dest)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    built.stderr = computed.stdout + computed.stderr + built.stderr
    return built


@pytest.fixture(scope="session")
def sites(tmp_path_factory):
    """Two builds of the whole site, each from an empty store of its own, so that nothing one
    computed can make the other look deterministic; the first build's log is kept."""
    built = []
    for name in ("site1", "site2"):
        dest, store = tmp_path_factory.mktemp(name), tmp_path_factory.mktemp(f"{name}-store")
        result = build_site(dest, store)
        assert result.returncode == 0, result.stdout + result.stderr
        assert any(store.glob("vis.*.pickle")), "the build did not use its own store"
        built.append((dest, result.stdout + result.stderr))
    return built


@pytest.fixture(scope="session")
def site_url(sites):
    """The first build, served on localhost for as long as the session lasts."""
    handler = functools.partial(QuietHandler, directory=str(sites[0][0]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright, one per test module (the browser tests and the
    calculator tests skip themselves when Chromium is missing)."""
    import shutil

    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic"],
        )
        yield launched
        launched.close()


def _one_call(fn, kind, repeats=3, reps=20, warmup=3, flush=None, settle_rounds=0):
    """time_repeats' stand-in for tests of the command's plumbing: the step runs once (so it is
    built and runs as in a real run) and that one wall-clock time is every sample."""
    import time

    from snippets.bench.timing import Timing

    if flush:
        flush()
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    return Timing((took,) * max(reps, 1), 0, True, (took,) * repeats)


@pytest.fixture
def one_call_timing(monkeypatch):
    """Every sweep and attention timing runs its step once: for tests of what the command writes,
    where the numbers' quality is not what is tested (snippets.bench.timing is tested alone)."""
    from snippets.bench import attention, quant, sweep

    for module in (sweep, attention, quant):
        monkeypatch.setattr(module, "time_repeats", _one_call)
