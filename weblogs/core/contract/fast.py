"""The contract, fast, on many events' JSON texts at once: `screen_all` (the verdicts, the
consumer's hot loop, a page per call) and `fast_rows` (the normalised rows, the
transformation's hot loop, a batch per call); `screen` and `fast_values` take one text."""

from __future__ import annotations

from collections.abc import Iterable
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
    """The verdict of `validate(raw, ...)` on one event's JSON text, fast (`screen_all`)."""
    return screen_all((raw,), now_ms=now_ms, event_types=event_types)[0]


def screen_all(
    raws: Iterable[bytes],
    *,
    now_ms: int,
    event_types: frozenset[str] | tuple[str, ...] = DEFAULT_TYPES,
) -> list[Screened | Invalid]:
    """The verdict of `validate(raw, ...)` on each event's JSON text, fast, in order.

    The consumer forwards the text as it came and needs only the verdict: the common
    case is decoded and type-checked in one call to msgspec's C decoder (`_FastEvent`
    spells the rules a type can carry); the checks a type cannot follow here. What the
    fast decoders refuse goes to `validate`, which names the reason: no rule of its
    own (a test checks it against `validate` on every contract case and generated
    events). One call per page, not per event: the loop is the consumer's hot loop.
    """
    decoders = _decoders(event_types)
    strict = decoders[0].decode
    # Locals, and ints against ints (an int against 1e14 takes a slower comparison).
    latest, earliest, largest = now_ms + DAY_MS, MIN_TIMESTAMP_MS, MAX_RECORD_BYTES
    s_end, ms_end, surely_in_range = _EPOCH_S_END, _EPOCH_MS_END, _value_surely_in_range
    results: list[Screened | Invalid] = []
    add = results.append
    for raw in raws:
        if len(raw) <= largest:
            has_extra = False
            try:
                event = strict(raw)
            except _FAST_ERRORS as error:
                event, has_extra = _second_chance(raw, error, decoders, event_types)
            if event is not None:
                timestamp = event.timestamp
                # The common case of `parse_timestamp`: a non-negative int of epoch s or ms.
                if type(timestamp) is int and 0 <= timestamp < ms_end:
                    if timestamp < s_end:
                        timestamp *= 1000
                else:
                    timestamp = parse_timestamp(timestamp)
                session_id = event.session_id.strip()
                value = event.value
                if (
                    session_id
                    and type(timestamp) is int
                    and earliest <= timestamp <= latest
                    and not event.page_url.isspace()
                    and (value is None or surely_in_range(value))
                ):
                    add((session_id, timestamp, has_extra))
                    continue
        result = validate(raw, now=now_ms, event_types=event_types, lazy=True)
        if type(result) is Invalid:
            add(result)
        else:
            add((result.session_id, result.event_timestamp_ms, result.has_extra))
    return results


def _second_chance(
    raw: bytes,
    error: Exception,
    decoders: _Decoders,
    event_types: frozenset[str] | tuple[str, ...],
    extras: bool = True,
) -> tuple[Any, bool]:
    """(the event, whether it has extra fields) when a looser decoder takes what the
    strict one refused for one of two valid reasons, else (None, False): `validate`'s.

    - Unknown fields: the same rules with them allowed. msgspec skips their values
      unread, so orjson checks that they are JSON (UTF-8, no NaN) as `validate` would.
      Deeply nested extras are `validate`'s to judge (see its RecursionError).
    - An event type that is allowed once trimmed and lower-cased (`Click`): the same
      rules with any text there, then `validate`'s own test of it.
    The message test only saves time: without it every failure would try both.
    Without `extras`, an event with unknown fields is left to `validate` at once.
    """
    message = str(error)
    if message.startswith("Object contains unknown field"):
        if extras and raw.count(b"[") + raw.count(b"{") <= _FAST_MAX_BRACKETS:
            try:
                event = decoders[1].decode(raw)
                orjson.loads(raw)
            except _FAST_ERRORS:
                return None, False
            return event, True
    elif message.startswith("Invalid enum value"):
        try:
            event = decoders[2].decode(raw)
        except _FAST_ERRORS:
            return None, False
        if event.event_type.strip().lower() in event_types:
            return event, False
    return None, False


def fast_values(
    raw: bytes,
    *,
    now_ms: int,
    event_types: frozenset[str] | tuple[str, ...] = DEFAULT_TYPES,
) -> tuple[Any, ...] | None:
    """`validate(raw, now=now_ms, ...).values` for the common valid event, else None
    (`fast_rows` of one text)."""
    return fast_rows((raw,), now_ms=now_ms, event_types=event_types)[0][0]


