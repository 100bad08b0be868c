"""Benchmark: the dbt marts on DuckDB next to one hand-written DuckDB query (the floor).

    .venv/bin/python bench/models.py [--events 10000000] [--days 30] [--repeat 2] [--day-repeat 5]
                                     [--keep DIR] [--dir D] [--target trino]
    .venv/bin/python bench/models.py --compaction [--events-per-day 1000000] [--days 7]
                                     [--batch-rows 100]
    .venv/bin/python bench/models.py --history [--events-per-day 3000] [--day-repeat 3]

1. Generates a lake of 10M events by default (--events, at least 5M: on 5M,
   dbt's fixed cost per run weighs twice as much in the one-day ratio; see
   docs/analytics.md, Benchmark) over 30 days in the production layout
   and schema (events/year=/month=/day=/hour=/*.parquet, Snappy, the columns of
   weblogs.core.contract.ARROW_SCHEMA; ~1% duplicate deliveries, ~30% anonymous
   sessions, late logins, returning devices (client_id), sessions across midnight, six
   acquisition sources with referrers and UTM landings, add_to_cart / checkout /
   purchase events with order values, signups) plus CRM CSVs. In small proportions it
   also triggers every rule of docs/contract.md the models apply: 1% bot sessions (and
   0.5% whose later events only carry a bot browser), 0.3% session_ids kept alive for
   1-2 days (events past 24 hours are in no session), 0.3% session_ids reused after two
   days (a second session), secrets in 2% of URLs. It is written straight by DuckDB for
   speed; the schema is checked against the contract.
2. Full build: `dbt run --full-refresh` of every model for the 30 days. Model
   execution time is summed from dbt's run_results.json; dbt's own start-up
   (parse, connection, hooks) is the rest of the wall time, reported apart.
3. Floor: one hand-written DuckDB script (HAND_WRITTEN) computing every mart of
   models/marts/ (MARTS: the session marts, session_anomalies, identity_map and the
   visitor tables of docs/contract.md section 5) straight from the Parquet files into
   tables, same machine, same process group, same thread count, under the same rules:
   the 24-hour session rule, the bot rule, the redaction of URL and path columns,
   identity stitching. Since 2026-12-07 (afternoon): before, it grouped events by
   session_id alone with none of those rules (and no session_anomalies or
   identity_map), which the generated lake never exercised, so ratios before and after
   that change have different baselines (bench/RESULTS.md). Every mart is compared row
   by row with dbt's (`compare`, numbers to 0.01); any difference, or a mart without a
   floor counterpart, stops the bench with one line and a non-zero exit.
4. Incremental: a one-day `dbt run` on top of the full build, and the files
   it reads (DuckDB EXPLAIN ANALYZE of the staging model for that window).
5. The scheduled run with late data (var run_date, arrivals manifests): a
   normal scheduled run counts one day's arrivals; the late one counts the
   next day's arrivals plus 1% of a day's events arriving for 5 older dates
   (3, 6, 9, 12 and 15 days back). Reported: its model time against the
   normal scheduled run's (target <= 2x) and the event day folders it read
   (the touched dates' read windows only).
6. dbt's fixed cost per run: the same one-day `dbt run` over a lake that holds
   the CRM files and one hour of that day's events. Every model still runs,
   with next to nothing to read: what remains is dbt's own work per model
   (rendering, metadata queries, renames, commits) and the CRM files, which
   every run reads whatever its window. The one-day run is also reported net
   of that fixed part, next to the full build net of it.

6. With `--target trino`: the same full build and one-day run with the Athena
   SQL on the local Trino (weblogs.trino: one JVM, the lake as Hive tables),
   over the same lake, next to DuckDB's figures (ratio Trino / DuckDB), and
   the rows Trino read for the one day (its query statistics).

With --history it measures how a one-day run grows with history instead (no
floor): two lakes of --events-per-day (3,000) a day, 30 and 365 days, each built
in full, then the same one-day run (the second-to-last day) on each, alternating,
best of --day-repeat. Target: 365 days at most 1.3x 30 days.

With --compaction it measures compaction instead (no floor): one lake of
--events-per-day (1M) x --days (7) written as the Lambda writes it, one object per
Kinesis batch of --batch-rows (100) records per hour partition (~10,000 objects a
day); full build and one-day run, `weblogs compact` (timed), the same runs again;
objects per day partition, objects and bytes the one-day run opens (DuckDB's EXPLAIN
ANALYZE), and the marts before and after compared (to 0.01). Targets: objects opened
drop >= 50x, the one-day run no slower.

The lake and both DuckDB files go to /dev/shm (RAM-backed) when it exists, as
in bench/consume.py: on a VM that reclaims the page cache, reading the lake back
from disk added 0.1-0.5 s of I/O wait to runs at random. `--dir` measures on a disk.

Each side runs --repeat times, alternating, and its best run counts (the
machine is shared); the short one-day and fixed-cost runs, --day-repeat times.
Prints the ratios (targets: marts within 2x the floor, issues 28, 29: 1.2x, issue 32: 1.0x;
one day under 10% of the full build and reading at most 3 days of partitions).
"""

from __future__ import annotations

import argparse
import itertools
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

import results  # noqa: E402

from weblogs.core.contract import ARROW_SCHEMA  # noqa: E402

DBT = str(Path(sys.executable).with_name("dbt"))
FIRST_DAY = date(2026, 9, 1)
MARTS = (
    "engagement_metrics",
    "session_metrics",
    "loyalty_metrics",
    "loyalty_by_tier",
    "acquisition_metrics",
    "page_metrics",
    "goal_metrics",
    "audience_metrics",
    "session_anomalies",
    "identity_map",
    "users",
    "daily_visitors",
    "retention_cohorts",
)
#: The incremental marts and the per-run tables they read (the window's session events and
#: sessions, computed once per run); staging is ephemeral, inlined in int_run_session_events.
INCREMENTAL_PATH = (
    "int_run_session_events",
    "int_run_sessions",
    "engagement_metrics",
    "session_metrics",
    "session_anomalies",
    "acquisition_metrics",
    "page_metrics",
    "int_run_session_event_values",
    "goal_metrics",
    "audience_metrics",
)


