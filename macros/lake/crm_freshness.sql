{#-
    When a CRM extract was last loaded: the modification time of its file(s),
    for `dbt source freshness` (the CRM sources' loaded_at_query). `weblogs crm
    load` rewrites the files at each load, so the time is the last load's; the
    extracts carry no load-time column of their own. The warning threshold is
    var crm_freshness_warn_days, checked here because the sources' YAML cannot
    stop a run with a message.
-#}
{% macro crm_loaded_at(table_name) %}
    {%- set days = var('crm_freshness_warn_days', 7) | string | trim -%}
    {%- if not modules.re.fullmatch('[1-9][0-9]{0,3}', days) -%}
        {{ exceptions.raise_compiler_error(
            "var crm_freshness_warn_days must be a whole number of days from 1 to 9999, got '"
            ~ days[:40] ~ "'"
        ) }}
    {%- endif -%}
    {{ return(adapter.dispatch('crm_loaded_at', 'weblogs')(table_name)) }}
{% endmacro %}

{#- DuckDB: read_blob lists the file without reading its content when only its time is selected. -#}
{% macro default__crm_loaded_at(table_name) -%}
    select max(last_modified) as loaded_at
    from read_blob({{ weblogs.sql_string(weblogs.lake_root() ~ '/crm/' ~ table_name ~ '.csv') }})
{%- endmacro %}

{#- Athena: the Glue table's objects carry their S3 modification time as a pseudo-column. -#}
{% macro athena__crm_loaded_at(table_name) -%}
    select max("$file_modified_time") as loaded_at
    from {{ source('crm', table_name) }}
{%- endmacro %}

{#- Trino's Hive connector has the same `$file_modified_time` hidden column as Athena. -#}
{% macro trino__crm_loaded_at(table_name) -%}
    {{ return(weblogs.athena__crm_loaded_at(table_name)) }}
{%- endmacro %}
