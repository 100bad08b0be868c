{#- Incremental by session_date (macros/cross_db/materialization.sql). -#}
{{ config(**weblogs.range_incremental_config('session_date')) }}

{#-
    One row per session_date that has sessions and per goal of the var
    `conversion_goals` (zeros included); a run replaces the dates of its window.
    The goal rules: models/docs.md, goal_rules.
-#}
with

event_values as (

    select * from {{ weblogs.run_relation('int_session_event_values') }}

),

goals as (

    select * from {{ weblogs.conversion_goals_relation() }}

),

dates as (

    -- Every session has at least one event, so one row here: the sessions are counted
    -- from the event values, and a mart built alone reads the events once (Athena bills
    -- each scan), not once for the sessions and once for the values.
    select
        session_date,
        count(distinct session_id) as sessions
    from event_values
    group by session_date

),

completed as (

    -- A goal is either on an event type or on a page_view's page_path: each row joins once.
    select
        event_values.session_date,
        event_values.session_id,
        goals.goal,
        event_values.events,
        event_values.event_value
    from event_values
    inner join goals
        on event_values.event_type = goals.goal_event_type

    union all

    select
        event_values.session_date,
        event_values.session_id,
        goals.goal,
        event_values.events,
        event_values.event_value
    from event_values
    inner join goals
        on event_values.page_path = goals.goal_page_path

),

per_goal as (

    select
        session_date,
        goal,
        count(distinct session_id) as converted_sessions,
        cast(sum(events) as bigint) as completions,
        sum(event_value) as goal_value
    from completed
    group by session_date, goal

),

aggregated as (

    select
        dates.session_date,
        goals.goal,
        dates.sessions,
        coalesce(per_goal.converted_sessions, 0) as converted_sessions,
        coalesce(per_goal.completions, 0) as completions,
        {{ weblogs.exact_round2(
            '100 * coalesce(per_goal.converted_sessions, 0)', 'dates.sessions'
        ) }} as conversion_rate_pct,
        {{ weblogs.money_round2('coalesce(per_goal.goal_value, 0)') }} as value
    from dates
    cross join goals
    left join per_goal
        on
            dates.session_date = per_goal.session_date
            and goals.goal = per_goal.goal

),

final as (

    select * from aggregated

)

select
    {{ weblogs.partitioned_select_list([
        'session_date', 'goal', 'sessions', 'converted_sessions', 'completions',
        'conversion_rate_pct', 'value',
    ], 'session_date') }}
from final