def generate_lake(lake: Path, events: int, days: int, batch_rows: int = 0) -> tuple[int, int]:
    """Write the events and CRM files; returns (events written, files written).

    `batch_rows` > 0 writes the events as the transformation Lambda does: one object per
    Kinesis batch of that many records (in ingestion order) per hour partition, named
    `batch-N.parquet`; otherwise one object per hour.

    In a child process (this script with `--generate-into`): DuckDB's allocator kept the
    generator's memory in the process that ran it (8 GB at 10M events), beside the dbt
    builds measured next, which the kernel then killed for want of memory."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--generate-into", str(lake),
         "--events", str(events), "--days", str(days), "--batch-rows", str(batch_rows)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    written = json.loads(done.stdout.strip().splitlines()[-1])
    return written["events"], written["files"]


def write_lake(lake: Path, events: int, days: int, batch_rows: int = 0) -> tuple[int, int]:
    """generate_lake's work, in the process that calls it."""
    sessions = events // 10  # 1..19 events per session, 10 on average
    users = max(1000, sessions // 10)
    con = duckdb.connect()
    con.execute("set threads = 2; select setseed(0.42)")
    con.execute(
        f"""
        create table sessions as
        with drawn as (
            select
                s as sid,
                timestamp '{FIRST_DAY}' + to_milliseconds(cast(floor(random() * {days} * 86400000) as bigint))
                    as start_ts,
                1 + cast(floor(random() * 19) as integer) as drawn_n,
                cast(floor(random() * {users}) as integer) as uid,
                random() < 0.3 as anon,
                -- a late login: the session starts anonymous and logs in half-way
                random() < 0.15 as logs_in,
                -- the browser's first-party id: devices return (fewer devices than sessions);
                -- some sessions send it only from their second event on
                random() < 0.9 as has_client,
                random() < 0.05 as client_late,
                cast(floor(random() * {users} * 1.5) as integer) as client,
                -- acquisition: 0 direct, 1 search, 2 social, 3 referral, 4 paid search, 5 email
                cast(floor(random() * 6) as integer) as acq,
                ['desktop', 'mobile', 'tablet'][1 + cast(floor(random() * 3) as integer)] as device,
                ['chrome', 'safari', 'firefox', 'edge'][1 + cast(floor(random() * 4) as integer)] as browser,
                -- audiences (section 6): five operating systems and six countries
                ['Windows', 'macOS', 'iOS', 'Android', 'Linux'][1 + cast(floor(random() * 5) as integer)]
                    as os_name,
                ['DE', 'pt', 'US', 'fr', 'GB', ''][1 + cast(floor(random() * 6) as integer)] as country_code,
                -- the contract's rules (docs/contract.md sections 3 and 7), in small proportions:
                -- 1% bot sessions (their first event's browser holds a bot pattern), 0.5% whose
                -- later events only carry one (not bots); 0.3% session_ids kept alive for
                -- 1-2 days (events 1.5-2.5 hours apart: those past 24 hours are in no session);
                -- 0.3% session_ids reused after two days of silence (a second session)
                random() as rule_draw,
                ['googlebot/2.1', 'headlesschrome', 'python-requests/2.31',
                 'mozilla/5.0 (compatible; bingbot/2.0)'][1 + cast(floor(random() * 4) as integer)]
                    as bot_browser
            from range({sessions}) as t (s)
        )
        select
            * exclude (drawn_n),
            rule_draw < 0.01 as bot,
            rule_draw >= 0.01 and rule_draw < 0.015 as bot_later,
            rule_draw >= 0.015 and rule_draw < 0.018 as endless,
            rule_draw >= 0.018 and rule_draw < 0.021 as reused,
            case when rule_draw >= 0.015 and rule_draw < 0.018 then 12 + drawn_n % 8 else drawn_n end as n
        from drawn
        """
    )
    con.execute(
        """
        create table events as
        with expanded as (
            select *, unnest(range(n)) as i from sessions
        ),
        typed as (
            select *,
                case
                    when i = 0 then 'page_view'
                    when random() < 0.03 then ['loyalty_signup', 'loyalty_redeem', 'review'][1 + (i % 3)]
                    when random() < 0.02 then ['signup', 'login', 'logout'][1 + (i % 3)]
                    else ['page_view', 'click', 'scroll', 'search', 'add_to_cart', 'checkout', 'purchase'][1 + cast(floor(random() * 7) as integer)]
                end as kind,
                -- 2% of URLs carry a secret (docs/contract.md section 7), one without `=`
                case when random() < 0.02 then
                    ['?email=jo%40example.com&ref=nav', '?Token=abc123', '#access_token=eyJhbGciOi',
                     '/#/login?token=t', '?e-mail=x&password=hunter2&keep=1', '?email&x=1',
                     '&email=x?y=1'][1 + cast(floor(random() * 7) as integer)]
                    else '' end as secret
            from expanded
        )
        select
            'e-' || sid || '-' || i as event_id,
            's-' || sid as session_id,
            case when anon and not (logs_in and i >= n / 2)
                then 'anon-' || substr(md5('s-' || sid), 1, 16) else 'u-' || uid end as user_id,
            anon and not (logs_in and i >= n / 2) as is_anonymous_user,
            kind as event_type,
            'https://shop.example.com/p/' || cast(floor(random() * 40) as integer)
                || case when i = 0 and acq = 4 then '/?utm_source=Google&utm_medium=cpc&utm_campaign=summer+sale'
                        when i = 0 and acq = 5 then '?utm_medium=email&utm_source=newsletter#top'
                        else secret end as page_url,
            case
                when i > 0 then 'https://shop.example.com/'
                when acq = 1 then 'https://www.google.com/search'
                when acq = 2 then 'https://m.facebook.com/'
                when acq = 3 then 'https://blog.partner.org:8080/post/1'
            end as referrer,
            cast(start_ts + case
                when endless then to_milliseconds(cast(i * (5400000 + floor(random() * 3600000)) as bigint))
                else to_milliseconds(cast(i * (30000 + floor(random() * 120000)) as bigint))
                    + case when reused and i >= n / 2 then interval 51 hour else interval 0 hour end
            end as timestamp_ms) as event_timestamp,
            device as device_type,
            case when bot and i = 0 or bot_later and i > 0 then bot_browser else browser end as browser,
            os_name as os,
            nullif(country_code, '') as country,
            case when has_client and not (client_late and i = 0) then 'c-' || client end as client_id,
            -- most purchases carry their order value, a few other events a value too
            case when kind = 'purchase' and random() < 0.8 or random() < 0.01
                then cast(round(random() * 200, 2) as decimal(38, 18)) end as value,
            null::varchar as extra_attributes,
            cast(start_ts + interval 5 second as timestamp_ms) as ingested_at
        from typed
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
    if batch_rows:
        write_batches(con, lake, batch_rows)
    else:
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
                -- 2% of ratings are not one ASCII digit 1-5 once trimmed: ignored (section 2)
                case when random() < 0.02
                    then ['05', '4.5', 'five', '0', ' 3 '][1 + cast(floor(random() * 5) as integer)]
                    else cast(cast(1 + floor(random() * 5) as integer) as varchar) end as rating
            from range({users}) as t (r)
        ) to '{lake / "crm" / "ratings.csv"}' (header)
        """
    )
    files = len(list((lake / "events").rglob("*.parquet")))
    return total, files


def write_batches(con: duckdb.DuckDBPyConnection, lake: Path, batch_rows: int) -> None:
    """The events as Kinesis batches: consecutive `batch_rows` records in arrival order,
    one object per batch and hour partition (the layout the Lambda leaves before compaction).
    Written by pyarrow a day at a time (DuckDB's partitioned COPY is slow on ~10,000
    partitions a day)."""
    import pyarrow.parquet as pq

    con.execute(
        f"""
        create temp table batched as
        select *,
            strftime(event_timestamp, '%Y-%m-%d') as batch_day,
            cast(strftime(event_timestamp, '%H') as integer) as batch_hour,
            (row_number() over (order by event_timestamp, event_id) - 1) // {batch_rows} as batch
        from events
        """
    )
    days = [
        r[0] for r in con.execute("select distinct batch_day from batched order by 1").fetchall()
    ]
    for day in days:
        table = (
            con.execute(
                "select * from batched where batch_day = ? order by batch_hour, batch, event_id",
                [day],
            )
            .arrow()
            .read_all()
        )
        hours = table["batch_hour"].to_pylist()
        batches = table["batch"].to_pylist()
        keys = list(zip(hours, batches, strict=True))
        bounds = [0, *(i for i in range(1, len(keys)) if keys[i] != keys[i - 1]), len(keys)]
        events = table.select(ARROW_SCHEMA.names).cast(ARROW_SCHEMA)
        year, month, dd = day.split("-")
        for start, stop in itertools.pairwise(bounds):
            folder = lake / "events" / f"year={year}/month={month}/day={dd}/hour={hours[start]:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                events.slice(start, stop - start),
                folder / f"batch-{batches[start]:07d}.parquet",
                compression="snappy",
            )


