{#- Incremental by session_date (macros/cross_db/materialization.sql). -#}
{{ config(**weblogs.range_incremental_config('session_date', by_session=true)) }}

{#-
    One row per session; a run replaces the session dates of its window, and
    on the patched (late) dates of a scheduled run only the touched sessions
    (weblogs.rebuilt_sessions; docs/analytics.md, Late data). Its URL and
    path columns are redacted here, at the output (weblogs.redact_url,
    docs/contract.md section 7).
-#}
-- The pre-hook reads the run's touched sessions (weblogs.clear_run_window):
-- depends_on: {{ ref('int_run_session_events') }}
with

sessions as (

    select * from {{ weblogs.rebuilt_sessions() }}

),

final as (

    select
        session_id,
        user_id,
        device_type,
        browser,
        session_date,
        session_start,
        session_end,
        session_duration_seconds,
        total_events,
        unique_pages,
        page_views,
        entry_event_type,
        {{ weblogs.redact_url('entry_page') }} as entry_page,
        exit_event_type,
        {{ weblogs.redact_url('exit_page') }} as exit_page,
        is_bounce,
        engagement_score,
        loyalty_interactions,
        {{ weblogs.redact_url('landing_page_path') }} as landing_page_path,
        referrer_host,
        utm_source,
        utm_medium,
        utm_campaign,
        channel,
        reached_add_to_cart,
        reached_checkout,
        converted,
        purchases,
        os,
        country,
        revenue,
        client_id,
        visitor_key
    from sessions

)

select
    {{ weblogs.partitioned_select_list([
        'session_id', 'user_id', 'device_type', 'browser', 'session_date',
        'session_start', 'session_end', 'session_duration_seconds', 'total_events',
        'unique_pages', 'page_views', 'entry_event_type', 'entry_page',
        'exit_event_type', 'exit_page', 'is_bounce', 'engagement_score',
        'loyalty_interactions', 'landing_page_path', 'referrer_host', 'utm_source', 'utm_medium',
        'utm_campaign', 'channel', 'reached_add_to_cart', 'reached_checkout', 'converted', 'purchases',
        'os', 'country', 'revenue', 'client_id', 'visitor_key',
    ], 'session_date') }}
from final
