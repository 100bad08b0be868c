-- users.revenue (docs/contract.md, section 5) is the sum of its visitor's sessions'
-- rounded revenues (section 6): over every session the marts hold, its total equals
-- engagement_metrics' total. Returns a row when they differ.
with

users as (

    select * from {{ ref('users') }}

),

engagement_metrics as (

    select * from {{ ref('engagement_metrics') }}

),

users_total as (

    select coalesce(sum(revenue), 0) as users_revenue from users

),

sessions_total as (

    select coalesce(sum(revenue), 0) as sessions_revenue from engagement_metrics

),

totals as (

    select
        users_total.users_revenue,
        sessions_total.sessions_revenue
    from users_total
    cross join sessions_total

),

final as (

    select * from totals
    where users_revenue <> sessions_revenue

)

select * from final
