"""The analytics operated as a team runs them: messy data, any --select, vars, late data.

Each test is the attacker's side of one way real operation broke the marts
(docs/analytics.md, Operating the models): it fails on a project that does
not follow the rule. dbt runs for real on DuckDB over a lake written by
`weblogs transform`.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbt_helpers import (
    CUSTOMERS,
    DbtProject,
    event,
    reference_marts,
    scheduled_vars,
    transform,
    write_arrivals,
    write_csv,
    write_jsonl,
)

pytestmark = pytest.mark.slow

FIRST, LAST = "2026-10-02", "2026-10-05"
KEYS = {
    "engagement_metrics": ("session_id", "session_date"),
    "session_metrics": ("session_date", "device_type", "browser"),
    "loyalty_metrics": ("user_id",),
    "loyalty_by_tier": ("loyalty_tier",),
    "session_anomalies": ("event_id",),
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def messy_events() -> list[dict[str, Any]]:
    """Valid events that broke the build: a half-cent mean, reused and endless session_ids."""
    events: list[dict[str, Any]] = []
    # 8 sessions of 10-02 on one device/browser with 65 events: mean 8.125 -> 8.13.
    for s in range(8):
        for i in range(9 if s == 0 else 8):
            events.append(
                event(
                    f"half-{s}",
                    "page_view",
                    f"2026-10-02T{10 + s:02d}:{i:02d}:00",
                    f"/p/{i}",
                    user_id=f"u-half-{s % 3}",
                    device_type="halfcent",
                    browser="exact",
                )
            )
    # One session_id used again two days later: two sessions.
    for day in ("2026-10-02", "2026-10-04"):
        events += [
            event("reused", "page_view", f"{day}T09:00:00", "/", user_id="u-gold"),
            event("reused", "review", f"{day}T09:03:00", "/review", user_id="u-gold"),
        ]
    # A session kept alive for 36 hours: an event every 3 hours from 10-03 08:00.
    start = datetime(2026, 10, 3, 8, 0, tzinfo=UTC)
    for i in range(13):
        at = (start + timedelta(hours=3 * i)).strftime("%Y-%m-%dT%H:%M:%S")
        events.append(event("endless", "click", at, f"/e/{i % 4}", user_id="u-silver"))
    # Everyday sessions, a few users a day, so a one-day window misses most users.
    for d in range(2, 6):
        for n in range(5):
            user = f"u-{(d * 5 + n) % 12}"
            events += [
                event(f"s-{d}-{n}", "page_view", f"2026-10-0{d}T1{n}:00:00", "/", user_id=user),
                event(
                    f"s-{d}-{n}",
                    "loyalty_redeem" if n % 2 else "click",
                    f"2026-10-0{d}T1{n}:05:00",
                    "/x",
                    user_id=user,
                ),
            ]
    return events


#: The CRM extract with its columns in another order (user_id and customer_id swapped).
SWAPPED_CUSTOMERS = [(row[1], row[0], *row[2:]) for row in CUSTOMERS] + [
    (f"C-u-{n}", f"u-{n}", "bronze" if n % 2 else "gold", "true", "2024-01-01") for n in range(12)
]
RATINGS = [
    ("rating", "user_id", "rated_at"),
    ("4", "u-1", "2026-10-03T10:00:00"),
    ("4.5", "u-1", "2026-10-03T10:00:00"),  # not an integer: ignored on every engine
    ("0.6", "u-2", "2026-10-03T10:00:00"),  # not an integer: ignored
    ("5", "u-2", "2026-10-04T10:00:00"),
    ("٤", "u-2", "2026-10-04T10:00:00"),  # not ASCII digits: ignored
]


def build_messy_lake(root: Path) -> Path:
    lake = root / "lake"
    lake.mkdir(parents=True)
    events = messy_events()
    transform(write_jsonl(root / "messy.jsonl", events), lake)
    write_arrivals(lake, "messy", events, datetime(2026, 10, 6, 1, 0, tzinfo=UTC))
    write_csv(lake / "crm" / "customers.csv", SWAPPED_CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    return lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_messy_lake(tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def daily(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The marts built day by day, with tests, as the schedule would before late data.
    The unit tests run on the first day only: they set their own window vars and read
    no lake, so every later day would run the same tests on the same inputs."""
    project = DbtProject(tmp_path_factory.mktemp("messy-daily"), lake)
    day = date.fromisoformat(FIRST)
    while day <= date.fromisoformat(LAST):
        later = ("--exclude", "resource_type:unit_test") if str(day) != FIRST else ()
        project.build(str(day), str(day), *later)
        day += timedelta(days=1)
    return project


