"""The one clock (weblogs.core.clock): WEBLOGS_NOW, else the system's; bad values in one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from weblogs.core.clock import now
from weblogs.core.errors import ConfigError


def test_the_injected_clock_wins_and_is_utc() -> None:
    assert now({"WEBLOGS_NOW": "2026-10-11T00:00:00Z"}) == datetime(2026, 10, 11, tzinfo=UTC)
    assert now({"WEBLOGS_NOW": "2026-10-11T02:00:00+00:00"}).hour == 2
    assert abs(now({}) - datetime.now(UTC)) < timedelta(seconds=5)
    assert abs(now({"WEBLOGS_NOW": " "}) - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "value",
    ["2026-10-11", "2026-10-11T00:00:00", "2026-10-11T00:00:00+02:00", "tomorrow",
     "1999-12-31T00:00:00Z", "x" * 5000],
)  # fmt: skip
def test_a_clock_that_is_not_utc_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="WEBLOGS_NOW"):
        now({"WEBLOGS_NOW": value})
