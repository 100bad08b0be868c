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


{#- Every non-null value of the column is within [min_value, max_value]. -#}
{% test accepted_range(model, column_name, min_value, max_value) %}

with

source as (

    select {{ column_name }} as value from {{ model }}

),

final as (

    select * from source
    where value < {{ min_value }} or value > {{ max_value }}

)

select * from final

{% endtest %}
