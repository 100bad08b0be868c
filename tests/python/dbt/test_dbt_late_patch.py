"""Late dates patched session by session: the hard cases, from the attacker's side.

A scheduled run that counts events arriving days late rebuilds only the
sessions those events touch (docs/analytics.md, Late data). Each case here is
one a naive patch gets wrong; after every run the marts must equal the
plain-Python full rebuild of the whole lake (dbt_helpers.reference_marts):

- a late event that joins a session which started the day before its own date;
- a late event that absorbs the next day's session (that session disappears);
- a late copy of an event_id that carries another session_id and an EARLIER
  ingested_at (a Lambda retry of an old Kinesis batch): it wins deduplication,
  so the session that held the event before loses it;
- a late event for a session that holds an old copy of an event_id whose winning
  copy (same ingested_at, smaller session_id) sits in an untouched session: the
  patch must still see that copy, or the event is counted twice;
- the same scheduled run retried (run log rolled back): no duplicated rows;
- a manifest from an older writer (no `first_ingested_at`): the date is
  rebuilt whole, with the same result.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_helpers import DbtProject, event, scheduled_vars, write_arrivals, write_jsonl
from test_dbt_calendar import (
    as_rows,
    assert_equal_to_reference,
    in_process_project,
    read_days,
    release_duckdb,
)

from weblogs.adapters.lake import open_lake, write_result
from weblogs.cli.transform import FAILED_PREFIX, STAGE, transform_input
from weblogs.core.contract.timestamps import parse_timestamp
from weblogs.core.transform import transform_records
from weblogs.simulator.generator import TrafficGenerator

pytestmark = pytest.mark.slow

FIRST = date(2026, 10, 1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def day_events(day: date) -> list[dict[str, Any]]:
    """A little simulator traffic on `day`, plus the sessions the late events will hit."""
    generator = TrafficGenerator(
        seed=day.day, start=datetime(day.year, day.month, day.day, 9, tzinfo=UTC), users=10
    )
    events = [dict(raw) for raw in generator.events(6) if isinstance(raw, dict)]
    for raw in events:
        raw["timestamp"] = parse_timestamp(raw["timestamp"])
    extra = {
        date(2026, 10, 2): [
            event("x-joins", "page_view", "2026-10-02T22:00:00", "/x", user_id="u-x"),
            event("x-joins", "scroll", "2026-10-02T23:30:00", "/x", user_id="u-x"),
        ],
        date(2026, 10, 3): [
            event("v-untouched", "page_view", "2026-10-03T10:00:00", "/v", user_id="u-v"),
            event(
                "a-wins", "page_view", "2026-10-03T11:00:00", "/a", user_id="u-a", event_id="dup-2"
            ),
            event(
                "s-touched",
                "page_view",
                "2026-10-03T11:00:00",
                "/a",
                user_id="u-a",
                event_id="dup-2",
            ),
            event("s-touched", "scroll", "2026-10-03T11:30:00", "/s", user_id="u-s"),
        ],
        date(2026, 10, 4): [
            event(
                "z-loses", "page_view", "2026-10-04T15:00:00", "/z", user_id="u-z", event_id="dup-1"
            ),
            event("z-loses", "scroll", "2026-10-04T15:05:00", "/z", user_id="u-z"),
        ],
        date(2026, 10, 5): [
            event("y-absorbs", "page_view", "2026-10-05T09:00:00", "/y", user_id="u-y"),
            event("y-absorbs", "add_to_cart", "2026-10-05T09:10:00", "/y", user_id="u-y"),
        ],
    }
    return events + extra.get(day, [])


def persisted_counts(project: DbtProject) -> dict[str, int]:
    """Rows the persisted per-session tables hold (a duplicated patch would add some)."""
    with duckdb.connect(project.env["WEBLOGS_DUCKDB_PATH"], read_only=True) as db:
        return {
            "int_run_sessions": db.execute("select count(*) from main.int_run_sessions").fetchone()[
                0
            ],
            "distinct sessions": db.execute(
                "select count(distinct (session_id, session_date)) from main.int_run_sessions"
            ).fetchone()[0],
            "int_run_page_views": db.execute(
                "select count(*) from main.int_run_page_views"
            ).fetchone()[0],
            "session_anomalies": db.execute(
                "select count(*) from main.session_anomalies"
            ).fetchone()[0],
        }


def test_late_dates_are_patched_session_by_session_and_equal_a_full_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.cli.main import dbtRunner

    lake, project, common, manifest = in_process_project(
        tmp_path, monkeypatch, users=10, parse_run_date="2026-10-02"
    )

    def scheduled(run_date: date) -> str:
        """One scheduled run; returns the compiled SQL of int_run_session_events."""
        args = ["build", *common, "--vars", scheduled_vars(project.duckdb_path, lake, run_date)]
        done = dbtRunner(manifest=copy.deepcopy(manifest)).invoke(
            [*args, "--exclude", "resource_type:unit_test"]
        )
        release_duckdb()
        assert done.success, (run_date, done.exception)
        assert_equal_to_reference(project, lake, run_date)
        compiled = project.target_path / "compiled/weblogs/models/intermediate"
        return (compiled / "int_run_session_events.sql").read_text()

    # 10-01 .. 10-08 delivered on 10-08 (one scheduled run: on time, whole dates), then 10-09.
    first = [raw for offset in range(8) for raw in day_events(FIRST + timedelta(days=offset))]
    transform_input(
        write_jsonl(tmp_path / "first.jsonl", first), lake, now=at("2026-10-08T23:59:59")
    )
    assert "touched_copies as (" not in scheduled(date(2026, 10, 9))
    ninth = write_jsonl(tmp_path / "ninth.jsonl", day_events(date(2026, 10, 9)))
    transform_input(ninth, lake, now=at("2026-10-09T23:59:59"))
    assert "touched_copies as (" not in scheduled(date(2026, 10, 10))

    # 10-10: the late deliveries.
    late = [
        event(
            "x-joins", "click", "2026-10-03T01:00:00", "/x", user_id="u-x"
        ),  # joins 10-02's session
        event(
            "y-absorbs", "page_view", "2026-10-04T12:00:00", "/y", user_id="u-y"
        ),  # absorbs 10-05's
        event("n-new", "page_view", "2026-10-04T13:00:00", "/n", user_id="u-n"),
        event("s-touched", "click", "2026-10-03T12:00:00", "/s", user_id="u-s"),
    ]
    transform_input(write_jsonl(tmp_path / "late.jsonl", late), lake, now=at("2026-10-10T20:00:00"))
    # A retried old batch: ingested at 10-04 22:00, before the copy already counted
    # (10-04 23:59:59), written only now, with another session_id and another hour (so
    # z's row is not among the hours the manifest names): it wins deduplication.
    retry = event(
        "w-wins", "page_view", "2026-10-04T16:00:00", "/w", user_id="u-w", event_id="dup-1"
    )
    result = transform_records(
        [json.dumps(retry).encode()],
        stage=STAGE,
        now=at("2026-10-10T21:00:00"),
        ingested_at=at("2026-10-04T22:00:00"),
    )
    assert result.written == 1, result.failures
    write_result(open_lake(lake), result, name="lambda-retry", failed_prefix=FAILED_PREFIX)

    compiled = scheduled(date(2026, 10, 11))
    assert "touched_copies as (" in compiled, "the late dates were not patched"
    # Only the late dates' read windows (and the on-time nothing) were read.
    assert read_days(project) <= {date(2026, 10, d) for d in range(1, 8)}, read_days(project)
    sessions = {
        (r["session_id"], r["session_date"]): r for r in project.table("engagement_metrics", "all")
    }
    assert sessions[("x-joins", date(2026, 10, 2))]["total_events"] == 3
    assert ("y-absorbs", date(2026, 10, 5)) not in sessions
    assert sessions[("y-absorbs", date(2026, 10, 4))]["total_events"] == 3
    assert sessions[("z-loses", date(2026, 10, 4))]["total_events"] == 1
    assert sessions[("w-wins", date(2026, 10, 4))]["total_events"] == 1
    assert ("v-untouched", date(2026, 10, 3)) in sessions
    assert sessions[("a-wins", date(2026, 10, 3))]["total_events"] == 1
    assert sessions[("s-touched", date(2026, 10, 3))]["total_events"] == 2
    patched = as_rows(project, "engagement_metrics")
    counts = persisted_counts(project)
    assert counts["int_run_sessions"] == counts["distinct sessions"] > 0

    # The same run retried (the run log forgets it): the same rows, none twice.
    with duckdb.connect(project.env["WEBLOGS_DUCKDB_PATH"]) as db:
        db.execute("delete from main.weblogs_run_log where run_date = date '2026-10-11'")
    assert "touched_copies as (" in scheduled(date(2026, 10, 11))
    assert as_rows(project, "engagement_metrics") == patched
    assert persisted_counts(project) == counts

    # An older writer's manifest (no first_ingested_at): the late date is rebuilt whole.
    older = [event("x-joins", "scroll", "2026-10-03T02:00:00", "/x2", user_id="u-x")]
    transform_input(
        write_jsonl(tmp_path / "older.jsonl", older), lake, now=at("2026-10-11T20:00:00")
    )
    for manifest_file in (lake / "arrivals" / "year=2026" / "month=10" / "day=11").glob("*.jsonl"):
        manifest_file.unlink()
    write_arrivals(lake, "older-writer", older, at("2026-10-11T20:00:00"))
    assert "touched_copies as (" not in scheduled(date(2026, 10, 12))
    assert (
        as_rows(project, "engagement_metrics")[("x-joins", date(2026, 10, 2))]["total_events"] == 4
    )
