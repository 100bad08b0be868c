{#-
    The events of the run: read from the partitions of the days the run reads
    (each session date of the window and one day either side), one row per
    event_id (the earliest ingested copy wins). The partition
    predicate sits directly on the source so both engines prune partitions
    before reading a file.

    `in_touched_session` (scheduled runs with patched late dates only, else
    false): the session_id holds a copy of an event_id one of whose copies
    arrived in this run, so its sessions are recomputed (docs/analytics.md,
    Late data). Decided before deduplication: a late copy that wins over an
    earlier one of another session_id touches both sessions. On such runs the
    days read only for patched dates keep just the touched sessions' rows
    and the other copies of their event_ids (deduplication still sees every
    copy), so the window functions never run over those days' other events.
-#}
{{ config(materialized='ephemeral') }}
{%- set window = weblogs.run_window() %}
{%- set events = source('weblogs', 'events') %}
{%- set source_days = window.full_read_dates if window.patch_dates else none %}
{%- set source_filter = weblogs.day_partition_filter(window.full_read_dates) if window.patch_dates
    else weblogs.event_partition_filter() %}
{%- if window.patch_dates %}
    {#- The late-data path: see `patch_days` below. -#}
    {%- set patch_only_days = window.read_dates | reject('in', window.full_read_dates) | list %}
    {%- set arrived_days = window.new_rows | map(attribute='event_date') | unique | sort | list %}
    {#- The source's columns, by name: both parts of `kept` list the same ones. -#}
    {%- set columns = [
        'event_id', 'session_id', 'user_id', 'is_anonymous_user', 'event_type', 'page_url',
        'referrer', 'event_timestamp', 'device_type', 'browser', 'os', 'country',
        'extra_attributes', 'ingested_at', 'year', 'month', 'day', 'hour', 'client_id', 'value',
    ] %}
{%- endif %}

with

source as (

    {#- On a patched run, the days of whole-rebuilt dates only (every row is kept). #}
    select * from {{ weblogs.event_files(events, source_days) }}
    where {{ source_filter }}

),

{%- if window.patch_dates %}

patch_days as (

    -- The days read only for patched (late) dates: of these, only the touched sessions'
    -- rows and the other copies of their event_ids are kept. Read once, by `kept`, so
    -- the engine filters them as it scans instead of holding every column of every
    -- row first; the narrow reads below decide which rows.
    select * from {{ weblogs.event_files(events, patch_only_days) }}
    where {{ weblogs.day_partition_filter(patch_only_days) }}

),

read_ids as (

    -- Two columns of every day the run reads (whole-rebuilt and patched alike), for the
    -- touched sessions: one narrow scan, held for the two steps below, not the rows.
    select
        event_id,
        session_id
    from {{ weblogs.event_files(events) }}
    where {{ weblogs.event_partition_filter() }}

),

arrived as (

    -- The rows that arrived in this run (a superset), in the hours the arrivals named:
    -- only those hours' files are opened.
    select event_id from {{ weblogs.event_files(events, arrived_days) }}
    where {{ weblogs.arrived_hours_filter() }} and {{ weblogs.arrived_in_run() }}

),

touched as (

    -- Sessions holding a copy of an arrived event_id.
    select distinct session_id from read_ids
    where event_id in (select arrived.event_id from arrived)

),

touched_copies as (

    -- Every event_id of those sessions, so their copies elsewhere take part in deduplication.
    select distinct event_id from read_ids
    where session_id in (select touched.session_id from touched)

),

kept as (

    -- Days of whole-rebuilt dates: every row; the other days: the touched sessions' rows
    -- and the other copies of their event_ids. A touched session's row has its event_id
    -- in touched_copies, so one semi-join on event_id keeps both, and the engine can
    -- apply it while it scans (DuckDB pushes the join's filter into the Parquet read).
    select {{ columns | join(', ') }} from source
    union all
    select {{ columns | join(', ') }} from patch_days
    where event_id in (select touched_copies.event_id from touched_copies)

),
{%- endif %}

{#- ranked: copy_rank 1 is the earliest ingested copy of each event_id (weblogs.ranked_copies). #}
{{ weblogs.ranked_copies(
    'ranked',
    'kept' if window.patch_dates else 'source',
    'event_id',
    [
        'ingested_at asc', 'event_timestamp asc', 'session_id asc', 'user_id asc',
        'event_type asc', 'page_url asc',
    ],
) }}

final as (

    select
        cast(event_id as varchar) as event_id,
        cast(session_id as varchar) as session_id,
        cast(user_id as varchar) as user_id,
        cast(is_anonymous_user as boolean) as is_anonymous_user,
        lower(trim(event_type)) as event_type,
        cast(page_url as varchar) as page_url,
        cast(referrer as varchar) as referrer,
        cast(event_timestamp as timestamp) as event_timestamp,
        coalesce(nullif(lower(trim(device_type)), ''), 'unknown') as device_type,
        coalesce(nullif(lower(trim(browser)), ''), 'unknown') as browser,
        cast(os as varchar) as os,
        cast(country as varchar) as country,
        cast(extra_attributes as varchar) as extra_attributes,
        cast(ingested_at as timestamp) as ingested_at,
        cast(year as varchar) as partition_year,
        cast(month as varchar) as partition_month,
        cast(day as varchar) as partition_day,
        cast(hour as varchar) as partition_hour,
        {{ 'ranked.session_id in (select touched.session_id from touched)'
            if window.patch_dates else 'false' }} as in_touched_session,
        cast(client_id as varchar) as client_id,
        cast(value as decimal(38, 18)) as value
    from ranked
    where copy_rank = 1

)

select * from final
