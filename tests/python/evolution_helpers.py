"""A lake holding files from before `client_id` and `value` existed next to new ones
(docs/contract.md#1-the-event, schema evolution by column name)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
from dbt_helpers import DbtProject

from weblogs.core.contract import ADDED_COLUMNS
from weblogs.core.layout import partition_prefix
from weblogs.core.transform import transform_records

NOW = datetime(2026, 10, 8, tzinfo=UTC)


def _raw(event_id: str, at: str, shift: timedelta, **fields: object) -> bytes:
    moment = datetime.fromisoformat(at).replace(tzinfo=UTC) + shift
    event = {
        "event_id": event_id,
        "session_id": "s-" + event_id,
        "event_type": "purchase",
        "page_url": "/checkout",
        "timestamp": int(moment.timestamp() * 1000),
        **fields,
    }
    return json.dumps(event).encode()


#: (event_id, time, file generation, client_id, value) of the events written.
EVOLUTION_EVENTS = (
    ("old-1", "2026-10-02T10:00:00", "old", None, None),
    ("new-1", "2026-10-02T10:30:00", "new", "c-1", Decimal("19.99")),
    ("new-2", "2026-10-03T09:00:00", "new", "c-2", Decimal("0.1")),
    ("old-2", "2026-10-06T08:00:00", "old", None, None),  # days around it: old files only
)


def write_evolution_lake(
    lake: Path, prefix: str = "", shift: timedelta = timedelta()
) -> list[Path]:
    """Old files (the contract's columns before `client_id` and `value`) and new ones.

    `prefix` is put before every event id and the times are moved by `shift`, so the
    events can share a lake with others; returns the files written.
    """
    written = []
    for event_id, at, generation, client_id, value in EVOLUTION_EVENTS:
        fields = {} if generation == "old" else {"client_id": client_id, "value": float(value)}
        result = transform_records(
            [_raw(prefix + event_id, at, shift, **fields)], stage="t", now=NOW
        )
        assert not result.failures, result.failures
        for partition, table in result.partitions.items():
            if generation == "old":
                table = table.drop_columns(list(ADDED_COLUMNS))
            folder = lake / partition_prefix(partition)
            folder.mkdir(parents=True, exist_ok=True)
            written.append(folder / f"{generation}-{prefix}{event_id}.parquet")
            pq.write_table(table, written[-1])
    return written


def expected_rows(prefix: str = "") -> list[tuple[str, str | None, Decimal | None]]:
    return sorted((prefix + e, c, v) for e, _, _, c, v in EVOLUTION_EVENTS)


SHOW = "select event_id, client_id, value from {{ ref('stg_weblogs__events') }}"


def shown(
    project: DbtProject, start: str, end: str
) -> list[tuple[str, str | None, Decimal | None]]:
    done = project.run(
        "show",
        "--inline",
        SHOW,
        "--limit",
        "100",
        "--output",
        "json",
        "--log-format",
        "json",
        "--vars",
        f"{{startdate: {start}, enddate: {end}}}",
    )
    for line in done.stdout.splitlines():
        data = json.loads(line).get("data", {})
        if "preview" in data:
            rows = json.loads(data["preview"])
            return sorted(
                (
                    r["event_id"],
                    r["client_id"],
                    None if r["value"] is None else Decimal(str(r["value"])),
                )
                for r in rows
            )
    raise AssertionError(done.stdout[-3000:])
