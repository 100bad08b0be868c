{#-
    Trino (dbt-trino, Hive connector): Athena engine version 3 is Trino, so
    every macro below takes the Athena implementation where the two agree. Where
    they differ, it is dbt-athena's table management that Trino has not (Glue
    partition clean-up, the insert_overwrite strategy, the partitioned_by config),
    never the SQL of a model; docs/analytics.md (Trino) lists each difference.
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


{% macro trino__iso8601_to_utc_timestamp(expression) -%}
    {{ weblogs.athena__iso8601_to_utc_timestamp(expression) }}
{%- endmacro %}

{#- Trino's Hive connector has the same `$file_modified_time` hidden column as Athena. -#}
{% macro trino__crm_loaded_at(table_name) -%}
    {{ return(weblogs.athena__crm_loaded_at(table_name)) }}
{%- endmacro %}


{#- URL parsing (macros/url/url.sql): the Athena SQL is Trino SQL. -#}
{% macro trino__url_page_path(url) -%}
    {{ weblogs.athena__url_page_path(url) }}
{%- endmacro %}

{% macro trino__url_query_items_kept(query, names) -%}
    {{ weblogs.athena__url_query_items_kept(query, names) }}
{%- endmacro %}

{% macro trino__url_query_parameter(query, name) -%}
    {{ weblogs.athena__url_query_parameter(query, name) }}
{%- endmacro %}

{% macro trino__url_percent_decode(value) -%}
    {{ weblogs.athena__url_percent_decode(value) }}
{%- endmacro %}

{% macro trino__url_host(url) -%}
    {{ weblogs.athena__url_host(url) }}
{%- endmacro %}
