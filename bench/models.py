"""Benchmark: the dbt marts on DuckDB next to one hand-written DuckDB query (the floor).

    .venv/bin/python bench/models.py [--events 10000000] [--days 30] [--repeat 2] [--day-repeat 5]
                                     [--keep DIR] [--dir D]

1. Generates a lake of 10M events by default (--events, at least 5M: on 5M,
   dbt's fixed cost per run weighs twice as much in the one-day ratio; see
   docs/analytics.md, Benchmark) over 30 days in the production layout
   and schema (events/year=/month=/day=/hour=/*.parquet, Snappy, the columns of
   weblogs.core.contract.ARROW_SCHEMA; ~1% duplicate deliveries, ~30% anonymous
   sessions, sessions across midnight) plus CRM CSVs. It is written straight
   by DuckDB for speed; the schema is checked against the contract.
2. Full build: `dbt run --full-refresh` of every model for the 30 days. Model
   execution time is summed from dbt's run_results.json; dbt's own start-up
   (parse, connection, hooks) is the rest of the wall time, reported apart.
3. Floor: one hand-written DuckDB script computing the same four marts
   straight from the Parquet files into tables, same machine, same process
   group, same thread count; its results are checked against dbt's marts.
4. Incremental: a one-day `dbt run` on top of the full build, and the files
   it reads (DuckDB EXPLAIN ANALYZE of the staging model for that window).
5. dbt's fixed cost per run: the same one-day `dbt run` over a lake that holds
   the CRM files and one hour of that day's events. Every model still runs,
   with next to nothing to read: what remains is dbt's own work per model
   (rendering, metadata queries, renames, commits) and the CRM files, which
   every run reads whatever its window. The one-day run is also reported net
   of that fixed part, next to the full build net of it.

The lake and both DuckDB files go to /dev/shm (RAM-backed) when it exists, as
in bench/consume.py: on a VM that reclaims the page cache, reading the lake back
from disk added 0.1-0.5 s of I/O wait to runs at random. `--dir` measures on a disk.

Each side runs --repeat times, alternating, and its best run counts (the
machine is shared); the short one-day and fixed-cost runs, --day-repeat times.
Prints the ratios (targets: marts within 2x the floor; one day under 10% of
the full build and reading at most 3 days of partitions).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weblogs.core.contract import ARROW_SCHEMA  # noqa: E402

DBT = str(Path(sys.executable).with_name("dbt"))
FIRST_DAY = date(2026, 9, 1)
MARTS = ("engagement_metrics", "session_metrics", "loyalty_metrics", "loyalty_by_tier")
#: The models on the path of the two incremental marts (the events staging is ephemeral).
INCREMENTAL_PATH = ("int_sessions", "engagement_metrics", "session_metrics")


def generate_lake(lake: Path, events: int, days: int) -> tuple[int, int]:
    """Write the events and CRM files; returns (events written, files written)."""
    sessions = events // 10  # 1..19 events per session, 10 on average
    users = max(1000, sessions // 10)
    con = duckdb.connect()
    con.execute("set threads = 2; select setseed(0.42)")
    con.execute(
        f"""
        create table sessions as
        select
            s as sid,
            timestamp '{FIRST_DAY}' + to_milliseconds(cast(floor(random() * {days} * 86400000) as bigint))
                as start_ts,
            1 + cast(floor(random() * 19) as integer) as n,
            cast(floor(random() * {users}) as integer) as uid,
            random() < 0.3 as anon,
            random() < 0.15 as logs_in,
            ['desktop', 'mobile', 'tablet'][1 + cast(floor(random() * 3) as integer)] as device,
            ['chrome', 'safari', 'firefox', 'edge'][1 + cast(floor(random() * 4) as integer)] as browser
        from range({sessions}) as t (s)
        """
    )
    con.execute(
        """
        create table events as
        with expanded as (
            select *, unnest(range(n)) as i from sessions
        )
        select
            'e-' || sid || '-' || i as event_id,
            's-' || sid as session_id,
            case when anon and not (logs_in and i >= n / 2)
                then 'anon-' || substr(md5('s-' || sid), 1, 16) else 'u-' || uid end as user_id,
            anon and not (logs_in and i >= n / 2) as is_anonymous_user,
            case
                when i = 0 then 'page_view'
                when random() < 0.03 then ['loyalty_signup', 'loyalty_redeem', 'review'][1 + (i % 3)]
                else ['page_view', 'click', 'scroll', 'search', 'add_to_cart', 'purchase'][1 + cast(floor(random() * 6) as integer)]
            end as event_type,
            'https://shop.example.com/p/' || cast(floor(random() * 40) as integer) as page_url,
            null::varchar as referrer,
            cast(start_ts + to_milliseconds(cast(i * (30000 + floor(random() * 120000)) as bigint)) as timestamp_ms)
                as event_timestamp,
            device as device_type,
            browser,
            'linux' as os,
            'DE' as country,
            null::varchar as extra_attributes,
            cast(start_ts + interval 5 second as timestamp_ms) as ingested_at
        from expanded
        """
    )
    # ~1% duplicate deliveries of the same event, ingested later.
    con.execute(
        """
        insert into events
        select * replace (cast(ingested_at + interval 1 minute as timestamp_ms) as ingested_at)
        from events using sample 1 percent (bernoulli, 7)
        """
    )
    total = con.execute("select count(*) from events").fetchone()[0]
    described = {r[0]: r[1] for r in con.execute("describe events").fetchall()}
    assert list(described) == ARROW_SCHEMA.names, described
    (lake / "events").mkdir(parents=True)
    con.execute(
        f"""
        copy (
            select *,
                strftime(event_timestamp, '%Y') as year, strftime(event_timestamp, '%m') as month,
                strftime(event_timestamp, '%d') as day, strftime(event_timestamp, '%H') as hour
            from events
        ) to '{lake / "events"}' (format parquet, compression snappy,
            partition_by (year, month, day, hour), filename_pattern 'bench-{{i}}')
        """
    )
    (lake / "crm").mkdir()
    con.execute(
        f"""
        copy (
            select 'u-' || u as user_id, 'C-' || u as customer_id,
                ['none', 'bronze', 'silver', 'gold'][1 + u % 4] as loyalty_tier,
                case when u % 4 = 0 then 'false' else 'true' end as is_loyalty_member,
                '2024-01-01' as signup_date
            from range({users}) as t (u) where u % 20 <> 0
        ) to '{lake / "crm" / "customers.csv"}' (header)
        """
    )
    con.execute(
        f"""
        copy (
            select 'u-' || cast(floor(random() * {users}) as integer) as user_id,
                strftime(timestamp '{FIRST_DAY}' + to_seconds(cast(floor(random() * {days} * 86400) as bigint)),
                         '%Y-%m-%dT%H:%M:%SZ') as rated_at,
                cast(1 + floor(random() * 5) as integer) as rating
            from range({users}) as t (r)
        ) to '{lake / "crm" / "ratings.csv"}' (header)
        """
    )
    files = len(list((lake / "events").rglob("*.parquet")))
    return total, files


#: The floor: the same four marts in one hand-written DuckDB script, straight from Parquet.
HAND_WRITTEN = """
create or replace table h_sessions as
with events as (
    select *
    from read_parquet('{lake}/events/*/*/*/*/*.parquet', hive_partitioning = true,
                      hive_types = {{'year': 'varchar', 'month': 'varchar', 'day': 'varchar', 'hour': 'varchar'}})
    where {partitions}
    qualify row_number() over (
        partition by event_id
        order by ingested_at, event_timestamp, session_id, user_id, event_type, page_url
    ) = 1
),
s as (
    select
        session_id,
        coalesce(arg_max(user_id, (event_timestamp, event_id)) filter (where not is_anonymous_user),
                 arg_max(user_id, (event_timestamp, event_id))) as user_id,
        bool_and(is_anonymous_user) as anon,
        -- The first and last event's values: one arg_min/arg_max of a struct each.
        arg_min(struct_pack(d := device_type, b := browser, t := event_type, p := page_url),
                (event_timestamp, event_id)) as first_event,
        arg_max(struct_pack(t := event_type, p := page_url), (event_timestamp, event_id))
            as last_event,
        min(event_timestamp) as session_start, max(event_timestamp) as session_end,
        count(*) as total_events, count(distinct page_url) as unique_pages,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type in ('loyalty_signup', 'loyalty_redeem', 'review'))
            as loyalty_interactions
    from events group by session_id
),
d as (
    select * exclude (first_event, last_event),
        first_event.d as device_type, first_event.b as browser,
        first_event.t as entry_event_type, first_event.p as entry_page,
        last_event.t as exit_event_type, last_event.p as exit_page,
        cast(date_diff('millisecond', session_start, session_end) as double) / 1000
            as session_duration_seconds
    from s
)
select *, cast(session_start as date) as session_date, total_events = 1 as is_bounce,
    round(100 * (0.4 * least(session_duration_seconds / 1800, 1.0)
        + 0.3 * least(cast(total_events as double) / 20, 1.0)
        + 0.3 * least(cast(unique_pages as double) / 10, 1.0)), 2) as engagement_score
