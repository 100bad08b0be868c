{#-
    The events of the run: read from the partitions of the days the run reads
    (each session date of the window and one day either side), one row per
    event_id (the earliest ingested copy wins). The partition
    predicate sits directly on the source so both engines prune partitions
    before reading a file.
-#}
{{ config(materialized='ephemeral') }}

with

source as (

    select * from {{ weblogs.event_files(source('weblogs', 'events')) }}
    where {{ weblogs.event_partition_filter() }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by
                ingested_at asc,
                event_timestamp asc,
                session_id asc,
                user_id asc,
                event_type asc,
                page_url asc
        ) as copy_rank
    from source

),

final as (

    select
        cast(event_id as varchar) as event_id,
        cast(session_id as varchar) as session_id,
        cast(user_id as varchar) as user_id,
        cast(is_anonymous_user as boolean) as is_anonymous_user,
        lower(trim(event_type)) as event_type,
        cast(page_url as varchar) as page_url,
        cast(referrer as varchar) as referrer,
        cast(event_timestamp as timestamp) as event_timestamp,
        coalesce(nullif(lower(trim(device_type)), ''), 'unknown') as device_type,
        coalesce(nullif(lower(trim(browser)), ''), 'unknown') as browser,
        cast(os as varchar) as os,
        cast(country as varchar) as country,
        cast(extra_attributes as varchar) as extra_attributes,
        cast(ingested_at as timestamp) as ingested_at,
        cast(year as varchar) as partition_year,
        cast(month as varchar) as partition_month,
        cast(day as varchar) as partition_day,
        cast(hour as varchar) as partition_hour
    from ranked
    where copy_rank = 1

)

select * from final
