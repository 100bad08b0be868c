"""Compaction's I/O: rewrite each closed hour partition of events/ into one file (or a few).

The rules are `weblogs.core.compaction`'s; storage is the one `Lake`. Readers never
miss a row, and overlapping, killed or failing runs never lose or double one:

1. a run takes a lease on an hour (`weblogs.adapters.lease`) before touching it; a
   second run skips a leased hour;
2. under the lease, what an earlier run left is finished or undone first, from the
   metadata its parts record (`recovery`): a complete group's inputs are deleted, an
   incomplete group's parts are deleted (its inputs are all still there), and
   temporaries a killed compaction left in the folder are removed;
3. each part is written completely under a name unique to the run (a staged
   temporary published atomically), so a reader that lists the hour sees the old
   objects, or old and new (the models drop the duplicate copies by `event_id`),
   or only the new ones, and one run's rollback never touches another's part;
4. the inputs are deleted only after every part of the group is published,
   `grace` seconds later (a query that listed them can still open them), and only
   while the run still holds the hour's lease.

Only objects under `events/` and the hour leases under `compaction/` are touched
(no arrival record), so a late-data run does not mistake a compaction for new data.
Before the hours, a run also removes every temporary under `events/` older than an hour
(a killed writer's: no write holds one that long), whoever wrote it: on a local lake a
temporary that ends in `.parquet` (as before `.partial` temporaries) is read by DuckDB's
`*.parquet` glob and fails every build that reads its folder.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from weblogs.adapters.lake import STALE_TEMPORARY_SECONDS, Lake
from weblogs.adapters.lease import HourLease
from weblogs.core.compaction import (
    COLUMNS,
    DEFAULT_GRACE_SECONDS,
    DEFAULT_LEASE_SECONDS,
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
    name_of,
    new_run_id,
    output_keys,
    recovery,
    split_parts,
)
from weblogs.core.contract.schema import ADDED_COLUMNS, ARROW_SCHEMA
from weblogs.core.layout import COMPACTED_PREFIX, EVENTS

#: Objects up to this size are read in one GET; bigger ones by ranges.
WHOLE_OBJECT_BYTES = 16 * 1024**2


@dataclass
class CompactStats:
    hours_compacted: int = 0
    hours_finished: int = 0  # an earlier run's complete group: only its inputs deleted
    hours_undone: int = 0  # an earlier run's incomplete group: its parts deleted
    hours_compact: int = 0  # already one object (or one run's parts)
    hours_open: int = 0
    hours_leased: int = 0  # another run holds the hour: skipped
    objects_read: int = 0
    objects_written: int = 0
    objects_deleted: int = 0
    temporaries_removed: int = 0
    bytes_read: int = 0
    foreign_keys: int = 0
    problems: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)


class _Deletions:
    """Inputs waiting for their grace period, oldest first; each batch is deleted only
    while its run still holds the hour's lease, and the lease is released after."""

    def __init__(
        self,
        lake: Lake,
        grace: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        stats: CompactStats,
    ) -> None:
        self.lake, self.grace, self.sleep, self.clock = lake, grace, sleep, clock
        self.stats = stats
        self.queue: list[tuple[float, int, list[str], HourLease]] = []
        self._seq = 0

    def add(self, written_at: float, keys: list[str], lease: HourLease) -> None:
        heapq.heappush(self.queue, (written_at + self.grace, self._seq, keys, lease))
        self._seq += 1

    def due(self, *, wait: bool = False) -> None:
        while self.queue:
            ready, _seq, keys, lease = self.queue[0]
            delay = ready - self.clock()
            if delay > 0:
                if not wait:
                    return
                self.sleep(delay)
            heapq.heappop(self.queue)
            if not lease.held():  # taken over: the new holder finishes the group
                self.stats.problems.append(
                    f"{keys[0].rsplit('/', 1)[0]}/: lease lost, inputs left for the next run"
                )
                continue
            for key in keys:
                self.lake.delete(key)
                self.stats.objects_deleted += 1
            lease.release()

    def release_all(self) -> None:
        for *_rest, lease in self.queue:
            lease.release()
        self.queue.clear()


def _metadata(lake: Lake, key: str) -> dict[bytes, bytes]:
    with lake.open_input(key) as handle:
        return pq.read_metadata(handle).metadata or {}


