{{ config(**weblogs.range_incremental_config('report_date', by_session=true)) }}

{#-
    The events left out of every session, with the rule that applied: one row
    per event of a session_id kept alive for 24 hours or more, past its
    session's first 24 hours. Whether an event on day E is excluded depends on
    the two days before it, so a run reports the excluded events of the day
    after each of its session dates: `report_date` = the event's date - 1 day,
    and a run replaces the report dates of its window like the other
    incremental marts. The events of a bot session (docs/contract.md,
    section 7) are reported with the rule `bot_browser` on their session's
    date (`report_date` = `session_date`), decided by the run of that date.
-#}
with

session_events as (

    select * from {{ weblogs.run_relation('int_session_events') }}

),

excluded as (

    select
        case
            when is_bot_session then cast(session_start_at as date)
            else cast(event_timestamp - interval '1' day as date)
        end as report_date,
        session_id,
        event_id,
        user_id,
        event_type,
        event_timestamp,
        case
            when is_bot_session then 'bot_browser'
            else 'event_more_than_24_hours_after_its_session_start'
        end as rule,
        {{ weblogs.touched_flag() }} as in_touched_session
    from session_events
    where not in_session

),

final as (

    select * from excluded
    where {{ weblogs.in_rebuilt('report_date', 'in_touched_session') }}

)

select
    {{ weblogs.partitioned_select_list([
        'report_date', 'session_id', 'event_id', 'user_id', 'event_type', 'event_timestamp', 'rule',
    ], 'report_date') }}
from final
