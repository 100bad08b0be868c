"""`Batch.extend`, the transformation Lambda's envelope loop (issue 32): a tight loop for
well-formed Kinesis records, `Batch.add` for the rest; together exactly what `add` gives
record by record, on hostile records too."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.transformation import Batch

_DATA = st.sampled_from(
    [base64.b64encode(b'{"a": 1}').decode(), "not base64!", "é", "", "QUJD", "QUJ=D", 7, None]
)
_ARRIVAL = st.sampled_from([1_791_000_000.25, 1_791_000_000, -1.0, 1e12, float("nan"), "x", None])
_SEQUENCE = st.sampled_from(["4960", "", None, 5, "x" * 60])


@st.composite
def _record(draw: st.DrawFn) -> Any:
    kinesis: dict[str, Any] = {}
    for key, values in (
        ("data", _DATA),
        ("sequenceNumber", _SEQUENCE),
        ("approximateArrivalTimestamp", _ARRIVAL),
    ):
        if draw(st.integers(0, 5)):  # usually there
            kinesis[key] = draw(values)
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.sampled_from([None, "kinesis", 3, [kinesis], {"kinesis": "x"}]))
    if shape == 1:
        return {"kinesis": [kinesis]}
    record: dict[str, Any] = {"kinesis": kinesis}
    if draw(st.booleans()):
        record["eventID"] = draw(st.sampled_from(["shardId-000000000007:1", "", 4]))
    return record


def _one_by_one(records: list[Any]) -> Batch:
    batch = Batch()
    for record in records:
        batch.add(record)
    return batch


@given(st.lists(_record(), max_size=12))
@settings(max_examples=400, deadline=None)
def test_extend_decodes_as_add_does_record_by_record(records: list[Any]) -> None:
    batch = Batch()
    batch.extend(records)
    expected = _one_by_one(records)
    assert batch == expected
    if records:
        assert batch.name == expected.name
    assert batch.records == len(records)


def test_the_common_records_take_the_loop_and_keep_their_order() -> None:
    records = [
        {
            "kinesis": {
                "data": base64.b64encode(f'{{"i": {i}}}'.encode()).decode(),
                "sequenceNumber": f"{i:05d}",
                "approximateArrivalTimestamp": 1_791_000_000.5 + i,
            },
            "eventID": f"shardId-000000000003:{i:05d}",
        }
        for i in range(50)
    ]
    records[20]["kinesis"]["data"] = "not base64!"  # `add`'s path, in its place
    batch = Batch()
    batch.extend(records)
    assert batch == _one_by_one(records)
    assert batch.shard_id == "shardId-000000000003"
    assert batch.payloads[3] == b'{"i": 3}' and batch.payloads[20] == b"not base64!"
    assert batch.arrivals_ms[49] == 1_791_000_049_500
    assert batch.name == "shardId-000000000003-00000-00049"
