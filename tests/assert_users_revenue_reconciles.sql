-- users.revenue (docs/contract.md, section 5) is the sum of its visitor's sessions'
-- rounded revenues (section 6). It comes through the per-day facts: each session date
-- of int_visitor_days holds the revenue engagement_metrics holds for that date (dates
-- one of them lacks, after a partial `--select`, are not compared), and users holds
-- the facts' total. Returns a row per difference.
with

users as (

    select * from {{ ref('users') }}

),

visitor_days as (

    select * from {{ ref('int_visitor_days') }}

),

engagement_metrics as (

    select * from {{ ref('engagement_metrics') }}

),

facts_by_date as (

    select
        session_date,
        sum(revenue) as facts_revenue
    from visitor_days
    group by session_date

),

sessions_by_date as (

    select
        session_date,
        sum(revenue) as sessions_revenue
    from engagement_metrics
    group by session_date

),

by_date as (

    select
        facts_by_date.session_date,
        facts_by_date.facts_revenue as expected_revenue,
        sessions_by_date.sessions_revenue as found_revenue
    from facts_by_date
    inner join sessions_by_date
        on facts_by_date.session_date = sessions_by_date.session_date
    where facts_by_date.facts_revenue <> sessions_by_date.sessions_revenue

),

facts_total as (

    select coalesce(sum(revenue), 0) as expected_revenue from visitor_days

),

users_sum as (

    select coalesce(sum(revenue), 0) as found_revenue from users

),

users_total as (

    select
        cast(null as date) as session_date,
        facts_total.expected_revenue,
        users_sum.found_revenue
    from facts_total
    cross join users_sum

),

final as (

    select * from by_date
    union all
    select * from users_total
    where expected_revenue <> found_revenue

)

select * from final
