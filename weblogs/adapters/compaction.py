"""Compaction's I/O: rewrite each closed hour partition of events/ into one file (or a few).

The rules are `weblogs.core.compaction`'s. Readers never miss a row:

1. the new object is written first (complete, atomically: S3 put, or a hidden
   temporary file renamed into place), so a reader that lists the hour sees
   the old objects, or old and new (the models drop the duplicate copies by
   `event_id`: identical rows, so the same copy wins), or only the new one;
2. the inputs are deleted `grace` seconds after the object replacing them was
   written, so a query that listed them just before has time to open them.

Every output records its inputs in its Parquet metadata: a second run finds one
object per hour and does nothing; a run interrupted between write and delete is
finished by the next one (it deletes the recorded inputs instead of compacting
again). Only objects under `events/` are touched: nothing is written elsewhere
(no arrival record), so a late-data run does not mistake a compaction for new data.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from weblogs.adapters import aws
from weblogs.core.compaction import (
    COLUMNS,
    DEFAULT_GRACE_SECONDS,
    DEFAULT_MIN_AGE_HOURS,
    DEFAULT_MIN_PART_BYTES,
    INPUTS_METADATA,
    PARTS_METADATA,
    REQUIRED,
    ROW_GROUP_ROWS,
    Hour,
    LakeObject,
    group_hours,
    group_id,
    is_closed,
    is_compact,
    leftovers,
    name_of,
    output_keys,
    split_parts,
)
from weblogs.core.contract.schema import ADDED_COLUMNS, ARROW_SCHEMA
from weblogs.core.errors import UsageError
from weblogs.core.layout import COMPACTED_PREFIX, EVENTS


class LocalStore:
    """A lake folder. Outputs are written as hidden `.compact-*.part` files (no reader's
    `*.parquet` glob matches them) and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def list(self, prefix: str) -> Iterator[LakeObject]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for folder, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    yield LakeObject(
                        path.relative_to(self.root).as_posix(),
                        stat.st_size,
                        datetime.fromtimestamp(stat.st_mtime, UTC),
                    )

    def open(self, key: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.root / key)

    def metadata(self, key: str) -> dict[bytes, bytes]:
        return pq.read_metadata(self.root / key).metadata or {}

    def temp_path(self, key: str) -> Path:
        target = self.root / key
        return target.with_name(f".compact-{os.getpid()}-{target.name}.part")

    def commit(self, key: str, written: Path) -> None:
        os.replace(written, self.root / key)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


