"""Helpers for the dbt tests: fixture events, CRM files, a dbt runner, and a reference
implementation of the analytics tables (docs/contract.md#3-the-analytics-tables).

The fixture events are raw API events (docs/contract.md#1-the-event) crafted so that
every session rule of docs/contract.md#3-the-analytics-tables is exercised; the lake is written from them by
`weblogs transform`, exactly as in production. `reference_marts` recomputes
the four marts in plain Python straight from the Parquet lake, independently of
the SQL, so a test can compare the two on the same data.
"""

from __future__ import annotations

import atexit
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

REPO_ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
DBT = str(VENV_BIN / "dbt")
WEBLOGS = str(VENV_BIN / "weblogs")

#: The window the fixture is built around (inclusive); partitions read: 10-01 .. 10-05.
START = "2026-10-02"
END = "2026-10-04"
MARTS = ("engagement_metrics", "session_metrics", "loyalty_metrics", "loyalty_by_tier")
LOYALTY_TYPES = ("loyalty_signup", "loyalty_redeem", "review")


def ms(text: str) -> int:
    """ISO UTC text to epoch milliseconds (what the API sends as `timestamp`)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def event(session: str, event_type: str, at: str, page: str, **fields: Any) -> dict[str, Any]:
    """One raw API event; `at` is UTC text, sent as epoch milliseconds."""
    return {
        "session_id": session,
        "event_type": event_type,
        "page_url": page,
        "timestamp": ms(at),
        **fields,
    }


def fixture_batches() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two delivery batches (the second is ingested later, as a retry would be).

    Sessions, with the rule each one exercises:
    - s-tie: two events at the same millisecond; ties by event_id byte-wise
      ('B...' < 'a...', unlike a locale collation), so entry = the 'B' event.
    - s-midnight: starts 10-02 23:50, ends 10-03 00:20: one session on 10-02.
    - s-before: starts 10-01 23:55 (startdate - 1), continues on 10-02: not in the window.
    - s-after-end: starts 10-04 23:59, continues 10-05: in the window, all events kept.
    - s-login: anonymous first, logs in as u-login mid-session: user u-login.
    - s-switch: u-a then u-b, then an anonymous event: the last known user u-b.
    - s-anon: anonymous only: anon id, left out of loyalty_metrics.
    - s-dup: the same event_id twice in batch 1 and again with other content in
      batch 2 (ingested later): counted once, earliest copy wins.
    - s-long: 25 events over 40 minutes on 12 pages: every cap hit, score 100.
    - s-bounce: a single event (u-nocrm, missing from CRM).
    - s-far: 10-10, outside the read window (its partition is never read).
    - s-copy-only: its one event (10-03) is a later copy, with other content, of
      an event first delivered in s-moved (10-02): the earliest copy wins, so
      s-copy-only has no event and is no session, although its copy is dated in
      the window of a 10-03 run; s-moved has one event.
    Plus noise that other sessions ignore.
    """
    b1: list[dict[str, Any]] = []
    b1 += [
        event(
            "s-tie",
            "click",
            "2026-10-02T08:00:00",
            "/b",
            event_id="a-tie",
            user_id="u-tie",
            device_type="Mobile",
            browser="Firefox",
        ),
        event(
            "s-tie",
            "page_view",
            "2026-10-02T08:00:00",
            "/a",
            event_id="B-tie",
            user_id="u-tie",
            device_type="Desktop",
            browser="Chrome",
        ),
        event(
            "s-tie",
            "review",
            "2026-10-02T08:05:00.250",
            "/a",
            event_id="c-tie",
            user_id="u-tie",
            device_type="Desktop",
            browser="Chrome",
        ),
    ]
    b1 += [
        event(
            "s-midnight",
            "page_view",
            "2026-10-02T23:50:00",
            "/home",
            user_id="u-night",
            device_type="desktop",
            browser="safari",
        ),
        event(
            "s-midnight",
            "click",
            "2026-10-03T00:05:00",
            "/p1",
            user_id="u-night",
            device_type="desktop",
            browser="safari",
        ),
        event(
            "s-midnight",
            "loyalty_signup",
            "2026-10-03T00:20:00.500",
            "/loyalty",
            user_id="u-night",
            device_type="desktop",
            browser="safari",
        ),
    ]
    b1 += [
        event("s-before", "page_view", "2026-10-01T23:55:00", "/home", user_id="u-night"),
        event("s-before", "click", "2026-10-02T00:10:00", "/p2", user_id="u-night"),
    ]
    b1 += [
        event(
            "s-after-end",
            "page_view",
            "2026-10-04T23:59:00",
            "/home",
            user_id="u-gold",
            device_type="tablet",
            browser="edge",
        ),
        event(
            "s-after-end",
            "loyalty_redeem",
            "2026-10-05T00:30:00",
            "/redeem",
            user_id="u-gold",
            device_type="tablet",
            browser="edge",
        ),
    ]
    b1 += [
        event(
            "s-login",
            "page_view",
            "2026-10-03T10:00:00",
            "/home",
            device_type="mobile",
            browser="chrome",
        ),
        event(
            "s-login",
            "login",
            "2026-10-03T10:01:00",
            "/login",
            user_id="u-login",
            device_type="mobile",
            browser="chrome",
        ),
        event(
            "s-login",
            "purchase",
            "2026-10-03T10:09:00",
            "/buy",
            user_id="u-login",
            device_type="mobile",
            browser="chrome",
        ),
    ]
    b1 += [
        event("s-switch", "page_view", "2026-10-03T12:00:00", "/home", user_id="u-a"),
        event("s-switch", "logout", "2026-10-03T12:01:00", "/logout", user_id="u-a"),
        event("s-switch", "login", "2026-10-03T12:02:00", "/login", user_id=17),
        event("s-switch", "page_view", "2026-10-03T12:03:00", "/home", user_id="u-b"),
        event("s-switch", "page_view", "2026-10-03T12:04:00", "/bye", user_id=""),
    ]
    b1 += [
        event("s-anon", "page_view", "2026-10-04T09:00:00", "/home"),
        event("s-anon", "search", "2026-10-04T09:00:30", "/search", user_id=None),
    ]
    delivered_twice = event(
        "s-dup",
        "page_view",
        "2026-10-04T11:00:00",
        "/home",
        event_id="dup-1",
        user_id="u-gold",
        device_type="tablet",
        browser="edge",
    )
    b1 += [
        delivered_twice,
        dict(delivered_twice),
        event(
            "s-dup",
            "click",
            "2026-10-04T11:02:00",
            "/p1",
            event_id="dup-2",
            user_id="u-gold",
            device_type="tablet",
            browser="edge",
        ),
    ]
    start = datetime(2026, 10, 4, 14, 0, tzinfo=UTC)
    for i in range(25):
        at = (start + timedelta(seconds=100 * i)).strftime("%Y-%m-%dT%H:%M:%S")
        b1.append(
            event(
                "s-long",
                "page_view",
                at,
                f"/page/{i % 12}",
                user_id="u-silver",
                device_type="desktop",
                browser="chrome",
            )
        )
    b1 += [
        event(
            "s-bounce",
            "page_view",
            "2026-10-02T15:00:00",
            "/home",
            user_id="u-nocrm",
            device_type="desktop",
            browser="chrome",
        ),
        event(
            "s-silver2",
            "page_view",
            "2026-10-02T16:00:00",
            "/home",
            user_id="u-silver",
            device_type="desktop",
            browser="chrome",
        ),
        event(
            "s-silver2",
            "review",
            "2026-10-02T16:03:00.125",
            "/review",
            user_id="u-silver",
            device_type="desktop",
            browser="chrome",
        ),
        event("s-far", "page_view", "2026-10-10T10:00:00", "/home", user_id="u-gold"),
        event("s-old", "page_view", "2026-09-20T10:00:00", "/home", user_id="u-gold"),
        event(
            "s-moved",
            "page_view",
            "2026-10-02T12:00:00",
            "/home",
            event_id="moved-1",
            user_id="u-gold",
        ),
    ]
    b2 = [
        # The retry of moved-1 under another session, dated in the window: it loses.
        event(
            "s-copy-only",
            "click",
            "2026-10-03T09:00:00",
            "/x",
            event_id="moved-1",
            user_id="u-gold",
        ),
        # The retry of dup-1 with other content: ingested later, so it loses.
        event(
            "s-dup",
            "click",
            "2026-10-04T11:00:00",
            "/other",
            event_id="dup-1",
            user_id="u-other",
            device_type="mobile",
            browser="opera",
        ),
        # A late event of s-switch: still one session, user unchanged (u-b is after it).
        event("s-switch", "scroll", "2026-10-03T12:02:30", "/home", user_id="u-a"),
    ]
    return b1, b2


