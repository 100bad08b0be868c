"""`weblogs transform`: raw JSON lines into the local (or S3) lake, through the Lambda's code path."""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from weblogs.adapters.lake import LakeError, LocalLake, default_lake_root, open_lake, write_result
from weblogs.core import clock, layout
from weblogs.core.errors import UsageError
from weblogs.core.transform import nonblank_chunks, transform_records

STAGE = "transformation"
FAILED_PREFIX = layout.FAILED_TRANSFORMATION_RECORDS
#: Records per output object: bounds memory on big inputs, like a Kinesis batch does.
CHUNK_RECORDS = 50_000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transform",
        help="validate raw JSON-lines events and write them to the lake as Parquet",
        description=(
            "Feed raw events (one JSON object per line, as the API sends them) through "
            "the transformation: valid events become Snappy Parquet under "
            f"{layout.partition_prefix(('YYYY', 'MM', 'DD', 'HH'))}, failed ones go with their reason to "
            f"{FAILED_PREFIX}/. Re-running on the same input overwrites, "
            "never duplicates. Blank lines are not records."
        ),
    )
    parser.add_argument(
        "--input",
        required=True,
        type=Path,
        help="a .jsonl file, or a folder whose *.jsonl files are read in name order",
    )
    parser.add_argument(
        "--lake",
        default=None,
        help="lake folder or s3://bucket (default: $WEBLOGS_LAKE_ROOT, else data/lake)",
    )
    parser.set_defaults(func=run)


def input_files(path: Path) -> list[Path]:
    """The files to read; a clear error for anything unusable."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.jsonl") if p.is_file())
        if not files:
            raise UsageError(f"no *.jsonl files in folder {path}")
        return files
    if not path.exists():
        raise UsageError(f"input file {path} does not exist")
    if not path.is_file():
        raise UsageError(f"input {path} is not a file")
    return [path]


def chunks(path: Path, size: int) -> Iterator[list[bytes]]:
    """Non-blank lines of a file, `size` at a time (bytes: the payload exactly as received)."""
    with path.open("rb") as handle:
        yield from nonblank_chunks(handle, size)


def object_name(path: Path, chunk: list[bytes]) -> str:
    """Derived from the content processed, so the same input always maps to the same objects."""
    digest = hashlib.sha256()
    for line in chunk:
        digest.update(line)
        digest.update(b"\n")
    return f"local-{digest.hexdigest()[:24]}"


def transform_input(
    source: Path, lake_uri: str | Path, *, now: datetime | None = None
) -> tuple[int, int, int, str]:
    """Transform a file or folder into the lake: (records in, written, failed, lake).

    `now` (default: the current time) is the processing time the timestamps are
    checked against. Object names come from the input only, and a failed object
    that exists already is kept, so a re-run on any day leaves the failed store as
    it was.
    """
    files = input_files(source)
    lake = open_lake(lake_uri)
    try:
        if isinstance(lake, LocalLake):
            lake.check_writable()
    except LakeError as exc:
        raise UsageError(str(exc)) from exc
    now = now or clock.now(os.environ)
    records_in = written = failed = 0
    for path in files:
        try:
            for chunk in chunks(path, CHUNK_RECORDS):
                result = transform_records(chunk, stage=STAGE, now=now, source=path.name)
                name = object_name(path, chunk)
                write_result(lake, result, name=name, failed_prefix=FAILED_PREFIX, keep_failed=True)
                records_in += result.records_in
                written += result.written
                failed += result.failed
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return records_in, written, failed, repr(lake)


def run(args: argparse.Namespace) -> int:
    records_in, written, failed, lake = transform_input(
        args.input, args.lake or default_lake_root()
    )
    print(
        f"transform: {records_in} records in, {written} written, {failed} failed "
        f"-> {lake} ({layout.EVENTS}/, {FAILED_PREFIX}/)"
    )
    return 0
