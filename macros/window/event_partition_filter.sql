{% macro event_partition_filter() -%}
    {#-
        Partition predicate for the days the run reads (each session date of
        the window and one day either side) on the string partition columns
        year/month/day, grouped by month:
        (year = '2026' and month = '09' and day in ('30')) or (...).
        Literal values only, so Athena prunes Glue partitions and DuckDB
        prunes hive directories before any file is opened.
    -#}
    {{ weblogs.day_partition_filter(weblogs.window_days(read=true)) }}
{%- endmacro %}


{#- The predicate on year/month/day for a list of days; no day matches nothing. -#}
{% macro day_partition_filter(days) -%}
    {%- set months = {} -%}
    {%- set order = [] -%}
    {%- for d in days -%}
        {%- set key = d.strftime('%Y-%m') -%}
        {%- if key not in months -%}
            {%- do months.update({key: []}) -%}
            {%- do order.append(key) -%}
        {%- endif -%}
        {%- do months[key].append("'" ~ d.strftime('%d') ~ "'") -%}
    {%- endfor -%}
    {%- set clauses = [] -%}
    {%- for key in order -%}
        {%- do clauses.append(
            "(year = '" ~ key[0:4] ~ "' and month = '" ~ key[5:7]
            ~ "' and day in (" ~ months[key] | join(', ') ~ "))"
        ) -%}
    {%- endfor -%}
    {%- if clauses -%}
        ({{ clauses | join(' or ') }})
    {%- else -%}
        (1 = 0)
    {%- endif -%}
{%- endmacro %}
