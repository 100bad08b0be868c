"""Build the static dashboard site from the marts in a DuckDB file.

Each page of `weblogs.dashboard.pages` becomes ``<out>/<slug>/index.html`` with its
datasets embedded as JSON; `assets/dashboard.js` filters them by the page's date range
and draws the figures, charts (Vega-Lite, vendored from dashboard/node_modules at build
time) and tables in the browser. The site needs no server and no network: open
``<out>/index.html`` from disk or serve the folder.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import json
import shutil
from pathlib import Path
from typing import Any

from weblogs.dashboard.pages import ALL_PAGES
from weblogs.dashboard.readers import DuckDbReader, Reader, ReaderError, TrinoReader
from weblogs.dashboard.spec import Page

ASSETS = Path(__file__).with_name("assets")
#: The browser bundles the pages load, from the npm packages in dashboard/package.json.
VENDOR_FILES = (
    "vega/build/vega.min.js",
    "vega-lite/build/vega-lite.min.js",
    "vega-embed/build/vega-embed.min.js",
)
MAX_DAYS = 3660


class DashboardError(Exception):
    """A site that cannot be built (missing warehouse, tables or npm packages): one line."""


def jsonable(value: Any) -> Any:
    """DuckDB values as JSON: dates as ISO text, decimals as numbers."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no `</script>` or `<!--` from the data."""
    text = json.dumps(data, separators=(",", ":"), default=jsonable)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def query_rows(reader: Reader, sql: str, since: dt.date | None) -> list[dict[str, Any]]:
    """The dataset's rows; those with a session date keep only dates from `since` on."""
    columns, _ = reader.query(f"select * from ({sql}) as dataset limit 0")
    if since is not None and "session_date" in columns:
        sql = f"select * from ({sql}) as dataset where session_date >= date '{since:%Y-%m-%d}'"
    columns, rows = reader.query(sql)
    return [dict(zip(columns, map(jsonable, row), strict=True)) for row in rows]


def session_dates(reader: Reader, days: int) -> tuple[dt.date, dt.date] | None:
    """The site's session dates: the last `days` up to the newest session in the marts.

    Every page's default range, whether or not its own datasets have rows in it.
    """
    _, rows = reader.query("select min(session_date), max(session_date) from engagement_metrics")
    oldest, newest = rows[0]
    if newest is None:
        return None
    return max(oldest, newest - dt.timedelta(days=days - 1)), newest


def page_html(
    page: Page,
    data: dict[str, list[dict[str, Any]]],
    built_at: str,
    bounds: tuple[dt.date, dt.date] | None,
) -> str:
    """One page: navigation, the date-range filter, its tables' names, and its spec."""
    depth = "../" if page.slug else ""
    nav = "".join(
        f'<a href="{depth}{p.slug + "/" if p.slug else ""}index.html"'
        f"{' class=current' if p is page else ''}>{html.escape(p.title)}</a>"
        for p in ALL_PAGES
    )
    spec = {
        "slug": page.slug,
        "bounds": [d.isoformat() for d in bounds] if bounds else None,
        "figures": page.figures,
        "charts": page.charts,
        "tables": page.tables_shown,
    }
    scripts = "".join(f'<script src="{depth}vendor/{Path(v).name}"></script>' for v in VENDOR_FILES)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(page.title)} · weblogs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{depth}assets/dashboard.css">
{scripts}<script src="{depth}assets/dashboard.js" defer></script>
</head><body>
<nav>{nav}</nav>
<main>
<h1>{html.escape(page.title)}</h1>
<p class="intro">{html.escape(page.intro)}</p>
<p class="reads">Reads: <span id="tables">{html.escape(", ".join(page.tables))}</span>.
Built {html.escape(built_at)}.</p>
<form id="range">From <input type="date" id="from" name="from">
to <input type="date" id="to" name="to"> <button type="submit">Apply</button>
<span id="range-note"></span></form>
<section id="figures"></section>
<section id="charts"></section>
<section id="tables-shown"></section>
<pre id="errors" hidden></pre>
</main>
<script type="application/json" id="spec">{script_json(spec)}</script>
<script type="application/json" id="data">{script_json(data)}</script>
</body></html>
"""


def vendor(node_modules: Path, out: Path) -> None:
    """Copy the chart libraries from the npm install into the site."""
    missing = [v for v in VENDOR_FILES if not (node_modules / v).is_file()]
    if missing:
        raise DashboardError(
            f"{node_modules / missing[0]} is missing: run `make dashboard-install` (npm ci)"
        )
    (out / "vendor").mkdir(parents=True, exist_ok=True)
    for name in VENDOR_FILES:
        shutil.copyfile(node_modules / name, out / "vendor" / Path(name).name)


def build_site(
    duckdb_path: Path | None,
    out: Path,
    node_modules: Path,
    days: int = 400,
    trino_url: str | None = None,
    athena_database: str | None = None,
) -> list[Path]:
    """Write every page under `out` from the marts (DuckDB, Trino, or Athena's Parquet on
    S3); returns the pages."""
    if not 1 <= days <= MAX_DAYS:
        raise DashboardError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    try:
        reader = open_reader(duckdb_path, trino_url, athena_database)
    except ReaderError as exc:
        raise DashboardError(str(exc)) from exc
    try:
        return write_pages(reader, out, node_modules, days)
    except ReaderError as exc:
        raise DashboardError(str(exc)) from exc
    finally:
        reader.close()


def open_reader(
    duckdb_path: Path | None, trino_url: str | None, athena_database: str | None
) -> Reader:
    """The marts' reader: Trino, Athena's tables on S3, or the DuckDB file."""
    if trino_url and athena_database:
        raise ReaderError("pass --trino or --athena, not both")
    if trino_url:
        return TrinoReader(trino_url)
    if athena_database:
        from weblogs.dashboard.athena_reader import AthenaParquetReader

        return AthenaParquetReader(athena_database, {t for p in ALL_PAGES for t in p.tables})
    return DuckDbReader(Path(duckdb_path))


def write_pages(reader: Reader, out: Path, node_modules: Path, days: int) -> list[Path]:
    """Query each page's datasets and write its HTML, the assets and the chart libraries."""
    bounds = session_dates(reader, days)
    since = bounds[0] if bounds else None
    built_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.mkdir(parents=True, exist_ok=True)
    vendor(node_modules, out)
    shutil.copytree(ASSETS, out / "assets", dirs_exist_ok=True)
    written = []
    for page in ALL_PAGES:
        data = {name: query_rows(reader, sql, since) for name, sql in page.datasets.items()}
        target = out / page.slug / "index.html" if page.slug else out / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page_html(page, data, built_at, bounds), encoding="utf-8")
        written.append(target)
    return written
