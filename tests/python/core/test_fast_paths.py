"""The contract's shortcuts (issue 32) against their definitions: each must give exactly
what the slow path gives, on the edges and on generated input."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta, timezone

from eventfactory import NOW, mixed_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from weblogs.core.contract import (
    DEFAULT_TYPES,
    Invalid,
    fast_rows,
    screen_all,
    to_epoch_ms,
    validate,
)
from weblogs.core.contract.timestamps import floor_ms, iso_utc, parse_timestamp
from weblogs.core.layout import partition_of
from weblogs.core.transform import HOUR_MS, by_hour, transform_records, values_to_table

#: Fractions around the shortcut's edge (0.99) and the rounding's (0.9995).
_EDGE_FRACTIONS = [0.0, 0.5, 0.98, 0.989999, 0.99, 0.990001, 0.9994, 0.99949999, 0.9995]
_EDGE_FRACTIONS += [0.99950001, 0.9999, 0.999999, 1 - 2**-40, 0.0004999, 0.0005, 0.0001]


def _reference_floor_ms(ms: float) -> int:
    return math.floor(round(ms, 3))


@given(st.integers(0, 10**14), st.sampled_from(_EDGE_FRACTIONS))
@settings(max_examples=800, deadline=None)
def test_floor_ms_at_the_edges_of_a_millisecond(whole: int, fraction: float) -> None:
    for ms in (whole + fraction, math.nextafter(whole + fraction, 0), whole - fraction):
        assert floor_ms(ms) == _reference_floor_ms(ms), ms


@given(
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False)
    | st.floats(min_value=0, max_value=1e14).map(lambda x: x * 1000.0)
)
@settings(max_examples=800, deadline=None)
def test_floor_ms_on_any_float(ms: float) -> None:
    assert floor_ms(ms) == _reference_floor_ms(ms)
    assert type(floor_ms(ms)) is int


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.none() | st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)),
)
@settings(max_examples=800, deadline=None)
def test_to_epoch_ms_floors_like_dividing_timedeltas(moment: datetime, offset: timedelta) -> None:
    """Naive and aware, before and after 1970, offsets with seconds and microseconds."""
    if offset is not None:
        moment = moment.replace(tzinfo=timezone(offset))
    epoch = datetime(1970, 1, 1, tzinfo=None if offset is None else UTC)
    assert to_epoch_ms(moment) == (moment - epoch) // timedelta(milliseconds=1)


# --- transform_records: one fast call, validate for the rest, Arrow split by hour ------

_LINES = mixed_lines()[0]
_LINES = [line for line in _LINES if len(line) < 10_000]  # the huge one costs time, not cases


def _reference(payloads: list[bytes], ingested: list[int]) -> tuple[dict, list[tuple[int, str]]]:
    """The definition, one record at a time: `validate`, rows grouped by hour in order."""
    groups: dict[int, tuple[list[tuple[object, ...]], list[int]]] = {}
    failures = []
    for index, payload in enumerate(payloads):
        outcome = validate(payload, now=NOW)
        if isinstance(outcome, Invalid):
            failures.append((index, outcome.reason))
            continue
        rows, times = groups.setdefault(outcome.values[7] // HOUR_MS, ([], []))
        rows.append(outcome.values)
        times.append(ingested[index])
    return {partition_of(h): values_to_table(*group) for h, group in groups.items()}, failures


def _event_time(line: bytes) -> int:
    outcome = validate(line, now=NOW)
    return 0 if isinstance(outcome, Invalid) else outcome.values[7]


@given(
    st.lists(st.sampled_from(_LINES), max_size=60),
    st.sampled_from(["as sent", "time order", "shuffled"]),
    st.randoms(use_true_random=False),
)
@settings(max_examples=150, deadline=None)
def test_transform_records_gives_the_per_record_definition(
    lines: list[bytes], order: str, rng: random.Random
) -> None:
    """Valid and invalid records, extra fields, derived ids, several hours, in time order
    (zero-copy slices) or not (a stable sort first): the same partitions, rows, order,
    `ingested_at` and failures as `validate` record by record."""
    if order == "time order":
        lines = sorted(lines, key=_event_time)
    elif order == "shuffled":
        rng.shuffle(lines)
    ingested = [1_791_100_000_000 + i for i in range(len(lines))]
    ids = [f"seq-{i}" for i in range(len(lines))]
    result = transform_records(lines, stage="t", now=NOW, ingested_at_ms=ingested, record_ids=ids)
    partitions, failures = _reference(lines, ingested)
    assert sorted(result.partitions) == sorted(partitions)
    for partition, table in partitions.items():
        assert result.partitions[partition].equals(table), partition
    assert [(f["record_id"], f["reason"]) for f in result.failures] == [
        (ids[i], reason) for i, reason in failures
    ]
    assert result.records_in == len(lines) == result.written + result.failed


def test_by_hour_keeps_each_hours_order_when_the_hours_are_interleaved() -> None:
    hours = [5, 3, 5, 4, 3, 5]
    rows = [
        (f"e-{i}", "s", "u", False, "click", "/", None, h * HOUR_MS + i, "x", "x", *[None] * 5)
        for i, h in enumerate(hours)
    ]
    parts = by_hour(values_to_table(rows, [0] * len(rows)))
    assert [partition_of(h) for h in (3, 4, 5)] == sorted(parts)
    assert parts[partition_of(5)].column("event_id").to_pylist() == ["e-0", "e-2", "e-5"]
    assert parts[partition_of(3)].column("event_id").to_pylist() == ["e-1", "e-4"]
    sorted_rows = sorted(rows, key=lambda row: row[7] // HOUR_MS)
    parts = by_hour(values_to_table(sorted_rows, [0] * len(rows)))
    assert parts[partition_of(5)].column("event_id").to_pylist() == ["e-0", "e-2", "e-5"]
    assert by_hour(values_to_table(rows[:1], [0]))[partition_of(5)].num_rows == 1


# --- the second chance: an allowed event type in another case --------------------------

_TYPE_SPELLINGS = st.sampled_from(["click", "CLICK", " Click ", "Page_View", "PURCHASE", "x"])


@given(
    _TYPE_SPELLINGS,
    st.booleans(),
    st.sampled_from([DEFAULT_TYPES, frozenset({"click", "Custom"}), frozenset({"CLICK"})]),
    st.sampled_from([None, "", "u-1", 7]),
)
@settings(max_examples=300, deadline=None)
def test_screen_and_fast_rows_agree_with_validate_on_any_case_of_event_type(
    event_type: str, extra: bool, types: frozenset[str], user_id: object
) -> None:
    event = {"session_id": " s-1 ", "event_type": event_type, "page_url": "/p"}
    event |= {"timestamp": 1_791_000_000, "user_id": user_id, "event_id": "e-1"}
    if extra:
        event["campaign"] = {"id": 1}
    raw = json.dumps(event).encode()
    expected = validate(raw, now=NOW, event_types=types)
    now_ms = to_epoch_ms(NOW)
    screened = screen_all([raw, raw], now_ms=now_ms, event_types=types)
    rows, misses = fast_rows([raw], now_ms=now_ms, event_types=types)
    if isinstance(expected, Invalid):
        assert screened == [expected, expected]
        assert misses == [0]
        return
    assert screened == [(expected.session_id, expected.event_timestamp_ms, extra)] * 2
    if extra:
        assert misses == [0]  # extra fields: `validate` writes their JSON
    else:
        assert rows == [expected.values]


@given(
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2100, 1, 1)),
    st.none() | st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)),
    st.sampled_from(["auto", "milliseconds", "microseconds", "seconds"]),
)
@settings(max_examples=500, deadline=None)
def test_iso_timestamps_read_as_to_epoch_ms_reads_the_time(
    moment: datetime, offset: timedelta | None, spec: str
) -> None:
    if offset is not None:
        moment = moment.replace(tzinfo=timezone(offset))
    text = moment.isoformat(timespec=spec)
    assert parse_timestamp(text) == to_epoch_ms(datetime.fromisoformat(text))
    assert iso_utc(moment) == moment.astimezone(UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
