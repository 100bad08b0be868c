"""Every rule and failure reason of the event contract (docs/contract.md#1-the-event)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weblogs.core.contract import (
    ALLOWED_EVENT_TYPES,
    ARROW_SCHEMA,
    EVENT_COLUMNS,
    MAX_RECORD_BYTES,
    Invalid,
    Valid,
    canonical_json,
    failed_record,
    fast_values,
    parse_timestamp,
    payload_bytes,
    screen,
    to_epoch_ms,
    validate,
)

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
T_SECONDS = 1_791_000_000  # 2026-10-03T04:00:00Z


def event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "session_id": "s-1",
        "event_type": "page_view",
        "page_url": "/home",
        "timestamp": T_SECONDS,
        "user_id": "u-1",
        "event_id": "e-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def check(obj: object) -> Valid | Invalid:
    """Validate both as raw bytes and as a decoded object: the two paths must agree,
    and so must the consumer's fast `screen`, on every spelling of the text."""
    text = json.dumps(obj, ensure_ascii=False).encode()
    raw = validate(text, now=NOW)
    decoded = validate(obj, now=NOW)
    assert type(raw) is type(decoded)
    if isinstance(raw, Invalid):
        assert raw.reason == decoded.reason
    else:
        assert raw.row == decoded.row
    for spelling in (
        text,
        json.dumps(obj).encode(),
        orjson.dumps(obj) if _orjson_ok(obj) else text,
    ):
        assert_screen_agrees(spelling)
    return raw


def _orjson_ok(obj: object) -> bool:
    try:
        orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


def assert_screen_agrees(data: bytes, now: datetime = NOW) -> None:
    """`screen` must give `validate`'s verdict: the reason, or the session id, the
    event time and the extra-fields flag; and `fast_values`, when it answers, the
    very row `validate` gives (the transformation's fast path)."""
    assert_fast_values_agree(data, now)
    expected = validate(data, now=now, lazy=True)
    got = screen(data, now_ms=to_epoch_ms(now))
    if isinstance(expected, Invalid):
        assert got == expected, data
    else:
        assert got == (
            expected.session_id,
            expected.event_timestamp_ms,
            expected.has_extra,
        ), data


def assert_fast_values_agree(data: bytes, now: datetime = NOW) -> None:
    """None (ask `validate`) or exactly `validate`'s values, types included."""
    got = fast_values(data, now_ms=to_epoch_ms(now))
    if got is None:
        return
    expected = validate(data, now=now)
    assert isinstance(expected, Valid), (data, expected)
    assert got == expected.values, data
    assert [type(v) for v in got] == [type(v) for v in expected.values], data


def reason(obj: object) -> str:
    outcome = check(obj)
    assert isinstance(outcome, Invalid), outcome
    return outcome.reason


def row(obj: object) -> dict[str, object]:
    outcome = check(obj)
    assert isinstance(outcome, Valid), outcome
    return outcome.row


# --- reasons -------------------------------------------------------------------------


def test_invalid_json_and_not_an_object() -> None:
    assert validate(b"{not json", now=NOW) == Invalid("invalid_json")
    assert validate(b"\xff\xfe", now=NOW) == Invalid("invalid_json")
    assert validate(b'{"a": NaN}', now=NOW) == Invalid("invalid_json")
    assert validate(b"", now=NOW) == Invalid("invalid_json")
    for text in (b"[]", b"1", b'"x"', b"null", b"true"):
        assert validate(text, now=NOW) == Invalid("not_an_object")
    assert validate([1, 2], now=NOW) == Invalid("not_an_object")


@pytest.mark.parametrize("field", ["session_id", "event_type", "page_url", "timestamp"])
def test_required_fields_missing_or_null(field: str) -> None:
    assert reason(event(**{field: _DROP})) == f"missing_field:{field}"
    assert reason(event(**{field: None})) == f"missing_field:{field}"


@pytest.mark.parametrize("field", ["session_id", "event_type", "page_url", "timestamp"])
def test_required_fields_empty_after_trimming(field: str) -> None:
    assert reason(event(**{field: ""})) == f"empty_field:{field}"
    assert reason(event(**{field: " \t\n "})) == f"empty_field:{field}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("session_id", 12),
        ("session_id", ["a"]),
        ("event_type", 1),
        ("page_url", {"a": 1}),
        ("timestamp", True),
        ("timestamp", [1]),
        ("user_id", True),
        ("user_id", 1.5),
        ("user_id", {"id": 1}),
        ("event_id", 7),
        ("referrer", 1),
        ("device_type", False),
        ("browser", ["x"]),
        ("os", 3),
        ("country", {}),
        ("client_id", 5),
        ("value", "19.99"),
        ("value", False),
    ],
)
def test_invalid_types(field: str, value: object) -> None:
    assert reason(event(**{field: value})) == f"invalid_type:{field}"