def _recorded(lake: Lake, hour: Hour) -> dict[str, tuple[int, set[str]]]:
    """Every compacted output of the hour: (parts of its group, its input names)."""
    recorded: dict[str, tuple[int, set[str]]] = {}
    for obj in hour.objects:
        if not name_of(obj.key).startswith(COMPACTED_PREFIX):
            continue
        try:
            meta = _metadata(lake, obj.key)
            if INPUTS_METADATA in meta:
                parts = int(meta.get(PARTS_METADATA, b"1"))
                recorded[name_of(obj.key)] = (parts, set(json.loads(meta[INPUTS_METADATA])))
        except (OSError, ValueError, pa.ArrowException):
            continue
    return recorded


class _NotEvents(Exception):
    """An object in an hour folder that is not an events file: the hour is left alone."""


class _LeaseLost(Exception):
    """Another run took the hour over (this one outlived its lease): it backs off."""


def _still_held(lease: HourLease) -> None:
    """Renew the lease before each part and after the last one, or give the hour up."""
    if not lease.renew():
        raise _LeaseLost("the lease expired and another run took the hour over")


def _open(lake: Lake, obj: LakeObject, whole: int) -> pq.ParquetFile:
    """An object up to `whole` bytes in one read; a bigger one by ranges (memory holds
    a row group)."""
    if obj.size <= whole:
        return pq.ParquetFile(pa.BufferReader(lake.get(obj.key)))
    return pq.ParquetFile(lake.open_input(obj.key))


def _batches(lake: Lake, obj: LakeObject, whole: int) -> Iterator[pa.RecordBatch]:
    """The rows of one input, checked to carry exactly the events contract's columns."""
    try:
        source = _open(lake, obj, whole)
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


def _write_part(
    lake: Lake, key: str, inputs: list[LakeObject], parts: int, stats: CompactStats, whole: int
) -> None:
    """Stream the inputs' rows into one Parquet file, ROW_GROUP_ROWS rows per row group,
    published under `key` only once complete."""
    schema = ARROW_SCHEMA.with_metadata(
        {
            INPUTS_METADATA: json.dumps([name_of(o.key) for o in inputs]).encode(),
            PARTS_METADATA: str(parts).encode(),
        }
    )
    with lake.staged(key) as path, pq.ParquetWriter(path, schema, compression="snappy") as writer:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for obj in inputs:
            for batch in _batches(lake, obj, whole):
                pending.append(batch)
                rows += batch.num_rows
                if rows >= ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_batches(pending, ARROW_SCHEMA))
                    pending, rows = [], 0
            stats.objects_read += 1
            stats.bytes_read += obj.size
        if pending:
            writer.write_table(pa.Table.from_batches(pending, ARROW_SCHEMA))


@dataclass
class _Run:
    lake: Lake
    run: str
    now: datetime
    min_age: timedelta
    min_part_bytes: int
    dry_run: bool
    lease_seconds: float
    wall: Callable[[], float]
    clock: Callable[[], float]
    deletions: _Deletions
    stats: CompactStats
    progress: Callable[[str], None]
    whole_object_bytes: int
    lease_type: type[HourLease]


def _recover(ctx: _Run, hour: Hour, lease: HourLease) -> bool:
    """Finish or undo what an earlier run left; True when the hour waits for deletions."""
    ctx.stats.temporaries_removed += ctx.lake.clean_temporaries(
        hour.folder, 0, name_prefix=COMPACTED_PREFIX
    )
    found = recovery(hour, _recorded(ctx.lake, hour))
    for group in found.stuck:
        ctx.stats.problems.append(f"{hour.folder}: group {group} lacks parts and inputs")
    for name in sorted(found.undone):
        ctx.lake.delete(hour.folder + name)
        ctx.stats.objects_deleted += 1
    if found.undone:
        ctx.stats.hours_undone += 1
    if not found.finished:
        return False
    ctx.stats.hours_finished += 1
    newest = max(o.modified for o in hour.objects if name_of(o.key) not in found.finished)
    age = (datetime.now(UTC) - newest).total_seconds()
    ctx.deletions.add(ctx.clock() - age, [hour.folder + n for n in sorted(found.finished)], lease)
    return True


