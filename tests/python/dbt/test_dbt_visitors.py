"""Visitors, users and retention on DuckDB (docs/contract.md#5): the tables equal the
plain-Python reference (visitors_reference.py) for a range build, for day-by-day
builds, and after a late login on an old device and a rebuilt window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dbt_helpers import CUSTOMERS, DbtProject, transform, write_csv, write_jsonl
from visitors_reference import assert_visitor_rows, visitor_events

pytestmark = pytest.mark.slow

FIRST = date(2026, 9, 7)  # a Monday
DAYS = 17
START, END = "2026-09-07", "2026-09-23"


def assert_visitor_tables(project: DbtProject, lake: Path, start: str, end: str) -> None:
    assert_visitor_rows(lambda t: project.table(t, "1"), lake, start, end)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("visitors")
    lake = root / "lake"
    lake.mkdir()
    transform(write_jsonl(root / "visits.jsonl", visitor_events(FIRST, DAYS, seed=5)), lake)
    write_csv(
        lake / "crm" / "customers.csv",
        [*CUSTOMERS, ("user-3", "c-3", "Gold", "true", "2026-01-01")],
    )
    write_csv(lake / "crm" / "ratings.csv", [("user_id", "rated_at", "rating")])
    return lake


def test_range_build_equals_the_reference(lake: Path, tmp_path: Path) -> None:
    project = DbtProject(tmp_path, lake)
    project.build(START, END)
    assert_visitor_tables(project, lake, START, END)
    users = project.table("users", "visitor_id")
    # The data exercises the rules: stitched devices, the shared device, anonymous keys.
    assert any(u["visitor_id"] == "u:user-shared-a" for u in users)
    assert any(u["visitor_id"].startswith("c:") for u in users)
    assert any(u["visitor_id"].startswith("s:") for u in users)
    assert any(u["loyalty_tier"] == "gold" for u in users)
    assert {r["client_id"] for r in project.table("identity_map", "client_id")} >= {"dev-0"}


def test_day_by_day_builds_and_a_late_login_equal_the_reference(lake: Path, tmp_path: Path) -> None:
    project = DbtProject(tmp_path / "dbt", lake)
    last = "2026-09-15"  # nine days: two ISO weeks
    for offset in range(9):
        day = date.fromordinal(FIRST.toordinal() + offset).isoformat()
        project.build(
            day,
            day,
            "--select",
            "+users",
            "+daily_visitors",
            "+retention_cohorts",
            "+identity_map",
            "--indirect-selection",
            "cautious",
        )
        if offset in (0, 8):
            assert_visitor_tables(project, lake, START, day)
    # A late login on an old device (dev-2 never logs in): its anonymous visits,
    # before and after, become the user's once its date is rebuilt.
    late = [
        {
            "event_id": "late-login",
            "session_id": "late-session",
            "event_type": "login",
            "page_url": "/login",
            "timestamp": int(datetime(2026, 9, 10, 12, 0, tzinfo=UTC).timestamp() * 1000),
            "client_id": "dev-2",
            "user_id": "user-late",
        }
    ]
    transform(write_jsonl(tmp_path / "late.jsonl", late), lake)
    project.build("2026-09-09", "2026-09-11")
    assert_visitor_tables(project, lake, START, last)
    users = project.table("users", "visitor_id")
    assert not any(u["visitor_id"] == "c:dev-2" for u in users)
    assert any(u["visitor_id"] == "u:user-late" and u["sessions"] > 1 for u in users)
