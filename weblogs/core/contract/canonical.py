"""Canonical JSON, the derived ids and strict decoding: the contract's byte-level rules."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def canonical_json(obj: Any) -> bytes:
    """The canonical form of derived ids: Python's sorted, compact, non-ASCII JSON.

    orjson writes the same bytes for everything but floats (it spells exponents
    differently) and integers beyond 64 bits, so those take the stdlib path.
    """
    if not _needs_stdlib(obj):
        try:
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _needs_stdlib(obj: Any) -> bool:
    if isinstance(obj, float):
        return True
    if isinstance(obj, int) and not isinstance(obj, bool):
        return not -(2**63) <= obj < 2**64
    if isinstance(obj, dict):
        return any(_needs_stdlib(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_needs_stdlib(v) for v in obj)
    return False


def holds_float(event: dict[str, Any]) -> bool:
    """Fast path of `_needs_stdlib` for a flat event: a loop, no generators."""
    for value in event.values():
        kind = type(value)
        if kind is float or ((kind is dict or kind is list) and _needs_stdlib(value)):
            return True
    return False


def derive_event_id(event: dict[str, Any]) -> str:
    """Deterministic id for an event sent without one, so a replay yields the same row."""
    return "h-" + hashlib.sha256(canonical_json(event)).hexdigest()[:32]


def anonymous_user_id(session_id: str) -> str:
    """Stable id for a visitor without a user id: one per session."""
    return "anon-" + hashlib.sha256(session_id.encode()).hexdigest()[:16]


#: What `decode` returns for text that is not strict JSON.
UNDECODABLE = object()


class HugeNumber(str):
    """An integer literal longer than Python converts (4,300 digits), kept as its text.

    Such a literal is valid JSON, so a record holding one gets a verdict like any
    other: `invalid_timestamp` in the timestamp, `invalid_json` anywhere else (the
    canonical JSON the derived values need cannot be written exactly).
    """


class HugeFloat(HugeNumber):
    """A number literal no float holds (`1e400`), kept as its text: valid JSON, so
    judged like a `HugeNumber` (`value_out_of_range` in `value`)."""


#: Python refuses to convert longer digit strings (sys.get_int_max_str_digits()).
MAX_INT_DIGITS = 4300


def exact_int(text: str) -> int | HugeNumber:
    """The stdlib's `parse_int`, but a literal too long to convert is kept as text."""
    if len(text) - (text[:1] == "-") > MAX_INT_DIGITS:
        return HugeNumber(text)
    return int(text)


def _holds_huge(value: Any) -> bool:
    kind = type(value)
    if kind is HugeNumber or kind is HugeFloat:
        return True
    if kind is dict:
        return any(_holds_huge(v) for v in value.values())
    if kind is list:
        return any(_holds_huge(v) for v in value)
    return False


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def _finite_float(text: str) -> float | HugeFloat:
    value = float(text)
    if not math.isfinite(value):
        return HugeFloat(text)
    return value


def decode(raw: bytes | bytearray | memoryview | str) -> Any:
    """Strict JSON (no NaN/Infinity); orjson first, stdlib for integers beyond 64 bits.

    orjson reads integers past 64 bits as floats, which would change both the
    value and the derived event id; so when the result holds a float and the
    text has a run of 19+ digits, the stdlib parses it again, exactly.
    """
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if type(event) is not dict or not holds_float(event):
            return event
        long_digits = _LONG_DIGITS if isinstance(raw, str) else _LONG_DIGITS_BYTES
        if not long_digits.search(raw):
            return event
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
        event = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=exact_int,
        )
    except (ValueError, RecursionError):
        return UNDECODABLE
    if _holds_huge(event):
        # A too-long integer in the timestamp is judged by the timestamp rule
        # (`invalid_timestamp`), any huge number in `value` by the value rule
        # (`value_out_of_range`); anywhere else no exact JSON of the event can be
        # written for the derived values, so the record is `invalid_json`.
        if type(event) is not dict:
            return UNDECODABLE
        timestamp = event.get("timestamp")
        if (type(timestamp) is not HugeNumber and _holds_huge(timestamp)) or any(
            _holds_huge(v) for k, v in event.items() if k not in ("timestamp", "value")
        ):
            return UNDECODABLE
    # The stdlib accepts escaped lone surrogates ("\\ud800"), which no UTF-8 text (and
    # no Parquet string) can carry; orjson refused them above, so check only here.
    return event if encodable(event) else UNDECODABLE


def encodable(event: dict[str, Any]) -> bool:
    """Whether UTF-8 JSON can carry the event (orjson refuses lone surrogates fast)."""
    try:
        orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        try:
            json.dumps(event, ensure_ascii=False).encode()
        except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
            return False
    return True
