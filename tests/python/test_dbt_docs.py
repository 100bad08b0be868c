"""The docs site analysts read: `dbt docs generate`, served on loopback, opened in headless Chromium."""

from __future__ import annotations

import functools
import html
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dbt_helpers import END, MARTS, START, DbtProject, build_fixture_lake

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated docs, served from target/ on 127.0.0.1; yields the base URL."""
    root = tmp_path_factory.mktemp("dbt-docs")
    project = DbtProject(root, build_fixture_lake(root))
    project.run("docs", "generate", "--vars", f"{{startdate: {START}, enddate: {END}}}")
    assert (project.target_path / "index.html").is_file()
    handler = functools.partial(QuietHandler, directory=str(project.target_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium(url: str, profile: Path, *mode: str) -> str:
    """Headless Chromium with no network but loopback; returns stdout (the DOM with --dump-dom)."""
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=15000",
            "--window-size=1400,900",
            *mode,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def visible_text(dom: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def test_docs_site_shows_each_mart_with_description_columns_and_lineage(
    site: str, tmp_path: Path
) -> None:
    parents = {
        "engagement_metrics": ["int_sessions"],
        "session_metrics": ["int_sessions"],
        "loyalty_metrics": ["int_sessions", "stg_crm__customers", "int_ratings_in_window"],
        "loyalty_by_tier": ["loyalty_metrics", "int_sessions", "int_ratings_in_window"],
    }
    for mart in MARTS:
        dom = chromium(f"{site}/index.html#!/model/model.weblogs.{mart}", tmp_path, "--dump-dom")
        text = visible_text(dom)
        assert mart in text
        assert "Depends On" in text and "Referenced By" in text, mart
        for parent in parents[mart]:
            assert parent in text, (mart, parent)
        # The exposure (the reports) depends on every mart.
        assert "Web engagement and loyalty reports" in text or "weblogs_reports" in text, mart
    # Metric definitions from doc blocks render on the column list.
    dom = chromium(
        f"{site}/index.html#!/model/model.weblogs.engagement_metrics", tmp_path, "--dump-dom"
    )
    assert "min(duration / 1800, 1)" in visible_text(dom)


def test_lineage_graph_renders(site: str, tmp_path: Path) -> None:
    url = f"{site}/index.html#!/model/model.weblogs.loyalty_by_tier?g_v=1"
    dom = chromium(url, tmp_path / "dom", "--dump-dom")
    assert "Lineage Graph" in visible_text(dom)
    assert re.search(r'<canvas[^>]*data-id="layer2-node"[^>]*width="[1-9]', dom), "graph not drawn"
    shot = tmp_path / "lineage.png"
    chromium(url, tmp_path / "shot", f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000  # a drawn graph, not a blank page
