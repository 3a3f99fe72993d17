"""Report on the built site as a reader receives it. Prints, asserts nothing:

- per page: the bytes a first visit transfers (HTML, CSS, JS, figures, other), measured in
  headless Chromium against a local server;
- the external links on each page (listed, never fetched).

Build and reload times are scripts/bench_build.py's.

Run: .venv/bin/python scripts/site_report.py   (writes reports/site-report.md too)
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from site_pages import nav_sources, url_path  # noqa: E402


def kind_of(url: str, content_type: str) -> str:
    path = urlparse(url).path
    if path.endswith((".svg", ".png", ".jpg")) or "image" in content_type:
        return "figures"
    for ext, kind in ((".css", "CSS"), (".js", "JS"), (".mjs", "JS"), (".json", "data")):
        if path.endswith(ext):
            return kind
    return "HTML" if "html" in content_type else "other"


def first_visit_bytes(site: Path) -> dict[str, Counter]:
    from playwright.sync_api import sync_playwright

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for source in nav_sources():
            context = browser.new_context()
            page = context.new_page()
            sizes: Counter = Counter()

            def on_response(response, sizes=sizes):
                try:
                    sizes[kind_of(response.url, response.headers.get("content-type", ""))] += len(response.body())
                except Exception:  # noqa: BLE001
                    pass

            page.on("response", on_response)
            page.goto(f"{base}/{url_path(source)}", wait_until="networkidle")
            # inline SVG figures travel inside the HTML: count them separately too
            html = (site / url_path(source) / "index.html").read_text(encoding="utf-8")
            inline = sum(len(m) for m in re.findall(r"<svg role=\"img\".*?</svg>", html, re.S))
            sizes["HTML"] -= inline
            sizes["figures"] += inline
            out[source] = sizes
            context.close()
        browser.close()
    server.shutdown()
    return out


def external_links(site: Path) -> list[tuple[str, str]]:
    links = []
    for page in sorted(site.rglob("*.html")):
        body = page.read_text(encoding="utf-8")
        article = body[body.find("<article"): body.find("</article>")]
        for href in sorted(set(re.findall(r'<a [^>]*href="(https?://[^"]+)"', article))):
            links.append((page.relative_to(site).as_posix(), href))
    return links


def main() -> None:
    lines = ["# Site report", ""]
    with tempfile.TemporaryDirectory() as tmp:
        import subprocess

        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", tmp], cwd=ROOT, check=True)
        kinds = ("HTML", "CSS", "JS", "figures", "data", "other")
        lines += ["| page | " + " | ".join(kinds) + " | total |", "|--" * (len(kinds) + 2) + "|"]
        for source, sizes in first_visit_bytes(Path(tmp)).items():
            cells = [f"{sizes[k] / 1e3:,.0f} kB" for k in kinds]
            lines.append(f"| {source} | " + " | ".join(cells) + f" | **{sum(sizes.values()) / 1e3:,.0f} kB** |")
        lines += ["", "## External links (not fetched)", "", "| page | link |", "|--|--|"]
        lines += [f"| {page} | {href} |" for page, href in external_links(Path(tmp))]
    text = "\n".join(lines) + "\n"
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "site-report.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
