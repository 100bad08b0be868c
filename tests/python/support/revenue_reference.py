"""Revenue, goals and audiences (docs/contract.md section 6) in plain Python.

Written from the contract's words, independently of the SQL: the tests compare the
marts dbt builds with what these functions compute from the same Parquet lake. The
sessions (deduplication, session split, section 4 columns) come from the section 4
reference; money is `decimal.Decimal` all the way, rounded once, half away from zero.
Also a seeded generator of raw API events with operating systems, countries and
values (half cents, nulls, values on other types) and pages for page goals.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Protocol

from acquisition_reference import (
    AcquisitionVars,
    Session,
    acquisition_events,
    page_path,
    sessions_in_window,
    simple_lower,
)
from dbt_helpers import mean2

CENT = Decimal("0.01")
#: The marts section 6 adds to or changes, and the key of each.
KEYS = {
    "engagement_metrics": ("session_id", "session_date"),
    "acquisition_metrics": ("session_date", "channel"),
    "goal_metrics": ("session_date", "goal"),
    "audience_metrics": ("session_date", "device_type", "os", "country"),
}
MODELS = tuple(KEYS)
DEFAULT_GOALS = (
    {"name": "purchase", "event_type": "purchase"},
    {"name": "signup", "event_type": "signup"},
)


@dataclass(frozen=True)
class RevenueVars:
    """The vars sections 4 and 6 read, with the contract's defaults."""

    conversion_goals: tuple[dict[str, str], ...] = DEFAULT_GOALS
    page_query_params: list[str] = field(default_factory=list)


def simple_upper(text: str) -> str:
    """Upper-case character by character (simple case mapping, like SQL `upper`: ß stays)."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def cents(amount: Decimal) -> Decimal:
    """Round once to 2 decimals, half away from zero (amounts are never negative)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def amount(value: Any) -> Decimal:
    """An event's `value` as stored (a Decimal; null adds 0)."""
    return Decimal(0) if value is None else Decimal(value)


def session_audience(s: Session) -> dict[str, Any]:
    """os, country and revenue of one session (section 6)."""
    first = s.rows[0]
    os_name = (first.get("os") or "").strip()
    country = (first.get("country") or "").strip()
    revenue = sum(
        (amount(r.get("value")) for r in s.rows if r["event_type"] == "purchase"), Decimal(0)
    )
    return {
        "os": simple_lower(os_name) or "unknown",
        "country": simple_upper(country) or "UNKNOWN",
        "revenue": cents(revenue),
    }


def completes(row: dict[str, Any], goal: dict[str, str], params: list[str]) -> bool:
    if "event_type" in goal:
        return row["event_type"] == goal["event_type"]
    return (
        row["event_type"] == "page_view" and page_path(row["page_url"], params) == goal["page_path"]
    )


def reference_revenue(
    lake: Path, start: str, end: str, v: RevenueVars | None = None
) -> dict[str, list[dict[str, Any]]]:
    """engagement_metrics' section 6 columns, acquisition revenue, goal and audience marts."""
    v = v or RevenueVars()
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    sessions = sessions_in_window(
        lake, d0, d1, AcquisitionVars(page_query_params=v.page_query_params)
    )
    audience = {s.session_id + str(s.session_date): session_audience(s) for s in sessions}

    def of(s: Session) -> dict[str, Any]:
        return audience[s.session_id + str(s.session_date)]

    engagement = [
        {"session_id": s.session_id, "session_date": s.session_date, **of(s)} for s in sessions
    ]
    by_channel: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    by_date: dict[date, list[Session]] = defaultdict(list)
    by_audience: dict[tuple[date, str, str, str], list[Session]] = defaultdict(list)
    for s in sessions:
        by_channel[(s.session_date, s.columns["channel"])] += of(s)["revenue"]
        by_date[s.session_date].append(s)
        device = s.rows[0]["device_type"]
        by_audience[(s.session_date, device, of(s)["os"], of(s)["country"])].append(s)
    acquisition = [
        {"session_date": day, "channel": name, "revenue": total}
        for (day, name), total in by_channel.items()
    ]

    goals = []
    for day, group in by_date.items():
        for goal in v.conversion_goals:
            done = [[r for r in s.rows if completes(r, goal, v.page_query_params)] for s in group]
            converted = sum(1 for rows in done if rows)
            value = sum((amount(r.get("value")) for rows in done for r in rows), Decimal(0))
            goals.append(
                {
                    "session_date": day,
                    "goal": goal["name"],
                    "sessions": len(group),
                    "converted_sessions": converted,
                    "completions": sum(len(rows) for rows in done),
                    "conversion_rate_pct": mean2(100 * converted, len(group)),
                    "value": cents(value),
                }
            )

    audiences = []
    for (day, device, os_name, country), group in by_audience.items():
        n = len(group)
        converted = sum(s.columns["converted"] for s in group)
        duration_ms = sum(
            round(
                (s.rows[-1]["event_timestamp"] - s.rows[0]["event_timestamp"]).total_seconds()
                * 1000
            )
            for s in group
        )
        audiences.append(
            {
                "session_date": day,
                "device_type": device,
                "os": os_name,
                "country": country,
                "sessions": n,
                "users": len({s.user_id for s in group}),
                "bounce_rate_pct": mean2(100 * sum(s.is_bounce for s in group), n),
                "avg_session_duration_seconds": mean2(duration_ms, n, 1000),
                "converted_sessions": converted,
                "conversion_rate_pct": mean2(100 * converted, n),
                "revenue": sum((of(s)["revenue"] for s in group), Decimal(0)),
            }
        )
    return {
        "engagement_metrics": engagement,
        "acquisition_metrics": acquisition,
        "goal_metrics": goals,
        "audience_metrics": audiences,
    }


