{#-
    Table and column descriptions written to the catalog (`persist_docs`). On
    Athena they are what the Glue and Athena consoles show next to the tables.
    On DuckDB the analysts read them in the docs site, and writing them costs
    every model two `describe`s and two statements per run (0.1 s of a one-day
    run's 1 s; docs/analytics.md, Benchmark), so they are not written there.
-#}
{% macro persist_docs_config() %}
    {{ return(adapter.dispatch('persist_docs_config', 'weblogs')()) }}
{% endmacro %}

{% macro default__persist_docs_config() %}
    {{ return({'relation': false, 'columns': false}) }}
{% endmacro %}

{% macro athena__persist_docs_config() %}
    {{ return({'relation': true, 'columns': true}) }}
{% endmacro %}


{#- How the incremental marts replace a date range. -#}
{% macro range_incremental_strategy() %}
    {{ return(adapter.dispatch('range_incremental_strategy', 'weblogs')()) }}
{% endmacro %}

{% macro default__range_incremental_strategy() %}
    {#- The pre-hook (clear_run_window) has deleted what the run replaces: the new rows are appended. -#}
    {{ return('append') }}
{% endmacro %}

{% macro athena__range_incremental_strategy() %}
    {#- Hive Parquet table partitioned by session_date: a run overwrites its date partitions. -#}
    {{ return('insert_overwrite') }}
{% endmacro %}


{#- Table partitioning of the incremental marts: Hive partitions on Athena, none on DuckDB. -#}
{% macro date_partitioning(date_column) %}
    {{ return(adapter.dispatch('date_partitioning', 'weblogs')(date_column)) }}
{% endmacro %}

{% macro default__date_partitioning(date_column) %}
    {{ return(none) }}
{% endmacro %}

{% macro athena__date_partitioning(date_column) %}
    {{ return([date_column]) }}
{% endmacro %}


{#-
    Pre-hook of the incremental marts: empty the run window first, so a date of
    the window that has no sessions any more does not keep stale rows
    (delete+insert / insert_overwrite alone only replace dates present in the new rows).
-#}
{% macro clear_run_window(relation, date_column='session_date', by_session=false) %}
    {{ return(adapter.dispatch('clear_run_window', 'weblogs')(relation, date_column, by_session)) }}
{% endmacro %}

{#-
    by_session: the table holds one row per session (or per event of a
    session) and a session_id column: on a patched date (a late date of a
    scheduled run, docs/analytics.md, Late data) only the touched sessions'
    rows are deleted, the ones the run recomputes.
-#}
{% macro default__clear_run_window(relation, date_column, by_session=false) %}
    {%- if execute and is_incremental() -%}
        {%- set window = weblogs.run_window() -%}
        delete from {{ relation }}
        where
        {%- if by_session and window.patch_dates %}
            {{ weblogs.in_days(date_column, window.full_dates) }}
            or (
                {{ weblogs.in_days(date_column, window.patch_dates) }}
                and {{ weblogs.touched_session_ids_condition('session_id') }}
            )
        {%- else %}
            {{ weblogs.in_window(date_column) }}
        {%- endif %}
    {%- endif -%}
{% endmacro %}

{% macro athena__clear_run_window(relation, date_column, by_session=false) %}
    {#- Hive tables have no DELETE: drop the window's Glue partitions and their S3 objects. -#}
    {%- if execute and is_incremental() -%}
        {%- set conditions = [] -%}
        {%- for day in weblogs.window_days() -%}
            {%- do conditions.append(date_column ~ "='" ~ day ~ "'") -%}
        {%- endfor -%}
        {%- do adapter.clean_up_partitions(relation, conditions) -%}
    {%- endif -%}
{% endmacro %}


{#-
    The select list of a partitioned mart. Athena (Hive CTAS) needs the
    partition column last; elsewhere the documented column order is kept.
-#}
{% macro partitioned_select_list(columns, partition_column) %}
    {{ return(adapter.dispatch('partitioned_select_list', 'weblogs')(columns, partition_column)) }}
{% endmacro %}

{% macro default__partitioned_select_list(columns, partition_column) %}
    {{- columns | join(',\n    ') -}}
{% endmacro %}

{% macro athena__partitioned_select_list(columns, partition_column) %}
    {%- set ordered = columns | reject('equalto', partition_column) | list + [partition_column] -%}
    {{- ordered | join(',\n    ') -}}
{% endmacro %}


{#-
    The config of a table incremental by `date_column` (the incremental marts,
    session_anomalies, int_visitor_days, int_client_logins): a run replaces the
    dates of its window and nothing else (docs/contract.md, section 3), by
    whole dates, or session by session on a patched late date (`by_session`).
    One macro, so the settings (and the engine macros among them) are written
    once; a model calls `config(**weblogs.range_incremental_config(...))`.
-#}
{% macro range_incremental_config(date_column='session_date', by_session=false) %}
    {%- set hook_args = "this, '" ~ date_column ~ "'" ~ (", by_session=true" if by_session else "") -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': weblogs.range_incremental_strategy(),
        'unique_key': date_column,
        'partitioned_by': weblogs.date_partitioning(date_column),
        'properties': weblogs.table_properties(date_column),
        'on_schema_change': 'fail',
        'pre_hook': "{{ weblogs.clear_run_window(" ~ hook_args ~ ") }}",
        'persist_docs': weblogs.persist_docs_config(),
    }) }}
{% endmacro %}


{#-
    The config of int_run_session_events: one run's session events, computed once for
    the run's own readers (weblogs.run_relation) and read by nothing else. A table of
    the target elsewhere. On DuckDB, when the profile attaches an in-memory database
    `weblogs_run` (profiles.yml.example, with `keep_open`), the table goes there: held
    in RAM for the run instead of compressed into the database file, which cost more
    than computing it (docs/analytics.md, Run tables); the file keeps no copy of the
    events. Without that attachment it stays in the file.
-#}
{% macro run_only_table_config() %}
    {{ return(adapter.dispatch('run_only_table_config', 'weblogs')()) }}
{% endmacro %}

{% macro default__run_only_table_config() %}
    {{ return({'materialized': 'table', 'persist_docs': weblogs.persist_docs_config()}) }}
{% endmacro %}

{% macro duckdb__run_only_table_config() %}
    {%- set settings = weblogs.default__run_only_table_config() -%}
    {%- for attachment in target.get('attach') or [] -%}
        {%- if attachment.get('alias') == weblogs.run_database() and attachment.get('path') == ':memory:' -%}
            {%- do settings.update({'database': weblogs.run_database()}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(settings) }}
{% endmacro %}

{#- The alias of the in-memory database of a DuckDB run (profiles.yml.example). -#}
{% macro run_database() %}
    {{ return('weblogs_run') }}
{% endmacro %}


{#-
    The per-run tables int_run_sessions and int_run_page_views. Where rows can
    be deleted (DuckDB) they are incremental by `date_column` and keep every
    date built, so a scheduled run can patch a late date session by session
    (weblogs.session_patch_supported). Elsewhere a table of one run's window.
-#}
{% macro run_table_config(date_column) %}
    {{ return(adapter.dispatch('run_table_config', 'weblogs')(date_column)) }}
{% endmacro %}

{% macro default__run_table_config(date_column) %}
    {{ return({'materialized': 'table', 'persist_docs': weblogs.persist_docs_config()}) }}
{% endmacro %}

{% macro duckdb__run_table_config(date_column) %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': "{{ weblogs.clear_run_window(this, '" ~ date_column ~ "', by_session=true) }}",
        'persist_docs': weblogs.persist_docs_config(),
    }) }}
{% endmacro %}


{#-
    Trino (dbt-trino, Hive connector): Athena engine version 3 is Trino, so each
    macro takes the Athena implementation where the two agree. Where they differ,
    it is dbt-athena's table management that Trino has not (Glue partition
    clean-up, the insert_overwrite strategy, the partitioned_by config), never the
    SQL of a model; docs/analytics.md (Trino) lists each difference.
-#}

{% macro trino__persist_docs_config() %}
    {{ return(weblogs.athena__persist_docs_config()) }}
{% endmacro %}


{#-
    dbt-trino has no insert_overwrite: the incremental marts append, after the
    pre-hook (trino__clear_run_window) has deleted the window's partitions.
-#}
{% macro trino__range_incremental_strategy() %}
    {{ return('append') }}
{% endmacro %}


{% macro trino__date_partitioning(date_column) %}
    {{ return(weblogs.athena__date_partitioning(date_column)) }}
{% endmacro %}


{#-
    Table properties of a date-partitioned mart. dbt-athena reads the
    `partitioned_by` config; dbt-trino reads `properties` (Trino's table
    properties, as SQL text). Elsewhere none.
-#}
{% macro table_properties(date_column) %}
    {{ return(adapter.dispatch('table_properties', 'weblogs')(date_column)) }}
{% endmacro %}

{% macro default__table_properties(date_column) %}
    {{ return(none) }}
{% endmacro %}

{% macro trino__table_properties(date_column) %}
    {%- set columns = weblogs.trino__date_partitioning(date_column) -%}
    {{ return({
        'format': "'PARQUET'",
        'partitioned_by': "array['" ~ columns | join("', '") ~ "']",
    }) }}
{% endmacro %}


{#-
    The Hive connector deletes whole partitions of a non-transactional table, so
    the portable DELETE of the window is what empties it here (Athena has no
    DELETE on Hive tables and drops the Glue partitions instead).
-#}
{% macro trino__clear_run_window(relation, date_column, by_session=false) %}
    {#- Hive tables: whole partitions only; Trino never patches (session_patch_supported). -#}
    {{- weblogs.default__clear_run_window(relation, date_column, by_session) -}}
{% endmacro %}


{% macro trino__partitioned_select_list(columns, partition_column) %}
    {{- weblogs.athena__partitioned_select_list(columns, partition_column) -}}
{% endmacro %}
