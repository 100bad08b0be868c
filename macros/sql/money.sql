{#-
    Money (docs/contract.md, section 6): exact to the cent on every engine.
    An event's `value` becomes a decimal with `money_scale()` decimals, sums
    are decimal sums (never binary floats), and a session's revenue or a
    goal's value is rounded once to 2 decimals, half away from zero (the
    values are never negative). Analysts get `decimal(38, 2)`.
-#}

{#- Decimals kept of an event's value before the one rounding. -#}
{% macro money_scale() %}
    {{ return(18) }}
{% endmacro %}


{#- An event's `value` as an exact decimal (null stays null). -#}
{% macro money_value(expression) -%}
    cast({{ expression }} as decimal(38, {{ weblogs.money_scale() }}))
{%- endmacro %}


{#- An exact decimal sum rounded once to cents, half away from zero, as decimal(38, 2). -#}
{% macro money_round2(expression) -%}
    cast(round({{ expression }}, 2) as decimal(38, 2))
{%- endmacro %}


{#- A sum of amounts already rounded to cents, as decimal(38, 2) (the same type on every engine). -#}
{% macro money_sum(expression) -%}
    cast(sum({{ expression }}) as decimal(38, 2))
{%- endmacro %}
