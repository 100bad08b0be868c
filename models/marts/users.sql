{{ config(persist_docs=weblogs.persist_docs_config()) }}

{#-
    One row per visitor_id over every session the marts hold (docs/contract.md,
    section 5), derived from the per-day facts, never from the events.
-#}
with

visitor_days as (

    select * from {{ ref('int_stitched_visitor_days') }}

),

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

crm_tiers as (

    -- One tier per user id (a duplicated CRM user id is reported by its own test).
    select
        user_id,
        min(loyalty_tier) as loyalty_tier
    from customers
    group by user_id

),

aggregated as (

    select
        visitor_id,
        min(session_date) as first_session_date,
        max(session_date) as last_session_date,
        min(first_session_start) as first_seen_at,
        max(last_session_end) as last_seen_at,
        cast(sum(sessions) as bigint) as sessions,
        count(distinct session_date) as active_days,
        cast(sum(page_views) as bigint) as page_views,
        cast(sum(total_events) as bigint) as total_events,
        cast(sum(converted_sessions) as bigint) as converted_sessions,
        cast(sum(purchases) as bigint) as purchases,
        sum(revenue) as revenue,
        sum(engagement_score_hundredths) as engagement_score_hundredths,
        min_by(
            {{ weblogs.text_record(['first_channel', 'first_landing_page_path']) }},
            {{ weblogs.session_order_key('first_session_start', 'first_session_id') }}
        ) as first_visit,
        max_by(
            {{ weblogs.text_record(['last_channel']) }},
            {{ weblogs.session_order_key('last_session_start', 'last_session_id') }}
        ) as last_visit
    from visitor_days
    group by visitor_id

),

identified as (

    select
        *,
        case when visitor_id like 'u:%' then substr(visitor_id, 3) end as user_id,
        first_visit.first_channel as first_channel,  -- noqa: AL09, RF01
        first_visit.first_landing_page_path as first_landing_page_path,  -- noqa: AL09, RF01
        last_visit.last_channel as last_channel  -- noqa: AL09, RF01
    from aggregated

),

final as (

    select
        identified.visitor_id,
        identified.user_id,
        identified.user_id is not null as is_identified,
        identified.first_session_date,
        identified.last_session_date,
        identified.first_seen_at,
        identified.last_seen_at,
        identified.sessions,
        identified.active_days,
        identified.page_views,
        identified.total_events,
        identified.converted_sessions,
        identified.purchases,
        identified.revenue,
        {{ weblogs.exact_round2(
            'identified.engagement_score_hundredths', '100 * identified.sessions'
        ) }} as avg_engagement_score,
        identified.first_channel,
        {{ weblogs.redact_url('identified.first_landing_page_path') }} as first_landing_page_path,
        identified.last_channel,
        coalesce(crm_tiers.loyalty_tier, 'none') as loyalty_tier
    from identified
    left join crm_tiers
        on identified.user_id = crm_tiers.user_id

)

select * from final
