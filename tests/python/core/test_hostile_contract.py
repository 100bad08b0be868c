"""The contract under hostile values: every value of every field gets a verdict, never an exception."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from weblogs.core.contract import KNOWN_FIELDS, Invalid, Valid, screen, validate

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
NOW_MS = 1_791_201_600_000
BASE: dict[str, Any] = {
    "session_id": "s-1",
    "event_type": "page_view",
    "page_url": "/home",
    "timestamp": 1_791_000_000,
}
POISON = "9" * 4400  # past Python's int-digit limit (4300)

#: Numeric strings that only look like numbers to `str.isdigit` or `int()`.
NON_ASCII_DIGITS = [
    "١٧٩١٠٠٠٠٠٠",  # Arabic-Indic
    "۱۷۹۱۰۰۰۰۰۰",  # Extended Arabic-Indic
    "１７９１０００００００",  # full-width
    "१७९१००००००",  # Devanagari
    "1791000000\u0660",
    "-１７９１０００００００",
    "1.79１e9",
]
HUGE_TIMESTAMPS = [
    POISON,
    "-" + POISON,
    " " + POISON + " ",
    POISON + ".5",
    "1" + "0" * 5000 + "e-4990",
    "0" * 4400 + "1791000000",
    "1e999999999999",
    "9" * 100_000,
]


def both(event: dict[str, Any]) -> tuple[Valid | Invalid, Any]:
    raw = orjson.dumps(event)
    return validate(raw, now=NOW), screen(raw, now_ms=NOW_MS)


@pytest.mark.parametrize("value", HUGE_TIMESTAMPS, ids=lambda v: f"{v[:12]}..{len(v)}")
def test_a_poison_timestamp_string_is_invalid_timestamp(value: str) -> None:
    verdict, screened = both({**BASE, "timestamp": value})
    assert verdict == Invalid("invalid_timestamp")
    assert screened == Invalid("invalid_timestamp")
    assert validate({**BASE, "timestamp": value}, now=NOW) == Invalid("invalid_timestamp")


def test_a_huge_integer_literal_is_invalid_timestamp() -> None:
    raw = orjson.dumps({**BASE, "timestamp": 0}).replace(
        b'"timestamp":0', b'"timestamp":' + POISON.encode()
    )
    assert validate(raw, now=NOW) == Invalid("invalid_timestamp")
    assert screen(raw, now_ms=NOW_MS) == Invalid("invalid_timestamp")


@pytest.mark.parametrize("value", NON_ASCII_DIGITS)
def test_non_ascii_digits_are_not_a_timestamp(value: str) -> None:
    verdict, screened = both({**BASE, "timestamp": value})
    assert verdict == Invalid("invalid_timestamp")
    assert screened == Invalid("invalid_timestamp")


@pytest.mark.parametrize("value", ["+1791000000", "+1.791e9", "+ 1791000000", "--1791000000"])
def test_only_a_leading_minus_is_a_sign(value: str) -> None:
    """docs/contract.md#1-the-event: digits, one `.`, a leading `-`, an exponent."""
    verdict, screened = both({**BASE, "timestamp": value})
    assert verdict == Invalid("invalid_timestamp")
    assert screened == Invalid("invalid_timestamp")


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("1791000000", 1_791_000_000_000),
        ("-1791000000", None),  # before 2000: out of range, still a verdict
        ("1791000000.5", 1_791_000_000_500),
        ("1.791e9", 1_791_000_000_000),
        ("1791000000000", 1_791_000_000_000),
        (" 1791000000 ", 1_791_000_000_000),
        ("00001791000000", 1_791_000_000_000),
    ],
)
def test_ascii_numeric_strings_still_work(value: str, ms: int | None) -> None:
    verdict, screened = both({**BASE, "timestamp": value})
    if ms is None:
        assert verdict == Invalid("timestamp_out_of_range") == screened
    else:
        assert isinstance(verdict, Valid) and verdict.event_timestamp_ms == ms
        assert screened == ("s-1", ms, False)


HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**64,
    -(2**63) - 1,
    10**4000,
    1e308,
    -0.0,
    math.pi,
    "",
    " ",
    "\u0000",
    "\ud800",
    "\udfff",
    "x" * 5000,
    POISON,
    "١٢٣",
    "２０２６-１０-０５",
    "2026-10-05T12:00:00+99:00",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00-23:59",
    "2026-13-45",
    "NaN",
    "Infinity",
    "-inf",
    "1e309",
    [],
    [1, [2, [3]]],
    {},
    {"a": {"b": None}},
    "PAGE_VIEW",
    " page_view ",
]


@pytest.mark.parametrize("field", sorted(KNOWN_FIELDS | {"extra"}))
def test_every_value_of_every_field_gets_a_verdict(field: str) -> None:
    for value in HOSTILE_VALUES:
        event = {**BASE, field: value}
        verdict = validate(event, now=NOW)
        assert isinstance(verdict, (Valid, Invalid)), (field, value)
        if isinstance(verdict, Valid):
            verdict.values  # noqa: B018 - the derived values must not raise either
        try:
            raw = orjson.dumps(event)
        except (TypeError, orjson.JSONEncodeError):
            import json

            raw = json.dumps(event).encode()
        screened = screen(raw, now_ms=NOW_MS)
        from_text = validate(raw, now=NOW)
        expected = from_text.reason if isinstance(from_text, Invalid) else None
        assert (screened.reason if isinstance(screened, Invalid) else None) == expected, (
            field,
            value,
        )


def test_nan_and_surrogates_in_raw_text_are_invalid_json() -> None:
    for raw in (
        b'{"session_id":"s","event_type":"click","page_url":"/","timestamp":NaN}',
        b'{"session_id":"\\ud800","event_type":"click","page_url":"/","timestamp":1791000000}',
        b'{"session_id":"\xff","event_type":"click","page_url":"/","timestamp":1791000000}',
        b"[" * 100_000,
    ):
        assert validate(raw, now=NOW) == Invalid("invalid_json")
        assert screen(raw, now_ms=NOW_MS) == Invalid("invalid_json")
