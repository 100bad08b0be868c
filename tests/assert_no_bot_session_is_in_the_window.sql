{{ config(severity='warn') }}

{#-
    Warns about the bot sessions of the window (a browser containing one of
    bot_browser_patterns, docs/contract.md section 7): their events are in
    session_anomalies with the rule bot_browser, not in the marts.
-#}
with

anomalies as (

    select * from {{ ref('session_anomalies') }}
    where
        {{ weblogs.in_window('report_date') }}
        and rule = 'bot_browser'

),

final as (

    select
        report_date,
        session_id,
        count(*) as bot_events
    from anomalies
    group by report_date, session_id

)

select * from final
