"""The Visitors and Goals pages (see `weblogs.dashboard.spec` for the format).

``daily_visitors`` has one row per session date, so over a range its visitors add up
to visitor-days (a visitor seen on two dates counts twice); new visitors add up
exactly, since a visitor is new on one date only. The labels say so.
"""

from __future__ import annotations

from typing import Any

from weblogs.dashboard.spec import SESSIONS, Page, line

IDENTIFIED_SHARE = {"ratio": ["identified_visitors", "visitors"], "scale": [100, 1]}
RETENTION = {"ratio": ["active_visitors", "cohort_visitors"], "scale": [100, 1]}
GOAL_RATE = {"ratio": ["converted_sessions", "sessions"], "scale": [100, 1]}
GOAL_VALUE = {"cents": "value_cents"}


def heat_map(x: str, y: str, value: str) -> dict[str, Any]:
    """A Vega-Lite heat map of ``value`` over ``x`` by ``y``, the value printed in each cell."""
    encoding = {
        "x": {"field": x, "type": "ordinal"},
        "y": {"field": y, "type": "ordinal"},
    }
    return {
        "encoding": encoding,
        "layer": [
            {
                "mark": "rect",
                "encoding": {"color": {"field": value, "type": "quantitative"}},
            },
            {
                "mark": {"type": "text", "baseline": "middle"},
                "encoding": {"text": {"field": value, "type": "quantitative"}},
            },
        ],
    }


VISITORS_PAGE = Page(
    slug="visitors",
    title="Visitors",
    tables=("daily_visitors", "retention_cohorts"),
    intro="New and returning visitors per day, the share of visitors identified by a "
    "user id, and the weekly retention of each cohort. Visitors over a range are "
    "visitor-days: a visitor seen on two dates counts twice.",
    datasets={
        "visitor_days": """
select
    session_date,
    visitors,
    new_visitors,
    returning_visitors,
    identified_visitors,
    sessions
from daily_visitors
""",
        "cohorts": """
select
    cast(cohort_week as varchar) as cohort_week,
    week_number,
    cohort_visitors,
    active_visitors
from retention_cohorts
""",
    },
    figures=[
        {
            "id": "new_visitors",
            "label": "New visitors",
            "dataset": "visitor_days",
            "measure": {"sum": "new_visitors"},
        },
        {
            "id": "returning_visitor_days",
            "label": "Returning visitor-days",
            "dataset": "visitor_days",
            "measure": {"sum": "returning_visitors"},
        },
        {
            "id": "identified_share",
            "label": "Identified share %",
            "dataset": "visitor_days",
            "measure": IDENTIFIED_SHARE,
        },
    ],
    charts=[
        {
            "title": "New visitors per day",
            "dataset": "visitor_days",
            "group": ["session_date"],
            "measures": {"new_visitors": {"sum": "new_visitors"}},
            "vl": line("new_visitors", title="new visitors"),
        },
        {
            "title": "Returning visitors per day",
            "dataset": "visitor_days",
            "group": ["session_date"],
            "measures": {"returning_visitors": {"sum": "returning_visitors"}},
            "vl": line("returning_visitors", title="returning visitors"),
        },
        {
            "title": "Retention % by cohort week and week number (whole window, not filtered)",
            "dataset": "cohorts",
            "group": ["cohort_week", "week_number"],
            "measures": {"retention_pct": RETENTION},
            "vl": heat_map("week_number", "cohort_week", "retention_pct"),
        },
    ],
    tables_shown=[
        {
            "title": "Visitors per day",
            "dataset": "visitor_days",
            "group": ["session_date"],
            "measures": {
                "visitors": {"sum": "visitors"},
                "new_visitors": {"sum": "new_visitors"},
                "returning_visitors": {"sum": "returning_visitors"},
                "identified_share": IDENTIFIED_SHARE,
                "sessions": SESSIONS,
            },
            "sort": "session_date",
        },
    ],
)

GOALS = Page(
    slug="goals",
    title="Goals",
    tables=("goal_metrics",),
    intro="Completions, converted sessions, conversion rate and value of each goal "
    "(conversion_goals) per day and over the range.",
    datasets={
        "goals": """
select
    session_date,
    goal,
    sessions,
    converted_sessions,
    completions,
    cast(round(value * 100) as bigint) as value_cents
from goal_metrics
""",
    },
    figures=[
        {
            "id": "completions",
            "label": "Goal completions",
            "dataset": "goals",
            "measure": {"sum": "completions"},
        },
        {"id": "goal_value", "label": "Goal value", "dataset": "goals", "measure": GOAL_VALUE},
    ],
    charts=[
        {
            "title": "Completions per day by goal",
            "dataset": "goals",
            "group": ["session_date", "goal"],
            "measures": {"completions": {"sum": "completions"}},
            "vl": line("completions", color="goal"),
        },
        {
            "title": "Conversion rate % per day by goal",
            "dataset": "goals",
            "group": ["session_date", "goal"],
            "measures": {"conversion_rate": GOAL_RATE},
            "vl": line("conversion_rate", color="goal", title="conversion rate %"),
        },
    ],
    tables_shown=[
        {
            "title": "Goals in the range",
            "dataset": "goals",
            "group": ["goal"],
            "measures": {
                "completions": {"sum": "completions"},
                "converted_sessions": {"sum": "converted_sessions"},
                "conversion_rate": GOAL_RATE,
                "value": GOAL_VALUE,
            },
            "sort": "completions",
        },
    ],
)
