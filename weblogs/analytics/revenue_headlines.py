"""Headline queries of section 6 (revenue, goals, audiences) for `weblogs models` and the demo.

Kept apart from the other marts' headlines so each section's report reads as one
list; `dbt_build.report` prints them after those. Money columns are decimals
(docs/contract.md, section 6): sums stay exact.
"""

from __future__ import annotations

#: (title, SQL); `{schema}`, `{start}` and `{end}` are filled in as in `dbt_build.HEADLINES`.
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
               round(100.0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(value) as value
        from {schema}.goal_metrics where session_date between {start} and {end}
        group by goal order by goal
        """,
    ),
    (
        "audience_metrics (top 10 countries by sessions, over the window's days)",
        """
        select country, sum(sessions) as sessions, sum(converted_sessions) as converted,
               round(100.0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(revenue) as revenue
        from {schema}.audience_metrics where session_date between {start} and {end}
        group by country order by sessions desc, country limit 10
        """,
    ),
    (
        "audience_metrics (top 10 operating systems by sessions, over the window's days)",
        """
        select os, sum(sessions) as sessions, sum(converted_sessions) as converted,
               round(100.0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(revenue) as revenue
        from {schema}.audience_metrics where session_date between {start} and {end}
        group by os order by sessions desc, os limit 10
        """,
    ),
)
