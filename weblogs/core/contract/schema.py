"""The event schema: allowed types, limits, known fields and the Arrow columns.

The single source of truth for what an event row looks like; the dbt models'
accepted values of the event type columns are tied to `EVENT_TYPES` by a test. The
rules are described in docs/contract.md#1-the-event.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

EVENT_TYPES: tuple[str, ...] = (
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
MAX_CLIENT_ID_CHARS = 128
#: `value`: a finite JSON number from 0 to this (docs/contract.md#1-the-event).
MAX_VALUE = 1_000_000_000
#: `value` is stored exact, as decimal(38, 18): a sum of up to 10^11 maximal values
#: still fits, and a value sent with more than 18 decimals is cut (toward zero) to 18,
#: which never changes its own rounding to cents (docs/decisions.md, Money).
VALUE_PRECISION = 38
VALUE_SCALE = 18

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
        "client_id",
        "value",
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
        "client_id",
        pa.string(),
        True,
        "First-party browser id, trimmed; null when missing or empty.",
    ),
    Column(
        "value",
        pa.decimal128(VALUE_PRECISION, VALUE_SCALE),
        True,
        "Monetary value as sent (exact, 18 decimals); null when missing.",
    ),
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
#: Columns added after the first lake files were written: older files lack them, and
#: every reader takes them by name as null (docs/contract.md#1-the-event).
ADDED_COLUMNS: tuple[str, ...] = ("client_id", "value")
#: Hive partition columns: zero-padded strings taken from the object path, not stored in files.
PARTITION_COLUMNS: tuple[str, ...] = ("year", "month", "day", "hour")

#: 2000-01-01T00:00:00Z in epoch milliseconds: the earliest valid timestamp.
MIN_TIMESTAMP_MS = 946_684_800_000
DAY_MS = 86_400_000
#: The allowed types as a set: the default of every check.
DEFAULT_TYPES: frozenset[str] = frozenset(EVENT_TYPES)
#: Another name for `EVENT_TYPES`.
ALLOWED_EVENT_TYPES = EVENT_TYPES
