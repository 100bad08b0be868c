{{ config(**weblogs.run_only_table_config()) }}

{#-
    The session events of this run's window (int_session_events), computed once per run
    for the marts and tests that read them (macro weblogs.run_relation). A
    reader uses this table only when the same dbt invocation builds it;
    otherwise it computes int_session_events itself, so its rows never depend on
    what an earlier run left here. Always one run's rows: on a patched (late)
    session date, only the touched sessions' events.
-#}
with

session_events as (

    select * from {{ ref('int_session_events') }}

),

final as (

    select * from session_events

)

-- Every column of the ephemeral model (dbt inlines it, so sqlfluff cannot list them).
select * from final  -- noqa: AM04
