"""The dashboard site (docs/dashboards.md): built from the fixture marts, served on
loopback, every page opened in headless Chromium; the Overview's figures equal the marts'
and MetricFlow's answers over the semantic layer (models/semantic) equal the marts'."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import urlopen

import duckdb
import pytest
from awsfixtures import MotoServer
from browser import chromium, figures, marts_figures, served
from dbt_helpers import (
    END,
    REPO_ROOT,
    START,
    WEBLOGS,
    fixture_build,
)

from weblogs.analytics.dbt_build import HEADLINES
from weblogs.analytics.metrics import MetricsError, query_metrics
from weblogs.dashboard import ALL_PAGES, build_site

pytestmark = pytest.mark.slow

NODE_MODULES = REPO_ROOT / "dashboard" / "node_modules"
HOSTILE_PAGE = "/</script><img src=x onerror=alert(1)>&amp;"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture marts (dbt build on DuckDB), with one page path an attacker chose."""
    project = fixture_build(tmp_path_factory, tmp_path_factory.mktemp("dashboard"))
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(
            "update page_metrics set page_path = ? where page_path = "
            "(select min(page_path) from page_metrics)",
            [HOSTILE_PAGE],
        )
        # Data health's inputs, empty in a range build: one excluded event, one run.
        con.execute(
            "insert into session_anomalies (report_date, session_id, event_id, user_id,"
            " event_type, event_timestamp, rule) values (date '2026-10-03', 's-x', 'e-x',"
            " 'u-x', 'page_view', timestamp '2026-10-04 01:00:00', 'late_event')"
        )
        # Money in the range (the fixture's sessions buy nothing): amounts whose float sum
        # is not exact (0.1 + 0.2), on the first and last days, and a goal's value.
        con.execute(
            "update engagement_metrics set revenue = case session_date"
            " when date '2026-10-02' then 0.10 else 0.20 end"
            " where session_id in (select min(session_id) from engagement_metrics"
            " where session_date in (date '2026-10-02', date '2026-10-04')"
            " group by session_date)"
        )
        con.execute("update goal_metrics set value = 1234.56 where completions > 0")
        # One bot session of two events on the last day (bot share counts it once).
        con.execute(
            "insert into session_anomalies (report_date, session_id, event_id, user_id,"
            " event_type, event_timestamp, rule) select date '2026-10-04', 's-bot', e, 'u-bot',"
            " 'page_view', timestamp '2026-10-04 02:00:00', 'bot_browser'"
            " from (values ('e-bot-1'), ('e-bot-2')) as events (e)"
        )
        con.execute(
            "insert into weblogs_run_log (run_date, arrivals_from, arrivals_to,"
            " session_dates, recorded_at) values (date '2026-10-05',"
            " timestamp '2026-10-04 00:00:00', timestamp '2026-10-05 00:00:00',"
            " '2026-10-02 .. 2026-10-04', timestamp '2026-10-05 06:00:00')"
        )
    return project.duckdb_path


