"""`weblogs crm load`: check CRM extracts, then replace the lake's current extract.

The CRM files are hand-made exports, so every problem is reported (file, line,
one line each) before anything changes: a load is all or nothing. A good file is
written back in one canonical form (the contract's columns in the contract's
order, `\\n` line ends, no byte-order mark) because Athena's Glue tables read
CSV columns by position; each load is also kept as a dated snapshot so a bad
export can be rolled back by copying the snapshot over the current extract.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from weblogs.errors import UsageError

CRM_PREFIX = "crm"
SNAPSHOTS_PREFIX = f"{CRM_PREFIX}/snapshots"
#: Columns of each extract, in the order the canonical file (and Athena's table) has them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("user_id", "customer_id", "loyalty_tier", "is_loyalty_member", "signup_date"),
    "ratings": ("user_id", "rated_at", "rating"),
}
TIERS = ("none", "bronze", "silver", "gold")
FLAGS = ("true", "false")
#: Longest line accepted: bounds memory on a file without line breaks.
MAX_LINE_BYTES = 64 * 1024
#: YYYY-MM-DD in ASCII digits.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
#: ISO-8601 that DuckDB's cast and Athena's from_iso8601_timestamp both read: a date,
#: optionally `T` + hh:mm:ss with up to 6 decimals, optionally Z or a +hh[:mm] offset.
_ISO = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:T(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)"
    r"(?P<zone>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?",
    re.ASCII,
)
_RATING = re.compile(r"[0-9]+", re.ASCII)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file: printed as `file:line: message`."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass
class Checked:
    """A checked extract: its canonical CSV in a temporary file, and what was found."""

    kind: str
    source: Path
    canonical: Path
    rows: int = 0
    problems: int = 0
    dropped_columns: list[str] = field(default_factory=list)


def _shown(value: str) -> str:
    """A value as it appears in a message: quoted, shortened, control characters escaped."""
    text = value if len(value) <= 40 else value[:37] + "..."
    return repr(text)


def parse_iso8601(text: str) -> datetime | None:
    """The UTC time of an ISO-8601 text both engines read alike, else None."""
    match = _ISO.fullmatch(text)
    if not match:
        return None
    try:
        day = date.fromisoformat(match["date"])
        if not match["time"]:
            return datetime(day.year, day.month, day.day)
        zone = match["zone"] or ""
        if zone == "Z":
            zone = "+00:00"
        elif len(zone) == 3:
            zone += ":00"
        elif len(zone) == 5:
            zone = f"{zone[:3]}:{zone[3:]}"
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}{zone}")
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _check_value(kind: str, column: str, value: str) -> str | None:
    """Why a (trimmed) value is not acceptable, or None."""
    if "\\" in value:
        return f"{column} {_shown(value)} contains a backslash (Athena's CSV reader takes it as an escape)"
    if column == "user_id" or column == "customer_id":
        return None if value else f"{column} is empty"
    if column == "loyalty_tier":
        if value.lower() in TIERS or not value:
            return None
        return f"loyalty_tier {_shown(value)} is not one of {', '.join(TIERS)} (or empty)"
    if column == "is_loyalty_member":
        if value.lower() in FLAGS:
            return None
        return f"is_loyalty_member {_shown(value)} is not true or false"
    if column == "signup_date":
        if _DATE.fullmatch(value):
            with contextlib.suppress(ValueError):
                date.fromisoformat(value)
                return None
        return f"signup_date {_shown(value)} is not a date YYYY-MM-DD"
    if column == "rated_at":
        if parse_iso8601(value) is None:
            return f"rated_at {_shown(value)} is not an ISO-8601 date or time"
        return None
    if column == "rating":
        if _RATING.fullmatch(value) and 1 <= int(value) <= 5:
            return None
        return f"rating {_shown(value)} is not an integer 1-5 in ASCII digits"
    return None


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


def _fields(text: str) -> list[str]:
    """One CSV record from one line (a quoted value cannot span lines: Athena splits on them)."""
    reader = csv.reader([text], strict=True)
    row = next(reader, [])
    if next(reader, None) is not None:
        raise csv.Error("line break inside a value")
    return row


def check_extract(
    kind: str, source: Path, canonical: Path, report: Callable[[Problem], None]
) -> Checked:
    """Read `source` line by line, report each problem, write the canonical CSV to `canonical`.

    Memory is bounded by the file's user ids (for the duplicate check) and one line.
    """
    columns = COLUMNS[kind]
    checked = Checked(kind, source, canonical)
    name = str(source)

    def problem(line: int | None, message: str) -> None:
        checked.problems += 1
        report(Problem(name, line, message))

    first_seen: dict[str, int] = {}
    positions: dict[str, int] = {}
    width = 0
    try:
        handle = source.open("rb")
    except OSError as exc:
        problem(None, f"cannot be read: {exc.strerror}")
        return checked
    with handle, canonical.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        header_seen = False
        for number, raw in _lines(handle):
            if raw is None:
                problem(number, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem(number, f"not UTF-8 (byte {exc.start + 1})")
                continue
            if not text.strip():
                problem(number, "empty line")
                continue
            try:
                row = _fields(text)
            except csv.Error as exc:
                problem(number, f"unreadable CSV: {exc}")
                continue
            if not header_seen:
                header_seen = True
                width = len(row)
                for index, title in enumerate(row):
                    key = title.strip().lower()
                    if key in positions:
                        problem(number, f"column {key} appears twice in the header")
                    elif key in columns:
                        positions[key] = index
                    else:
                        checked.dropped_columns.append(title.strip())
                for column in columns:
                    if column not in positions:
                        problem(number, f"missing column {column}")
                writer.writerow(columns)
                continue
            if len(row) != width:
                problem(number, f"{len(row)} fields, the header has {width}")
                continue
            values = [row[positions[c]].strip() if c in positions else "" for c in columns]
            bad = False
            for column, value in zip(columns, values, strict=True):
                if column not in positions:
                    continue
                reason = _check_value(kind, column, value)
                if reason:
                    problem(number, reason)
                    bad = True
            user_id = values[0]
            if kind == "customers" and user_id:
                earlier = first_seen.setdefault(user_id, number)
                if earlier != number:
                    problem(number, f"user_id {_shown(user_id)} already on line {earlier}")
                    bad = True
            if not bad:
                checked.rows += 1
                writer.writerow([row[positions[c]] for c in columns])
        if not header_seen:
            problem(None, "is empty (no header line)")
    return checked


# --- where the extracts go ---------------------------------------------------------


def snapshot_stamp(now: datetime) -> str:
    """The snapshot folder name of a load: UTC, sortable, safe in paths and S3 keys."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H%M%S.%fZ")