def test_length_limits_apply_to_trimmed_values() -> None:
    assert row(event(session_id=" " + "s" * 128 + " "))["session_id"] == "s" * 128
    assert reason(event(session_id="s" * 129)) == "too_long:session_id"
    assert row(event(page_url="/" * 2048))["page_url"] == "/" * 2048
    assert reason(event(page_url="/" * 2049)) == "too_long:page_url"
    assert row(event(event_id="e" * 128))["event_id"] == "e" * 128
    assert reason(event(event_id="e" * 129)) == "too_long:event_id"
    # Characters, not bytes: 128 two-byte characters are fine.
    assert row(event(session_id="é" * 128))["session_id"] == "é" * 128


def test_event_types() -> None:
    assert reason(event(event_type="hover")) == "unknown_event_type"
    assert row(event(event_type=" Page_VIEW "))["event_type"] == "page_view"
    for event_type in ALLOWED_EVENT_TYPES:
        assert row(event(event_type=event_type))["event_type"] == event_type
    custom = validate(event(event_type="hover"), now=NOW, event_types=frozenset({"hover"}))
    assert isinstance(custom, Valid)


def test_record_too_large() -> None:
    big = event(page_url="/x", padding="p" * MAX_RECORD_BYTES)
    assert validate(orjson.dumps(big), now=NOW) == Invalid("record_too_large")
    assert validate(big, now=NOW) == Invalid("record_too_large")
    assert validate(b"x" * (MAX_RECORD_BYTES + 1), now=NOW) == Invalid("record_too_large")
    # Exactly at the limit is still judged on its content.
    at_limit = b" " * (MAX_RECORD_BYTES - 2) + b"{}"
    assert validate(at_limit, now=NOW) == Invalid("missing_field:session_id")


# --- timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        (T_SECONDS, T_SECONDS * 1000),
        (T_SECONDS + 0.123, T_SECONDS * 1000 + 123),
        (T_SECONDS * 1000 + 5, T_SECONDS * 1000 + 5),
        (str(T_SECONDS), T_SECONDS * 1000),
        (f" {T_SECONDS}.5 ", T_SECONDS * 1000 + 500),
        (str(T_SECONDS * 1000), T_SECONDS * 1000),
        ("1.791e9", 1_791_000_000_000),
        ("2026-10-03T04:00:00Z", T_SECONDS * 1000),
        ("2026-10-03T04:00:00", T_SECONDS * 1000),  # no offset: UTC
        ("2026-10-03T06:00:00+02:00", T_SECONDS * 1000),
        ("2026-10-03T04:00:00.123456Z", T_SECONDS * 1000 + 123),
        ("2026-10-03 04:00:00.5", T_SECONDS * 1000 + 500),
        ("2026-10-03", (T_SECONDS - 4 * 3600) * 1000),
    ],
)
def test_timestamp_encodings(value: object, expected_ms: int) -> None:
    assert parse_timestamp(value) == expected_ms
    assert row(event(timestamp=value))["event_timestamp"] == expected_ms


def test_seconds_milliseconds_boundary() -> None:
    assert parse_timestamp(99_999_999_999) == 99_999_999_999_000  # < 1e11: seconds
    assert parse_timestamp(100_000_000_000) == 100_000_000_000  # >= 1e11: milliseconds
    assert parse_timestamp(99_999_999_999_999) == 99_999_999_999_999
    assert parse_timestamp(100_000_000_000_000) == "invalid_timestamp"  # >= 1e14
    assert parse_timestamp(-1e14) == "invalid_timestamp"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "12:00", "1e400", "0x10", "--1"])
def test_invalid_timestamps(value: str) -> None:
    assert reason(event(timestamp=value)) == "invalid_timestamp"


def test_timestamp_range_uses_the_injected_clock() -> None:
    start_2000 = 946_684_800
    assert row(event(timestamp=start_2000))["event_timestamp"] == start_2000 * 1000
    assert reason(event(timestamp=start_2000 - 1)) == "timestamp_out_of_range"
    assert reason(event(timestamp="1999-12-31T23:59:59.999Z")) == "timestamp_out_of_range"
    assert reason(event(timestamp=-5)) == "timestamp_out_of_range"
    limit = int(NOW.timestamp()) + 86_400
    assert isinstance(check(event(timestamp=limit)), Valid)
    assert reason(event(timestamp=limit + 1)) == "timestamp_out_of_range"
    later = datetime(2026, 10, 7, tzinfo=UTC)
    assert isinstance(validate(event(timestamp=limit + 1), now=later), Valid)


