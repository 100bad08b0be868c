{{ config(persist_docs=weblogs.persist_docs_config()) }}

-- MetricFlow's day spine (docs/dashboards.md): one row per day, 2020-01-01 through
-- 2040-12-31 (7671 days). A view: only MetricFlow's gap-filling and cumulative
-- metrics read it. Built from digits, not dbt.date_spine, which queries the warehouse
-- while compiling (the Athena compile runs offline).

with

digits as (

    select digit
    from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as t (digit)

),

day_numbers as (

    select
        ones.digit
        + 10 * tens.digit
        + 100 * hundreds.digit
        + 1000 * thousands.digit as day_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands

),

final as (

    select
        cast({{ dbt.dateadd('day', 'day_number', "cast('2020-01-01' as date)") }} as date)
            as date_day
    from day_numbers
    where day_number < 7671

)

select * from final
