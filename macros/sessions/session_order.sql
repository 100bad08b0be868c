{#-
    Session order (docs/contract.md, section 3): events by event_timestamp, ties by event_id
    in byte-wise order. `values_at_first` / `values_at_last` pick several
    columns at the first / last event of the group in ONE aggregate, as a
    record read back with `record.column` (one ordered aggregate per end of the
    session instead of one per column: a third of the work on DuckDB).
    `value_at_last` picks one value; with `when`, value and key are nulled
    together, so rows outside the condition never win (DuckDB's max_by skips
    null values, Trino's does not; a record is never null, so the record
    forms are the same on both engines).
    `key` (default: the session order key) orders the rows instead: int_sessions
    passes `event_order`, the events' position in session order within their
    session_id (int_session_events), which orders a session's events exactly
    as (event_timestamp, event_id) does. An integer key is compared in one
    step; a record with text costs a comparison per field at every row of the
    aggregate (the largest cost of int_run_sessions on DuckDB).
-#}
{% macro session_order_key(timestamp_column='event_timestamp', id_column='event_id') -%}
    row({{ timestamp_column }}, {{ id_column }})
{%- endmacro %}

{% macro value_at_last(value, when=none, key=none) -%}
    {%- set key = key or weblogs.session_order_key() -%}
    {%- if when is none -%}
        max_by({{ value }}, {{ key }})
    {%- else -%}
        max_by(case when {{ when }} then {{ value }} end, case when {{ when }} then {{ key }} end)
    {%- endif -%}
{%- endmacro %}

{% macro values_at_first(columns, key=none) -%}
    min_by({{ weblogs.text_record(columns) }}, {{ key or weblogs.session_order_key() }})
{%- endmacro %}

{% macro values_at_last(columns, key=none) -%}
    max_by({{ weblogs.text_record(columns) }}, {{ key or weblogs.session_order_key() }})
{%- endmacro %}


{#-
    A record of text columns whose fields keep the column names (`record.column`).
    `cast(row(...) as row(name varchar, ...))` is the same SQL on DuckDB and Trino.
-#}
{% macro text_record(columns) -%}
    cast(row({{ columns | join(', ') }}) as row(
        {%- for column in columns %}{{ column }} varchar{{ ', ' if not loop.last }}{% endfor -%}
    ))
{%- endmacro %}



{#-
    An intermediate model of the run's window, for the models that read it:
    `name` is an ephemeral model (`int_sessions`, `int_session_events`) and
    `int_run_<name without int_>` the table holding its rows for this run.
    When this invocation builds that table (it is selected), the reader gets
    the table: computed once per run, before its readers (they depend on it).
    Otherwise the ephemeral model, computed from the events by the reader
    itself: a model built alone with `--select` never reads a table an earlier
    run left with another window. Unit tests always get the ephemeral model.
-#}
{% macro run_relation(name, rebuilt_only=false) %}
    {%- set table = 'int_run_' ~ name[4:] -%}
    {%- if not execute -%}
        {#- Parsing: record both dependencies (dbt orders the table first). -#}
        {%- do ref(table) -%}
        {{ return(ref(name)) }}
    {%- endif -%}
    {%- if weblogs.built_in_this_run(table) -%}
        {%- if name == 'int_session_events' -%}
            {{ return(ref(table)) }}
        {%- endif -%}
        {#-
            The table may keep earlier dates (weblogs.run_table_config): the window's only;
            with rebuilt_only, on a patched (late) date only the touched sessions' rows.
        -#}
        {%- set keep = weblogs.in_rebuilt('session_date', weblogs.touched_session_ids_condition('session_id'))
            if rebuilt_only and weblogs.run_window().patch_dates else weblogs.in_window('session_date') -%}
        {{ return("(select * from " ~ ref(table) ~ " where " ~ keep ~ ")") }}
    {%- endif -%}
    {{ return(ref(name)) }}
{% endmacro %}


{#-
    The table `table` when the same dbt invocation builds it, else the ephemeral model
    `name` it is built from (the same rows): e.g. the `identity_map` mart for
    `int_identity_map`, so a run stitches its visitors from the map it just built
    instead of aggregating every login again in each visitor table, and a model built
    alone with `--select` never reads a table an earlier run left. Unit tests get the
    ephemeral model.
-#}
{% macro built_or_ephemeral(table, name) %}
    {%- if not execute -%}
        {%- do ref(table) -%}
        {{ return(ref(name)) }}
    {%- endif -%}
    {{ return(ref(table) if weblogs.built_in_this_run(table) else ref(name)) }}
{% endmacro %}


{#- Whether this dbt invocation builds the model `table` (it is selected): never in a unit test. -#}
{% macro built_in_this_run(table) %}
    {{ return(model.resource_type != 'unit_test' and ('model.weblogs.' ~ table) in selected_resources) }}
{% endmacro %}


{% macro run_sessions() %}
    {{ return(weblogs.run_relation('int_sessions')) }}
{% endmacro %}


{#-
    The sessions this run recomputes, for a mart of one row per session
    (engagement_metrics): on the patched (late) dates of a scheduled run the
    table int_run_sessions keeps every session of the date, and only the
    touched sessions' rows are taken, the ones the pre-hook (clear_run_window
    with by_session) deleted. The ephemeral int_sessions holds just those rows.
-#}
{% macro rebuilt_sessions() %}
    {{ return(weblogs.run_relation('int_sessions', rebuilt_only=true)) }}
{% endmacro %}


{#- `column` is the session_id of a session with an event that arrived in this run (int_run_session_events). -#}
{% macro touched_session_ids_condition(column) -%}
    {{ column }} in (
        select touched.session_id
        from {{ weblogs.run_relation('int_session_events') }} as touched
        where touched.in_touched_session
    )
{%- endmacro %}


{#-
    The CTE `name` (written where a CTE goes, ending with a comma): the rows of
    `relation` (int_session_events' `starts`: the kept events with their start
    candidates and whole-session_id values) with `session_start_at` (the latest
    start up to the event) and `session_browser` (the browser at that start).
    Trino and Athena take both with a second window over every row, in the order of
    the first (Trino does not sort again). DuckDB sorts for every window operator:
    a session_id whose first and last events are less than 24 hours apart
    (`is_single_session`, nearly every one) is one session started at its first
    event, so those rows take `first_timestamp` and `first_browser` from the first
    window and only the other session_ids' rows are sorted again. The same values;
    `relation` is read twice, which DuckDB materialises once (docs/decisions.md,
    Speed of the per-run models).
-#}
{% macro assigned_sessions(name, relation) -%}
    {{ return(adapter.dispatch('assigned_sessions', 'weblogs')(name, relation)) }}
{%- endmacro %}

{#- The session's start and browser by a second sort of the session_id's events: the
    start candidate and the browser at the last start up to each event. -#}
{% macro session_start_columns(relation) -%}
        max({{ relation }}.start_candidate) over (
            partition by {{ relation }}.session_id
            order by {{ relation }}.event_timestamp asc, {{ relation }}.event_id asc
            rows between unbounded preceding and current row
        ) as session_start_at,
        {{ weblogs.last_non_null(
            'case when ' ~ relation ~ '.start_candidate is not null then ' ~ relation ~ '.browser end'
        ) }} over (
            partition by {{ relation }}.session_id
            order by {{ relation }}.event_timestamp asc, {{ relation }}.event_id asc
            rows between unbounded preceding and current row
        ) as session_browser
{%- endmacro %}

{% macro default__assigned_sessions(name, relation) -%}
{{ name }} as (

    select
        {{ relation }}.*,
        {{ weblogs.session_start_columns(relation) }}
    from {{ relation }}

),
{%- endmacro %}

{% macro duckdb__assigned_sessions(name, relation) -%}
{{ name }} as (

    select
        {{ relation }}.*,
        {{ relation }}.first_timestamp as session_start_at,
        {{ relation }}.first_browser as session_browser
    from {{ relation }}
    where {{ relation }}.is_single_session
    union all
    select
        {{ relation }}.*,
        {{ weblogs.session_start_columns(relation) }}
    from {{ relation }}
    where not {{ relation }}.is_single_session

),
{%- endmacro %}
