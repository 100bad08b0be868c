{#- Generic data tests of the project (no dbt packages: dbt_utils is not a dependency). -#}

{#- The combination of `combination` columns is unique (the grain of a table). -#}
{% test unique_combination_of_columns(model, combination) %}

with

grouped as (

    select
        {{ combination | join(', ') }},
        count(*) as copies
    from {{ model }}
    group by {{ combination | join(', ') }}

),

final as (

    select * from grouped
    where copies > 1

)

select * from final

{% endtest %}


{#- Every non-null value of each column of `ranges` ({column: [min, max]}) is within its
    bounds, in one scan of the model (weblogs.failing_columns). Fails on each column with
    values out of its range: its name and how many rows. -#}
{% test accepted_ranges(model, ranges) %}
{{ config(fail_calc="coalesce(sum(out_of_range_rows), 0)") }}
{%- if ranges is not mapping or not ranges -%}
    {{ exceptions.raise_compiler_error("accepted_ranges: ranges must be a non-empty mapping of column: [min, max], got " ~ ranges) }}
{%- endif -%}
{%- set checks = [] -%}
{%- for column, bounds in ranges.items() -%}
    {%- if bounds is string or bounds is not sequence or bounds | length != 2
        or bounds[0] is not number or bounds[1] is not number or bounds[0] is boolean
        or bounds[1] is boolean or bounds[0] > bounds[1] -%}
        {{ exceptions.raise_compiler_error("accepted_ranges: " ~ column ~ " needs [min, max] with min <= max, got " ~ bounds) }}
    {%- endif -%}
    {%- do checks.append([column | string, "{column} < " ~ bounds[0] ~ " or {column} > " ~ bounds[1]]) -%}
{%- endfor %}
{{ weblogs.failing_columns('accepted_ranges', model, checks, 'out_of_range_rows') }}
{% endtest %}


{#- None of `columns` holds a null, in one scan of the model (weblogs.failing_columns).
    `columns` is one comma-separated text, not a YAML list: dbt renders every text of a
    test's arguments as a template, one by one. Fails on each column with nulls: its name
    and how many rows; the failures counted are the null rows, as the one-column
    not_null would count them. -#}
{% test not_null_columns(model, columns) %}
{{ config(fail_calc="coalesce(sum(null_rows), 0)") }}
{%- set checks = [] -%}
{%- for name in (columns | string).split(",") if name | trim -%}
    {%- do checks.append([name | trim, "{column} is null"]) -%}
{%- endfor -%}
{%- if columns is not string or not checks -%}
    {{ exceptions.raise_compiler_error("not_null_columns: columns must be a comma-separated text of column names, got " ~ columns) }}
{%- endif %}
{{ weblogs.failing_columns('not_null_columns', model, checks, 'null_rows') }}
{% endtest %}


{#- The query of a per-model column check: for each [column, condition] of `checks`
    (`{column}` in the condition stands for the column), how many rows of the model meet
    the condition, counted in one scan (one query per model instead of one per column:
    each is a paid Athena query, and dbt's work per test node is the same whatever the
    data), then one row (`column_name`, `rows_name`) per column with any. The columns
    are unpivoted against a VALUES list, not a UNION of the counts: Trino would scan the
    model once per branch. -#}
{% macro failing_columns(test, model, checks, rows_name) %}
{%- for column, _condition in checks -%}
    {%- if not modules.re.fullmatch("[a-z_][a-z0-9_]*", column) -%}
        {{ exceptions.raise_compiler_error(test ~ ": '" ~ column ~ "' is not a column name") }}
    {%- endif -%}
{%- endfor %}
with

counted as (

    select
        {%- for column, condition in checks %}
        count(case when {{ condition | replace("{column}", column) }} then 1 end) as rows_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

unpivoted as (

    select
        named.column_name,
        case named.column_name
            {%- for column, _condition in checks %}
            when '{{ column }}' then counted.rows_{{ loop.index }}
            {%- endfor %}
        end as {{ rows_name }}
    from counted
    cross join (
        values
        {%- for column, _condition in checks %}
            ('{{ column }}'){{ "," if not loop.last }}
        {%- endfor %}
    ) as named (column_name)

),

final as (

    select * from unpivoted
    where {{ rows_name }} > 0

)

select * from final
{% endmacro %}
