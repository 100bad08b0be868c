"""`weblogs models` as a runner: one per target, its errors in one line, stopped with its dbt.

Each test is a case of issue 25's "Why" that failed on the earlier runner:
the athena target refused for a missing local lake, a dbt compilation error
printed without its reason, and dbt left running (holding the DuckDB lock)
after the runner was stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dbt_helpers import WEBLOGS, build_fixture_lake, event, write_jsonl

from weblogs.analytics.dbt_process import DbtRun, one_line
from weblogs.analytics.targets import athena_settings, resolve_target
from weblogs.core.errors import ConfigError, UsageError


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBLOGS_", "DBT_"))}
    env |= {"DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")}
    return env | extra


def weblogs(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WEBLOGS, "models", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        check=False,
    )


def test_athena_target_checks_its_settings_not_a_local_lake(tmp_path: Path) -> None:
    """The image's environment without a staging dir: that is the one line, not the lake."""
    done = weblogs(
        tmp_path,
        WEBLOGS_DBT_TARGET="athena",
        WEBLOGS_AWS_REGION="eu-west-1",
        WEBLOGS_ATHENA_WORKGROUP="weblogs",
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "WEBLOGS_ATHENA_S3_STAGING_DIR" in done.stderr
    assert "no events" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEBLOGS_AWS_REGION": ""}, "no valid AWS region"),
        ({"WEBLOGS_AWS_REGION": "eu-west-1; drop"}, "no valid AWS region"),
        ({"WEBLOGS_ATHENA_WORKGROUP": ""}, "WEBLOGS_ATHENA_WORKGROUP"),
        ({"WEBLOGS_ATHENA_S3_STAGING_DIR": "/tmp/x"}, "WEBLOGS_ATHENA_S3_STAGING_DIR"),
        ({"WEBLOGS_ATHENA_CATALOG": "a.b"}, "WEBLOGS_ATHENA_CATALOG"),
    ],
)
def test_athena_settings_are_checked_one_by_one(env: dict[str, str], message: str) -> None:
    good = {
        "WEBLOGS_AWS_REGION": "eu-west-1",
        "WEBLOGS_ATHENA_WORKGROUP": "weblogs",
        "WEBLOGS_ATHENA_S3_STAGING_DIR": "s3://bucket-name/athena_output/",
    }
    assert athena_settings(good).staging_dir == "s3://bucket-name/athena_output/"
    with pytest.raises(ConfigError, match=message):
        athena_settings(good | env)


def test_target_and_schema_are_checked_before_they_reach_sql() -> None:
    assert resolve_target(None, {}).name == "local"
    assert resolve_target(None, {"WEBLOGS_DBT_TARGET": "trino"}).schema == "weblogs_analytics"
    assert resolve_target("athena", {"WEBLOGS_DBT_TARGET": "trino"}).name == "athena"
    with pytest.raises(UsageError, match="not one of"):
        resolve_target("postgres", {})
    with pytest.raises(ConfigError, match="WEBLOGS_TRINO_SCHEMA"):
        resolve_target("trino", {"WEBLOGS_TRINO_SCHEMA": "x; drop table y"})


def test_unknown_target_is_one_line(tmp_path: Path) -> None:
    done = weblogs(tmp_path, WEBLOGS_DBT_TARGET="bigquery")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "target 'bigquery' is not one of local, trino, athena" in done.stderr


def test_dbt_error_events_become_one_line_with_their_reason() -> None:
    exc = (
        "Compilation Error in model int_session_events (models/x.sql)\n"
        "  weblogs vars: the window is 367 days\n  \n  > in macro _window_error (m.sql)"
    )
    run = DbtRun(
        2,
        [
            {"info": {"level": "info", "name": "MainReportVersion", "msg": "Running"}},
            {"info": {"level": "error", "name": "MainEncounteredError"}, "data": {"exc": exc}},
        ],
    )
    assert run.reason() == (
        "Compilation Error in model int_session_events (models/x.sql)"
        " -- weblogs vars: the window is 367 days"
    )
    assert one_line("\x1b[31mERROR\x1b[0m: boom\n> trace") == "ERROR: boom"
    assert DbtRun(2, [], "oops\nlast words\n").reason() == "last words"


