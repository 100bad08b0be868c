{#-
    Persisted per-day fact of logins per device (docs/contract.md, section 5):
    one row per session_date and client_id that has a non-anonymous session,
    with the last such session of the day in (session_start, session_id) order
    and its user. Incremental by session_date like `int_visitor_days`;
    `identity_map` takes the last login of each client over every date held.
-#}
{{
    config(
        materialized='incremental',
        unique_key='session_date',
        on_schema_change='fail',
        pre_hook="{{ weblogs.clear_run_window(this) }}",
        incremental_strategy=weblogs.range_incremental_strategy(),
        partitioned_by=weblogs.date_partitioning('session_date'),
        properties=weblogs.table_properties('session_date'),
        persist_docs=weblogs.persist_docs_config(),
    )
}}

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
