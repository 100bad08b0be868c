"""dbt for real on DuckDB, over a lake written by `weblogs transform` (docs/contract.md#3-the-analytics-tables).

One `dbt build` over the fixture window is shared by most tests; the
incremental tests use a second database and run the models day by day.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from dbt_helpers import (
    DBT,
    END,
    MARTS,
    START,
    DbtProject,
    event,
    fixture_build,
    project_copy,
    reference_marts,
    transform,
    write_jsonl,
)

from weblogs.core.contract import ARROW_SCHEMA, EVENT_COLUMNS, PARTITION_COLUMNS

ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = pytest.mark.slow

MART_COLUMNS = {
    "engagement_metrics": [
        "session_id", "user_id", "device_type", "browser", "session_date", "session_start",
        "session_end", "session_duration_seconds", "total_events", "unique_pages", "page_views",
        "entry_event_type", "entry_page", "exit_event_type", "exit_page", "is_bounce",
        "engagement_score", "loyalty_interactions", "landing_page_path", "referrer_host",
        "utm_source", "utm_medium", "utm_campaign", "channel", "reached_add_to_cart",
        "reached_checkout", "converted", "purchases", "os", "country", "revenue",
        "client_id", "visitor_key",
    ],
    "session_metrics": [
        "session_date", "device_type", "browser", "sessions", "users", "bounce_rate_pct",
        "avg_session_duration_seconds", "avg_events_per_session", "avg_unique_pages",
        "avg_engagement_score",
    ],
    "loyalty_metrics": [
        "user_id", "customer_id", "loyalty_tier", "is_loyalty_member", "sessions",
        "total_events", "avg_session_duration_seconds", "engagement_score",
        "loyalty_interactions", "loyalty_rate_pct", "avg_rating", "ratings_count",
    ],
    "loyalty_by_tier": [
        "loyalty_tier", "users", "loyalty_members", "loyalty_member_pct",
        "avg_engagement_score", "loyalty_rate_pct", "avg_rating",
    ],
    "acquisition_metrics": [
        "session_date", "channel", "sessions", "users", "bounce_rate_pct", "avg_engagement_score",
        "add_to_cart_sessions", "checkout_sessions", "converted_sessions", "conversion_rate_pct",
        "purchases", "revenue",
    ],
    "page_metrics": [
        "session_date", "page_path", "page_views", "sessions", "entrances", "exits",
        "exit_rate_pct", "avg_time_on_page_seconds", "timed_page_views",
        "time_on_page_milliseconds",
    ],
    "goal_metrics": [
        "session_date", "goal", "sessions", "converted_sessions", "completions",
        "conversion_rate_pct", "value",
    ],
    "audience_metrics": [
        "session_date", "device_type", "os", "country", "sessions", "users", "bounce_rate_pct",
        "avg_session_duration_seconds", "converted_sessions", "conversion_rate_pct", "revenue",
    ],
}  # fmt: skip
KEYS = {
    "engagement_metrics": ("session_id", "session_date"),
    "session_metrics": ("session_date", "device_type", "browser"),
    "loyalty_metrics": ("user_id",),
    "loyalty_by_tier": ("loyalty_tier",),
}
INCREMENTAL = (
    "engagement_metrics", "session_metrics", "acquisition_metrics", "page_metrics",
    "goal_metrics", "audience_metrics",
)  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The fixture lake's range build: this module's copy of the run's one build."""
    return fixture_build(tmp_path_factory, tmp_path_factory.mktemp("dbt-range"))


@pytest.fixture(scope="module")
def lake(built: DbtProject) -> Path:
    """The fixture lake of that build (shared by the run's modules: read only)."""
    return built.lake


def rows_by_key(rows: list[dict[str, Any]], mart: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in KEYS[mart]): r for r in rows}


