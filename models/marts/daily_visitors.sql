{{ config(persist_docs=weblogs.persist_docs_config()) }}

{#-
    One row per session_date that has sessions, over every session the marts
    hold (docs/contract.md, section 5): visitors, new and returning.
-#}
with

visitor_days as (

    select * from {{ ref('int_stitched_visitor_days') }}

),

users as (

    select * from {{ ref('users') }}

),

visitor_dates as (

    select
        session_date,
        visitor_id,
        cast(sum(sessions) as bigint) as sessions
    from visitor_days
    group by session_date, visitor_id

),

classified as (

    select
        visitor_dates.session_date,
        visitor_dates.visitor_id,
        visitor_dates.sessions,
        users.first_session_date = visitor_dates.session_date as is_new,
        users.is_identified
    from visitor_dates
    inner join users
        on visitor_dates.visitor_id = users.visitor_id

),

final as (

    select
        session_date,
        count(*) as visitors,
        count(case when is_new then 1 end) as new_visitors,
        count(case when not is_new then 1 end) as returning_visitors,
        count(case when is_identified then 1 end) as identified_visitors,
        cast(sum(sessions) as bigint) as sessions,
        cast(sum(case when is_new then sessions else 0 end) as bigint) as new_visitor_sessions
    from classified
    group by session_date

)

select * from final
