{#-
    One row per non-anonymous user with a session in the window, joined with
    CRM. Ephemeral: loyalty_metrics and loyalty_by_tier both compute it from
    the events of their own run.
-#}
with

sessions as (

    select * from {{ ref('int_sessions') }}
    where not is_anonymous_session

),

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

ratings as (

    select * from {{ ref('int_ratings_in_window') }}

),

user_sessions as (

    select
        user_id,
        count(*) as sessions,
        sum(total_events) as total_events,
        avg(session_duration_seconds) as avg_session_duration_seconds,
        avg(engagement_score) as engagement_score,
        sum(loyalty_interactions) as loyalty_interactions,
        sum(case when loyalty_interactions > 0 then 1 else 0 end) as loyal_sessions
    from sessions
    group by user_id

),

user_ratings as (

    select
        user_id,
        avg(cast(rating as double)) as avg_rating,
        count(*) as ratings_count
    from ratings
    group by user_id

),

final as (

    select
        user_sessions.user_id,
        customers.customer_id,
        coalesce(customers.loyalty_tier, 'none') as loyalty_tier,
        coalesce(customers.is_loyalty_member, false) as is_loyalty_member,
        user_sessions.sessions,
        user_sessions.total_events,
        round(user_sessions.avg_session_duration_seconds, 2) as avg_session_duration_seconds,
        round(user_sessions.engagement_score, 2) as engagement_score,
        user_sessions.loyalty_interactions,
        round(100 * cast(user_sessions.loyal_sessions as double) / user_sessions.sessions, 2)
            as loyalty_rate_pct,
        round(user_ratings.avg_rating, 2) as avg_rating,
        coalesce(user_ratings.ratings_count, 0) as ratings_count
    from user_sessions
    left join customers
        on user_sessions.user_id = customers.user_id
    left join user_ratings
        on user_sessions.user_id = user_ratings.user_id

)

select * from final
