{%- set columns = weblogs.crm_columns(
    source('crm', 'customers'), 'customers.csv',
    ['user_id', 'customer_id', 'loyalty_tier', 'is_loyalty_member', 'signup_date'],
) -%}

with

source as (

    select * from {{ source('crm', 'customers') }}

),

final as (

    select
        {{ weblogs.as_trimmed_text(columns.user_id) }} as user_id,
        {{ weblogs.as_trimmed_text(columns.customer_id) }} as customer_id,
        coalesce(lower({{ weblogs.as_trimmed_text(columns.loyalty_tier) }}), 'none')
            as loyalty_tier,
        coalesce(lower({{ weblogs.as_trimmed_text(columns.is_loyalty_member) }}) = 'true', false)
            as is_loyalty_member,
        try_cast({{ weblogs.as_trimmed_text(columns.signup_date) }} as date) as signup_date
    from source

)

select * from final
