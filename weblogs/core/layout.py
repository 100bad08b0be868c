"""The lake layout: the only place a prefix or an object key format is written.

Every writer (consumer, transformation, replay, demo), the partition registration
and the deploy template's prefixes (checked by a test) use these names, so the
layout described in docs/contract.md#2-the-lake has one home. `event_key` and
`parse_event_key` are exact inverses; the partition bounds come from the event
contract's timestamp bounds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from weblogs.core.contract.schema import DAY_MS, MIN_TIMESTAMP_MS, PARTITION_COLUMNS

#: Valid events as hive-partitioned Snappy Parquet (one object per batch and hour).
EVENTS = "events"
#: The consumer's archive of every forwarded event, as received (JSON lines).
RAW = "raw"
#: The consumer's copy of events that carried fields outside the contract.
EXTRA_COLUMNS = "extra_columns"
#: The consumer's failed store: events (or whole responses) the contract rejected.
FAILED_RECORDS = "failed_records"
#: Events the contract accepted but Kinesis would not take after every retry.
KINESIS_FAILURES = "kinesis_failures"
#: The transformation's failed store.
FAILED_TRANSFORMATION_RECORDS = "failed_transformation_records"
#: The transformation's arrivals manifests, by ARRIVAL date: which event hours each
#: batch touched and when (docs/analytics.md, Late data). The scheduled model run
#: reads only the arrival days since its last success.
ARRIVALS = "arrivals"
#: The CRM extracts the models join (customers.csv, ratings.csv).
CRM = "crm"
CRM_FILES = ("customers.csv", "ratings.csv")

#: Athena's query results (the deployment's; partition registration writes there too).
ATHENA_OUTPUT = "athena_output"
#: The analytics tables dbt builds on Athena.
DBT = "dbt"
#: Prefixes of the bucket that only the deployment and dbt use, not the pipeline's code.
DEPLOY_PREFIXES = (ATHENA_OUTPUT, DBT)

#: Compaction's hour leases: outside events/, so no reader and no partition scan sees them.
COMPACTION = "compaction"

#: Every top-level prefix of the lake, in the order the demo reports them.
PREFIXES = (
    EVENTS,
    ARRIVALS,
    RAW,
    EXTRA_COLUMNS,
    FAILED_RECORDS,
    KINESIS_FAILURES,
    FAILED_TRANSFORMATION_RECORDS,
    CRM,
    COMPACTION,
)
#: The failed stores `weblogs replay` reads (the transformation's first: the default).
FAILED_STORES = (FAILED_TRANSFORMATION_RECORDS, FAILED_RECORDS, KINESIS_FAILURES)

#: `weblogs forget`'s journals (pending/, hashes only) and erasure records (records/).
ERASURE = "erasure"


@dataclass(frozen=True)
class LakeObject:
    """One object of the lake as a listing shows it."""

    key: str
    size: int
    modified: datetime


#: A zero-padded (year, month, day, hour) partition of the events table.
HivePartition = tuple[str, str, str, str]
#: The hive partition columns, in path order.
PARTITION_KEYS = PARTITION_COLUMNS
#: Relative to `events/`: every Parquet object of the events table.
EVENT_FILES_GLOB = "year=*/month=*/day=*/hour=*/*.parquet"
#: Relative to `arrivals/`: every arrivals manifest (plain or gzipped JSON lines).
ARRIVALS_FILES_GLOB = "year=*/month=*/day=*/*.json*"
#: The endings of an arrivals manifest's name; what precedes them is its batch's name.
MANIFEST_SUFFIXES = (".jsonl.gz", ".json.gz", ".jsonl", ".json")


def manifest_name(file_name: str) -> str | None:
    """The batch name of a manifest file (its name without the ending); None if not one."""
    suffix = next((s for s in MANIFEST_SUFFIXES if file_name.endswith(s)), None)
    return None if suffix is None else file_name[: -len(suffix)]


#: Object names inside a partition: ASCII, no path separators, at most 255 characters.
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.=+-]{0,254}"
_NAME_RE = re.compile(_NAME, re.ASCII)
# [0-9], not \d: \d also matches non-ASCII digits such as U+0661 or U+FF11.
_EVENT_KEY_RE = re.compile(
    EVENTS
    + r"/year=([0-9]{4})/month=([0-9]{2})/day=([0-9]{2})/hour=([0-9]{2})/("
    + _NAME
    + r")\.parquet",
    re.ASCII,
)

#: The earliest partition: the contract's earliest valid timestamp.
MIN_PARTITION_HOUR = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=MIN_TIMESTAMP_MS)
#: How far past processing time a partition may be: the contract's future tolerance.
MAX_FUTURE = timedelta(milliseconds=DAY_MS)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Where the local lake lives when nothing says otherwise.
DEFAULT_LAKE_ROOT = Path("data/lake")
LAKE_ROOT_ENV = "WEBLOGS_LAKE_ROOT"


def lake_root(env: Mapping[str, str]) -> Path:
    """`$WEBLOGS_LAKE_ROOT`, else `data/lake`; an empty value counts as unset."""
    return Path(env.get(LAKE_ROOT_ENV) or DEFAULT_LAKE_ROOT)


def partition_of(hour_bucket: int) -> HivePartition:
    """Zero-padded (year, month, day, hour) of an epoch-hour number."""
    moment = _EPOCH + timedelta(hours=hour_bucket)
    return (f"{moment.year:04d}", f"{moment.month:02d}", f"{moment.day:02d}", f"{moment.hour:02d}")


def partition_prefix(partition: HivePartition) -> str:
    """`events/year=YYYY/month=MM/day=DD/hour=HH/`: the partition's folder, with a slash."""
    parts = "/".join(f"{k}={v}" for k, v in zip(PARTITION_KEYS, partition, strict=True))
    return f"{EVENTS}/{parts}/"