#: The floor: every mart of the full build (MARTS) in one hand-written DuckDB script,
#: straight from Parquet, under every rule of docs/contract.md the models apply: the
#: 24-hour session rule (a session_id split after 24 hours of silence, the events more
#: than 24 hours after their session's start in no session, reported), the bot rule
#: (bot sessions in no mart, their events reported), the redaction of secrets in URL
#: and path columns, identity stitching and the visitor tables. The contract's vars
#: with their defaults; `floor_sql` fills them in.
HAND_WRITTEN = """
create or replace temp table h_events as
select *
from read_parquet('{lake}/events/*/*/*/*/*.parquet', hive_partitioning = true,
                      hive_types = {{'year': 'varchar', 'month': 'varchar', 'day': 'varchar', 'hour': 'varchar'}})
    where {partitions}
qualify row_number() over (
    partition by event_id
    order by ingested_at, event_timestamp, session_id, user_id, event_type, page_url
) = 1;

-- Sessions: within a session_id, in session order, an event starts a session when no
-- event of the id lies in the {session_hours} hours before it; its session is the events less
-- than {session_hours} hours after that start. An id whose first and last events are less than
-- that apart is one session started at its first event (no running max needed).
create or replace temp table h_session_events as
with ordered as (
    select *,
        lag(event_timestamp) over w as previous_timestamp,
        lead(event_timestamp) over w as following_timestamp,
        first_value(event_timestamp) over (w rows between unbounded preceding and unbounded following)
            as first_timestamp,
        last_value(event_timestamp) over (w rows between unbounded preceding and unbounded following)
            as last_timestamp
    from h_events
    window w as (partition by session_id order by event_timestamp, event_id)
),
assigned as (
    select * exclude (previous_timestamp), first_timestamp as session_start_at
    from ordered
    where date_diff('millisecond', first_timestamp, last_timestamp) < {session_ms}
    union all
    select * exclude (previous_timestamp),
        max(case when previous_timestamp is null
                or date_diff('millisecond', previous_timestamp, event_timestamp) > {session_ms}
            then event_timestamp end) over (
            partition by session_id order by event_timestamp, event_id
            rows between unbounded preceding and current row) as session_start_at
    from ordered
    where date_diff('millisecond', first_timestamp, last_timestamp) >= {session_ms}
)
select * exclude (following_timestamp, first_timestamp, last_timestamp),
    date_diff('millisecond', session_start_at, event_timestamp) < {session_ms} as in_session,
    case when date_diff('millisecond', session_start_at, following_timestamp) < {session_ms}
        then following_timestamp end as next_timestamp
from assigned;

-- Every session of the window's dates, bots included (is_bot); the marts read `not is_bot`.
create or replace temp table h_sessions as
with events as (
    select * from h_session_events where in_session
),
firsts as (
    select session_id, session_start_at,
        min((event_timestamp, event_id)) filter (where event_type = 'add_to_cart') as first_cart
    from events group by all
),
conversions as (
    -- converted: a purchase after the first checkout that follows the first add_to_cart.
    select session_id, session_start_at,
        min((event_timestamp, event_id)) filter (
            where event_type = 'checkout' and (event_timestamp, event_id) > first_cart
        ) < max((event_timestamp, event_id)) filter (where event_type = 'purchase') as converted
    from events join firsts using (session_id, session_start_at) group by all
),
s as (
    select
        session_id, session_start_at,
        coalesce(arg_max(user_id, (event_timestamp, event_id)) filter (where not is_anonymous_user),
                 arg_max(user_id, (event_timestamp, event_id))) as user_id,
        bool_and(is_anonymous_user) as anon,
        -- The first and last event's values: one arg_min/arg_max of a struct each.
        arg_min(struct_pack(d := device_type, b := browser, t := event_type, p := page_url,
                            r := referrer), (event_timestamp, event_id)) as first_event,
        arg_max(struct_pack(t := event_type, p := page_url), (event_timestamp, event_id))
            as last_event,
        -- The session's first and last page_view (page_metrics' entrances and exits).
        arg_min(event_id, (event_timestamp, event_id)) filter (where event_type = 'page_view')
            as first_view,
        arg_max(event_id, (event_timestamp, event_id)) filter (where event_type = 'page_view')
            as last_view,
        min(event_timestamp) as session_start, max(event_timestamp) as session_end,
        count(*) as total_events, count(distinct page_url) as unique_pages,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type in ('loyalty_signup', 'loyalty_redeem', 'review'))
            as loyalty_interactions,
        count(*) filter (where event_type = 'add_to_cart') > 0 as reached_add_to_cart,
        coalesce(max((event_timestamp, event_id)) filter (where event_type = 'checkout')
            > min((event_timestamp, event_id)) filter (where event_type = 'add_to_cart'), false)
            as reached_checkout,
        count(*) filter (where event_type = 'purchase') as purchases,
        arg_min(struct_pack(o := os, c := country), (event_timestamp, event_id)) as first_audience,
        sum(value) filter (where event_type = 'purchase') as purchase_value,
        arg_min(client_id, (event_timestamp, event_id)) filter (where client_id is not null)
            as client_id
    from events group by session_id, session_start_at
    having cast(session_start_at as date) between date '{start}' and date '{end}'
),
d as (
    select s.* exclude (first_event, last_event, first_audience, purchase_value),
        coalesce(nullif(lower(trim(first_audience.o)), ''), 'unknown') as os,
        coalesce(nullif(upper(trim(first_audience.c)), ''), 'UNKNOWN') as country,
        cast(round(coalesce(purchase_value, 0), 2) as decimal(38, 2)) as revenue,
        first_event.d as device_type, first_event.b as browser,
        {is_bot} as is_bot,
        first_event.t as entry_event_type, first_event.p as entry_page,
        last_event.t as exit_event_type, last_event.p as exit_page,
        cast(date_diff('millisecond', session_start, session_end) as double) / 1000
            as session_duration_seconds,
        {page_path_first} as landing_page_path,
        nullif(regexp_replace(lower(regexp_extract(first_event.r,
            '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#@]*@)?([^/?#:]*)', 2)), '^www[.]', ''), '')
            as referrer_host,
        {utm_source} as utm_source, {utm_medium} as utm_medium, {utm_campaign} as utm_campaign,
        coalesce(c.converted, false) as converted
    from s left join conversions as c using (session_id, session_start_at)
),
a as (
    select *,
        case
            when utm_medium in ('cpc', 'ppc', 'paidsearch', 'paid_search') then 'paid_search'
            when utm_medium in ('paid_social', 'paidsocial') then 'paid_social'
            when utm_medium in ('display', 'banner', 'cpm') then 'display'
            when utm_medium in ('email', 'e-mail', 'newsletter') then 'email'
            when utm_medium in ('affiliate', 'affiliates') then 'affiliate'
            when utm_medium in ('social', 'social-network', 'social_media', 'sm')
                or len(list_filter({social}, x -> referrer_host = x or referrer_host like '%.' || x)) > 0
                then 'social'
            when len(list_filter({search}, x -> referrer_host = x or referrer_host like '%.' || x)) > 0
                then 'organic_search'
            when utm_source is not null or utm_medium is not null then 'other_campaign'
            when referrer_host is not null then 'referral'
            else 'direct'
        end as channel
    from d
)
select *, cast(session_start as date) as session_date, total_events = 1 as is_bounce,
    case when not anon then 'u:' || user_id when client_id is not null then 'c:' || client_id
        else 's:' || user_id end as visitor_key,
    round(100 * (0.4 * least(session_duration_seconds / 1800, 1.0)
        + 0.3 * least(cast(total_events as double) / 20, 1.0)
        + 0.3 * least(cast(unique_pages as double) / 10, 1.0)), 2) as engagement_score
from a;

create or replace table h_engagement_metrics as
select * exclude (session_start_at, is_bot, first_view, last_view) replace (
        {redact_entry_page} as entry_page, {redact_exit_page} as exit_page,
        {redact_landing_page_path} as landing_page_path)
from h_sessions where not is_bot;

-- The events in no session (past their session's first {session_hours} hours), reported the day
-- before their own date; a bot session's events, on its session's date.
create or replace table h_session_anomalies as
select cast(event_timestamp - interval 1 day as date) as report_date, session_id, event_id,
    user_id, event_type, event_timestamp,
    'event_more_than_24_hours_after_its_session_start' as rule
from h_session_events
where not in_session
    and cast(event_timestamp - interval 1 day as date) between date '{start}' and date '{end}'
union all
select s.session_date as report_date, e.session_id, e.event_id, e.user_id, e.event_type,
    e.event_timestamp, 'bot_browser' as rule
from h_session_events as e join h_sessions as s using (session_id, session_start_at)
where e.in_session and s.is_bot;

create or replace table h_session_metrics as
select session_date, device_type, browser, count(*) as sessions, count(distinct user_id) as users,
    round(100 * avg(is_bounce::int), 2) as bounce_rate_pct,
    round(avg(session_duration_seconds), 2) as avg_session_duration_seconds,
    round(avg(total_events), 2) as avg_events_per_session,
    round(avg(unique_pages), 2) as avg_unique_pages,
    round(avg(engagement_score), 2) as avg_engagement_score
from h_sessions where not is_bot group by all;

create or replace table h_acquisition_metrics as
select session_date, channel, count(*) as sessions, count(distinct user_id) as users,
    round(100 * avg(is_bounce::int), 2) as bounce_rate_pct,
    round(avg(engagement_score), 2) as avg_engagement_score,
    count(*) filter (where reached_add_to_cart) as add_to_cart_sessions,
    count(*) filter (where reached_checkout) as checkout_sessions,
    count(*) filter (where converted) as converted_sessions,
    round(100 * avg(converted::int), 2) as conversion_rate_pct,
    sum(purchases) as purchases,
    sum(revenue) as revenue
from h_sessions where not is_bot group by all;

create or replace table h_goal_metrics as
with goals as (
    select * from (values ('purchase', 'purchase'), ('signup', 'signup')) as g (goal, event_type)
),
completed as (
    select s.session_date, g.goal, e.session_id, count(*) as completions, sum(e.value) as value
    from h_session_events as e join h_sessions as s using (session_id, session_start_at)
    join goals as g on e.event_type = g.event_type
    where e.in_session and not s.is_bot
    group by all
),
dates as (select session_date, count(*) as sessions from h_sessions where not is_bot group by all)
select d.session_date, g.goal, d.sessions, count(c.session_id) as converted_sessions,
    coalesce(sum(c.completions), 0) as completions,
    round(100.0 * count(c.session_id) / d.sessions, 2) as conversion_rate_pct,
    cast(round(coalesce(sum(c.value), 0), 2) as decimal(38, 2)) as value
from dates as d cross join goals as g
left join completed as c on c.session_date = d.session_date and c.goal = g.goal
group by d.session_date, g.goal, d.sessions;

create or replace table h_audience_metrics as
select session_date, device_type, os, country, count(*) as sessions,
    count(distinct user_id) as users,
    round(100 * avg(is_bounce::int), 2) as bounce_rate_pct,
    round(avg(session_duration_seconds), 2) as avg_session_duration_seconds,
    count(*) filter (where converted) as converted_sessions,
    round(100 * avg(converted::int), 2) as conversion_rate_pct,
    sum(revenue) as revenue
from h_sessions where not is_bot group by all;

create or replace table h_page_metrics as
with views as (
    -- Redacted before grouping: paths that differ only in a secret are one row.
    select t.session_id, s.session_date, {redact_page_path} as page_path,
        t.event_id = s.first_view as is_entrance, t.event_id = s.last_view as is_exit,
        date_diff('millisecond', t.event_timestamp, t.next_timestamp) as ms
    from h_session_events as t join h_sessions as s using (session_id, session_start_at)
    where t.in_session and t.event_type = 'page_view' and not s.is_bot
)
select session_date, page_path, count(*) as page_views, count(distinct session_id) as sessions,
    count(*) filter (where is_entrance) as entrances, count(*) filter (where is_exit) as exits,
    round(100.0 * count(*) filter (where is_exit) / count(*), 2) as exit_rate_pct,
    round(avg(ms) / 1000, 2) as avg_time_on_page_seconds,
    count(ms) as timed_page_views, coalesce(sum(ms), 0) as time_on_page_milliseconds
from views group by all;

create or replace table h_ratings as
select trim(user_id) as user_id, cast(trim(rating) as integer) as rating
from read_csv('{lake}/crm/ratings.csv', header = true, all_varchar = true)
where trim(rating) in ('1', '2', '3', '4', '5')
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
    from h_sessions where not anon and not is_bot group by user_id
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
    from h_sessions as s join h_loyalty_metrics as m using (user_id) where not s.anon and not s.is_bot group by all
),
r as (
    select m.loyalty_tier, avg(r.rating) as a
    from h_ratings as r join h_loyalty_metrics as m using (user_id) group by all
)
select t.loyalty_tier, t.users, t.members as loyalty_members,
    round(100.0 * t.members / t.users, 2) as loyalty_member_pct, round(s.e, 2) as avg_engagement_score,
    round(s.lr, 2) as loyalty_rate_pct, round(r.a, 2) as avg_rating
from t left join s using (loyalty_tier) left join r using (loyalty_tier);

-- Section 5: a client_id of a logged-in session belongs to the user of its last such session.
create or replace table h_identity_map as
select client_id, arg_max(user_id, (session_start, session_id)) as user_id,
    max(session_start) as last_login_at,
    arg_max(session_id, (session_start, session_id)) as last_login_session_id
from h_sessions where not anon and not is_bot and client_id is not null group by client_id;

create or replace temp table h_visitor_sessions as
select s.*,
    case when s.visitor_key like 'c:%' and st.user_id is not null
        then 'u:' || st.user_id else s.visitor_key end as visitor_id
from h_sessions as s left join h_identity_map as st using (client_id)
where not s.is_bot;

create or replace table h_users as
with v as (
    select visitor_id,
        case when visitor_id like 'u:%' then substr(visitor_id, 3) end as user_id,
        min(session_date) as first_session_date, max(session_date) as last_session_date,
        min(session_start) as first_seen_at, max(session_end) as last_seen_at,
        count(*) as sessions, count(distinct session_date) as active_days,
        sum(page_views) as page_views, sum(total_events) as total_events,
        count(*) filter (where converted) as converted_sessions, sum(purchases) as purchases,
        sum(revenue) as revenue, round(avg(engagement_score), 2) as avg_engagement_score,
        arg_min(channel, (session_start, session_id)) as first_channel,
        arg_min(landing_page_path, (session_start, session_id)) as first_landing_page_path,
        arg_max(channel, (session_start, session_id)) as last_channel
    from h_visitor_sessions group by visitor_id
),
c as (
    select trim(user_id) as user_id,
        coalesce(nullif(lower(trim(loyalty_tier)), ''), 'none') as loyalty_tier
    from read_csv('{lake}/crm/customers.csv', header = true, all_varchar = true)
)
select v.* replace ({redact_first_landing_page_path} as first_landing_page_path),
    v.user_id is not null as is_identified, coalesce(c.loyalty_tier, 'none') as loyalty_tier
from v left join c using (user_id);

create or replace table h_daily_visitors as
with days as (
    select session_date, visitor_id, count(*) as sessions from h_visitor_sessions group by all
),
firsts as (select visitor_id, first_session_date from h_users)
select session_date, count(*) as visitors,
    count(*) filter (where session_date = first_session_date) as new_visitors,
    count(*) filter (where session_date <> first_session_date) as returning_visitors,
    count(*) filter (where visitor_id like 'u:%') as identified_visitors,
    sum(sessions) as sessions,
    coalesce(sum(sessions) filter (where session_date = first_session_date), 0)
        as new_visitor_sessions
from days join firsts using (visitor_id) group by session_date;

create or replace table h_retention_cohorts as
with cohort_of as (
    select visitor_id, cast(date_trunc('week', first_session_date) as date) as cohort_week
    from h_users
),
cohorts as (select cohort_week, count(*) as cohort_visitors from cohort_of group by all),
latest as (
    select cast(date_trunc('week', max(session_date)) as date) as last_week from h_visitor_sessions
),
weeks as (
    select c.cohort_week, c.cohort_visitors,
        unnest(range(0, (l.last_week - c.cohort_week) // 7 + 1)) as week_number
    from cohorts as c cross join latest as l
),
activity as (
    select c.cohort_week, (v.session_date - c.cohort_week) // 7 as week_number,
        count(distinct v.visitor_id) as active_visitors
    from h_visitor_sessions as v join cohort_of as c using (visitor_id) group by all
)
select w.cohort_week, w.week_number, w.cohort_visitors,
    coalesce(a.active_visitors, 0) as active_visitors,
    round(100.0 * coalesce(a.active_visitors, 0) / w.cohort_visitors, 2) as retention_pct
from weeks as w left join activity as a using (cohort_week, week_number);
"""