def fast_rows(
    raws: Iterable[bytes],
    *,
    now_ms: int,
    event_types: frozenset[str] | tuple[str, ...] = DEFAULT_TYPES,
) -> tuple[list[tuple[Any, ...] | None], list[int]]:
    """`validate(raw, now=now_ms, ...).values` of each common valid event, in order; None (and
    its index in the second list) for what is `validate`'s: extra fields, no event id..."""
    decoders = _decoders(event_types)
    strict, latest, anonymous_ids = decoders[0].decode, now_ms + DAY_MS, {}
    earliest, s_end, ms_end = MIN_TIMESTAMP_MS, _EPOCH_S_END, _EPOCH_MS_END
    rows: list[tuple[Any, ...] | None] = []
    misses: list[int] = []
    add, miss = rows.append, misses.append
    for raw in raws:
        e = None
        if len(raw) <= MAX_RECORD_BYTES:
            try:
                e = strict(raw)
                event_type = e.event_type
            except _FAST_ERRORS as error:  # extra fields: `validate` writes their JSON
                e = _second_chance(raw, error, decoders, event_types, extras=False)[0]
                event_type = None if e is None else e.event_type.strip().lower()
        if e is not None:
            session_id, page_url, event_id = e.session_id.strip(), e.page_url.strip(), e.event_id
            event_id = event_id.strip() if event_id is not None else None
            # The common case of `parse_timestamp`: a non-negative int of epoch s or ms.
            if type(timestamp := e.timestamp) is not int or not 0 <= timestamp < ms_end:
                timestamp = parse_timestamp(timestamp)
            elif timestamp < s_end:
                timestamp *= 1000
            value = e.value
            if (  # a derived id hashes the whole event; a float is read again as a decimal
                not session_id or not page_url or not event_id or type(timestamp) is not int
                or not earliest <= timestamp <= latest or type(value) is float
                or (value is not None and (value := exact_value(value)) is None)
            ):  # fmt: skip
                e = None
        if e is None:
            miss(len(rows))
            add(None)
            continue
        user_id = e.user_id
        if type(user_id) is str:
            user_id = user_id.strip() or None
        elif user_id is not None:
            user_id = str(user_id)
        if anonymous := user_id is None:  # one hash per session id, not per event
            user_id = anonymous_ids.get(session_id) or anonymous_ids.setdefault(
                session_id, anonymous_user_id(session_id))  # fmt: skip
        add((  # `ROW_COLUMNS`; optional texts trimmed, blank is none or 'unknown'
            event_id, session_id, user_id, anonymous, event_type, page_url,
            None if (t := e.referrer) is None else (t.strip() or None), timestamp,
            "unknown" if (t := e.device_type) is None else (t.strip().lower() or "unknown"),
            "unknown" if (t := e.browser) is None else (t.strip().lower() or "unknown"),
            None if (t := e.os) is None else (t.strip() or None),
            None if (t := e.country) is None else (t.strip() or None),
            None if (t := e.client_id) is None else (t.strip() or None), value, None,
        ))  # fmt: skip
    return rows, misses


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


#: The ranges of `parse_timestamp`'s integers: below, epoch seconds; then milliseconds.
_EPOCH_S_END, _EPOCH_MS_END = 10**11, 10**14
#: msgspec's errors are ValueErrors (so are bad UTF-8 and orjson's); deep nesting recurses.
_FAST_ERRORS = (ValueError, RecursionError)
_FAST_MAX_BRACKETS = 64
_Decoders = tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]
_FAST_DECODERS: dict[frozenset[str] | tuple[str, ...], _Decoders] = {}


def _decoders(event_types: frozenset[str] | tuple[str, ...]) -> _Decoders:
    decoders = _FAST_DECODERS.get(event_types)
    if decoders is None:
        decoders = _FAST_DECODERS[event_types] = _fast_decoders(event_types)
    return decoders


def _fast_decoders(event_types: frozenset[str] | tuple[str, ...]) -> _Decoders:
    """Decoders for the common shape of a valid event: strict, with extra fields, and
    with any text as the event type (`_second_chance` says when each is used).

    Lengths are checked before trimming, so a value that only fits once trimmed
    falls back to `validate`.
    """
    kinds = tuple(sorted(t for t in event_types if t == t.strip().lower()))

    def text(limit: int) -> Any:
        return Annotated[str, msgspec.Meta(min_length=1, max_length=limit)]

    def spec(event_type: Any) -> list[tuple[str, Any, Any]]:
        optional = str | None
        event_id = Annotated[str, msgspec.Meta(max_length=MAX_EVENT_ID_CHARS)] | None
        client_id = Annotated[str, msgspec.Meta(max_length=MAX_CLIENT_ID_CHARS)] | None
        return [
            ("session_id", text(MAX_SESSION_ID_CHARS), msgspec.NODEFAULT),
            ("event_type", event_type, msgspec.NODEFAULT),
            ("page_url", text(MAX_PAGE_URL_CHARS), msgspec.NODEFAULT),
            ("timestamp", int | float | str, msgspec.NODEFAULT),
            ("user_id", str | int | None, None),
            ("event_id", event_id, None),
            ("referrer", optional, None),
            ("device_type", optional, None),
            ("browser", optional, None),
            ("os", optional, None),
            ("country", optional, None),
            ("client_id", client_id, None),
            ("value", int | float | None, None),
        ]

    # An empty Literal cannot be spelled; with no lower-case type allowed, every event
    # takes the second chance.
    fields = spec(Literal[kinds] if kinds else Literal["\x00"])
    assert {name for name, _, _ in fields} == KNOWN_FIELDS
    # gc=False: the fields are scalars, so the collector need not track the instances.
    strict = msgspec.defstruct("_FastEvent", fields, forbid_unknown_fields=True, gc=False)
    loose = msgspec.defstruct("_FastEventWithExtras", fields, gc=False)
    any_type = msgspec.defstruct(
        "_FastEventAnyType", spec(str), forbid_unknown_fields=True, gc=False
    )
    return (
        msgspec.json.Decoder(strict),
        msgspec.json.Decoder(loose),
        msgspec.json.Decoder(any_type),
    )
