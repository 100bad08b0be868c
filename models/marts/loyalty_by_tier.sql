{{ config(persist_docs=weblogs.persist_docs_config()) }}

{#- One row per loyalty tier that has users in loyalty_metrics. -#}
with

users as (

    select * from {{ ref('int_loyalty_users') }}

),

sessions as (

    select * from {{ ref('int_sessions') }}
    where not is_anonymous_session

),

ratings as (

    select * from {{ ref('int_ratings_in_window') }}

),

tier_users as (

    select
        loyalty_tier,
        count(*) as users,
        sum(case when is_loyalty_member then 1 else 0 end) as loyalty_members
    from users
    group by loyalty_tier

),

tier_sessions as (

    select
        users.loyalty_tier,
        sum({{ weblogs.in_units('sessions.engagement_score', 100) }}) as score_hundredths,
        count(*) as sessions,
        sum(case when sessions.loyalty_interactions > 0 then 1 else 0 end) as loyal_sessions
    from sessions
    inner join users
        on sessions.user_id = users.user_id
    group by users.loyalty_tier

),

tier_ratings as (

    select
        users.loyalty_tier,
        sum(ratings.rating) as rating_sum,
        count(*) as ratings_count
    from ratings
    inner join users
        on ratings.user_id = users.user_id
    group by users.loyalty_tier

),

final as (

    select
        tier_users.loyalty_tier,
        tier_users.users,
        tier_users.loyalty_members,
        {{ weblogs.exact_round2('100 * tier_users.loyalty_members', 'tier_users.users') }}
            as loyalty_member_pct,
        {{ weblogs.exact_round2('tier_sessions.score_hundredths', '100 * tier_sessions.sessions') }}
            as avg_engagement_score,
        {{ weblogs.exact_round2('100 * tier_sessions.loyal_sessions', 'tier_sessions.sessions') }}
            as loyalty_rate_pct,
        {{ weblogs.exact_round2('tier_ratings.rating_sum', 'tier_ratings.ratings_count') }}
            as avg_rating
    from tier_users
    left join tier_sessions
        on tier_users.loyalty_tier = tier_sessions.loyalty_tier
    left join tier_ratings
        on tier_users.loyalty_tier = tier_ratings.loyalty_tier

)

select * from final