def statuses(project: DbtProject) -> dict[str, str]:
    results = json.loads((project.target_path / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[2]: r["status"] for r in results}


def assert_mart_equals(project: DbtProject, mart: str, expected: list[dict[str, Any]]) -> None:
    got = {tuple(r[k] for k in KEYS[mart]): r for r in project.table(mart, "all")}
    want = {tuple(r[k] for k in KEYS[mart]): r for r in expected}
    assert sorted(got, key=str) == sorted(want, key=str), mart
    for key, row in want.items():
        for column, value in row.items():
            other = got[key][column]
            if isinstance(value, float) and other is not None:
                # Rounded to rounded: the same 2-decimal value (no 0.01 of slack).
                assert abs(other - value) < 1e-9, (mart, key, column, other, value)
            else:
                assert other == value, (mart, key, column, other, value)


def test_messy_data_never_fails_the_build_and_anomalies_are_reported(
    daily: DbtProject, lake: Path, tmp_path: Path
) -> None:
    """Half cent, reused and 36-hour session_ids: day by day and as a range, builds pass."""
    found = statuses(daily)
    assert "error" not in found.values() and "fail" not in found.values(), found
    ranged = DbtProject(tmp_path, lake)
    ranged.build(FIRST, LAST)
    found = statuses(ranged)
    assert found["unique_engagement_metrics_session_id"] == "warn"
    assert found["assert_no_event_is_left_out_of_its_session"] == "warn"
    expected = reference_marts(lake, FIRST, LAST)
    for mart in ("engagement_metrics", "session_metrics", "session_anomalies"):
        assert_mart_equals(ranged, mart, expected[mart])
        assert_mart_equals(daily, mart, expected[mart])
    sessions = ranged.table("engagement_metrics", "session_date")
    assert [s["session_date"] for s in sessions if s["session_id"] == "reused"] == [
        date(2026, 10, 2),
        date(2026, 10, 4),
    ]
    assert max(s["session_duration_seconds"] for s in sessions) < 86400
    excluded = ranged.table("session_anomalies", "event_timestamp")
    assert {e["session_id"] for e in excluded} == {"endless"} and len(excluded) == 5
    half = [s for s in ranged.table("session_metrics", "all") if s["device_type"] == "halfcent"]
    assert [h["avg_events_per_session"] for h in half] == [8.13]


def test_select_alone_equals_a_full_build_whatever_was_built_before(
    daily: DbtProject, lake: Path
) -> None:
    """After day-by-day builds, the loyalty marts alone over the whole range are exact."""
    daily.run(
        "build",
        "--select",
        "loyalty_metrics",
        "loyalty_by_tier",
        "--vars",
        f"{{startdate: {FIRST}, enddate: {LAST}}}",
    )
    expected = reference_marts(lake, FIRST, LAST)
    for mart in ("loyalty_metrics", "loyalty_by_tier"):
        assert_mart_equals(daily, mart, expected[mart])
    # CRM by header name: the swapped columns still match every user.
    loyalty = daily.table("loyalty_metrics", "user_id")
    assert {u["user_id"]: u["customer_id"] for u in loyalty}["u-1"] == "C-u-1"
    # 4.5, 0.6 and a non-ASCII digit are not ratings.
    assert {u["user_id"]: u["ratings_count"] for u in loyalty}["u-2"] == 1


@pytest.mark.parametrize(
    ("vars_text", "name"),
    [
        (
            "{engagement_weight_duration: \"0.4 + 0 * length((select content from read_text('/etc/passwd')))\"}",
            "engagement_weight_duration",
        ),
        ("{engagement_cap_duration_seconds: 0}", "engagement_cap_duration_seconds"),
        ("{engagement_weight_events: -0.1}", "engagement_weight_events"),
        ("{engagement_weight_pages: true}", "engagement_weight_pages"),
        ("{default_window_days: 0}", "default_window_days"),
        ("{default_window_days: -5}", "default_window_days"),
        ('{loyalty_event_types: ["review\') or (1=1"]}', "loyalty_event_types"),
        ("{loyalty_event_types: review}", "loyalty_event_types"),
        ("{engagement_weight_duration: 0.9}", "engagement_weight_duration + "),
        ("{run_date: 2026-10-02, startdate: 2026-10-01, enddate: 2026-10-02}", "run_date"),
        (
            "{run_date: 2026-10-02}",
            "run the scheduled run with `weblogs models --run-date 2026-10-02`",
        ),
        (
            "{run_date: 2026-10-02, run_plan: {run_date: 2026-10-02, arrivals_from_us: '1; drop',"
            " arrivals_to_us: 1790899200000000}}",
            "run_plan: arrivals_from_us=1; drop is not a time",
        ),
        (
            "{run_date: 2026-10-02, run_plan: {run_date: 2026-10-02, arrivals_from_us: 1790294400000000,"
            " arrivals_to_us: 1790899200000000, full_dates: ['2026-10-01'],"
            " patch_dates: ['2026-10-01']}}",
            "a date is both in full_dates and patch_dates",
        ),
    ],
)
def test_bad_vars_stop_the_run_with_one_line_naming_the_var(
    lake: Path, tmp_path: Path, vars_text: str, name: str
) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run("build", "--vars", vars_text, check=False)
    out = ANSI.sub("", done.stdout)
    lines = [line for line in out.splitlines() if "weblogs vars:" in line]
    assert done.returncode != 0 and len(lines) == 1, out[-3000:]
    assert name in lines[0]
    assert "Traceback" not in out + done.stderr
    assert not project.duckdb_path.exists() or not project.query(
        "select * from information_schema.tables where table_schema = 'main'"
    )


def test_any_valid_var_value_passes_the_unit_tests(lake: Path, tmp_path: Path) -> None:
    """Unit tests pin the vars they depend on: a legitimate cap of 3600 fails none."""
    project = DbtProject(tmp_path, lake, unit_tests=True)
    done = project.run(
        "test",
        "--select",
        "test_type:unit",
        "--vars",
        "{engagement_cap_duration_seconds: 3600, engagement_cap_events: 7.5, "
        "engagement_weight_duration: 0, engagement_weight_events: 0.5, "
        "loyalty_event_types: [review], startdate: 2026-10-02, enddate: 2026-10-02}",
    )
    assert "ERROR=0" in ANSI.sub("", done.stdout)
    assert "PASS=0" not in ANSI.sub("", done.stdout)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2000-01-01", "2026-12-31"), ("2026-01-01", "2027-01-02")],
)
def test_windows_too_long_are_refused_up_front_with_how_to_split(
    lake: Path, tmp_path: Path, start: str, end: str
) -> None:
    project = DbtProject(tmp_path, lake)
    done = project.run("build", "--vars", f"{{startdate: {start}, enddate: {end}}}", check=False)
    out = ANSI.sub("", done.stdout)
    lines = [line for line in out.splitlines() if "weblogs vars:" in line]
    assert done.returncode != 0 and len(lines) == 1, out[-3000:]
    assert "split it into runs of at most 366 days" in lines[0]
    assert f"startdate: {start}" in lines[0]


