{#-
    Every event the run read, with the session it belongs to (docs/analytics.md,
    Sessions). Within one session_id, in session order, an event starts a
    session when no event of that session_id is in the 24 hours before it; a
    session is its start and the events of that session_id less than 24 hours
    after it. An event in no session (a session_id kept alive for 24 hours or
    more) is `in_session = false`: left out of the marts, kept in
    session_anomalies. The 24 hours before a session date's first event and the
    24 hours after it are inside the days the run reads, so every session of
    the window, and every excluded event of the day after a window date, is
    decided from what the run reads.
-#}
with

events as (

    select * from {{ ref('stg_weblogs__events') }}

),

spans as (

    -- A session_id whose events all lie within 24 hours is one session from its
    -- first event: only the others need the event-by-event rule below.
    -- Only session_ids with an event dated on a session date of the window can
    -- have a session of the window or an excluded event the run reports.
    select
        session_id,
        min(event_timestamp) as first_timestamp,
        date_diff('millisecond', min(event_timestamp), max(event_timestamp)) >= 86400000
            as is_long
    from events
    group by session_id
    having
        max(case when {{ weblogs.in_window('cast(event_timestamp as date)') }} then 1 else 0 end)
        = 1

),

spanned as (

    select
        events.*,
        spans.first_timestamp,
        spans.is_long
    from events
    inner join spans
        on events.session_id = spans.session_id

),

long_span_events as (

    select * from spanned
    where is_long

),

ordered as (

    select
        *,
        lag(event_timestamp) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
        ) as previous_timestamp
    from long_span_events

),

starts as (

    select
        *,
        case
            when
                previous_timestamp is null
                or date_diff('millisecond', previous_timestamp, event_timestamp) > 86400000
                then event_timestamp
        end as start_candidate
    from ordered

),

assigned as (

    select
        *,
        max(start_candidate) over (
            partition by session_id
            order by event_timestamp asc, event_id asc
            rows between unbounded preceding and current row
        ) as session_start_at
    from starts

),

long_span_assigned as (

    select
        event_id,
        session_id,
        user_id,
        is_anonymous_user,
        event_type,
        page_url,
        event_timestamp,
        device_type,
        browser,
        session_start_at,
        coalesce(
            date_diff('millisecond', session_start_at, event_timestamp) < 86400000, false
        ) as in_session
    from assigned

),

final as (

    select
        event_id,
        session_id,
        user_id,
        is_anonymous_user,
        event_type,
        page_url,
        event_timestamp,
        device_type,
        browser,
        first_timestamp as session_start_at,
        true as in_session
    from spanned
    where not is_long
    union all
    select * from long_span_assigned

)

select * from final
