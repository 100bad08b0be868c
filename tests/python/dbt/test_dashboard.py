"""The dashboard site (docs/dashboards.md): built from the fixture marts, served on
loopback, every page opened in headless Chromium; the Overview's figures equal the marts'
and MetricFlow's answers over the semantic layer (models/semantic) equal the marts'."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import urlopen

import duckdb
import pytest
from dbt_helpers import END, REPO_ROOT, START, WEBLOGS, fixture_build

from weblogs.analytics.dbt_build import HEADLINES
from weblogs.analytics.metrics import MetricsError, query_metrics
from weblogs.dashboard import ALL_PAGES, build_site

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NODE_MODULES = REPO_ROOT / "dashboard" / "node_modules"
HOSTILE_PAGE = "/</script><img src=x onerror=alert(1)>&amp;"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


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
    handler = functools.partial(QuietHandler, directory=str(out))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium(url: str, profile: Path, *mode: str) -> tuple[str, list[str]]:
    """Headless Chromium, loopback only; (stdout, the page's console messages)."""
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
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--window-size=1400,1400",
            *mode,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def figures(dom: str) -> dict[str, tuple[float, float]]:
    """The Overview's figures as shown: id -> (value, previous period's value)."""
    found = re.findall(
        r'id="figure-(\w+)".*?class="value" data-value="([^"]*)".*?'
        r'class="previous" data-value="([^"]*)"',
        dom,
        flags=re.S,
    )
    return {name: (number(now), number(before)) for name, now, before in found}


def number(text: str) -> float | None:
    return None if text == "null" else float(text)


def marts_figures(warehouse: Path, start: str, end: str) -> dict[str, float | None]:
    """The same figures straight from the marts, with the marts' own rounding."""
    sql = """
        select
            count(*),
            count(distinct user_id),
            round(100 * avg(case when is_bounce then 1 else 0 end), 2),
            round(100 * avg(case when converted then 1 else 0 end), 2),
            round(avg(round(engagement_score, 2)), 2),
            coalesce(sum(purchases), 0),
            coalesce(sum(revenue), 0)
        from engagement_metrics
        where session_date between ? and ?
    """
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(sql, [start, end]).fetchone()
    names = ("sessions", "visitors", "bounce_rate", "conversion_rate", "avg_engagement")
    values = dict(zip((*names, "purchases", "revenue"), row, strict=True))
    return {k: None if v is None else float(v) for k, v in values.items()}


def test_every_page_renders_without_console_errors(site: str, tmp_path: Path) -> None:
    for page in ALL_PAGES:
        url = f"{site}{page.path}index.html"
        dom, console = chromium(url, tmp_path / f"dom-{page.slug}", "--dump-dom")
        assert console == [], (page.title, console)
        assert 'data-rendered="true"' in dom, page.title
        assert re.search(r'<pre id="errors" hidden="">\s*</pre>', dom), page.title
        for table in page.tables:
            assert table in dom, (page.title, table)
        assert 'type="date" id="from"' in dom and 'type="date" id="to"' in dom
        # Every chart is drawn (the fixture has rows for each in the full range).
        assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == len(page.charts), page.title
        shot = tmp_path / f"{page.slug or 'overview'}.png"
        chromium(url, tmp_path / f"shot-{page.slug}", f"--screenshot={shot}")
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