@pytest.mark.slow
def test_a_dbt_compilation_error_prints_its_reason(tmp_path: Path) -> None:
    lake = build_fixture_lake(tmp_path)
    done = weblogs(
        tmp_path, "--startdate", "2025-01-01", "--enddate", "2026-01-02", "--lake", str(lake),
        "--duckdb", str(tmp_path / "w.duckdb"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Compilation Error" in done.stderr
    assert "367 days, more than 366" in done.stderr, done.stderr


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_runner_stops_dbt_and_frees_duckdb(tmp_path: Path, signum: int) -> None:
    lake = build_fixture_lake(tmp_path)
    database = tmp_path / "w.duckdb"
    runner = subprocess.Popen(
        [WEBLOGS, "models", "--startdate", "2026-10-02", "--enddate", "2026-10-04",
         "--lake", str(lake), "--duckdb", str(database)],
        cwd=tmp_path, env=clean_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    dbt: list[int] = []
    while not dbt and time.monotonic() < deadline and runner.poll() is None:
        dbt = children(runner.pid)
        time.sleep(0.05)
    assert dbt, "dbt never started"
    time.sleep(1.5)  # dbt is parsing or running by now
    runner.send_signal(signum)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == (130 if signum == signal.SIGINT else 128 + signum), err
    assert "dbt was stopped too" in err and err.count("\n") == 1, err
    assert not [pid for pid in dbt if alive(pid)]
    if database.exists():
        import duckdb

        duckdb.connect(str(database)).close()  # no dbt holds the write lock


def test_a_clock_that_is_not_utc_is_one_line(tmp_path: Path) -> None:
    done = weblogs(tmp_path, WEBLOGS_NOW="2026-10-11T00:00:00+02:00")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "WEBLOGS_NOW" in done.stderr


@pytest.mark.slow
def test_the_scheduled_run_follows_the_clock_and_cannot_be_silenced(tmp_path: Path) -> None:
    """Tomorrow's run date is refused; a run date that is today counts every arrival; a
    later batch is counted by the next run, and a missing day of manifests is reported."""
    lake = build_fixture_lake(tmp_path)  # arrivals: now (the system clock)
    today = datetime.now(UTC).date()
    args = ("--lake", str(lake), "--duckdb", str(tmp_path / "w.duckdb"))
    ahead = weblogs(tmp_path, "--run-date", str(today + timedelta(days=1)), *args)
    assert ahead.returncode == 2 and "is after today" in ahead.stderr
    tomorrow = f"{today + timedelta(days=1)}T00:30:00Z"
    first = weblogs(tmp_path, *args, WEBLOGS_NOW=tomorrow)
    assert first.returncode == 0, first.stderr
    assert "sessions from 2026-09-19 to 2026-10-11" in first.stdout
    # Two days later a batch arrives; the day between has no manifest at all.
    late = write_jsonl(
        tmp_path / "late.jsonl", [event("late-s", "page_view", "2026-10-03T10:00:00", "/")]
    )
    later = f"{today + timedelta(days=3)}T10:00:00Z"
    env = clean_env(tmp_path, WEBLOGS_NOW=later)
    subprocess.run(
        [WEBLOGS, "transform", "--input", str(late), "--lake", str(lake)],
        env=env, cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    second = weblogs(tmp_path, *args, WEBLOGS_NOW=f"{today + timedelta(days=4)}T00:30:00Z")
    assert second.returncode == 0, second.stderr
    assert "sessions from 2026-10-02 to 2026-10-04" in second.stdout, second.stdout
    gaps = f"{today + timedelta(days=1)}, {today + timedelta(days=2)}"
    assert f"WARNING: 2 arrival day(s) without any manifest: {gaps}" in second.stderr


@pytest.mark.slow
def test_a_full_refresh_never_drops_history_silently(tmp_path: Path) -> None:
    lake = build_fixture_lake(tmp_path)
    args = ("--lake", str(lake), "--duckdb", str(tmp_path / "w.duckdb"))
    built = weblogs(tmp_path, "--startdate", "2026-10-02", "--enddate", "2026-10-04", *args)
    assert built.returncode == 0, built.stderr
    one_day = ("--startdate", "2026-10-03", "--enddate", "2026-10-03", *args)
    refused = weblogs(tmp_path, *one_day, "--full-refresh")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "allow_full_refresh: true" in refused.stderr
    import duckdb

    def dates() -> list[tuple[object, ...]]:
        with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
            sql = "select distinct session_date from main.session_metrics order by 1"
            return con.execute(sql).fetchall()

    assert len(dates()) == 3
    allowed = weblogs(tmp_path, *one_day, "--full-refresh", "--allow-full-refresh")
    assert allowed.returncode == 0, allowed.stderr
    assert len(dates()) == 1