def page_path_sql(url: str) -> str:
    """docs/contract.md section 4, `page_path` with no kept query parameters, in DuckDB."""
    rest = f"regexp_replace(regexp_replace({url}, '#.*$', ''), '^[A-Za-z][A-Za-z0-9+.-]*://[^/?]*', '')"
    path = f"split_part({rest}, '?', 1)"
    return f"coalesce(nullif(rtrim({path}, '/'), ''), '/')"


def utm_sql(url: str, name: str) -> str:
    """The first `name` item of the URL's query, percent-decoded, trimmed, lower-cased."""
    query = f"split_part(split_part({url}, '#', 1), '?', 2)"
    item = f"list_filter(string_split({query}, '&'), x -> split_part(x, '=', 1) = '{name}')[1]"
    value = f"url_decode(replace(substr({item}, length('{name}') + 2), '+', ' '))"
    return f"nullif(lower(trim({value}, ' \t\r\n')), '')"


SEARCH_DOMAINS = ["google.com", "google.co.uk", "google.de", "google.fr", "bing.com",
                  "duckduckgo.com", "yahoo.com", "baidu.com", "yandex.ru", "ecosia.org"]  # fmt: skip
SOCIAL_DOMAINS = ["facebook.com", "instagram.com", "t.co", "twitter.com", "x.com", "linkedin.com",
                  "lnkd.in", "reddit.com", "pinterest.com", "tiktok.com", "youtube.com"]  # fmt: skip