from d
where cast(session_start as date) between date '{start}' and date '{end}';

create or replace table h_session_metrics as
select session_date, device_type, browser, count(*) as sessions, count(distinct user_id) as users,
    round(100 * avg(is_bounce::int), 2) as bounce_rate_pct,
    round(avg(session_duration_seconds), 2) as avg_session_duration_seconds,
    round(avg(total_events), 2) as avg_events_per_session,
    round(avg(unique_pages), 2) as avg_unique_pages,
    round(avg(engagement_score), 2) as avg_engagement_score
from h_sessions group by all;

create or replace table h_ratings as
select trim(user_id) as user_id, try_cast(rating as integer) as rating
from read_csv('{lake}/crm/ratings.csv', header = true, all_varchar = true)
where try_cast(rating as integer) between 1 and 5
  and cast(try_cast(rated_at as timestamptz) at time zone 'UTC' as date)
      between date '{start}' and date '{end}';

create or replace table h_loyalty_metrics as
with c as (
    select trim(user_id) as user_id, trim(customer_id) as customer_id,
        coalesce(nullif(lower(trim(loyalty_tier)), ''), 'none') as loyalty_tier,
        lower(trim(is_loyalty_member)) = 'true' as is_loyalty_member
    from read_csv('{lake}/crm/customers.csv', header = true, all_varchar = true)
),
u as (
    select user_id, count(*) as sessions, sum(total_events) as total_events,
        avg(session_duration_seconds) as d, avg(engagement_score) as e,
        sum(loyalty_interactions) as li, count(*) filter (where loyalty_interactions > 0) as ls
    from h_sessions where not anon group by user_id
),
r as (select user_id, avg(rating) as avg_rating, count(*) as n from h_ratings group by user_id)
select u.user_id, c.customer_id, coalesce(c.loyalty_tier, 'none') as loyalty_tier,
    coalesce(c.is_loyalty_member, false) as is_loyalty_member, u.sessions, u.total_events,
    round(u.d, 2) as avg_session_duration_seconds, round(u.e, 2) as engagement_score,
    u.li as loyalty_interactions, round(100.0 * u.ls / u.sessions, 2) as loyalty_rate_pct,
    round(r.avg_rating, 2) as avg_rating, coalesce(r.n, 0) as ratings_count
