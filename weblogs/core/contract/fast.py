"""The contract, fast, on one event's JSON text: `screen` (the verdict, the consumer's hot
loop) and `fast_values` (the normalised row, the transformation's hot loop)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import orjson

from weblogs.core.contract.canonical import anonymous_user_id
from weblogs.core.contract.rules import Invalid, validate
from weblogs.core.contract.schema import (
    DAY_MS,
    DEFAULT_TYPES,
    KNOWN_FIELDS,
    MAX_CLIENT_ID_CHARS,
    MAX_EVENT_ID_CHARS,
    MAX_PAGE_URL_CHARS,
    MAX_RECORD_BYTES,
    MAX_SESSION_ID_CHARS,
    MAX_VALUE,
    MIN_TIMESTAMP_MS,
)
from weblogs.core.contract.timestamps import parse_timestamp
from weblogs.core.contract.value import exact_value

#: What the consumer needs of a valid event: (session id, event time in epoch ms,
#: whether it has extra fields). A plain tuple: `screen` runs once per event.
Screened = tuple[str, int, bool]


def screen(
    raw: bytes,
    *,
    now_ms: int,
    event_types: frozenset[str] | tuple[str, ...] = DEFAULT_TYPES,
) -> Screened | Invalid:
    """The verdict of `validate(raw, ...)` on one event's JSON text, fast.

    The consumer forwards the text as it came and needs only the verdict: the common
    case is decoded and type-checked in one call to msgspec's C decoder (`_FastEvent`
    spells the rules a type can carry); the checks a type cannot follow here. What the
    fast decoder refuses goes to `validate`, which names the reason: no rule of its
    own (a test checks it against `validate` on every contract case and generated events).
    """
    decoders = _FAST_DECODERS.get(event_types)
    if decoders is None:
        decoders = _FAST_DECODERS[event_types] = _fast_decoders(event_types)
    if len(raw) <= MAX_RECORD_BYTES:
        has_extra = False
        try:
            event = decoders[0].decode(raw)
        except _FAST_ERRORS as error:
            # The same rules with unknown fields allowed: if this passes, the strict one
            # failed only on them. msgspec skips their values unread, so orjson checks
            # that they are JSON (UTF-8, no NaN) as `validate` would. Deeply nested
            # extras are `validate`'s to judge (see its RecursionError). The message
            # test only saves time: without it every failure would try this decoder.
            event = None
            if (
                str(error).startswith("Object contains unknown field")
                and raw.count(b"[") + raw.count(b"{") <= _FAST_MAX_BRACKETS
            ):
                try:
                    event = decoders[1].decode(raw)
                    orjson.loads(raw)
                    has_extra = True
                except _FAST_ERRORS:
                    event = None
        if event is not None:
            timestamp = event.timestamp
            # The common case of `parse_timestamp`: a non-negative int of epoch s or ms.
            if type(timestamp) is int and 0 <= timestamp < 1e14:
                if timestamp < 1e11:
                    timestamp *= 1000
            else:
                timestamp = parse_timestamp(timestamp)
            session_id = event.session_id.strip()
            value = event.value
            if (
                session_id
                and type(timestamp) is int
                and MIN_TIMESTAMP_MS <= timestamp <= now_ms + DAY_MS
                and not event.page_url.isspace()
                and (value is None or _value_surely_in_range(value))
            ):
                return session_id, timestamp, has_extra
    result = validate(raw, now=now_ms, event_types=event_types, lazy=True)
    if type(result) is Invalid:
        return result
    return result.session_id, result.event_timestamp_ms, result.has_extra


def fast_values(
    raw: bytes,
    *,
    now_ms: int,
    event_types: frozenset[str] | tuple[str, ...] = DEFAULT_TYPES,
) -> tuple[Any, ...] | None:
    """`validate(raw, now=now_ms, ...).values` for the common valid event, else None.

    The transformation needs the normalised row, not only the verdict. For an event
    msgspec's strict decoder takes (every type checked in C, as for `screen`) this
    only trims, lower-cases and derives the anonymous id. None means "ask `validate`":
    whatever is not the common case (extra fields, no event id, a float `value`, a
    blank text, an odd type) is `validate`'s alone, so this adds no rule and gives up
    none; a test checks it against `validate` on every contract case and on
    generated events.
    """
    decoders = _FAST_DECODERS.get(event_types)
    if decoders is None:
        decoders = _FAST_DECODERS[event_types] = _fast_decoders(event_types)
    if len(raw) > MAX_RECORD_BYTES:
        return None
    try:
        e = decoders[0].decode(raw)
    except _FAST_ERRORS:
        return None
    session_id = e.session_id.strip()
    page_url = e.page_url.strip()
    event_id = e.event_id
    event_id = event_id.strip() if event_id is not None else None
    timestamp = e.timestamp
    # The common case of `parse_timestamp`: a non-negative int of epoch seconds or ms.
    if type(timestamp) is int and 0 <= timestamp < 1e14:
        if timestamp < 1e11:
            timestamp *= 1000
    else:
        timestamp = parse_timestamp(timestamp)
    value = e.value
    if (
        not session_id
        or not page_url
        or not event_id  # a derived id hashes the whole event: `validate`'s
        or type(timestamp) is not int
        or not MIN_TIMESTAMP_MS <= timestamp <= now_ms + DAY_MS
        or type(value) is float  # read again from the text as a decimal: `validate`'s
    ):
        return None
    if value is not None:
        value = exact_value(value)
        if value is None:
            return None
    return _row(e, event_id, session_id, page_url, timestamp, value)


def _row(
    e: Any, event_id: str, session_id: str, page_url: str, timestamp: int, value: Any
) -> tuple[Any, ...]:
    """The row in `ROW_COLUMNS` order; optional texts trimmed (blank is none or 'unknown')."""
    user_id = e.user_id
    if type(user_id) is str:
        user_id = user_id.strip() or None
    elif user_id is not None:
        user_id = str(user_id)
    anonymous = user_id is None
    if anonymous:
        user_id = anonymous_user_id(session_id)
    referrer, device, browser, os_name, country, client_id = (
        e.referrer, e.device_type, e.browser, e.os, e.country, e.client_id,
    )  # fmt: skip
    return (
        event_id, session_id, user_id, anonymous, e.event_type, page_url,
        None if referrer is None else (referrer.strip() or None),
        timestamp,
        "unknown" if device is None else (device.strip().lower() or "unknown"),
        "unknown" if browser is None else (browser.strip().lower() or "unknown"),
        None if os_name is None else (os_name.strip() or None),
        None if country is None else (country.strip() or None),
        None if client_id is None else (client_id.strip() or None),
        value,
        None,
    )  # fmt: skip


def _value_surely_in_range(value: int | float | None) -> bool:
    """Whether `value` passes whatever text it was read from; else `validate` judges it.

    An int is exact. A float is the nearest double to the text, and rounding keeps
    order, so a float strictly between 0 and the maximum comes from a text in range;
    0.0, -0.0 and the maximum itself may come from a text just outside (`-1e-400`).
    """
    if value is None:
        return True
    if type(value) is int:
        return 0 <= value <= MAX_VALUE
    return 0.0 < value < MAX_VALUE


#: msgspec's errors are ValueErrors (so are bad UTF-8 and orjson's); deep nesting recurses.
_FAST_ERRORS = (ValueError, RecursionError)
_FAST_MAX_BRACKETS = 64
_Decoders = tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]
_FAST_DECODERS: dict[frozenset[str] | tuple[str, ...], _Decoders] = {}


def _fast_decoders(event_types: frozenset[str] | tuple[str, ...]) -> _Decoders:
    """Decoders for the common shape of a valid event, without and with extra fields.

    Lengths are checked before trimming, so a value that only fits once trimmed
    falls back to `validate`; so do event types that are not already lower-case.
    """
    kinds = tuple(sorted(t for t in event_types if t == t.strip().lower()))

    def text(limit: int) -> Any:
        return Annotated[str, msgspec.Meta(min_length=1, max_length=limit)]

    optional = str | None
    fields: list[tuple[str, Any, Any]] = [
        ("session_id", text(MAX_SESSION_ID_CHARS), msgspec.NODEFAULT),
        # An empty Literal cannot be spelled; no allowed type means every event falls back.
        ("event_type", Literal[kinds] if kinds else Literal["\x00"], msgspec.NODEFAULT),
        ("page_url", text(MAX_PAGE_URL_CHARS), msgspec.NODEFAULT),
        ("timestamp", int | float | str, msgspec.NODEFAULT),
        ("user_id", str | int | None, None),
        ("event_id", Annotated[str, msgspec.Meta(max_length=MAX_EVENT_ID_CHARS)] | None, None),
        ("referrer", optional, None),
        ("device_type", optional, None),
        ("browser", optional, None),
        ("os", optional, None),
        ("country", optional, None),
        ("client_id", Annotated[str, msgspec.Meta(max_length=MAX_CLIENT_ID_CHARS)] | None, None),
        ("value", int | float | None, None),
    ]
    assert {name for name, _, _ in fields} == KNOWN_FIELDS
    # gc=False: the fields are scalars, so the collector need not track the instances.
    strict = msgspec.defstruct("_FastEvent", fields, forbid_unknown_fields=True, gc=False)
    loose = msgspec.defstruct("_FastEventWithExtras", fields, gc=False)
    return msgspec.json.Decoder(strict), msgspec.json.Decoder(loose)