#: docs/contract.md section 7, the defaults of `bot_browser_patterns` and `redacted_query_params`.
BOT_PATTERNS = ("bot", "crawler", "spider", "headless", "phantomjs", "python-requests", "curl")
REDACTED_PARAMS = ("email", "e-mail", "mail", "token", "access_token", "id_token", "password",
                   "pass", "pwd", "secret", "ssn", "phone", "tel")  # fmt: skip


def redact_sql(url: str, names: tuple[str, ...]) -> str:
    """docs/contract.md section 7: after the first `?` or `#`, the value of every item named
    in `names` (ASCII case ignored: each letter a class of its two cases, since `(?i)` would
    also fold `ſ` into `s`) becomes `redacted`; the text before stays as it is."""
    if not names:
        return url
    caseless = [
        "".join(f"[{c}{c.upper()}]" if c.isascii() and c.isalpha() else re.escape(c) for c in name)
        for name in names
    ]
    head = f"regexp_extract({url}, '^[^?#]*')"
    rest = f"substr({url}, length({head}) + 1)"
    pattern = f"([?&#])({'|'.join(caseless)})=[^?&#]*"
    return f"({head} || regexp_replace({rest}, '{pattern}', '\\1\\2=redacted', 'g'))"


def floor_sql(
    lake: Path,
    start: date,
    end: date,
    bot_patterns: tuple[str, ...] = BOT_PATTERNS,
    redacted_params: tuple[str, ...] = REDACTED_PARAMS,
    session_hours: int = 24,
) -> str:
    """The hand-written script for the window, with the contract's default vars. The rules'
    parameters can be changed to show that `compare` catches a floor (or a model) that
    skips one: no bot patterns, no redacted names, or sessions of more than 24 hours."""
    bot = " or ".join(f"contains(first_event.b, '{p}')" for p in bot_patterns) or "false"
    return HAND_WRITTEN.format(
        lake=lake,
        start=start,
        end=end,
        partitions=partition_predicate(start, end),
        session_hours=session_hours,
        session_ms=session_hours * 3_600_000,
        is_bot=f"coalesce({bot}, false)",
        page_path_first=page_path_sql("first_event.p"),
        redact_page_path=redact_sql(page_path_sql("t.page_url"), redacted_params),
        redact_entry_page=redact_sql("entry_page", redacted_params),
        redact_exit_page=redact_sql("exit_page", redacted_params),
        redact_landing_page_path=redact_sql("landing_page_path", redacted_params),
        redact_first_landing_page_path=redact_sql("v.first_landing_page_path", redacted_params),
        utm_source=utm_sql("first_event.p", "utm_source"),
        utm_medium=utm_sql("first_event.p", "utm_medium"),
        utm_campaign=utm_sql("first_event.p", "utm_campaign"),
        search=SEARCH_DOMAINS,
        social=SOCIAL_DOMAINS,
    )


#: The arrival day of the manifests that cover the generated objects (before every run).
COVER_DAY = date(2026, 8, 1)


def cover_objects(lake: Path) -> int:
    """A manifest for every batch name of the generated objects, on an arrival day no run
    reads: the listing then finds no vanished manifest (the generator writes none, and the
    late files are `late-N`, not `late`), so the plan is what `weblogs transform` would
    give (docs/operations.md, When arrivals vanish). Returns the names covered."""
    folder = (
        lake / "arrivals" / f"year={COVER_DAY:%Y}" / f"month={COVER_DAY:%m}" / f"day={COVER_DAY:%d}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    names = {path.stem for path in (lake / "events").rglob("*.parquet")}
    line = {
        "event_date": f"{FIRST_DAY}", "event_hour": "00", "events": 1,
        "arrived_at": f"{COVER_DAY}T12:00:00.000000Z",
        "first_ingested_at": f"{COVER_DAY}T12:00:00.000000Z",
    }  # fmt: skip
    for name in names:
        (folder / f"{name}.jsonl").write_text(json.dumps(line) + "\n")
    return len(names)


def write_arrivals(
    con: duckdb.DuckDBPyConnection, lake: Path, name: str, where: str, day: date
) -> None:
    """The arrivals manifest of a batch (the events matching `where`) arriving at `day` 12:00."""
    folder = lake / "arrivals" / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (
            select strftime(event_timestamp, '%Y-%m-%d') as event_date,
                strftime(event_timestamp, '%H') as event_hour, count(*) as events,
                '{day}T12:00:00.000000Z' as arrived_at,
                strftime(min(ingested_at), '%Y-%m-%dT%H:%M:%S.%fZ') as first_ingested_at
            from read_parquet('{lake}/events/*/*/*/*/*.parquet', hive_partitioning = true)
            where {where}
            group by all order by all
        ) to '{folder / (name + ".jsonl")}' (format json)
        """
    )


def add_late_events(con: duckdb.DuckDBPyConnection, lake: Path, day: date) -> int:
    """1% of `day`'s events, as new events dated 3, 6, 9, 12 and 15 days earlier."""
    back = "to_days(cast(3 * (1 + hash(session_id) % 5) as integer))"
    con.execute(
        f"""
        copy (
            select * exclude (year, month, day, hour) replace (
                    'late-' || event_id as event_id, 'late-' || session_id as session_id,
                    cast(event_timestamp - {back} as timestamp_ms) as event_timestamp),
                strftime(event_timestamp - {back}, '%Y') as year,
                strftime(event_timestamp - {back}, '%m') as month,
                strftime(event_timestamp - {back}, '%d') as day,
                strftime(event_timestamp, '%H') as hour
            from read_parquet('{lake}/events/*/*/*/*/*.parquet', hive_partitioning = true)
            where year = '{day:%Y}' and month = '{day:%m}' and day = '{day:%d}'
              and cast(event_timestamp as date) = date '{day}'
            using sample 1 percent (bernoulli, 11)
        ) to '{lake / "events"}' (format parquet, compression snappy,
            partition_by (year, month, day, hour), filename_pattern 'late-{{i}}', overwrite_or_ignore)
        """
    )
    return con.execute(
        f"select count(*) from read_parquet('{lake}/events/*/*/*/*/late-*.parquet')"
    ).fetchone()[0]


def read_days(target: Path) -> list[str]:
    """The event day folders the compiled models listed (DuckDB reads only those)."""
    found = set()
    for sql in (target / "compiled/weblogs/models").rglob("*.sql"):
        found |= set(re.findall(r"/events/(year=\d{4}/month=\d{2}/day=\d{2})/", sql.read_text()))
    return sorted(found)


def partition_predicate(start: date, end: date) -> str:
    days = [start - timedelta(days=1) + timedelta(days=i) for i in range((end - start).days + 3)]
    return (
        "("
        + " or ".join(f"(year = '{d:%Y}' and month = '{d:%m}' and day = '{d:%d}')" for d in days)
        + ")"
    )


def scheduled_vars(dbt: Dbt, lake: Path, run_date: date) -> tuple[str, float]:
    """The scheduled run's vars as `weblogs models` plans them, and the planning time (s)."""
    from weblogs.analytics.dbt_build import default_window_days
    from weblogs.analytics.readers import duckdb_reader
    from weblogs.analytics.scheduled import plan_scheduled_run, plan_vars
    from weblogs.analytics.targets import Target

    began = time.perf_counter()
    plan = plan_scheduled_run(
        Target("local", "main"), duckdb_reader(dbt.database), {}, lake, run_date,
        default_window_days=default_window_days(),
    )  # fmt: skip
    return json.dumps(plan_vars(plan)), time.perf_counter() - began


class Dbt:
    """dbt on the local target (or `env`'s) with a throw-away profile; keeps each run's results."""

    def __init__(self, work: Path, lake: Path, env: dict[str, str] | None = None) -> None:
        (work / "profiles").mkdir(parents=True)
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
            **(env or {}),
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
    # A session_id reused after more than 24 hours of silence is a second session.
    "engagement_metrics": ("session_id", "session_date"),
    "session_metrics": ("session_date", "device_type", "browser"),
    "loyalty_metrics": ("user_id",),
    "loyalty_by_tier": ("loyalty_tier",),
    "acquisition_metrics": ("session_date", "channel"),
    "page_metrics": ("session_date", "page_path"),
    "goal_metrics": ("session_date", "goal"),
    "audience_metrics": ("session_date", "device_type", "os", "country"),
    "session_anomalies": ("event_id",),
    "identity_map": ("client_id",),
    "users": ("visitor_id",),
    "daily_visitors": ("session_date",),
    "retention_cohorts": ("cohort_week", "week_number"),
}


