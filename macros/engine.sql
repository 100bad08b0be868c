{#-
    Engine differences between DuckDB (local) and Athena (Trino), in one place.
    Models call these through adapter.dispatch; no model tests target.type.
-#}

{#-
    The events source as the engine should open it for the run's read window
    (startdate - 1 .. enddate + 1). Staging also filters on the partition
    columns, which is what prunes on Athena (Glue partitions). On DuckDB the
    source is a glob over the whole lake (`<events>/*/*/*/*/*.parquet`): DuckDB
    lists every file of the lake's history and then filters the hive paths,
    which costs more than reading the three days a one-day run needs. So the
    glob is narrowed to the day folders of the read window that exist (a list
    entry matching no file would be an error in read_parquet); when none
    exists, the source is left as it is and the partition filter yields no row.
-#}
{% macro event_files(relation) %}
    {{ return(adapter.dispatch('event_files', 'weblogs')(relation)) }}
{% endmacro %}

{% macro default__event_files(relation) %}
    {{ return(relation) }}
{% endmacro %}

{% macro duckdb__event_files(relation) %}
    {%- set location = relation.external if relation.external is defined else none -%}
    {%- set lake_glob = modules.re.search("'([^']+)/\\*/\\*/\\*/\\*/\\*\\.parquet'", location or '') -%}
    {%- if not execute or lake_glob is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set probes = [] -%}
    {%- for day in weblogs.window_days(read=true) -%}
        {%- set folder = lake_glob.group(1) ~ day.strftime('/year=%Y/month=%m/day=%d/*/*.parquet') -%}
        {%- do probes.append(
            "select '" ~ folder ~ "' as folder from (select 1 from glob('" ~ folder ~ "') limit 1)"
        ) -%}
    {%- endfor -%}
    {#- Zero-padded paths under one root: text order is day order. -#}
    {%- set present = run_query(probes | join(' union all ')).columns[0].values() | sort -%}
    {%- if present | length == 0 -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return(location | replace(lake_glob.group(0), "['" ~ present | join("', '") ~ "']")) }}
{% endmacro %}


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
    {{ return('delete+insert') }}
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
{% macro clear_run_window(relation, date_column='session_date') %}
    {{ return(adapter.dispatch('clear_run_window', 'weblogs')(relation, date_column)) }}
{% endmacro %}

{% macro default__clear_run_window(relation, date_column) %}
    {%- if execute and is_incremental() -%}
        delete from {{ relation }}
        where {{ date_column }} between {{ weblogs.window_start() }} and {{ weblogs.window_end() }}
    {%- endif -%}
{% endmacro %}

{% macro athena__clear_run_window(relation, date_column) %}
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


{#- ISO-8601 text (offset optional; none means UTC) to a UTC timestamp without time zone; null if invalid. -#}
{% macro iso8601_to_utc_timestamp(expression) %}
    {{ return(adapter.dispatch('iso8601_to_utc_timestamp', 'weblogs')(expression)) }}
{% endmacro %}

{% macro default__iso8601_to_utc_timestamp(expression) -%}
    case
        when regexp_matches({{ expression }}, '([+-][0-9]{2}(:?[0-9]{2})?|[zZ])$')
            then try_cast(
                try_cast({{ expression }} as timestamp with time zone) at time zone 'UTC' as timestamp
            )
        else try_cast({{ expression }} as timestamp)
    end
{%- endmacro %}

{% macro athena__iso8601_to_utc_timestamp(expression) -%}
    cast(try(from_iso8601_timestamp({{ expression }}) at time zone 'UTC') as timestamp)
{%- endmacro %}


{#- A value as trimmed text, whatever its type in the source (CSV text locally, typed Glue columns on Athena). -#}
{% macro as_trimmed_text(expression) -%}
    nullif(trim(cast({{ expression }} as varchar)), '')
{%- endmacro %}


{#-
    Session ordering rule (SPEC 3): events by event_timestamp, ties by event_id
    in byte-wise order. `values_at_first` / `values_at_last` pick several
    columns at the first / last event of the group in ONE aggregate, as a
    record read back with `record.column` (one ordered aggregate per end of the
    session instead of one per column: a third of the work on DuckDB).
    `value_at_last` picks one value; with `when`, value and key are nulled
    together, so rows outside the condition never win (DuckDB's max_by skips
    null values, Trino's does not; a record is never null, so the record
    forms are the same on both engines).
-#}
{% macro session_order_key(timestamp_column='event_timestamp', id_column='event_id') -%}
    row({{ timestamp_column }}, {{ id_column }})
{%- endmacro %}

{% macro value_at_last(value, when=none) -%}
    {%- if when is none -%}
        max_by({{ value }}, {{ weblogs.session_order_key() }})
    {%- else -%}
        max_by(case when {{ when }} then {{ value }} end, case when {{ when }} then {{ weblogs.session_order_key() }} end)
    {%- endif -%}
{%- endmacro %}

{% macro values_at_first(columns) -%}
    min_by({{ weblogs.text_record(columns) }}, {{ weblogs.session_order_key() }})
{%- endmacro %}

{% macro values_at_last(columns) -%}
    max_by({{ weblogs.text_record(columns) }}, {{ weblogs.session_order_key() }})
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


{#- A list var rendered as a SQL list of string literals, quotes escaped. -#}
{% macro sql_string_list(values) -%}
    {%- if values is string or values is not iterable -%}
        {{ exceptions.raise_compiler_error("weblogs vars: expected a list of strings, got " ~ values) }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | lower | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    ({{ quoted | join(', ') }})
{%- endmacro %}
