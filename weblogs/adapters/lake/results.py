"""A transformed batch into the lake: its partitions, its arrivals record, its failures.

Shared by the transformation Lambda, `weblogs transform` and `weblogs replay`.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow.compute as pc

from weblogs.adapters.lake.base import Lake
from weblogs.core import layout
from weblogs.core.transform import TransformResult, parquet_bytes

__all__ = ["Written", "arrivals_manifest", "discard", "json_lines", "write_result"]


def arrivals_manifest(result: TransformResult) -> bytes:
    """One JSON line per event hour the batch wrote: the dates the models must rebuild.

    `first_ingested_at`, the earliest `ingested_at` of the hour's events, lets the
    scheduled run find the batch's rows again and rebuild only their sessions
    (docs/analytics.md, Late data).
    """
    arrived_at = _iso_z(result.processed_at)
    return json_lines(
        [
            {
                "event_date": f"{year}-{month}-{day}",
                "event_hour": hour,
                "events": table.num_rows,
                "arrived_at": arrived_at,
                "first_ingested_at": _first_ingested_at(table),
            }
            for (year, month, day, hour), table in sorted(result.partitions.items())
        ]
    )


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _first_ingested_at(table: Any) -> str | None:
    if "ingested_at" not in table.column_names or table.num_rows == 0:
        return None
    first = pc.min(table.column("ingested_at")).as_py()
    if first is None:
        return None
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return _iso_z(first)


def json_lines(items: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


class Written(list[str]):
    """The keys a batch wrote, in order; `created` are those that did not exist before
    (the only ones a rollback may remove: the others hold an earlier run's rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []


def _put(lake: Lake, key: str, data: bytes, written: Written) -> None:
    """Create the key, or replace it when it exists (then it is not this run's to remove)."""
    if lake.create(key, data):
        written.created.append(key)
    else:
        lake.put(key, data)
    written.append(key)


def write_result(
    lake: Lake,
    result: TransformResult,
    *,
    name: str,
    failed_prefix: str,
    failed_day: datetime | None = None,
    keep_failed: bool = False,
) -> Written:
    """Write a batch's partitions and failures under names derived from `name`.

    The same `name` for the same input writes the same keys, so a retry
    overwrites instead of duplicating. The arrivals manifest (which event hours
    the batch touched, and when) is written after the events; a re-run on
    another day records a new arrival, so the next scheduled run rebuilds those
    dates once more (same result). Failures go under `failed_day` only when the
    input carries one (`layout.failed_key`). With `keep_failed`, a failed object
    that exists already is left as it is (a re-run would only change its
    `failed_at`), so the failed store does not change at all. If a write fails,
    the keys this call created are removed (best effort) before the error
    propagates, so a retried batch with other boundaries leaves no stray copies;
    a key that existed before is never removed (an earlier run wrote it, and a
    replacing write leaves the old object or the new one, never neither).
    """
    written = Written()
    try:
        for partition, table in sorted(result.partitions.items()):
            _put(lake, layout.event_key(partition, name), parquet_bytes(table), written)
        if result.partitions:  # after the events: a manifest never names missing rows
            key = layout.arrivals_key(result.processed_at, name)
            _put(lake, key, arrivals_manifest(result), written)
        if result.failures:
            key = layout.failed_key(failed_prefix, name, failed_day)
            if not (keep_failed and lake.exists(key)):
                _put(lake, key, json_lines(result.failures), written)
    except Exception:
        discard(lake, written.created)
        raise
    return written


def discard(lake: Lake, keys: list[str]) -> None:
    """Best-effort removal of what a failed batch created: the original error is what matters."""
    for key in keys:
        with contextlib.suppress(Exception):
            lake.delete(key)
