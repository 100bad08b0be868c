{#-
    Persisted per-day fact of visitors (docs/contract.md, section 5): one row per
    session_date and visitor_key, incremental by session_date like the date-level
    marts (a run replaces its window's dates, from the run's sessions; on a
    patched late date from every persisted session of the date). `users`,
    `daily_visitors` and `retention_cohorts` are derived from this table and
    `int_client_logins`, never from the events (docs/analytics.md, Visitors).
-#}
{{ config(**weblogs.range_incremental_config('session_date')) }}

with

sessions as (

    select * from {{ weblogs.run_sessions() }}

),

keyed as (

    select
        *,
        -- Only a `c:` key can be stitched to a user (identity_map): keep its client.
        case when visitor_key like 'c:%' then client_id end as stitch_client_id,
        {{ weblogs.session_order_key('session_start', 'session_id') }} as visit_order
    from sessions

),

aggregated as (

    select
        session_date,
        visitor_key,
        stitch_client_id,
        count(*) as sessions,
        cast(sum(page_views) as bigint) as page_views,
        cast(sum(total_events) as bigint) as total_events,
        count(case when converted then 1 end) as converted_sessions,
        cast(sum(purchases) as bigint) as purchases,
        sum(revenue) as revenue,
        cast(sum({{ weblogs.in_units('engagement_score', 100) }}) as bigint)
            as engagement_score_hundredths,
        min(session_start) as first_session_start,
        min_by(
            {{ weblogs.text_record(['session_id', 'channel', 'landing_page_path']) }}, visit_order
        ) as first_visit,
        max(session_start) as last_session_start,
        max_by({{ weblogs.text_record(['session_id', 'channel']) }}, visit_order) as last_visit,
        max(session_end) as last_session_end
    from keyed
    group by session_date, visitor_key, stitch_client_id

),

final as (

    select
        session_date,
        visitor_key,
        stitch_client_id,
        sessions,
        page_views,
        total_events,
        converted_sessions,
        purchases,
        revenue,
        engagement_score_hundredths,
        first_session_start,
        first_visit.session_id as first_session_id,
        first_visit.channel as first_channel,
        first_visit.landing_page_path as first_landing_page_path,
        last_session_start,
        last_visit.session_id as last_session_id,
        last_visit.channel as last_channel,
        last_session_end
    from aggregated

)

select
    {{ weblogs.partitioned_select_list([
        'session_date', 'visitor_key', 'stitch_client_id', 'sessions', 'page_views',
        'total_events', 'converted_sessions', 'purchases', 'revenue', 'engagement_score_hundredths',
        'first_session_start', 'first_session_id', 'first_channel', 'first_landing_page_path',
        'last_session_start', 'last_session_id', 'last_channel', 'last_session_end',
    ], 'session_date') }}
from final