def compare(con: duckdb.DuckDBPyConnection, mart: str, other: str = "") -> tuple[int, int]:
    """(rows, rows that differ) between dbt's mart and the floor's (or `other`); numbers to 0.01
    (docs/contract.md#3-the-analytics-tables)."""
    floor = other or f"h_{mart}"
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


def run_floor(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, float]:
    """The floor's script, one statement at a time: seconds per table it creates, in order
    (their sum is the floor's time; the steps line up with dbt's per-model times)."""
    steps: dict[str, float] = {}
    for statement in sql.split(";\n"):
        if not statement.strip():
            continue
        created = re.search(r"create or replace (?:temp )?table (\w+)", statement)
        began = time.perf_counter()
        con.execute(statement)
        steps[created.group(1) if created else "other"] = time.perf_counter() - began
    return steps


def differing_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every mart of `models/marts/` (attached as `dbt`) against the floor's, row by row;
    prints each mart's rows and differing rows and returns the marts that differ. A mart
    without a floor counterpart counts as differing (the floor must cover every mart)."""
    built = sorted(path.stem for path in (ROOT / "models" / "marts").glob("*.sql"))
    differing = [f"{mart} (not in the floor)" for mart in built if mart not in MARTS]
    for mart in MARTS:
        rows, differ = compare(con, mart)
        print(f"  {mart}: {rows:,} rows, {differ} differing from the hand-written query")
        if differ:
            differing.append(f"{mart} ({differ:,} of {rows:,} rows)")
    return differing


def files_read(sql_path: Path, lake: Path) -> tuple[int, int]:
    """(files read, files in the lake) for the compiled staging model, from EXPLAIN ANALYZE."""
    plan = duckdb.connect().execute("explain analyze " + sql_path.read_text()).fetchall()[0][1]
    read = re.search(r"Total Files Read:[\s│]*(\d+)", plan)
    assert read, plan
    return int(read.group(1)), len(list((lake / "events").rglob("*.parquet")))


def bench_trino(
    work: Path, lake: Path, window: str, one_day_vars: str, repeat: int, day_repeat: int
) -> dict[str, Any]:
    """The full build and the one-day run on the local Trino over the same lake.

    Trino starts once (start-up apart) with the lake declared and its partitions
    registered; it is stopped at the end. The rows the one-day run read from the
    events table come from Trino's query statistics (EXPLAIN ANALYZE of the
    compiled staging model).
    """
    import trino

    from weblogs.trino import server, tables

    state = work / "trino"
    began = time.perf_counter()
    running = server.start(state, lake)
    try:
        cursor = trino.dbapi.connect(
            host="127.0.0.1", port=running.port, user="weblogs", catalog="hive"
        ).cursor()
        registration = tables.declare_lake(cursor, lake, running.root)
        started = time.perf_counter() - began
        dbt = Dbt(
            work / "dbt-trino",
            lake,
            env={
                "WEBLOGS_DBT_TARGET": "trino",
                "WEBLOGS_TRINO_PORT": str(running.port),
                "WEBLOGS_TRINO_SCHEMA": "bench",
            },
        )
        full = min(
            (dbt.run("run", "--full-refresh", "--vars", window) for _ in range(repeat)),
            key=lambda r: r["models"],
        )
        one_day = min(
            (dbt.run("run", "--vars", one_day_vars) for _ in range(day_repeat)),
            key=lambda r: r["models"],
        )
        stg = dbt.target / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
        cursor.execute("explain analyze " + stg.read_text())
        plan = "\n".join(row[0] for row in cursor.fetchall())
        scan = r"(?:TableScan|ScanFilter\w*)\[table = hive:\w+:events\b.*?\n\s*Input: (\d+) rows"
        read = sum(int(n) for n in re.findall(scan, plan, re.S))
        cursor.execute("select count(*) from hive.weblogs.events")
        total = cursor.fetchone()[0]
    finally:
        server.stop(state)
    return {
        "started": started,
        "partitions": len(registration.added),
        "full": full,
        "one_day": one_day,
        "rows_read": read,
        "rows_total": total,
    }


def per_model(run: dict[str, Any]) -> str:
    """Each model's execution time of one run, in run order."""
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in run["per_model"].items())


def day_objects(lake: Path, days: list[date]) -> tuple[int, int]:
    """(objects, bytes) under the day partitions of `days`."""
    files = [
        path
        for d in days
        for path in (lake / "events" / f"year={d:%Y}/month={d:%m}/day={d:%d}").rglob("*.parquet")
    ]
    return len(files), sum(path.stat().st_size for path in files)


def measure_runs(dbt: Dbt, lake: Path, args: argparse.Namespace, start: date, end: date) -> dict:
    """Full build and one-day run (best of their repeats), and what the one-day run opens."""
    window = f"{{startdate: '{start}', enddate: '{end}', allow_full_refresh: true}}"
    day = start + (end - start) // 2
    one_day_vars = f"{{startdate: '{day}', enddate: '{day}'}}"
    fulls = [dbt.run("run", "--full-refresh", "--vars", window) for _ in range(args.repeat)]
    ones = [dbt.run("run", "--vars", one_day_vars) for _ in range(args.day_repeat)]
    stg = dbt.target / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
    opened, _ = files_read(stg, lake)
    read_days = [day - timedelta(days=1), day, day + timedelta(days=1)]
    objects, nbytes = day_objects(lake, read_days)
    assert opened == objects, (opened, objects)  # the run opens exactly the 3 days' objects
    return {
        "full": min(r["models"] for r in fulls),
        "one_day": min(r["models"] for r in ones),
        "per_day": day_objects(lake, [day])[0],
        "opened": opened,
        "opened_bytes": nbytes,
    }


