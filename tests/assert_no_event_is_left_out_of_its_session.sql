{{ config(severity='warn') }}

{#-
    Warns about the events the session rule left out (a session_id kept alive
    for 24 hours or more): they are in session_anomalies, not in the marts.
-#}
with

anomalies as (

    select * from {{ ref('session_anomalies') }}
    where
        {{ weblogs.in_window('report_date') }}
        and rule = 'event_more_than_24_hours_after_its_session_start'

),

final as (

    select
        report_date,
        session_id,
        count(*) as excluded_events
    from anomalies
    group by report_date, session_id

)

select * from final