def test_the_longest_accepted_window_runs_on_duckdb(lake: Path, daily: DbtProject) -> None:
    """366 days, read as the day folders that exist: same rows for the messy days."""
    daily.run(
        "run",
        "--select",
        "engagement_metrics",
        "--vars",
        "{startdate: 2026-01-01, enddate: 2027-01-01}",
    )
    expected = reference_marts(lake, FIRST, LAST)
    assert_mart_equals(daily, "engagement_metrics", expected["engagement_metrics"])


def test_a_crm_file_missing_a_column_stops_the_run_naming_file_and_column(
    lake: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "lake"
    shutil.copytree(lake, broken)
    write_csv(broken / "crm" / "customers.csv", [row[:1] + row[2:] for row in CUSTOMERS])
    project = DbtProject(tmp_path / "work", broken)
    done = project.run("build", "--vars", f"{{startdate: {FIRST}, enddate: {FIRST}}}", check=False)
    out = ANSI.sub("", done.stdout)
    lines = [line for line in out.splitlines() if "weblogs CRM:" in line]
    assert done.returncode != 0 and lines, out[-3000:]
    assert f"{broken}/crm/customers.csv has no column 'customer_id'" in lines[0]


def test_late_events_are_counted_by_the_scheduled_run_in_a_lake_whose_path_has_a_quote(
    tmp_path: Path,
) -> None:
    """The scheduled run (var run_date) counts what arrived since its last success.

    The lake folder's name has a quote and a space: paths are quoted where they enter SQL.
    """
    root = tmp_path / "o'brien lake"
    lake = build_messy_lake(root)
    project = DbtProject(tmp_path / "work", lake)
    project.run("build", "--vars", scheduled_vars(project.duckdb_path, lake, "2026-10-07"))
    assert_mart_equals(
        project,
        "engagement_metrics",
        reference_marts(lake, "2000-01-01", "2999-12-31")["engagement_metrics"],
    )
    # Three days late: an event of the 10-02 session s-2-0, and a new session on 10-02.
    late = [
        event("s-2-0", "purchase", "2026-10-02T10:30:00", "/buy", user_id="u-10"),
        event("late-only", "page_view", "2026-10-02T20:00:00", "/", user_id="u-late"),
    ]
    transform(write_jsonl(tmp_path / "late.jsonl", late), lake)
    write_arrivals(lake, "late", late, datetime(2026, 10, 7, 6, 0, tzinfo=UTC))
    project.run("build", "--vars", scheduled_vars(project.duckdb_path, lake, "2026-10-08"))
    expected = reference_marts(lake, "2000-01-01", "2999-12-31")
    for mart in ("engagement_metrics", "session_metrics", "session_anomalies"):
        assert_mart_equals(project, mart, expected[mart])
    rows = {r["session_id"]: r for r in project.table("engagement_metrics", "all")}
    assert rows["s-2-0"]["total_events"] == 3 and "late-only" in rows
    # Only the touched date and its neighbours were rebuilt, reading one more day each side.
    # The session events are computed once per run, in int_run_session_events (staging inlined).
    compiled = (
        project.target_path / "compiled/weblogs/models/intermediate/int_run_session_events.sql"
    )
    listed = re.findall(r"/events/year=\d{4}/month=(\d{2})/day=(\d{2})/", compiled.read_text())
    assert sorted(set(listed)) == [("10", "02"), ("10", "03"), ("10", "04")]
    log = project.table("weblogs_run_log", "run_date")
    assert [(r["run_date"], r["session_dates"]) for r in log] == [
        (date(2026, 10, 7), "2026-10-01 .. 2026-10-06"),
        (date(2026, 10, 8), "2026-10-01 .. 2026-10-03"),
    ]
    # Run again for the same date: nothing new arrived, nothing changes.
    before = project.table("engagement_metrics", "all")
    project.run("build", "--vars", scheduled_vars(project.duckdb_path, lake, "2026-10-08"))
    assert project.table("engagement_metrics", "all") == before


def test_athena_sql_of_the_longest_accepted_window_fits_one_query(tmp_path: Path) -> None:
    """Athena refuses queries over 262,144 bytes: every model of a 366-day window is far under."""
    from test_dbt_athena import athena_env

    offline = {
        **athena_env(),
        "AWS_ACCESS_KEY_ID": "offline",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: compile must not call AWS
    }
    project = DbtProject(tmp_path, tmp_path / "no-lake", env=offline)
    window = "{startdate: 2028-01-01, enddate: 2028-12-31}"  # a leap year: 366 days
    project.run("compile", "--target", "athena", "--no-populate-cache", "--vars", window)
    compiled = list((project.target_path / "compiled").rglob("*.sql"))
    assert len(compiled) > 50
    sizes = {p.name: len(p.read_bytes()) for p in compiled}
    assert max(sizes.values()) < 262_144 // 4, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    # The read window is the 366 days and one day each side, as literal partition predicates.
    sessions = (
        project.target_path / "compiled/weblogs/models/intermediate/int_run_session_events.sql"
    )
    text = " ".join(sessions.read_text().split())
    assert "(year = '2027' and month = '12' and day in ('31'))" in text, text[:2000]
    assert "(year = '2029' and month = '01' and day in ('01'))" in text
    # A mart built alone (`--select`) inlines the whole chain from the events instead of
    # reading the per-run tables: the longest statements a run sends. Far under too.
    alone = DbtProject(tmp_path / "alone", tmp_path / "no-lake", env=offline)
    alone.run(
        "compile", "--target", "athena", "--no-populate-cache", "--vars", window,
        "--select", "path:models/marts",
    )  # fmt: skip
    marts = alone.target_path / "compiled/weblogs/models/marts"
    sizes = {p.name: len(p.read_bytes()) for p in marts.glob("*.sql")}
    # The section 5 tables read the persisted visitor facts, never the events.
    facts = {"users.sql", "daily_visitors.sql", "retention_cohorts.sql", "identity_map.sql"}
    assert len(sizes) == 13
    assert all("web_events" in (marts / n).read_text() for n in set(sizes) - facts)
    assert not any("web_events" in (marts / n).read_text() for n in facts)
    assert max(sizes.values()) < 262_144 // 4, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
