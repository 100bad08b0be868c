{#-
    The per-day visitor facts with their `visitor_id` (docs/contract.md,
    section 5): a `c:` visitor key whose client has a user in `int_identity_map`
    becomes `u:` + that user; every other key is its own visitor_id.
-#}
with

visitor_days as (

    select * from {{ ref('int_visitor_days') }}

),

identities as (

    select * from {{ ref('int_identity_map') }}

),

final as (

    select
        visitor_days.*,
        coalesce('u:' || identities.user_id, visitor_days.visitor_key) as visitor_id
    from visitor_days
    left join identities
        on visitor_days.stitch_client_id = identities.client_id

)

select * from final