def compaction_main(args: argparse.Namespace, work: Path, lake: Path) -> int:
    """Item: the same lake before and after `weblogs compact` (see --compaction)."""
    from weblogs.adapters.compaction import compact
    from weblogs.adapters.lake import LocalLake

    days = args.days
    began = time.perf_counter()
    events, files = generate_lake(lake, args.events_per_day * days, days, args.batch_rows)
    print(f"lake: {events:,} events over {days} days as Kinesis-like batches of "
          f"{args.batch_rows} records: {files:,} objects "
          f"(generated in {time.perf_counter() - began:.1f} s) at {lake}")  # fmt: skip
    start, end = FIRST_DAY, FIRST_DAY + timedelta(days=days - 1)
    dbt = Dbt(work, lake)
    before = measure_runs(dbt, lake, args, start, end)
    shutil.copy(dbt.database, work / "before.duckdb")

    began = time.perf_counter()
    stats = compact(LocalLake(lake), grace_seconds=0)
    took = time.perf_counter() - began
    if stats.problems:
        sys.exit("compaction left hours alone:\n" + "\n".join(stats.problems[:5]))
    after = measure_runs(dbt, lake, args, start, end)

    con = duckdb.connect()
    con.execute(f"attach '{dbt.database}' as dbt (read_only)")
    con.execute(f"attach '{work / 'before.duckdb'}' as before (read_only)")
    for mart in MARTS:
        rows, differ = compare(con, mart, f"before.main.{mart}")
        print(f"  {mart}: {rows:,} rows, {differ} differing after compaction")
        if differ:
            sys.exit(f"{mart}: compaction changed the mart")
    con.close()

    def row(label: str, a: float, b: float, fmt: str, ratio: str) -> None:
        print(f"  {label:44} {format(a, fmt):>12} {format(b, fmt):>12} {ratio:>10}")

    print()
    print(f"compaction: {stats.objects_read:,} objects ({stats.bytes_read / 1024**2:,.0f} MiB) "
          f"-> {stats.objects_written} in {took:.1f} s "
          f"({stats.objects_read / took:,.0f} objects/s), {stats.hours_compacted} hours")  # fmt: skip
    print(f"  {'':44} {'before':>12} {'after':>12} {'ratio':>10}")
    row("objects per day partition", before["per_day"], after["per_day"], ",d",
        f"{before['per_day'] / after['per_day']:.0f}x")  # fmt: skip
    row("objects a daily run opens (3 days)", before["opened"], after["opened"], ",d",
        f"{before['opened'] / after['opened']:.0f}x (target >= 50x)")  # fmt: skip
    row("MiB a daily run opens", before["opened_bytes"] / 1024**2,
        after["opened_bytes"] / 1024**2, ",.1f",
        f"{after['opened_bytes'] / before['opened_bytes']:.2f}")  # fmt: skip
    row(f"full build ({days} days), model execution s", before["full"], after["full"], ".2f",
        f"{after['full'] / before['full']:.2f}")  # fmt: skip
    row("one-day run, model execution s", before["one_day"], after["one_day"], ".2f",
        f"{after['one_day'] / before['one_day']:.2f} (target <= 1)")  # fmt: skip
    results.record("bench/models.py --compaction", [
        ("lake: events, objects, days", f"{events:,}, {files:,}, {days}"),
        ("objects a daily run opens, before -> after", f"{before['opened']:,} -> {after['opened']:,}"),
        ("full build, model execution s, before -> after", f"{before['full']:.2f} -> {after['full']:.2f}"),
        ("one-day run, model execution s, before -> after", f"{before['one_day']:.2f} -> {after['one_day']:.2f}"),
    ])  # fmt: skip
    return 0


