"""Vanished arrivals manifests on the `athena` target: the lake bucket listed, not the folder.

On a lake folder (`local`, `trino`) the scheduled run lists every event object
and manifest (weblogs.analytics.scheduled). In production the lake is the bucket
`$WEBLOGS_ATHENA_LAKE` (`s3://BUCKET`, set by the dbt task definition): its
`events/` and `arrivals/` prefixes are listed with ListObjectsV2 (paginated,
with sizes) through the project's S3 lake adapter, and the same pure
`unrecorded` compares them (docs/operations.md, When arrivals vanish).

The cost is bounded (docs/decisions.md): the event dates listed are the
`LOOKBACK_DAYS` before the run date, or from the first arrival day the run
counts if that is earlier (never more than the run's interval, itself at most
366 days); the manifests listed are those of the arrival days from the day
before the first event date listed through today. Only the manifests of the
arrival days the run counts are read (GetObject), as on a folder; the others
count by size. An event object dated before the look-back whose manifest
vanished is not found.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import PurePosixPath

from weblogs.adapters.lake import Lake, LakeError, open_lake, parse_address
from weblogs.core import clock, layout
from weblogs.core.errors import ConfigError
from weblogs.core.run_plan import (
    EventObject,
    Manifest,
    Unrecorded,
    arrival_line,
    event_object,
    unrecorded,
)

#: The dbt task's lake bucket, `s3://BUCKET` (deploy/template.yaml).
LAKE_ENV = "WEBLOGS_ATHENA_LAKE"
#: Event dates listed before the run date (at least): the bound of the listing's cost.
LOOKBACK_DAYS = 14
#: A manifest bigger than this is not read: it counts as naming no hour (a batch writes KiBs).
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
ONE_DAY = timedelta(days=1)


def lake_bucket(env: Mapping[str, str]) -> Lake:
    """The lake bucket of `$WEBLOGS_ATHENA_LAKE`; ConfigError (one line) when unset or not s3://."""
    text = (env.get(LAKE_ENV) or "").strip()
    if not text:
        raise ConfigError(
            f"athena target: {LAKE_ENV} is not set: the scheduled run lists the lake bucket "
            "(s3://BUCKET) to find vanished arrivals manifests (docs/operations.md)"
        )
    try:
        address = parse_address(text)
    except LakeError as exc:
        raise ConfigError(f"athena target: {LAKE_ENV}: {exc}") from None
    if address.bucket is None:
        raise ConfigError(f"athena target: {LAKE_ENV}={text[:80]!r} is not s3://BUCKET")
    return open_lake(f"s3://{address.bucket}")


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def listed_days(
    run_date: date, arrival_days: Sequence[date], today: date
) -> tuple[list[date], list[date]]:
    """(event dates listed, arrival days listed): the look-back, bounded as documented."""
    first = run_date - timedelta(days=LOOKBACK_DAYS)
    if arrival_days:
        first = min(first, arrival_days[0])
    event_days = _days(first, run_date - ONE_DAY)
    return event_days, _days(first - ONE_DAY, max(today, run_date))


def _events_prefix(day: date) -> str:
    """`events/year=/month=/day=/`: the day's hour partitions, one listing."""
    hour = layout.partition_prefix((f"{day:%Y}", f"{day:%m}", f"{day:%d}", "00"))
    return hour.rsplit("/", 2)[0] + "/"


def bucket_event_objects(lake: Lake, days: Sequence[date]) -> list[EventObject]:
    """The event objects of `days` but compaction's outputs, with batch name and hour."""
    found = (
        event_object(obj.key) for day in days for obj in lake.list_objects(_events_prefix(day))
    )
    return [obj for obj in found if obj is not None]


def _texts(data: bytes, gzipped: bool) -> Iterator[str]:
    try:
        text = (gzip.decompress(data) if gzipped else data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError):
        yield "\x00"  # unreadable: one line that names no hour
        return
    yield from (line for line in text.splitlines() if line.strip())


def _hour(text: str) -> tuple[date, str] | None:
    """The event hour a manifest line names, read as on a lake folder (`arrival_line`)."""
    try:
        line = arrival_line(json.loads(text))
    except ValueError:
        return None
    return (line.event_date, line.event_hour) if line.event_date and line.event_hour else None


def manifest_hours(data: bytes, gzipped: bool) -> tuple[bool, frozenset[tuple[date, str]]]:
    """(empty, the event hours its lines name) of one manifest's bytes."""
    lines = list(_texts(data, gzipped))
    return not lines, frozenset(hour for line in lines if (hour := _hour(line)))


def _arrivals_prefix(day: date) -> str:
    key = layout.arrivals_key(datetime.combine(day, time(), UTC), "_")
    return f"{PurePosixPath(key).parent}/"


def bucket_manifests(lake: Lake, days: Sequence[date], read_days: Sequence[date]) -> list[Manifest]:
    """The manifests of arrival days `days`; those of `read_days` read for their hours."""
    manifests = []
    for day in days:
        for obj in lake.list_objects(_arrivals_prefix(day)):
            name = layout.manifest_name(obj.key.rsplit("/", 1)[-1])
            if name is None:
                continue
            if day not in read_days or obj.size == 0:
                manifests.append(Manifest(name, obj.size == 0))
            elif obj.size > MAX_MANIFEST_BYTES:
                manifests.append(Manifest(name, False, frozenset()))
            else:
                empty, hours = manifest_hours(lake.get(obj.key), obj.key.endswith(".gz"))
                manifests.append(Manifest(name, empty, hours))
    return manifests


def bucket_unrecorded(
    lake: Lake, env: Mapping[str, str], run_date: date, arrival_days: Sequence[date]
) -> Unrecorded:
    """The event hours of the look-back no manifest of the lake bucket names.

    The events are listed before the manifests: a batch writes its objects first,
    so an object listed has its manifest listed too unless that batch is in flight."""
    event_days, manifest_days = listed_days(run_date, arrival_days, clock.now(env).date())
    objects = bucket_event_objects(lake, event_days)
    return unrecorded(objects, bucket_manifests(lake, manifest_days, arrival_days))
