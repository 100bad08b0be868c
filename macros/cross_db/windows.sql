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


{#-
    The CTE `name`: the rows of `relation` with `copy_rank`, each row's rank among
    the rows of the same `key` by `order_by` (1 = the copy kept), written where a
    CTE goes (it ends with a comma). Deduplication of the events
    (stg_weblogs__events): Trino and Athena rank every row with one window function.
    On DuckDB that window sorts every event with all its columns, though about 1%
    of event_ids have a second copy: the keys with more than one row are found with
    a hash aggregate of the key alone (CTE `duplicated_copies`), the other rows get
    rank 1 without a sort, and only the copies of duplicated keys are ranked (a null
    key is ranked by the window, as the window alone ranks it). The same rows and
    ranks; `relation` is read three times, which DuckDB materialises once
    (docs/decisions.md, Speed of the per-run models). On DuckDB the rows also carry
    `is_duplicated`.
-#}
{% macro ranked_copies(name, relation, key, order_by) -%}
    {{ return(adapter.dispatch('ranked_copies', 'weblogs')(name, relation, key, order_by)) }}
{%- endmacro %}

{% macro default__ranked_copies(name, relation, key, order_by) -%}
{{ name }} as (

    select
        *,
        row_number() over (
            partition by {{ key }}
            order by
                {{ order_by | join(',\n                ') }}
        ) as copy_rank
    from {{ relation }}

),
{%- endmacro %}

{% macro duckdb__ranked_copies(name, relation, key, order_by) -%}
duplicated_copies as (

    select {{ key }} as duplicated_key
    from {{ relation }}
    group by {{ key }}
    having count(*) > 1

),

flagged_copies as (

    select
        copies.*,
        duplicated_copies.duplicated_key is not null or copies.{{ key }} is null as is_duplicated
    from {{ relation }} as copies
    left join duplicated_copies on copies.{{ key }} = duplicated_copies.duplicated_key

),

{{ name }} as (

    select
        flagged_copies.*,
        1 as copy_rank
    from flagged_copies
    where not flagged_copies.is_duplicated
    union all
    select
        flagged_copies.*,
        row_number() over (
            partition by flagged_copies.{{ key }}
            order by
                {{ order_by | join(',\n                ') }}
        ) as copy_rank
    from flagged_copies
    where flagged_copies.is_duplicated

),
{%- endmacro %}
