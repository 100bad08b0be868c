"""The lake's two homes, S3 and a local folder, behind one small interface.

Both hold the one layout of `weblogs.core.layout` (docs/contract.md#2-the-lake),
so the transformation writes through `write_result` and never knows which one it has.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow.compute as pc

from weblogs.core import layout
from weblogs.core.errors import LakeError
from weblogs.core.transform import TransformResult, parquet_bytes

__all__ = [
    "Lake",
    "LakeError",
    "LocalLake",
    "S3Lake",
    "default_lake_root",
    "discard",
    "json_lines",
    "open_lake",
    "write_atomically",
    "write_result",
]


class Lake(Protocol):
    """Where objects go: keys are '/'-separated paths relative to the lake root."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...


def default_lake_root() -> Path:
    """`$WEBLOGS_LAKE_ROOT`, else `data/lake` (relative to the working directory)."""
    return layout.lake_root(os.environ)


_TEMP_NAMES = itertools.count()


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a file so readers see all of it or nothing: a temporary file in the same
    folder, renamed into place. The consumer writes hundreds of these a second, so it
    is lean: the folder is made only when missing, the temporary name needs no random
    draw (process id + counter), and the bytes go out through os.write."""
    folder, name = os.path.split(os.fspath(path))
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{next(_TEMP_NAMES)}-{name}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class LocalLake:
    """A folder on disk; puts are atomic (temp file + rename) so readers never see half a file."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalLake({str(self.root)!r})"

    @staticmethod
    def _check_key(key: str) -> list[str]:
        parts = key.split("/")
        if not key or key.startswith("/") or "" in parts or "." in parts or ".." in parts:
            raise ValueError(f"unsafe lake key: {key!r}")
        return parts

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*self._check_key(key))

    def check_writable(self) -> None:
        """Fail early with a clear message instead of after the work is done."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise LakeError(f"lake folder {self.root} is not writable: {exc.strerror}") from exc

    def put(self, key: str, data: bytes) -> None:
        self._check_key(key)  # the path is built as text: pathlib costs more than the write
        write_atomically(os.path.join(self.root, key), data)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")) if base.is_dir() else []:
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()


class S3Lake:
    """A bucket; `client` is a boto3 S3 client (its endpoint may be a moto server)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def __repr__(self) -> str:
        return f"S3Lake('s3://{self.bucket}')"

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]


def open_lake(uri: str | Path, *, s3_client: Any = None) -> LocalLake | S3Lake:
    """`s3://bucket` gives an S3Lake (a default boto3 client unless one is passed), else a folder."""
    text = str(uri)
    if text.startswith("s3://"):
        bucket = text[5:].strip("/")
        if not bucket or "/" in bucket:
            raise LakeError(f"expected s3://BUCKET, got {text!r}")
        if s3_client is None:
            from weblogs.adapters import aws

            s3_client = aws.client("s3")
        return S3Lake(s3_client, bucket)
    return LocalLake(text)


def arrivals_manifest(result: TransformResult) -> bytes:
    """One JSON line per event hour the batch wrote: the dates the models must rebuild.

    `first_ingested_at`, the earliest `ingested_at` of the hour's events, lets the
    scheduled run find the batch's rows again and rebuild only their sessions
    (docs/analytics.md, Late data).
    """
    arrived_at = _iso_z(result.processed_at)
    return json_lines(
        [
            {
                "event_date": f"{year}-{month}-{day}",
                "event_hour": hour,
                "events": table.num_rows,
                "arrived_at": arrived_at,
                "first_ingested_at": _first_ingested_at(table),
            }
            for (year, month, day, hour), table in sorted(result.partitions.items())
        ]
    )


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _first_ingested_at(table: Any) -> str | None:
    if "ingested_at" not in table.column_names or table.num_rows == 0:
        return None
    first = pc.min(table.column("ingested_at")).as_py()
    if first is None:
        return None
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return _iso_z(first)


def json_lines(items: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


def write_result(
    lake: Lake,
    result: TransformResult,
    *,
    name: str,
    failed_prefix: str,
    failed_day: datetime | None = None,
    keep_failed: bool = False,
) -> list[str]:
    """Write a batch's partitions and failures under names derived from `name`.

    The same `name` for the same input writes the same keys, so a retry
    overwrites instead of duplicating. The arrivals manifest (which event hours
    the batch touched, and when) is written after the events; a re-run on
    another day records a new arrival, so the next scheduled run rebuilds those
    dates once more (same result). Failures go under `failed_day` only when the
    input carries one (`layout.failed_key`). With `keep_failed`, a failed object
    that exists already is left as it is (a re-run would only change its
    `failed_at`), so the failed store does not change at all. If a put fails, the
    keys already written by this call are removed (best effort) before the error
    propagates, so a retried batch with other boundaries leaves no stray copies.
    """
    written: list[str] = []
    try:
        for partition, table in sorted(result.partitions.items()):
            key = layout.event_key(partition, name)
            lake.put(key, parquet_bytes(table))
            written.append(key)
        if result.partitions:  # after the events: a manifest never names missing rows
            key = layout.arrivals_key(result.processed_at, name)
            lake.put(key, arrivals_manifest(result))
            written.append(key)
        if result.failures:
            key = layout.failed_key(failed_prefix, name, failed_day)
            if not (keep_failed and lake.exists(key)):
                lake.put(key, json_lines(result.failures))
                written.append(key)
    except Exception:
        discard(lake, written)
        raise
    return written


def discard(lake: Lake, keys: list[str]) -> None:
    """Best-effort removal of what a failed batch wrote: the original error is what matters."""
    for key in keys:
        with contextlib.suppress(Exception):
            lake.delete(key)
