"""The lake as an S3 bucket: one PUT is atomic for readers, `If-None-Match: *` creates.

Big objects are uploaded from a local temporary file (boto3's managed transfer,
itself atomic: a multipart upload is invisible until completed) and read by
ranges, so memory never holds a whole object.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from weblogs.adapters.lake.base import LakeError, LakeObject, ObjectVersion, check_key

__all__ = ["RangeReader", "S3Lake"]

_MISSING = ("404", "NoSuchKey", "NotFound")
#: A conditional write lost to a concurrent one (S3 answers 409 while another is in flight).
_EXISTS = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class RangeReader(io.RawIOBase):
    """A read-only, seekable view of one S3 object through ranged GETs."""

    def __init__(self, client: Any, bucket: str, key: str, size: int | None = None) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        if size is None:
            size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        self.size = size
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        response = self.client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{end - 1}"
        )
        data = response["Body"].read()
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class S3Lake:
    """A bucket; `client` is a boto3 S3 client (its endpoint may be a moto server)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def __repr__(self) -> str:
        return f"S3Lake('s3://{self.bucket}')"

    def __str__(self) -> str:
        return f"s3://{self.bucket}"

    def check_writable(self) -> None:
        """The bucket must exist and answer; a write failure later still names the key."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:  # botocore's errors: no credentials, no bucket, no network
            raise LakeError(f"lake s3://{self.bucket} cannot be used: {exc}") from exc

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data)

    def put_file(self, key: str, source: Path) -> None:
        self.client.upload_file(str(source), self.bucket, check_key(key))

    @contextlib.contextmanager
    def staged(self, key: str) -> Iterator[Path]:
        check_key(key)
        with tempfile.TemporaryDirectory(prefix="weblogs-lake-") as work:
            path = Path(work) / "object"
            yield path
            self.put_file(key, path)

    def create(self, key: str, data: bytes) -> bool:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=check_key(key), Body=data, IfNoneMatch="*"
            )
        except Exception as exc:
            if _code(exc) in _EXISTS:
                return False
            raise
        return True

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        response = self.client.get_object(
            Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + length - 1}"
        )
        return response["Body"].read()

    def open_input(self, key: str) -> BinaryIO:
        return io.BufferedReader(RangeReader(self.client, self.bucket, key), 1024 * 1024)  # type: ignore[return-value]

    def stat(self, key: str) -> LakeObject | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return LakeObject(key, head["ContentLength"], head["LastModified"])

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str = "") -> Iterator[str]:
        for obj in self.list_objects(prefix):
            yield obj.key

    def list_objects(self, prefix: str = "") -> Iterator[LakeObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield LakeObject(item["Key"], item["Size"], item["LastModified"])

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Versions", []):
                yield ObjectVersion(
                    item["Key"], item.get("VersionId"), item.get("Size", 0), item["IsLatest"]
                )
            for item in page.get("DeleteMarkers", []):
                yield ObjectVersion(
                    item["Key"], item.get("VersionId"), 0, item["IsLatest"], delete_marker=True
                )

    def delete_version(self, key: str, version_id: str | None) -> None:
        if version_id is None:
            self.delete(key)
            return
        self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)

    def clean_temporaries(self, prefix: str, older_than_seconds: float) -> int:
        """Nothing to clean: an S3 write is one request, and its temporaries are local."""
        return 0
