"""Raw records in, Arrow tables per hour partition and failed-store lines out.

Pure (no lake, no clock of its own) and shared: the transformation Lambda, `weblogs transform` and
`weblogs replay` all call `transform_records`, so the S3 lake and the local
lake get the same rows from the same input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from weblogs.core.contract import (
    ARROW_SCHEMA,
    DEFAULT_TYPES,
    Invalid,
    failed_record,
    fast_rows,
    to_epoch_ms,
    validate,
)
from weblogs.core.layout import HivePartition, partition_of

Partition = HivePartition
HOUR_MS = 3_600_000


@dataclass
class TransformResult:
    """What one batch became; `records_in == written + failed` always holds."""

    records_in: int
    processed_at: datetime
    partitions: dict[Partition, pa.Table] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(t.num_rows for t in self.partitions.values())

    @property
    def failed(self) -> int:
        return len(self.failures)

    def reasons(self) -> dict[str, int]:
        """Failure counts by reason, for logs and notifications."""
        counts: dict[str, int] = {}
        for failure in self.failures:
            counts[failure["reason"]] = counts.get(failure["reason"], 0) + 1
        return dict(sorted(counts.items()))


def transform_records(
    payloads: Iterable[bytes],
    *,
    stage: str,
    now: datetime,
    ingested_at: datetime | None = None,
    ingested_at_ms: Sequence[int] | None = None,
    record_ids: Sequence[str] | None = None,
    event_types: frozenset[str] | tuple[str, ...] = DEFAULT_TYPES,
    **context: Any,
) -> TransformResult:
    """Validate raw JSON records and group the valid rows by the hour of their timestamp.

    `now` is the processing time the timestamp range is checked against;
    `ingested_at` (one time for all) or `ingested_at_ms` (one per record, e.g.
    Kinesis arrival times) fill the column, so a retried batch yields the same
    rows. Failed records keep their payload, reason and `record_ids[i]`.
    """
    now_ms = to_epoch_ms(now)
    payloads = payloads if isinstance(payloads, list) else list(payloads)
    # The common valid events take the fast path, in one call; the rest get `validate`,
    # which names the reason (they agree: tests/python/core/test_contract.py).
    rows, misses = fast_rows(payloads, now_ms=now_ms, event_types=event_types)
    failures: list[dict[str, Any]] = []
    for index in misses:
        outcome = validate(payloads[index], now=now_ms, event_types=event_types)
        if type(outcome) is Invalid:
            extra = dict(context)
            if record_ids is not None:
                extra["record_id"] = record_ids[index]
            failures.append(failed_record(payloads[index], outcome.reason, stage, now, **extra))
        else:
            rows[index] = outcome.values
    if ingested_at_ms is None:
        ingested = [to_epoch_ms(ingested_at) if ingested_at else now_ms] * len(rows)
    else:
        ingested = list(ingested_at_ms[: len(rows)])
    if failures:  # only then is there anything to leave out
        kept = [i for i, row in enumerate(rows) if row is not None]
        rows, ingested = [rows[i] for i in kept], [ingested[i] for i in kept]
    partitions = by_hour(values_to_table(rows, ingested)) if rows else {}
    return TransformResult(len(payloads), now, partitions, failures)


def by_hour(table: pa.Table) -> dict[Partition, pa.Table]:
    """The table split by the hour of `event_timestamp`, each part in the table's order.

    In Arrow, not per row in Python. Rows in time order (a Kinesis shard's usually are)
    are cut into zero-copy slices; otherwise a stable sort by hour comes first (one copy).
    """
    hours = pc.divide(table["event_timestamp"].cast(pa.int64()), HOUR_MS)  # integer division
    first, last = (x.as_py() for x in pc.min_max(hours).values())
    if first == last:
        return {partition_of(first): table}
    if not pc.all(pc.less_equal(hours[:-1], hours[1:])).as_py():
        order = pc.sort_indices(hours)  # stable: each hour keeps the table's order
        table, hours = table.take(order), hours.take(order)
    parts: dict[Partition, pa.Table] = {}
    offset = 0
    for count in pc.value_counts(hours).field("counts").to_pylist():  # sorted: hour order
        parts[partition_of(hours[offset].as_py())] = table.slice(offset, count)
        offset += count
    return parts


def values_to_table(rows: list[tuple[Any, ...]], ingested_at_ms: list[int]) -> pa.Table:
    """Transpose validated rows into Arrow columns (zip is C-speed; from_pylist is not)."""
    columns = [*zip(*rows, strict=True), ingested_at_ms]
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, ARROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def nonblank_chunks(
    lines: Iterable[bytes], size: int, max_bytes: int | None = None
) -> Iterator[list[bytes]]:
    """Lines `size` at a time, skipping blank ones (JSON Lines: a blank line is no record);
    with `max_bytes`, a chunk also ends once its lines hold that many bytes, so memory is
    bounded by bytes whatever the size of one event."""
    chunk: list[bytes] = []
    held = 0
    for line in lines:
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        chunk.append(line)
        held += len(line)
        if len(chunk) == size or (max_bytes is not None and held >= max_bytes):
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def parquet_bytes(table: pa.Table) -> bytes:
    """Snappy Parquet, the format Athena and DuckDB read cheapest."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()


__all__ = [
    "HOUR_MS",
    "Partition",
    "TransformResult",
    "by_hour",
    "nonblank_chunks",
    "parquet_bytes",
    "partition_of",
    "transform_records",
    "values_to_table",
]
