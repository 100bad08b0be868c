"""`client_id` and `value` (docs/contract.md#1-the-event): their rules, their reasons,
the fast path's agreement, and `value` kept exact on its way to the lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from weblogs.core.contract import ARROW_SCHEMA, Invalid, Valid, screen, to_epoch_ms, validate
from weblogs.core.transform import transform_records

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
BASE = '{"session_id": "s-1", "event_type": "purchase", "page_url": "/", "timestamp": 1791000000'


def judge(fields: str) -> Valid | Invalid:
    """`validate` on the text, checked against `screen` on the same bytes."""
    raw = (BASE + (", " + fields if fields else "") + "}").encode()
    verdict = validate(raw, now=NOW)
    screened = screen(raw, now_ms=to_epoch_ms(NOW))
    if isinstance(verdict, Invalid):
        assert screened == verdict, raw
    else:
        assert screened == (verdict.session_id, verdict.event_timestamp_ms, False), raw
    return verdict


def stored(fields: str, column: str) -> object:
    verdict = judge(fields)
    assert isinstance(verdict, Valid), verdict
    return verdict.row[column]


def test_client_id_is_trimmed_and_blank_means_none() -> None:
    assert stored('"client_id": "  c-1 "', "client_id") == "c-1"
    assert stored('"client_id": "   "', "client_id") is None
    assert stored('"client_id": null', "client_id") is None
    assert stored("", "client_id") is None
    assert stored(json.dumps({"client_id": " " + "c" * 128 + " "})[1:-1], "client_id") == "c" * 128


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ('"client_id": "' + "c" * 129 + '"', "too_long:client_id"),
        ('"client_id": 7', "invalid_type:client_id"),
        ('"client_id": true', "invalid_type:client_id"),
        ('"client_id": ["c"]', "invalid_type:client_id"),
        ('"value": "19.99"', "invalid_type:value"),
        ('"value": true', "invalid_type:value"),
        ('"value": {"amount": 1}', "invalid_type:value"),
        ('"value": [1e400]', "invalid_type:value"),
        ('"value": -0.01', "value_out_of_range"),
        ('"value": -1', "value_out_of_range"),
        ('"value": 1000000000.01', "value_out_of_range"),
        ('"value": 1000000000.0000000000000000000001', "value_out_of_range"),
        ('"value": 1000000001', "value_out_of_range"),
        ('"value": 1e400', "value_out_of_range"),
        ('"value": -1e400', "value_out_of_range"),
        ('"value": -1e-400', "value_out_of_range"),
        ('"value": ' + "9" * 5000, "value_out_of_range"),
        ('"value": 123456789012345678901234567890', "value_out_of_range"),
    ],
)
def test_bad_client_ids_and_values_fail_with_their_reason(fields: str, reason: str) -> None:
    assert judge(fields) == Invalid(reason)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19.99", "19.99"),
        ("0.1", "0.1"),
        ("0", "0"),
        ("-0.0", "0"),
        ("1e-400", "0"),
        ("1000000000", "1000000000"),
        ("1e9", "1000000000"),
        ("1000000000.000", "1000000000"),
        ("0.30000000000000004441", "0.300000000000000044"),  # more than a double holds
        ("0.004999999999999999999999", "0.004999999999999999"),  # cut, never rounded up
        ("12345678.123456789012345678", "12345678.123456789012345678"),
    ],
)
def test_value_is_exact_as_sent(text: str, expected: str) -> None:
    assert stored('"value": ' + text, "value") == Decimal(expected)


def test_a_huge_number_elsewhere_is_still_invalid_json() -> None:
    assert judge('"referrer": 1e400') == Invalid("invalid_json")
    assert judge('"x": 1e400') == Invalid("invalid_json")
    assert judge('"value": 1e400, "x": 1e400') == Invalid("invalid_json")


def test_the_reason_order_keeps_earlier_fields_first() -> None:
    assert judge('"os": 1, "value": "x"') == Invalid("invalid_type:os")
    assert judge('"client_id": 1, "value": "x"') == Invalid("invalid_type:client_id")


def test_the_lake_row_carries_an_exact_decimal() -> None:
    raw = (BASE + ', "value": 0.1, "client_id": "c-9"}').encode()
    result = transform_records([raw, raw.replace(b"0.1", b"0.2")], stage="t", now=NOW)
    (table,) = result.partitions.values()
    assert table.schema.equals(ARROW_SCHEMA)
    assert table.schema.field("value").type == pa.decimal128(38, 18)
    assert sum(table.column("value").to_pylist()) == Decimal("0.3")
    assert table.column("client_id").to_pylist() == ["c-9", "c-9"]
