{#-
    loyalty_metrics covers every known session of the window once, and
    loyalty_by_tier covers every loyalty_metrics user once.
-#}
with

known_sessions as (

    select * from {{ weblogs.run_sessions() }}
    where not is_anonymous_session

),

loyalty as (

    select * from {{ ref('loyalty_metrics') }}

),

tiers as (

    select * from {{ ref('loyalty_by_tier') }}

),

session_totals as (

    select
        count(*) as sessions,
        coalesce(sum(total_events), 0) as total_events,
        coalesce(sum(loyalty_interactions), 0) as loyalty_interactions,
        count(distinct user_id) as users
    from known_sessions

),

loyalty_totals as (

    select
        coalesce(sum(sessions), 0) as sessions,
        coalesce(sum(total_events), 0) as total_events,
        coalesce(sum(loyalty_interactions), 0) as loyalty_interactions,
        count(*) as users,
        coalesce(sum(case when is_loyalty_member then 1 else 0 end), 0) as members
    from loyalty

),

tier_totals as (

    select
        coalesce(sum(users), 0) as users,
        coalesce(sum(loyalty_members), 0) as members
    from tiers

),

final as (

    select
        session_totals.sessions as session_count,
        loyalty_totals.sessions as loyalty_session_count,
        tier_totals.users as tier_users
    from session_totals
    cross join loyalty_totals
    cross join tier_totals
    where
        session_totals.sessions <> loyalty_totals.sessions
        or session_totals.total_events <> loyalty_totals.total_events
        or session_totals.loyalty_interactions <> loyalty_totals.loyalty_interactions
        or session_totals.users <> loyalty_totals.users
        or loyalty_totals.users <> tier_totals.users
        or loyalty_totals.members <> tier_totals.members

)

select * from final
