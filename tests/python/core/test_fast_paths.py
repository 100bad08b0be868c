"""The contract's shortcuts (issue 32) against their definitions: each must give exactly
what the slow path gives, on the edges and on generated input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from weblogs.core.contract.timestamps import floor_ms, to_epoch_ms

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
