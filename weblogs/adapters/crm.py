"""CRM loads' I/O: check the files on disk, then snapshot and replace the lake's extract.

A load is all or nothing: every file is checked (`weblogs.core.crm`) into a
canonical temporary copy, and only when no file has a problem are the snapshots
(`crm/snapshots/<UTC time>/`) and then the current extracts written, each one
replaced atomically (rename on disk, one put on S3).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weblogs.adapters import aws
from weblogs.core.crm import MAX_LINE_BYTES, ExtractChecker, Problem
from weblogs.core.errors import UsageError
from weblogs.core.layout import (
    crm_current_key,
    crm_snapshot_folder,
    crm_snapshot_key,
    crm_snapshot_stamp,
    crm_table_prefix,
)


@dataclass
class Checked:
    """A checked extract: its canonical CSV in a temporary file, and what was found."""

    kind: str
    source: Path
    canonical: Path
    rows: int = 0
    problems: int = 0
    dropped_columns: list[str] = field(default_factory=list)


def _lines(handle: io.BufferedIOBase) -> Iterator[tuple[int, bytes | None]]:
    """Numbered physical lines without their line end (`\\n` or `\\r\\n`); None for a
    line longer than MAX_LINE_BYTES, which is skipped without being held in memory."""
    number = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, None
            continue
        line = raw[:-1] if raw.endswith(b"\n") else raw
        yield number, line[:-1] if line.endswith(b"\r") else line


def check_file(
    kind: str, source: Path, canonical: Path, report: Callable[[Problem], None]
) -> Checked:
    """Check `source` line by line (problems to `report`), its canonical CSV to `canonical`."""
    checker = ExtractChecker(kind, str(source), report)
    try:
        handle = source.open("rb")
    except OSError as exc:
        checker.problem(None, f"cannot be read: {exc.strerror}")
    else:
        with handle, canonical.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(checker.canonical_rows(_lines(handle)))
    return Checked(kind, source, canonical, checker.rows, checker.problems, checker.dropped_columns)


class LocalCrmStore:
    """The extracts in a lake folder: each file replaced by rename, so readers see old or new."""

    s3 = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def put_file(self, key: str, source: Path) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def others(self, kind: str) -> list[str]:
        return []

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


class S3CrmStore:
    """The extracts in a bucket: one put per object is atomic for readers."""

    s3 = True

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def __str__(self) -> str:
        return f"s3://{self.bucket}"

    def exists(self, key: str) -> bool:
        response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in response.get("Contents", []))

    def put_file(self, key: str, source: Path) -> None:
        with source.open("rb") as body:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def others(self, kind: str) -> list[str]:
        """Objects in the Glue table's folder besides the current extract (Athena would read them)."""
        keep = crm_current_key(kind, s3=True)
        paginator = self.client.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=crm_table_prefix(kind)):
            found += [item["Key"] for item in page.get("Contents", []) if item["Key"] != keep]
        return found

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


def open_store(lake: str, *, s3_client: Any = None) -> LocalCrmStore | S3CrmStore:
    if lake.startswith("s3://"):
        bucket = lake[5:].strip("/")
        if not bucket or "/" in bucket:
            raise UsageError(f"expected s3://BUCKET, got {lake!r}")
        return S3CrmStore(s3_client or aws.client("s3"), bucket)
    return LocalCrmStore(Path(lake))


@dataclass
class LoadResult:
    """What a load did (or why it did nothing)."""

    checked: list[Checked]
    problems: int
    snapshot: str | None = None
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def load(
    files: dict[str, Path],
    store: LocalCrmStore | S3CrmStore,
    *,
    now: datetime | None = None,
    report: Callable[[Problem], None] = lambda p: print(p, file=sys.stderr),
) -> LoadResult:
    """Check every file; only when none has a problem, snapshot and replace the extracts.

    Order of writes: the snapshot first (so every current extract has its snapshot),
    then each current extract (customers before ratings), each replaced atomically.
    """
    if not files:
        raise UsageError("give --customers and/or --ratings")
    with tempfile.TemporaryDirectory(prefix="weblogs-crm-") as work:
        checked = [
            check_file(kind, path, Path(work) / f"{kind}.csv", report)
            for kind, path in sorted(files.items())
        ]
        problems = sum(c.problems for c in checked)
        result = LoadResult(checked, problems)
        if problems:
            return result
        stamp = crm_snapshot_stamp(now or datetime.now(UTC))
        if any(store.exists(crm_snapshot_key(stamp, c.kind)) for c in checked):
            raise UsageError(f"snapshot {stamp} exists already; run the load again")
        result.snapshot = crm_snapshot_folder(stamp)
        for c in checked:
            store.put_file(crm_snapshot_key(stamp, c.kind), c.canonical)
        for c in checked:
            key = crm_current_key(c.kind, s3=store.s3)
            store.put_file(key, c.canonical)
            result.written.append(key)
            for other in store.others(c.kind):
                store.delete(other)
                result.removed.append(other)
        return result
