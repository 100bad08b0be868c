"""Fuzz targets: each takes bytes, and raises only when the code under test breaks a rule.

The same targets run in the test suite (hypothesis, bounded) and in `make fuzz`
(atheris, coverage-guided, for as long as asked). A target fails when the code
raises, or when two paths that must agree do not (`screen` against `validate`).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import orjson

from ingestion.consumer import parse_page
from lambdas.transformation import Batch
from weblogs.core.contract import (
    KNOWN_FIELDS,
    Invalid,
    Valid,
    failed_record,
    payload_bytes,
    screen,
    validate,
)

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
NOW_MS = 1_791_201_600_000
#: The contract's fields, from its one definition (sorted: a stable order for the fuzzers).
FIELDS = tuple(sorted(KNOWN_FIELDS))


def _reason(verdict: Any) -> str | None:
    return verdict.reason if isinstance(verdict, Invalid) else None


def contract_bytes(data: bytes) -> None:
    """`validate` and `screen` on one record's raw text: a verdict each, the same one."""
    verdict = validate(data, now=NOW)
    assert isinstance(verdict, (Valid, Invalid))
    if isinstance(verdict, Valid):
        verdict.values  # noqa: B018 - derived values are computed here and must not raise
    screened = screen(data, now_ms=NOW_MS)
    assert _reason(screened) == _reason(verdict), (data[:200], screened, verdict)
    failed = failed_record(data, _reason(verdict) or "x", "fuzz", NOW)
    assert payload_bytes(failed) == data


def contract_object(data: bytes) -> None:
    """An event built from the bytes: known fields with values of any JSON type."""
    event = _event_from(data)
    verdict = validate(event, now=NOW)
    assert isinstance(verdict, (Valid, Invalid))
    if isinstance(verdict, Valid):
        verdict.values  # noqa: B018
    try:
        raw = json.dumps(event, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return
    contract_bytes(raw)


def _event_from(data: bytes) -> dict[str, Any]:
    """A mostly valid event whose fields the bytes overwrite with odd values."""
    event: dict[str, Any] = {
        "session_id": "s-1",
        "event_type": "page_view",
        "page_url": "/",
        "timestamp": 1_791_000_000,
    }
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    for index, piece in enumerate(text.split("\x00")[:16]):
        field = FIELDS[index % len(FIELDS)] if index < len(FIELDS) else f"extra{index}"
        event[field] = _value(piece)
    return event


def _value(piece: str) -> Any:
    if piece[:1] == "i":
        try:
            return int(piece[1:64] or "0")
        except ValueError:
            return piece
    if piece[:1] == "f":
        try:
            return float(piece[1:64] or "0")
        except ValueError:
            return piece
    if piece[:1] == "j":
        try:
            return json.loads(piece[1:])
        except (ValueError, RecursionError):
            return piece
    if piece[:1] == "n":
        return None
    if piece[:1] == "b":
        return piece[1:2] == "1"
    return piece


def page(data: bytes) -> None:
    """The page splitter: element texts or a reason, every element judged without raising."""
    texts, reason = parse_page(data)
    if texts is None:
        assert reason
        return
    for text in texts:
        assert b"\n" not in text and b"\r" not in text
        contract_bytes(text)


def kinesis_record(data: bytes) -> None:
    """The Lambda's record decoder on a record shaped by the bytes: never raises, and
    `Batch.extend` (the fast loop) decodes it as `Batch.add` does."""
    try:
        record: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        record = {
            "kinesis": {
                "data": base64.b64encode(data).decode(),
                "sequenceNumber": "1",
                "approximateArrivalTimestamp": 1_791_000_000.0,
            },
            "eventID": "shardId-0:1",
        }
    batch = Batch([], [], [])
    batch.add(record)
    batch.add(record)
    # `extend`'s tight loop takes the second copy: it must leave what `add` leaves.
    extended = Batch([], [], [])
    extended.extend([record, record])
    assert extended == batch, (record, extended, batch)


TARGETS = {
    "contract_bytes": contract_bytes,
    "contract_object": contract_object,
    "page": page,
    "kinesis_record": kinesis_record,
}
