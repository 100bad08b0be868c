{#-
    Identity stitching (docs/contract.md, section 5): one row per client_id that
    ever had a non-anonymous session, with the user of its last such session in
    (session_start, session_id) order over every session date held. Ephemeral:
    published as `identity_map`, and inlined where visitors are stitched.
-#}
with

logins as (

    select * from {{ ref('int_client_logins') }}

),

latest as (

    select
        client_id,
        max(login_session_start) as last_login_at,
        max_by(
            {{ weblogs.text_record(['login_session_id', 'user_id']) }},
            {{ weblogs.session_order_key('login_session_start', 'login_session_id') }}
        ) as login
    from logins
    group by client_id

),

final as (

    select
        client_id,
        login.user_id as user_id,  -- noqa: AL09
        last_login_at,
        login.login_session_id as last_login_session_id
    from latest

)

select * from final
