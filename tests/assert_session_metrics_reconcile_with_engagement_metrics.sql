{#-
    Every session_metrics row is the aggregate of its engagement_metrics sessions
    (all dates). The mean is compared rounded to rounded, by the rounding
    rule (macros/sql/rounding.sql), so a mean that lands exactly on a half cent (65 / 8 = 8.125) matches.
-#}
with

engagement as (

    select * from {{ ref('engagement_metrics') }}

),

session_metrics as (

    select * from {{ ref('session_metrics') }}

),

recomputed as (

    select
        session_date,
        device_type,
        browser,
        count(*) as sessions,
        count(distinct user_id) as users,
        {{ weblogs.exact_round2('sum(total_events)', 'count(*)') }} as avg_events_per_session
    from engagement
    group by session_date, device_type, browser

),

final as (

    select
        coalesce(recomputed.session_date, session_metrics.session_date) as session_date,
        coalesce(recomputed.device_type, session_metrics.device_type) as device_type,
        coalesce(recomputed.browser, session_metrics.browser) as browser,
        recomputed.sessions as engagement_sessions,
        session_metrics.sessions as metric_sessions
    from recomputed
    full outer join session_metrics
        on
            recomputed.session_date = session_metrics.session_date
            and recomputed.device_type = session_metrics.device_type
            and recomputed.browser = session_metrics.browser
    where
        recomputed.sessions is null
        or session_metrics.sessions is null
        or recomputed.sessions <> session_metrics.sessions
        or recomputed.users <> session_metrics.users
        or recomputed.avg_events_per_session <> session_metrics.avg_events_per_session

)

select * from final
