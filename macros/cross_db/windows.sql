{#-
    The last non-null value of `expression` in a window frame: the window function
    without its OVER clause (the caller writes `over (...)` after it). Both engines
    skip nulls with IGNORE NULLS, written in different places: DuckDB inside the
    call, Trino and Athena after it. One window function instead of a second
    sort (int_session_events takes a session's browser at its start this way).
-#}
{% macro last_non_null(expression) -%}
    {{ return(adapter.dispatch('last_non_null', 'weblogs')(expression)) }}
{%- endmacro %}

{% macro default__last_non_null(expression) -%}
    last_value({{ expression }}) ignore nulls
{%- endmacro %}

{% macro duckdb__last_non_null(expression) -%}
    last_value({{ expression }} ignore nulls)
{%- endmacro %}
