"""The lake's two homes, S3 and a local folder, behind one protocol (`Lake`).

`open_lake(uri)` is the one way every command that takes `--lake` (transform,
replay, compact, crm load, forget) reaches storage: a folder gives a `LocalLake`,
`s3://BUCKET` an `S3Lake`, anything else one `LakeError`. Both hold the one layout
of `weblogs.core.layout` (docs/contract.md#2-the-lake).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from weblogs.adapters.lake.base import (
    STALE_TEMPORARY_SECONDS,
    Lake,
    LakeAddress,
    LakeError,
    LakeObject,
    LakeWriteError,
    ObjectVersion,
    check_key,
    parse_address,
)
from weblogs.adapters.lake.local import TEMP_PREFIX, LocalLake, write_atomically
from weblogs.adapters.lake.results import (
    Written,
    arrivals_manifest,
    discard,
    json_lines,
    write_result,
)
from weblogs.adapters.lake.s3 import RangeReader, S3Lake
from weblogs.core import layout

__all__ = [
    "STALE_TEMPORARY_SECONDS",
    "TEMP_PREFIX",
    "Lake",
    "LakeAddress",
    "LakeError",
    "LakeObject",
    "LakeWriteError",
    "LocalLake",
    "ObjectVersion",
    "RangeReader",
    "S3Lake",
    "Written",
    "arrivals_manifest",
    "check_key",
    "default_lake_root",
    "discard",
    "json_lines",
    "open_lake",
    "parse_address",
    "write_atomically",
    "write_result",
]


def default_lake_root() -> Path:
    """`$WEBLOGS_LAKE_ROOT`, else `data/lake` (relative to the working directory)."""
    return layout.lake_root(os.environ)


def open_lake(uri: str | Path | None = None, *, s3_client: Any = None) -> LocalLake | S3Lake:
    """`s3://BUCKET` gives an S3Lake (a default boto3 client unless one is passed), a
    folder a LocalLake, None the default lake; a bad address raises LakeError."""
    address = parse_address(default_lake_root() if uri is None else uri)
    if address.bucket is not None:
        if s3_client is None:
            from weblogs.adapters import aws

            s3_client = aws.client("s3")
        return S3Lake(s3_client, address.bucket)
    assert address.folder is not None
    if address.folder.exists() and not address.folder.is_dir():
        raise LakeError(f"lake folder {address.folder} is a file, not a folder")
    return LocalLake(address.folder)
