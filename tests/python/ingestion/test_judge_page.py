"""`judge_page`, the consumer's hot loop (issue 32): a page's verdicts sorted with C-level
iterators must be exactly the contract's verdicts, element by element, in order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.forward import chunk_records
from ingestion.page import Judged, _judge_each, judge_page, parse_page
from weblogs.adapters.stream import StreamRecord, record_size, stream_records
from weblogs.core.contract import MAX_RECORD_BYTES, Invalid, to_epoch_ms, validate
from weblogs.simulator import TrafficGenerator

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW_MS = to_epoch_ms(NOW)
#: Simulator traffic at its default rates (malformed, extra fields, duplicates) and more.
_POOL = parse_page(json.dumps(TrafficGenerator(7, start=NOW).events(400)).encode())[0]
_POOL += [b"", b"\xff", b"[]", b'"text"', b'{"session_id": "s"}']


def _definition(texts: list[bytes]) -> Judged:
    """`validate` on each text, one by one: what the consumer must forward and fail."""
    judged = Judged([], [], [], 0, [])
    for text in texts:
        verdict = validate(text, now=NOW_MS, lazy=True)
        if isinstance(verdict, Invalid):
            judged.failed.append((text, verdict.reason))
            continue
        key = verdict.session_id
        if len(text) + len(key.encode()) > MAX_RECORD_BYTES:
            judged.failed.append((text, "record_too_large"))
            continue
        judged.datas.append(text)
        judged.keys.append(key)
        judged.time_sum += verdict.event_timestamp_ms
        if verdict.has_extra:
            judged.extras.append(text)
    return judged


@given(st.lists(st.sampled_from(_POOL), max_size=120))
@settings(max_examples=200, deadline=None)
def test_a_page_is_sorted_as_validate_sorts_each_element(texts: list[bytes]) -> None:
    assert judge_page(texts, now_ms=NOW_MS) == _definition(texts)


def test_a_record_over_kinesis_limit_with_its_key_fails_in_its_place() -> None:
    """Valid by the contract (1 MiB), but not with its partition key: `record_too_large`,
    and the page around it is judged as usual, in order (the one-by-one loop)."""
    key = "k" * 128
    event = {"session_id": key, "event_type": "click", "page_url": "/", "timestamp": NOW_MS}
    text = json.dumps(event).encode()
    big = text[:-1] + b', "pad": "' + b"x" * (MAX_RECORD_BYTES - len(text) - 20) + b'"}'
    assert len(big) <= MAX_RECORD_BYTES < len(big) + len(key)
    texts = [_POOL[0], big, b"[]", _POOL[1]]
    judged = judge_page(texts, now_ms=NOW_MS)
    assert judged == _definition(texts)
    assert [reason for _, reason in judged.failed] == ["record_too_large", "not_an_object"]
    assert judged.failed[0][0] is big
    assert judge_page(texts[:1] + texts[2:], now_ms=NOW_MS) == _judge_each(
        texts[:1] + texts[2:], [validate_verdict(t) for t in texts[:1] + texts[2:]]
    )


def validate_verdict(text: bytes) -> object:
    verdict = validate(text, now=NOW_MS, lazy=True)
    if isinstance(verdict, Invalid):
        return verdict
    return verdict.session_id, verdict.event_timestamp_ms, verdict.has_extra


def test_an_empty_page() -> None:
    assert judge_page([], now_ms=NOW_MS) == Judged([], [], [], 0, [])


def test_plain_pairs_and_stream_records_chunk_alike() -> None:
    """`stream_records` builds plain (data, key) pairs; the forwarder reads by position, so
    they chunk exactly as `StreamRecord`s do, within Kinesis' limits."""
    datas = [b"y" * (1024 * 1024 - 10)] * 11 + [b"x" * 1000] * 700
    keys = ["k\u00e9y"] * len(datas)
    pairs = stream_records(datas, keys)
    named = [StreamRecord(d, k) for d, k in zip(datas, keys, strict=True)]
    assert pairs == named and all(type(p) is tuple for p in pairs)
    indexes = list(range(len(datas)))
    assert list(chunk_records(indexes, pairs)) == list(chunk_records(indexes, named))
    for chunk in chunk_records(indexes, pairs):
        assert len(chunk) <= 500
        assert sum(record_size(pairs[i]) for i in chunk) <= 5 * 1024 * 1024
    assert record_size(pairs[0]) == named[0].size == len(datas[0]) + len("k\u00e9y".encode())
