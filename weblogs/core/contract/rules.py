"""`validate`: one record against the contract, normalised into a row or a reason.

Pure (no I/O, no clock of its own): the caller passes `now`, which keeps every
decision deterministic and testable. The rules are in docs/contract.md#1-the-event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from weblogs.core.contract.canonical import (
    UNDECODABLE,
    HugeNumber,
    anonymous_user_id,
    canonical_json,
    decode,
    derive_event_id,
    encodable,
)
from weblogs.core.contract.schema import (
    DAY_MS,
    DEFAULT_TYPES,
    KNOWN_FIELDS,
    MAX_CLIENT_ID_CHARS,
    MAX_EVENT_ID_CHARS,
    MAX_PAGE_URL_CHARS,
    MAX_RECORD_BYTES,
    MAX_SESSION_ID_CHARS,
    MIN_TIMESTAMP_MS,
    ROW_COLUMNS,
)
from weblogs.core.contract.timestamps import parse_timestamp, to_epoch_ms
from weblogs.core.contract.value import exact_value


class Valid:
    """A record that passed. `values` holds the event columns but `ingested_at`, in
    `ROW_COLUMNS` order (a tuple: the transformation transposes it into Arrow
    columns cheaply); `row` gives the same as a dict.

    The derived values (anonymous user id, derived event id, `extra_attributes`)
    cost a SHA-256 or a canonical JSON each; with `validate(..., lazy=True)` they
    are computed on first use of `values` (the consumer only needs the verdict,
    the session id and the time).
    """

    __slots__ = ("_pending", "_values", "event", "has_extra")

    def __init__(
        self, values: tuple[Any, ...], event: dict[str, Any], has_extra: bool, pending: bool = False
    ) -> None:
        self._values = values
        self.event = event
        self.has_extra = has_extra
        self._pending = pending

    @property
    def values(self) -> tuple[Any, ...]:
        if self._pending:
            v, event = self._values, self.event
            extras = None
            if self.has_extra:
                extras = {k: x for k, x in event.items() if k not in KNOWN_FIELDS}
            self._values = (
                v[0] if v[0] is not None else derive_event_id(event),
                v[1],
                v[2] if v[2] is not None else anonymous_user_id(v[1]),
                *v[3:14],
                None if extras is None else canonical_json(extras).decode(),
            )
            self._pending = False
        return self._values

    @property
    def row(self) -> dict[str, Any]:
        return dict(zip(ROW_COLUMNS, self.values, strict=True))

    @property
    def session_id(self) -> str:
        return self._values[1]

    @property
    def event_id(self) -> str:
        return self.values[0]

    @property
    def event_timestamp_ms(self) -> int:
        return self._values[7]

    def __repr__(self) -> str:
        return f"Valid({self.values[0]!r})"


class Invalid:
    """A record that failed, with its machine-readable reason (docs/contract.md#1-the-event)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Invalid({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invalid) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


def _text(obj: dict[str, Any], field: str, max_chars: int) -> str:
    """A required string, trimmed; raises _Reject with the contract's reason."""
    value = obj.get(field)
    if value is None:
        raise _Reject("missing_field:" + field)
    if not isinstance(value, str):
        raise _Reject("invalid_type:" + field)
    value = value.strip()
    if not value:
        raise _Reject("empty_field:" + field)
    if len(value) > max_chars:
        raise _Reject("too_long:" + field)
    return value


class _Reject(Exception):
    """Internal: carries a failure reason out of nested checks."""


#: The optional text fields, in the order they are checked: (field, lower-cased,
#: value when missing or blank). A value of another type fails `invalid_type:<field>`.
OPTIONAL_TEXTS: tuple[tuple[str, bool, str | None], ...] = (
    ("device_type", True, "unknown"),
    ("browser", True, "unknown"),
    ("referrer", False, None),
    ("os", False, None),
    ("country", False, None),
)


def _optional_texts(event: dict[str, Any]) -> list[str | None]:
    """The optional text fields, trimmed (and lower-cased where the contract says so)."""
    values: list[str | None] = []
    add = values.append
    for name, lower, blank in OPTIONAL_TEXTS:
        value = event.get(name)
        if type(value) is str:
            value = value.strip()
            add((value.lower() if lower else value) or blank)
        elif value is None:
            add(blank)
        else:
            raise _Reject("invalid_type:" + name)
    return values


def validate(
    record: Any,
    *,
    now: datetime | int,
    event_types: frozenset[str] | tuple[str, ...] = DEFAULT_TYPES,
    size: int | None = None,
    lazy: bool = False,
) -> Valid | Invalid:
    """Check one record against the contract and normalise it.

    `record` is the raw JSON text of one event (bytes or str) or an already
    decoded object (an element of the API's JSON array). `now` is the processing
    time (datetime or epoch ms); timestamps up to one day after it are valid.
    For a decoded object, `size` is its length on the wire when the caller has
    serialised it already (else its canonical JSON is measured). `lazy` defers the
    derived values (anonymous user id, derived event id, `extra_attributes`) to
    the first use of `Valid.values`: for callers that only need the verdict.
    """
    try:
        if isinstance(record, (bytes, bytearray, memoryview, str)):
            size = len(record.encode()) if isinstance(record, str) else len(record)
            if size > MAX_RECORD_BYTES:
                return Invalid("record_too_large")
            event = decode(record)
            if event is UNDECODABLE:
                return Invalid("invalid_json")
        else:
            event = record
        if not isinstance(event, dict):
            return Invalid("not_an_object")
        if record is event and (size or len(canonical_json(event))) > MAX_RECORD_BYTES:
            return Invalid("record_too_large")
        return _validate_object(event, now, event_types, lazy, None if record is event else record)
    except _Reject as reject:
        return Invalid(reject.args[0])
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 JSON text can carry it
        return Invalid("invalid_json")
    except RecursionError:  # nested deeper than Python can walk (~1000 levels)
        return Invalid("invalid_json")


def _ids(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """The user id (an integer becomes text) and the event id, None when absent or blank."""
    user_id = event.get("user_id")
    kind = type(user_id)
    if kind is str:
        user_id = user_id.strip() or None
    elif kind is int:
        user_id = str(user_id)
    elif user_id is not None:  # bool, float, list, dict (bool is not `int` by `type`)
        raise _Reject("invalid_type:user_id")
    event_id = event.get("event_id")
    if type(event_id) is str:
        event_id = event_id.strip() or None
        if event_id is not None and len(event_id) > MAX_EVENT_ID_CHARS:
            raise _Reject("too_long:event_id")
    elif event_id is not None:
        raise _Reject("invalid_type:event_id")
    return user_id, event_id


def _timestamp(event: dict[str, Any], now: datetime | int) -> int:
    """The event time in epoch ms, within the contract's range (else _Reject)."""
    timestamp = parse_timestamp(event.get("timestamp"))
    if type(timestamp) is str:
        raise _Reject(timestamp)
    now_ms = now if type(now) is int else to_epoch_ms(now)
    if not MIN_TIMESTAMP_MS <= timestamp <= now_ms + DAY_MS:
        raise _Reject("timestamp_out_of_range")
    return timestamp


def _client_id_and_value(event: dict[str, Any], raw: Any) -> tuple[str | None, Any]:
    """`client_id` (trimmed, blank is none) and `value` (exact, see `exact_value`)."""
    client_id = event.get("client_id")
    if type(client_id) is str:
        client_id = client_id.strip() or None
        if client_id is not None and len(client_id) > MAX_CLIENT_ID_CHARS:
            raise _Reject("too_long:client_id")
    elif client_id is not None:
        raise _Reject("invalid_type:client_id")
    value = event.get("value")
    kind = type(value)
    if value is None:
        return client_id, None
    if isinstance(value, HugeNumber):  # a literal no float or int holds
        raise _Reject("value_out_of_range")
    if kind is not int and kind is not float:  # bool, str, list, dict
        raise _Reject("invalid_type:value")
    exact = exact_value(value, raw)
    if exact is None:
        raise _Reject("value_out_of_range")
    return client_id, exact


def _validate_object(
    event: dict[str, Any],
    now: datetime | int,
    event_types: frozenset[str] | tuple[str, ...],
    lazy: bool,
    raw: Any = None,
) -> Valid | Invalid:
    # Required texts: the common case (a non-empty str within limits) is inlined;
    # anything else goes through `_text`, which names the exact reason.
    session_id = event.get("session_id")
    if (
        type(session_id) is str
        and 0 < len(session_id := session_id.strip()) <= MAX_SESSION_ID_CHARS
    ):
        pass
    else:
        session_id = _text(event, "session_id", MAX_SESSION_ID_CHARS)
    event_type = event.get("event_type")
    if type(event_type) is str and (event_type := event_type.strip()):
        event_type = event_type.lower()
    else:
        event_type = _text(event, "event_type", 10**9)
    if event_type not in event_types:
        return Invalid("unknown_event_type")
    page_url = event.get("page_url")
    if type(page_url) is str and 0 < len(page_url := page_url.strip()) <= MAX_PAGE_URL_CHARS:
        pass
    else:
        page_url = _text(event, "page_url", MAX_PAGE_URL_CHARS)

    timestamp = _timestamp(event, now)
    user_id, event_id = _ids(event)
    is_anonymous = user_id is None  # its id is derived lazily, see `Valid.values`
    device_type, browser, referrer, os_name, country = _optional_texts(event)
    client_id, value = _client_id_and_value(event, raw)

    has_extra = not KNOWN_FIELDS.issuperset(event)
    if lazy:
        # Derivations are deferred to `Valid.values`, but they must not fail there: a
        # lone surrogate would make the canonical JSON unencodable, so check for it now.
        if (event_id is None or has_extra) and not encodable(event):
            return Invalid("invalid_json")
        extra = None
    else:  # UnicodeEncodeError from a lone surrogate is turned into invalid_json by `validate`
        if event_id is None:
            event_id = derive_event_id(event)
        if is_anonymous:
            user_id = anonymous_user_id(session_id)
        extra = None
        if has_extra:
            extras = {k: v for k, v in event.items() if k not in KNOWN_FIELDS}
            extra = canonical_json(extras).decode()

    values = (event_id, session_id, user_id, is_anonymous, event_type, page_url, referrer)
    values += (timestamp, device_type, browser, os_name, country, client_id, value, extra)
    return Valid(values, event, has_extra, lazy and (is_anonymous or event_id is None or has_extra))
