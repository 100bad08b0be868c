"""Strict parsing of lake object keys into Hive partitions, and the DDL built from them.

Everything here is pure so the security property ("a crafted key never changes a
statement") can be tested without AWS: a key either matches one exact ASCII pattern
and names a real calendar hour, or it is rejected with a reason. Statements are
built from the *parsed integers* re-formatted, never from substrings of the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Lower bound of the event contract (SPEC section 1): nothing older can be in the lake.
MIN_PARTITION_HOUR = datetime(2000, 1, 1, tzinfo=UTC)
# Upper bound: the contract accepts events up to one day after processing time.
MAX_FUTURE = timedelta(days=1)

# [0-9], not \d: \d also matches non-ASCII digits such as U+0661 or U+FF11.
_KEY_RE = re.compile(
    r"events/year=([0-9]{4})/month=([0-9]{2})/day=([0-9]{2})/hour=([0-9]{2})/"
    r"([A-Za-z0-9][A-Za-z0-9_.=+-]{0,254})\.parquet",
    re.ASCII,
)
# Glue lower-cases names; we only accept what needs no quoting at all.
_IDENTIFIER_RE = re.compile(r"[a-z0-9_]{1,255}", re.ASCII)
# S3 bucket naming rules (virtual-host style, no dots at the edges).
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)

PARTITION_KEYS = ("year", "month", "day", "hour")


@dataclass(frozen=True, order=True)
class Partition:
    """One hourly partition of the events table, as validated integers."""

    year: int
    month: int
    day: int
    hour: int

    @property
    def values(self) -> tuple[str, str, str, str]:
        """Zero-padded string values, the form the lake paths and the table use."""
        return (f"{self.year:04d}", f"{self.month:02d}", f"{self.day:02d}", f"{self.hour:02d}")

    @property
    def prefix(self) -> str:
        """Key prefix of the partition inside the bucket, with trailing slash."""
        parts = "/".join(f"{k}={v}" for k, v in zip(PARTITION_KEYS, self.values, strict=True))
        return f"events/{parts}/"

    def location(self, bucket: str) -> str:
        """S3 URI of the partition directory (the bucket must already be validated)."""
        return f"s3://{bucket}/{self.prefix}"


@dataclass(frozen=True)
class Rejected:
    """Why a key is not registered; logged, never raised."""

    reason: str


def validate_identifier(name: str, what: str) -> str:
    """Return `name` if it is a plain lower-case Glue identifier, else raise ValueError."""
    if not isinstance(name, str) or not _IDENTIFIER_RE.fullmatch(name):
        raise ValueError(f"{what} must match [a-z0-9_]{{1,255}}, got {name!r}")
    return name


def validate_bucket(name: str) -> str:
    """Return `name` if it is a valid S3 bucket name, else raise ValueError."""
    if not isinstance(name, str) or not _BUCKET_RE.fullmatch(name) or ".." in name:
        raise ValueError(f"not a valid S3 bucket name: {name!r}")
    return name


def parse_partition_key(
    bucket: str, key: str, *, expected_bucket: str, now: datetime
) -> Partition | Rejected:
    """Parse an already URL-decoded object key of the events table.

    Accepts only `events/year=YYYY/month=MM/day=DD/hour=HH/<file>.parquet` in the
    expected bucket, for a real calendar hour between 2000-01-01 and now + 1 day.
    """
    if bucket != expected_bucket:
        return Rejected("unexpected_bucket")
    if not isinstance(key, str):
        return Rejected("key_not_text")
    match = _KEY_RE.fullmatch(key)
    if match is None or ".." in key:
        return Rejected("key_pattern_mismatch")
    year, month, day, hour = (int(match.group(i)) for i in range(1, 5))
    try:
        start = datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return Rejected("not_a_calendar_hour")
    if start < MIN_PARTITION_HOUR or start > now + MAX_FUTURE:
        return Rejected("partition_out_of_range")
    return Partition(year, month, day, hour)


def unique_partitions(partitions: Iterable[Partition]) -> list[Partition]:
    """Distinct partitions in a stable (chronological) order."""
    return sorted(set(partitions))


def add_partitions_sql(
    database: str, table: str, bucket: str, partitions: Iterable[Partition]
) -> str:
    """One `ALTER TABLE ... ADD IF NOT EXISTS` statement for all given partitions.

    Identifiers and bucket are re-validated here so no caller can bypass the checks;
    partition values are formatted from integers, so they are digits only.
    """
    validate_identifier(database, "database")
    validate_identifier(table, "table")
    validate_bucket(bucket)
    items = unique_partitions(partitions)
    if not items:
        raise ValueError("no partitions to add")
    specs = []
    for part in items:
        values = ", ".join(
            f"{name} = '{value}'" for name, value in zip(PARTITION_KEYS, part.values, strict=True)
        )
        specs.append(f"PARTITION ({values}) LOCATION '{part.location(bucket)}'")
    return f"ALTER TABLE `{database}`.`{table}` ADD IF NOT EXISTS\n" + "\n".join(specs)