def assert_same_rows(
    actual: list[dict[str, Any]], expected: list[dict[str, Any]], mart: str
) -> None:
    got, want = rows_by_key(actual, mart), rows_by_key(expected, mart)
    assert sorted(got, key=str) == sorted(want, key=str), mart
    for key, row in want.items():
        for column, value in row.items():
            other = got[key][column]
            if isinstance(value, float) and other is not None:
                assert abs(other - value) <= 0.01, (mart, key, column, other, value)
            else:
                assert other == value, (mart, key, column, other, value)


def test_build_runs_every_model_unit_test_and_data_test(built: DbtProject) -> None:
    results = json.loads((built.target_path / "run_results.json").read_text())["results"]
    by_status: dict[str, list[str]] = {}
    for result in results:
        by_status.setdefault(result["status"], []).append(result["unique_id"])
    assert set(by_status) <= {"success", "pass", "warn", "no-op"}, by_status  # no-op: exposure
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) >= 8
    models = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
    assert set(MARTS) <= models
    # The fixture's CRM extract has two ratings outside 1-5 and one unreadable date:
    # the warning tests report them, nothing else warns.
    assert sorted(u.split(".")[2] for u in by_status["warn"]) == [
        "not_null_stg_crm__ratings_rated_at",
        "not_null_stg_crm__ratings_rating",
    ]


def test_marts_have_exactly_the_spec_columns(built: DbtProject) -> None:
    for mart, columns in MART_COLUMNS.items():
        got = [row[0] for row in built.query(f"describe main.{mart}")]
        assert got == columns, mart


def test_marts_agree_with_spec_reference(built: DbtProject, lake: Path) -> None:
    """Every number of every mart equals the plain-Python reading of the contract's metric definitions (to 0.01)."""
    expected = reference_marts(lake, START, END)
    for mart in MARTS:
        assert expected[mart], mart
        assert_same_rows(built.table(mart, ", ".join(KEYS[mart])), expected[mart], mart)


def test_session_rules_on_the_fixture(built: DbtProject) -> None:
    sessions = {r["session_id"]: r for r in built.table("engagement_metrics", "session_id")}
    assert "s-before" not in sessions  # began the day before the window
    assert "s-far" not in sessions and "s-old" not in sessions  # partitions never read
    # moved-1's earliest copy is in s-moved: its later copy under s-copy-only loses.
    assert "s-copy-only" not in sessions and sessions["s-moved"]["total_events"] == 1
    tie = sessions["s-tie"]  # same millisecond: 'B-tie' < 'a-tie' byte-wise
    assert (tie["entry_page"], tie["entry_event_type"], tie["device_type"]) == (
        "/a",
        "page_view",
        "desktop",
    )
    night = sessions["s-midnight"]
    assert night["session_date"] == date(2026, 10, 2) and night["total_events"] == 3
    assert night["session_duration_seconds"] == 1800.5
    late = sessions["s-after-end"]  # starts on enddate, ends on enddate + 1
    assert late["session_date"] == date(2026, 10, 4) and late["exit_page"] == "/redeem"
    assert sessions["s-login"]["user_id"] == "u-login"
    assert sessions["s-switch"]["user_id"] == "u-b"
    assert sessions["s-switch"]["total_events"] == 6  # the late retry event joined it
    assert sessions["s-anon"]["user_id"].startswith("anon-")
    dup = sessions["s-dup"]  # dup-1 three times, once changed: earliest copy wins
    assert (dup["total_events"], dup["entry_page"], dup["user_id"]) == (2, "/home", "u-gold")
    assert sessions["s-long"]["engagement_score"] == 100.0
    assert sessions["s-bounce"]["is_bounce"] is True
    loyalty = {r["user_id"]: r for r in built.table("loyalty_metrics", "user_id")}
    assert not any(u.startswith("anon-") for u in loyalty)
    nocrm = loyalty["u-nocrm"]
    assert (nocrm["customer_id"], nocrm["loyalty_tier"], nocrm["is_loyalty_member"]) == (
        None,
        "none",
        False,
    )
    assert (nocrm["avg_rating"], nocrm["ratings_count"]) == (None, 0)
    # u-night: ' Gold ' / 'TRUE' normalised; only the +02:00 rating falls in the window.
    night_user = loyalty["u-night"]
    assert (night_user["loyalty_tier"], night_user["is_loyalty_member"]) == ("gold", True)
    assert (night_user["avg_rating"], night_user["ratings_count"]) == (3.0, 1)
    # u-gold: ratings 6 and 0 ignored.
    assert (loyalty["u-gold"]["avg_rating"], loyalty["u-gold"]["ratings_count"]) == (2.0, 1)


