{#- Incremental by session_date (macros/cross_db/materialization.sql). -#}
{{ config(**weblogs.range_incremental_config('session_date')) }}

{#- One row per session_date, device_type, browser; a run replaces the dates of its window. -#}
with

sessions as (

    select * from {{ weblogs.run_sessions() }}

),

aggregated as (

    select
        session_date,
        device_type,
        browser,
        count(*) as sessions,
        count(distinct user_id) as users,
        {{ weblogs.exact_round2('100 * sum(case when is_bounce then 1 else 0 end)', 'count(*)') }}
            as bounce_rate_pct,
        {{ weblogs.exact_round2(
            'sum(' ~ weblogs.in_units('session_duration_seconds', 1000) ~ ')', '1000 * count(*)'
        ) }} as avg_session_duration_seconds,
        {{ weblogs.exact_round2('sum(total_events)', 'count(*)') }} as avg_events_per_session,
        {{ weblogs.exact_round2('sum(unique_pages)', 'count(*)') }} as avg_unique_pages,
        {{ weblogs.exact_round2(
            'sum(' ~ weblogs.in_units('engagement_score', 100) ~ ')', '100 * count(*)'
        ) }} as avg_engagement_score
    from sessions
    group by session_date, device_type, browser

),

final as (

    select * from aggregated

)

select
    {{ weblogs.partitioned_select_list([
        'session_date', 'device_type', 'browser', 'sessions', 'users', 'bounce_rate_pct',
        'avg_session_duration_seconds', 'avg_events_per_session', 'avg_unique_pages',
        'avg_engagement_score',
    ], 'session_date') }}
from final
