"""`weblogs compact`: one file per closed hour partition instead of one per Kinesis batch.

The transformation writes one object per batch per hour (about 10,000 a day at
1M events), and Athena's planning and S3 GETs scale with objects, not bytes.
Compaction rewrites the objects of each closed hour into one (or a few of at
least `min_part_bytes` of input each). Readers never miss a row:

1. the new object is written first (complete, atomically: S3 put, or a hidden
   temporary file renamed into place), so a reader that lists the hour sees
   the old objects, or old and new (the models drop the duplicate copies by
   `event_id`: identical rows, so the same copy wins), or only the new one;
2. the inputs are deleted `grace` seconds after the object replacing them was
   written, so a query that listed them just before has time to open them.

The output name is derived from the input names and every output records its
inputs in its Parquet metadata: a second run finds one object per hour and does
nothing; a run interrupted between write and delete is finished by the next
one (it deletes the recorded inputs instead of compacting again). Only objects
under `events/` are touched: nothing is written elsewhere (no arrival record),
so a late-data run does not mistake a compaction for new data.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import heapq
import io
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from weblogs.contract import ARROW_SCHEMA
from weblogs.errors import UsageError

EVENTS_PREFIX = "events/"
COMPACTED_PREFIX = "compacted-"
#: Parquet key-value metadata of an output: the input names it replaces (JSON list).
INPUTS_METADATA = b"weblogs.compacted_from"
#: ... and how many parts its compaction wrote (all must exist to finish a run).
PARTS_METADATA = b"weblogs.compacted_parts"
DEFAULT_MIN_AGE_HOURS = 2.0
DEFAULT_GRACE_SECONDS = 300.0
#: Input bytes per output part: a new part only starts when both parts keep this much.
#: Merged Parquet is about half the bytes of batch-sized objects, so parts stay >= 64 MB.
DEFAULT_MIN_PART_BYTES = 256 * 1024**2
MIN_PART_BYTES_FLOOR = 128 * 1024**2
#: Rows per output row group (and the most rows held in memory at once).
ROW_GROUP_ROWS = 262_144
_HOUR_KEY = re.compile(
    r"events/year=([0-9]{4})/month=([0-9]{2})/day=([0-9]{2})/hour=([0-9]{2})/"
    r"([A-Za-z0-9][A-Za-z0-9_.=+-]{0,254}\.parquet)",
    re.ASCII,
)


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int
    modified: datetime


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
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        return S3Store(s3_client, bucket)
    return LocalStore(Path(lake))


# --- planning (pure) -----------------------------------------------------------------


@dataclass(frozen=True)
class Hour:
    """One hour partition folder and its objects (sorted by key)."""

    folder: str  # events/year=YYYY/month=MM/day=DD/hour=HH/
    start: datetime
    objects: tuple[LakeObject, ...]


def group_hours(objects: Iterable[LakeObject]) -> tuple[list[Hour], int]:
    """Objects under events/ by hour partition; also how many keys are not event objects."""
    by_folder: dict[tuple[str, ...], list[LakeObject]] = defaultdict(list)
    foreign = 0
    for obj in objects:
        match = _HOUR_KEY.fullmatch(obj.key)
        if not match:
            foreign += 1
            continue
        by_folder[match.groups()[:4]].append(obj)
    hours = []
    for (year, month, day, hour), items in sorted(by_folder.items()):
        try:
            start = datetime(int(year), int(month), int(day), int(hour), tzinfo=UTC)
        except ValueError:
            foreign += len(items)
            continue
        folder = f"events/year={year}/month={month}/day={day}/hour={hour}/"
        hours.append(Hour(folder, start, tuple(sorted(items, key=lambda o: o.key))))
    return hours, foreign


def is_closed(hour: Hour, now: datetime, min_age: timedelta) -> bool:
    """An hour is closed once its end is at least `min_age` in the past."""
    return hour.start + timedelta(hours=1) + min_age <= now


def name_of(key: str) -> str:
    return key.rsplit("/", 1)[1]


def group_id(inputs: Iterable[LakeObject]) -> str:
    """Derived from the input names only: the same inputs always give the same output names."""
    names = "\n".join(sorted(name_of(o.key) for o in inputs))
    return hashlib.sha256(names.encode()).hexdigest()[:24]


def split_parts(inputs: tuple[LakeObject, ...], min_part_bytes: int) -> list[list[LakeObject]]:
    """Consecutive runs of inputs; a part is closed only when it and the rest each hold at
    least `min_part_bytes` of input, so every part has at least that much (one part if the
    hour is smaller than twice the threshold)."""
    parts: list[list[LakeObject]] = [[]]
    remaining = sum(o.size for o in inputs)
    current = 0
    for obj in inputs:
        parts[-1].append(obj)
        current += obj.size
        remaining -= obj.size
        if current >= min_part_bytes and remaining >= min_part_bytes:
            parts.append([])
            current = 0
    return parts


def output_keys(hour: Hour, gid: str, count: int) -> list[str]:
    if count == 1:
        return [f"{hour.folder}{COMPACTED_PREFIX}{gid}.parquet"]
    return [f"{hour.folder}{COMPACTED_PREFIX}{gid}-{i:03d}.parquet" for i in range(count)]


# --- running ------------------------------------------------------------------------


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


def _recorded(store: Store, hour: Hour) -> tuple[set[str], set[str]] | None:
    """(outputs, inputs they record) of an earlier run still in the hour, if all its parts
    are there; None otherwise."""
    outputs = [o for o in hour.objects if name_of(o.key).startswith(COMPACTED_PREFIX)]
    by_group: dict[str, list[tuple[str, dict[bytes, bytes]]]] = defaultdict(list)
    for obj in outputs:
        try:
            meta = store.metadata(obj.key)
        except (OSError, pa.ArrowException):
            continue
        if INPUTS_METADATA in meta:
            gid = name_of(obj.key)[len(COMPACTED_PREFIX) :][:24]
            by_group[gid].append((obj.key, meta))
    for members in by_group.values():
        expected = int(members[0][1].get(PARTS_METADATA, b"1"))
        if len(members) != expected:
            continue
        inputs: set[str] = set()
        for _key, meta in members:
            inputs.update(json.loads(meta[INPUTS_METADATA]))
        others = {name_of(o.key) for o in hour.objects} - {name_of(k) for k, _ in members}
        if others and others <= inputs:
            return {k for k, _ in members}, others
    return None


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


#: The contract's columns (name, type); files written by other tools may differ in nullability.
_COLUMNS = [(f.name, f.type) for f in ARROW_SCHEMA]
_REQUIRED = [f.name for f in ARROW_SCHEMA if not f.nullable]


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
    if [(f.name, f.type) for f in schema] != _COLUMNS:
        raise _NotEvents(f"{obj.key}: its columns are not the events contract's")
    for batch in source.iter_batches(batch_size=65_536):
        for name in _REQUIRED:  # a file from another writer may declare them nullable
            if batch.column(name).null_count:
                raise _NotEvents(f"{obj.key}: nulls in the required column {name}")
        yield pa.RecordBatch.from_arrays(batch.columns, schema=ARROW_SCHEMA)


def is_compact(hour: Hour) -> bool:
    """One object, or only the parts of one compaction (names share the group id)."""
    names = [name_of(o.key) for o in hour.objects]
    if len(names) <= 1:
        return True
    groups = {n[len(COMPACTED_PREFIX) :][:24] for n in names if n.startswith(COMPACTED_PREFIX)}
    return len(groups) == 1 and all(n.startswith(COMPACTED_PREFIX) for n in names)


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
    hours, stats.foreign_keys = group_hours(store.list(EVENTS_PREFIX))
    deletions = _Deletions(store, grace_seconds, sleep, clock)
    for hour in hours:
        deletions.due()
        if not is_closed(hour, now, min_age):
            stats.hours_open += 1
            continue
        if is_compact(hour):
            stats.hours_compact += 1
            continue
        finished = _recorded(store, hour)
        if finished is not None:
            _outputs, leftovers = finished
            stats.hours_finished += 1
            if not dry_run:
                newest = max(o.modified for o in hour.objects if name_of(o.key) not in leftovers)
                age = (datetime.now(UTC) - newest).total_seconds()
                deletions.add(clock() - age, [hour.folder + n for n in sorted(leftovers)])
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


# --- command line -------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compact",
        help="rewrite each closed hour partition of events/ into one file",
        description=(
            "Rewrite the objects of each closed hour partition under events/ (its end "
            "at least --min-age-hours ago) into one Parquet file (or parts of at least "
            "--min-part-mb of input each). The new file is written before the old ones "
            "are deleted (--grace-seconds later), so readers never miss a row; a second "
            "run changes nothing. Works on a lake folder or s3://BUCKET."
        ),
    )
    parser.add_argument(
        "--lake",
        default=None,
        help="lake folder or s3://BUCKET (default: $WEBLOGS_LAKE_ROOT, else data/lake)",
    )
    parser.add_argument(
        "--min-age-hours",
        type=float,
        default=DEFAULT_MIN_AGE_HOURS,
        help=f"compact hours that ended at least this long ago (default {DEFAULT_MIN_AGE_HOURS:g})",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help=(
            "delete the replaced objects this long after their replacement was written, "
            f"so running queries can still open them (default {DEFAULT_GRACE_SECONDS:g})"
        ),
    )
    parser.add_argument(
        "--min-part-mb",
        type=float,
        default=DEFAULT_MIN_PART_BYTES / 1024**2,
        help="input MiB per output part before an hour is split (default 256, at least 128)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would be compacted, change nothing"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from weblogs.lake import default_lake_root

    for name in ("min_age_hours", "grace_seconds"):
        value = getattr(args, name)
        if not 0 <= value <= 24 * 365:
            raise UsageError(
                f"--{name.replace('_', '-')} must be between 0 and 8760, got {value:g}"
            )
    if not MIN_PART_BYTES_FLOOR <= args.min_part_mb * 1024**2 <= 64 * 1024**3:
        raise UsageError(f"--min-part-mb must be between 128 and 65536, got {args.min_part_mb:g}")
    store = open_store(str(args.lake or default_lake_root()))
    if isinstance(store, LocalStore) and not (store.root / "events").is_dir():
        raise UsageError(f"no events/ folder in the lake {store.root}")
    stats = compact(
        store,
        min_age=timedelta(hours=args.min_age_hours),
        grace_seconds=args.grace_seconds,
        min_part_bytes=int(args.min_part_mb * 1024**2),
        dry_run=args.dry_run,
        progress=lambda line: print(f"compact: {line}"),
    )
    verb = "would compact" if args.dry_run else "compacted"
    print(
        f"compact: {stats.hours_compacted} hours {verb} ({stats.objects_read} objects, "
        f"{stats.bytes_read / 1024**2:.1f} MiB read, {stats.objects_written} written, "
        f"{stats.objects_deleted} deleted); {stats.hours_finished} finished from an earlier "
        f"run, {stats.hours_compact} already compact, {stats.hours_open} not closed yet "
        f"-> {store}"
    )
    if stats.foreign_keys:
        print(f"compact: {stats.foreign_keys} keys under events/ are not event objects, left alone")
    for problem in stats.problems:
        print(f"compact: {problem}", file=sys.stderr)
    return 1 if stats.problems else 0
