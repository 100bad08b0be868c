"""How a dashboard page is described, as data: what it reads, its figures and charts.

Each page names the marts it reads (shown on the page and listed in its dbt exposure,
models/semantic/_semantic.yml), the datasets it embeds (SQL over those marts, one row per
session date and dimension, so the browser can filter any date range and recompute
every figure exactly), and the figures, charts and tables the browser draws from them.
A measure is one of:

- ``{"sum": column}``: a sum over the rows in the range;
- ``{"cents": column}``: a sum of whole cents shown in currency units (revenue, goal
  value): integer sums stay exact in the browser, where a sum of decimals would not;
- ``{"distinct": column}``: distinct values over the rows in the range (visitors);
- ``{"ratio": [num, den], "scale": [a, b]}``: ``a * sum(num) / (b * sum(den))``, rounded
  half up to 2 decimals as the marts' ``exact_round2`` does (docs/analytics.md).

The definitions mirror the semantic layer (models/semantic/_semantic.yml); tests/python/dbt/test_dashboard.py holds the
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
REVENUE = {"cents": "revenue_cents"}


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
