{#-
    Every event the run read, with the session it belongs to (docs/analytics.md,
    Sessions). Within one session_id, in session order, an event starts a
    session when no event of that session_id is in the 24 hours before it; a
    session is its start and the events of that session_id less than 24 hours
    after it. An event in no session (a session_id kept alive for 24 hours or
    more) is `in_session = false`: left out of the marts, kept in
    session_anomalies. So are the events of a bot session (its first event's
    browser contains one of `bot_browser_patterns`, docs/contract.md section 7):
    `is_bot_session`, `in_session = false`, so every model reading sessions
    leaves them out without a rule of its own. The 24 hours before a session date's first event and the
    24 hours after it are inside the days the run reads, so every session of
    the window, and every excluded event of the day after a window date, is
    decided from what the run reads. `event_order` numbers the events of a
    session_id in session order (the conversion funnel compares positions),
    `next_timestamp` is the time of the next event of the same session (time
    on page). `in_touched_session`: see stg_weblogs__events; readers keep a
    patched session date's rows only for touched sessions (`weblogs.in_rebuilt`).
-#}
{%- set full_dates = weblogs.run_window().full_dates %}
{#- The 24-hour rule (docs/contract.md, Sessions), in the milliseconds date_diff counts. -#}
{%- set session_ms = 24 * 60 * 60 * 1000 %}
with

events as (

    select * from {{ ref('stg_weblogs__events') }}

),

ordered as (

    -- One sort of the read days' events by session_id and session order for
    -- everything this step needs. Only session_ids with an event dated on a session
    -- date of the window can have a session of the window or an excluded event the
    -- run reports (`in_window_session`, kept below); on a patched (late) session
    -- date only the touched sessions are recomputed. A window function is computed
    -- per session_id, so the previous and next event and the order of the kept
    -- session_ids are the same as when they are computed after that filter. One
    -- chain of CTEs, each read once: Trino inlines a CTE wherever it is read, so a
    -- second reader would scan the events' partitions again.
    select
        *,
        max(
            case
                when
                    {{ weblogs.in_days('cast(event_timestamp as date)', full_dates) }}
                    or {{ weblogs.touched_flag() }}
                    then 1
                else 0
            end
        ) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
            rows between unbounded preceding and unbounded following
        ) as in_window_session,
        lag(event_timestamp) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
        ) as previous_timestamp,
        lead(event_timestamp) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
        ) as next_timestamp,
        row_number() over (
            partition by session_id
            order by event_timestamp asc, event_id asc
        ) as event_order,
        -- The checkouts up to this event: int_sessions compares them at the first
        -- add_to_cart and at the purchases (conversions in session order). A count is
        -- a bigint on every engine (a sum is an int128 on DuckDB, slower to aggregate).
        count(case when event_type = 'checkout' then 1 end) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
            rows between unbounded preceding and current row
        ) as checkout_count,
        -- The session_id's first and last event: when they are less than 24 hours
        -- apart, the session_id is one session, started at its first event
        -- (weblogs.assigned_sessions needs no second sort for it).
        first_value(event_timestamp) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
            rows between unbounded preceding and unbounded following
        ) as first_timestamp,
        last_value(event_timestamp) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
            rows between unbounded preceding and unbounded following
        ) as last_timestamp,
        first_value(browser) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
            rows between unbounded preceding and unbounded following
        ) as first_browser
    from events

),

starts as (

    select
        *,
        case
            when
                previous_timestamp is null
                or date_diff('millisecond', previous_timestamp, event_timestamp) > {{ session_ms }}
                then event_timestamp
        end as start_candidate,
        coalesce(
            date_diff('millisecond', first_timestamp, last_timestamp) < {{ session_ms }}, false
        ) as is_single_session
    from ordered
    where in_window_session = 1

),

{#-
    assigned: a session starts at the latest start up to the event, and its browser
    (section 3: from its first event) is the browser at that start, which decides
    whether it is a bot session (docs/contract.md, section 7): session_start_at and
    session_browser (weblogs.assigned_sessions, by engine).
#}
{{ weblogs.assigned_sessions('assigned', 'starts') }}

final as (

    select
        event_id,
        session_id,
        user_id,
        is_anonymous_user,
        event_type,
        page_url,
        referrer,
        event_timestamp,
        device_type,
        browser,
        session_start_at,
        event_order,
        checkout_count,
        -- The next event of the same session (one less than 24 hours after its start), else null.
        case
            when date_diff('millisecond', session_start_at, next_timestamp) < {{ session_ms }}
                then next_timestamp
        end as next_timestamp,
        coalesce(
            date_diff('millisecond', session_start_at, event_timestamp) < {{ session_ms }}, false
        ) and not {{ weblogs.is_bot_browser('session_browser') }} as in_session,
        {{ weblogs.touched_flag() }} as in_touched_session,
        coalesce(
            date_diff('millisecond', session_start_at, event_timestamp) < {{ session_ms }}, false
        ) and {{ weblogs.is_bot_browser('session_browser') }} as is_bot_session,
        os,
        country,
        value,
        client_id
    from assigned

)

select * from final
