"""The docs site analysts read: `dbt docs generate`, served on loopback, opened in headless Chromium."""

from __future__ import annotations

import functools
import html
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import pytest
from dbt_helpers import END, REPO_ROOT, START, DbtProject, build_fixture_lake

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """`dbt docs generate` over the fixture lake."""
    root = tmp_path_factory.mktemp("dbt-docs")
    project = DbtProject(root, build_fixture_lake(root))
    project.run("docs", "generate", "--vars", f"{{startdate: {START}, enddate: {END}}}")
    assert (project.target_path / "index.html").is_file()
    return project


@pytest.fixture(scope="module")
def site(project: DbtProject) -> Iterator[str]:
    """The generated docs, served from target/ on 127.0.0.1; yields the base URL."""
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
        "acquisition_metrics": ["int_sessions"],
        "page_metrics": ["int_page_views"],
        "goal_metrics": ["int_session_event_values"],
        "audience_metrics": ["int_sessions"],
    }
    for mart in parents:
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


CONTRACT_SECTIONS = (
    "## 1. The event",
    "## 2. The lake",
    "## 3. The analytics tables",
    "## 4. Acquisition, pages and conversions",
)


def test_overview_links_the_contract_and_the_link_resolves(
    project: DbtProject, site: str, tmp_path: Path
) -> None:
    dom = chromium(f"{site}/index.html#!/overview", tmp_path / "overview", "--dump-dom")
    links = re.findall(r'<a[^>]*href="([^"]*contract\.md[^"]*)"', dom)
    assert links, "the overview has no link to the contract"
    for href in links:
        # The link as the browser resolves it from the page, opened in the same browser.
        url = urljoin(f"{site}/index.html", html.unescape(href))
        text = visible_text(chromium(url, tmp_path / "contract", "--dump-dom"))
        assert all(section in text for section in CONTRACT_SECTIONS), url
    # What is served is the repository's page, copied by `dbt docs generate` (asset-paths).
    served = project.target_path / "docs" / "contract.md"
    assert served.read_text() == (REPO_ROOT / "docs" / "contract.md").read_text()


def test_every_macro_and_its_arguments_are_described(project: DbtProject) -> None:
    """Each macro of the project is in its folder's _macros.yml, every argument with it."""
    manifest = json.loads((project.target_path / "manifest.json").read_text())
    macros = [m for m in manifest["macros"].values() if m["package_name"] == "weblogs"]
    assert len(macros) > 30
    missing = []
    for macro in macros:
        signature = re.search(
            r"\{%-?\s*(?:macro|test)\s+\w+\((.*?)\)\s*-?%\}", macro["macro_sql"], re.S
        )
        assert signature, macro["name"]
        names = [a.split("=")[0].strip() for a in signature.group(1).split(",") if a.strip()]
        described = {a["name"]: a["description"] for a in macro["arguments"]}
        if not macro["description"].strip():
            missing.append(macro["name"])
        missing += [f"{macro['name']}({n})" for n in names if not described.get(n, "").strip()]
        assert macro["patch_path"], macro["name"]
        folder = Path(macro["original_file_path"]).parent
        assert macro["patch_path"].endswith(f"{folder}/_macros.yml"), macro["name"]
    assert not missing, missing


def test_the_project_parses_without_a_warning(tmp_path: Path) -> None:
    """dbt checks each macro argument's `type:` (_macros.yml) at every parse: one it does not
    know (`boolean`, `date`, a bare `list`) is a warning in every run's log, and the tests'
    fork server would not keep such a parse (dbt_forkserver.py)."""
    (tmp_path / "lake").mkdir()
    project = DbtProject(tmp_path / "work", tmp_path / "lake")
    done = project.run("parse")
    said = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    assert "WARN" not in said, said[-3000:]
