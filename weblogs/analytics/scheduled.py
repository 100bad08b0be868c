"""The scheduled run's inputs, read through the target, and its plan handed to dbt as vars.

The previous watermark is the run log's latest `arrivals_to` (a typed
timestamp column); the arrivals manifests are read from the lake folder
(`local`, `trino`) or the Glue arrivals table (`athena`), each line parsed by
`weblogs.core.run_plan.arrival_line` (the bucket listing reads them the same way); the
session dates the persisted sessions hold come from `int_run_sessions`. The
event objects are listed against the manifests (same batch name), so event
hours whose manifest vanished are found (`unrecorded`): on a lake folder all of
them, on `athena` those of the lake bucket `$WEBLOGS_ATHENA_LAKE` within a
bounded look-back (weblogs.analytics.bucket_listing). The
plan itself is `weblogs.core.run_plan.plan_run`; dbt receives it as the var
`run_plan` (macros/window/scheduled.sql checks it, nothing more).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Any

from weblogs.analytics.bucket_listing import bucket_unrecorded, lake_bucket
from weblogs.analytics.readers import Reader
from weblogs.analytics.targets import SCHEMA_RE, Target
from weblogs.core import layout
from weblogs.core.errors import ConfigError
from weblogs.core.run_plan import (
    NOTHING_LOST,
    ArrivalLine,
    EventObject,
    Manifest,
    RunPlan,
    arrival_line,
    event_object,
    parse_day,
    parse_moment,
    plan_run,
    unrecorded,
)

#: The longest run, in days (the dbt macro `max_window_days`; test_run_plan holds them equal).
MAX_WINDOW_DAYS = 366
EPOCH = datetime(1970, 1, 1)


def _file_lines(path: Path, day: date) -> Iterator[ArrivalLine]:
    opener = gzip.open if path.name.endswith(".gz") else open
    unreadable = ArrivalLine(None, None, None, None, day)
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for text in handle:
                if not text.strip():
                    continue
                try:
                    yield arrival_line(json.loads(text), day)
                except ValueError:
                    yield unreadable
    except (OSError, UnicodeDecodeError, EOFError):
        yield unreadable


def _arrivals_folder(lake: Path, day: date) -> Path:
    key = layout.arrivals_key(datetime.combine(day, time(), UTC), "_")
    return lake / PurePosixPath(key).parent


def lake_arrivals(lake: Path, days: Sequence[date]) -> list[ArrivalLine]:
    """The manifests under the lake folder's arrival-date partitions of `days`."""
    return lake_manifests(lake, days)[0]


def lake_manifests(lake: Path, days: Sequence[date]) -> tuple[list[ArrivalLine], list[Manifest]]:
    """The lines of the manifests of `days` (read), and every manifest of the lake as
    listed (those of `days` with the event hours they name; the others by size only)."""
    lines: list[ArrivalLine] = []
    manifests: list[Manifest] = []
    read = set()
    for day in days:
        folder = _arrivals_folder(lake, day)
        for path in sorted(folder.glob("*.json*")) if folder.is_dir() else []:
            read.add(path)
            found = list(_file_lines(path, day))
            lines += found
            hours = frozenset(
                (x.event_date, x.event_hour) for x in found if x.event_date and x.event_hour
            )
            manifests.append(
                Manifest(layout.manifest_name(path.name) or path.name, not found, hours)
            )
    for path in sorted((lake / layout.ARRIVALS).glob(layout.ARRIVALS_FILES_GLOB)):
        if path not in read and path.is_file():
            manifests.append(
                Manifest(layout.manifest_name(path.name) or path.name, path.stat().st_size == 0)
            )
    return lines, manifests


def lake_event_objects(lake: Path) -> list[EventObject]:
    """Every object of the lake folder's events table but compaction's outputs (a compacted
    hour's manifests named its inputs), with its batch name and event hour."""
    paths = sorted((lake / layout.EVENTS).glob(layout.EVENT_FILES_GLOB))
    found = (event_object(path.relative_to(lake).as_posix()) for path in paths)
    return [obj for obj in found if obj is not None]


def _partition_filter(days: Sequence[date]) -> str:
    by_month: dict[tuple[str, str], list[str]] = {}
    for day in days:
        by_month.setdefault((f"{day:%Y}", f"{day:%m}"), []).append(f"'{day:%d}'")
    clauses = [
        f"(year = '{year}' and month = '{month}' and day in ({', '.join(d)}))"
        for (year, month), d in by_month.items()
    ]
    return "(" + " or ".join(clauses) + ")" if clauses else "(1 = 0)"