CUSTOMERS = [
    ("user_id", "customer_id", "loyalty_tier", "is_loyalty_member", "signup_date"),
    ("u-tie", "C-1", "bronze", "false", "2025-01-01"),
    ("u-night", "C-2", " Gold ", "TRUE", "2024-05-06"),
    ("u-gold", "C-3", "gold", "true", "2023-01-01"),
    ("u-login", "C-4", "", "false", "2026-10-03"),
    ("u-silver", "C-5", "silver", "true", "2022-02-02"),
    ("u-b", "C-6", "silver", "false", "2021-01-01"),
    ("u-nobody", "C-7", "gold", "true", "2020-01-01"),
]
RATINGS = [
    ("user_id", "rated_at", "rating"),
    ("u-tie", "2026-10-02T10:00:00", "4"),
    ("u-tie", "2026-10-03T10:00:00Z", "5"),
    ("u-tie", "2026-10-01T23:59:59", "1"),  # before the window: ignored
    ("u-night", "2026-10-05T01:00:00+02:00", "3"),  # 10-04 23:00 UTC: in the window
    ("u-night", "2026-10-04T23:30:00-01:00", "5"),  # 10-05 00:30 UTC: after the window
    ("u-gold", "2026-10-03T00:00:00", "6"),  # outside 1-5: ignored
    ("u-gold", "2026-10-03T00:00:00", "0"),  # outside 1-5: ignored
    ("u-gold", "2026-10-04T08:00:00", "2"),
    ("u-silver", "2026-10-02", "5"),
    ("u-silver", "2026-10-03T07:00:00", "4"),
    ("u-silver", "not a date", "4"),  # unparseable: ignored
    ("u-nobody", "2026-10-03T07:00:00", "1"),  # no session in the window
]


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def transform(input_path: Path, lake: Path) -> str:
    """Write events to the lake the production way: `weblogs transform`."""
    done = subprocess.run(
        [WEBLOGS, "transform", "--input", str(input_path), "--lake", str(lake)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_arrivals(
    lake: Path, name: str, events: list[dict[str, Any]], arrived_at: datetime
) -> Path:
    """The arrivals manifest of one batch: one JSON line per event hour it touched.

    Keyed by the arrival date: `arrivals/year=/month=/day=/<name>.jsonl`
    (docs/analytics.md, Late data). Events are raw API events with `timestamp` in ms.
    """
    hours: dict[tuple[str, str], int] = defaultdict(int)
    for raw in events:
        at = datetime.fromtimestamp(raw["timestamp"] / 1000, tz=UTC)
        hours[(at.strftime("%Y-%m-%d"), at.strftime("%H"))] += 1
    folder = lake / "arrivals" / arrived_at.strftime("year=%Y/month=%m/day=%d")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = arrived_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = [
        json.dumps({"event_date": d, "event_hour": h, "events": n, "arrived_at": stamp})
        for (d, h), n in sorted(hours.items())
    ]
    path = folder / f"{name}.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def project_copy(root: Path) -> Path:
    """A copy of the dbt project under `root` (what the image copies: no Python tests), and
    the example profile in `root/profiles`: for a test that edits the project."""
    project = root / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "dbt_project.yml", project)
    for folder in ("models", "macros"):
        shutil.copytree(REPO_ROOT / folder, project / folder)
    (project / "tests").mkdir()
    for path in (REPO_ROOT / "tests").glob("*.sql"):
        shutil.copy(path, project / "tests")
    (root / "profiles").mkdir()
    shutil.copy(REPO_ROOT / "profiles.yml.example", root / "profiles" / "profiles.yml")
    return project


def build_fixture_lake(root: Path) -> Path:
    """The fixture lake under `root/lake`: two transform runs plus the CRM files."""
    lake = root / "lake"
    lake.mkdir(parents=True, exist_ok=True)
    b1, b2 = fixture_batches()
    transform(write_jsonl(root / "batch1.jsonl", b1), lake)
    transform(write_jsonl(root / "batch2.jsonl", b2), lake)
    write_csv(lake / "crm" / "customers.csv", CUSTOMERS)
    write_csv(lake / "crm" / "ratings.csv", RATINGS)
    return lake


def fixture_build(tmp_path_factory: Any, dest: Path) -> DbtProject:
    """A copy in `dest` of the fixture lake's range build (`dbt build` START..END on
    DuckDB, default vars): profiles, target/ (manifest, run results, compiled SQL) and
    the DuckDB file, its lake the shared fixture lake (read only).

    The build runs once per `make pytest`: the first module that asks builds it under
    the run's shared temporary folder (the xdist workers' common parent; a serial run's
    own base folder), a file lock keeps the other worker waiting, and every module gets
    its own copy, which it may change. The same build as each module made for itself."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "fixture-build"
    root.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        work = root / "work"
        if not (root / "built").is_file():
            shutil.rmtree(work, ignore_errors=True)
            lake = build_fixture_lake(root / "data")
            DbtProject(work, lake, unit_tests=True).build(START, END)
            (root / "built").write_text("ok")
        fcntl.flock(lock, fcntl.LOCK_UN)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("profiles", "target", "weblogs.duckdb", "weblogs.duckdb.wal"):
        source = work / name
        if source.is_dir():
            shutil.copytree(source, dest / name, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, dest / name)
    return DbtProject(dest, root / "data" / "lake")


class _DbtForkServer:
    """The client of `dbt_forkserver.py`: one server per test process, started on first use."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        atexit.register(self.stop)

    def start(self) -> subprocess.Popen[str]:
        if self.process is not None and self.process.poll() is None:
            return self.process
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("dbt_forkserver.py")), str(REPO_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        ready = self.process.stdout.readline() if self.process.stdout else ""
        assert ready.strip() == '{"ready": true}', f"dbt forkserver did not start: {ready!r}"
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)

    def run(self, args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
        process = self.start()
        assert process.stdin is not None and process.stdout is not None
        with tempfile.TemporaryDirectory(prefix="dbt-command-") as scratch:
            out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
            request = {
                "args": args,
                "env": env,
                "cwd": str(cwd),
                "stdout": str(out),
                "stderr": str(err),
            }
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            reply = process.stdout.readline()
            assert reply, "dbt forkserver ended"
            code = json.loads(reply)["returncode"]
            return code, out.read_text(errors="replace"), err.read_text(errors="replace")


_FORK_SERVER = _DbtForkServer()


def dbt_command(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` with this environment and working folder, as a subprocess would run it,
    forked from a process that has imported dbt and parsed the project once
    (dbt_forkserver.py): the same CLI and output, without 7 s of start-up per command.
    WEBLOGS_TESTS_DBT_SUBPROCESS=1 makes DbtProject start `dbt` itself instead."""
    code, out, err = _FORK_SERVER.run(args, env, cwd)
    return subprocess.CompletedProcess([DBT, *args], code, out, err)


@dataclass
class DbtProject:
    """Runs the repo's dbt project for real, with a throw-away profile, database and target dir."""

    workdir: Path
    lake: Path
    env: dict[str, str] = field(default_factory=dict)
    #: dbt's unit tests check the models' SQL on fixed inputs with every var pinned
    #: (test_dbt_any_build.py), so each command's vars change nothing in them: they run
    #: where a test asks (the fixture lake's range build, test_trino_dbt's, the var
    #: tests), and every other command leaves them out (DBT_EXCLUDE_RESOURCE_TYPES).
    unit_tests: bool = False

    def __post_init__(self) -> None:
        self.profiles_dir = self.workdir / "profiles"
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "profiles.yml.example", self.profiles_dir / "profiles.yml")
        self.target_path = self.workdir / "target"
        self.duckdb_path = self.workdir / "weblogs.duckdb"
        self.env = {
            **os.environ,
            "WEBLOGS_LAKE_ROOT": str(self.lake),
            "WEBLOGS_DUCKDB_PATH": str(self.duckdb_path),
            "DBT_PROFILES_DIR": str(self.profiles_dir),
            "DBT_TARGET_PATH": str(self.target_path),
            "DBT_LOG_PATH": str(self.workdir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_PARTIAL_PARSE": "false",
            # No debug log file: writing it is a tenth of a build's CPU here; a test that
            # reads dbt.log asks for it (env={"DBT_LOG_LEVEL_FILE": "debug"}).
            "DBT_LOG_LEVEL_FILE": "none",
            **({} if self.unit_tests else {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}),
            **self.env,
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*args, "--project-dir", str(REPO_ROOT)]
        if os.environ.get("WEBLOGS_TESTS_DBT_SUBPROCESS") == "1":
            done = subprocess.run(
                [DBT, *command],
                capture_output=True,
                text=True,
                env=self.env,
                cwd=self.workdir,
                check=False,
            )
        else:
            done = dbt_command(command, env=self.env, cwd=self.workdir)
        if check:
            assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        return done

    def build(self, start: str, end: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("build", "--vars", f"{{startdate: {start}, enddate: {end}}}", *extra)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def table(self, name: str, order_by: str) -> list[dict[str, Any]]:
        import duckdb

        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            cur = con.execute(f"select * from main.{name} order by {order_by}")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def scheduled_vars(duckdb_path: Path, lake: Path, run_date: date | str) -> str:
    """The vars of the scheduled run for `run_date` on DuckDB, planned as `weblogs models`
    plans it (weblogs.analytics.scheduled): `run_date` and its `run_plan`, as JSON."""
    from weblogs.analytics.dbt_build import default_window_days
    from weblogs.analytics.readers import duckdb_reader
    from weblogs.analytics.scheduled import plan_scheduled_run, plan_vars
    from weblogs.analytics.targets import Target

    plan = plan_scheduled_run(
        Target("local", "main"),
        duckdb_reader(duckdb_path),
        {},
        lake,
        date.fromisoformat(str(run_date)),
        default_window_days=default_window_days(),
    )
    return json.dumps(plan_vars(plan))


# --- the analytics tables in plain Python ---------------------------------------------------


def r2(value: float | Decimal) -> float:
    """Round to 2 decimals, half away from zero (values here are never negative)."""
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def mean2(total: int, count: int, units: int = 1) -> float:
    """(total / units) / count rounded to 2 decimals, half away from zero, exactly.

    `total` is a sum of integer units (events, milliseconds, score hundredths), so
    the mean is a fraction and a half cent is a half cent, whatever floats would say.
    """
    scaled = Fraction(100 * total, units * count)
    return float(Decimal(floor(scaled + Fraction(1, 2))) / 100)


def ms_of(seconds: float) -> int:
    return round(seconds * 1000)


def hundredths(score: float) -> int:
    return round(score * 100)


def _parse_rated_at(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(UTC).replace(tzinfo=None)


def read_events(lake: Path) -> list[dict[str, Any]]:
    """Every event row of the lake, by column name: files written before a column was
    added to the contract (`client_id`, `value`) give null there."""
    from weblogs.core.contract import ARROW_SCHEMA

    dataset = ds.dataset(lake / "events", format="parquet", partitioning="hive")
    found = {f.name: f for f in dataset.schema}
    fields = [found.get(f.name, f.with_nullable(True)) for f in ARROW_SCHEMA]
    extra = [f for f in dataset.schema if f.name not in ARROW_SCHEMA.names]
    schema = pa.schema([*fields, *extra])
    dataset = ds.dataset(lake / "events", format="parquet", partitioning="hive", schema=schema)
    return dataset.to_table().to_pylist()


def reference_marts(lake: Path, start: str, end: str) -> dict[str, list[dict[str, Any]]]:
    """The four marts for [start, end], computed from the lake by the contract's words."""
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in read_events(lake):
        copies[row["event_id"]].append(row)
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rows in copies.values():
        winner = min(
            rows,
            key=lambda r: (
                r["ingested_at"],
                r["event_timestamp"],
                r["session_id"],
                r["user_id"],
                r["event_type"],
                r["page_url"],
            ),
        )
        by_session[winner["session_id"]].append(winner)

    sessions = []
    anomalies = []
    for session_id, all_rows in by_session.items():
        all_rows.sort(key=lambda r: (r["event_timestamp"], r["event_id"].encode()))
        split, excluded = split_sessions(all_rows)
        anomalies += [
            {
                "report_date": r["event_timestamp"].date() - timedelta(days=1),
                "session_id": session_id,
                "event_id": r["event_id"],
                "user_id": r["user_id"],
                "event_type": r["event_type"],
                "event_timestamp": r["event_timestamp"],
                "rule": "event_more_than_24_hours_after_its_session_start",
            }
            for r in excluded
            if d0 <= r["event_timestamp"].date() - timedelta(days=1) <= d1
        ]
        for rows in split:
            if is_bot_session(rows):
                # Section 7: in no mart; its events reported on its session's date.
                day = rows[0]["event_timestamp"].date()
                anomalies += [
                    {
                        "report_date": day,
                        "session_id": session_id,
                        "event_id": r["event_id"],
                        "user_id": r["user_id"],
                        "event_type": r["event_type"],
                        "event_timestamp": r["event_timestamp"],
                        "rule": "bot_browser",
                    }
                    for r in rows
                    if d0 <= day <= d1
                ]
                continue
            session = _session_row(session_id, rows, d0, d1)
            if session is not None:
                sessions.append(session)
    return _marts_from_sessions(lake, sessions, anomalies, d0, d1)


#: The default `bot_browser_patterns` (docs/contract.md, section 7).
BOT_BROWSER_PATTERNS = (
    "bot",
    "crawler",
    "spider",
    "headless",
    "phantomjs",
    "python-requests",
    "curl",
)


def is_bot_session(rows: list[dict[str, Any]]) -> bool:
    """A session whose first event's browser (lower-cased) contains a default pattern."""
    browser = (rows[0]["browser"] or "").lower()
    return any(pattern in browser for pattern in BOT_BROWSER_PATTERNS)


def split_sessions(
    rows: list[dict[str, Any]],
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """One session_id's events (in session order) cut by the session rule of docs/analytics.md.

    An event starts a session when the previous event of the session_id is more than
    24 hours before it (or there is none); the session keeps the events less than 24
    hours after its start; the others are in no session (returned apart).
    """
    day = timedelta(days=1)
    sessions: list[list[dict[str, Any]]] = []
    excluded: list[dict[str, Any]] = []
    previous = None
    start = None
    for row in rows:
        at = row["event_timestamp"]
        if previous is None or at - previous > day:
            start = at
            sessions.append([])
        previous = at
        if at - start < day:
            sessions[-1].append(row)
        else:
            excluded.append(row)
    return sessions, excluded


def _session_row(
    session_id: str, rows: list[dict[str, Any]], d0: date, d1: date
) -> dict[str, Any] | None:
    from privacy_reference import redact_url  # the marts' URLs are redacted (section 7)

    first, last = rows[0], rows[-1]
    session_date = first["event_timestamp"].date()
    if not d0 <= session_date <= d1:
        return None
    known = [r for r in rows if not r["is_anonymous_user"]]
    duration = (last["event_timestamp"] - first["event_timestamp"]) / timedelta(seconds=1)
    pages = len({r["page_url"] for r in rows})
    score = r2(
        100
        * (0.4 * min(duration / 1800, 1) + 0.3 * min(len(rows) / 20, 1) + 0.3 * min(pages / 10, 1))
    )
    return {
        "session_id": session_id,
        "user_id": (known[-1] if known else last)["user_id"],
        "is_anonymous": not known,
        "device_type": first["device_type"],
        "browser": first["browser"],
        "session_date": session_date,
        "session_start": first["event_timestamp"],
        "session_end": last["event_timestamp"],
        "session_duration_seconds": duration,
        "total_events": len(rows),
        "unique_pages": pages,
        "page_views": sum(r["event_type"] == "page_view" for r in rows),
        "entry_event_type": first["event_type"],
        "entry_page": redact_url(first["page_url"]),
        "exit_event_type": last["event_type"],
        "exit_page": redact_url(last["page_url"]),
        "is_bounce": len(rows) == 1,
        "engagement_score": score,
        "loyalty_interactions": sum(r["event_type"] in LOYALTY_TYPES for r in rows),
    }


def _marts_from_sessions(
    lake: Path,
    sessions: list[dict[str, Any]],
    anomalies: list[dict[str, Any]],
    d0: date,
    d1: date,
) -> dict[str, list[dict[str, Any]]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        groups[(s["session_date"], s["device_type"], s["browser"])].append(s)
    session_metrics = []
    for (day, device, browser), group in groups.items():
        n = len(group)
        session_metrics.append(
            {
                "session_date": day,
                "device_type": device,
                "browser": browser,
                "sessions": n,
                "users": len({s["user_id"] for s in group}),
                "bounce_rate_pct": mean2(100 * sum(s["is_bounce"] for s in group), n),
                "avg_session_duration_seconds": mean2(
                    sum(ms_of(s["session_duration_seconds"]) for s in group), n, 1000
                ),
                "avg_events_per_session": mean2(sum(s["total_events"] for s in group), n),
                "avg_unique_pages": mean2(sum(s["unique_pages"] for s in group), n),
                "avg_engagement_score": mean2(
                    sum(hundredths(s["engagement_score"]) for s in group), n, 100
                ),
            }
        )

    customers = {}
    with (lake / "crm" / "customers.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            customers[row["user_id"].strip()] = row
    ratings: dict[str, list[int]] = defaultdict(list)
    with (lake / "crm" / "ratings.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            at = _parse_rated_at(row["rated_at"])
            text = row["rating"].strip()
            if text not in {"1", "2", "3", "4", "5"}:  # an integer 1-5 in one ASCII digit
                continue
            if at is not None and d0 <= at.date() <= d1:
                ratings[row["user_id"].strip()].append(int(text))

    per_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        if not s["is_anonymous"]:
            per_user[s["user_id"]].append(s)
    loyalty = []
    for user, group in per_user.items():
        crm = customers.get(user)
        n = len(group)
        mine = ratings.get(user, [])
        loyalty.append(
            {
                "user_id": user,
                "customer_id": crm["customer_id"].strip() if crm else None,
                "loyalty_tier": ((crm["loyalty_tier"].strip().lower() if crm else "") or "none"),
                "is_loyalty_member": bool(crm)
                and crm["is_loyalty_member"].strip().lower() == "true",
                "sessions": n,
                "total_events": sum(s["total_events"] for s in group),
                "avg_session_duration_seconds": mean2(
                    sum(ms_of(s["session_duration_seconds"]) for s in group), n, 1000
                ),
                "engagement_score": mean2(
                    sum(hundredths(s["engagement_score"]) for s in group), n, 100
                ),
                "loyalty_interactions": sum(s["loyalty_interactions"] for s in group),
                "loyalty_rate_pct": mean2(
                    100 * sum(s["loyalty_interactions"] > 0 for s in group), n
                ),
                "avg_rating": mean2(sum(mine), len(mine)) if mine else None,
                "ratings_count": len(mine),
            }
        )

    tiers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in loyalty:
        tiers[u["loyalty_tier"]].append(u)
    by_tier = []
    for tier, users in tiers.items():
        names = {u["user_id"] for u in users}
        tier_sessions = [s for s in sessions if not s["is_anonymous"] and s["user_id"] in names]
        tier_ratings = [v for name in names for v in ratings.get(name, [])]
        members = sum(u["is_loyalty_member"] for u in users)
        by_tier.append(
            {
                "loyalty_tier": tier,
                "users": len(users),
                "loyalty_members": members,
                "loyalty_member_pct": mean2(100 * members, len(users)),
                "avg_engagement_score": mean2(
                    sum(hundredths(s["engagement_score"]) for s in tier_sessions),
                    len(tier_sessions),
                    100,
                ),
                "loyalty_rate_pct": mean2(
                    100 * sum(s["loyalty_interactions"] > 0 for s in tier_sessions),
                    len(tier_sessions),
                ),
                "avg_rating": mean2(sum(tier_ratings), len(tier_ratings)) if tier_ratings else None,
            }
        )
    for s in sessions:
        del s["is_anonymous"]
    return {
        "engagement_metrics": sessions,
        "session_metrics": session_metrics,
        "loyalty_metrics": loyalty,
        "loyalty_by_tier": by_tier,
        "session_anomalies": anomalies,
    }