from u left join c using (user_id) left join r using (user_id);

create or replace table h_loyalty_by_tier as
with t as (
    select loyalty_tier, count(*) as users, count(*) filter (where is_loyalty_member) as members
    from h_loyalty_metrics group by all
),
s as (
    select m.loyalty_tier, avg(s.engagement_score) as e,
        100.0 * count(*) filter (where s.loyalty_interactions > 0) / count(*) as lr
    from h_sessions as s join h_loyalty_metrics as m using (user_id) where not s.anon group by all
),
r as (
    select m.loyalty_tier, avg(r.rating) as a
    from h_ratings as r join h_loyalty_metrics as m using (user_id) group by all
)
select t.loyalty_tier, t.users, t.members as loyalty_members,
    round(100.0 * t.members / t.users, 2) as loyalty_member_pct, round(s.e, 2) as avg_engagement_score,
    round(s.lr, 2) as loyalty_rate_pct, round(r.a, 2) as avg_rating
from t left join s using (loyalty_tier) left join r using (loyalty_tier);
"""


def partition_predicate(start: date, end: date) -> str:
    days = [start - timedelta(days=1) + timedelta(days=i) for i in range((end - start).days + 3)]
    return (
        "("
        + " or ".join(f"(year = '{d:%Y}' and month = '{d:%m}' and day = '{d:%d}')" for d in days)
        + ")"
    )


class Dbt:
    """dbt on the local target with a throw-away profile; keeps each run's results."""

    def __init__(self, work: Path, lake: Path) -> None:
        (work / "profiles").mkdir()
        shutil.copy(ROOT / "profiles.yml.example", work / "profiles" / "profiles.yml")
        self.database = work / "bench.duckdb"
        self.target = work / "target"
        self.env = {
            **os.environ,
            "WEBLOGS_LAKE_ROOT": str(lake),
            "WEBLOGS_DUCKDB_PATH": str(self.database),
            "DBT_PROFILES_DIR": str(work / "profiles"),
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(work / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def run(self, *args: str, lake: Path | None = None) -> dict[str, Any]:
        """One dbt command; `lake` reads another lake root than the benchmark's."""
        env = {**self.env, "WEBLOGS_LAKE_ROOT": str(lake)} if lake else self.env
        began = time.perf_counter()
        done = subprocess.run(
            [DBT, *args, "--project-dir", str(ROOT)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - began
        if done.returncode != 0:
            sys.exit(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}")
        results = json.loads((self.target / "run_results.json").read_text())["results"]
        models = [r for r in results if r["unique_id"].startswith("model.")]
        execute = sum(r["execution_time"] for r in models)
        incremental_path = sum(
            r["execution_time"] for r in models if r["unique_id"].split(".")[-1] in INCREMENTAL_PATH
        )
        return {
            "wall": wall,
            "models": execute,
            "startup": wall - execute,
            "count": len(models),
            "incremental_path": incremental_path,
            "per_model": {r["unique_id"].split(".")[-1]: r["execution_time"] for r in models},
        }


KEYS = {
    "engagement_metrics": ("session_id",),
    "session_metrics": ("session_date", "device_type", "browser"),
    "loyalty_metrics": ("user_id",),
    "loyalty_by_tier": ("loyalty_tier",),
}


def compare(con: duckdb.DuckDBPyConnection, mart: str) -> tuple[int, int]:
    """(rows, rows that differ) between dbt's mart and the floor's; numbers to 0.01 (docs/contract.md#3-the-analytics-tables)."""
    floor = "h_sessions" if mart == "engagement_metrics" else f"h_{mart}"
    described = con.execute(f"describe dbt.main.{mart}").fetchall()
    keys = KEYS[mart]
    checks = []
    for name, kind, *_ in described:
        if name in keys:
            continue
        if kind in ("DOUBLE", "FLOAT") or kind.startswith("DECIMAL"):
            checks.append(
                f"coalesce(abs(a.{name} - b.{name}) > 0.010001, (a.{name} is null) <> (b.{name} is null))"
            )
        else:
            checks.append(f"a.{name} is distinct from b.{name}")
    join = " and ".join(f"a.{k} = b.{k}" for k in keys)
    missing = " or ".join(f"a.{k} is null or b.{k} is null" for k in keys[:1])
    rows = con.execute(f"select count(*) from dbt.main.{mart}").fetchone()[0]
    differ = con.execute(
        f"select count(*) from dbt.main.{mart} as a full outer join {floor} as b on {join} "
        f"where {missing} or " + " or ".join(checks)
    ).fetchone()[0]
    return rows, differ


def files_read(sql_path: Path, lake: Path) -> tuple[int, int]:
    """(files read, files in the lake) for the compiled staging model, from EXPLAIN ANALYZE."""
    plan = duckdb.connect().execute("explain analyze " + sql_path.read_text()).fetchall()[0][1]
    read = re.search(r"Total Files Read:[\s│]*(\d+)", plan)
    assert read, plan
    return int(read.group(1)), len(list((lake / "events").rglob("*.parquet")))


def per_model(run: dict[str, Any]) -> str:
    """Each model's execution time of one run, in run order."""
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in run["per_model"].items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=10_000_000, help="events to generate (at least 5M)"
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--dir",
        default="/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
        help="where the throw-away work folder goes (default: the RAM-backed /dev/shm when present, "
        "else the system's temporary folder)",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each side; the best one counts"
    )
    parser.add_argument(
        "--day-repeat", type=int, default=5,
        help="runs of the one-day and of the one-hour run (about a second each); the best counts",
    )  # fmt: skip
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="weblogs-bench-models-", dir=args.dir))
    work.mkdir(parents=True, exist_ok=True)
    lake = work / "lake"
    if lake.exists():
        shutil.rmtree(lake)
    for stale in ("profiles", "target", "logs", "one-hour-lake", "bench.duckdb", "floor.duckdb"):
        path = work / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    try:
        began = time.perf_counter()
        events, files = generate_lake(lake, args.events, args.days)
        print(f"lake: {events:,} events, {files} files, {args.days} days "
              f"(generated in {time.perf_counter() - began:.1f} s) at {lake}")  # fmt: skip
        start, end = FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1)
        dbt = Dbt(work, lake)
        window = f"{{startdate: '{start}', enddate: '{end}'}}"

        sql = HAND_WRITTEN.format(
            lake=lake, start=start, end=end, partitions=partition_predicate(start, end)
        )
        con = duckdb.connect(str(work / "floor.duckdb"))
        con.execute("set threads = 2")
        # The machine is shared: alternate the two sides and keep each one's best run.
        fulls, floors = [], []
        for _ in range(args.repeat):
            fulls.append(dbt.run("run", "--full-refresh", "--vars", window))
            began = time.perf_counter()
            con.execute(sql)
            floors.append(time.perf_counter() - began)
        full = min(fulls, key=lambda r: r["models"])
        floor = min(floors)
        stg = dbt.target / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
        full_scanned, total_files = files_read(stg, lake)
        con.execute(f"attach '{dbt.database}' as dbt (read_only)")
        for mart in MARTS:
            rows, differ = compare(con, mart)
            print(f"  {mart}: {rows:,} rows, {differ} differing from the hand-written query")
            if differ:
                sys.exit(f"{mart}: dbt and the hand-written query disagree")
        con.execute("detach dbt")
        con.close()

        day = start + timedelta(days=args.days // 2)
        # The same run over one hour of that day's events and the CRM files: dbt's fixed cost.
        small = work / "one-hour-lake"
        hour = f"year={day:%Y}/month={day:%m}/day={day:%d}/hour=12"
        shutil.copytree(lake / "events" / hour, small / "events" / hour)
        shutil.copytree(lake / "crm", small / "crm")
        one_day_vars = f"{{startdate: '{day}', enddate: '{day}'}}"
        one_days, fixeds = [], []
        for _ in range(args.day_repeat):
            one_days.append(dbt.run("run", "--vars", one_day_vars))
            fixeds.append(dbt.run("run", "--vars", one_day_vars, lake=small))
        one_day = min(one_days, key=lambda r: r["models"])
        fixed = min(fixeds, key=lambda r: r["models"])
        dbt.run("run", "--vars", one_day_vars)  # the marts and compiled SQL of the real day again
        day_scanned, _ = files_read(stg, lake)
        day_partitions = len(
            {p.parent.parent for p in (lake / "events").rglob("*.parquet")}
            & {
                lake / "events" / f"year={d:%Y}" / f"month={d:%m}" / f"day={d:%d}"
                for d in (day - timedelta(days=1), day, day + timedelta(days=1))
            }
        )

        print()
        print(f"full build ({args.days} days), dbt run of {full['count']} models, "
              f"best of {args.repeat}:")  # fmt: skip
        print(f"  model execution (run_results.json): {full['models']:.2f} s")
        print(f"  dbt start-up and hooks (apart):      {full['startup']:.2f} s")
        print(f"  files read: {full_scanned}/{total_files}")
        print(f"  per model: {per_model(full)}")
        print(f"hand-written DuckDB query (the floor), best of {args.repeat}: {floor:.2f} s")
        print(f"  ratio dbt models / floor: {full['models'] / floor:.2f} (target <= 2.0)")
        print(f"one-day incremental run ({day}), best of {args.day_repeat}:")
        print(f"  model execution: {one_day['models']:.2f} s "
              f"(start-up apart: {one_day['startup']:.2f} s)")  # fmt: skip
        print(f"  per model: {per_model(one_day)}")
        print(f"  ratio one day / full build: {one_day['models'] / full['models']:.3f} "
              f"(target < 0.10)")  # fmt: skip
        print(
            f"  of which the incremental path ({', '.join(INCREMENTAL_PATH)}): "
            f"{one_day['incremental_path']:.2f} s vs {full['incremental_path']:.2f} s "
            f"in the full build, ratio {one_day['incremental_path'] / full['incremental_path']:.3f}"
        )
        print(f"  files read: {day_scanned}/{total_files} "
              f"= {day_partitions} days of partitions (target <= 3)")  # fmt: skip
        print(f"dbt's fixed cost per run (the same day over one hour of events and the CRM files), "
              f"best of {args.day_repeat}:")  # fmt: skip
        print(f"  model execution: {fixed['models']:.2f} s ({per_model(fixed)})")
        print(
            f"  net of it, one day / full build: {one_day['models'] - fixed['models']:.2f} s / "
            f"{full['models'] - fixed['models']:.2f} s = "
            f"{(one_day['models'] - fixed['models']) / (full['models'] - fixed['models']):.3f}"
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
