"""The Loyalty and Data health pages (see `weblogs.dashboard.spec` for the format)."""

from __future__ import annotations

from weblogs.dashboard.spec import SESSIONS, Page, line

#: Bot sessions per date next to the marts' sessions, as `weblogs models` counts them
#: (weblogs/analytics/headlines.py): a bot session is one (date, session id) of
#: session_anomalies with the rule bot_browser; it is in no mart.
BOT_DAYS = """
with bots as (
    select
        report_date as session_date,
        count(distinct session_id) as bot_sessions
    from session_anomalies
    where rule = 'bot_browser'
    group by report_date
),

counted as (
    select
        session_date,
        count(*) as sessions
    from engagement_metrics
    group by session_date
)

select
    coalesce(counted.session_date, bots.session_date) as session_date,
    coalesce(bots.bot_sessions, 0) as bot_sessions,
    coalesce(counted.sessions, 0) + coalesce(bots.bot_sessions, 0) as all_sessions
from counted
full outer join bots on counted.session_date = bots.session_date
"""
BOTS = {"sum": "bot_sessions"}
BOT_SHARE = {"ratio": ["bot_sessions", "all_sessions"], "scale": [100, 1]}

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
    intro="How fresh the marts are, the share of sessions left out as bots (rule "
    "bot_browser), the events left out of sessions by rule, and the last scheduled runs.",
    datasets={
        "freshness": """
select
    max(session_date) as newest_session_date,
    min(session_date) as oldest_session_date,
    count(*) as sessions
from engagement_metrics
""",
        "bots": BOT_DAYS,
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
    figures=[
        {"id": "bot_sessions", "label": "Bot sessions", "dataset": "bots", "measure": BOTS},
        {"id": "bot_share", "label": "Bot share %", "dataset": "bots", "measure": BOT_SHARE},
    ],
    charts=[
        {
            "title": "Bot share % of all sessions per day",
            "dataset": "bots",
            "group": ["session_date"],
            "measures": {"bot_share": BOT_SHARE},
            "vl": line("bot_share", title="bot share %"),
        },
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
