{#-
    Visitors (docs/contract.md, section 5). `value_at_first` is `value_at_last`'s
    mirror: the value of the first event in session order for which `when`
    holds (value and key nulled together, so other rows never win, on DuckDB
    and Trino alike).
-#}
{% macro value_at_first(value, when, key=none) -%}
    {%- set key = key or weblogs.session_order_key() -%}
    min_by(case when {{ when }} then {{ value }} end, case when {{ when }} then {{ key }} end)
{%- endmacro %}


{#-
    A session's visitor_key: `u:` + its user id when it is not anonymous, else
    `c:` + its client_id when it has one, else `s:` + its (anonymous) user id.
-#}
{% macro visitor_key(is_anonymous, user_id, client_id) -%}
    case
        when not {{ is_anonymous }} then 'u:' || {{ user_id }}
        when {{ client_id }} is not null then 'c:' || {{ client_id }}
        else 's:' || {{ user_id }}
    end
{%- endmacro %}
