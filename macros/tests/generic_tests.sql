{#- Generic data test of the project (no dbt packages: dbt_utils is not a dependency). -#}

{#- A model's rules, all in one test and one query (docs/analytics.md, Tests): each data
    test is a dbt node (its arguments rendered, its SQL compiled) and a query (on Athena a
    paid one, with its 10 MB minimum) on every scheduled run, whatever the data, so one per
    model instead of one per column and rule. Each argument is optional; at least one:

    - `unique`: the columns that together identify a row (the grain), comma-separated.
      Fails on each key value found more than once, as dbt's `unique`; rows with a null
      in the key are left to `not_null`.
    - `not_null`: the columns that must never hold a null, comma-separated. Fails on the
      null rows, as dbt's `not_null`.
    - `ranges`: `{column: [min, max]}`. Fails on the rows with a non-null value outside.
    - `accepted_values`: `{column: [value, ...]}`. Fails on each distinct non-null value
      not listed, as dbt's `accepted_values`.

    The column lists are one text, not a YAML list: dbt renders each text of a test's
    arguments as a template, one by one. The failures counted are the sum of the rules'
    counts; with --store-failures, the test's table has one row per failing rule and
    column (`rule`, `column_name`, `failures`). -#}
{% test model_checks(model, unique=none, not_null=none, ranges=none, accepted_values=none) %}
{{ config(fail_calc="coalesce(sum(failures), 0)") }}
{%- set checks = [] -%}
{%- for column in weblogs.check_column_list('not_null', not_null) -%}
    {%- do checks.append(['not_null', column, "count(case when " ~ column ~ " is null then 1 end)"]) -%}
{%- endfor -%}
{%- for column, bounds in weblogs.check_column_mapping('ranges', ranges, '[min, max]') -%}
    {%- if bounds is string or bounds is not sequence or bounds | length != 2
        or bounds[0] is not number or bounds[1] is not number or bounds[0] is boolean
        or bounds[1] is boolean or bounds[0] > bounds[1] -%}
        {{ exceptions.raise_compiler_error("model_checks: ranges of " ~ column ~ " needs [min, max] with min <= max, got " ~ bounds) }}
    {%- endif -%}
    {%- do checks.append(['range', column,
        "count(case when " ~ column ~ " < " ~ bounds[0] ~ " or " ~ column ~ " > " ~ bounds[1] ~ " then 1 end)"]) -%}
{%- endfor -%}
{%- for column, values in weblogs.check_column_mapping('accepted_values', accepted_values, '[value, ...]') -%}
    {%- if values is string or values is not sequence or not values
        or values | reject('string') | list -%}
        {{ exceptions.raise_compiler_error("model_checks: accepted_values of " ~ column ~ " needs a list of texts, got " ~ values) }}
    {%- endif -%}
    {%- set listed = [] -%}
    {%- for value in values -%}
        {%- do listed.append(weblogs.sql_string(value)) -%}
    {%- endfor -%}
    {%- do checks.append(['accepted_values', column,
        "count(distinct case when " ~ column ~ " not in (" ~ listed | join(", ") ~ ") then " ~ column ~ " end)"]) -%}
{%- endfor -%}
{%- set key = weblogs.check_column_list('unique', unique) -%}
{%- if not checks and not key -%}
    {{ exceptions.raise_compiler_error("model_checks: give at least one of unique, not_null, ranges, accepted_values") }}
{%- endif %}
with
{% if checks %}
counted as (

    -- The column rules, counted in one scan of the model.
    select
        {%- for _rule, _column, count in checks %}
        {{ count }} as failures_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),
{% endif -%}
{% if key %}
duplicated as (

    select count(*) as failures_{{ checks | length + 1 }}
    from (
        select {{ key | join(', ') }}
        from {{ model }}
        where {% for column in key %}{{ column }} is not null{{ " and " if not loop.last }}{% endfor %}
        group by {{ key | join(', ') }}
        having count(*) > 1
    ) as duplicate_keys

),
{% endif %}
unpivoted as (

    -- One row per rule and column, against a VALUES list: a UNION of the counts would
    -- scan the model once per branch on Trino.
    select
        named.rule,
        named.column_name,
        case named.check_id
            {%- for _rule, _column, _count in checks %}
            when {{ loop.index }} then counted.failures_{{ loop.index }}
            {%- endfor %}
            {%- if key %}
            when {{ checks | length + 1 }} then duplicated.failures_{{ checks | length + 1 }}
            {%- endif %}
        end as failures
    from {{ "counted" if checks else "duplicated" }}
    {%- if checks and key %}
    cross join duplicated
    {%- endif %}
    cross join (
        values
        {%- for rule, column, _count in checks %}
            ({{ loop.index }}, '{{ rule }}', '{{ column }}'){{ "," if not loop.last or key }}
        {%- endfor %}
        {%- if key %}
            ({{ checks | length + 1 }}, 'unique', '{{ key | join(", ") }}')
        {%- endif %}
    ) as named (check_id, rule, column_name)

),

final as (

    select * from unpivoted
    where failures > 0

)

select * from final
{% endtest %}


{#- The column names of a comma-separated text argument of `model_checks` (none: no
    columns), each a lower-case name, else the run stops naming the argument. -#}
{% macro check_column_list(argument, text) %}
{%- if text is none -%}
    {{ return([]) }}
{%- endif -%}
{%- set names = (text | string).split(",") | map('trim') | select | list -%}
{%- if text is not string or not names -%}
    {{ exceptions.raise_compiler_error("model_checks: " ~ argument ~ " must be a comma-separated text of column names, got " ~ text) }}
{%- endif -%}
{%- set columns = [] -%}
{%- for name in names -%}
    {%- do columns.append(weblogs.check_column_name(name)) -%}
{%- endfor -%}
{{ return(columns) }}
{% endmacro %}


{#- The (column, value) pairs of a mapping argument of `model_checks` (none: no pairs),
    each column a lower-case name, else the run stops naming the argument. -#}
{% macro check_column_mapping(argument, mapping, shape) %}
{%- if mapping is none -%}
    {{ return([]) }}
{%- endif -%}
{%- if mapping is not mapping or not mapping -%}
    {{ exceptions.raise_compiler_error("model_checks: " ~ argument ~ " must be a non-empty mapping of column: " ~ shape ~ ", got " ~ mapping) }}
{%- endif -%}
{%- set pairs = [] -%}
{%- for column, value in mapping.items() -%}
    {%- do pairs.append([weblogs.check_column_name(column | string), value]) -%}
{%- endfor -%}
{{ return(pairs) }}
{% endmacro %}


{#- `column` when it is a lower-case column name (it is written into the test's SQL), else
    the run stops naming it. -#}
{% macro check_column_name(column) %}
{%- if not modules.re.fullmatch("[a-z_][a-z0-9_]*", column) -%}
    {{ exceptions.raise_compiler_error("model_checks: '" ~ column ~ "' is not a column name") }}
{%- endif -%}
{{ return(column) }}
{% endmacro %}
