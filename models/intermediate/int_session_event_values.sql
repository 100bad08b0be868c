{#-
    One row per session of the window and per (event_type, page_path) of its
    events (page_path: the section-4 page_path of a `page_view`, null for the
    other types), with how many events and the exact sum of their `value`s
    (weblogs.money_value; null values add nothing). What goal_metrics needs to
    count any list of goals (var `conversion_goals`) without re-reading the
    events: it does not depend on the goals. Ephemeral, like the sessions.
-#}
with

session_events as (

    select * from {{ weblogs.run_relation('int_session_events') }}

),

events as (

    select
        session_id,
        session_start_at,
        event_type,
        case
            when event_type = 'page_view' then {{ weblogs.url_page_path('page_url') }}
        end as page_path,
        {{ weblogs.money_value('value') }} as event_value,
        {{ weblogs.touched_flag() }} as in_touched_session
    from session_events
    where in_session

),

final as (

    select
        session_id,
        cast(session_start_at as date) as session_date,
        event_type,
        page_path,
        count(*) as events,
        sum(event_value) as event_value
    from events
    where {{ weblogs.in_rebuilt('cast(session_start_at as date)', 'in_touched_session') }}
    group by session_id, session_start_at, event_type, page_path

)

select * from final