class S3Store:
    """A bucket; outputs are written to a local temporary file, then uploaded (one put)."""

    def __init__(self, client: Any, bucket: str, *, whole_object_bytes: int = 16 * 1024**2) -> None:
        self.client = client
        self.bucket = bucket
        #: Objects up to this size are read in one GET; bigger ones by ranges.
        self.whole_object_bytes = whole_object_bytes
        self._work = tempfile.TemporaryDirectory(prefix="weblogs-compact-")

    def __str__(self) -> str:
        return f"s3://{self.bucket}"

    def list(self, prefix: str) -> Iterator[LakeObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield LakeObject(item["Key"], item["Size"], item["LastModified"])

    def open(self, key: str) -> pq.ParquetFile:
        """A small object in one GET; a big one (an earlier run's part) read by ranges, so
        memory holds a row group, not the object."""
        reader = _RangeReader(self.client, self.bucket, key)
        if reader.size <= self.whole_object_bytes:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return pq.ParquetFile(pa.BufferReader(body))
        return pq.ParquetFile(pa.PythonFile(reader, mode="r"))

    def metadata(self, key: str) -> dict[bytes, bytes]:
        """The footer only (two ranged GETs), whatever the object's size."""
        reader = _RangeReader(self.client, self.bucket, key)
        return pq.read_metadata(pa.PythonFile(reader, mode="r")).metadata or {}

    def temp_path(self, key: str) -> Path:
        return Path(self._work.name) / key.replace("/", "_")

    def commit(self, key: str, written: Path) -> None:
        try:
            self.client.upload_file(str(written), self.bucket, key)
        finally:
            written.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


Store = LocalStore | S3Store


class _RangeReader(io.RawIOBase):
    """A read-only, seekable view of one S3 object through ranged GETs."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        response = self.client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{end - 1}"
        )
        data = response["Body"].read()
        self.position += len(data)
        return data


def open_store(lake: str, *, s3_client: Any = None) -> Store:
    if lake.startswith("s3://"):
        bucket = lake[5:].strip("/")
        if not bucket or "/" in bucket:
            raise UsageError(f"expected s3://BUCKET, got {lake!r}")
        return S3Store(s3_client or aws.client("s3"), bucket)
    return LocalStore(Path(lake))


@dataclass
class CompactStats:
    hours_compacted: int = 0
    hours_finished: int = 0  # an earlier run's outputs were there: only its inputs deleted
    hours_compact: int = 0  # already one object (or one run's parts)
    hours_open: int = 0
    objects_read: int = 0
    objects_written: int = 0
    objects_deleted: int = 0
    bytes_read: int = 0
    foreign_keys: int = 0
    problems: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)


class _Deletions:
    """Inputs waiting for their grace period, oldest first; memory holds only the keys
    written in the last `grace` seconds."""

    def __init__(
        self,
        store: Store,
        grace: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.store, self.grace, self.sleep, self.clock = store, grace, sleep, clock
        self.queue: list[tuple[float, int, list[str]]] = []
        self.count = 0
        self._seq = 0

    def add(self, written_at: float, keys: list[str]) -> None:
        heapq.heappush(self.queue, (written_at + self.grace, self._seq, keys))
        self._seq += 1

    def due(self, *, wait: bool = False) -> None:
        while self.queue:
            ready, _seq, keys = self.queue[0]
            delay = ready - self.clock()
            if delay > 0:
                if not wait:
                    return
                self.sleep(delay)
            heapq.heappop(self.queue)
            for key in keys:
                self.store.delete(key)
                self.count += 1


def _leftovers(store: Store, hour: Hour) -> set[str] | None:
    """Inputs of an earlier run whose outputs are all in the hour (to delete), else None."""
    recorded: dict[str, tuple[int, set[str]]] = {}
    for obj in hour.objects:
        if not name_of(obj.key).startswith(COMPACTED_PREFIX):
            continue
        try:
            meta = store.metadata(obj.key)
        except (OSError, pa.ArrowException):
            continue
        if INPUTS_METADATA in meta:
            parts = int(meta.get(PARTS_METADATA, b"1"))
            recorded[name_of(obj.key)] = (parts, set(json.loads(meta[INPUTS_METADATA])))
    return leftovers(hour, recorded)


def _write_part(
    store: Store, key: str, inputs: list[LakeObject], parts: int, stats: CompactStats
) -> None:
    """Stream the inputs' rows into one Parquet file, ROW_GROUP_ROWS rows per row group."""
    schema = ARROW_SCHEMA.with_metadata(
        {
            INPUTS_METADATA: json.dumps([name_of(o.key) for o in inputs]).encode(),
            PARTS_METADATA: str(parts).encode(),
        }
    )
    path = store.temp_path(key)
    try:
        with pq.ParquetWriter(path, schema, compression="snappy") as writer:
            pending: list[pa.RecordBatch] = []
            rows = 0
            for obj in inputs:
                for batch in _batches(store, obj):
                    pending.append(batch)
                    rows += batch.num_rows
                    if rows >= ROW_GROUP_ROWS:
                        writer.write_table(pa.Table.from_batches(pending, ARROW_SCHEMA))
                        pending, rows = [], 0
                stats.objects_read += 1
                stats.bytes_read += obj.size
            if pending:
                writer.write_table(pa.Table.from_batches(pending, ARROW_SCHEMA))
        store.commit(key, path)
    finally:
        path.unlink(missing_ok=True)


class _NotEvents(Exception):
    """An object in an hour folder that is not an events file: the hour is left alone."""


def _batches(store: Store, obj: LakeObject) -> Iterator[pa.RecordBatch]:
    """The rows of one input, checked to carry exactly the events contract's columns."""
    try:
        source = store.open(obj.key)
        schema = source.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise _NotEvents(f"{obj.key}: unreadable Parquet ({reason})") from None
    columns = [(f.name, f.type) for f in schema]
    # A file written before a column was added lacks it (and only such columns): its
    # rows get null there, as every reader gives them (docs/contract.md#1-the-event).
    missing = [name for name, kind in COLUMNS if (name, kind) not in columns]
    if columns != [c for c in COLUMNS if c[0] not in missing] or not set(missing) <= set(
        ADDED_COLUMNS
    ):
        raise _NotEvents(f"{obj.key}: its columns are not the events contract's")
    for batch in source.iter_batches(batch_size=65_536):
        for name in REQUIRED:  # a file from another writer may declare them nullable
            if batch.column(name).null_count:
                raise _NotEvents(f"{obj.key}: nulls in the required column {name}")
        arrays = [
            pa.nulls(batch.num_rows, kind) if name in missing else batch.column(name)
            for name, kind in COLUMNS
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA)


def compact(
    store: Store,
    *,
    now: datetime | None = None,
    min_age: timedelta = timedelta(hours=DEFAULT_MIN_AGE_HOURS),
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    min_part_bytes: int = DEFAULT_MIN_PART_BYTES,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] = lambda line: None,
) -> CompactStats:
    """Compact every closed hour of the lake; see the module docstring for the guarantees."""
    now = now or datetime.now(UTC)
    stats = CompactStats()
    hours, stats.foreign_keys = group_hours(store.list(f"{EVENTS}/"))
    deletions = _Deletions(store, grace_seconds, sleep, clock)
    for hour in hours:
        deletions.due()
        if not is_closed(hour, now, min_age):
            stats.hours_open += 1
            continue
        if is_compact(hour):
            stats.hours_compact += 1
            continue
        left = _leftovers(store, hour)
        if left is not None:
            stats.hours_finished += 1
            if not dry_run:
                newest = max(o.modified for o in hour.objects if name_of(o.key) not in left)
                age = (datetime.now(UTC) - newest).total_seconds()
                deletions.add(clock() - age, [hour.folder + n for n in sorted(left)])
            continue
        parts = split_parts(hour.objects, min_part_bytes)
        keys = output_keys(hour, group_id(hour.objects), len(parts))
        if dry_run:
            stats.hours_compacted += 1
            progress(f"would compact {hour.folder}: {len(hour.objects)} objects -> {len(keys)}")
            continue
        done: list[str] = []
        try:
            for key, part in zip(keys, parts, strict=True):
                _write_part(store, key, part, len(parts), stats)
                done.append(key)
        except _NotEvents as exc:
            for key in done:  # parts already written would duplicate rows: take them back
                store.delete(key)
            stats.problems.append(f"{hour.folder}: left as it is: {exc}")
            continue
        stats.objects_written += len(done)
        stats.written += done
        stats.hours_compacted += 1
        deletions.add(clock(), [o.key for o in hour.objects if o.key not in keys])
        progress(f"compacted {hour.folder}: {len(hour.objects)} objects -> {len(keys)}")
    deletions.due(wait=True)
    stats.objects_deleted = deletions.count
    return stats
