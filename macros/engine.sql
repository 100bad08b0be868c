{#-
    Engine differences between DuckDB (local) and Athena (Trino), in one place.
    Models call these through adapter.dispatch; no model tests target.type.
-#}

{#-
    The events source as the engine should open it for the days the run reads
    (each session date of the window, one day either side). Staging also
    filters on the partition columns, which is what prunes on Athena (Glue
    partitions). On DuckDB the source would be a glob over the whole lake,
    listing every file of the lake's history: it is narrowed to the day
    folders the run reads that exist (a list entry matching no file would be
    an error in read_parquet); when none exists, the source is an empty
    relation with the source's columns, so no file is listed or read.
-#}
{% macro event_files(relation) %}
    {{ return(adapter.dispatch('event_files', 'weblogs')(relation)) }}
{% endmacro %}

{% macro default__event_files(relation) %}
    {{ return(relation) }}
{% endmacro %}

{% macro duckdb__event_files(relation) %}
    {#- A unit test hands over its own rows, not the lake's source: those are read as given. -#}
    {%- if not execute or relation.external is not defined or not relation.external -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set present = weblogs.present_day_globs('events', weblogs.window_days(read=true), '*/*.parquet') -%}
    {%- if present | length == 0 -%}
        {%- set columns = [] -%}
        {%- for column in graph.sources['source.weblogs.weblogs.events'].columns.values() -%}
            {%- do columns.append('cast(null as ' ~ column.data_type ~ ') as ' ~ adapter.quote(column.name)) -%}
        {%- endfor -%}
        {{ return('(select ' ~ columns | join(', ') ~ ' where 1 = 0)') }}
    {%- endif -%}
    {%- set files = [] -%}
    {%- for folder in present -%}{%- do files.append(weblogs.sql_string(folder)) -%}{%- endfor -%}
    {{ return(
        "read_parquet([" ~ files | join(', ') ~ "], hive_partitioning = true, hive_types = "
        ~ "{'year': 'varchar', 'month': 'varchar', 'day': 'varchar', 'hour': 'varchar'})"
    ) }}
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
        where {{ weblogs.in_window(date_column) }}
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
    Session ordering rule (docs/analytics.md): events by event_timestamp, ties by event_id
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


{#- A list of checked names (weblogs.validated_event_types) as a SQL list of string literals, quotes escaped. -#}
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
