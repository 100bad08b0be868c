{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        persist_docs=weblogs.persist_docs_config(),
    )
}}

{#-
    The run log of the scheduled run: one row per successful scheduled run
    (var run_date), with the arrivals it counted and the session dates it
    rebuilt. Built after every mart (the refs below), so dbt skips it when a
    model or an error-level test failed: the next scheduled run then counts
    the same arrivals again. Its latest `arrivals_to` is the watermark the
    next scheduled run starts from (macros/window/scheduled.sql). Range runs add nothing.
-#}
-- depends_on: {{ ref('engagement_metrics') }}
-- depends_on: {{ ref('session_metrics') }}
-- depends_on: {{ ref('loyalty_metrics') }}
-- depends_on: {{ ref('loyalty_by_tier') }}
-- depends_on: {{ ref('session_anomalies') }}
-- depends_on: {{ ref('acquisition_metrics') }}
-- depends_on: {{ ref('page_metrics') }}
{%- set window = weblogs.run_window() %}
{%- set recorded = window.mode == 'scheduled' and window.arrivals_from < window.arrivals_to %}

with

run as (

    select
        {% if recorded -%}
            {{ weblogs.date_literal(window.run_date) }} as run_date,
            {{ weblogs._timestamp_literal(window.arrivals_from) }} as arrivals_from,
            {{ weblogs._timestamp_literal(window.arrivals_to) }} as arrivals_to,
            cast({{ weblogs.sql_string(weblogs.date_runs_text(window.dates)) }} as varchar)
                as session_dates,
            {{ weblogs._timestamp_literal(run_started_at) }} as recorded_at
        {%- else -%}
            cast(null as date) as run_date,
            cast(null as timestamp) as arrivals_from,
            cast(null as timestamp) as arrivals_to,
            cast(null as varchar) as session_dates,
            cast(null as timestamp) as recorded_at
        {%- endif %}

),

final as (

    select * from run
    where {{ 'run_date is not null' if recorded else '1 = 0' }}

)

select * from final
