{#- Incremental by session_date (macros/cross_db/materialization.sql). -#}
{{ config(**weblogs.range_incremental_config('session_date')) }}

{#- One row per session_date, device_type, os, country; a run replaces the dates of its window. -#}
with

sessions as (

    select * from {{ weblogs.run_sessions() }}

),

aggregated as (

    select
        session_date,
        device_type,
        os,
        country,
        count(*) as sessions,
        count(distinct user_id) as users,
        {{ weblogs.exact_round2('100 * sum(case when is_bounce then 1 else 0 end)', 'count(*)') }}
            as bounce_rate_pct,
        {{ weblogs.exact_round2(
            'sum(' ~ weblogs.in_units('session_duration_seconds', 1000) ~ ')', '1000 * count(*)'
        ) }} as avg_session_duration_seconds,
        count(case when converted then 1 end) as converted_sessions,
        {{ weblogs.exact_round2('100 * sum(case when converted then 1 else 0 end)', 'count(*)') }}
            as conversion_rate_pct,
        {{ weblogs.money_sum('revenue') }} as revenue
    from sessions
    group by session_date, device_type, os, country

),

final as (

    select * from aggregated

)

select
    {{ weblogs.partitioned_select_list([
        'session_date', 'device_type', 'os', 'country', 'sessions', 'users', 'bounce_rate_pct',
        'avg_session_duration_seconds', 'converted_sessions', 'conversion_rate_pct', 'revenue',
    ], 'session_date') }}
from final
