{#-
    One row per session whose session_date (UTC date of its first event) is a
    session date of the window, with every per-session rule of
    docs/analytics.md. Ephemeral: each model that needs sessions computes them
    from the events of its own run, never from a table an earlier run left.
-#}
with

session_events as (

    select * from {{ weblogs.run_relation('int_session_events') }}

),

events as (

    select * from session_events
    where in_session

),

sessions as (

    select
        session_id,
        {{ weblogs.value_at_last('user_id', when='not is_anonymous_user') }} as last_known_user_id,
        {{ weblogs.values_at_first(['device_type', 'browser', 'event_type', 'page_url']) }}
            as first_event,
        {{ weblogs.values_at_last(['user_id', 'event_type', 'page_url']) }} as last_event,
        min(case when is_anonymous_user then 1 else 0 end) = 1 as is_anonymous_session,
        min(event_timestamp) as session_start,
        max(event_timestamp) as session_end,
        count(*) as total_events,
        count(distinct page_url) as unique_pages,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(
            case
                when event_type in {{ weblogs.sql_string_list(weblogs.validated_event_types()) }}
                    then 1
                else 0
            end
        ) as loyalty_interactions
    from events
    group by session_id, session_start_at

),

measured as (

    select
        session_id,
        last_known_user_id,
        last_event.user_id as last_user_id,
        is_anonymous_session,
        first_event.device_type,
        first_event.browser,
        session_start,
        session_end,
        total_events,
        unique_pages,
        page_views,
        first_event.event_type as entry_event_type,
        first_event.page_url as entry_page,
        last_event.event_type as exit_event_type,
        last_event.page_url as exit_page,
        loyalty_interactions,
        cast(session_start as date) as session_date,
        -- date_diff(unit, start, end) is the same function on DuckDB and Trino.
        cast(date_diff('millisecond', session_start, session_end) as double) / 1000
            as session_duration_seconds
    from sessions

),

final as (

    select
        session_id,
        coalesce(last_known_user_id, last_user_id) as user_id,
        is_anonymous_session,
        device_type,
        browser,
        session_date,
        session_start,
        session_end,
        session_duration_seconds,
        total_events,
        unique_pages,
        page_views,
        entry_event_type,
        entry_page,
        exit_event_type,
        exit_page,
        total_events = 1 as is_bounce,
        round(
            100 * (
                {{ weblogs.number_literal('engagement_weight_duration') }}
                * least(
                    session_duration_seconds
                    / {{ weblogs.number_literal('engagement_cap_duration_seconds') }},
                    1.0
                )
                + {{ weblogs.number_literal('engagement_weight_events') }}
                * least(
                    cast(total_events as double)
                    / {{ weblogs.number_literal('engagement_cap_events') }},
                    1.0
                )
                + {{ weblogs.number_literal('engagement_weight_pages') }}
                * least(
                    cast(unique_pages as double)
                    / {{ weblogs.number_literal('engagement_cap_pages') }},
                    1.0
                )
            ),
            2
        ) as engagement_score,
        loyalty_interactions
    from measured
    where {{ weblogs.in_window('session_date') }}

)

select * from final
