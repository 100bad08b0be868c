{#- Incremental by session_date (macros/cross_db/materialization.sql). -#}
{{ config(**weblogs.range_incremental_config('session_date')) }}

{#- One row per session_date, channel; a run replaces the dates of its window. -#}
with

sessions as (

    select * from {{ weblogs.run_sessions() }}

),

aggregated as (

    select
        session_date,
        channel,
        count(*) as sessions,
        count(distinct user_id) as users,
        {{ weblogs.exact_round2('100 * sum(case when is_bounce then 1 else 0 end)', 'count(*)') }}
            as bounce_rate_pct,
        {{ weblogs.exact_round2(
            'sum(' ~ weblogs.in_units('engagement_score', 100) ~ ')', '100 * count(*)'
        ) }} as avg_engagement_score,
        count(case when reached_add_to_cart then 1 end) as add_to_cart_sessions,
        count(case when reached_checkout then 1 end) as checkout_sessions,
        count(case when converted then 1 end) as converted_sessions,
        {{ weblogs.exact_round2('100 * sum(case when converted then 1 else 0 end)', 'count(*)') }}
            as conversion_rate_pct,
        cast(sum(purchases) as bigint) as purchases,
        {{ weblogs.money_sum('revenue') }} as revenue
    from sessions
    group by session_date, channel

),

final as (

    select * from aggregated

)

select
    {{ weblogs.partitioned_select_list([
        'session_date', 'channel', 'sessions', 'users', 'bounce_rate_pct', 'avg_engagement_score',
        'add_to_cart_sessions', 'checkout_sessions', 'converted_sessions', 'conversion_rate_pct',
        'purchases', 'revenue',
    ], 'session_date') }}
from final
