"""The one clock every command reads: `WEBLOGS_NOW`, else the system's, always UTC.

`WEBLOGS_NOW=2026-10-11T00:00:00Z` (ISO-8601 with an explicit UTC offset) makes
transform's arrival times, the scheduled run's "today" and the simulator's
start follow a calendar of the caller's choosing: the tests and a catch-up
by hand replay days without waiting for them (docs/operations.md, The clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from weblogs.core.errors import ConfigError

NOW_ENV = "WEBLOGS_NOW"


def now(env: Mapping[str, str]) -> datetime:
    """`$WEBLOGS_NOW` (must say UTC: `Z` or `+00:00`), else the system clock; aware, UTC."""
    text = (env.get(NOW_ENV) or "").strip()
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() != timedelta(0):
        raise ConfigError(
            f"{NOW_ENV}={text[:40]!r} is not an ISO-8601 UTC time such as 2026-10-11T00:00:00Z"
        )
    if not 2000 <= moment.year <= 2999:
        raise ConfigError(f"{NOW_ENV}={text!r} is outside the years 2000 .. 2999")
    return moment.astimezone(UTC)
