{{ config(**weblogs.run_table_config('session_date')) }}

{#-
    The page views of this run's window (int_page_views), computed once per run
    for the marts and tests that read them (macro weblogs.run_relation, which
    keeps the window's session dates). A reader uses this table only when the
    same dbt invocation builds it; otherwise it computes int_page_views itself.
    Where rows can be deleted (DuckDB) the table keeps every date it was
    built for, so a scheduled run can patch a late date session by session:
    it replaces only the touched sessions' rows and page_metrics
    re-aggregates the date from here (docs/analytics.md, Late data). On Athena it holds one
    run's window.
-#}
-- The pre-hook reads the run's touched sessions (weblogs.clear_run_window):
-- depends_on: {{ ref('int_run_session_events') }}
with

page_views as (

    select * from {{ ref('int_page_views') }}

),

final as (

    select * from page_views

)

-- Every column of the ephemeral model (dbt inlines it, so sqlfluff cannot list them).
select * from final  -- noqa: AM04
