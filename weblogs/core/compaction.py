"""Compaction's rules, without I/O: which hours are closed, what counts as compact, how an
hour is split into parts and what its outputs are called.

The transformation writes one object per Kinesis batch per hour (about 10,000 a day
at 1M events); Athena's planning and S3 GETs scale with objects, not bytes. The I/O
(`weblogs.adapters.compaction`) rewrites each closed hour into what `plan` says.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from weblogs.core.contract.schema import ARROW_SCHEMA
from weblogs.core.layout import (
    LakeObject,
    compacted_group,
    compacted_names,
    event_key,
    parse_event_key,
    partition_hour,
    partition_prefix,
)

DEFAULT_MIN_AGE_HOURS = 2.0
DEFAULT_GRACE_SECONDS = 300.0
#: Input bytes per output part: a new part only starts when both parts keep this much.
#: Merged Parquet is about half the bytes of batch-sized objects, so parts stay >= 64 MB.
DEFAULT_MIN_PART_BYTES = 256 * 1024**2
MIN_PART_BYTES_FLOOR = 128 * 1024**2
#: Rows per output row group (and the most rows held in memory at once).
ROW_GROUP_ROWS = 262_144
#: Parquet key-value metadata of an output: the input names it replaces (JSON list) ...
INPUTS_METADATA = b"weblogs.compacted_from"
#: ... and how many parts its compaction wrote (all must exist to finish a run).
PARTS_METADATA = b"weblogs.compacted_parts"
#: The contract's columns (name, type); files written by other tools may differ in nullability.
COLUMNS = [(f.name, f.type) for f in ARROW_SCHEMA]
REQUIRED = [f.name for f in ARROW_SCHEMA if not f.nullable]


@dataclass(frozen=True)
class Hour:
    """One hour partition folder and its objects (sorted by key)."""

    folder: str  # events/year=YYYY/month=MM/day=DD/hour=HH/
    partition: tuple[str, str, str, str]
    start: datetime
    objects: tuple[LakeObject, ...]


def name_of(key: str) -> str:
    return key.rsplit("/", 1)[1]


def group_hours(objects: Iterable[LakeObject]) -> tuple[list[Hour], int]:
    """Objects under events/ by hour partition; also how many keys are not event objects."""
    by_partition: dict[tuple[str, str, str, str], list[LakeObject]] = defaultdict(list)
    foreign = 0
    for obj in objects:
        parsed = parse_event_key(obj.key)
        if parsed is None:
            foreign += 1
            continue
        by_partition[parsed[0]].append(obj)
    hours = []
    for partition, items in sorted(by_partition.items()):
        start = partition_hour(partition)
        if start is None:
            foreign += len(items)
            continue
        ordered = tuple(sorted(items, key=lambda o: o.key))
        hours.append(Hour(partition_prefix(partition), partition, start, ordered))
    return hours, foreign


def is_closed(hour: Hour, now: datetime, min_age: timedelta) -> bool:
    """An hour is closed once its end is at least `min_age` in the past."""
    return hour.start + timedelta(hours=1) + min_age <= now


def is_compact(hour: Hour) -> bool:
    """One object, or only the parts of one compaction (their names share the group id)."""
    names = [name_of(o.key) for o in hour.objects]
    if len(names) <= 1:
        return True
    groups = {compacted_group(n) for n in names}
    return len(groups) == 1 and None not in groups


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


def output_keys(hour: Hour, group: str, count: int) -> list[str]:
    return [event_key(hour.partition, name) for name in compacted_names(group, count)]


def leftovers(hour: Hour, recorded: dict[str, tuple[int, set[str]]]) -> set[str] | None:
    """When an earlier run's outputs are all in the hour and the other objects are all
    inputs they record, those inputs (to delete); else None.

    `recorded` maps an output name to (parts of its compaction, its input names)."""
    by_group: dict[str, list[str]] = defaultdict(list)
    for name in recorded:
        group = compacted_group(name)
        if group is not None:
            by_group[group].append(name)
    present = {name_of(o.key) for o in hour.objects}
    for members in by_group.values():
        if len(members) != recorded[members[0]][0]:
            continue
        inputs = set().union(*(recorded[m][1] for m in members))
        others = present - set(members)
        if others and others <= inputs:
            return others
    return None
