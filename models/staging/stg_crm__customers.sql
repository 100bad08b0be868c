with

source as (

    select * from {{ source('crm', 'customers') }}

),

final as (

    select
        {{ weblogs.as_trimmed_text('user_id') }} as user_id,
        {{ weblogs.as_trimmed_text('customer_id') }} as customer_id,
        coalesce(lower({{ weblogs.as_trimmed_text('loyalty_tier') }}), 'none') as loyalty_tier,
        coalesce(lower({{ weblogs.as_trimmed_text('is_loyalty_member') }}) = 'true', false)
            as is_loyalty_member,
        try_cast({{ weblogs.as_trimmed_text('signup_date') }} as date) as signup_date
    from source

)

select * from final
