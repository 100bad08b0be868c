"""The fuzz targets under hypothesis, bounded (about a minute in all), and every past finding.

`make fuzz` runs the same targets for as long as asked (atheris when installed);
whatever it finds is added to FINDINGS below so it can never come back.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import FIELDS, TARGETS, contract_bytes, contract_object, kinesis_record, page

BOUNDED = settings(
    max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

#: JSON values of every type, nested a little: the shapes an API can send.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
#: Strings a timestamp field can hold: digits of any script, signs, dots, exponents.
NUMERIC_TEXT = st.text(
    alphabet=st.sampled_from([*"0123456789.-+eE :TZ", "١", "٩", "０", "９", "߀", "\u00a0"]),
    max_size=40,
) | st.integers(min_value=4200, max_value=5000).map(lambda n: "9" * n)
FIELD_NAMES = st.sampled_from([*FIELDS, "extra"])
BASE = {"session_id": "s", "event_type": "click", "page_url": "/", "timestamp": 1_791_000_000}


@BOUNDED
@given(st.binary(max_size=512))
def test_contract_on_arbitrary_bytes(data: bytes) -> None:
    contract_bytes(data)


@BOUNDED
@given(st.dictionaries(FIELD_NAMES, JSON | NUMERIC_TEXT, max_size=6))
def test_contract_on_events_with_odd_values(changes: dict) -> None:
    event = {**BASE, **changes}
    contract_object(b"")  # the target's own builder, on its default event
    try:
        raw = json.dumps(event, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return
    contract_bytes(raw)


@BOUNDED
@given(NUMERIC_TEXT)
def test_contract_on_numeric_looking_timestamps(value: str) -> None:
    contract_bytes(json.dumps({**BASE, "timestamp": value}, ensure_ascii=False).encode())


@BOUNDED
@given(st.binary(max_size=256))
def test_contract_object_builder(data: bytes) -> None:
    contract_object(data)


@BOUNDED
@given(st.lists(JSON | NUMERIC_TEXT.map(lambda t: {**BASE, "timestamp": t}), max_size=6))
def test_page_splitter(items: list) -> None:
    body = json.dumps(items, ensure_ascii=False, indent=1).encode("utf-8", "surrogatepass")
    page(body)


@BOUNDED
@given(st.binary(max_size=512))
def test_page_splitter_on_bytes(data: bytes) -> None:
    page(data)


@BOUNDED
@given(st.binary(max_size=256) | JSON.map(lambda v: json.dumps(v).encode()))
def test_kinesis_record_decoder(data: bytes) -> None:
    kinesis_record(data)


#: Inputs that once broke a target (from `make fuzz` or from the issue), by target.
FINDINGS: list[tuple[str, bytes]] = [
    (
        "contract_bytes",
        b'{"session_id":"s","event_type":"click","page_url":"/","timestamp":"'
        + b"9" * 4400
        + b'"}',
    ),
    (
        "contract_bytes",
        '{"session_id":"s","event_type":"click","page_url":"/","timestamp":"١٧٩١٠٠٠٠٠٠"}'.encode(),
    ),
    ("kinesis_record", b'{"kinesis":{"data":"e30=","sequenceNumber":"1"}}'),
    ("kinesis_record", b'{"eventID":"x"}'),
    ("kinesis_record", b"null"),
]


@pytest.mark.parametrize(("target", "data"), FINDINGS)
def test_past_findings(target: str, data: bytes) -> None:
    TARGETS[target](data)
