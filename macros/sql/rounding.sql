{#-
    The rounding rule: `numerator / denominator` rounded to 2 decimals, half away
    from zero, exactly. Both are non-negative integers (counts, sums of
    milliseconds, sums of scores in hundredths), so the rounded value is
    floor((200 * n + d) / (2 * d)) / 100: a quotient whose exact value is at
    least 1 / (2 * d) from the next integer, so the double division cannot
    cross it, and a mean that lands exactly on a half cent (65 / 8 = 8.125)
    rounds up on DuckDB and Athena alike, where round(avg(x), 2) of a double
    may round it down. Plain SQL, the same on both engines.
-#}
{% macro exact_round2(numerator, denominator) -%}
    floor(
        (200 * cast({{ numerator }} as double) + cast({{ denominator }} as double))
        / (2 * cast({{ denominator }} as double))
    ) / 100
{%- endmacro %}


{#- A stored value with 2 decimals (a score) or 3 (seconds) as an integer count of its units. -#}
{% macro in_units(expression, units) -%}
    cast(round({{ expression }} * {{ units }}) as bigint)
{%- endmacro %}
