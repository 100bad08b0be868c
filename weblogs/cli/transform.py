"""`weblogs transform`: raw JSON lines into the local (or S3) lake, through the Lambda's code path.

The input is streamed: a chunk ends at CHUNK_RECORDS lines or CHUNK_BYTES bytes, and a
line longer than LINE_LIMIT (no event can be: the contract's limit is 1 MiB) is never
held whole: its first LINE_LIMIT bytes go to the failed store with its size and
SHA-256. Memory is bounded whatever the size of the file or of one line.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from weblogs.adapters.lake import Lake, LakeError, default_lake_root, open_lake, write_result
from weblogs.core import clock, layout
from weblogs.core.contract import MAX_RECORD_BYTES, failed_record
from weblogs.core.errors import UsageError
from weblogs.core.transform import TransformResult, transform_records

STAGE = "transformation"
FAILED_PREFIX = layout.FAILED_TRANSFORMATION_RECORDS
#: Records per output object: bounds memory on big inputs, like a Kinesis batch does.
CHUNK_RECORDS = 50_000
#: Bytes of input per output object (at most): bounds memory when events are big.
CHUNK_BYTES = 16 * 1024**2
#: Longest line held in memory; longer ones are kept as their head, size and digest.
LINE_LIMIT = 2 * MAX_RECORD_BYTES


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


@dataclass(frozen=True)
class Oversize:
    """A line longer than LINE_LIMIT: its first bytes, its size and SHA-256."""

    head: bytes
    size: int
    sha256: str


@dataclass
class Chunk:
    lines: list[bytes] = field(default_factory=list)
    oversize: list[Oversize] = field(default_factory=list)
    held: int = 0

    def __len__(self) -> int:
        return len(self.lines) + len(self.oversize)


def _rest_of_line(handle: BinaryIO, head: bytes) -> Oversize:
    digest = hashlib.sha256(head)
    size = len(head)
    while piece := handle.readline(1024 * 1024):
        body = piece.removesuffix(b"\n")
        digest.update(body)
        size += len(body)
        if piece.endswith(b"\n"):
            break
    return Oversize(head[:LINE_LIMIT], size, digest.hexdigest())


def records(handle: BinaryIO) -> Iterator[bytes | Oversize]:
    """Non-blank lines without their line end; an over-long line as an Oversize."""
    while raw := handle.readline(LINE_LIMIT + 1):
        if len(raw) > LINE_LIMIT and not raw.endswith(b"\n"):
            yield _rest_of_line(handle, raw)
            continue
        line = raw.rstrip(b"\r\n")
        if line.strip():
            yield line


def chunks(path: Path, size: int, max_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """The input `size` records or `max_bytes` bytes at a time."""
    with path.open("rb") as handle:
        chunk = Chunk()
        for record in records(handle):
            if isinstance(record, Oversize):
                chunk.oversize.append(record)
                chunk.held += len(record.head)
            else:
                chunk.lines.append(record)
                chunk.held += len(record)
            if len(chunk) >= size or chunk.held >= max_bytes:
                yield chunk
                chunk = Chunk()
        if len(chunk):
            yield chunk


def object_name(path: Path, chunk: list[bytes], oversize: tuple[Oversize, ...] = ()) -> str:
    """Derived from the content processed, so the same input always maps to the same objects."""
    digest = hashlib.sha256()
    for line in chunk:
        digest.update(line)
        digest.update(b"\n")
    for big in oversize:
        digest.update(f"oversize {big.size} {big.sha256}\n".encode())
    return f"local-{digest.hexdigest()[:24]}"


def _transform(chunk: Chunk, now: datetime, source: str) -> TransformResult:
    result = transform_records(chunk.lines, stage=STAGE, now=now, source=source)
    for big in chunk.oversize:  # never an event: kept as far as memory allows
        result.failures.append(
            failed_record(
                big.head,
                "record_too_large",
                STAGE,
                now,
                source=source,
                payload_truncated=True,
                payload_bytes=big.size,
                payload_sha256=big.sha256,
            )
        )
        result.records_in += 1
    return result


def _open_lake(lake_uri: str | Path) -> Lake:
    try:
        lake = open_lake(lake_uri)
        lake.check_writable()
    except LakeError as exc:
        raise UsageError(str(exc)) from exc
    return lake


def _write(lake: Lake, result: TransformResult, name: str) -> None:
    """A write error names the lake and the cause, never the input."""
    try:
        write_result(lake, result, name=name, failed_prefix=FAILED_PREFIX, keep_failed=True)
    except LakeError:
        raise
    except Exception as exc:  # botocore's errors, an unexpected OSError
        raise LakeError(f"cannot write to the lake {lake}: {exc}") from exc


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
    lake = _open_lake(lake_uri)
    now = now or clock.now(os.environ)
    records_in = written = failed = 0
    for path in files:
        pieces = chunks(path, CHUNK_RECORDS)
        while True:
            try:
                chunk = next(pieces, None)
            except OSError as exc:
                raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
            if chunk is None:
                break
            name = object_name(path, chunk.lines, tuple(chunk.oversize))
            result = _transform(chunk, now, path.name)
            chunk.lines.clear()  # the rows are in the tables now: free the raw bytes first
            _write(lake, result, name)
            records_in += result.records_in
            written += result.written
            failed += result.failed
            del result, chunk
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
