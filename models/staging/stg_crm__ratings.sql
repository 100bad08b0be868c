{%- set columns = weblogs.crm_columns(
    source('crm', 'ratings'), 'ratings.csv', ['user_id', 'rated_at', 'rating'],
) -%}

with

source as (

    select * from {{ source('crm', 'ratings') }}

),

final as (

    select
        {{ weblogs.as_trimmed_text(columns.user_id) }} as user_id,
        {{ weblogs.as_trimmed_text(columns.rated_at) }} as rated_at_text,
        {{ weblogs.iso8601_to_utc_timestamp(weblogs.as_trimmed_text(columns.rated_at)) }}
            as rated_at,
        {{ weblogs.as_trimmed_text(columns.rating) }} as rating_text,
        {{ weblogs.crm_rating(weblogs.as_trimmed_text(columns.rating)) }} as rating
    from source

)

select * from final
