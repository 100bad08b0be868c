"""Benchmark: the scheduled run with late data against a normal one (issue 32, item 3).

    .venv/bin/python bench/late.py [--events 2000000] [--days 30] [--repeat 3] [--keep DIR]

The late/normal step of bench/models.py (its step 5) on its own, without the floor and
the one-day runs, so the late-data path can be measured in a few minutes: a lake of
--events over --days (bench/models.py's generator), one full build, then, best of
--repeat, alternating in this invocation:

- the normal scheduled run: one day's arrivals (the day D's events, arriving on D);
- the late one: the next day's arrivals plus 1% of a day's events arriving for 5 older
  dates (3, 6, 9, 12 and 15 days back), patched session by session on DuckDB
  (docs/analytics.md, Late data).

Both are `dbt run` with the vars `weblogs models` plans (bench/models.py's
`scheduled_vars`); the run log's rows of both are deleted after each pair, so every pair
counts the same arrivals. Reported: model execution of each (dbt's run_results.json),
the ratio late / normal (target <= 1.5), `int_run_session_events` in each (the model
that reads the events: staging is inlined in it) and the event day folders each read.
Appends its table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import results  # noqa: E402

import models  # noqa: E402

SESSION_EVENTS = "int_run_session_events"


def prepare(work: Path, events: int, days: int) -> tuple[models.Dbt, Path, object, object]:
    """The lake, its full build, the normal day's and the late day's arrivals."""
    lake = work / "lake"
    total, files = models.generate_lake(lake, events, days)
    print(f"lake: {total:,} events, {files} files, {days} days at {lake}", flush=True)
    models.cover_objects(lake)
    dbt = models.Dbt(work, lake)
    start, end = models.FIRST_DAY, models.FIRST_DAY + timedelta(days=days - 1)
    window = f"{{startdate: '{start}', enddate: '{end}', allow_full_refresh: true}}"
    full = dbt.run("run", "--full-refresh", "--vars", window)
    print(f"full build: {full['models']:.2f} s of models", flush=True)
    sched_day = start + timedelta(days=days // 2 + 2)
    dbt.run("run", "--vars", models.scheduled_vars(dbt, lake, sched_day)[0])  # the watermark
    arrivals = duckdb.connect()
    arrivals.execute("set threads = 2")
    where = f"cast(event_timestamp as date) = date '{sched_day}'"
    models.write_arrivals(arrivals, lake, "normal", where, sched_day)
    after = sched_day + timedelta(days=1)
    late_events = models.add_late_events(arrivals, lake, after)
    models.write_arrivals(
        arrivals, lake, "late",
        f"(cast(event_timestamp as date) = date '{after}' and event_id not like 'late-%')"
        " or event_id like 'late-%'",
        after,
    )  # fmt: skip
    arrivals.close()
    covered = models.cover_objects(lake)
    print(
        f"late events: {late_events:,} for 5 older dates; {covered} batch names covered", flush=True
    )
    return dbt, lake, sched_day, after


def read_days(target: Path) -> list[str]:
    """The event day folders the run's int_run_session_events listed (staging is inlined)."""
    sql = (target / "compiled/weblogs/models/intermediate" / f"{SESSION_EVENTS}.sql").read_text()
    return sorted(set(re.findall(r"/events/(year=\d{4}/month=\d{2}/day=\d{2})/", sql)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs; the best counts")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                        help="work folder (default the RAM-backed /dev/shm, as bench/models.py)")  # fmt: skip
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="weblogs-bench-late-", dir=args.dir))
    try:
        dbt, lake, sched_day, after = prepare(work, args.events, args.days)
        normals, lates = [], []
        for _ in range(args.repeat):
            for run_date, runs in ((after, normals), (after + timedelta(days=1), lates)):
                planned, _ = models.scheduled_vars(dbt, lake, run_date)
                runs.append(dbt.run("run", "--vars", planned))
                runs[-1]["read_days"] = read_days(dbt.target)
            with duckdb.connect(str(dbt.database)) as db:  # forget both: the next pair again
                db.execute(f"delete from main.weblogs_run_log where run_date > date '{sched_day}'")
        normal = min(normals, key=lambda r: r["models"])
        late = min(lates, key=lambda r: r["models"])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    ratio = late["models"] / normal["models"]
    print(f"normal: {normal['models']:.2f} s, {len(normal['read_days'])} event days read")
    print(f"late:   {late['models']:.2f} s, {len(late['read_days'])} event days read")
    print(f"  per model, normal: {models.per_model(normal)}")
    print(f"  per model, late:   {models.per_model(late)}")
    print(f"ratio late / normal: {ratio:.2f} (target <= 1.5)")
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[0]
    results.record(
        "bench/late.py",
        [
            ("lake: events, days", f"{args.events:,}, {args.days}"),
            ("normal scheduled run, model execution s", round(normal["models"], 2)),
            ("late-data scheduled run, model execution s", round(late["models"], 2)),
            (f"{SESSION_EVENTS}: normal s", round(normal["per_model"][SESSION_EVENTS], 2)),
            (f"{SESSION_EVENTS}: late s", round(late["per_model"][SESSION_EVENTS], 2)),
            ("event days read: normal, late", f"{len(normal['read_days'])}, {len(late['read_days'])}"),
            ("ratio late / normal (target <= 1.5)", round(ratio, 2)),
            ("load average (1 min) at the end", load),
        ],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
