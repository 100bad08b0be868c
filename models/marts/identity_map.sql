{{ config(persist_docs=weblogs.persist_docs_config()) }}

{#- One row per device (client_id) that logged in, with the user it stitches to. -#}
with

identities as (

    select * from {{ ref('int_identity_map') }}

),

final as (

    select
        client_id,
        user_id,
        last_login_at,
        last_login_session_id
    from identities

)

select * from final
