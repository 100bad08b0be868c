"""The headline queries `weblogs models` and the demo print after a build, one per mart
(sections 3-7 of docs/contract.md), read through the target's own connection.

`HEADLINES` are the marts of sections 3-5 and 7; `REVENUE_HEADLINES` those of section 6
(money columns are decimals, so sums stay exact); `dbt_build.report` prints them in that
order.
"""

from __future__ import annotations

#: The headline query of each mart: (title, SQL); `{schema}` is the target's schema,
#: `{start}`/`{end}` the window's dates as date literals (validated dates, never text).
#: A share is `100e0 * part / whole`, in double: on Trino and Athena `100.0` is a decimal
#: of scale 1 and the quotient would keep that scale (17.6 for 300/17, not 17.65).
HEADLINES: tuple[tuple[str, str], ...] = (
    (
        "engagement_metrics (sessions in the window)",
        """
        select count(*) as sessions, count(distinct user_id) as users,
               round(avg(session_duration_seconds), 2) as avg_duration_s,
               round(100.0 * avg(case when is_bounce then 1 else 0 end), 2) as bounce_pct,
               round(avg(engagement_score), 2) as avg_engagement,
               coalesce(sum(loyalty_interactions), 0) as loyalty_interactions
        from {schema}.engagement_metrics where session_date between {start} and {end}
        """,
    ),
    (
        "session_metrics (by device, over the window's days)",
        """
        select device_type, sum(sessions) as sessions,
               round(sum(bounce_rate_pct * sessions) / sum(sessions), 2) as bounce_pct,
               round(sum(avg_session_duration_seconds * sessions) / sum(sessions), 2)
                   as avg_duration_s,
               round(sum(avg_engagement_score * sessions) / sum(sessions), 2) as avg_engagement
        from {schema}.session_metrics where session_date between {start} and {end}
        group by device_type order by sessions desc, device_type
        """,
    ),
    (
        "loyalty_metrics (known users in the window)",
        """
        select count(*) as users, count(customer_id) as in_crm,
               sum(case when is_loyalty_member then 1 else 0 end) as members,
               sum(sessions) as sessions, round(avg(engagement_score), 2) as avg_engagement,
               round(avg(loyalty_rate_pct), 2) as avg_loyalty_rate_pct,
               sum(ratings_count) as ratings
        from {schema}.loyalty_metrics
        """,
    ),
    (
        "loyalty_by_tier",
        """
        select loyalty_tier, users, loyalty_members, loyalty_member_pct, avg_engagement_score,
               loyalty_rate_pct, avg_rating
        from {schema}.loyalty_by_tier
        order by case loyalty_tier when 'gold' then 1 when 'silver' then 2
                 when 'bronze' then 3 else 4 end
        """,
    ),
    (
        "acquisition_metrics (by channel, over the window's days)",
        """
        select channel, sum(sessions) as sessions,
               sum(add_to_cart_sessions) as add_to_cart, sum(checkout_sessions) as checkout,
               sum(converted_sessions) as converted,
               round(100e0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(purchases) as purchases
        from {schema}.acquisition_metrics where session_date between {start} and {end}
        group by channel order by sessions desc, channel
        """,
    ),
    (
        "page_metrics (top 10 pages by views, over the window's days)",
        """
        select page_path, sum(page_views) as page_views, sum(entrances) as entrances,
               sum(exits) as exits,
               round(100e0 * sum(exits) / sum(page_views), 2) as exit_pct,
               round(cast(sum(time_on_page_milliseconds) as double)
                     / nullif(1000 * sum(timed_page_views), 0), 2) as time_on_page_s
        from {schema}.page_metrics where session_date between {start} and {end}
        group by page_path order by page_views desc, page_path limit 10
        """,
    ),
    (
        "bot sessions (left out of every mart, over the window's days)",
        """
        with bots as (
            select count(*) as bot_sessions
            from (
                select distinct report_date, session_id from {schema}.session_anomalies
                where rule = 'bot_browser' and report_date between {start} and {end}
            ) as bot_session_dates
        ),
        counted as (
            select count(*) as sessions from {schema}.engagement_metrics
            where session_date between {start} and {end}
        )
        select bot_sessions, sessions + bot_sessions as all_sessions,
               coalesce(round(100e0 * bot_sessions / nullif(sessions + bot_sessions, 0), 2), 0)
                   as bot_share_pct
        from bots cross join counted
        """,
    ),
    (
        "visitors (users: every session date held; new and returning: the window's days;"
        " retention: last week's cohort in its second week)",
        """
        select held.visitors, days.new_visitors, days.returning_visitors,
               held.identified_pct, cohort.cohort_week as last_week_cohort,
               cohort.retention_pct as week_1_retention_pct
        from (
            select count(*) as visitors,
                   round(100.0 * avg(case when is_identified then 1 else 0 end), 2)
                       as identified_pct
            from {schema}.users
        ) as held
        cross join (
            select coalesce(sum(new_visitors), 0) as new_visitors,
                   coalesce(sum(returning_visitors), 0) as returning_visitors
            from {schema}.daily_visitors where session_date between {start} and {end}
        ) as days
        left join (
            select cohort_week, retention_pct from {schema}.retention_cohorts
            where week_number = 1 order by cohort_week desc limit 1
        ) as cohort on true
        """,
    ),
)


#: (title, SQL); `{schema}`, `{start}` and `{end}` are filled in as in `HEADLINES`.
REVENUE_HEADLINES: tuple[tuple[str, str], ...] = (
    (
        "revenue by channel (acquisition_metrics, over the window's days)",
        """
        select channel, sum(sessions) as sessions, sum(converted_sessions) as converted,
               sum(revenue) as revenue,
               cast(sum(revenue) / sum(sessions) as decimal(38, 2)) as revenue_per_session
        from {schema}.acquisition_metrics where session_date between {start} and {end}
        group by channel order by revenue desc, sessions desc, channel
        """,
    ),
    (
        "goal_metrics (goal conversion rates, over the window's days)",
        """
        select goal, sum(sessions) as sessions, sum(converted_sessions) as converted,
               sum(completions) as completions,
               round(100e0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(value) as value
        from {schema}.goal_metrics where session_date between {start} and {end}
        group by goal order by goal
        """,
    ),
    (
        "audience_metrics (top 10 countries by sessions, over the window's days)",
        """
        select country, sum(sessions) as sessions, sum(converted_sessions) as converted,
               round(100e0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(revenue) as revenue
        from {schema}.audience_metrics where session_date between {start} and {end}
        group by country order by sessions desc, country limit 10
        """,
    ),
    (
        "audience_metrics (top 10 operating systems by sessions, over the window's days)",
        """
        select os, sum(sessions) as sessions, sum(converted_sessions) as converted,
               round(100e0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(revenue) as revenue
        from {schema}.audience_metrics where session_date between {start} and {end}
        group by os order by sessions desc, os limit 10
        """,
    ),
)
