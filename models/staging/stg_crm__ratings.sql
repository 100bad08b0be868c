with

source as (

    select * from {{ source('crm', 'ratings') }}

),

final as (

    select
        {{ weblogs.as_trimmed_text('user_id') }} as user_id,
        {{ weblogs.as_trimmed_text('rated_at') }} as rated_at_text,
        {{ weblogs.iso8601_to_utc_timestamp(weblogs.as_trimmed_text('rated_at')) }} as rated_at,
        try_cast({{ weblogs.as_trimmed_text('rating') }} as integer) as rating
    from source

)

select * from final
