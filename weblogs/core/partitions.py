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
from datetime import datetime

from weblogs.core import layout
from weblogs.core.layout import PARTITION_KEYS

# Glue lower-cases names; we only accept what needs no quoting at all.
_IDENTIFIER_RE = re.compile(r"[a-z0-9_]{1,255}", re.ASCII)
# S3 bucket naming rules (virtual-host style, no dots at the edges).
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)


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
        return layout.partition_prefix(self.values)

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

    Accepts only keys `layout.event_key` could have written, in the expected bucket,
    for a real calendar hour within the contract's bounds (`layout.partition_in_bounds`).
    """
    if bucket != expected_bucket:
        return Rejected("unexpected_bucket")
    if not isinstance(key, str):
        return Rejected("key_not_text")
    parsed = layout.parse_event_key(key)
    if parsed is None:
        return Rejected("key_pattern_mismatch")
    start = layout.partition_hour(parsed[0])
    if start is None:
        return Rejected("not_a_calendar_hour")
    if not layout.partition_in_bounds(start, now):
        return Rejected("partition_out_of_range")
    return Partition(start.year, start.month, start.day, start.hour)


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