def table_arrivals(read: Reader, env: Mapping[str, str], days: Sequence[date]) -> list[ArrivalLine]:
    """The manifests through the Glue arrivals table (partitioned by arrival date)."""
    database = env.get("WEBLOGS_GLUE_DATABASE") or "weblogs"
    table = env.get("WEBLOGS_GLUE_ARRIVALS_TABLE") or layout.ARRIVALS
    for name, value in (
        ("WEBLOGS_GLUE_DATABASE", database),
        ("WEBLOGS_GLUE_ARRIVALS_TABLE", table),
    ):
        if not SCHEMA_RE.fullmatch(value):
            raise ConfigError(f"{name}={value!r} is not a Glue name (letters, digits, underscores)")
    columns, rows = read(
        "select event_date, event_hour, arrived_at, first_ingested_at, year, month, day"
        f" from {database}.{table} where {_partition_filter(days)}"
    )
    lines = []
    for row in rows:
        item = dict(zip(columns, row, strict=False))
        day = parse_day(f"{item.get('year')}-{item.get('month')}-{item.get('day')}")
        lines.append(arrival_line(item, day))
    return lines


def table_exists(read: Reader, schema: str, table: str) -> bool:
    _, rows = read(
        "select count(*) from information_schema.tables"
        f" where table_schema = '{schema}' and table_name = '{table}'"
    )
    return bool(rows) and int(rows[0][0] or 0) > 0


def read_watermark(read: Reader, schema: str) -> datetime | None:
    """The end of the arrivals the last successful scheduled run counted; None before any."""
    if not table_exists(read, schema, "weblogs_run_log"):
        return None
    _, rows = read(f"select max(arrivals_to) as watermark from {schema}.weblogs_run_log")
    value = rows[0][0] if rows else None
    moment = parse_moment(value)
    if value is not None and moment is None:
        raise ConfigError(f"run log: arrivals_to {value!r} is not a timestamp")
    return moment


def held_dates(read: Reader, schema: str, days: tuple[date, ...]) -> set[date]:
    """Of `days`, those the persisted sessions (int_run_sessions) hold."""
    if not days or not table_exists(read, schema, "int_run_sessions"):
        return set()
    listed = ", ".join(f"date '{d.isoformat()}'" for d in days)
    _, rows = read(
        f"select distinct session_date from {schema}.int_run_sessions"
        f" where session_date in ({listed})"
    )
    return {
        day
        for (value,) in rows
        if (day := parse_day(value if isinstance(value, date) else str(value)))
    }


def plan_scheduled_run(
    target: Target,
    read: Reader,
    env: Mapping[str, str],
    lake: Path,
    run_date: date,
    *,
    default_window_days: int,
    full_refresh: bool = False,
) -> RunPlan:
    """The plan of the scheduled run for `run_date` on `target`."""
    bucket = None if target.local_lake else lake_bucket(env)  # checked before any query
    watermark = read_watermark(read, target.schema)
    limits = {"default_window_days": default_window_days, "max_days": MAX_WINDOW_DAYS}
    start = plan_run(run_date, watermark, [], **limits)
    lost = NOTHING_LOST
    if bucket is None:
        lines, manifests = lake_manifests(lake, start.arrival_days)
        lost = unrecorded(lake_event_objects(lake), manifests)
    else:
        lines = table_arrivals(read, env, start.arrival_days)
        lost = bucket_unrecorded(bucket, env, run_date, start.arrival_days)
    return plan_run(
        run_date,
        watermark,
        lines,
        **limits,
        patching=target.name == "local" and not full_refresh,
        held=lambda days: held_dates(read, target.schema, days),
        lost=lost,
    )


def _micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def plan_vars(plan: RunPlan) -> dict[str, Any]:
    """The plan as dbt's var `run_plan`: dates as YYYY-MM-DD, times as UTC microseconds."""
    start, end = plan.arrivals_from, plan.new_watermark or plan.arrivals_from
    if start > plan.arrivals_to:  # a run date before the watermark counts nothing
        start = end = plan.arrivals_to
    return {
        "run_date": plan.run_date.isoformat(),
        "run_plan": {
            "run_date": plan.run_date.isoformat(),
            "arrivals_from_us": _micros(start),
            "arrivals_to_us": _micros(end),
            "full_dates": [d.isoformat() for d in plan.full_dates],
            "patch_dates": [d.isoformat() for d in plan.patch_dates],
            "new_rows": [
                {
                    "event_date": r.event_date.isoformat(),
                    "event_hour": r.event_hour,
                    "first_ingested_at_us": _micros(r.first_ingested_at),
                }
                for r in plan.new_rows
            ],
        },
    }


def build_vars(
    window: tuple[str, str] | None,
    run_plan: Mapping[str, Any] | None,
    full_refresh: bool = False,
    allow_full_refresh: bool = False,
) -> dict[str, Any]:
    """The vars of `dbt build`: the window, or the scheduled run's plan (never both)."""
    dbt_vars: dict[str, Any] = {}
    if window is not None:
        dbt_vars |= {"startdate": window[0], "enddate": window[1]}
    elif run_plan is not None:
        dbt_vars |= run_plan
    if full_refresh:
        dbt_vars["allow_full_refresh"] = allow_full_refresh
    return dbt_vars