class Tables(Protocol):
    def table(self, name: str, order_by: str) -> list[dict[str, Any]]: ...


def marts(
    project: Tables, models: tuple[str, ...] = MODELS
) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    out = {}
    for model in models:
        rows = project.table(model, ", ".join(KEYS[model]))
        out[model] = {tuple(r[k] for k in KEYS[model]): r for r in rows}
    return out


def assert_matches_reference(
    project: Tables,
    expected: dict[str, list[dict[str, Any]]],
    models: tuple[str, ...] = MODELS,
) -> None:
    """Every reference column equal; money exactly (Decimal), rates to 0.005."""
    got = marts(project, models)
    for model in models:
        want = {tuple(r[k] for k in KEYS[model]): r for r in expected[model]}
        assert sorted(got[model], key=str) == sorted(want, key=str), model
        for key, row in want.items():
            for column, value in row.items():
                other = got[model][key][column]
                if isinstance(value, Decimal):
                    assert isinstance(other, Decimal), (model, column, type(other))
                    assert other == value, (model, key, column, other, value)
                elif isinstance(value, float) and other is not None:
                    assert abs(other - value) <= 0.005, (model, key, column, other, value)
                else:
                    assert other == value, (model, key, column, other, value)


# --- Events that exercise section 6 ----------------------------------------------------

OPERATING_SYSTEMS = (None, "", "  ", "Windows", "windows ", "macOS", " iOS", "Android", "unknown",
                     "ÆON", "linux")  # fmt: skip
COUNTRIES = (None, "", "pt", "PT", " de ", "Us", "straße", "unknown", "gb")
#: Values as sent: half cents (2.675 is below 2.675 as a binary float), whole numbers,
#: many decimals, nulls and the contract's maximum.
VALUES = (19.99, 2.675, 0.125, 0.005, 10, 0, None, 1.1, 0.2, 33.333, 1000000000, 0.994999)


def revenue_events(first_day: date, days: int, sessions: int, seed: int) -> list[dict[str, Any]]:
    """The section 4 traffic with os, country and values added (seeded).

    Every copy of an event gets the same fields (the generator's duplicates stay
    duplicates). Purchases carry values most of the time, a few other events too
    (a goal's value counts them), and some sessions land on the goal pages.
    """
    rng = random.Random(seed)
    events = acquisition_events(first_day, days, sessions, seed)
    fields: dict[str, dict[str, Any]] = {}
    for raw in events:
        if raw["event_id"] not in fields:
            extra: dict[str, Any] = {}
            os_name, country = rng.choice(OPERATING_SYSTEMS), rng.choice(COUNTRIES)
            if os_name is not None:
                extra["os"] = os_name
            if country is not None:
                extra["country"] = country
            share = {"purchase": 0.9, "add_to_cart": 0.1, "page_view": 0.1}
            if rng.random() < share.get(raw["event_type"], 0):
                extra["value"] = rng.choice(VALUES)
            if raw["event_type"] == "click" and rng.random() < 0.2:
                extra["event_type"] = "signup"
            fields[raw["event_id"]] = extra
        raw.update(fields[raw["event_id"]])
    return events
