{{ config(persist_docs=weblogs.persist_docs_config()) }}

{#-
    One row per cohort_week and week_number (docs/contract.md, section 5): of the
    visitors whose first session is in the cohort's ISO week, those active in
    each week since, up to the week of the latest session date the marts hold
    (zeros included).
-#}
with

visitor_days as (

    select * from {{ ref('int_stitched_visitor_days') }}

),

users as (

    select * from {{ ref('users') }}

),

cohorts as (

    select
        visitor_id,
        {{ weblogs.iso_week_monday('first_session_date') }} as cohort_week
    from users

),

active_weeks as (

    select distinct
        visitor_id,
        {{ weblogs.iso_week_monday('session_date') }} as active_week
    from visitor_days

),

latest as (

    select {{ weblogs.iso_week_monday('max(session_date)') }} as latest_week
    from visitor_days

),

cohort_sizes as (

    select
        cohort_week,
        count(*) as cohort_visitors
    from cohorts
    group by cohort_week

),

cohort_weeks as (

    select
        cohort_sizes.cohort_week,
        cohort_sizes.cohort_visitors,
        cast(weeks.week_number as integer) as week_number
    from cohort_sizes
    cross join latest
    cross join unnest(
        {{ weblogs.integer_series(
            "cast(date_diff('day', cohort_sizes.cohort_week, latest.latest_week) / 7 as integer)"
        ) }}
    ) as weeks (week_number)

),

cohort_activity as (

    select
        cohorts.cohort_week,
        cast(date_diff('day', cohorts.cohort_week, active_weeks.active_week) / 7 as integer)
            as week_number
    from cohorts
    inner join active_weeks
        on cohorts.visitor_id = active_weeks.visitor_id

),

activity as (

    select
        cohort_week,
        week_number,
        count(*) as active_visitors
    from cohort_activity
    group by cohort_week, week_number

),

final as (

    select
        cohort_weeks.cohort_week,
        cohort_weeks.week_number,
        cohort_weeks.cohort_visitors,
        coalesce(activity.active_visitors, 0) as active_visitors,
        {{ weblogs.exact_round2(
            '100 * coalesce(activity.active_visitors, 0)', 'cohort_weeks.cohort_visitors'
        ) }} as retention_pct
    from cohort_weeks
    left join activity
        on
            cohort_weeks.cohort_week = activity.cohort_week
            and cohort_weeks.week_number = activity.week_number

)

select * from final
