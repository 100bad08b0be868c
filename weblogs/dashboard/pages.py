"""The dashboard pages, in the order of the site's navigation (docs/dashboards.md).

Traffic pages here; loyalty and data health in `weblogs.dashboard.pages_ops`. How a
page is described (datasets, figures, charts, tables) is in `weblogs.dashboard.spec`.
"""

from __future__ import annotations

from weblogs.dashboard.pages_ops import DATA_HEALTH, LOYALTY
from weblogs.dashboard.pages_people import GOALS, VISITORS_PAGE
from weblogs.dashboard.spec import (
    AVG_ENGAGEMENT,
    BOUNCE_RATE,
    CONVERSION_RATE,
    PURCHASES,
    REVENUE,
    SESSIONS,
    VISITORS,
    Page,
    bar,
    line,
)

SESSION_FACTS = """
select
    session_date,
    count(*) as sessions,
    sum(case when is_bounce then 1 else 0 end) as bounces,
    sum(case when converted then 1 else 0 end) as conversions,
    cast(sum(round(engagement_score * 100)) as bigint) as engagement_hundredths,
    sum(purchases) as purchases,
    cast(sum(round(revenue * 100)) as bigint) as revenue_cents
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
    intro="Sessions, visitors, bounce and conversion rates, purchases and revenue in the range, "
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
        {"id": "revenue", "label": "Revenue", "dataset": "daily", "measure": REVENUE},
    ],
    charts=[
        {
            "title": "Sessions per day, this period vs the previous one",
            "dataset": "daily",
            "compare": True,
            "measures": {"sessions": SESSIONS},
        },
        {
            "title": "Revenue per day, this period vs the previous one",
            "dataset": "daily",
            "compare": True,
            "measures": {"revenue": REVENUE},
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
    intro="Channels over time, conversion, purchases and revenue by channel, and UTM campaigns.",
    datasets={
        "channels": """
select
    session_date,
    channel,
    sessions,
    converted_sessions as conversions,
    purchases,
    cast(round(revenue * 100) as bigint) as revenue_cents
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
group by 1, 2, 3, 4
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
        {
            "title": "Revenue by channel",
            "dataset": "channels",
            "group": ["channel"],
            "measures": {"revenue": REVENUE},
            "vl": bar("revenue", "channel"),
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
                "revenue": REVENUE,
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

#: Exact over any range: the marts' milliseconds over 1000 per timed view (time on page).
TIME_ON_PAGE = {"ratio": ["time_on_page_milliseconds", "timed_page_views"], "scale": [1, 1000]}
EXIT_RATE = {"ratio": ["exits", "page_views"], "scale": [100, 1]}

PAGES = Page(
    slug="pages",
    title="Pages",
    tables=("page_metrics",),
    intro="Top pages by views, with entrances, exits, exit rate and time on page. Time on "
    "page is the mean, in seconds, over the views that have one (not a session's last event).",
    datasets={
        "pages": """
select
    session_date,
    page_path,
    page_views,
    entrances,
    exits,
    timed_page_views,
    time_on_page_milliseconds
from page_metrics
""",
    },
    figures=[
        {
            "id": "page_views",
            "label": "Page views",
            "dataset": "pages",
            "measure": {"sum": "page_views"},
        },
        {
            "id": "entrances",
            "label": "Entrances",
            "dataset": "pages",
            "measure": {"sum": "entrances"},
        },
        {"id": "exit_rate", "label": "Exit rate %", "dataset": "pages", "measure": EXIT_RATE},
        {
            "id": "time_on_page",
            "label": "Avg time on page (s)",
            "dataset": "pages",
            "measure": TIME_ON_PAGE,
        },
    ],
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
                "exit_rate": EXIT_RATE,
                "avg_time_on_page_seconds": TIME_ON_PAGE,
            },
            "sort": "page_views",
            "limit": 50,
        },
    ],
)

AUDIENCE = Page(
    slug="audience",
    title="Audience",
    tables=("audience_metrics",),
    intro="Sessions, conversion and revenue by device type, operating system and country.",
    datasets={
        "audience": """
select
    session_date,
    device_type,
    os,
    country,
    sessions,
    converted_sessions as conversions,
    cast(round(revenue * 100) as bigint) as revenue_cents
from audience_metrics
""",
    },
    charts=[
        {
            "title": f"Sessions by {dimension.replace('_', ' ')}",
            "dataset": "audience",
            "group": [dimension],
            "measures": {"sessions": SESSIONS},
            "limit": 15,
            "vl": bar("sessions", dimension),
        }
        for dimension in ("device_type", "os", "country")
    ],
    tables_shown=[
        {
            "title": "Device types, operating systems and countries",
            "dataset": "audience",
            "group": ["device_type", "os", "country"],
            "measures": {
                "sessions": SESSIONS,
                "conversion_rate": CONVERSION_RATE,
                "revenue": REVENUE,
            },
            "sort": "sessions",
            "limit": 50,
        },
    ],
)


#: Every page, in the order of the site's navigation.
ALL_PAGES = (OVERVIEW, ACQUISITION, PAGES, AUDIENCE, VISITORS_PAGE, GOALS, LOYALTY, DATA_HEALTH)
