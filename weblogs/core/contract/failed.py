"""The failed-store line: reason, stage, time and the payload exactly as received.

Its format is described in docs/contract.md#2-the-lake.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from weblogs.core.contract.canonical import canonical_json
from weblogs.core.contract.timestamps import iso_utc


def failed_record(
    payload: bytes | bytearray | memoryview | str | Any,
    reason: str,
    stage: str,
    failed_at: datetime,
    **context: Any,
) -> dict[str, Any]:
    """The failed-store line for a record: reason, stage, time and the payload as received.

    Bytes that are not UTF-8 are kept as base64 so nothing is lost; a decoded
    object (from a JSON array) is stored as its canonical JSON text.
    """
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    elif isinstance(payload, str):
        text, encoding = payload, "utf-8"
    else:
        try:
            text, encoding = canonical_json(payload).decode(), "utf-8"
        except (TypeError, ValueError):
            text, encoding = repr(payload), "repr"
    return {
        "reason": reason,
        "stage": stage,
        "failed_at": iso_utc(failed_at),
        "payload": text,
        "payload_encoding": encoding,
        **context,
    }


def payload_bytes(failed: dict[str, Any]) -> bytes:
    """The original payload of a failed-store line (the inverse of `failed_record`)."""
    if failed.get("payload_encoding") == "base64":
        return base64.b64decode(failed["payload"])
    return str(failed["payload"]).encode("utf-8")