def history_main(args: argparse.Namespace, work: Path) -> int:
    """Item: the same one-day run over 30 and over 365 days of history (see --history).

    Two lakes with the same daily volume (--events-per-day), each fully built once; then
    the one-day run of each lake's second-to-last day, alternating between the two,
    --day-repeat times, best of each. Only the history differs: the per-run tables kept
    across dates, the marts the run patches and the visitor tables rebuilt from their
    facts at every run (docs/contract.md, section 5) hold 30 or 365 days."""
    sides: dict[int, tuple[Dbt, str]] = {}
    for days in (30, 365):
        lake = work / f"history-{days}" / "lake"
        events, files = generate_lake(lake, args.events_per_day * days, days)
        dbt = Dbt(work / f"history-{days}", lake)
        end = FIRST_DAY + timedelta(days=days - 1)
        full = dbt.run("run", "--full-refresh", "--vars",
                       f"{{startdate: '{FIRST_DAY}', enddate: '{end}', allow_full_refresh: true}}")  # fmt: skip
        day = end - timedelta(days=1)
        sides[days] = (dbt, f"{{startdate: '{day}', enddate: '{day}'}}")
        print(f"{days} days of history: {events:,} events, {files:,} files; full build "
              f"{full['models']:.2f} s of models; the one-day run rebuilds {day}")  # fmt: skip
    runs: dict[int, list[dict[str, Any]]] = {30: [], 365: []}
    for _ in range(args.day_repeat):
        for days, (dbt, one_day) in sides.items():
            runs[days].append(dbt.run("run", "--vars", one_day))
    best = {days: min(found, key=lambda r: r["models"]) for days, found in runs.items()}
    ratio = best[365]["models"] / best[30]["models"]
    for days, run in best.items():
        print(f"one-day run over {days} days of history, best of {args.day_repeat}: model "
              f"execution {run['models']:.2f} s (start-up apart: {run['startup']:.2f} s)")  # fmt: skip
        print(f"  per model: {per_model(run)}")
    print(f"ratio 365 / 30 days of history: {ratio:.2f} (target <= 1.3)")
    results.record("bench/models.py --history", [
        ("events a day, days of history", f"{args.events_per_day:,}, 30 and 365"),
        ("one-day run over 30 days of history, model execution s", round(best[30]["models"], 2)),
        ("one-day run over 365 days of history, model execution s", round(best[365]["models"], 2)),
        ("ratio 365 / 30 days (target <= 1.3)", round(ratio, 2)),
    ])  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=10_000_000, help="events to generate (at least 5M)"
    )
    parser.add_argument(
        "--days", type=int, default=None, help="days of events (default 30; 7 with --compaction)"
    )
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
    parser.add_argument(
        "--target",
        choices=("local", "trino"),
        default="local",
        help="trino: also run the full build and the one-day run on the local Trino (same lake)",
    )
    parser.add_argument(
        "--compaction", action="store_true",
        help="measure one lake of Kinesis-like batches before and after `weblogs compact` "
        "(--events-per-day x --days events, default 1M x 7) instead of dbt against the floor",
    )  # fmt: skip
    parser.add_argument(
        "--history", action="store_true",
        help="measure the same one-day run over 30 and over 365 days of history "
        "(--events-per-day each day, default 3,000) instead of dbt against the floor",
    )  # fmt: skip
    parser.add_argument(
        "--events-per-day", type=int, default=None,
        help="events a day with --compaction (default 1M) or --history (default 3,000)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-rows", type=int, default=100,
        help="records per Kinesis batch with --compaction (1M/day: ~10,000 objects a day)",
    )  # fmt: skip
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:  # generate_lake's child process: the lake only, counts as JSON
        written = write_lake(args.generate_into, args.events, args.days or 30, args.batch_rows)
        print(json.dumps({"events": written[0], "files": written[1]}))
        return 0
    args.days = args.days or (7 if args.compaction else 30)
    args.events_per_day = args.events_per_day or (3_000 if args.history else 1_000_000)
    work = args.keep or Path(tempfile.mkdtemp(prefix="weblogs-bench-models-", dir=args.dir))
    work.mkdir(parents=True, exist_ok=True)
    lake = work / "lake"
    if lake.exists():
        shutil.rmtree(lake)
    for stale in (
        "profiles", "target", "logs", "one-hour-lake", "bench.duckdb", "floor.duckdb",
        "trino", "dbt-trino", "before.duckdb", "history-30", "history-365",
    ):  # fmt: skip
        path = work / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    try:
        if args.compaction:
            return compaction_main(args, work, lake)
        if args.history:
            return history_main(args, work)
        began = time.perf_counter()
        events, files = generate_lake(lake, args.events, args.days)
        print(f"lake: {events:,} events, {files} files, {args.days} days "
              f"(generated in {time.perf_counter() - began:.1f} s) at {lake}")  # fmt: skip
        start, end = FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1)
        dbt = Dbt(work, lake)
        window = f"{{startdate: '{start}', enddate: '{end}', allow_full_refresh: true}}"

        sql = floor_sql(lake, start, end)
        # The machine is shared: alternate the two sides and keep each one's best run. The
        # floor's connection closes after each run, so its temp tables (GBs at 10M events)
        # do not sit in memory beside the next dbt build.
        fulls, floors = [], []
        for _ in range(args.repeat):
            fulls.append(dbt.run("run", "--full-refresh", "--vars", window))
            with duckdb.connect(str(work / "floor.duckdb")) as floor_con:
                floor_con.execute("set threads = 2")
                floors.append(run_floor(floor_con, sql))
        full = min(fulls, key=lambda r: r["models"])
        floor_steps = min(floors, key=lambda steps: sum(steps.values()))
        floor = sum(floor_steps.values())
        stg = dbt.target / "compiled/weblogs/models/staging/stg_weblogs__events.sql"
        full_scanned, total_files = files_read(stg, lake)
        con = duckdb.connect(str(work / "floor.duckdb"))
        con.execute(f"attach '{dbt.database}' as dbt (read_only)")
        differing = differing_marts(con)
        if differing:
            sys.exit(f"dbt and the hand-written floor disagree on {', '.join(differing)}")
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

        # The scheduled run: one day's arrivals (normal), then the next day's plus late data.
        arrivals = duckdb.connect()
        arrivals.execute("set threads = 2")
        sched_day = day + timedelta(days=2)
        dbt.run("run", "--vars", scheduled_vars(dbt, lake, sched_day)[0])  # watermark: 00:00
        write_arrivals(
            arrivals,
            lake,
            "normal",
            f"cast(event_timestamp as date) = date '{sched_day}'",
            sched_day,
        )
        after = sched_day + timedelta(days=1)
        late_events = add_late_events(arrivals, lake, after)
        write_arrivals(
            arrivals, lake, "late",
            f"(cast(event_timestamp as date) = date '{after}' and event_id not like 'late-%')"
            " or event_id like 'late-%'",
            after,
        )  # fmt: skip
        # Every generated object named by a manifest, so the plan is a day's, not a rebuild
        # of every hour the generator wrote without one (docs/operations.md).
        cover_objects(lake)
        normals, lates = [], []
        log = dbt.database
        for _ in range(args.day_repeat):
            for run_date, runs in ((after, normals), (after + timedelta(days=1), lates)):
                planned, planning = scheduled_vars(dbt, lake, run_date)
                runs.append(dbt.run("run", "--vars", planned))
                runs[-1]["read_days"] = read_days(dbt.target)
                runs[-1]["planning"] = planning
            with duckdb.connect(
                str(log)
            ) as db:  # forget both runs: the next pair counts them again
                db.execute(f"delete from main.weblogs_run_log where run_date > date '{sched_day}'")
        normal = min(normals, key=lambda r: r["models"])
        late = min(lates, key=lambda r: r["models"])
        arrivals.close()

        print()
        print(f"full build ({args.days} days), dbt run of {full['count']} models, "
              f"best of {args.repeat}:")  # fmt: skip
        print(f"  model execution (run_results.json): {full['models']:.2f} s")
        print(f"  dbt start-up and hooks (apart):      {full['startup']:.2f} s")
        print(f"  files read: {full_scanned}/{total_files}")
        print(f"  per model: {per_model(full)}")
        print(f"hand-written DuckDB query (the floor), best of {args.repeat}: {floor:.2f} s")
        print("  per step: " + ", ".join(f"{name} {sec:.2f}" for name, sec in floor_steps.items()))
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
        print(f"scheduled run (run_date), best of {args.day_repeat}:")
        print(f"  normal (one day's arrivals, {sched_day}): {normal['models']:.2f} s, "
              f"{len(normal['read_days'])} event days read: {', '.join(normal['read_days'])}")  # fmt: skip
        print(f"  with late data ({after}'s arrivals + {late_events:,} events, 1% of a day, for 5 older "
              f"dates): {late['models']:.2f} s, {len(late['read_days'])} event days read: "
              f"{', '.join(late['read_days'])}")  # fmt: skip
        print(f"  per model, normal: {per_model(normal)}")
        print(f"  per model, late:   {per_model(late)}")
        print(f"  ratio late / normal: {late['models'] / normal['models']:.2f} (target <= 2.0)")
        print(
            f"  fixed cost of a scheduled run (planning in Python + dbt start-up and hooks): "
            f"normal {normal['planning']:.3f} s + {normal['startup']:.2f} s, "
            f"late {late['planning']:.3f} s + {late['startup']:.2f} s"
        )
        print(f"dbt's fixed cost per run (the same day over one hour of events and the CRM files), "
              f"best of {args.day_repeat}:")  # fmt: skip
        print(f"  model execution: {fixed['models']:.2f} s ({per_model(fixed)})")
        print(
            f"  net of it, one day / full build: {one_day['models'] - fixed['models']:.2f} s / "
            f"{full['models'] - fixed['models']:.2f} s = "
            f"{(one_day['models'] - fixed['models']) / (full['models'] - fixed['models']):.3f}"
        )
        if args.target == "trino":
            on_trino = bench_trino(work, lake, window, one_day_vars, args.repeat, args.day_repeat)
            t_full, t_day = on_trino["full"], on_trino["one_day"]
            print(f"Trino (the Athena SQL, one JVM on this machine), same lake: started with "
                  f"{on_trino['partitions']} partitions registered in {on_trino['started']:.1f} s")  # fmt: skip
            print(f"  full build, best of {args.repeat}: model execution {t_full['models']:.2f} s "
                  f"(start-up apart: {t_full['startup']:.2f} s), "
                  f"{t_full['models'] / full['models']:.2f}x DuckDB's {full['models']:.2f} s")  # fmt: skip
            print(f"  per model: {per_model(t_full)}")
            print(f"  one-day run ({day}), best of {args.day_repeat}: model execution "
                  f"{t_day['models']:.2f} s, {t_day['models'] / one_day['models']:.2f}x DuckDB's "
                  f"{one_day['models']:.2f} s; one day / full build "
                  f"{t_day['models'] / t_full['models']:.3f}")  # fmt: skip
            print(f"  per model: {per_model(t_day)}")
            print(f"  rows of events read by the one-day staging query: {on_trino['rows_read']:,} "
                  f"of {on_trino['rows_total']:,}")  # fmt: skip
        figures: list[tuple[str, object]] = [
            ("lake: events, files, days", f"{events:,}, {files:,}, {args.days}"),
            ("full build, model execution s", round(full["models"], 2)),
            ("hand-written DuckDB query (the floor) s", round(floor, 2)),
            ("ratio dbt models / floor (target <= 2)", round(full["models"] / floor, 2)),
            ("one-day run, model execution s", round(one_day["models"], 2)),
            ("ratio one day / full build (target < 0.10)", round(one_day["models"] / full["models"], 3)),
            ("one-day run: files read", f"{day_scanned}/{total_files}"),
            ("ratio late / normal scheduled run (target <= 2)", round(late["models"] / normal["models"], 2)),
            ("dbt's fixed cost per run, model execution s", round(fixed["models"], 2)),
        ]  # fmt: skip
        if args.target == "trino":
            figures.append(
                ("Trino full build / DuckDB's", round(t_full["models"] / full["models"], 2))
            )
        results.record(f"bench/models.py (--target {args.target})", figures)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
