"""Visitors, users and retention (docs/contract.md section 5) in plain Python.

Written from the contract's words, independently of the SQL: the session's
`client_id` and `visitor_key`, identity stitching over every session held, and the
tables `users`, `daily_visitors` and `retention_cohorts`, computed from the same
Parquet lake for the session dates the marts hold.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from acquisition_reference import AcquisitionVars, sessions_in_window
from dbt_helpers import mean2
from privacy_reference import is_bot_browser, redact_url


def visitor_sessions(lake: Path, start: str, end: str) -> list[dict[str, Any]]:
    """Every session of [start, end] with the columns section 5 reads."""
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    found = []
    for s in sessions_in_window(lake, d0, d1, AcquisitionVars()):
        rows = s.rows  # in session order
        if is_bot_browser(rows[0]["browser"]):
            continue  # a bot session is in no table (docs/contract.md, section 7)
        anonymous = all(r["is_anonymous_user"] for r in rows)
        client = next((r["client_id"] for r in rows if r.get("client_id") is not None), None)
        if not anonymous:
            key = "u:" + s.user_id
        elif client is not None:
            key = "c:" + client
        else:
            key = "s:" + s.user_id
        found.append(
            {
                "session_id": s.session_id,
                "session_date": s.session_date,
                "user_id": s.user_id,
                "is_anonymous": anonymous,
                "client_id": client,
                "visitor_key": key,
                "session_start": rows[0]["event_timestamp"],
                "session_end": rows[-1]["event_timestamp"],
                "page_views": sum(r["event_type"] == "page_view" for r in rows),
                "total_events": len(rows),
                "score_hundredths": s.score_hundredths,
                "channel": s.columns["channel"],
                "landing_page_path": s.columns["landing_page_path"],
                "converted": s.columns["converted"],
                "purchases": s.columns["purchases"],
            }
        )
    return found


def _order(session: dict[str, Any]) -> tuple[Any, str]:
    return (session["session_start"], session["session_id"])


def identity_map(sessions: list[dict[str, Any]]) -> dict[str, str]:
    """client_id -> the user of its last non-anonymous session (session_start, session_id)."""
    stitched: dict[str, str] = {}
    for s in sorted(sessions, key=_order):
        if not s["is_anonymous"] and s["client_id"] is not None:
            stitched[s["client_id"]] = s["user_id"]
    return stitched


def crm_tiers(lake: Path) -> dict[str, str]:
    path = lake / "crm" / "customers.csv"
    if not path.is_file():
        return {}
    tiers: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            user = row["user_id"].strip()
            tier = row["loyalty_tier"].strip().lower() or "none"
            tiers[user] = min(tier, tiers.get(user, tier))
    return tiers


def reference_visitors(lake: Path, start: str, end: str) -> dict[str, list[dict[str, Any]]]:
    """`users`, `daily_visitors`, `retention_cohorts` (and `identity_map`) when the marts
    hold the session dates [start, end]."""
    sessions = visitor_sessions(lake, start, end)
    stitched = identity_map(sessions)
    for s in sessions:
        client = s["client_id"]
        s["visitor_id"] = (
            "u:" + stitched[client]
            if s["visitor_key"].startswith("c:") and client in stitched
            else s["visitor_key"]
        )
    by_visitor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        by_visitor[s["visitor_id"]].append(s)
    tiers = crm_tiers(lake)
    users = [_user(visitor, group, tiers) for visitor, group in by_visitor.items()]
    return {
        "users": users,
        "daily_visitors": _daily(sessions, users),
        "retention_cohorts": _cohorts(sessions, users),
        "identity_map": [{"client_id": c, "user_id": u} for c, u in stitched.items()],
    }


def _user(visitor: str, group: list[dict[str, Any]], tiers: dict[str, str]) -> dict[str, Any]:
    group = sorted(group, key=_order)
    user_id = visitor[2:] if visitor.startswith("u:") else None
    return {
        "visitor_id": visitor,
        "user_id": user_id,
        "is_identified": user_id is not None,
        "first_session_date": min(s["session_date"] for s in group),
        "last_session_date": max(s["session_date"] for s in group),
        "first_seen_at": min(s["session_start"] for s in group),
        "last_seen_at": max(s["session_end"] for s in group),
        "sessions": len(group),
        "active_days": len({s["session_date"] for s in group}),
        "page_views": sum(s["page_views"] for s in group),
        "total_events": sum(s["total_events"] for s in group),
        "converted_sessions": sum(s["converted"] for s in group),
        "purchases": sum(s["purchases"] for s in group),
        "avg_engagement_score": mean2(sum(s["score_hundredths"] for s in group), len(group), 100),
        "first_channel": group[0]["channel"],
        "first_landing_page_path": redact_url(group[0]["landing_page_path"]),
        "last_channel": group[-1]["channel"],
        "loyalty_tier": tiers.get(user_id, "none") if user_id is not None else "none",
    }


def _daily(sessions: list[dict[str, Any]], users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    user = {u["visitor_id"]: u for u in users}
    by_date: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        by_date[s["session_date"]].append(s)
    rows = []
    for day, group in by_date.items():
        visitors = {s["visitor_id"] for s in group}
        new = {v for v in visitors if user[v]["first_session_date"] == day}
        rows.append(
            {
                "session_date": day,
                "visitors": len(visitors),
                "new_visitors": len(new),
                "returning_visitors": len(visitors) - len(new),
                "identified_visitors": sum(user[v]["is_identified"] for v in visitors),
                "sessions": len(group),
                "new_visitor_sessions": sum(s["visitor_id"] in new for s in group),
            }
        )
    return rows


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _cohorts(sessions: list[dict[str, Any]], users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not sessions:
        return []
    latest = _monday(max(s["session_date"] for s in sessions))
    cohort_of = {u["visitor_id"]: _monday(u["first_session_date"]) for u in users}
    members: dict[date, set[str]] = defaultdict(set)
    for visitor, week in cohort_of.items():
        members[week].add(visitor)
    active: dict[tuple[date, int], set[str]] = defaultdict(set)
    for s in sessions:
        week = cohort_of[s["visitor_id"]]
        number = (_monday(s["session_date"]) - week).days // 7
        active[(week, number)].add(s["visitor_id"])
    rows = []
    for week, visitors in members.items():
        for number in range((latest - week).days // 7 + 1):
            count = len(active.get((week, number), ()))
            rows.append(
                {
                    "cohort_week": week,
                    "week_number": number,
                    "cohort_visitors": len(visitors),
                    "active_visitors": count,
                    "retention_pct": mean2(100 * count, len(visitors)),
                }
            )
    return rows


def visitor_events(first_day: date, days: int, seed: int) -> list[dict[str, Any]]:
    """Raw API events for section 5: devices (stable `client_id`) returning over days and
    weeks, some logging in part-way through a session, a device shared by two users,
    sessions without a client id, and purchases. Timestamps in epoch ms."""
    import random
    from datetime import UTC, datetime, time

    rng = random.Random(seed)
    devices = [f"dev-{i}" for i in range(30)]
    owners = {d: (f"user-{i}" if i % 3 == 0 else None) for i, d in enumerate(devices)}
    owners["dev-1"] = "user-shared-a"  # the shared device: two people log in on it
    events: list[dict[str, Any]] = []
    session = 0
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for device in rng.sample(devices, 8):
            session += 1
            start = datetime.combine(day, time(rng.randrange(0, 23)), UTC)
            start += timedelta(minutes=rng.randrange(60))
            user = owners[device]
            if device == "dev-1" and rng.random() < 0.5:
                user = "user-shared-b"
            logs_in = user is not None and rng.random() < 0.6
            client = None if rng.random() < 0.1 else device
            for i in range(rng.randrange(1, 6)):
                event = {
                    "event_id": f"v{seed}-{session}-{i}",
                    "session_id": f"vs{seed}-{session}",
                    "event_type": rng.choice(["page_view", "click", "add_to_cart", "purchase"]),
                    "page_url": rng.choice(["/", "/shoes?utm_medium=cpc", "/p/1", "/cart"]),
                    "timestamp": int((start + timedelta(minutes=3 * i)).timestamp() * 1000),
                }
                if client is not None:
                    event["client_id"] = client
                if logs_in and i >= 1:
                    event["user_id"] = user
                if event["event_type"] == "purchase":
                    event["value"] = round(rng.uniform(5, 300), 2)
                events.append(event)
    return events


#: The key columns of each section 5 table, for comparisons.
VISITOR_KEYS = {
    "users": ("visitor_id",),
    "daily_visitors": ("session_date",),
    "retention_cohorts": ("cohort_week", "week_number"),
    "identity_map": ("client_id",),
}


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, float) or isinstance(value, float):
        return value is not None and abs(float(value) - float(expected)) < 0.005
    if isinstance(value, datetime) and isinstance(expected, datetime):
        return value.replace(tzinfo=None) == expected.replace(tzinfo=None)
    return value == expected


def assert_visitor_rows(
    fetch: Callable[[str], list[dict[str, Any]]], lake: Path, start: str, end: str
) -> None:
    """The section 5 tables (`fetch(name)` gives a table's rows) equal the reference
    for the session dates [start, end], row for row and value for value."""
    expected = reference_visitors(lake, start, end)
    for table, keys in VISITOR_KEYS.items():

        def key(row: dict[str, Any], keys: tuple[str, ...] = keys) -> tuple[Any, ...]:
            return tuple(row[k] for k in keys)

        got = sorted(fetch(table), key=key)
        want = sorted(expected[table], key=key)
        assert [key(r) for r in got] == [key(r) for r in want], table
        for row, ref in zip(got, want, strict=True):
            wrong = {c: (row[c], v) for c, v in ref.items() if not _same(row[c], v)}
            assert not wrong, (table, key(row), wrong)
