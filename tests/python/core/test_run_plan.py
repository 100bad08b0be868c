"""The scheduled run's plan (weblogs.core.run_plan): unit cases and properties over any arrivals."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weblogs.core.run_plan import (
    ArrivalLine,
    EventObject,
    Manifest,
    NewRows,
    PlanError,
    Unrecorded,
    plan_run,
    unrecorded,
)

RUN = date(2026, 10, 11)
CUTOFF = datetime(2026, 10, 11)
DAY = timedelta(days=1)
LIMITS = {"default_window_days": 7, "max_days": 366}


def line(
    event: str, arrived: datetime, hour: str = "10", first: datetime | None = None
) -> ArrivalLine:
    return ArrivalLine(date.fromisoformat(event), hour, arrived, first)


def d(text: str) -> date:
    return date.fromisoformat(text)


def test_empty_lake_counts_the_default_window_and_rebuilds_nothing() -> None:
    plan = plan_run(RUN, None, [], **LIMITS)
    assert plan.arrivals_from == CUTOFF - 7 * DAY and plan.arrivals_to == CUTOFF
    assert plan.dates == () and plan.counts_arrivals
    assert len(plan.arrival_days) == 7


def test_an_on_time_event_rebuilds_its_date_and_both_neighbours() -> None:
    plan = plan_run(RUN, CUTOFF - DAY, [line("2026-10-10", CUTOFF - DAY / 2)], **LIMITS)
    assert plan.full_dates == (d("2026-10-09"), d("2026-10-10"), d("2026-10-11"))
    assert plan.patch_dates == () and plan.new_rows == ()


def test_a_late_date_is_patched_when_the_sessions_hold_it() -> None:
    first = CUTOFF - DAY / 3
    lines = [
        line("2026-10-10", CUTOFF - DAY / 2),
        line("2026-10-01", CUTOFF - DAY / 4, "07", first),
        line("2026-10-01", CUTOFF - DAY / 5, "07", first - timedelta(minutes=5)),
    ]
    plan = plan_run(RUN, CUTOFF - DAY, lines, **LIMITS, patching=True, held=lambda days: days)
    assert plan.patch_dates == (d("2026-09-30"), d("2026-10-01"), d("2026-10-02"))
    assert plan.full_dates == (d("2026-10-09"), d("2026-10-10"), d("2026-10-11"))
    assert plan.new_rows == (NewRows(d("2026-10-01"), "07", first - timedelta(minutes=5)),)


@pytest.mark.parametrize(
    ("hour", "first", "held", "patching"),
    [
        ("07", None, True, True),  # a line without first_ingested_at: the date is rebuilt whole
        ("24", CUTOFF - DAY, True, True),  # an impossible hour: whole
        ("07", CUTOFF - DAY, False, True),  # never built before: whole
        ("07", CUTOFF - DAY, True, False),  # the engine cannot delete rows: whole
    ],
)
def test_a_late_date_is_rebuilt_whole_otherwise(
    hour: str, first: datetime | None, held: bool, patching: bool
) -> None:
    lines = [line("2026-10-01", CUTOFF - DAY / 4, hour, first)]
    plan = plan_run(
        RUN, CUTOFF - DAY, lines, **LIMITS, patching=patching,
        held=lambda days: days if held else (),
    )  # fmt: skip
    assert plan.full_dates == (d("2026-09-30"), d("2026-10-01"), d("2026-10-02"))
    assert plan.patch_dates == () and plan.new_rows == ()


def test_unreadable_lines_are_counted_not_skipped_silently() -> None:
    lines = [
        ArrivalLine(None, "10", CUTOFF - DAY / 2),
        ArrivalLine(d("2026-10-10"), "10", None),
        line("2026-10-10", CUTOFF - DAY / 2),
    ]
    plan = plan_run(RUN, CUTOFF - DAY, lines, **LIMITS)
    assert plan.unreadable_lines == 2
    assert d("2026-10-10") in plan.dates


def test_the_watermark_never_passes_the_newest_arrival_seen() -> None:
    newest = CUTOFF - DAY / 2
    plan = plan_run(RUN, CUTOFF - DAY, [line("2026-10-10", newest)], **LIMITS)
    assert plan.new_watermark == newest + timedelta(milliseconds=1)
    odd = newest + timedelta(microseconds=1500)
    assert plan_run(RUN, CUTOFF - DAY, [line("2026-10-10", odd)], **LIMITS).new_watermark == (
        newest + timedelta(milliseconds=2)
    )
    nothing = plan_run(RUN, CUTOFF - DAY, [], **LIMITS)
    assert nothing.new_watermark == CUTOFF - DAY  # nothing seen: the watermark stays
    # The next run starts there: a batch that arrived after the newest one seen is counted.
    later = line("2026-10-10", newest + timedelta(hours=1))
    again = plan_run(RUN, plan.new_watermark, [line("2026-10-10", newest), later], **LIMITS)
    assert d("2026-10-10") in again.dates


def test_a_writer_clock_behind_the_watermark_is_counted_and_reported() -> None:
    behind = ArrivalLine(d("2026-10-03"), "10", CUTOFF - 3 * DAY, None, d("2026-10-10"))
    plan = plan_run(RUN, CUTOFF - DAY, [behind], **LIMITS)
    assert plan.regressions == 1
    assert plan.full_dates == (d("2026-10-02"), d("2026-10-03"), d("2026-10-04"))
    # Under the watermark's own day it is an arrival the previous run counted: not again.
    counted = ArrivalLine(d("2026-10-03"), "10", CUTOFF - 2 * DAY, None, d("2026-10-09"))
    assert plan_run(RUN, CUTOFF - 2 * DAY + DAY / 2, [counted], **LIMITS).dates == ()


def test_a_missing_day_of_manifests_is_a_reported_gap() -> None:
    lines = [
        ArrivalLine(d("2026-10-05"), "10", datetime(2026, 10, 5, 3), None, d("2026-10-05")),
        ArrivalLine(d("2026-10-08"), "10", datetime(2026, 10, 8, 3), None, d("2026-10-08")),
    ]
    plan = plan_run(RUN, datetime(2026, 10, 4), lines, **LIMITS)
    assert plan.gap_days == (d("2026-10-06"), d("2026-10-07"))


def test_a_run_date_before_the_watermark_counts_nothing() -> None:
    plan = plan_run(RUN - 3 * DAY, CUTOFF, [line("2026-10-10", CUTOFF - DAY)], **LIMITS)
    assert plan.dates == () and not plan.counts_arrivals
    assert plan.arrivals_from == CUTOFF


def test_too_many_days_stop_with_what_to_run_instead() -> None:
    with pytest.raises(PlanError, match="more than 366 -- run the schedule for an earlier"):
        plan_run(RUN, CUTOFF - 400 * DAY, [], **LIMITS)
    lines = [line(f"{d('2025-01-01') + n * DAY}", CUTOFF - DAY / 2) for n in range(0, 400, 2)]
    with pytest.raises(PlanError, match="touch 401 session dates"):
        plan_run(RUN, CUTOFF - DAY, lines, **LIMITS)


# --- properties ---------------------------------------------------------------------------

event_dates = st.dates(min_value=date(2026, 8, 1), max_value=date(2026, 10, 12))
moments = st.datetimes(min_value=datetime(2026, 9, 25), max_value=datetime(2026, 10, 13))
lines_st = st.lists(
    st.builds(
        ArrivalLine,
        st.one_of(st.none(), event_dates),
        st.sampled_from(["00", "07", "23", "24", "x"]),
        st.one_of(st.none(), moments),
        st.one_of(st.none(), moments),
    ),
    max_size=40,
)
watermarks = st.one_of(
    st.none(), st.datetimes(min_value=datetime(2026, 9, 28), max_value=datetime(2026, 10, 14))
)


def planned(lines: list[ArrivalLine], watermark: datetime | None, patching: bool, held: bool):
    return plan_run(
        RUN, watermark, lines, **LIMITS, patching=patching, held=lambda days: days if held else ()
    )


@settings(max_examples=300, deadline=None)
@given(lines_st, watermarks, st.booleans(), st.booleans(), st.randoms())
def test_any_order_gives_the_same_plan(
    lines: list[ArrivalLine], watermark: datetime | None, patching: bool, held: bool,
    rnd: random.Random,
) -> None:  # fmt: skip
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    assert planned(lines, watermark, patching, held) == planned(shuffled, watermark, patching, held)


@settings(max_examples=300, deadline=None)
@given(lines_st, watermarks, st.booleans(), st.booleans())
def test_every_touched_date_and_its_neighbours_are_rebuilt_and_nothing_else(
    lines: list[ArrivalLine], watermark: datetime | None, patching: bool, held: bool
) -> None:
    plan = planned(lines, watermark, patching, held)
    counted = [
        ln.event_date
        for ln in lines
        if ln.event_date
        and ln.arrived_at
        and plan.arrivals_from <= ln.arrived_at < plan.arrivals_to
    ]
    wanted = {day + k * DAY for day in counted for k in (-1, 0, 1)}
    assert set(plan.dates) == wanted
    assert not set(plan.full_dates) & set(plan.patch_dates)
    assert list(plan.dates) == sorted(set(plan.dates))
    if not patching or not held:
        assert plan.patch_dates == () and plan.new_rows == ()
    assert plan.arrivals_to == CUTOFF
    assert plan.unreadable_lines <= len(lines)
    seen = [
        ln.arrived_at
        for ln in lines
        if ln.arrived_at and plan.arrivals_from <= ln.arrived_at < CUTOFF
    ]
    assert plan.new_watermark is not None
    assert plan.arrivals_from <= plan.new_watermark <= CUTOFF or not plan.arrival_days
    if seen:
        newest = max(seen)
        assert max(seen) < plan.new_watermark <= min(CUTOFF, newest + timedelta(milliseconds=1))
        assert plan.new_watermark.microsecond % 1000 == 0 or plan.new_watermark == CUTOFF


@settings(max_examples=200, deadline=None)
@given(lines_st, watermarks)
def test_a_rerun_after_success_counts_nothing_again(
    lines: list[ArrivalLine], watermark: datetime | None
) -> None:
    first = planned(lines, watermark, False, False)
    assert first.new_watermark is not None
    again = planned(lines, first.new_watermark, False, False)
    assert again.dates == ()
    # Gaps and reruns: counting [a, b) then [b, c) rebuilds what [a, c) rebuilds.
    if watermark is not None and watermark < CUTOFF - DAY:
        middle = date(2026, 10, 10)
        split = plan_run(middle, watermark, lines, **LIMITS)
        assert split.new_watermark is not None
        rest = plan_run(RUN, split.new_watermark, lines, **LIMITS)
        whole = plan_run(RUN, watermark, lines, **LIMITS)
        assert set(split.dates) | set(rest.dates) == set(whole.dates)


# --- event hours whose manifest vanished (issue 25: deleted, emptied, truncated) -----------


def test_objects_without_a_naming_manifest_are_unrecorded() -> None:
    objects = [
        EventObject("b1", d("2026-10-03"), "10"),
        EventObject("b1", d("2026-10-04"), "11"),  # b1's manifest lost this line
        EventObject("b2", d("2026-09-25"), "08"),  # b2's manifest deleted
        EventObject("b3", d("2026-09-26"), "09"),  # b3's manifest emptied
        EventObject("b4", d("2026-09-27"), "00"),  # b4's manifest is on a day not read
    ]
    manifests = [
        Manifest("b1", False, frozenset({(d("2026-10-03"), "10")})),
        Manifest("b3", True, frozenset()),
        Manifest("b4", False),
        Manifest("erasure-x", False, frozenset({(d("2026-09-25"), "08")})),  # not b2's
    ]
    lost = unrecorded(objects, manifests)
    assert lost.hours == ((d("2026-09-25"), "08"), (d("2026-09-26"), "09"), (d("2026-10-04"), "11"))
    assert lost.objects == 3 and lost.empty_manifests == 1
    assert unrecorded(objects[:1], manifests[:1]) == Unrecorded()


def test_unrecorded_hours_are_rebuilt_whole_even_with_nothing_arrived() -> None:
    lost = Unrecorded(((d("2026-10-03"), "10"),), 1, 1)
    plan = plan_run(RUN, CUTOFF, [], **LIMITS, patching=True, held=lambda days: days, lost=lost)
    assert plan.full_dates == (d("2026-10-02"), d("2026-10-03"), d("2026-10-04"))
    assert plan.patch_dates == () and plan.new_watermark == CUTOFF
    assert plan.unrecorded_hours == lost.hours and plan.empty_manifests == 1
    quiet = plan_run(RUN, CUTOFF, [], **LIMITS, lost=Unrecorded((), 0, 2))
    assert quiet.dates == () and quiet.empty_manifests == 2


def test_too_many_unrecorded_dates_say_to_restore_the_manifests() -> None:
    hours = tuple((d("2025-01-01") + n * DAY, "00") for n in range(400))
    with pytest.raises(PlanError, match="400 event hours have no arrivals manifest"):
        plan_run(RUN, CUTOFF - DAY, [], **LIMITS, lost=Unrecorded(hours, 400, 0))
