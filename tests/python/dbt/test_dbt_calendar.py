"""A calendar of operation: 40 days of simulator traffic, late and messy, one scheduled run a day.

Some events arrive 1, 3, 10 and 35 days after their own time, some session_ids
are used again on other days, some sessions stay alive for 36 hours. Each
simulated day the day's deliveries are written to the lake by the
transformation, with their arrivals manifest, and the scheduled run (`dbt build
--vars '{run_date: ...}'`, what `weblogs models` runs without dates) follows.
After every run: the build passed, the incremental marts equal a full rebuild
from scratch of the same lake (the plain-Python reading of the rules in
dbt_helpers), and the run read no event partition outside the touched dates
and the days the read window rule adds around them. At the end, a dbt rebuild
from scratch of the whole calendar gives the same rows, the acquisition marts
(acquisition_metrics, page_metrics) and the section 6 marts (goal_metrics,
audience_metrics; engagement_metrics' os, country and revenue) included.

dbt runs in this process (dbtRunner) on a manifest parsed once, so the 40 runs
pay dbt's parsing once; the unit tests run on the first day only.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from calendar_scenario import DAYS, FIRST_DAY, deliveries, event_day
from dbt_helpers import (
    REPO_ROOT,
    DbtProject,
    reference_marts,
    scheduled_vars,
    write_jsonl,
)
from revenue_reference import assert_matches_reference, reference_revenue
from visitors_reference import VISITOR_KEYS, assert_visitor_rows

from weblogs.cli.transform import transform_input
from weblogs.simulator.generator import TrafficGenerator

pytestmark = pytest.mark.slow

KEYS = {
    "engagement_metrics": ("session_id", "session_date"),
    "session_metrics": ("session_date", "device_type", "browser"),
    "session_anomalies": ("event_id",),
}


#: The acquisition marts (docs/contract.md section 4) and the revenue, goal and audience
#: marts (section 6), compared with a rebuild from scratch.
ACQUISITION_KEYS = {
    "acquisition_metrics": ("session_date", "channel"),
    "page_metrics": ("session_date", "page_path"),
    "goal_metrics": ("session_date", "goal"),
    "audience_metrics": ("session_date", "device_type", "os", "country"),
}


def as_rows(project: DbtProject, mart: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    keys = KEYS.get(mart) or ACQUISITION_KEYS[mart]
    return {tuple(r[k] for k in keys): r for r in project.table(mart, "all")}


def assert_equal_to_reference(project: DbtProject, lake: Path, day: date) -> None:
    expected = reference_marts(lake, "2000-01-01", "2999-12-31")
    for mart in KEYS:
        got = as_rows(project, mart)
        want = {tuple(r[k] for k in KEYS[mart]): r for r in expected[mart]}
        assert sorted(got, key=str) == sorted(want, key=str), (day, mart)
        for key, row in want.items():
            for column, value in row.items():
                other = got[key][column]
                if isinstance(value, float) and other is not None:
                    assert abs(other - value) < 1e-9, (day, mart, key, column, other, value)
                else:
                    assert other == value, (day, mart, key, column, other, value)


def read_days(project: DbtProject) -> set[date]:
    """The event day folders the run's models listed (DuckDB reads only those)."""
    days: set[date] = set()
    for sql in (project.target_path / "compiled/weblogs/models").rglob("*.sql"):
        for y, m, d in re.findall(
            r"/events/year=(\d{4})/month=(\d{2})/day=(\d{2})/", sql.read_text()
        ):
            days.add(date(int(y), int(m), int(d)))
    return days


