"""`weblogs models`: dbt build on the local lake and the marts' headline figures, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dbt_helpers import END, START, WEBLOGS, build_fixture_lake, reference_marts
from visitors_reference import reference_visitors

from weblogs.analytics import check_window, default_window, format_table
from weblogs.analytics.dbt_build import PROJECT_DIR
from weblogs.core.errors import UsageError


def weblogs(*args: str, cwd: Path, now: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBLOGS_", "DBT_"))}
    env |= {"WEBLOGS_NOW": now} if now else {}
    # dbt's artifacts and logs go to the test's folder, not the repository's target/.
    env |= {"DBT_TARGET_PATH": str(cwd / "target"), "DBT_LOG_PATH": str(cwd / "logs")}
    return subprocess.run(
        [WEBLOGS, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


@pytest.mark.slow
def test_models_command_builds_and_prints_every_mart(tmp_path: Path) -> None:
    lake = build_fixture_lake(tmp_path)
    database = tmp_path / "out" / "weblogs.duckdb"
    done = weblogs(
        "models", "--startdate", START, "--enddate", END, "--lake", str(lake),
        "--duckdb", str(database), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"sessions from {START} to {END}" in out
    for title in ("engagement_metrics", "session_metrics", "loyalty_metrics", "loyalty_by_tier"):
        assert f"\n{title}" in out
    expected = reference_marts(lake, START, END)
    sessions = len(expected["engagement_metrics"])
    users = len(expected["loyalty_metrics"])
    engagement_line = out.split("engagement_metrics")[1].splitlines()[3].split()
    assert engagement_line[0] == str(sessions)
    loyalty_line = out.split("loyalty_metrics (known users")[1].splitlines()[3].split()
    assert loyalty_line[0] == str(users)
    tiers = out.split("\nloyalty_by_tier\n")[1]
    for tier in expected["loyalty_by_tier"]:
        row = next(line for line in tiers.splitlines() if line.startswith(tier["loyalty_tier"]))
        assert row.split()[1] == str(tier["users"])
    channels = out.split("acquisition_metrics (by channel")[1].split("\n\n")[0].splitlines()[3:]
    assert sum(int(line.split()[1]) for line in channels) == sessions
    assert "page_metrics (top 10 pages" in out
    # Section 6: revenue by channel (every session counted), the goals, top countries and OS.
    revenue = out.split("revenue by channel")[1].split("\n\n")[0].splitlines()[3:]
    assert sum(int(line.split()[1]) for line in revenue) == sessions
    goals = out.split("goal_metrics (goal conversion rates")[1].split("\n\n")[0].splitlines()[3:]
    assert [line.split()[0] for line in goals] == ["purchase", "signup"]
    for title in ("top 10 countries", "top 10 operating systems"):
        block = out.split(title)[1].split("\n\n")[0].splitlines()[3:]
        assert block and sum(int(line.split()[1]) for line in block) <= sessions
    visitors = out.split("\nvisitors (users")[1].split("\n\n")[0].splitlines()[3].split()
    held = reference_visitors(lake, START, END)
    assert visitors[0] == str(len(held["users"]))
    assert int(visitors[1]) == sum(d["new_visitors"] for d in held["daily_visitors"])
    assert database.is_file()
    # The data tests ran; dbt's unit tests did not (they are CI's, docs/analytics.md).
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    ran = {r["unique_id"].split(".")[0] for r in results}
    assert "test" in ran and "model" in ran and "unit_test" not in ran, ran


@pytest.mark.slow
def test_models_command_without_dates_is_the_scheduled_run(tmp_path: Path) -> None:
    """The transformation wrote arrivals manifests: the scheduled run counts them, once."""
    lake = build_fixture_lake(tmp_path)
    database = tmp_path / "out" / "weblogs.duckdb"
    run_date = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    args = ("models", "--run-date", run_date, "--lake", str(lake), "--duckdb", str(database))
    # Today, by the injected clock, is the run date: the fixture's arrivals are all before it.
    now = f"{run_date}T00:00:00Z"
    done = weblogs(*args, cwd=tmp_path, now=now)
    assert done.returncode == 0, done.stderr
    assert "sessions from 2026-09-19 to 2026-10-11" in done.stdout
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        got = con.execute("select count(*) from main.engagement_metrics").fetchone()[0]
    assert got == len(reference_marts(lake, "2000-01-01", "2999-12-31")["engagement_metrics"])
    again = weblogs(*args, cwd=tmp_path, now=now)
    assert again.returncode == 0, again.stderr
    assert "no events arrived since the last run" in again.stdout
    # Nothing new: the report marts are rebuilt over their period, the 7 session dates
    # before the run date (test_models_report_period.py holds them to a rebuild of it).
    day = date.fromisoformat(run_date)
    period = f"report marts over {day - timedelta(days=7)} .. {day - timedelta(days=1)}"
    assert period in again.stdout, again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--startdate", "2026-10-05", "--enddate", "2026-10-01"], "is before startdate"),
        (["--startdate", "2026-02-30", "--enddate", "2026-03-01"], "not a real calendar date"),
        (["--startdate", "2026-10-01"], "pass both --startdate and --enddate"),
        (["--run-date", "2026-13-01"], "not a real calendar date"),
        (["--run-date", "tomorrow"], "not a date in YYYY-MM-DD form"),
        (["--run-date", "2999-12-31"], "is after today"),
        (["--run-date", "1999-12-31"], "outside 2000-01-01 .. 2999-12-31"),
        (
            ["--run-date", (datetime.now(UTC) + timedelta(days=1)).date().isoformat()],
            "is after today",
        ),
        (
            ["--run-date", "2026-10-08", "--startdate", "2026-10-01", "--enddate", "2026-10-02"],
            "pass --run-date alone",
        ),
    ],
)
def test_models_command_rejects_bad_windows_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = weblogs("models", *args, "--lake", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_models_command_explains_a_missing_lake(tmp_path: Path) -> None:
    done = weblogs("models", "--lake", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no events in" in done.stderr and "weblogs transform" in done.stderr


def test_window_check_matches_the_dbt_rule() -> None:
    assert check_window(None, None) is None
    assert check_window("2026-10-01", "2026-10-01") == ("2026-10-01", "2026-10-01")
    for bad in (("2026-1-01", "2026-10-02"), ("2026-10-01", "2026-13-01")):
        with pytest.raises(UsageError):
            check_window(*bad)


def test_default_window_is_computed_once_from_the_projects_var() -> None:
    """Without dates, Python picks the window dbt would (the last N complete UTC days)
    and passes it as vars."""
    days = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"][
        "default_window_days"
    ]
    start, end = default_window(date(2026, 10, 8))
    assert end == "2026-10-07"
    assert date.fromisoformat(end) - date.fromisoformat(start) == timedelta(days=days - 1)
    assert (
        "built_window" not in (PROJECT_DIR / "weblogs" / "analytics" / "dbt_build.py").read_text()
    )


def test_format_table_shows_money_decimals_with_two_places_right_aligned() -> None:
    text = format_table(
        "t", ["channel", "revenue"], [("a", Decimal("1234.5")), ("b", Decimal("0"))]
    )
    assert text.splitlines()[3:] == ["a        1,234.50", "b            0.00"]


def test_format_table_aligns_numbers_and_shows_missing_values() -> None:
    text = format_table("t", ["name", "n", "avg"], [("a", 1200, 1.5), ("bb", 3, None)])
    assert text.splitlines() == [
        "t",
        "name      n   avg",
        "----  -----  ----",
        "a     1,200  1.50",
        "bb        3     -",
    ]
