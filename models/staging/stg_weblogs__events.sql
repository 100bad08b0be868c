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

with

source as (

    select * from {{ weblogs.event_files(source('weblogs', 'events')) }}
    where {{ weblogs.event_partition_filter() }}

),

{%- if weblogs.run_window().patch_dates %}

arrived as (

    -- The rows that arrived in this run (a superset), in the hours the arrivals named.
    select event_id from source
    where {{ weblogs.arrived_in_run() }}

),

touched as (

    -- Sessions holding a copy of an arrived event_id.
    select distinct session_id from source
    where event_id in (select arrived.event_id from arrived)

),

touched_copies as (

    -- Every event_id of those sessions, so their copies elsewhere take part in deduplication.
    select distinct event_id from source
    where session_id in (select touched.session_id from touched)

),

kept as (

    -- Days of whole-rebuilt dates: every row; the other days: the touched sessions' rows.
    select * from source
    where
        {{ weblogs.day_partition_filter(weblogs.run_window().full_read_dates) }}
        or session_id in (select touched.session_id from touched)
        or event_id in (select touched_copies.event_id from touched_copies)

),
{%- endif %}

{#- ranked: copy_rank 1 is the earliest ingested copy of each event_id (weblogs.ranked_copies). #}
{{ weblogs.ranked_copies(
    'ranked',
    'kept' if weblogs.run_window().patch_dates else 'source',
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
            if weblogs.run_window().patch_dates else 'false' }} as in_touched_session,
        cast(client_id as varchar) as client_id,
        cast(value as decimal(38, 18)) as value
    from ranked
    where copy_rank = 1

)

select * from final
