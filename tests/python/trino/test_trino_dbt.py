"""The Athena SQL executed for real, on Trino (the engine of Athena engine version 3).

One Trino serves the fixture lake written by `weblogs transform`, with its batch of
acquisition traffic (trino_helpers.py); the dbt project builds on it with the
`trino` target, whose macros are the Athena ones (docs/analytics.md, Trino). The
marts must equal the DuckDB marts and the plain-Python references (dbt_helpers.py,
acquisition_reference.py, revenue_reference.py) row for row, a day-by-day run must equal one range run,
and a run must read only the partitions of its window.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from acquisition_reference import reference_acquisition
from dbt_helpers import END, MARTS, REPO_ROOT, START, DbtProject, reference_marts
from revenue_reference import reference_revenue
from trino_helpers import VISITORS_DAYS, VISITORS_FIRST, TrinoLake
from visitors_reference import assert_visitor_rows, visitor_sessions

from weblogs.dashboard import build_site

pytestmark = pytest.mark.slow

KEYS = {
    "engagement_metrics": ("session_id", "session_date"),
    "session_metrics": ("session_date", "device_type", "browser"),
    "loyalty_metrics": ("user_id",),
    "loyalty_by_tier": ("loyalty_tier",),
    "acquisition_metrics": ("session_date", "channel"),
    "page_metrics": ("session_date", "page_path"),
    "goal_metrics": ("session_date", "goal"),
    "audience_metrics": ("session_date", "device_type", "os", "country"),
}
ALL_MARTS = (*MARTS, "acquisition_metrics", "page_metrics", "goal_metrics", "audience_metrics")
#: The incremental marts and the date column each is partitioned by.
PARTITIONED = {
    "engagement_metrics": "session_date",
    "session_metrics": "session_date",
    "acquisition_metrics": "session_date",
    "page_metrics": "session_date",
    "goal_metrics": "session_date",
    "audience_metrics": "session_date",
    "session_anomalies": "report_date",
}
INCREMENTAL = tuple(PARTITIONED)
CHANNELS = {
    "paid_search", "paid_social", "display", "email", "affiliate", "social",
    "organic_search", "other_campaign", "referral", "direct",
}  # fmt: skip
#: Athena refuses a query string longer than this many bytes.
ATHENA_QUERY_LIMIT = 262_144
#: In an EXPLAIN ANALYZE plan: the rows a scan of the events table read.
EVENTS_SCAN = re.compile(
    r"(?:TableScan|ScanFilter\w*)\[table = hive:\w+:events\b.*?\n\s*Input: (\d+) rows", re.S
)


def assert_same_rows(
    actual: list[dict[str, Any]], expected: list[dict[str, Any]], mart: str
) -> None:
    """Same keys, same columns, equal values (numbers to 0.01)."""
    got = {tuple(r[k] for k in KEYS[mart]): r for r in actual}
    want = {tuple(r[k] for k in KEYS[mart]): r for r in expected}
    assert len(got) == len(actual) and len(want) == len(expected), mart
    assert sorted(got, key=str) == sorted(want, key=str), mart
    for key, row in want.items():
        assert set(got[key]) == set(row), (mart, key)
        for column, value in row.items():
            other = got[key][column]
            if isinstance(value, float) and other is not None:
                assert abs(other - value) <= 0.01, (mart, key, column, other, value)
            else:
                assert other == value, (mart, key, column, other, value)


@pytest.fixture(scope="module")
def built(trino_lake: TrinoLake, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = trino_lake.dbt(
        tmp_path_factory.mktemp("dbt-trino-range"), "weblogs_range", unit_tests=True
    )
    project.build(START, END)
    return project


@pytest.fixture(scope="module")
def duckdb_marts(trino_lake: TrinoLake, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The same window on DuckDB over the same lake (models only: test_dbt_build tests them)."""
    project = DbtProject(tmp_path_factory.mktemp("dbt-duckdb-same-lake"), trino_lake.lake)
    project.run("run", "--vars", f"{{startdate: {START}, enddate: {END}}}")
    return project


