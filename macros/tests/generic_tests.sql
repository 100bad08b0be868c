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
    bounds, in one scan of the model, like not_null_columns below. Fails on each column
    with values out of its range: its name and how many rows. -#}
{% test accepted_ranges(model, ranges) %}
{{ config(fail_calc="coalesce(sum(out_of_range_rows), 0)") }}
{%- if ranges is not mapping or not ranges -%}
    {{ exceptions.raise_compiler_error("accepted_ranges: ranges must be a non-empty mapping of column: [min, max], got " ~ ranges) }}
{%- endif -%}
{%- for column, bounds in ranges.items() -%}
    {%- if not modules.re.fullmatch("[a-z_][a-z0-9_]*", column | string) -%}
        {{ exceptions.raise_compiler_error("accepted_ranges: '" ~ column ~ "' is not a column name") }}
    {%- endif -%}
    {%- if bounds is string or bounds is not sequence or bounds | length != 2
        or bounds[0] is not number or bounds[1] is not number or bounds[0] is boolean
        or bounds[1] is boolean or bounds[0] > bounds[1] -%}
        {{ exceptions.raise_compiler_error("accepted_ranges: " ~ column ~ " needs [min, max] with min <= max, got " ~ bounds) }}
    {%- endif -%}
{%- endfor %}

with

counted as (

    select
        {%- for column, bounds in ranges.items() %}
        count(
            case when {{ column }} < {{ bounds[0] }} or {{ column }} > {{ bounds[1] }} then 1 end
        ) as out_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

unpivoted as (

    select
        named.column_name,
        case named.column_name
            {%- for column in ranges %}
            when '{{ column }}' then counted.out_{{ loop.index }}
            {%- endfor %}
        end as out_of_range_rows
    from counted
    cross join (
        values
        {%- for column in ranges %}
            ('{{ column }}'){{ "," if not loop.last }}
        {%- endfor %}
    ) as named (column_name)

),

final as (

    select * from unpivoted
    where out_of_range_rows > 0

)

select * from final

{% endtest %}


{#- None of `columns` holds a null, in one scan of the model: one query per model instead of
    one per column (each is a paid Athena query, and dbt's work per test node is the same
    whatever the data). `columns` is one comma-separated text, not a YAML list: dbt renders
    every text of a test's arguments as a template, one by one. Fails on each column with
    nulls: its name and how many rows; the failures counted are the null rows, as the
    one-column not_null would count them. -#}
{% test not_null_columns(model, columns) %}
{{ config(fail_calc="coalesce(sum(null_rows), 0)") }}
{%- set names = [] -%}
{%- for name in (columns | string).split(",") if name | trim -%}
    {%- do names.append(name | trim) -%}
{%- endfor -%}
{%- if columns is not string or not names -%}
    {{ exceptions.raise_compiler_error("not_null_columns: columns must be a comma-separated text of column names, got " ~ columns) }}
{%- endif -%}
{%- for name in names -%}
    {%- if not modules.re.fullmatch("[a-z_][a-z0-9_]*", name) -%}
        {{ exceptions.raise_compiler_error("not_null_columns: '" ~ name ~ "' is not a column name") }}
    {%- endif -%}
{%- endfor %}

with

counted as (

    select
        {%- for column in names %}
        count(case when {{ column }} is null then 1 end) as nulls_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

unpivoted as (

    select
        named.column_name,
        case named.column_name
            {%- for column in names %}
            when '{{ column }}' then counted.nulls_{{ loop.index }}
            {%- endfor %}
        end as null_rows
    from counted
    cross join (
        values
        {%- for column in names %}
            ('{{ column }}'){{ "," if not loop.last }}
        {%- endfor %}
    ) as named (column_name)

),

final as (

    select * from unpivoted
    where null_rows > 0

)

select * from final

{% endtest %}
