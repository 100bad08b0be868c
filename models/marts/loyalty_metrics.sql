{{ config(persist_docs=weblogs.persist_docs_config()) }}

{#- One row per non-anonymous user with a session in the run window, joined with CRM. -#}
with

users as (

    select * from {{ ref('int_loyalty_users') }}

),

final as (

    select
        user_id,
        customer_id,
        loyalty_tier,
        is_loyalty_member,
        sessions,
        total_events,
        avg_session_duration_seconds,
        engagement_score,
        loyalty_interactions,
        loyalty_rate_pct,
        avg_rating,
        ratings_count
    from users

)

select * from final
