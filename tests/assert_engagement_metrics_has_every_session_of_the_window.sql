{#- The incremental mart holds exactly this run's sessions for the window's dates. -#}
with

sessions as (

    select * from {{ weblogs.run_sessions() }}

),

engagement as (

    select * from {{ ref('engagement_metrics') }}
    where {{ weblogs.in_window('session_date') }}

),

missing as (

    select
        sessions.session_id,
        'missing from engagement_metrics' as problem
    from sessions
    left join engagement
        on
            sessions.session_id = engagement.session_id
            and sessions.session_date = engagement.session_date
    where
        engagement.session_id is null
        or engagement.user_id <> sessions.user_id
        or engagement.total_events <> sessions.total_events
        or engagement.engagement_score <> sessions.engagement_score

),

extra as (

    select
        engagement.session_id,
        'stale row in engagement_metrics' as problem
    from engagement
    left join sessions
        on
            engagement.session_id = sessions.session_id
            and engagement.session_date = sessions.session_date
    where sessions.session_id is null

),

final as (

    select * from missing
    union all
    select * from extra

)

select * from final
