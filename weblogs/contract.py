"""The event contract of SPEC.md section 1: the one place that says what a valid event is.

The consumer, both Lambdas, the replay command and the tests import this module,
so a rule changes in one place. It is pure (no I/O, no clock of its own): the
caller passes `now`, which keeps every decision deterministic and testable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
import orjson
import pyarrow as pa

ALLOWED_EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "click",
    "scroll",
    "search",
    "form_submit",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "login",
    "logout",
    "signup",
    "video_play",
    "loyalty_signup",
    "loyalty_redeem",
    "review",
)

#: Kinesis' per-record limit; larger records could never be forwarded.
MAX_RECORD_BYTES = 1_048_576
MAX_SESSION_ID_CHARS = 128
MAX_EVENT_ID_CHARS = 128
MAX_PAGE_URL_CHARS = 2048

#: Fields the contract knows; anything else travels on in `extra_attributes`.
KNOWN_FIELDS: frozenset[str] = frozenset(
    {
        "session_id",
        "event_type",
        "page_url",
        "timestamp",
        "user_id",
        "event_id",
        "referrer",
        "device_type",
        "browser",
        "os",
        "country",
    }
)


@dataclass(frozen=True)
class Column:
    """One column of the events table: the single source of truth for its schema."""

    name: str
    type: pa.DataType
    nullable: bool
    description: str


_TS = pa.timestamp("ms")  # UTC wall-clock values, stored without a zone (see docs/decisions.md)

EVENT_SCHEMA: tuple[Column, ...] = (
    Column(
        "event_id",
        pa.string(),
        False,
        "Event id as sent, or 'h-' + 32 hex of SHA-256 of the event.",
    ),
    Column("session_id", pa.string(), False, "Session id, trimmed."),
    Column(
        "user_id",
        pa.string(),
        False,
        "User id as text, or 'anon-' + 16 hex of SHA-256(session_id).",
    ),
    Column("is_anonymous_user", pa.bool_(), False, "True when the event carried no user id."),
    Column("event_type", pa.string(), False, "One of the allowed event types, lower-cased."),
    Column("page_url", pa.string(), False, "Page URL, trimmed."),
    Column("referrer", pa.string(), True, "Referrer, trimmed; null when missing or empty."),
    Column("event_timestamp", _TS, False, "When the event happened (UTC, millisecond precision)."),
    Column("device_type", pa.string(), False, "Device type, lower-cased; 'unknown' when missing."),
    Column("browser", pa.string(), False, "Browser, lower-cased; 'unknown' when missing."),
    Column("os", pa.string(), True, "Operating system, trimmed; null when missing or empty."),
    Column("country", pa.string(), True, "Country, trimmed; null when missing or empty."),
    Column(
        "extra_attributes", pa.string(), True, "Unknown fields as JSON (keys sorted), else null."
    ),
    Column("ingested_at", _TS, False, "When the pipeline took the event in (UTC)."),
)
EVENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in EVENT_SCHEMA)
ARROW_SCHEMA: pa.Schema = pa.schema([pa.field(c.name, c.type, c.nullable) for c in EVENT_SCHEMA])
#: The columns `validate` fills (in this order); `ingested_at` is the pipeline's to set.
ROW_COLUMNS: tuple[str, ...] = EVENT_COLUMNS[:-1]
assert EVENT_COLUMNS[-1] == "ingested_at" and ROW_COLUMNS[7] == "event_timestamp"
#: Hive partition columns: zero-padded strings taken from the object path, not stored in files.
PARTITION_COLUMNS: tuple[str, ...] = ("year", "month", "day", "hour")

#: 2000-01-01T00:00:00Z in epoch milliseconds: the earliest valid timestamp.
MIN_TIMESTAMP_MS = 946_684_800_000
DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_MS = timedelta(milliseconds=1)
_NUMERIC = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


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
                *v[3:12],
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
    """A record that failed, with its machine-readable reason from SPEC section 1."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Invalid({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invalid) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