def test_full_build_on_trino_runs_every_model_unit_test_and_data_test(built: DbtProject) -> None:
    results = json.loads((built.target_path / "run_results.json").read_text())["results"]
    by_status: dict[str, list[str]] = {}
    for result in results:
        by_status.setdefault(result["status"], []).append(result["unique_id"])
    assert set(by_status) <= {"success", "pass", "warn", "no-op"}, by_status
    assert len([r for r in results if r["unique_id"].startswith("unit_test.")]) >= 8
    # Every data test of the project ran: one `model_checks` per model with rules (20),
    # the singular tests and the few one-rule tests kept for their severity or reference.
    manifest = json.loads((built.target_path / "manifest.json").read_text())
    data_tests = {k for k, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    assert {r["unique_id"] for r in results if r["unique_id"].startswith("test.")} == data_tests
    assert len([t for t in data_tests if ".checks_" in t]) >= 20
    models = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
    assert set(ALL_MARTS) <= models
    # The warnings the lake calls for, nothing else: the CRM fixture's bad ratings and
    # unreadable date (as on DuckDB, test_dbt_build), the acquisition batch's endless
    # session_id (an event left out) and reused one (two sessions in the window).
    assert sorted(u.split(".")[2] for u in by_status["warn"]) == [
        "assert_no_event_is_left_out_of_its_session",
        "not_null_stg_crm__ratings_rated_at",
        "not_null_stg_crm__ratings_rating",
        "unique_engagement_metrics_session_id",
    ]


def expected_marts(lake: Path) -> dict[str, list[dict[str, Any]]]:
    """The six marts by the references: engagement_metrics takes section 4's columns too."""
    expected = reference_marts(lake, START, END)
    acquisition = reference_acquisition(lake, START, END)
    section4 = {(r["session_id"], r["session_date"]): r for r in acquisition["engagement_metrics"]}
    sessions = {(r["session_id"], r["session_date"]): r for r in expected["engagement_metrics"]}
    assert sorted(section4, key=str) == sorted(sessions, key=str)
    visits = {(v["session_id"], v["session_date"]): v for v in visitor_sessions(lake, START, END)}
    expected["engagement_metrics"] = [
        {
            **row,
            **section4[key],
            "client_id": visits[key]["client_id"],
            "visitor_key": visits[key]["visitor_key"],
        }
        for key, row in sessions.items()
    ]
    expected["acquisition_metrics"] = acquisition["acquisition_metrics"]
    expected["page_metrics"] = acquisition["page_metrics"]
    # Section 6: the revenue, audience and goal columns, money as exact decimals.
    revenue = reference_revenue(lake, START, END)
    for mart in ("engagement_metrics", "acquisition_metrics"):
        extra = {tuple(r[k] for k in KEYS[mart]): r for r in revenue[mart]}
        expected[mart] = [{**r, **extra[tuple(r[k] for k in KEYS[mart])]} for r in expected[mart]]
    expected["goal_metrics"] = revenue["goal_metrics"]
    expected["audience_metrics"] = revenue["audience_metrics"]
    return expected


def test_trino_marts_equal_duckdb_marts_and_the_reference(
    built: DbtProject, duckdb_marts: DbtProject, trino_lake: TrinoLake
) -> None:
    expected = expected_marts(trino_lake.lake)
    # The lake reaches every channel, funnel step and page rule (section 4).
    assert {r["channel"] for r in expected["acquisition_metrics"]} == CHANNELS
    assert sum(r["converted_sessions"] for r in expected["acquisition_metrics"]) > 5
    assert any(r["avg_time_on_page_seconds"] is None for r in expected["page_metrics"])
    # Half cents (2.675, 0.125) rounded up, exactly, on both engines (section 6).
    revenues = {r["revenue"] for r in expected["engagement_metrics"]}
    assert {Decimal("2.68"), Decimal("0.13")} <= revenues, sorted(revenues)
    for mart in ALL_MARTS:
        on_trino = trino_lake.table(mart, "weblogs_range")
        on_duckdb = duckdb_marts.table(mart, ", ".join(KEYS[mart]))
        assert on_duckdb, mart
        assert_same_rows(on_trino, on_duckdb, mart)
        assert_same_rows(on_trino, expected[mart], mart)


def test_incremental_marts_are_partitioned_by_their_date(
    built: DbtProject, trino_lake: TrinoLake
) -> None:
    for mart, column in PARTITIONED.items():
        ddl = trino_lake.query(f"show create table {mart}", "weblogs_range")[0][0]
        assert f"partitioned_by = ARRAY['{column}']" in ddl, ddl
        assert "format = 'PARQUET'" in ddl, ddl


def incremental_rows(trino_lake: TrinoLake, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    for mart in INCREMENTAL:
        table = trino_lake.table(mart, schema)
        rows[mart] = sorted((tuple(sorted(r.items())) for r in table), key=str)
    return rows


def test_day_by_day_equals_one_range_run_and_a_rerun_changes_nothing(
    built: DbtProject, trino_lake: TrinoLake, tmp_path: Path
) -> None:
    daily = trino_lake.dbt(tmp_path, "weblogs_daily")
    select = ("--select", *(f"+{mart}" for mart in INCREMENTAL))
    day = date.fromisoformat(START)
    while day <= date.fromisoformat(END):
        daily.run("run", *select, "--vars", f"{{startdate: {day}, enddate: {day}}}")
        day += timedelta(days=1)
    expected = incremental_rows(trino_lake, "weblogs_range")
    assert all(expected.values())
    assert incremental_rows(trino_lake, "weblogs_daily") == expected
    # The rerun deletes the day's partition first: no duplicate, nothing else touched.
    daily.run("run", *select, "--vars", "{startdate: 2026-10-03, enddate: 2026-10-03}")
    assert incremental_rows(trino_lake, "weblogs_daily") == expected


def window_rows(lake: Path, days: set[str] | None = None) -> int:
    """Rows of the lake's events in the partitions of `days` (YYYY-MM-DD; None: all)."""
    dataset = ds.dataset(lake / "events", format="parquet", partitioning="hive")
    total = 0
    for fragment in dataset.get_fragments():
        parts = dict(re.findall(r"(year|month|day)=(\d+)", fragment.path))
        if days is None or f"{parts['year']}-{parts['month']}-{parts['day']}" in days:
            total += fragment.count_rows()
    return total


def test_a_run_reads_only_the_partitions_of_its_window(
    built: DbtProject, trino_lake: TrinoLake
) -> None:
    """EXPLAIN ANALYZE of the compiled staging SQL: rows read = rows of days start-1 .. end+1."""
    sql = (
        built.target_path / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
    ).read_text()
    plan = "\n".join(row[0] for row in trino_lake.query("explain analyze " + sql, "weblogs_range"))
    scans = re.findall(EVENTS_SCAN, plan)
    assert scans, plan
    read = sum(int(n) for n in scans)
    window = {f"2026-10-{d:02d}" for d in range(1, 6)}
    assert 0 < window_rows(trino_lake.lake, window) < window_rows(trino_lake.lake)
    assert read == window_rows(trino_lake.lake, window), plan


def test_every_compiled_athena_statement_fits_athena_query_limit(tmp_path: Path) -> None:
    """Compiled for Athena over a whole year (the longest partition filter): all under 256 KiB."""
    offline = {
        "WEBLOGS_DBT_TARGET": "athena",
        "WEBLOGS_ATHENA_S3_STAGING_DIR": "s3://athena-results/staging/",
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: compile must not call AWS
    }
    project = DbtProject(tmp_path, tmp_path / "no-lake", env=offline)
    project.run(
        "compile",
        "--target",
        "athena",
        "--no-populate-cache",
        "--vars",
        "{startdate: 2025-01-01, enddate: 2025-12-31}",
    )
    compiled = list((project.target_path / "compiled").rglob("*.sql"))
    assert len(compiled) >= 50
    sizes = {path.name: len(path.read_bytes()) for path in compiled}
    assert max(sizes.values()) < ATHENA_QUERY_LIMIT, max(sizes.items(), key=lambda kv: kv[1])
    staging = project.target_path / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
    assert "'366'" not in staging.read_text() and "'31'" in staging.read_text()


def embedded_data(site: Path) -> dict[str, dict[str, list[str]]]:
    """Each page's embedded datasets, rows as sorted JSON texts (order is not a contract)."""
    pages = {}
    for page in sorted(site.rglob("index.html")):
        found = re.search(
            r'<script type="application/json" id="data">(.*?)</script>', page.read_text(), re.S
        )
        assert found, page
        data = json.loads(found.group(1))
        pages[str(page.relative_to(site))] = {
            name: sorted(json.dumps(row, sort_keys=True) for row in rows)
            for name, rows in data.items()
        }
    return pages


def test_the_dashboards_read_from_trino_equal_those_read_from_duckdb(
    built: DbtProject, duckdb_marts: DbtProject, trino_lake: TrinoLake, tmp_path: Path
) -> None:
    """Production reads the marts on Trino (docs/dashboards.md): the same pages, row for row."""
    node_modules = REPO_ROOT / "dashboard" / "node_modules"
    url = f"http://127.0.0.1:{trino_lake.server.port}/hive/weblogs_range"
    build_site(None, tmp_path / "trino", node_modules, trino_url=url)
    build_site(duckdb_marts.duckdb_path, tmp_path / "duckdb", node_modules)
    on_trino, on_duckdb = embedded_data(tmp_path / "trino"), embedded_data(tmp_path / "duckdb")
    assert on_trino == on_duckdb
    assert on_trino["index.html"]["daily"], "no sessions on the Overview"


def test_visitor_tables_on_trino_equal_the_reference_range_and_day_by_day(
    trino_lake: TrinoLake, tmp_path: Path
) -> None:
    """users, daily_visitors, retention_cohorts and identity_map (docs/contract.md#5) on
    Trino: a range build, then day-by-day builds from scratch, against the reference."""
    first = VISITORS_FIRST.isoformat()
    last = (VISITORS_FIRST + timedelta(days=VISITORS_DAYS - 1)).isoformat()
    selected = (
        "--select",
        "+users",
        "+daily_visitors",
        "+retention_cohorts",
        "+identity_map",
        "--indirect-selection",
        "cautious",
    )
    ranged = trino_lake.dbt(tmp_path / "range", "visitors_range")
    ranged.build(first, last, *selected)
    assert_visitor_rows(
        lambda t: trino_lake.table(t, "visitors_range"), trino_lake.lake, first, last
    )
    daily = trino_lake.dbt(tmp_path / "daily", "visitors_daily")
    for offset in range(3):
        day = (VISITORS_FIRST + timedelta(days=offset)).isoformat()
        daily.build(day, day, *selected)
    assert_visitor_rows(
        lambda t: trino_lake.table(t, "visitors_daily"),
        trino_lake.lake,
        first,
        (VISITORS_FIRST + timedelta(days=2)).isoformat(),
    )
