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

    -- The identity_map mart when this run builds it (the same rows), else the ephemeral map.
    select * from {{ weblogs.built_or_ephemeral('identity_map', 'int_identity_map') }}

),

final as (

    select
        visitor_days.session_date,
        visitor_days.visitor_key,
        visitor_days.stitch_client_id,
        visitor_days.sessions,
        visitor_days.page_views,
        visitor_days.total_events,
        visitor_days.converted_sessions,
        visitor_days.purchases,
        visitor_days.revenue,
        visitor_days.engagement_score_hundredths,
        visitor_days.first_session_start,
        visitor_days.first_session_id,
        visitor_days.first_channel,
        visitor_days.first_landing_page_path,
        visitor_days.last_session_start,
        visitor_days.last_session_id,
        visitor_days.last_channel,
        visitor_days.last_session_end,
        coalesce('u:' || identities.user_id, visitor_days.visitor_key) as visitor_id
    from visitor_days
    left join identities
        on visitor_days.stitch_client_id = identities.client_id

)

select * from final
