{#-
    Upper case character by character with Unicode's simple case mapping
    (docs/contract.md, section 6: `straße` gives `STRAßE`). Trino's (and so
    Athena's) `upper` is that mapping. DuckDB's maps `ß` to `ẞ` (U+1E9E),
    which the simple mapping does not (the one such difference of DuckDB 1.x's
    `upper` over U+0020 .. U+2FFFF, measured against Python's case tables when
    this was written): on DuckDB a text holding `ß` is upper-cased character by
    character with `ß` kept.
-#}
{% macro simple_upper(expression) %}
    {{ return(adapter.dispatch('simple_upper', 'weblogs')(expression)) }}
{% endmacro %}

{% macro default__simple_upper(expression) %}
    {{ return('upper(' ~ expression ~ ')') }}
{% endmacro %}

{% macro duckdb__simple_upper(expression) %}
    {{ return(
        "case when contains(" ~ expression ~ ", 'ß') then array_to_string(list_transform(string_split("
        ~ expression ~ ", ''), character -> case when character = 'ß' then character else upper(character) end), '')"
        ~ " else upper(" ~ expression ~ ") end"
    ) }}
{% endmacro %}
