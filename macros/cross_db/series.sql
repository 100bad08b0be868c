{#-
    The integers 0 .. `stop` as an array, to unnest into rows
    (`cross join unnest(...) as t (n)` is the same SQL on both engines).
-#}
{% macro integer_series(stop) %}
    {{ return(adapter.dispatch('integer_series', 'weblogs')(stop)) }}
{% endmacro %}

{% macro default__integer_series(stop) -%}
    sequence(0, {{ stop }})
{%- endmacro %}

{% macro duckdb__integer_series(stop) -%}
    generate_series(0, {{ stop }})
{%- endmacro %}


{#- The Monday of the ISO week of a date, as a date (date_trunc gives a timestamp on DuckDB). -#}
{% macro iso_week_monday(date_expression) -%}
    cast(date_trunc('week', {{ date_expression }}) as date)
{%- endmacro %}
