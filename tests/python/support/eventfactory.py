"""Raw API events for tests: valid ones, one per failure reason, duplicates, extra fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

#: The clock the fixtures are written against; every valid timestamp is before it.
NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
T0 = 1_791_000_000  # 2026-10-03T04:00:00Z


def valid_event(i: int, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"e-{i}",
        "session_id": f"s-{i // 5}",
        "user_id": f"u-{i // 10}" if i % 7 else None,
        "event_type": ["page_view", "click", "scroll", "review"][i % 4],
        "page_url": f"/page/{i % 6}",
        "timestamp": T0 + i * 97,  # spans several hours
        "device_type": ["Mobile", "desktop", " tablet "][i % 3],
        "browser": ["Chrome", "firefox", ""][i % 3],
        "referrer": "https://example.com" if i % 2 else None,
        "os": "linux",
        "country": "PT",
    }
    event.update(overrides)
    return event


def mixed_lines() -> tuple[list[bytes], int, dict[str, int]]:
    """JSON lines mixing everything; returns (lines, expected valid, expected reasons)."""
    lines: list[bytes] = []
    valid = 0
    for i in range(120):
        event = valid_event(i)
        if i % 11 == 0:
            event["campaign"] = {"id": i, "name": "autumn"}  # extra field: still valid
        if i % 13 == 0:
            event["timestamp"] = str((T0 + i * 97) * 1000)  # milliseconds as a string
        if i % 17 == 0:
            event["timestamp"] = datetime.fromtimestamp(T0 + i * 97, UTC).isoformat()
        if i % 19 == 0:
            del event["event_id"]  # derived id
        lines.append(json.dumps(event).encode())
        valid += 1
    # Exact duplicates: at-least-once delivery, removed later by the models.
    lines.extend(lines[:3])
    valid += 3
    base = valid_event(1000)
    bad: dict[str, Any] = {
        "invalid_json": b'{"session_id": "s",',
        "not_an_object": b"[1, 2, 3]",
        "missing_field:session_id": {k: v for k, v in base.items() if k != "session_id"},
        "missing_field:event_type": {**base, "event_type": None},
        "missing_field:page_url": {k: v for k, v in base.items() if k != "page_url"},
        "missing_field:timestamp": {k: v for k, v in base.items() if k != "timestamp"},
        "empty_field:session_id": {**base, "session_id": "   "},
        "empty_field:page_url": {**base, "page_url": ""},
        "invalid_type:user_id": {**base, "user_id": [1]},
        "invalid_type:timestamp": {**base, "timestamp": {"s": 1}},
        "too_long:session_id": {**base, "session_id": "s" * 129},
        "too_long:page_url": {**base, "page_url": "/" * 2049},
        "too_long:event_id": {**base, "event_id": "e" * 129},
        "invalid_timestamp": {**base, "timestamp": "not a time"},
        "timestamp_out_of_range": {**base, "timestamp": 946_684_799},
        "unknown_event_type": {**base, "event_type": "hover"},
        "record_too_large": {**base, "padding": "x" * (1024 * 1024)},
    }
    reasons: dict[str, int] = {}
    for reason, payload in bad.items():
        lines.append(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        reasons[reason] = reasons.get(reason, 0) + 1
    lines.append(b"\xff\xfe not utf-8")
    reasons["invalid_json"] += 1
    return lines, valid, reasons
