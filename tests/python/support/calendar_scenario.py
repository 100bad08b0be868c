"""The calendar scenario: 40 days of simulator traffic, late and messy, by the day it arrives.

Some events arrive 1, 3, 10 and 35 days after their own time, some session_ids
are used again on other days, some sessions stay alive for 36 hours. Shared by
the DuckDB calendar (tests/python/dbt/test_dbt_calendar.py) and the runner's
days on Trino (tests/python/trino/test_trino_calendar.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dbt_helpers import event

from weblogs.core.contract.timestamps import parse_timestamp
from weblogs.simulator.generator import TrafficGenerator

FIRST_DAY = date(2026, 8, 1)
DAYS = 40
LATENESS = (1, 3, 10, 35)


def day_traffic(index: int) -> list[dict[str, Any]]:
    """One day of simulator traffic (valid events, timestamps in ms), plus the messy cases."""
    day = FIRST_DAY + timedelta(days=index)
    generator = TrafficGenerator(
        seed=index,
        start=datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC),
        malformed_rate=0.0,
        duplicate_rate=0.03,
        users=25,
    )
    events = []
    for raw in generator.events(24):
        assert isinstance(raw, dict)
        raw = dict(raw)
        raw["timestamp"] = parse_timestamp(raw["timestamp"])
        events.append(raw)
    stamp = day.isoformat()
    if index % 6 == 0:  # a session_id used again two days later
        for when in (day, day + timedelta(days=2)):
            events += [
                event(f"reused-{index}", "page_view", f"{when}T07:00:00", "/", user_id="u-r"),
                event(f"reused-{index}", "review", f"{when}T07:02:00", "/r", user_id="u-r"),
            ]
    if index % 9 == 4:  # a session kept alive for 36 hours, an event every 3 hours
        start = datetime.fromisoformat(f"{stamp}T06:00:00")
        for i in range(13):
            at = (start + timedelta(hours=3 * i)).isoformat()
            events.append(event(f"endless-{index}", "scroll", at, f"/e/{i % 3}", user_id="u-e"))
    return events


def event_day(raw: dict[str, Any]) -> date:
    return datetime.fromtimestamp(raw["timestamp"] / 1000, tz=UTC).date()


def deliveries() -> dict[date, list[dict[str, Any]]]:
    """Events by the day they arrive: on their own day, or 1, 3, 10 or 35 days late."""
    plan: dict[date, list[dict[str, Any]]] = defaultdict(list)
    n = 0
    for index in range(DAYS):
        for raw in day_traffic(index):
            arrive = event_day(raw)
            if raw["session_id"].startswith(("reused", "endless")) is False and n % 11 == 5:
                arrive += timedelta(days=LATENESS[(n // 11) % len(LATENESS)])
            n += 1
            plan[max(arrive, FIRST_DAY + timedelta(days=index))].append(raw)
    return plan
