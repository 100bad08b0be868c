{#-
    One row per `page_view` event of a session whose `session_date` is a
    session date of the window, with its `page_path`, whether it is the
    session's first (entrance) or last (exit) page view, and the
    milliseconds to the next event of its session, any type (null for the
    session's last event). Ephemeral, like the sessions.
-#}
with

session_events as (

    select * from {{ weblogs.run_relation('int_session_events') }}

),

views as (

    select
        session_id,
        session_start_at,
        page_url,
        event_order,
        event_timestamp,
        next_timestamp,
        {{ weblogs.touched_flag() }} as in_touched_session,
        min(event_order) over (partition by session_id, session_start_at) as first_view_order,
        max(event_order) over (partition by session_id, session_start_at) as last_view_order
    from session_events
    where in_session and event_type = 'page_view'

),

final as (

    select
        session_id,
        cast(session_start_at as date) as session_date,
        {{ weblogs.url_page_path('page_url') }} as page_path,
        event_order = first_view_order as is_entrance,
        event_order = last_view_order as is_exit,
        date_diff('millisecond', event_timestamp, next_timestamp) as milliseconds_on_page
    from views
    where {{ weblogs.in_rebuilt('cast(session_start_at as date)', 'in_touched_session') }}

)

select * from final
