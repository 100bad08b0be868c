{#- Incremental by session_date (macros/cross_db/materialization.sql). -#}
{{ config(**weblogs.range_incremental_config('session_date')) }}

{#- One row per session_date, page_path with a page view; a run replaces its window's dates. -#}
with

page_views as (

    select * from {{ weblogs.run_relation('int_page_views') }}

),

redacted as (

    -- Secrets in the kept query are redacted at the mart (docs/contract.md, section 7),
    -- before grouping: paths that differ only in a secret are one row.
    select
        session_date,
        session_id,
        {{ weblogs.redact_url('page_path') }} as page_path,
        is_entrance,
        is_exit,
        milliseconds_on_page
    from page_views

),

aggregated as (

    select
        session_date,
        page_path,
        count(*) as page_views,
        count(distinct session_id) as sessions,
        count(case when is_entrance then 1 end) as entrances,
        count(case when is_exit then 1 end) as exits,
        {{ weblogs.exact_round2('100 * sum(case when is_exit then 1 else 0 end)', 'count(*)') }}
            as exit_rate_pct,
        case
            when count(milliseconds_on_page) > 0
                then {{ weblogs.exact_round2(
                    'sum(milliseconds_on_page)', '1000 * count(milliseconds_on_page)'
                ) }}
        end as avg_time_on_page_seconds,
        -- The mean's parts, so a mean over any range of dates is exact
        -- (docs/decisions.md, Dashboards and metrics).
        count(milliseconds_on_page) as timed_page_views,
        cast(coalesce(sum(milliseconds_on_page), 0) as bigint) as time_on_page_milliseconds
    from redacted
    group by session_date, page_path

),

final as (

    select * from aggregated

)

select
    {{ weblogs.partitioned_select_list([
        'session_date', 'page_path', 'page_views', 'sessions', 'entrances', 'exits',
        'exit_rate_pct', 'avg_time_on_page_seconds', 'timed_page_views',
        'time_on_page_milliseconds',
    ], 'session_date') }}
from final
