{#-
    CRM ratings that count: a valid rating (1-5, see stg_crm__ratings) whose
    rated_at (UTC) date is a session date of the run window.
-#}
{{ config(materialized='ephemeral') }}

with

ratings as (

    select * from {{ ref('stg_crm__ratings') }}

),

final as (

    select
        user_id,
        rated_at,
        cast(rated_at as date) as rated_date,
        rating
    from ratings
    where
        user_id is not null
        and rating between 1 and 5
        and {{ weblogs.in_window('cast(rated_at as date)') }}

)

select * from final