# --- normalisation and derived values -----------------------------------------------


def test_trimming_and_defaults() -> None:
    r = row(
        event(
            session_id="  s-1 ",
            page_url=" /a ",
            device_type=" Mobile ",
            browser="",
            referrer="  ",
            os=" iOS ",
            country=None,
        )
    )
    assert r["session_id"] == "s-1"
    assert r["page_url"] == "/a"
    assert r["device_type"] == "mobile"
    assert r["browser"] == "unknown"
    assert r["referrer"] is None
    assert r["os"] == "iOS"
    assert r["country"] is None
    assert row(event())["device_type"] == "unknown"


def test_user_ids() -> None:
    assert row(event(user_id=42))["user_id"] == "42"
    assert row(event(user_id=12345678901234567890123))["user_id"] == "12345678901234567890123"
    assert row(event(user_id=" u-7 "))["user_id"] == "u-7"
    for missing in (_DROP, None, "", "   "):
        r = row(event(user_id=missing, session_id=" s-9 "))
        expected = "anon-" + hashlib.sha256(b"s-9").hexdigest()[:16]
        assert r["user_id"] == expected
        assert r["is_anonymous_user"] is True
    # Anonymous is a flag, not a text pattern: a real id that looks anonymous stays real.
    assert row(event(user_id="anon-123"))["is_anonymous_user"] is False


