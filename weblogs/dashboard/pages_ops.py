"""The Loyalty and Data health pages (see `weblogs.dashboard.spec` for the format)."""

from __future__ import annotations

from weblogs.dashboard.spec import SESSIONS, Page, line

LOYALTY = Page(
    slug="loyalty",
    title="Loyalty",
    tables=("engagement_metrics", "loyalty_metrics", "loyalty_by_tier"),
    intro="Sessions and loyalty interactions by CRM tier in the range; members and "
    "ratings by tier over the models' whole window (loyalty_by_tier).",
    datasets={
        "tier_days": """
select
    sessions.session_date,
    coalesce(users.loyalty_tier, 'anonymous') as loyalty_tier,
    count(*) as sessions,
    sum(case when sessions.loyalty_interactions > 0 then 1 else 0 end) as loyal_sessions
from engagement_metrics as sessions
left join loyalty_metrics as users on sessions.user_id = users.user_id
group by 1, 2
""",
        "tiers": """
select
    loyalty_tier,
    users,
    loyalty_members,
    loyalty_member_pct,
    avg_rating
from loyalty_by_tier
""",
    },
    charts=[
        {
            "title": "Sessions per day by tier",
            "dataset": "tier_days",
            "group": ["session_date", "loyalty_tier"],
            "measures": {"sessions": SESSIONS},
            "vl": line("sessions", color="loyalty_tier"),
        },
    ],
    tables_shown=[
        {
            "title": "Tiers in the range",
            "dataset": "tier_days",
            "group": ["loyalty_tier"],
            "measures": {
                "sessions": SESSIONS,
                "loyalty_rate": {"ratio": ["loyal_sessions", "sessions"], "scale": [100, 1]},
            },
            "sort": "sessions",
        },
        {
            "title": "Members and ratings by tier (whole window, not filtered)",
            "dataset": "tiers",
            "columns": [
                "loyalty_tier",
                "users",
                "loyalty_members",
                "loyalty_member_pct",
                "avg_rating",
            ],
            "sort": "users",
        },
    ],
)

DATA_HEALTH = Page(
    slug="data-health",
    title="Data health",
    tables=("engagement_metrics", "session_anomalies", "weblogs_run_log"),
    intro="How fresh the marts are, the events left out of sessions by rule, and the last "
    "scheduled runs.",
    datasets={
        "freshness": """
select
    max(session_date) as newest_session_date,
    min(session_date) as oldest_session_date,
    count(*) as sessions
from engagement_metrics
""",
        "anomalies": """
select
    report_date as session_date,
    rule,
    count(*) as excluded_events
from session_anomalies
group by 1, 2
""",
        "runs": """
select
    run_date,
    arrivals_from,
    arrivals_to,
    coalesce(session_dates, '') as session_dates,
    recorded_at
from weblogs_run_log
order by recorded_at desc
limit 20
""",
    },
    charts=[
        {
            "title": "Events left out of sessions, per day and rule",
            "dataset": "anomalies",
            "group": ["session_date", "rule"],
            "measures": {"excluded_events": {"sum": "excluded_events"}},
            "vl": line("excluded_events", color="rule"),
        },
    ],
    tables_shown=[
        {
            "title": "Freshness (whole window)",
            "dataset": "freshness",
            "columns": ["newest_session_date", "oldest_session_date", "sessions"],
        },
        {
            "title": "Anomalies by rule",
            "dataset": "anomalies",
            "group": ["rule"],
            "measures": {"excluded_events": {"sum": "excluded_events"}},
            "sort": "excluded_events",
        },
        {
            "title": "Last scheduled runs (weblogs_run_log, not filtered)",
            "dataset": "runs",
            "columns": ["run_date", "arrivals_from", "arrivals_to", "session_dates", "recorded_at"],
            "sort": "recorded_at",
        },
    ],
)
