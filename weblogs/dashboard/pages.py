"""The dashboard pages, as data: what each page reads, its headline figures and charts.

Each page names the marts it reads (shown on the page and listed in the dbt exposure,
models/marts/_marts.yml), the datasets it embeds (SQL over those marts, one row per
session date and dimension, so the browser can filter any date range and recompute
every figure exactly), and the figures, charts and tables the browser draws from them.
A measure is one of:

- ``{"sum": column}``: a sum over the rows in the range;
- ``{"distinct": column}``: distinct values over the rows in the range (visitors);
- ``{"ratio": [num, den], "scale": [a, b]}``: ``a * sum(num) / (b * sum(den))``, rounded
  half up to 2 decimals as the marts' ``exact_round2`` does (docs/analytics.md).

The definitions mirror the semantic layer (models/marts/_semantic.yml); a test holds the
figures shown, the marts' own and MetricFlow's answers equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The measures shared by the Overview and the acquisition tables: the metric definitions.
SESSIONS = {"sum": "sessions"}
VISITORS = {"distinct": "visitor"}
BOUNCE_RATE = {"ratio": ["bounces", "sessions"], "scale": [100, 1]}
CONVERSION_RATE = {"ratio": ["conversions", "sessions"], "scale": [100, 1]}
AVG_ENGAGEMENT = {"ratio": ["engagement_hundredths", "sessions"], "scale": [1, 100]}
PURCHASES = {"sum": "purchases"}


@dataclass(frozen=True)
class Page:
    """One page of the site: ``slug`` is its URL path (``""`` is the Overview)."""

    slug: str
    title: str
    tables: tuple[str, ...]
    intro: str
    datasets: dict[str, str]
    figures: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    tables_shown: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The page's URL path in the built site."""
        return f"/{self.slug}/" if self.slug else "/"


def line(y: str, color: str | None = None, title: str = "") -> dict[str, Any]:
    """A Vega-Lite line chart of ``y`` per session date (one line per ``color``)."""
    encoding: dict[str, Any] = {
        "x": {"field": "session_date", "type": "temporal", "title": "session date"},
        "y": {"field": y, "type": "quantitative", "title": title or y},
    }
    if color:
        encoding["color"] = {"field": color, "type": "nominal"}
    return {"mark": {"type": "line", "point": True}, "encoding": encoding}


def bar(x: str, y: str) -> dict[str, Any]:
    """A horizontal Vega-Lite bar chart of ``x`` by category ``y``, largest first."""
    return {
        "mark": "bar",
        "encoding": {
            "x": {"field": x, "type": "quantitative"},
            "y": {"field": y, "type": "nominal", "sort": "-x"},
        },
    }


SESSION_FACTS = """
select
    session_date,
    count(*) as sessions,
    sum(case when is_bounce then 1 else 0 end) as bounces,
    sum(case when converted then 1 else 0 end) as conversions,
    cast(sum(round(engagement_score * 100)) as bigint) as engagement_hundredths,
    sum(purchases) as purchases
from engagement_metrics
group by session_date
"""

VISITOR_DAYS = """
select distinct
    session_date,
    dense_rank() over (order by user_id) as visitor
from engagement_metrics
"""

OVERVIEW = Page(
    slug="",
    title="Overview",
    tables=("engagement_metrics",),
    intro="Sessions, visitors, bounce and conversion rates and purchases in the range, "
    "against the previous period of the same length.",
    datasets={"daily": SESSION_FACTS, "visitor_days": VISITOR_DAYS},
    figures=[
        {"id": "sessions", "label": "Sessions", "dataset": "daily", "measure": SESSIONS},
        {"id": "visitors", "label": "Visitors", "dataset": "visitor_days", "measure": VISITORS},
        {"id": "bounce_rate", "label": "Bounce rate %", "dataset": "daily", "measure": BOUNCE_RATE},
        {
            "id": "conversion_rate",
            "label": "Conversion rate %",
            "dataset": "daily",
            "measure": CONVERSION_RATE,
        },
        {
            "id": "avg_engagement",
            "label": "Avg engagement",
            "dataset": "daily",
            "measure": AVG_ENGAGEMENT,
        },
        {"id": "purchases", "label": "Purchases", "dataset": "daily", "measure": PURCHASES},
    ],
    charts=[
        {
            "title": "Sessions per day, this period vs the previous one",
            "dataset": "daily",
            "compare": True,
            "measures": {"sessions": SESSIONS},
        },
        {
            "title": "Conversion rate % per day",
            "dataset": "daily",
            "group": ["session_date"],
            "measures": {"conversion_rate": CONVERSION_RATE, "bounce_rate": BOUNCE_RATE},
            "vl": line("conversion_rate", title="conversion rate %"),
        },
    ],
)

