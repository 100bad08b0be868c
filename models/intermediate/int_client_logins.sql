{#-
    Persisted per-day fact of logins per device (docs/contract.md, section 5):
    one row per session_date and client_id that has a non-anonymous session,
    with the last such session of the day in (session_start, session_id) order
    and its user. Incremental by session_date like `int_visitor_days`;
    `identity_map` takes the last login of each client over every date held.
-#}
{{ config(**weblogs.range_incremental_config('session_date')) }}

with

sessions as (

    select * from {{ weblogs.run_sessions() }}

),

logins as (

    select
        session_date,
        client_id,
        max(session_start) as login_session_start,
        max_by(
            {{ weblogs.text_record(['session_id', 'user_id']) }},
            {{ weblogs.session_order_key('session_start', 'session_id') }}
        ) as login
    from sessions
    where not is_anonymous_session and client_id is not null
    group by session_date, client_id

),

final as (

    select
        session_date,
        client_id,
        login_session_start,
        login.session_id as login_session_id,
        login.user_id
    from logins

)

select
    {{ weblogs.partitioned_select_list([
        'session_date', 'client_id', 'login_session_start', 'login_session_id', 'user_id',
    ], 'session_date') }}
from final