def incremental_rows(project: DbtProject) -> dict[str, list[tuple[Any, ...]]]:
    return {mart: project.query(f"select * from main.{mart} order by all") for mart in INCREMENTAL}


def test_incremental_day_by_day_equals_range_and_reruns_change_nothing(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    daily = DbtProject(tmp_path, lake)
    day = date.fromisoformat(START)
    while day <= date.fromisoformat(END):
        daily.run("run", "--vars", f"{{startdate: {day}, enddate: {day}}}")
        day += timedelta(days=1)
    assert incremental_rows(daily) == incremental_rows(built)

    # A stale row inside a rerun's window disappears; one outside it stays untouched.
    with duckdb.connect(str(daily.duckdb_path)) as con:
        for session_id, day_text in (("ghost-in", "2026-10-03"), ("ghost-out", "2026-10-09")):
            con.execute(
                "insert into main.engagement_metrics (session_id, user_id, device_type, browser,"
                " session_date, total_events) values (?, 'u', 'd', 'b', ?, 1)",
                [session_id, day_text],
            )
    daily.run("run", "--vars", "{startdate: 2026-10-03, enddate: 2026-10-03}")
    ids = {r[0] for r in daily.query("select session_id from main.engagement_metrics")}
    assert "ghost-in" not in ids and "ghost-out" in ids
    with duckdb.connect(str(daily.duckdb_path)) as con:
        con.execute("delete from main.engagement_metrics where session_id = 'ghost-out'")
    assert incremental_rows(daily) == incremental_rows(built)

    # --full-refresh of marts that exist would keep only the window: refused in one line,
    # nothing dropped; with allow_full_refresh it rebuilds from scratch, on purpose.
    one_day = "{startdate: 2026-10-03, enddate: 2026-10-03}"
    refused = daily.run("build", "--full-refresh", "--vars", one_day, check=False)
    reason = [line for line in refused.stdout.splitlines() if "weblogs vars:" in line]
    assert refused.returncode != 0 and len(reason) == 1, refused.stdout[-3000:]
    assert "allow_full_refresh: true" in reason[0] and "engagement_metrics" in reason[0]
    assert incremental_rows(daily) == incremental_rows(built)
    allowed = "{startdate: 2026-10-03, enddate: 2026-10-03, allow_full_refresh: true}"
    daily.run("run", "--full-refresh", "--vars", allowed)
    dates = daily.query("select distinct session_date from main.engagement_metrics")
    assert dates == [(date(2026, 10, 3),)]


@pytest.mark.parametrize(
    ("vars_text", "message"),
    [
        ("{startdate: '2026-10-05', enddate: '2026-10-01'}", "enddate 2026-10-01 is before"),
        ("{startdate: '2026-02-30', enddate: '2026-03-01'}", "is not a real calendar date"),
        ("{startdate: yesterday, enddate: '2026-10-01'}", "is not a date in YYYY-MM-DD form"),
        ("{startdate: '2026-10-01'}", "pass both startdate and enddate"),
    ],
)
def test_invalid_vars_stop_the_run_before_any_sql(
    lake: Path, tmp_path: Path, vars_text: str, message: str
) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run("build", "--vars", vars_text, check=False)
    assert done.returncode != 0
    lines = [line for line in done.stdout.splitlines() if "weblogs vars:" in line]
    assert len(lines) == 1 and message in lines[0], done.stdout[-3000:]
    assert "--vars '{startdate: YYYY-MM-DD, enddate: YYYY-MM-DD}'" in lines[0]
    assert not project.duckdb_path.exists() or not project.query(
        "select * from information_schema.tables where table_schema = 'main'"
    )


def test_default_window_is_the_last_seven_complete_days(lake: Path, tmp_path: Path) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run("run-operation", "validate_run_vars")
    today = datetime.now(UTC).date()
    found = re.search(r"sessions from (\S+) to (\S+) ", done.stdout)
    assert found, done.stdout
    assert found.groups() == (str(today - timedelta(days=7)), str(today - timedelta(days=1)))


def test_duckdb_reads_only_the_partitions_of_the_window(built: DbtProject, lake: Path) -> None:
    """EXPLAIN ANALYZE of the staging model: files read = files of days start-1 .. end+1.

    DuckDB is handed the window's day folders, not a glob of the whole lake.
    """
    compiled = built.target_path / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
    sql = compiled.read_text()
    plan = duckdb.connect().execute("explain analyze " + sql).fetchall()[0][1]
    read = int(re.search(r"Total Files Read:[\s│]*(\d+)", plan).group(1))
    days = {f"day={d:02d}" for d in range(1, 6)}
    all_files = list((lake / "events").rglob("*.parquet"))
    in_window = [p for p in all_files if "month=10" in p.parts and days & set(p.parts)]
    assert 0 < len(in_window) < len(all_files)
    assert read == len(in_window)
    listed = re.findall(r"/events/year=(\d{4})/month=(\d{2})/day=(\d{2})/\*/\*\.parquet", sql)
    assert listed == [("2026", "10", f"{d:02d}") for d in range(1, 6)]
    assert "/events/*/*/*/*/*.parquet" not in sql


def test_window_days_without_files_are_left_out(
    built: DbtProject, lake: Path, tmp_path: Path
) -> None:
    """Days of the read window with no folder are not listed (read_parquet would fail
    on them); a window with no file at all runs and reports nothing."""
    project = DbtProject(tmp_path, lake)
    project.run("run", "--vars", "{startdate: 2026-10-04, enddate: 2026-10-06}")
    compiled = project.target_path / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
    listed = re.findall(r"/events/year=\d{4}/month=\d{2}/day=(\d{2})/", compiled.read_text())
    assert listed == ["03", "04", "05"]
    # 10-04 is the only day of that window with sessions: the same rows as the range run.
    day_rows = (
        "select * from main.engagement_metrics where session_date = '2026-10-04' order by all"
    )
    assert project.query("select distinct session_date from main.engagement_metrics") == [
        (date(2026, 10, 4),)
    ]
    assert project.query(day_rows) == built.query(day_rows)
    project.run("run", "--vars", "{startdate: 2027-01-01, enddate: 2027-01-02}")
    assert "/events/" not in compiled.read_text()  # no folder: an empty relation, no listing
    assert project.query(
        "select count(*) from main.engagement_metrics where session_date >= '2027-01-01'"
    ) == [(0,)]


def test_event_source_columns_are_the_contract(built: DbtProject, lake: Path) -> None:
    """One source of truth: the dbt source = weblogs.core.contract (+ partitions), same types."""
    manifest = json.loads((built.target_path / "manifest.json").read_text())
    source = manifest["sources"]["source.weblogs.weblogs.events"]
    declared = {name: col["data_type"] for name, col in source["columns"].items()}
    assert list(declared) == [*EVENT_COLUMNS, *PARTITION_COLUMNS]
    to_sql = {
        pa.string(): "varchar",
        pa.bool_(): "boolean",
        pa.timestamp("ms"): "timestamp",
        pa.decimal128(38, 18): "decimal(38,18)",
    }
    for field in ARROW_SCHEMA:
        assert declared[field.name] == to_sql[field.type], field.name
    assert all(declared[p] == "varchar" for p in PARTITION_COLUMNS)
    # And what DuckDB actually reads from the Parquet written by `weblogs transform`.
    relation = source["relation_name"]
    described = {
        row[0]: row[1].lower()
        for row in duckdb.connect().execute(f"describe select * from {relation}").fetchall()
    }
    assert set(described) == set(declared)
    for name, sql_type in declared.items():
        assert described[name].startswith(sql_type), (name, described[name])


def test_every_model_and_column_is_documented(built: DbtProject) -> None:
    """Analysts read the docs site: each model, and each column it really has, is described."""
    manifest = json.loads((built.target_path / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) == 32  # 31 and MetricFlow's time spine (models/semantic)
    with duckdb.connect() as con:
        # The run-only table lives in the run's in-memory database (weblogs.run_only_table_config):
        # gone with the run, so held again here, empty, from its compiled SQL.
        (run_only,) = [n for n in models if n["database"] == "weblogs_run"]
        con.execute(
            f"attach '{built.duckdb_path}' as {built.duckdb_path.stem} (read_only);"
            f" use {built.duckdb_path.stem}; attach ':memory:' as weblogs_run"
        )
        compiled_run_only = built.target_path / "compiled/weblogs" / run_only["original_file_path"]
        con.execute(
            f"create table weblogs_run.main.{run_only['name']} as"
            f" select * from ({compiled_run_only.read_text()}\n) limit 0"
        )
        for node in models:
            assert node["description"].strip(), node["name"]
            if node["config"]["materialized"] == "ephemeral":
                compiled = built.target_path / "compiled/weblogs" / node["original_file_path"]
                sql = f"describe {compiled.read_text()}"
            else:
                sql = f"describe {node['database']}.main.{node['name']}"
            actual = [row[0] for row in con.execute(sql).fetchall()]
            documented = {n: c["description"].strip() for n, c in node["columns"].items()}
            assert set(actual) == set(documented), node["name"]
            assert all(documented.values()), node["name"]
        # Not persisted on DuckDB (macros/cross_db/materialization.sql: persist_docs_config); Athena's test checks Glue.
        assert con.execute(
            "select count(*) from duckdb_columns() where comment is not null"
        ).fetchone() == (0,)


def test_source_freshness_looks_at_recent_partitions_only(lake: Path, tmp_path: Path) -> None:
    """A lake with events of the last hours is fresh; the October fixture lake is stale."""
    stale = DbtProject(tmp_path / "stale", lake)
    done = stale.run("source", "freshness", check=False)
    assert done.returncode != 0 and "Status: error" in done.stdout, done.stdout[-2000:]

    recent = tmp_path / "recent-lake"
    at = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    transform(write_jsonl(tmp_path / "now.jsonl", [event("s-now", "page_view", at, "/")]), recent)
    fresh = DbtProject(tmp_path / "fresh", recent)
    done = fresh.run("source", "freshness", "--select", "source:weblogs")
    assert "PASS freshness of weblogs.events" in done.stdout, done.stdout[-2000:]
    results = json.loads((fresh.target_path / "sources.json").read_text())["results"]
    assert [r["status"] for r in results] == ["pass"]


def test_counts_are_bigint_and_the_run_table_is_not_kept_in_the_file(built: DbtProject) -> None:
    """Counts are 64-bit on every engine (DuckDB sums integers into 128 bits, which scanned
    ~5x slower); the run's session events lived in the run's in-memory database only."""
    wide = built.query(
        "select table_name, column_name from information_schema.columns where data_type = 'HUGEINT'"
    )
    assert wide == [], wide
    tables = {row[0] for row in built.query("select table_name from information_schema.tables")}
    assert {"int_run_sessions", "engagement_metrics", "users"} <= tables
    assert "int_run_session_events" not in tables


def run_table_database(project: DbtProject) -> str:
    """The database dbt puts int_run_session_events in, with the project's profile."""
    done = project.run(
        "ls", "--select", "int_run_session_events", "--resource-type", "model",
        "--output", "json", "--output-keys", "database", "--quiet",
    )  # fmt: skip
    (line,) = [text for text in done.stdout.splitlines() if text.startswith("{")]
    return json.loads(line)["database"]


def test_a_profile_without_the_run_database_keeps_the_run_table_in_the_file(
    tmp_path: Path, lake: Path
) -> None:
    """A user's own profile may not attach `weblogs_run`: the models still build, with the
    table in the database file (weblogs.run_only_table_config)."""
    project = DbtProject(tmp_path, lake)
    assert run_table_database(project) == "weblogs_run"
    profile = project.profiles_dir / "profiles.yml"
    text = profile.read_text()
    attach = '      attach:\n        - path: ":memory:"\n          alias: weblogs_run\n'
    assert attach in text
    profile.write_text(text.replace(attach, ""))
    assert run_table_database(project) == "weblogs"
    project.run(
        "run", "--select", "int_run_session_events",
        "--vars", f"{{startdate: {START}, enddate: {START}}}",
    )  # fmt: skip
    (count,) = project.query("select count(*) from main.int_run_session_events")[0]
    assert count > 0


def data_test_results(project: DbtProject) -> list[tuple[str, str, int]]:
    """(name, status, failures) of each data test of the project's last command."""
    results = json.loads((project.target_path / "run_results.json").read_text())["results"]
    return [
        (r["unique_id"].split(".")[2], r["status"], r["failures"])
        for r in results
        if r["unique_id"].startswith("test.")
    ]


#: A model's rules in one test (`model_checks`, macros/tests/generic_tests.sql): what breaks
#: them in engagement_metrics, and the stored failures, one row per rule and column.
BROKEN_RULES = [
    pytest.param(
        [
            "update engagement_metrics set browser = null where session_id in"
            " (select session_id from engagement_metrics order by session_id limit 2)",
            "update engagement_metrics set revenue = null where session_id ="
            " (select max(session_id) from engagement_metrics)",
        ],
        [("not_null", "browser", 2), ("not_null", "revenue", 1)],
        id="null",
    ),
    pytest.param(
        [
            "update engagement_metrics set session_duration_seconds = 86401 where session_id in"
            " (select session_id from engagement_metrics order by session_id limit 2)",
            "update engagement_metrics set engagement_score = -0.01 where session_id ="
            " (select max(session_id) from engagement_metrics)",
            # a null is counted by not_null, never as out of range
            "update engagement_metrics set revenue = null where session_id ="
            " (select min(session_id) from engagement_metrics)",
        ],
        [
            ("not_null", "revenue", 1),
            ("range", "engagement_score", 1),
            ("range", "session_duration_seconds", 2),
        ],
        id="out of range",
    ),
    pytest.param(
        [
            # 3 rows of one unknown channel and 1 of another: 2 values not accepted
            "update engagement_metrics set channel = 'bogus' where session_id in"
            " (select session_id from engagement_metrics order by session_id limit 3)",
            "update engagement_metrics set channel = 'Direct' where session_id ="
            " (select max(session_id) from engagement_metrics)",
            # a null is counted by not_null, never as a value not accepted
            "update engagement_metrics set entry_event_type = null where session_id ="
            " (select max(session_id) from engagement_metrics)",
        ],
        [
            ("accepted_values", "channel", 2),
            ("not_null", "entry_event_type", 1),
        ],
        id="value not accepted",
    ),
    pytest.param(
        [
            # two sessions copied once and one twice: 3 key values found more than once
            "insert into engagement_metrics select * from engagement_metrics where session_id"
            " in (select session_id from engagement_metrics order by session_id limit 3)",
            "insert into engagement_metrics select * from engagement_metrics where session_id ="
            " (select min(session_id) from engagement_metrics)",
            # rows with a null key are counted by not_null, never as duplicates
            "insert into engagement_metrics select * replace (null as session_id)"
            " from engagement_metrics where session_id = (select max(session_id) from"
            " engagement_metrics)",
            "insert into engagement_metrics select * replace (null as session_id)"
            " from engagement_metrics where session_id = (select max(session_id) from"
            " engagement_metrics)",
        ],
        [
            ("not_null", "session_id", 2),
            ("unique", "session_id, session_date", 3),
        ],
        id="duplicated key",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("updates", "expected"), BROKEN_RULES)
def test_a_broken_rule_fails_its_models_checks_naming_rule_and_column(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    updates: list[str],
    expected: list[tuple[str, str, int]],
) -> None:
    """One test per model checks its rules in one query (`model_checks`): a bad value in
    any column fails it, the failures are what dbt's one-rule tests counted, and the
    stored failures name each rule and column (macros/tests/generic_tests.sql)."""
    project = fixture_build(tmp_path_factory, tmp_path / "copy")
    import duckdb

    with duckdb.connect(str(project.duckdb_path)) as con:
        for update in updates:
            con.execute(update)
    done = project.run(
        "test", "--select", "engagement_metrics,test_name:model_checks", "--store-failures",
        check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:]
    name = "checks_engagement_metrics"
    assert data_test_results(project) == [(name, "fail", sum(n for *_, n in expected))]
    (audit,) = [
        row[0]
        for row in project.query(
            "select table_schema || '.' || table_name from information_schema.tables"
            f" where table_name = '{name}'"
        )
    ]
    found = project.query(f"select rule, column_name, failures from {audit} order by 1, 2")
    assert found == expected, found
    # Another model's checks still pass on the same database.
    project.run("test", "--select", "users,test_name:model_checks")
    assert data_test_results(project) == [("checks_users", "pass", 0)]


#: `model_checks`' arguments, edited in a copy of the project: the line the parse stops
#: with (`model_checks: ...`), or a text the test's compiled SQL must hold.
RULE_EDITS = [
    pytest.param(
        "session_duration_seconds: [0, 86400]", "session_duration_seconds: [86400, 0]",
        "model_checks: ranges of session_duration_seconds needs [min, max] with min <= max,"
        " got [86400, 0]",
        id="range upside down",
    ),
    pytest.param(
        "session_date, device_type, browser, sessions,",
        "session_date, device_type, browser, sessions) or (1=1,",
        "model_checks: 'sessions) or (1=1' is not a column name",
        id="not a column name",
    ),
    pytest.param(
        "loyalty_tier: [none, bronze, silver, gold]",
        "loyalty_tier: [none, bronze, silver, gold, \"o') or ('1'='1\"]",
        "'none', 'bronze', 'silver', 'gold', 'o'') or (''1''=''1'",
        id="a quote in a value",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "expected"), RULE_EDITS)
def test_a_bad_rule_stops_the_parse_naming_it_and_a_quote_stays_in_its_literal(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """`model_checks`' arguments reach SQL: a range upside down or a column name that is not
    one stops dbt's parse with one line naming the rule and the column; an accepted value
    holding a quote is one SQL literal, its quotes doubled (macros/tests/generic_tests.sql)."""
    project = project_copy(tmp_path)
    marts = project / "models" / "marts" / "_marts.yml"
    text = marts.read_text()
    assert text.count(old) == 1, old
    marts.write_text(text.replace(old, new))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "WEBLOGS_"))}
    env |= {
        "DBT_PROFILES_DIR": str(tmp_path / "profiles"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "WEBLOGS_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
    }
    quoted = "model_checks:" not in expected  # else the parse must stop with that line
    command = ["compile", "--select", "checks_loyalty_metrics"] if quoted else ["parse"]
    done = subprocess.run(
        [DBT, *command, "--project-dir", str(project), "--target", "local"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    out = ANSI.sub("", done.stdout)
    assert "Traceback" not in out + done.stderr
    if quoted:
        assert done.returncode == 0, out[-3000:]
        compiled = next((tmp_path / "target" / "compiled").rglob("checks_loyalty_metrics.sql"))
        assert expected in compiled.read_text()
    else:
        assert done.returncode != 0, out[-3000:]
        assert [line.strip() for line in out.splitlines() if "model_checks:" in line] == [
            expected
        ], out[-3000:]