def release_duckdb() -> None:
    """dbt-duckdb keeps its database open in the process between runs: close it to read it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None


def in_process_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, users: int, parse_run_date: str
) -> tuple[Path, DbtProject, list[str], Any]:
    """A lake with CRM files, a DbtProject on it wired into this process's environment
    (dbtRunner reads it), the common dbt arguments and a manifest parsed once."""
    from dbt.cli.main import dbtRunner

    lake = tmp_path / "lake"
    (lake / "crm").mkdir(parents=True)
    TrafficGenerator(seed=0, users=users).write_crm(lake / "crm")
    project = DbtProject(tmp_path / "work", lake)
    for name in ("WEBLOGS_LAKE_ROOT", "WEBLOGS_DUCKDB_PATH", "DBT_PROFILES_DIR", "DBT_TARGET_PATH"):
        monkeypatch.setenv(name, project.env[name])
    monkeypatch.setenv("DBT_LOG_PATH", str(project.workdir / "logs"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    monkeypatch.setenv("DBT_PARTIAL_PARSE", "false")
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "none")
    common = ["--project-dir", str(REPO_ROOT), "--quiet"]
    parsed = dbtRunner().invoke(["parse", *common, "--vars", f"{{run_date: {parse_run_date}}}"])
    assert parsed.success, parsed.exception
    return lake, project, common, parsed.result


def test_forty_days_of_late_and_messy_traffic_one_scheduled_run_a_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.cli.main import dbtRunner

    lake, project, common, manifest = in_process_project(
        tmp_path, monkeypatch, users=25, parse_run_date="2026-08-02"
    )

    plan = deliveries()
    late = sum(1 for day, batch in plan.items() for raw in batch if event_day(raw) < day)
    assert late >= 20 and {35, 10, 3, 1} <= {
        (day - event_day(raw)).days for day, batch in plan.items() for raw in batch
    }
    patched_runs = 0
    for index in range(DAYS):
        day = FIRST_DAY + timedelta(days=index)
        batch = plan.get(day, [])
        if batch:
            source = write_jsonl(tmp_path / f"deliveries-{day}.jsonl", batch)
            # Processed (ingested and arrived) at the end of its day: the transformation's
            # own arrivals manifest, with first_ingested_at, lets the late dates be patched.
            arrived = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
            transform_input(source, lake, now=arrived)
        run_date = day + timedelta(days=1)
        args = ["build", *common, "--vars", scheduled_vars(project.duckdb_path, lake, run_date)]
        if index:
            args += ["--exclude", "resource_type:unit_test"]
        done = dbtRunner(manifest=copy.deepcopy(manifest)).invoke(args)
        release_duckdb()
        assert done.success, (day, done.exception)
        assert_equal_to_reference(project, lake, day)
        if index % 5 == 4 or index == DAYS - 1:
            # Section 5 over every session date held: late events and late logins move
            # first_session_date, new vs returning and the cohorts as a rebuild would.
            assert_visitor_rows(lambda t: project.table(t, "1"), lake, "2000-01-01", "2999-12-31")
        touched = {event_day(raw) for raw in batch}
        allowed = {e + timedelta(days=k) for e in touched for k in range(-2, 3)}
        assert read_days(project) <= allowed, (day, sorted(read_days(project) - allowed))
        compiled = project.target_path / "compiled/weblogs/models/intermediate"
        if "touched_copies as (" in (compiled / "int_run_session_events.sql").read_text():
            patched_runs += 1  # a late date was patched session by session

    # The late deliveries (3, 10, 35 days) took the session-level path.
    assert patched_runs >= 5, patched_runs

    # And a real dbt rebuild from scratch of the whole calendar gives the same rows.
    scratch = DbtProject(tmp_path / "scratch", lake)
    scratch.build("2026-07-30", "2026-09-12")
    for mart in (*KEYS, *ACQUISITION_KEYS):
        assert as_rows(scratch, mart) == as_rows(project, mart), mart
    # The section 6 marts equal the plain-Python reading of the contract (money exactly).
    assert_matches_reference(project, reference_revenue(lake, "2000-01-01", "2999-12-31"))
    for table, keys in VISITOR_KEYS.items():
        order = ", ".join(keys)
        assert scratch.table(table, order) == project.table(table, order), table
