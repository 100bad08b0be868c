"""The report marts (loyalty_metrics, loyalty_by_tier) always cover their documented period.

Issue 25's "Why": a scheduled run with nothing new left them as the last run
built them (or empty), and a run that rebuilt only a few late dates made them
cover just those dates. Now every scheduled run rebuilds them over the
`default_window_days` session dates before its run date (docs/analytics.md,
The report marts): after a run with nothing new and after a late-data run they
equal a range build of that period from scratch, and are not empty.
"""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbt_helpers import (
    CUSTOMERS,
    RATINGS,
    WEBLOGS,
    DbtProject,
    event,
    fixture_batches,
    write_csv,
    write_jsonl,
)
from test_models_runner import clean_env, weblogs

pytestmark = pytest.mark.slow

ORDER = {"loyalty_metrics": "user_id", "loyalty_by_tier": "loyalty_tier"}


def transform_at(root: Path, lake: Path, name: str, events: list[dict[str, Any]], now: str) -> None:
    source = write_jsonl(root / f"{name}.jsonl", events)
    subprocess.run(
        [WEBLOGS, "transform", "--input", str(source), "--lake", str(lake)],
        env=clean_env(root, WEBLOGS_NOW=now), cwd=root, check=True, capture_output=True,
    )  # fmt: skip


def marts(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return {
            mart: con.execute(f"select * from main.{mart} order by {order}").fetchall()
            for mart, order in ORDER.items()
        }


def period_rebuilt(root: Path, lake: Path, run_date: date) -> dict[str, list[tuple[Any, ...]]]:
    project = DbtProject(root / f"scratch-{run_date}", lake)
    project.build(f"{run_date - timedelta(days=7)}", f"{run_date - timedelta(days=1)}")
    return marts(project.duckdb_path)


def test_the_report_marts_cover_the_period_before_the_run_date(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for index, batch in enumerate(fixture_batches()):
        transform_at(tmp_path, lake, f"batch{index}", batch, "2026-10-05T23:50:00Z")
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    database = tmp_path / "w.duckdb"
    args = ("--lake", str(lake), "--duckdb", str(database))

    def run(on: date) -> subprocess.CompletedProcess[str]:
        done = weblogs(tmp_path, *args, WEBLOGS_NOW=f"{on}T00:30:00Z")
        assert done.returncode == 0, done.stderr
        start, end = on - timedelta(days=7), on - timedelta(days=1)
        assert f"report marts over {start} .. {end}" in done.stdout, done.stdout
        return done

    run(date(2026, 10, 6))
    # Nothing new for three days: the period moves on, the marts follow it.
    quiet = run(date(2026, 10, 9))
    assert "no events arrived since the last run" in quiet.stdout
    got = marts(database)
    assert got["loyalty_metrics"] and got == period_rebuilt(tmp_path, lake, date(2026, 10, 9))
    # A late batch, two weeks old: the run rebuilds its dates, the report marts keep
    # their period (not just the late dates).
    late = [event("late-r", "page_view", "2026-09-24T10:00:00", "/", user_id="u-late")]
    transform_at(tmp_path, lake, "late", late, "2026-10-09T10:00:00Z")
    done = run(date(2026, 10, 10))
    assert "sessions from 2026-09-23 to 2026-09-25" in done.stdout, done.stdout
    got = marts(database)
    assert got["loyalty_metrics"] and got == period_rebuilt(tmp_path, lake, date(2026, 10, 10))
    assert "u-late" not in {row[0] for row in got["loyalty_metrics"]}
