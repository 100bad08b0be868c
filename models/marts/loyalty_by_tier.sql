{{ config(persist_docs=weblogs.persist_docs_config()) }}

{#-
    One row per loyalty tier that has users in loyalty_metrics. Means are over
    all the tier's sessions and ratings (sums of the users' integer sums), not
    means of the users' means.
-#}
with

users as (

    select * from {{ ref('int_loyalty_users') }}

),

tiers as (

    select
        loyalty_tier,
        count(*) as users,
        count(case when is_loyalty_member then 1 end) as loyalty_members,
        sum(sessions) as sessions,
        sum(score_hundredths) as score_hundredths,
        sum(loyal_sessions) as loyal_sessions,
        sum(rating_sum) as rating_sum,
        sum(ratings_count) as ratings_count
    from users
    group by loyalty_tier

),

final as (

    select
        loyalty_tier,
        users,
        loyalty_members,
        {{ weblogs.exact_round2('100 * loyalty_members', 'users') }} as loyalty_member_pct,
        {{ weblogs.exact_round2('score_hundredths', '100 * sessions') }} as avg_engagement_score,
        {{ weblogs.exact_round2('100 * loyal_sessions', 'sessions') }} as loyalty_rate_pct,
        {{ weblogs.exact_round2('rating_sum', 'nullif(ratings_count, 0)') }} as avg_rating
    from tiers

)

select * from final
