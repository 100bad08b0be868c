{#-
    One row per non-anonymous user with a session in the window, joined with
    CRM, plus the integer sums loyalty_by_tier adds up per tier (so a tier's
    means are over all its sessions and ratings, and the events are read once).
    Ephemeral: loyalty_metrics and loyalty_by_tier both compute it from the
    events of their own run.
-#}
with

sessions as (

    select * from {{ weblogs.run_sessions() }}
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
        cast(sum(total_events) as bigint) as total_events,
        sum({{ weblogs.in_units('session_duration_seconds', 1000) }}) as duration_ms,
        sum({{ weblogs.in_units('engagement_score', 100) }}) as score_hundredths,
        cast(sum(loyalty_interactions) as bigint) as loyalty_interactions,
        count(case when loyalty_interactions > 0 then 1 end) as loyal_sessions
    from sessions
    group by user_id

),

user_ratings as (

    select
        user_id,
        sum(rating) as rating_sum,
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
        {{ weblogs.exact_round2('user_sessions.duration_ms', '1000 * user_sessions.sessions') }}
            as avg_session_duration_seconds,
        {{ weblogs.exact_round2('user_sessions.score_hundredths', '100 * user_sessions.sessions') }}
            as engagement_score,
        user_sessions.loyalty_interactions,
        {{ weblogs.exact_round2('100 * user_sessions.loyal_sessions', 'user_sessions.sessions') }}
            as loyalty_rate_pct,
        {{ weblogs.exact_round2('user_ratings.rating_sum', 'user_ratings.ratings_count') }}
            as avg_rating,
        coalesce(user_ratings.ratings_count, 0) as ratings_count,
        user_sessions.score_hundredths,
        user_sessions.loyal_sessions,
        coalesce(user_ratings.rating_sum, 0) as rating_sum
    from user_sessions
    left join customers
        on user_sessions.user_id = customers.user_id
    left join user_ratings
        on user_sessions.user_id = user_ratings.user_id

)

select * from final
