"""The event contract: the one place that says what a valid event is.

The consumer, both Lambdas, the replay command and the tests import this package,
so a rule changes in one place; docs/contract.md#1-the-event describes the rules.
Its modules, by responsibility: `schema` (types, limits, the Arrow columns),
`timestamps`, `canonical` (canonical JSON, derived ids, strict decoding), `rules`
(`validate`), `fast` (`screen_all` and `fast_rows`, the fast paths) and `failed` (the
failed-store line).
"""

from weblogs.core.contract.canonical import (
    HugeNumber,
    anonymous_user_id,
    canonical_json,
    derive_event_id,
    exact_int,
)
from weblogs.core.contract.failed import failed_record, payload_bytes
from weblogs.core.contract.fast import Screened, fast_rows, fast_values, screen, screen_all
from weblogs.core.contract.rules import OPTIONAL_TEXTS, Invalid, Valid, validate
from weblogs.core.contract.schema import (
    ADDED_COLUMNS,
    ALLOWED_EVENT_TYPES,
    ARROW_SCHEMA,
    DAY_MS,
    DEFAULT_TYPES,
    EVENT_COLUMNS,
    EVENT_SCHEMA,
    EVENT_TYPES,
    KNOWN_FIELDS,
    MAX_CLIENT_ID_CHARS,
    MAX_EVENT_ID_CHARS,
    MAX_PAGE_URL_CHARS,
    MAX_RECORD_BYTES,
    MAX_SESSION_ID_CHARS,
    MAX_VALUE,
    MIN_TIMESTAMP_MS,
    PARTITION_COLUMNS,
    ROW_COLUMNS,
    Column,
)
from weblogs.core.contract.timestamps import iso_utc, parse_timestamp, to_epoch_ms

__all__ = [
    "ADDED_COLUMNS",
    "ALLOWED_EVENT_TYPES",
    "ARROW_SCHEMA",
    "DAY_MS",
    "DEFAULT_TYPES",
    "EVENT_COLUMNS",
    "EVENT_SCHEMA",
    "EVENT_TYPES",
    "KNOWN_FIELDS",
    "MAX_CLIENT_ID_CHARS",
    "MAX_EVENT_ID_CHARS",
    "MAX_PAGE_URL_CHARS",
    "MAX_RECORD_BYTES",
    "MAX_SESSION_ID_CHARS",
    "MAX_VALUE",
    "MIN_TIMESTAMP_MS",
    "OPTIONAL_TEXTS",
    "PARTITION_COLUMNS",
    "ROW_COLUMNS",
    "Column",
    "HugeNumber",
    "Invalid",
    "Screened",
    "Valid",
    "anonymous_user_id",
    "canonical_json",
    "derive_event_id",
    "exact_int",
    "failed_record",
    "fast_rows",
    "fast_values",
    "iso_utc",
    "parse_timestamp",
    "payload_bytes",
    "screen",
    "screen_all",
    "to_epoch_ms",
    "validate",
]