def current_key(kind: str, *, s3: bool) -> str:
    """Where the current extract lives: `crm/<kind>.csv` on disk; on S3 inside the Glue
    table's folder (`crm/<kind>/<kind>.csv`), since Athena reads every object of it."""
    return f"{CRM_PREFIX}/{kind}/{kind}.csv" if s3 else f"{CRM_PREFIX}/{kind}.csv"


def snapshot_key(stamp: str, kind: str) -> str:
    return f"{SNAPSHOTS_PREFIX}/{stamp}/{kind}.csv"


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
        keep = current_key(kind, s3=True)
        paginator = self.client.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{CRM_PREFIX}/{kind}/"):
            found += [item["Key"] for item in page.get("Contents", []) if item["Key"] != keep]
        return found

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


def open_store(lake: str, *, s3_client: Any = None) -> LocalCrmStore | S3CrmStore:
    if lake.startswith("s3://"):
        bucket = lake[5:].strip("/")
        if not bucket or "/" in bucket:
            raise UsageError(f"expected s3://BUCKET, got {lake!r}")
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        return S3CrmStore(s3_client, bucket)
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
            check_extract(kind, path, Path(work) / f"{kind}.csv", report)
            for kind, path in sorted(files.items())
        ]
        problems = sum(c.problems for c in checked)
        result = LoadResult(checked, problems)
        if problems:
            return result
        stamp = snapshot_stamp(now or datetime.now(UTC))
        if any(store.exists(snapshot_key(stamp, c.kind)) for c in checked):
            raise UsageError(f"snapshot {stamp} exists already; run the load again")
        result.snapshot = f"{SNAPSHOTS_PREFIX}/{stamp}/"
        for c in checked:
            store.put_file(snapshot_key(stamp, c.kind), c.canonical)
        for c in checked:
            key = current_key(c.kind, s3=store.s3)
            store.put_file(key, c.canonical)
            result.written.append(key)
            for other in store.others(c.kind):
                store.delete(other)
                result.removed.append(other)
        return result


# --- command line -------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    crm = subparsers.add_parser(
        "crm",
        help="CRM extracts: check and load customers.csv / ratings.csv",
        description="Work with the CRM extracts the loyalty marts join.",
    )
    actions = crm.add_subparsers(dest="crm_command", metavar="ACTION", required=True)
    parser = actions.add_parser(
        "load",
        help="check CRM files and replace the lake's current extract (all or nothing)",
        description=(
            "Check the files (header names in any order, required columns, values, "
            "duplicate user ids, ratings 1-5) and print every problem as file:line: "
            "reason. On any problem nothing changes and the exit status is 2. "
            "Otherwise each file is written in canonical form as a dated snapshot "
            "(crm/snapshots/<UTC time>/) and then replaces the current extract "
            "(crm/<name>.csv on disk; crm/<name>/<name>.csv on S3, the Glue table's folder)."
        ),
    )
    parser.add_argument("--customers", type=Path, help="customers CSV file")
    parser.add_argument("--ratings", type=Path, help="ratings CSV file")
    parser.add_argument(
        "--lake",
        default=None,
        help="lake folder or s3://BUCKET (default: $WEBLOGS_LAKE_ROOT, else data/lake)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from weblogs.lake import default_lake_root

    files = {k: p for k, p in (("customers", args.customers), ("ratings", args.ratings)) if p}
    if not files:
        raise UsageError("give --customers and/or --ratings")
    store = open_store(str(args.lake or default_lake_root()))
    result = load(files, store)
    for c in result.checked:
        if c.dropped_columns:
            print(
                f"crm load: {c.source.name}: columns not in the contract left out: "
                + ", ".join(c.dropped_columns)
            )
    if result.problems:
        print(
            f"crm load: {result.problems} problem(s); nothing was changed in {store}",
            file=sys.stderr,
        )
        return 2
    counts = ", ".join(f"{c.kind} {c.rows} rows" for c in result.checked)
    print(f"crm load: {counts} -> {store} {', '.join(result.written)}")
    print(f"crm load: snapshot {result.snapshot}")
    for key in result.removed:
        print(f"crm load: removed {key} (not the current extract)")
    return 0