def _relist(lake: Lake, hour: Hour) -> Hour:
    hours, _ = group_hours(lake.list_objects(hour.folder))
    objects = hours[0].objects if hours else ()
    return Hour(hour.folder, hour.partition, hour.start, objects)


def _compact_hour(ctx: _Run, hour: Hour, lease: HourLease) -> bool:
    """Write the hour's parts; True when its inputs now wait for deletion."""
    parts = split_parts(hour.objects, ctx.min_part_bytes)
    keys = output_keys(hour, group_id(hour.objects, ctx.run), len(parts))
    done: list[str] = []
    try:
        for key, part in zip(keys, parts, strict=True):
            _still_held(lease)
            _write_part(ctx.lake, key, part, len(parts), ctx.stats, ctx.whole_object_bytes)
            done.append(key)
        _still_held(lease)
    except BaseException as exc:
        for key in done:  # this run's own parts only: the names are unique to it
            with contextlib.suppress(Exception):
                ctx.lake.delete(key)
        if not isinstance(exc, _NotEvents | _LeaseLost):
            raise
        ctx.stats.problems.append(f"{hour.folder}: left as it is: {exc}")
        return False
    ctx.stats.objects_written += len(done)
    ctx.stats.written += done
    ctx.stats.hours_compacted += 1
    inputs = [o.key for o in hour.objects if o.key not in keys]
    ctx.deletions.add(ctx.clock(), inputs, lease)
    ctx.progress(f"compacted {hour.folder}: {len(hour.objects)} objects -> {len(keys)}")
    return True


def _hour(ctx: _Run, hour: Hour) -> None:
    if not is_closed(hour, ctx.now, ctx.min_age):
        ctx.stats.hours_open += 1
        return
    if is_compact(hour):
        ctx.stats.hours_compact += 1
        return
    if ctx.dry_run:
        ctx.stats.hours_compacted += 1
        ctx.progress(f"would compact {hour.folder}: {len(hour.objects)} objects")
        return
    lease = ctx.lease_type(ctx.lake, hour.partition, ctx.run, ctx.lease_seconds, ctx.wall)
    if not lease.acquire():
        ctx.stats.hours_leased += 1
        ctx.progress(f"skipped {hour.folder}: another run holds it")
        return
    try:
        hour = _relist(ctx.lake, hour)  # the listing may predate another run's work here
        if _recover(ctx, hour, lease):
            return
        hour = _relist(ctx.lake, hour)
        if is_compact(hour) or not _compact_hour(ctx, hour, lease):
            if is_compact(hour):
                ctx.stats.hours_compact += 1
            lease.release()
    except BaseException:
        lease.release()
        raise


def compact(
    lake: Lake,
    *,
    now: datetime | None = None,
    min_age: timedelta = timedelta(hours=DEFAULT_MIN_AGE_HOURS),
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    min_part_bytes: int = DEFAULT_MIN_PART_BYTES,
    lease_seconds: float | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    progress: Callable[[str], None] = lambda line: None,
    whole_object_bytes: int = WHOLE_OBJECT_BYTES,
    lease_type: type[HourLease] = HourLease,
) -> CompactStats:
    """Compact every closed hour of the lake; see the module docstring for the guarantees.

    `lease_seconds` (default: an hour plus the grace) must outlast the writing of one
    part and the grace period; `wall` is the clock leases expire by; `lease_type` is
    HourLease but for a benchmark's baseline."""
    stats = CompactStats()
    if not dry_run:
        stats.temporaries_removed += lake.clean_temporaries(f"{EVENTS}/", STALE_TEMPORARY_SECONDS)
    hours, stats.foreign_keys = group_hours(lake.list_objects(f"{EVENTS}/"))
    deletions = _Deletions(lake, grace_seconds, sleep, clock, stats)
    ctx = _Run(
        lake,
        run_id or new_run_id(os.urandom(6)),
        now or datetime.now(UTC),
        min_age,
        min_part_bytes,
        dry_run,
        DEFAULT_LEASE_SECONDS + grace_seconds if lease_seconds is None else lease_seconds,
        wall,
        clock,
        deletions,
        stats,
        progress,
        whole_object_bytes,
        lease_type,
    )
    try:
        for hour in hours:
            deletions.due()
            _hour(ctx, hour)
        deletions.due(wait=True)
    finally:
        deletions.release_all()
    return stats
