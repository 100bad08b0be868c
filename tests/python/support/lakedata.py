"""Small lakes for the storage tests: one closed hour in many objects, and a census of
its rows (every `event_id` must be there exactly once)."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from weblogs.adapters.lake import write_result
from weblogs.core.transform import transform_records

#: The hour the data falls in, and a "now" at which it is long closed.
HOUR = datetime(2026, 10, 6, 12, tzinfo=UTC)
NOW = HOUR + timedelta(days=3)
FOLDER = "events/year=2026/month=10/day=06/hour=12/"


def event_lines(start: int, count: int, at: datetime = HOUR) -> list[bytes]:
    """`count` valid raw events with event ids `e-<start>`.. in the hour starting `at`."""
    base = int(at.timestamp() * 1000)
    return [
        json.dumps(
            {
                "event_id": f"e-{i:08d}",
                "session_id": f"s-{i // 10}",
                "event_type": "page_view",
                "page_url": f"/p/{i % 7}",
                "timestamp": base + (i * 997) % 3_600_000,
            }
        ).encode()
        for i in range(start, start + count)
    ]


def hour_lake(lake: Any, objects: int = 8, rows: int = 300) -> int:
    """One closed hour written the Lambda's way, `objects` objects of `rows` events."""
    for n in range(objects):
        result = transform_records(event_lines(n * rows, rows), stage="test", now=NOW)
        write_result(lake, result, name=f"shardId-{n:03d}", failed_prefix="failed")
    return objects * rows


def event_ids(lake: Any) -> Counter[str]:
    """How often each event id is in the lake's events (any home, any hour)."""
    found: Counter[str] = Counter()
    for key in lake.list("events/"):
        if not key.endswith(".parquet"):
            continue
        table = pq.read_table(pa.BufferReader(lake.get(key)), columns=["event_id"])
        found.update(table.column("event_id").to_pylist())
    return found


def hour_bytes(lake: Any) -> int:
    return sum(o.size for o in lake.list_objects(FOLDER))


def hidden_files(root: Path) -> list[str]:
    return sorted(
        str(Path(folder, name).relative_to(root))
        for folder, _dirs, files in os.walk(root)
        for name in files
        if name.startswith(".")
    )