def canonical_json(obj: Any) -> bytes:
    """The canonical form SPEC uses for derived ids: Python's sorted, compact, non-ASCII JSON.

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


def _holds_float(event: dict[str, Any]) -> bool:
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


def parse_timestamp(value: Any) -> int | str:
    """Epoch milliseconds, or the failure reason (`invalid_type:timestamp`, ...).

    Range checks are separate (see `validate`) because they need the clock.
    """
    kind = type(value)
    if kind is int:  # the common case first: epoch seconds or milliseconds
        return _epoch_to_ms(value)
    if kind is str:
        text = value.strip()
        # An ISO-8601 date first: "dddd-" can never be a number, so skip the patterns.
        if text[4:5] == "-" and text[:4].isdigit():
            return _iso_to_ms(text)
        if text.isdigit() and text.isascii():  # the plain case of _INTEGER, without a regex
            return _epoch_to_ms(int(text))
        if not text:
            return "empty_field:timestamp"
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
    return "invalid_type:timestamp"  # bool, list, dict


def _iso_to_ms(text: str) -> int | str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return "invalid_timestamp"
    return to_epoch_ms(moment)


def _epoch_to_ms(value: float) -> int | str:
    magnitude = abs(value)
    if magnitude < 1e11:
        if isinstance(value, int):
            return value * 1000
        return math.floor(round(value * 1000.0, 3))
    if magnitude < 1e14:
        return value if isinstance(value, int) else math.floor(round(value, 3))
    return "invalid_timestamp"


def _text(obj: dict[str, Any], field: str, max_chars: int) -> str:
    """A required string, trimmed; raises _Reject with the SPEC reason."""
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


_DEFAULT_TYPES = frozenset(ALLOWED_EVENT_TYPES)


def validate(
    record: Any,
    *,
    now: datetime | int,
    event_types: frozenset[str] | tuple[str, ...] = _DEFAULT_TYPES,
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
            event = _decode(record)
            if event is _UNDECODABLE:
                return Invalid("invalid_json")
        else:
            event = record
        if not isinstance(event, dict):
            return Invalid("not_an_object")
        if record is event and (size or len(canonical_json(event))) > MAX_RECORD_BYTES:
            return Invalid("record_too_large")
        return _validate_object(event, now, event_types, lazy)
    except _Reject as reject:
        return Invalid(reject.args[0])
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 JSON text can carry it
        return Invalid("invalid_json")
    except RecursionError:  # nested deeper than Python can walk (~1000 levels)
        return Invalid("invalid_json")


_UNDECODABLE = object()


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _decode(raw: bytes | bytearray | memoryview | str) -> Any:
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
        if type(event) is not dict or not _holds_float(event):
            return event
        long_digits = _LONG_DIGITS if isinstance(raw, str) else _LONG_DIGITS_BYTES
        if not long_digits.search(raw):
            return event
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
        event = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return _UNDECODABLE
    # The stdlib accepts escaped lone surrogates ("\\ud800"), which no UTF-8 text (and
    # no Parquet string) can carry; orjson refused them above, so check only here.
    return event if _encodable(event) else _UNDECODABLE


def _validate_object(
    event: dict[str, Any],
    now: datetime | int,
    event_types: frozenset[str] | tuple[str, ...],
    lazy: bool,
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

    timestamp = parse_timestamp(event.get("timestamp"))
    if type(timestamp) is str:
        return Invalid(timestamp)
    now_ms = now if type(now) is int else to_epoch_ms(now)
    if not MIN_TIMESTAMP_MS <= timestamp <= now_ms + DAY_MS:
        return Invalid("timestamp_out_of_range")

    user_id = event.get("user_id")
    kind = type(user_id)
    if kind is str:
        user_id = user_id.strip() or None
    elif kind is int:
        user_id = str(user_id)
    elif user_id is not None:  # bool, float, list, dict (bool is not `int` by `type`)
        return Invalid("invalid_type:user_id")
    is_anonymous = user_id is None  # its id is derived lazily, see `Valid.values`

    event_id = event.get("event_id")
    if type(event_id) is str:
        event_id = event_id.strip() or None
        if event_id is not None and len(event_id) > MAX_EVENT_ID_CHARS:
            return Invalid("too_long:event_id")
    elif event_id is not None:
        return Invalid("invalid_type:event_id")

    # Optional texts, inlined: this is the hot loop of every batch.
    device_type = event.get("device_type")
    if type(device_type) is str:
        device_type = device_type.strip().lower() or "unknown"
    elif device_type is None:
        device_type = "unknown"
    else:
        return Invalid("invalid_type:device_type")
    browser = event.get("browser")
    if type(browser) is str:
        browser = browser.strip().lower() or "unknown"
    elif browser is None:
        browser = "unknown"
    else:
        return Invalid("invalid_type:browser")
    referrer = event.get("referrer")
    if type(referrer) is str:
        referrer = referrer.strip() or None
    elif referrer is not None:
        return Invalid("invalid_type:referrer")
    os_name = event.get("os")
    if type(os_name) is str:
        os_name = os_name.strip() or None
    elif os_name is not None:
        return Invalid("invalid_type:os")
    country = event.get("country")
    if type(country) is str:
        country = country.strip() or None
    elif country is not None:
        return Invalid("invalid_type:country")

    has_extra = not KNOWN_FIELDS.issuperset(event)
    if lazy:
        # Derivations are deferred to `Valid.values`, but they must not fail there: a
        # lone surrogate would make the canonical JSON unencodable, so check for it now.
        if (event_id is None or has_extra) and not _encodable(event):
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

    values = (
        event_id,
        session_id,
        user_id,
        is_anonymous,
        event_type,
        page_url,
        referrer,
        timestamp,
        device_type,
        browser,
        os_name,
        country,
        extra,
    )
    return Valid(values, event, has_extra, lazy and (is_anonymous or event_id is None or has_extra))


def _encodable(event: dict[str, Any]) -> bool:
    """Whether UTF-8 JSON can carry the event (orjson refuses lone surrogates fast)."""
    try:
        orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        try:
            json.dumps(event, ensure_ascii=False).encode()
        except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
            return False
    return True


#: What the consumer needs of a valid event: (session id, event time in epoch ms,
#: whether it has extra fields). A plain tuple: `screen` runs once per event.
Screened = tuple[str, int, bool]


def screen(
    raw: bytes,
    *,
    now_ms: int,
    event_types: frozenset[str] | tuple[str, ...] = _DEFAULT_TYPES,
) -> Screened | Invalid:
    """The verdict of `validate(raw, ...)` on one event's JSON text, fast.

    The consumer forwards the text as it came and only needs the verdict, so the
    common case (every field present with its usual type, nothing extra) is decoded
    and type-checked in one call to msgspec's C decoder against `_FastEvent`, which
    spells the rules of `_validate_object` that a type can carry; the few checks a
    type cannot (trimming, the timestamp's range) follow here. Anything the fast
    decoder refuses (a missing field, an odd type, an extra field, an upper-case
    event type) goes to `validate`, which names the exact reason. So this adds no
    rule of its own: a test checks it against `validate` on every contract case and
    on generated events.
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
            timestamp = parse_timestamp(event.timestamp)
            session_id = event.session_id.strip()
            if (
                session_id
                and type(timestamp) is int
                and MIN_TIMESTAMP_MS <= timestamp <= now_ms + DAY_MS
                and not event.page_url.isspace()
            ):
                return session_id, timestamp, has_extra
    result = validate(raw, now=now_ms, event_types=event_types, lazy=True)
    if type(result) is Invalid:
        return result
    return result.session_id, result.event_timestamp_ms, result.has_extra


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
    ]
    assert {name for name, _, _ in fields} == KNOWN_FIELDS
    # gc=False: the fields are scalars, so the collector need not track the instances.
    strict = msgspec.defstruct("_FastEvent", fields, forbid_unknown_fields=True, gc=False)
    loose = msgspec.defstruct("_FastEventWithExtras", fields, gc=False)
    return msgspec.json.Decoder(strict), msgspec.json.Decoder(loose)


def to_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive ones are taken as UTC), truncating
    sub-millisecond digits towards the past (floor division of timedeltas)."""
    return (moment - (_NAIVE_EPOCH if moment.tzinfo is None else _EPOCH)) // _ONE_MS


def iso_utc(moment: datetime) -> str:
    """ISO-8601 with a `Z`, millisecond precision: how the failed store writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
