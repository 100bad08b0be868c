{{ config(**weblogs.run_table_config('session_date')) }}

{#-
    The per-session event counts and values of this run's window
    (int_session_event_values), computed once per run for goal_metrics (macro
    weblogs.run_relation, which keeps the window's session dates). A reader
    uses this table only when the same dbt invocation builds it; otherwise it
    computes int_session_event_values itself. Where rows can be deleted
    (DuckDB) the table keeps every date it was built for, so a scheduled run
    can patch a late date session by session, like int_run_page_views
    (docs/analytics.md, Late data). On Athena it holds one run's window.
-#}
-- The pre-hook reads the run's touched sessions (weblogs.clear_run_window):
-- depends_on: {{ ref('int_run_session_events') }}
with

event_values as (

    select * from {{ ref('int_session_event_values') }}

),

final as (

    select * from event_values

)

-- Every column of the ephemeral model (dbt inlines it, so sqlfluff cannot list them).
select * from final  -- noqa: AM04
