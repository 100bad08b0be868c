{% macro event_partition_filter() -%}
    {#-
        Partition predicate for [startdate - 1, enddate + 1] on the string
        partition columns year/month/day, grouped by month:
        (year = '2026' and month = '09' and day in ('30')) or (...).
        Literal values only, so Athena prunes Glue partitions and DuckDB
        prunes hive directories before any file is opened.
    -#}
    {%- set months = {} -%}
    {%- set order = [] -%}
    {%- for d in weblogs.window_days(read=true) -%}
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
    ({{ clauses | join(' or ') }})
{%- endmacro %}
