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


def build_site(dest: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(dest)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="session")
def sites(tmp_path_factory):
    """Two clean builds of the whole site; the first build's log is kept for inspection."""
    built = []
    for name in ("site1", "site2"):
        dest = tmp_path_factory.mktemp(name)
        result = build_site(dest)
        assert result.returncode == 0, result.stdout + result.stderr
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
