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