def test_derived_event_id_is_sha256_of_python_canonical_json() -> None:
    obj = event(
        event_id=_DROP, page_url="/ü", score=1.5, big=2**70, nested={"b": [1, None], "a": "é"}
    )
    expected = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    r = row(obj)
    assert r["event_id"] == "h-" + hashlib.sha256(expected.encode()).hexdigest()[:32]
    for empty in (None, "", "  "):
        obj2 = event(event_id=empty)
        canon = json.dumps(obj2, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row(obj2)["event_id"] == "h-" + hashlib.sha256(canon.encode()).hexdigest()[:32]
    # Order of keys as received does not matter; the id is the same for a replay.
    shuffled = dict(reversed(list(obj.items())))
    assert row(shuffled)["event_id"] == r["event_id"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
@settings(max_examples=300, deadline=None)
def test_canonical_json_matches_the_stdlib_definition(obj: dict[str, object]) -> None:
    try:
        expected = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except UnicodeEncodeError:
        return  # lone surrogates cannot be UTF-8; validate() rejects them as invalid_json
    assert canonical_json(obj) == expected


def test_extra_fields_travel_on_sorted() -> None:
    outcome = check(event(zeta=1, alpha={"b": 2, "a": [1]}))
    assert isinstance(outcome, Valid)
    assert outcome.has_extra
    assert outcome.row["extra_attributes"] == '{"alpha":{"a":[1],"b":2},"zeta":1}'
    plain = check(event())
    assert isinstance(plain, Valid)
    assert not plain.has_extra
    assert plain.row["extra_attributes"] is None


def test_row_has_every_column_but_ingested_at() -> None:
    assert set(row(event())) == set(EVENT_COLUMNS) - {"ingested_at"}
    assert ARROW_SCHEMA.names == list(EVENT_COLUMNS)


# --- failed store --------------------------------------------------------------------


def test_failed_record_keeps_payload_exactly() -> None:
    raw = b'{"session_id": 1}'
    line = failed_record(raw, "invalid_type:session_id", "transformation", NOW, record_id="9")
    assert line == {
        "reason": "invalid_type:session_id",
        "stage": "transformation",
        "failed_at": "2026-10-05T12:00:00.000Z",
        "payload": '{"session_id": 1}',
        "payload_encoding": "utf-8",
        "record_id": "9",
    }
    assert payload_bytes(line) == raw
    binary = b"\xff\x00\xfe"
    line = failed_record(binary, "invalid_json", "consumer", NOW)
    assert line["payload_encoding"] == "base64"
    assert base64.b64decode(line["payload"]) == binary
    assert payload_bytes(line) == binary


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_bytes_either_validate_or_fail_with_a_known_reason(data: bytes) -> None:
    outcome = validate(data, now=NOW)
    assert_screen_agrees(data)
    if isinstance(outcome, Invalid):
        kind = outcome.reason.split(":")[0]
        assert kind in {
            "invalid_json",
            "not_an_object",
            "missing_field",
            "empty_field",
            "invalid_type",
            "too_long",
            "invalid_timestamp",
            "timestamp_out_of_range",
            "unknown_event_type",
            "record_too_large",
        }
        assert payload_bytes(failed_record(data, outcome.reason, "t", NOW)) == data


def test_decoded_objects_use_the_callers_wire_size() -> None:
    assert validate(event(), now=NOW, size=MAX_RECORD_BYTES + 1) == Invalid("record_too_large")
    assert isinstance(validate(event(), now=NOW, size=MAX_RECORD_BYTES), Valid)


def test_lone_surrogates_cannot_be_derived_from() -> None:
    # Only the stdlib decoder lets these through; no UTF-8 JSON can carry them.
    bad = json.loads(
        '{"session_id": "s", "event_type": "click", "page_url": "/", '
        '"timestamp": 1791000000, "note": "\\ud800"}'
    )
    assert validate(bad, now=NOW) == Invalid("invalid_json")
    assert validate(bad, now=NOW, lazy=True) == Invalid("invalid_json")
    assert validate(
        {**bad, "note": "ok", "event_id": None, "page_url": "/\ud800"}, now=NOW
    ) == Invalid("invalid_json")


def test_derived_values_are_the_same_whether_read_early_or_late() -> None:
    obj = event(event_id=None, user_id=None, extra_field=[1])
    outcome = validate(obj, now=NOW, lazy=True)
    assert isinstance(outcome, Valid)
    assert outcome.session_id == "s-1" and outcome.event_timestamp_ms == T_SECONDS * 1000
    first = outcome.values
    assert (
        first[0].startswith("h-")
        and first[2].startswith("anon-")
        and first[14] == '{"extra_field":[1]}'
    )
    assert outcome.values is first and outcome.event_id == first[0]
    eager = validate(obj, now=NOW)
    assert isinstance(eager, Valid) and eager.values == first


# --- the consumer's fast path ------------------------------------------------------------

_odd_texts = st.sampled_from(
    ["", " ", "  x  ", "\u00a0y\u2003", "\t", "Click", " click ", "PAGE_VIEW", "x" * 129, "é"]
)
_field_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | _odd_texts
    | st.sampled_from(ALLOWED_EVENT_TYPES)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
_timestamps = (
    _field_values
    | st.integers(min_value=T_SECONDS - 10**6, max_value=T_SECONDS + 10**6)
    | st.integers(min_value=T_SECONDS * 1000 - 10**9, max_value=T_SECONDS * 1000 + 10**9)
    | st.floats(min_value=9e8, max_value=2e12)
    | st.datetimes(min_value=datetime(1999, 12, 30), max_value=datetime(2026, 10, 7)).map(
        lambda d: d.isoformat()
    )
    | st.sampled_from(
        [
            "2026-10-03T04:00:00Z",
            "2026-10-03t04:00:00z",
            "2026-10-03T04:00:00.9999999Z",
            "2026-10-03T04:00:00+05:30",
            "2026-10-03 04:00:00",
            " 1791000000 ",
            "1791000000.5",
            "+1791000000",
            "1e9",
            "2026-10-03",
        ]
    )
)


@st.composite
def _events(draw: st.DrawFn) -> dict[str, object]:
    obj = event(client_id="c-1", value=19.99)
    for field in list(obj):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            del obj[field]
        elif choice <= 3:
            obj[field] = draw(_timestamps if field == "timestamp" else _field_values)
    if draw(st.booleans()):
        obj[draw(st.text(max_size=8))] = draw(_field_values)
    return obj


@given(_events(), st.sampled_from(["compact", "spaced", "ascii"]))
@settings(max_examples=600, deadline=None)
def test_screen_gives_validates_verdict_on_generated_events(
    obj: dict[str, object], spelling: str
) -> None:
    if spelling == "compact":
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    elif spelling == "spaced":
        data = json.dumps(obj, ensure_ascii=False).encode()
    else:
        data = json.dumps(obj).encode()
    assert_screen_agrees(data)


@given(_events(), st.integers(0, 2 * 10**9), st.booleans())
@settings(max_examples=400, deadline=None)
def test_fast_values_give_validates_row_on_generated_events(
    obj: dict[str, object], value: int, keep_value: bool
) -> None:
    """Integer values and no float: the events the fast path answers itself."""
    obj = {**obj, "value": value} if keep_value else {k: v for k, v in obj.items() if k != "value"}
    for data in (json.dumps(obj).encode(), json.dumps(obj, ensure_ascii=False).encode()):
        assert_fast_values_agree(data)


def test_fast_values_answer_the_common_events() -> None:
    """The common shapes go fast (else the transformation's fast path would be dead code),
    with `validate`'s very row; the rest is left to `validate`."""
    now_ms = to_epoch_ms(NOW)
    common = [
        event(),
        event(user_id=None, referrer=" https://r.example/ ", device_type=" Mobile "),
        event(user_id=42, browser="", os="  ", country=" PT ", client_id=" c-1 ", value=7),
        event(user_id="  ", event_type="purchase", value=0, timestamp="2026-10-03T04:00:00Z"),
        event(session_id=" s-2 ", page_url=" /p ", event_id=" e-2 "),
        event(event_type="Click"),  # allowed once lower-cased: the second decoder's
        event(event_type=" PAGE_VIEW ", user_id=None),
    ]
    for obj in common:
        data = json.dumps(obj).encode()
        assert fast_values(data, now_ms=now_ms) is not None, obj
        assert_fast_values_agree(data)
    left = [
        event(event_id=_DROP),  # a derived id: the whole event hashed
        event(event_id="  "),
        event(value=19.99),  # read again from the text as a decimal
        event(value=2 * 10**9),
        {**event(), "extra": 1},
        event(session_id="   "),
        event(event_type="Teleport"),
        {**event(event_type="Click"), "extra": 1},
        event(timestamp=T_SECONDS + 10 * 86_400),
    ]
    for obj in left:
        assert fast_values(json.dumps(obj).encode(), now_ms=now_ms) is None, obj
    assert fast_values(b"[]", now_ms=now_ms) is None
    assert fast_values(b"{" + b" " * MAX_RECORD_BYTES + b"}", now_ms=now_ms) is None


def test_screen_edge_cases() -> None:
    base = event(event_type="click")
    for text in (
        json.dumps(base)[:-1] + ', "x": "\\ud800"}',  # lone surrogate in an extra field
        json.dumps(base)[:-1] + ', "x": 1e400}',  # a number no float holds
        json.dumps(base)[:-1] + ', "x": ' + "[" * 40 + "]" * 40 + "}",  # nested extras
        json.dumps(base)[:-1] + ', "x": ' + "[" * 2000 + "]" * 2000 + "}",  # too deep
        json.dumps(base)[:-1] + ', "session_id": 5}',  # duplicate key: the last one counts
        json.dumps(base).replace('"s-1"', '"s-1\\ud800"'),
        json.dumps(base).replace("click", "video_play"),
        json.dumps(base).replace(", ", " ,\t"),
    ):
        assert_screen_agrees(text.encode())
    assert_screen_agrees(json.dumps(base).encode()[:-1] + b', "x": "\xff"}')  # not UTF-8
    assert_screen_agrees(b"\xef\xbb\xbf" + json.dumps(base).encode())  # a byte-order mark
    big = json.dumps({**base, "pad": "x" * MAX_RECORD_BYTES}).encode()
    assert screen(big, now_ms=to_epoch_ms(NOW)) == Invalid("record_too_large")
    # Custom event types: only types that are already trimmed lower-case go fast,
    # and the verdict never changes.
    types = frozenset({"click", "Custom"})
    data = json.dumps(base).encode()
    assert screen(data, now_ms=to_epoch_ms(NOW), event_types=types)[0] == "s-1"
    assert screen(data, now_ms=to_epoch_ms(NOW), event_types=frozenset({"x"})) == Invalid(
        "unknown_event_type"
    )


@pytest.mark.parametrize(
    "timestamp",
    [0, 1, -1, 10**11 - 1, 10**11, 10**14 - 1, 10**14, -(10**11), 1_791_000_000, 1_791_000_000_123,
     to_epoch_ms(NOW) // 1000 + 86_400, to_epoch_ms(NOW) // 1000 + 86_401, 10**30],
)  # fmt: skip
def test_fast_values_read_integer_timestamps_as_validate_does(timestamp: int) -> None:
    """The fast path reads an integer epoch (seconds below 1e11, else milliseconds) itself:
    at every edge of those ranges and of the contract's time range it agrees with
    `validate`, or leaves the event to it."""
    data = json.dumps(event(timestamp=timestamp)).encode()
    assert_screen_agrees(data)
    if isinstance(validate(data, now=NOW), Valid):
        assert fast_values(data, now_ms=to_epoch_ms(NOW)) is not None