def event_key(partition: HivePartition, name: str) -> str:
    """The key of one Parquet object of the events table; `parse_event_key` inverts it."""
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"not a valid object name: {name!r}")
    return f"{partition_prefix(partition)}{name}.parquet"


def parse_event_key(key: str) -> tuple[HivePartition, str] | None:
    """(partition, name) of a key `event_key` could have written, else None.

    Strict: ASCII digits of the exact widths, a name without path separators; the
    calendar and the bounds are the caller's to check (`partition_hour`).
    """
    match = _EVENT_KEY_RE.fullmatch(key) if isinstance(key, str) else None
    if match is None or ".." in key:
        return None
    year, month, day, hour, name = match.groups()
    return (year, month, day, hour), name


def partition_hour(partition: HivePartition) -> datetime | None:
    """The partition's first instant, or None when it names no real calendar hour."""
    try:
        return datetime(*(int(value) for value in partition), tzinfo=UTC)  # type: ignore[misc]
    except ValueError:
        return None


def partition_in_bounds(start: datetime, now: datetime) -> bool:
    """Whether an hour can hold events the contract accepts at processing time `now`."""
    return MIN_PARTITION_HOUR <= start <= now + MAX_FUTURE


def dated_key(prefix: str, moment: datetime, name: str) -> str:
    """A JSON-lines object under `prefix/dt=YYYY-MM-DD/` (archives and failed stores)."""
    return f"{prefix}/dt={moment:%Y-%m-%d}/{name}.jsonl"


def arrivals_key(moment: datetime, name: str) -> str:
    """A batch's arrivals manifest, under the UTC date it arrived (was processed).

    The name is the batch's, so the batch retried at the same processing time
    rewrites the same object.
    """
    at = moment.astimezone(UTC)
    return f"{ARRIVALS}/year={at:%Y}/month={at:%m}/day={at:%d}/{name}.jsonl"


#: The CRM extracts, by name: `<name>.csv` in the lake folder.
CRM_EXTRACTS = ("customers", "ratings")
#: Each CRM load is kept as `crm/snapshots/<UTC time of the load>/<name>.csv`.
CRM_SNAPSHOTS = f"{CRM}/snapshots"


def crm_current_key(name: str, *, s3: bool) -> str:
    """The current extract: `crm/<name>.csv` in a lake folder; on S3 inside its Glue table's
    folder, `crm/<name>/<name>.csv`, since Athena reads every object of that folder."""
    return f"{CRM}/{name}/{name}.csv" if s3 else f"{CRM}/{name}.csv"


def crm_table_prefix(name: str) -> str:
    """The S3 folder Athena's table of one extract reads (every object in it)."""
    return f"{CRM}/{name}/"


def crm_snapshot_stamp(moment: datetime) -> str:
    """The snapshot folder name of a load: UTC, sortable, safe in paths and S3 keys."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H%M%S.%fZ")


def crm_snapshot_folder(stamp: str) -> str:
    return f"{CRM_SNAPSHOTS}/{stamp}/"


def crm_snapshot_key(stamp: str, name: str) -> str:
    return f"{crm_snapshot_folder(stamp)}{name}.csv"


#: Names of the objects compaction writes: `compacted-<group>[-NNN].parquet`.
COMPACTED_PREFIX = "compacted-"


def compacted_names(group: str, parts: int) -> list[str]:
    """The object names (without `.parquet`) of one compaction of an hour into `parts`."""
    if parts == 1:
        return [f"{COMPACTED_PREFIX}{group}"]
    return [f"{COMPACTED_PREFIX}{group}-{i:03d}" for i in range(parts)]


def compacted_group(name: str) -> str | None:
    """The group id of a compacted object's name (with or without `.parquet`), else None."""
    if not name.startswith(COMPACTED_PREFIX):
        return None
    return name[len(COMPACTED_PREFIX) :].removesuffix(".parquet").split("-", 1)[0]


def failed_key(prefix: str, name: str, day: datetime | None = None) -> str:
    """Where a batch's failures go: named after the input (`name`), never after the day
    of the run, so a re-run on another day finds its own object. `day` is for inputs
    that carry one (a Kinesis batch's arrival time): then under `dt=YYYY-MM-DD/`."""
    return dated_key(prefix, day, name) if day is not None else f"{prefix}/{name}.jsonl"


def compaction_lease_prefix(partition: HivePartition) -> str:
    """Where the leases of one hour live: `compaction/leases/year=.../hour=HH/`."""
    return f"{COMPACTION}/leases/{partition_prefix(partition).removeprefix(EVENTS + '/')}"


def compaction_lease_key(partition: HivePartition, generation: int) -> str:
    """One generation of an hour's lease: a run owns the hour while its generation is the
    newest and has not expired; taking an expired lease creates the next generation."""
    return f"{compaction_lease_prefix(partition)}{generation:08d}.json"


def lease_generation(key: str) -> int | None:
    """The generation of a lease key, else None."""
    name = key.rsplit("/", 1)[-1]
    digits = name.removesuffix(".json")
    if len(digits) != 8 or not digits.isdigit() or not name.endswith(".json"):
        return None
    return int(digits)