ACQUISITION = Page(
    slug="acquisition",
    title="Acquisition",
    tables=("acquisition_metrics", "engagement_metrics"),
    intro="Channels over time, conversion and purchases by channel, and UTM campaigns.",
    datasets={
        "channels": """
select
    session_date,
    channel,
    sessions,
    converted_sessions as conversions,
    purchases
from acquisition_metrics
""",
        "campaigns": """
select
    session_date,
    coalesce(utm_source, '(none)') as utm_source,
    coalesce(utm_medium, '(none)') as utm_medium,
    coalesce(utm_campaign, '(none)') as utm_campaign,
    count(*) as sessions,
    sum(case when converted then 1 else 0 end) as conversions
from engagement_metrics
where utm_campaign is not null
group by all
""",
    },
    charts=[
        {
            "title": "Sessions per day by channel",
            "dataset": "channels",
            "group": ["session_date", "channel"],
            "measures": {"sessions": SESSIONS},
            "vl": line("sessions", color="channel"),
        },
        {
            "title": "Conversion rate % by channel",
            "dataset": "channels",
            "group": ["channel"],
            "measures": {"conversion_rate": CONVERSION_RATE},
            "vl": bar("conversion_rate", "channel"),
        },
    ],
    tables_shown=[
        {
            "title": "Channels",
            "dataset": "channels",
            "group": ["channel"],
            "measures": {
                "sessions": SESSIONS,
                "conversion_rate": CONVERSION_RATE,
                "purchases": PURCHASES,
            },
            "sort": "sessions",
        },
        {
            "title": "UTM campaigns",
            "dataset": "campaigns",
            "group": ["utm_source", "utm_medium", "utm_campaign"],
            "measures": {"sessions": SESSIONS, "conversion_rate": CONVERSION_RATE},
            "sort": "sessions",
        },
    ],
)

PAGES = Page(
    slug="pages",
    title="Pages",
    tables=("page_metrics",),
    intro="Top pages by views, with entrances, exits and exit rate.",
    datasets={
        "pages": """
select
    session_date,
    page_path,
    page_views,
    entrances,
    exits
from page_metrics
""",
    },
    charts=[
        {
            "title": "Top pages by views",
            "dataset": "pages",
            "group": ["page_path"],
            "measures": {"page_views": {"sum": "page_views"}},
            "limit": 15,
            "vl": bar("page_views", "page_path"),
        },
    ],
    tables_shown=[
        {
            "title": "Pages",
            "dataset": "pages",
            "group": ["page_path"],
            "measures": {
                "page_views": {"sum": "page_views"},
                "entrances": {"sum": "entrances"},
                "exits": {"sum": "exits"},
                "exit_rate": {"ratio": ["exits", "page_views"], "scale": [100, 1]},
            },
            "sort": "page_views",
            "limit": 50,
        },
    ],
)

AUDIENCE = Page(
    slug="audience",
    title="Audience",
    tables=("session_metrics",),
    intro="Sessions by device type and browser. (OS and country arrive with "
    "docs/contract.md section 6.)",
    datasets={
        "devices": """
select
    session_date,
    device_type,
    browser,
    sessions
from session_metrics
""",
    },
    charts=[
        {
            "title": "Sessions by device type",
            "dataset": "devices",
            "group": ["device_type"],
            "measures": {"sessions": SESSIONS},
            "vl": bar("sessions", "device_type"),
        },
        {
            "title": "Sessions by browser",
            "dataset": "devices",
            "group": ["browser"],
            "measures": {"sessions": SESSIONS},
            "vl": bar("sessions", "browser"),
        },
    ],
    tables_shown=[
        {
            "title": "Device types and browsers",
            "dataset": "devices",
            "group": ["device_type", "browser"],
            "measures": {"sessions": SESSIONS},
            "sort": "sessions",
        },
    ],
)

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
group by all
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
    count(*) as events
from session_anomalies
group by all
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
            "measures": {"events": {"sum": "events"}},
            "vl": line("events", color="rule"),
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
            "measures": {"events": {"sum": "events"}},
            "sort": "events",
        },
        {
            "title": "Last scheduled runs (weblogs_run_log, not filtered)",
            "dataset": "runs",
            "columns": ["run_date", "arrivals_from", "arrivals_to", "session_dates", "recorded_at"],
            "sort": "recorded_at",
        },
    ],
)

#: Every page, in the order of the site's navigation.
ALL_PAGES = (OVERVIEW, ACQUISITION, PAGES, AUDIENCE, LOYALTY, DATA_HEALTH)
