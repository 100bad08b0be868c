{{ config(materialized='table', persist_docs=weblogs.persist_docs_config()) }}

{#-
    The sessions of this run's window (int_sessions), computed once per run
    for the marts and tests that read them (macro weblogs.run_sessions). A
    reader uses this table only when the same dbt invocation builds it;
    otherwise it computes int_sessions itself, so its rows never depend on
    what an earlier run left here.
-#}
with

sessions as (

    select * from {{ ref('int_sessions') }}

),

final as (

    -- Every column of the ephemeral model, whatever it gains: the readers expect them all.
    select * from sessions

)

select * from final  -- noqa: AM04