@pytest.fixture(scope="module")
def site(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built site served from its folder on 127.0.0.1; yields the base URL."""
    out = tmp_path_factory.mktemp("site")
    build_site(warehouse, out, NODE_MODULES)
    with served(out) as url:
        yield url


def test_every_page_renders_without_console_errors(site: str, tmp_path: Path) -> None:
    for page in ALL_PAGES:
        url = f"{site}{page.path}index.html"
        shot = tmp_path / f"{page.slug or 'overview'}.png"
        # One Chromium per page: the DOM and the screenshot after the same virtual time.
        dom, console = chromium(
            url, tmp_path / f"dom-{page.slug}", "--dump-dom", f"--screenshot={shot}"
        )
        assert console == [], (page.title, console)
        assert 'data-rendered="true"' in dom, page.title
        assert re.search(r'<pre id="errors" hidden="">\s*</pre>', dom), page.title
        for table in page.tables:
            assert table in dom, (page.title, table)
        assert 'type="date" id="from"' in dom and 'type="date" id="to"' in dom
        # Every chart is drawn (the fixture has rows for each in the full range).
        assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == len(page.charts), page.title
        assert shot.stat().st_size > 20_000, page.title  # drawn, not a blank page


def test_overview_figures_equal_the_marts(site: str, warehouse: Path, tmp_path: Path) -> None:
    dom, _ = chromium(f"{site}/index.html", tmp_path, "--dump-dom")
    shown = figures(dom)
    assert {k: v[0] for k, v in shown.items()} == marts_figures(warehouse, START, END)
    assert shown["sessions"][0] > 0


def test_a_date_range_change_changes_the_figures_as_the_marts_say(
    site: str, warehouse: Path, tmp_path: Path
) -> None:
    # The last day alone, against the day before it (the previous period of one day).
    day, before = END, "2026-10-03"
    dom, console = chromium(f"{site}/index.html?from={day}&to={day}", tmp_path, "--dump-dom")
    assert console == []
    shown = figures(dom)
    assert {k: v[0] for k, v in shown.items()} == marts_figures(warehouse, day, day)
    assert {k: v[1] for k, v in shown.items()} == marts_figures(warehouse, before, before)
    assert shown["sessions"][0] != marts_figures(warehouse, START, END)["sessions"]


#: Each page's figures, as its marts compute them over a range of session dates.
PAGE_FIGURES_SQL = {
    "pages": """
        select
            coalesce(sum(page_views), 0) as page_views,
            coalesce(sum(entrances), 0) as entrances,
            -- half up to 2 decimals in integers: no binary float meets a tie
            (20000 * sum(exits) + sum(page_views)) // nullif(2 * sum(page_views), 0) / 100
                as exit_rate,
            (2 * sum(time_on_page_milliseconds) + 10 * sum(timed_page_views))
                // nullif(20 * sum(timed_page_views), 0) / 100 as time_on_page
        from page_metrics where session_date between $from and $to
    """,
    "visitors": """
        select
            coalesce(sum(new_visitors), 0) as new_visitors,
            coalesce(sum(returning_visitors), 0) as returning_visitor_days,
            round(100.0 * sum(identified_visitors) / nullif(sum(visitors), 0), 2)
                as identified_share
        from daily_visitors where session_date between $from and $to
    """,
    "goals": """
        select
            coalesce(sum(completions), 0) as completions,
            coalesce(sum(value), 0) as goal_value
        from goal_metrics where session_date between $from and $to
    """,
    "data-health": """
        with bots as (
            select count(*) as bot_sessions from (
                select distinct report_date, session_id from session_anomalies
                where rule = 'bot_browser' and report_date between $from and $to
            ) as bot_session_dates
        ),
        counted as (
            select count(*) as sessions from engagement_metrics
            where session_date between $from and $to
        )
        select
            bot_sessions,
            round(100.0 * bot_sessions / nullif(sessions + bot_sessions, 0), 2) as bot_share
        from bots cross join counted
    """,
}


def page_marts_figures(warehouse: Path, slug: str, start: str, end: str) -> dict[str, float | None]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(PAGE_FIGURES_SQL[slug], {"from": start, "to": end})
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    return {k: None if v is None else float(v) for k, v in zip(names, row, strict=True)}


@pytest.mark.parametrize("slug", sorted(PAGE_FIGURES_SQL))
def test_visitors_goals_and_bot_share_figures_equal_the_marts(
    site: str, warehouse: Path, tmp_path: Path, slug: str
) -> None:
    """Whole range, then one day: each figure shown equals the marts' own."""
    for start, end in ((START, END), (END, END)):
        url = f"{site}/{slug}/index.html?from={start}&to={end}"
        dom, console = chromium(url, tmp_path / f"{start}-{end}", "--dump-dom")
        assert console == [], console
        shown = {k: v[0] for k, v in figures(dom).items()}
        assert shown == page_marts_figures(warehouse, slug, start, end), (start, end)
    whole = page_marts_figures(warehouse, slug, START, END)
    assert any(v for v in whole.values()), whole  # the fixture has rows to compare


def shown_table(dom: str, caption: str) -> list[list[str]]:
    """A table's body cells as text, by its caption."""
    table = dom.split(f"<caption>{caption}</caption>", 1)[1].split("</table>", 1)[0]
    return [
        [html.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table)
        if "<td>" in row
    ]


def test_time_on_page_per_page_equals_the_marts_mean(
    site: str, warehouse: Path, tmp_path: Path
) -> None:
    """One day: each page's time on page shown equals `avg_time_on_page_seconds` of its
    `page_metrics` row (the mean of the day, "–" when no view has one); over the whole
    range, the exact mean of the timed views, not the mean of the daily means."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # A day with a page none of whose views has a time (shown as "–").
        (untimed,) = con.execute(
            "select cast(min(session_date) as varchar) from page_metrics"
            " where avg_time_on_page_seconds is null"
        ).fetchone()
        day = dict(
            con.execute(
                "select page_path, avg_time_on_page_seconds from page_metrics"
                " where session_date = ?",
                [untimed],
            ).fetchall()
        )
        whole = dict(
            con.execute(
                "select page_path, (2 * sum(time_on_page_milliseconds)"
                " + 10 * sum(timed_page_views)) // nullif(20 * sum(timed_page_views), 0) / 100"
                " from page_metrics"
                " where session_date between ? and ? group by page_path",
                [START, END],
            ).fetchall()
        )
    assert any(v is not None for v in day.values()) and any(v is None for v in day.values())
    assert len(whole) <= 50  # the table shows every page of the fixture
    for (start, end), want in (((untimed, untimed), day), ((START, END), whole)):
        url = f"{site}/pages/index.html?from={start}&to={end}"
        dom, console = chromium(url, tmp_path / f"pages-{start}-{end}", "--dump-dom")
        assert console == [], console
        rows = shown_table(dom, "Pages")
        shown = {r[0]: None if r[-1] == "–" else float(r[-1].replace(",", "")) for r in rows}
        assert shown == {k: None if v is None else float(v) for k, v in want.items()}


def test_a_hostile_range_and_page_path_are_shown_as_text(site: str, tmp_path: Path) -> None:
    url = f"{site}/pages/index.html?from=%3Cscript%3E&to=2026-13-99"
    dom, console = chromium(url, tmp_path, "--dump-dom")
    assert console == []
    assert 'data-rendered="true"' in dom
    assert "ignored from=&lt;script&gt;; ignored to=2026-13-99" in dom
    # The attacker's page path is a table cell's text, not markup.
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;" in dom
    assert "<img src=" not in dom


def test_make_dashboard_cli_says_where_to_open_it(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    done = subprocess.run(
        [
            WEBLOGS,
            "dashboard",
            "--duckdb",
            str(warehouse),
            "--out",
            str(out),
            "--node-modules",
            str(NODE_MODULES),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"file://{out.resolve() / 'index.html'}" in done.stdout
    assert all((out / p.slug / "index.html").is_file() for p in ALL_PAGES)


def embedded_data(site: Path) -> dict[str, dict[str, list[str]]]:
    """Each page's embedded datasets, rows as sorted JSON texts (order is not a contract)."""
    pages = {}
    for page in sorted(site.rglob("index.html")):
        found = re.search(
            r'<script type="application/json" id="data">(.*?)</script>', page.read_text(), re.S
        )
        assert found, page
        pages[str(page.relative_to(site))] = {
            name: sorted(json.dumps(row, sort_keys=True) for row in rows)
            for name, rows in json.loads(found.group(1)).items()
        }
    return pages


def publish_as_athena(warehouse: Path, moto: MotoServer, staging: Path) -> tuple[str, str]:
    """The marts as dbt-athena leaves them: Parquet (hive-partitioned by session date,
    files without an extension) under a fresh prefix per table, its location in Glue,
    and a stale copy under an older prefix that the catalog no longer points at."""
    s3, glue = moto.client("s3"), moto.client("glue")
    bucket, database = "weblogs-marts", "weblogs_analytics"
    s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": database})
    tables = sorted({t for p in ALL_PAGES for t in p.tables})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            described = con.execute(f"describe {table}").fetchall()
            # DuckDB's sums are 128-bit (Parquet would make them doubles); Athena's are bigint.
            columns = [(c[0], c[1].lower().replace("hugeint", "bigint")) for c in described]
            selected = ", ".join(f"cast({n} as {t}) as {n}" for n, t in columns)
            parts = ["session_date"] if ("session_date", "date") in columns else []
            folder = staging / table
            target = folder if parts else folder / "000000_0"
            target.parent.mkdir(parents=True, exist_ok=True)
            options = f", partition_by ({parts[0]})" if parts else ""
            con.execute(
                f"copy (select {selected} from {table}) to '{target}' (format parquet{options})"
            )
            location = f"s3://{bucket}/{database}/{table}/4f1c2d9e/"
            for n, file in enumerate(sorted(p for p in folder.rglob("*") if p.is_file())):
                key = folder.name if not parts else file.parent.name
                name = f"20261207_060000_{n:05d}_abcde_{table}"
                s3.upload_file(str(file), bucket, f"{database}/{table}/4f1c2d9e/{key}/{name}")
                s3.upload_file(str(file), bucket, f"{database}/{table}/0a0a0a0a/{key}/{name}")
            s3.put_object(Bucket=bucket, Key=f"{database}/{table}/4f1c2d9e/_SUCCESS", Body=b"")
            glue.create_table(
                DatabaseName=database,
                TableInput={
                    "Name": table,
                    "StorageDescriptor": {
                        "Location": location,
                        "Columns": [
                            {"Name": n, "Type": "string" if t == "varchar" else t}
                            for n, t in columns
                            if n not in parts
                        ],
                    },
                    "PartitionKeys": [{"Name": p, "Type": "date"} for p in parts],
                },
            )
    # The stale prefix holds doubled rows: read, it would show.
    return bucket, database


def test_the_dashboards_read_from_athenas_parquet_on_s3_equal_those_from_duckdb(
    warehouse: Path, moto_server: MotoServer, tmp_path: Path
) -> None:
    """Athena's way (docs/dashboards.md): the Glue locations' Parquet read by DuckDB over
    S3 (moto's server, real HTTP) gives the same pages, row for row."""
    moto_server.reset()
    bucket, database = publish_as_athena(warehouse, moto_server, tmp_path / "staging")
    build_site(None, tmp_path / "athena", NODE_MODULES, athena_database=database)
    build_site(warehouse, tmp_path / "duckdb", NODE_MODULES)
    on_athena = embedded_data(tmp_path / "athena")
    assert on_athena == embedded_data(tmp_path / "duckdb")
    assert on_athena["index.html"]["daily"] and on_athena["data-health/index.html"]["runs"]
    # A table Athena built empty (no file at its location) is an empty view, not an error.
    s3 = moto_server.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{database}/weblogs_run_log/4f1c2d9e/")
    for item in listed["Contents"]:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    build_site(None, tmp_path / "empty", NODE_MODULES, athena_database=database)
    again = embedded_data(tmp_path / "empty")
    assert again["data-health/index.html"]["runs"] == []
    assert again["index.html"] == on_athena["index.html"]


def test_athena_bad_input_is_one_clear_line(moto_server: MotoServer, tmp_path: Path) -> None:
    moto_server.reset()
    # A catalog entry pointing off S3 (a local file) is refused, never read.
    glue = moto_server.client("glue")
    glue.create_database(DatabaseInput={"Name": "elsewhere"})
    first = min(t for p in ALL_PAGES for t in p.tables)
    glue.create_table(
        DatabaseName="elsewhere",
        TableInput={"Name": first, "StorageDescriptor": {"Location": "file:///etc/"}},
    )
    for database, message in (
        ("x; drop", "--athena database must be a lower-case name"),
        ("nowhere", "athena:nowhere: An error occurred (EntityNotFoundException)"),
        ("elsewhere", "table location is not on S3: 'file:///etc/'"),
    ):
        base = ["--out", str(tmp_path / "o"), "--athena", database]
        done = subprocess.run(
            [WEBLOGS, "dashboard", *base], capture_output=True, text=True, check=False
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duckdb", "/nonexistent/w.duckdb"], "no warehouse at /nonexistent/w.duckdb"),
        (["--days", "0"], "--days must be between 1 and 3660"),
        (["--node-modules", "/nonexistent"], "run `make dashboard-install`"),
        (["--trino", "ftp://x/hive/weblogs"], "--trino must be http(s)://host:port/catalog/schema"),
        (["--trino", "http://127.0.0.1:1/hive"], "--trino must be http(s)://host:port/catalog"),
        (["--trino", "http://127.0.0.1:1/hive/w;drop"], "catalog and schema must be lower-case"),
        (["--trino", "http://127.0.0.1:99999/hive/weblogs"], "--trino port"),
        (["--trino", "http://127.0.0.1:1/hive/weblogs"], "http://127.0.0.1:1/hive/weblogs:"),
    ],
)
def test_bad_input_is_one_clear_line(
    warehouse: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    base = ["--duckdb", str(warehouse), "--out", str(tmp_path / "o")]
    done = subprocess.run(
        [WEBLOGS, "dashboard", *base, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# --- The metrics behind the figures: MetricFlow over the semantic layer ----------------

METRICS = (
    "sessions",
    "visitors",
    "bounce_rate_pct",
    "conversion_rate_pct",
    "avg_engagement_score",
    "purchases",
)
FIGURE_OF = dict(
    zip(
        METRICS,
        ("sessions", "visitors", "bounce_rate", "conversion_rate", "avg_engagement", "purchases"),
        strict=True,
    )
)


def round2(value: object) -> float | None:
    """The marts' rounding (half up, 2 decimals) of MetricFlow's unrounded ratios."""
    if value is None:
        return None
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def metricflow(warehouse: Path, start: str, end: str, *group_by: str) -> list[dict]:
    manifest = warehouse.parent / "target" / "semantic_manifest.json"
    names = (*METRICS, "converted_sessions")
    rows = query_metrics(
        warehouse, manifest, names, date.fromisoformat(start), date.fromisoformat(end), group_by
    )
    return [{k: round2(v) if k in names else v for k, v in row.items()} for row in rows]


def test_metricflow_equals_the_marts_over_a_range(warehouse: Path) -> None:
    for start, end in ((START, END), (END, END)):
        (row,) = metricflow(warehouse, start, end)
        marts = marts_figures(warehouse, start, end)
        assert {m: row[m] for m in METRICS} == {m: marts[FIGURE_OF[m]] for m in METRICS}


def test_metricflow_revenue_equals_the_marts(warehouse: Path) -> None:
    manifest = warehouse.parent / "target" / "semantic_manifest.json"
    for start, end in ((START, END), (END, END)):
        (row,) = query_metrics(
            warehouse, manifest, ["revenue"], date.fromisoformat(start), date.fromisoformat(end)
        )
        assert round2(row["revenue"]) == marts_figures(warehouse, start, end)["revenue"]


def test_metricflow_goal_metrics_equal_goal_metrics_row_by_row(warehouse: Path) -> None:
    manifest = warehouse.parent / "target" / "semantic_manifest.json"
    names = [
        "goal_completions",
        "goal_converted_sessions",
        "goal_conversion_rate_pct",
        "goal_value",
    ]
    rows = query_metrics(
        warehouse,
        manifest,
        names,
        date.fromisoformat(START),
        date.fromisoformat(END),
        ["metric_time__day", "goal_day__goal"],
    )
    flow = {
        (r["metric_time__day"].date().isoformat(), r["goal_day__goal"]): tuple(
            round2(r[n]) for n in names
        )
        for r in rows
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = con.sql(
            "select cast(session_date as varchar), goal, completions, converted_sessions,"
            " conversion_rate_pct, value from goal_metrics"
        ).fetchall()
    assert marts, "the fixture has goal rows"
    assert flow == {(d, g): tuple(float(v) for v in rest) for d, g, *rest in marts}


def test_metricflow_page_metrics_equal_page_metrics_row_by_row_and_over_a_range(
    warehouse: Path,
) -> None:
    manifest = warehouse.parent / "target" / "semantic_manifest.json"
    names = ["page_views", "entrances", "exits", "avg_time_on_page_seconds"]
    rows = query_metrics(
        warehouse,
        manifest,
        names,
        date.fromisoformat(START),
        date.fromisoformat(END),
        ["metric_time__day", "page_day__page_path"],
    )
    flow = {
        (r["metric_time__day"].date(), r["page_day__page_path"]): tuple(round2(r[n]) for n in names)
        for r in rows
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = con.sql(
            "select session_date, page_path, page_views, entrances, exits,"
            " avg_time_on_page_seconds from page_metrics"
        ).fetchall()
    assert marts and any(m[-1] is None for m in marts), "the fixture has untimed pages"
    assert flow == {
        (d, p): tuple(None if v is None else float(v) for v in rest) for d, p, *rest in marts
    }
    # Over the range: the exact mean of the timed views, as the Pages page shows it.
    for start, end in ((START, END), (END, END)):
        (row,) = query_metrics(
            warehouse, manifest, names, date.fromisoformat(start), date.fromisoformat(end)
        )
        shown = page_marts_figures(warehouse, "pages", start, end)
        assert round2(row["avg_time_on_page_seconds"]) == shown["time_on_page"]
        assert (row["page_views"], row["entrances"]) == (shown["page_views"], shown["entrances"])


def test_metricflow_retention_equals_retention_cohorts_cell_by_cell(warehouse: Path) -> None:
    manifest = warehouse.parent / "target" / "semantic_manifest.json"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = con.sql(
            "select cohort_week, week_number, cohort_visitors, retention_pct from retention_cohorts"
        ).fetchall()
    assert marts, "the fixture has cohorts"
    rows = query_metrics(
        warehouse,
        manifest,
        ["retention_pct", "cohort_visitors"],
        min(m[0] for m in marts),
        max(m[0] for m in marts),
        ["metric_time__day", "cohort_cell__week_number"],
    )
    flow = {
        (r["metric_time__day"].date(), int(r["cohort_cell__week_number"])): (
            float(r["cohort_visitors"]),
            round2(r["retention_pct"]),
        )
        for r in rows
    }
    assert flow == {(w, n): (float(c), float(p)) for w, n, c, p in marts}


def test_metricflow_equals_session_and_acquisition_metrics_row_by_row(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sessions = con.sql(
            "select session_date, device_type, browser, sessions, users, bounce_rate_pct,"
            " avg_engagement_score from session_metrics"
        ).fetchall()
        channels = con.sql(
            "select session_date, channel, sessions, converted_sessions, conversion_rate_pct,"
            " purchases from acquisition_metrics"
        ).fetchall()
    by_device = {
        (r["metric_time__day"].date(), r["session__device_type"], r["session__browser"]): (
            r["sessions"],
            r["visitors"],
            r["bounce_rate_pct"],
            r["avg_engagement_score"],
        )
        for r in metricflow(
            warehouse,
            START,
            END,
            "metric_time__day",
            "session__device_type",
            "session__browser",
        )
    }
    assert by_device == {
        (d, dev, b): (float(n), float(users), float(bounce), float(eng))
        for d, dev, b, n, users, bounce, eng in sessions
    }
    by_channel = {
        (r["metric_time__day"].date(), r["session__channel"]): (
            r["sessions"],
            r["converted_sessions"],
            r["conversion_rate_pct"],
            r["purchases"],
        )
        for r in metricflow(warehouse, START, END, "metric_time__day", "session__channel")
    }
    assert by_channel == {
        (d, ch): (float(n), float(conv), float(rate), float(p))
        for d, ch, n, conv, rate, p in channels
    }
    assert len(by_channel) > 1 and len(by_device) > 1


def test_an_unknown_metric_is_one_clear_error(warehouse: Path) -> None:
    manifest = warehouse.parent / "target" / "semantic_manifest.json"
    with pytest.raises(MetricsError, match=r"unknown metrics \['revenue; drop table x'\]"):
        query_metrics(
            warehouse, manifest, ["revenue; drop table x"], date(2026, 10, 2), date(2026, 10, 2)
        )


def test_lint_semantic_rejects_a_metric_of_a_missing_metric(tmp_path: Path) -> None:
    """`make lint` fails, naming the metric, when a ratio divides by a metric that is not there."""
    for name in ("Makefile", "dbt_project.yml", "profiles.yml.example"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    for folder in ("models", "macros", "tests", "docs"):
        if (REPO_ROOT / folder).is_dir():
            shutil.copytree(
                REPO_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("python")
            )
    semantic = tmp_path / "models" / "semantic" / "_semantic.yml"
    text = semantic.read_text()
    broken = text.replace("      denominator: sessions\n", "      denominator: sesions\n", 1)
    assert broken != text
    semantic.write_text(broken)
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(tmp_path),
            "lint-semantic",
            f"BIN={Path(WEBLOGS).parent}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert "sesions" in done.stdout + done.stderr


def test_the_exposures_list_each_page_with_its_path_and_tables(warehouse: Path) -> None:
    manifest = json.loads((warehouse.parent / "target" / "manifest.json").read_text())
    exposures = {
        e["name"]: e for e in manifest["exposures"].values() if e["name"].startswith("dashboard_")
    }
    expected = {"dashboard_" + (p.slug or "overview").replace("-", "_"): p for p in ALL_PAGES}
    assert set(exposures) == set(expected)
    for name, page in expected.items():
        exposure = exposures[name]
        assert exposure["type"] == "dashboard"
        assert urlparse(exposure["url"]).path == page.path, name
        refs = sorted(node.rsplit(".", 1)[-1] for node in exposure["depends_on"]["nodes"])
        assert refs == sorted(page.tables), name


def test_dashboard_dev_serves_the_site_and_rebuilds_it_when_the_warehouse_changes(
    warehouse: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "weblogs.duckdb"
    shutil.copy2(warehouse, copy)
    out = tmp_path / "site"
    args = ["--duckdb", str(copy), "--out", str(out), "--serve", "--port", "0"]
    server = subprocess.Popen(
        [WEBLOGS, "dashboard", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + server.stderr.read()
        first = urlopen(url.group(0), timeout=30).read().decode()
        assert "Overview" in first and '"sessions":' in first
        with duckdb.connect(str(copy)) as con:
            con.execute("update engagement_metrics set purchases = purchases + 1000")
        again = urlopen(url.group(0) + "index.html", timeout=30).read().decode()
        assert again != first  # rebuilt from the changed warehouse
        assert re.search(r'"purchases":\d{4}', again) and not re.search(r'"purchases":\d{4}', first)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_weblogs_models_headlines_equal_metricflow(warehouse: Path) -> None:
    """`weblogs models` keeps its own SQL (weblogs/analytics/dbt_build.py); this holds its
    window headline and its by-channel table equal to the semantic layer's metrics."""
    window = {"schema": "main", "start": f"date '{START}'", "end": f"date '{END}'"}
    headlines = {title: sql.format(**window) for title, sql in HEADLINES}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        total = con.sql(headlines["engagement_metrics (sessions in the window)"]).fetchone()
        sql = headlines["acquisition_metrics (by channel, over the window's days)"]
        channels = con.sql(sql).fetchall()
        sql = headlines["bot sessions (left out of every mart, over the window's days)"]
        bots, _, bot_share = con.sql(sql).fetchone()
    # The Data health page's bot figures are counted as `weblogs models` counts them.
    shown = page_marts_figures(warehouse, "data-health", START, END)
    assert (float(bots), float(bot_share)) == (shown["bot_sessions"], shown["bot_share"])
    (row,) = metricflow(warehouse, START, END)
    # sessions, users, avg_duration_s, bounce_pct, avg_engagement, loyalty_interactions
    assert (total[0], total[1], float(total[3]), float(total[4])) == (
        row["sessions"],
        row["visitors"],
        row["bounce_rate_pct"],
        row["avg_engagement_score"],
    )
    by_channel = {
        r["session__channel"]: (
            r["sessions"],
            r["converted_sessions"],
            r["conversion_rate_pct"],
            r["purchases"],
        )
        for r in metricflow(warehouse, START, END, "session__channel")
    }
    # channel, sessions, add_to_cart, checkout, converted, conversion_pct, purchases
    assert by_channel == {
        c[0]: (float(c[1]), float(c[4]), float(c[5]), float(c[6])) for c in channels
    }
    # The top pages: views and the time on page over the window, as the Pages page and
    # MetricFlow give them (the exact mean of the timed views).
    sql = headlines["page_metrics (top 10 pages by views, over the window's days)"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        pages = con.sql(sql).fetchall()
    manifest = warehouse.parent / "target" / "semantic_manifest.json"
    by_page = {
        r["page_day__page_path"]: (r["page_views"], round2(r["avg_time_on_page_seconds"]))
        for r in query_metrics(
            warehouse,
            manifest,
            ["page_views", "avg_time_on_page_seconds"],
            date.fromisoformat(START),
            date.fromisoformat(END),
            ["page_day__page_path"],
        )
    }
    # page_path, page_views, entrances, exits, exit_pct, time_on_page_s
    assert pages and any(p[5] is not None for p in pages)
    for p in pages:
        assert (float(p[1]), p[5]) == by_page[p[0]], p


def test_data_health_without_anomalies_or_runs_still_shows_freshness(
    warehouse: Path, tmp_path: Path
) -> None:
    """A page whose own dated datasets are empty keeps the site's range (the marts' dates)."""
    copy = tmp_path / "weblogs.duckdb"
    shutil.copy2(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("delete from session_anomalies")
        con.execute("delete from weblogs_run_log")
    build_site(copy, tmp_path / "site", NODE_MODULES)
    url = (tmp_path / "site" / "data-health" / "index.html").as_uri()
    dom, console = chromium(url, tmp_path / "profile", "--dump-dom")
    assert console == []
    assert 'data-rendered="true"' in dom and "no sessions in the marts yet" not in dom
    assert "no rows in this range" in dom
    assert f"<td>{END}</td><td>{START}</td>" in dom  # newest, oldest session date
