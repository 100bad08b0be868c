{{ config(persist_docs=weblogs.persist_docs_config()) }}

-- MetricFlow's day spine (docs/dashboards.md): one row per day, 2020 through 2040.
-- A view: nothing reads it but MetricFlow's gap-filling and cumulative metrics.

with

days as (

    {{ dbt.date_spine(
        'day',
        "cast('2020-01-01' as date)",
        "cast('2041-01-01' as date)",
    ) }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
