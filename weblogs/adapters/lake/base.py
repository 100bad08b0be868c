"""What every lake offers, whichever home it has (a folder or an S3 bucket).

One protocol, one key check and one parser of lake addresses: transform, replay,
compaction and CRM loads all reach storage through `open_lake` and these names
(docs/contract.md#2-the-lake).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from weblogs.core.errors import LakeError
from weblogs.core.layout import LakeObject
from weblogs.core.partitions import validate_bucket

__all__ = [
    "Lake",
    "LakeAddress",
    "LakeError",
    "LakeObject",
    "LakeWriteError",
    "ObjectVersion",
    "parse_address",
]

S3_SCHEME = "s3://"
#: A temporary older than this is a killed writer's: no write holds one that long. Compaction
#: and `weblogs forget` remove such leftovers (`Lake.clean_temporaries`).
STALE_TEMPORARY_SECONDS = 3600.0


class LakeWriteError(LakeError):
    """A write to the lake failed: the message names the operation, the path and the cause."""


@dataclass(frozen=True)
class ObjectVersion:
    """One version of an object (S3 with versioning; a folder has one per file, id None)."""

    key: str
    version_id: str | None
    size: int
    is_latest: bool
    delete_marker: bool = False


@dataclass(frozen=True)
class LakeAddress:
    """A parsed `--lake`: a bucket, or a local folder."""

    bucket: str | None = None
    folder: Path | None = None


def parse_address(uri: str | Path) -> LakeAddress:
    """The one parser of `s3://BUCKET` (and of a folder path); LakeError when it is neither."""
    text = str(uri)
    if not text:
        raise LakeError("lake address is empty: give a folder or s3://BUCKET")
    if "\x00" in text:
        raise LakeError(f"lake address contains a NUL byte: {text!r}")
    if text.lower().startswith(S3_SCHEME):
        bucket = text[len(S3_SCHEME) :].removesuffix("/")
        try:
            validate_bucket(bucket)  # the project's one rule for a bucket name
        except ValueError:
            raise LakeError(f"expected s3://BUCKET (a bucket name, no key), got {text!r}") from None
        return LakeAddress(bucket=bucket)
    if "://" in text:
        raise LakeError(f"expected a folder or s3://BUCKET, got {text!r}")
    return LakeAddress(folder=Path(text))


def check_key(key: str) -> str:
    """A relative '/'-separated key with no empty, '.' or '..' part (never escapes the root)."""
    parts = key.split("/")
    if not key or key.startswith("/") or "" in parts or "." in parts or ".." in parts:
        raise ValueError(f"unsafe lake key: {key!r}")
    if "\x00" in key:
        raise ValueError(f"unsafe lake key: {key!r}")
    return key


class Lake(Protocol):
    """Where objects go: keys are '/'-separated paths relative to the lake root.

    Every write is atomic for readers (the old object or the new one, never part of
    one); `create` publishes only when the key does not exist yet.
    """

    def put(self, key: str, data: bytes) -> None:
        """Write or replace `key` atomically."""
        ...

    def put_file(self, key: str, source: Path) -> None:
        """Write or replace `key` atomically with the bytes of a local file."""
        ...

    def staged(self, key: str) -> AbstractContextManager[Path]:
        """A local path to write; published to `key` when the block ends without error."""
        ...

    def create(self, key: str, data: bytes) -> bool:
        """Write `key` only if it does not exist: False (nothing written) when it does."""
        ...

    def get(self, key: str) -> bytes: ...

    def read_range(self, key: str, start: int, length: int) -> bytes: ...

    def open_input(self, key: str) -> BinaryIO:
        """A seekable binary reader (S3: ranged GETs), for Parquet footers and row groups."""
        ...

    def stat(self, key: str) -> LakeObject | None: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove `key` (no error when it is already gone)."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def list_objects(self, prefix: str = "") -> Iterator[LakeObject]: ...

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]: ...

    def delete_version(self, key: str, version_id: str | None) -> None: ...

    def check_writable(self) -> None:
        """LakeError naming the lake and the cause, before any work is done."""
        ...

    def clean_temporaries(
        self, prefix: str, older_than_seconds: float, *, name_prefix: str = ""
    ) -> int:
        """Remove temporaries a killed writer left under `prefix` (those older than
        `older_than_seconds`, bound for a name starting with `name_prefix`); how many."""
        ...
