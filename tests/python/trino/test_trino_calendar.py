"""The calendar through the runner on Trino: the first days of the calendar scenario, one
scheduled `weblogs models --target trino` a day, equal to the same runner on DuckDB.

Issue 25's "Done when": the 40-day calendar (tests/python/dbt/test_dbt_calendar.py)
on DuckDB and, for at least 5 days of it, through the same runner on Trino. Each
simulated day the day's deliveries (calendar_scenario.py: events 1 and 3 days
late, a session_id used again, a 36-hour session) and a late login (an anonymous
client's login arriving two days after its visit) are written by the
transformation with their arrivals manifest, the new partitions registered (the
s3toathena Lambda's part on AWS), and the scheduled run follows, with the clock
set to 00:30 the next day: on Trino over a Trino of its own serving this lake,
and on DuckDB over the same lake. After every day both runs pass and every mart,
the report marts and the section 5 tables included, is the same on both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trino
from calendar_scenario import FIRST_DAY, deliveries, event_day
from dbt_helpers import event, write_jsonl
from test_trino_dbt import ALL_MARTS, assert_same_rows
from visitors_reference import VISITOR_KEYS

from weblogs.cli.transform import transform_input
from weblogs.simulator.generator import TrafficGenerator
from weblogs.trino import server, tables

pytestmark = pytest.mark.slow

#: Scheduled days run on both engines (the Done-when asks for at least 5).
DAYS_ON_TRINO = 5
SCHEMA = "calendar_runner"
#: The runner's two targets compared each day: Trino and DuckDB.
TARGETS = ("trino", "local")


def late_login() -> dict[date, list[dict[str, Any]]]:
    """An anonymous visit on day 1 whose client logs in on day 2; the login arrives on day 4."""
    visit, login = FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)
    anonymous = [
        event("late-login-1", "page_view", f"{visit}T08:00:00", "/", client_id="c-late-login"),
        event("late-login-1", "page_view", f"{visit}T08:03:00", "/p", client_id="c-late-login"),
    ]
    logged = [
        event("late-login-2", "login", f"{login}T09:00:00", "/login",
              client_id="c-late-login", user_id="u-late-login"),
    ]  # fmt: skip
    return {visit: anonymous, FIRST_DAY + timedelta(days=4): logged}


@pytest.fixture(scope="module")
def calendar_trino(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """A Trino of its own over the calendar's lake (the session's serves the fixture lake),
    a `quick` one as the session's (trino_helpers.py). Never the session's fixture: this
    file is a work unit of its own (conftest.work_unit), its JVM beside the session's."""
    root = tmp_path_factory.mktemp("trino-calendar")
    lake = root / "lake"
    (lake / "crm").mkdir(parents=True)
    TrafficGenerator(seed=0, users=25).write_crm(lake / "crm")
    state = root / "state"
    running = server.start(state, lake, quick=True)
    try:
        yield running.port, running.root, lake
    finally:
        server.stop(state)


def runner(target: str, root: Path, lake: Path, now: str, port: int) -> subprocess.Popen[str]:
    """`python -m weblogs models --target TARGET` as the schedule runs it, clock set, started;
    no unit test (the runner never runs them; test_trino_dbt.py does, on Trino). The two
    targets' runs share nothing (the lake is read only, each has its own warehouse,
    run log, target and log folders), so a day's two runs go side by side: one waits
    on Trino while the other computes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBLOGS_", "DBT_"))}
    env |= {
        "WEBLOGS_NOW": now,
        "WEBLOGS_TRINO_PORT": str(port),
        "WEBLOGS_TRINO_SCHEMA": SCHEMA,
        "WEBLOGS_TRINO_THREADS": "4",
        "DBT_TARGET_PATH": str(root / f"target-{target}"),
        "DBT_LOG_PATH": str(root / f"logs-{target}"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "weblogs", "models", "--target", target, "--lake", str(lake),
         "--duckdb", str(root / "calendar.duckdb")],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finished(runs: dict[str, subprocess.Popen[str]], now: str) -> dict[str, str]:
    """Each run's output once all ended, each of which must end with 0 (none left running)."""
    outputs: dict[str, tuple[str, str]] = {}
    try:
        for target, process in runs.items():
            outputs[target] = process.communicate(timeout=1200)
    finally:
        for process in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    for target, (stdout, stderr) in outputs.items():
        assert runs[target].returncode == 0, (target, now, stdout[-3000:], stderr[-3000:])
    return {target: stdout for target, (stdout, _) in outputs.items()}


def duckdb_rows(database: Path, table: str) -> list[dict[str, Any]]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(f"select * from main.{table}")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def trino_rows(port: int, table: str) -> list[dict[str, Any]]:
    connection = trino.dbapi.connect(
        host="127.0.0.1", port=port, user="weblogs", catalog="hive", schema=SCHEMA
    )
    cursor = connection.cursor()
    cursor.execute(f"select * from {table}")
    rows = cursor.fetchall()
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def assert_same_visitor_rows(port: int, database: Path) -> None:
    for table, keys in VISITOR_KEYS.items():

        def key(row: dict[str, Any], keys: tuple[str, ...] = keys) -> tuple[Any, ...]:
            return tuple(str(row[k]) for k in keys)

        got = sorted(trino_rows(port, table), key=key)
        want = sorted(duckdb_rows(database, table), key=key)
        assert [key(r) for r in got] == [key(r) for r in want], table
        for row, ref in zip(got, want, strict=True):
            for column, value in ref.items():
                other = row[column]
                if isinstance(value, float) and other is not None:
                    assert abs(float(other) - value) <= 0.01, (table, key(row), column)
                else:
                    assert other == value, (table, key(row), column, other, value)


def test_five_scheduled_days_through_the_runner_on_trino_equal_duckdb(
    calendar_trino: tuple[int, Path, Path], tmp_path: Path
) -> None:
    port, trino_root, lake = calendar_trino
    plan = deliveries()
    extra = late_login()
    late_days = set()
    for index in range(DAYS_ON_TRINO):
        day = FIRST_DAY + timedelta(days=index)
        batch = plan.get(day, []) + extra.get(day, [])
        late_days |= {(day - event_day(raw)).days for raw in batch}
        source = write_jsonl(tmp_path / f"deliveries-{day}.jsonl", batch)
        arrived = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
        transform_input(source, lake, now=arrived)
        connection = trino.dbapi.connect(
            host="127.0.0.1", port=port, user="weblogs", catalog="hive"
        )
        tables.declare_lake(connection.cursor(), lake, trino_root)
        now = f"{day + timedelta(days=1)}T00:30:00Z"
        runs = {t: runner(t, tmp_path, lake, now, port) for t in TARGETS}
        on_trino = finished(runs, now)["trino"]
        assert "report marts over" in on_trino, on_trino
        database = tmp_path / "calendar.duckdb"
        for mart in ALL_MARTS:
            expected = duckdb_rows(database, mart)
            assert expected or mart not in ("engagement_metrics", "loyalty_metrics"), (day, mart)
            assert_same_rows(trino_rows(port, mart), expected, mart)
        assert_same_visitor_rows(port, database)
    assert {1, 3} <= late_days, late_days  # late deliveries were among these days
    logins = {r["client_id"]: r["user_id"] for r in trino_rows(port, "identity_map")}
    assert logins.get("c-late-login") == "u-late-login", logins
