{{ config(**weblogs.run_table_config('session_date')) }}

{#-
    The sessions of this run's window (int_sessions), computed once per run
    for the marts and tests that read them (macro weblogs.run_relation, which
    keeps the window's session dates). A reader uses this table only when the
    same dbt invocation builds it; otherwise it computes int_sessions itself.
    Where rows can be deleted (DuckDB) the table keeps every date it was
    built for, so a scheduled run can patch a late date session by session:
    it replaces only the touched sessions' rows; engagement_metrics takes
    those rows and the date-level marts re-aggregate the date from here
    (docs/analytics.md, Late data). On Athena it holds one run's window.
-#}
-- The pre-hook reads the run's touched sessions (weblogs.clear_run_window):
-- depends_on: {{ ref('int_run_session_events') }}
with

sessions as (

    select * from {{ ref('int_sessions') }}

),

final as (

    select * from sessions

)

-- Every column of the ephemeral model (dbt inlines it, so sqlfluff cannot list them).
select * from final  -- noqa: AM04
