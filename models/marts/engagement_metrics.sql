{{
    config(
        materialized='incremental',
        incremental_strategy=weblogs.range_incremental_strategy(),
        unique_key='session_date',
        partitioned_by=weblogs.date_partitioning('session_date'),
        properties=weblogs.table_properties('session_date'),
        on_schema_change='fail',
        pre_hook="{{ weblogs.clear_run_window(this) }}",
        persist_docs=weblogs.persist_docs_config(),
    )
}}

{#- One row per session; a run replaces the session dates of its window. -#}
with

sessions as (

    select * from {{ ref('int_sessions') }}

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
        entry_page,
        exit_event_type,
        exit_page,
        is_bounce,
        engagement_score,
        loyalty_interactions
    from sessions

)

select
    {{ weblogs.partitioned_select_list([
        'session_id', 'user_id', 'device_type', 'browser', 'session_date',
        'session_start', 'session_end', 'session_duration_seconds', 'total_events',
        'unique_pages', 'page_views', 'entry_event_type', 'entry_page',
        'exit_event_type', 'exit_page', 'is_bounce', 'engagement_score',
        'loyalty_interactions',
    ], 'session_date') }}
from final
