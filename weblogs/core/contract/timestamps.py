"""Event timestamps: every encoding the contract accepts, as epoch milliseconds.

Range checks are the caller's (they need the clock); see docs/contract.md#1-the-event.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from weblogs.core.contract.canonical import HugeNumber

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
# ASCII digits only: `\d` and `int()` also take Arabic-Indic, full-width and other digits.
_NUMERIC = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"-?[0-9]+")
#: Longest timestamp text judged at all: an epoch in milliseconds with sign, fraction
#: and exponent, or an ISO-8601 time with fraction and offset, fits in far less. Longer
#: text is `invalid_timestamp` before any conversion (`int()` of 4,300+ digits raises).
MAX_TIMESTAMP_CHARS = 64


def parse_timestamp(value: Any) -> int | str:
    """Epoch milliseconds, or the failure reason (`invalid_type:timestamp`, ...).

    Range checks are separate (see `validate`) because they need the clock.
    """
    kind = type(value)
    if kind is int:  # the common case first: epoch seconds or milliseconds
        return _epoch_to_ms(value)
    if kind is str:
        text = value.strip()
        if len(text) > MAX_TIMESTAMP_CHARS:
            return "invalid_timestamp"
        # An ISO-8601 date first: "dddd-" can never be a number, so skip the patterns.
        if text[4:5] == "-" and text[:4].isdigit():
            return _iso_to_ms(text) if text.isascii() else "invalid_timestamp"
        if text.isdigit() and text.isascii():  # the plain case of _INTEGER, without a regex
            return _epoch_to_ms(int(text))
        if not text:
            return "empty_field:timestamp"
        if not text.isascii():
            return "invalid_timestamp"
        if _INTEGER.fullmatch(text):
            return _epoch_to_ms(int(text))
        if _NUMERIC.fullmatch(text):
            number = float(text)
            return _epoch_to_ms(number) if math.isfinite(number) else "invalid_timestamp"
        return _iso_to_ms(text)
    if kind is float:
        return _epoch_to_ms(value) if math.isfinite(value) else "invalid_timestamp"
    if value is None:
        return "missing_field:timestamp"
    if kind is HugeNumber:  # an integer literal too long to convert: not a time either
        return "invalid_timestamp"
    return "invalid_type:timestamp"  # bool, list, dict


def _iso_to_ms(text: str) -> int | str:
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return "invalid_timestamp"
    # `to_epoch_ms(moment)`, inlined: this is the path of every ISO-8601 timestamp.
    delta = moment - (_NAIVE_EPOCH if moment.tzinfo is None else _EPOCH)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _epoch_to_ms(value: float) -> int | str:
    magnitude = abs(value)
    if magnitude < 1e11:
        if isinstance(value, int):
            return value * 1000
        return floor_ms(value * 1000.0)
    if magnitude < 1e14:
        return value if isinstance(value, int) else floor_ms(value)
    return "invalid_timestamp"


def floor_ms(ms: float) -> int:
    """`math.floor(round(ms, 3))`: a float of milliseconds to whole ones, sub-microsecond
    noise rounded away first (1791000000.123 s is 1791000000123 ms, not ...122).

    `round(x, 3)` goes through a decimal conversion, the slowest step of reading a float
    timestamp, so the common case skips it: for 0 <= x < 1e14, x - int(x) is exact, and
    when it is below 0.99 the 3-decimal rounding of x (at most x + 0.0005) and the double
    nearest to it (the spacing of doubles below 1e14 is at most 1/64) stay below
    int(x) + 1, so the floor is int(x). The rest takes the definition itself
    (tests/python/core/test_contract.py checks the two on generated floats).
    """
    if 0.0 <= ms < 1e14:
        whole = int(ms)
        if ms - whole < 0.99:
            return whole
    return math.floor(round(ms, 3))


def to_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive ones are taken as UTC), truncating
    sub-millisecond digits towards the past: `(moment - epoch) // 1 ms`, spelled with the
    timedelta's normalised parts (0 <= seconds < 86400, 0 <= microseconds < 10**6), of
    which only the last is not a whole number of milliseconds; a quarter faster than
    dividing timedeltas, on the path of every ISO-8601 timestamp."""
    delta = moment - (_NAIVE_EPOCH if moment.tzinfo is None else _EPOCH)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


@lru_cache(maxsize=16)  # a batch's or a page's failed lines share one time
def iso_utc(moment: datetime) -> str:
    """ISO-8601 with a `Z`, millisecond precision: how the failed store writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
