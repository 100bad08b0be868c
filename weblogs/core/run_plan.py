"""The scheduled run's plan: which session dates it rebuilds whole, which it patches, and why.

Pure: the previous watermark, the arrivals manifests' lines and the run date
in, a `RunPlan` out (docs/analytics.md, Late data). The runner reads the inputs
through the target (weblogs.analytics.scheduled) and hands the plan to dbt as
the var `run_plan`; the dbt macros only check it.

- The run counts the arrivals in [watermark, run date 00:00 UTC). Without a
  watermark (no run logged yet) it starts `default_window_days` before.
- An event dated E can change the sessions of E - 1, E and E + 1: those are
  the session dates rebuilt.
- A late date (older than the day before the interval starts) whose lines all
  carry `first_ingested_at` is patched session by session where the engine can
  (`patching`) and the persisted sessions already hold it (`held`); every other
  date is rebuilt whole.
- The watermark the run records (`new_watermark`) is the first whole
  millisecond after the newest arrival it saw, never the run date's 00:00 when nothing arrived that
  late, so a run can never skip arrivals it has not seen.
- Lines dated before the watermark but filed under a later arrival day (a
  writer clock behind) are counted and reported (`regressions`), as are days
  without any manifest between days with some (`gap_days`) and lines that
  cannot be read (`unreadable_lines`).
- Event hours of the lake that no arrivals manifest names (its manifest was
  deleted, emptied or truncated: `unrecorded_hours`, from `unrecorded`) are
  rebuilt whole like an arrival, on every run until a manifest names them
  again, and reported with the empty manifests (`empty_manifests`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from weblogs.core import layout
from weblogs.core.errors import UsageError

ONE_DAY = timedelta(days=1)
MILLISECOND = timedelta(milliseconds=1)
HOURS = frozenset(f"{h:02d}" for h in range(24))


class PlanError(UsageError):
    """The run cannot be planned as asked (too many days): one line saying what to run instead."""


@dataclass(frozen=True)
class ArrivalLine:
    """One line of an arrivals manifest, parsed (None where the line had no readable value)."""

    event_date: date | None
    event_hour: str | None
    arrived_at: datetime | None
    first_ingested_at: datetime | None = None
    #: The arrival-date partition the line was read from (None: unknown).
    arrival_day: date | None = None


@dataclass(frozen=True)
class NewRows:
    """A late event hour's newly arrived rows: ingested at or after `first_ingested_at`."""

    event_date: date
    event_hour: str
    first_ingested_at: datetime


@dataclass(frozen=True)
class RunPlan:
    """What a scheduled run does; times are naive UTC."""

    run_date: date
    arrivals_from: datetime
    arrivals_to: datetime
    full_dates: tuple[date, ...] = ()
    patch_dates: tuple[date, ...] = ()
    new_rows: tuple[NewRows, ...] = ()
    #: Lines read whose arrival time, or (in the interval) event date, could not be read:
    #: reported by the runner, never silently skipped.
    unreadable_lines: int = 0
    arrival_days: tuple[date, ...] = field(default=())
    #: The end of the arrivals this run counted, recorded as the next run's start: the
    #: first whole millisecond after the newest arrival seen, never past `arrivals_to`.
    new_watermark: datetime | None = None
    #: Arrival days of the interval without any manifest while a later day has some.
    gap_days: tuple[date, ...] = ()
    #: Lines under an arrival day after the watermark's but dated before the watermark
    #: (a writer clock behind): counted, not skipped, and reported.
    regressions: int = 0

    #: Event hours in the lake that no manifest names (deleted, emptied, truncated): rebuilt.
    unrecorded_hours: tuple[tuple[date, str], ...] = ()
    #: Manifests without a single line (0 bytes): reported.
    empty_manifests: int = 0

    @property
    def dates(self) -> tuple[date, ...]:
        """Every session date rebuilt, whole or patched, in order."""
        return tuple(sorted(self.full_dates + self.patch_dates))

    @property
    def counts_arrivals(self) -> bool:
        return self.arrivals_from < self.arrivals_to


def parse_moment(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (a manifest's text, or a typed value) as naive UTC; None if unreadable."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and 10 < len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def parse_day(value: Any) -> date | None:
    """A date (a typed value, or `YYYY-MM-DD` text); None if unreadable."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def arrival_line(item: Any, arrival_day: date | None = None) -> ArrivalLine:
    """One manifest line (a parsed JSON object, or a row as a dict), each field checked;
    `arrival_day` is the partition it was read from."""
    if not isinstance(item, dict):
        return ArrivalLine(None, None, None, None, arrival_day)
    hour = item.get("event_hour")
    return ArrivalLine(
        parse_day(item.get("event_date")),
        hour if isinstance(hour, str) else None,
        parse_moment(item.get("arrived_at")),
        parse_moment(item.get("first_ingested_at")),
        arrival_day,
    )


@dataclass(frozen=True)
class EventObject:
    """One object of the events table: its batch name (the manifest's too) and its hour."""

    name: str
    event_date: date
    event_hour: str


def event_object(key: str) -> EventObject | None:
    """The event object a lake key names; None for compaction's outputs (a compacted hour's
    manifests named its inputs) and for keys no reader reads (not a calendar date)."""
    parsed = layout.parse_event_key(key)
    if parsed is None or layout.compacted_group(parsed[1]) is not None:
        return None
    (year, month, day, hour), name = parsed
    try:
        return EventObject(name, date(int(year), int(month), int(day)), hour)
    except ValueError:
        return None


@dataclass(frozen=True)
class Manifest:
    """One arrivals manifest as the listing (and, for the days a run reads, its lines) saw it."""

    name: str
    empty: bool
    #: The event hours its lines name; None when this run did not read it (another day).
    hours: frozenset[tuple[date, str]] | None = None


@dataclass(frozen=True)
class Unrecorded:
    """What the listing found that the manifests do not say."""

    hours: tuple[tuple[date, str], ...] = ()
    objects: int = 0
    empty_manifests: int = 0


NOTHING_LOST = Unrecorded()


def unrecorded(objects: Iterable[EventObject], manifests: Iterable[Manifest]) -> Unrecorded:
    """The event hours whose objects no non-empty manifest of the same batch name names.

    A batch writes its objects, then its manifest under the same name: an object
    without one was written and its manifest lost (deleted, emptied to 0 bytes, or
    truncated so that its hour is no longer listed). A manifest this run did not
    read (another arrival day) counts as naming every hour of its batch.
    """
    by_name: dict[str, list[Manifest]] = {}
    empty = 0
    for manifest in manifests:
        by_name.setdefault(manifest.name, []).append(manifest)
        empty += manifest.empty
    hours: set[tuple[date, str]] = set()
    count = 0
    for obj in objects:
        hour = (obj.event_date, obj.event_hour)
        found = by_name.get(obj.name, [])
        if not any(not m.empty and (m.hours is None or hour in m.hours) for m in found):
            hours.add(hour)
            count += 1
    return Unrecorded(tuple(sorted(hours)), count, empty)


def _span(first: date, last: date) -> tuple[date, ...]:
    return tuple(first + timedelta(days=n) for n in range((last - first).days + 1))


def arrivals_interval(
    run_date: date, watermark: datetime | None, *, default_window_days: int, max_days: int
) -> tuple[datetime, datetime, tuple[date, ...]]:
    """[from, to) of the arrivals the run counts, and the arrival days to read."""
    cutoff = datetime.combine(run_date, time())
    start = watermark if watermark is not None else cutoff - timedelta(days=default_window_days)
    if start >= cutoff:
        return start, cutoff, ()
    days = _span(start.date(), (cutoff - ONE_DAY).date())
    if len(days) > max_days:
        raise PlanError(
            f"run date {run_date} would count {len(days)} days of arrivals since the last "
            f"scheduled run ({start}), more than {max_days} -- run the schedule for an earlier "
            f"run date first, e.g. --run-date {start.date() + timedelta(days=max_days)}"
        )
    return start, cutoff, days


@dataclass
class _Tally:
    """What the lines of one run said, besides the dates."""

    unreadable: int = 0
    regressions: int = 0
    newest: datetime | None = None
    days_seen: set[date] = field(default_factory=set)


def _counted(line: ArrivalLine, start: datetime, end: datetime, tally: _Tally) -> bool:
    if line.arrival_day is not None:
        tally.days_seen.add(line.arrival_day)
    if line.arrived_at is None:
        tally.unreadable += 1
        return False
    if start <= line.arrived_at < end:
        tally.newest = max(tally.newest or line.arrived_at, line.arrived_at)
        return True
    # Under a later arrival day than its own time says, or than the watermark's: a writer
    # clock behind. The previous run may never have read it: counted (a rebuild is idempotent).
    day = line.arrival_day
    behind = day is not None and (day > start.date() or line.arrived_at.date() < day)
    if line.arrived_at < start and behind:
        tally.regressions += 1
        return True
    return False


def _by_date(
    lines: Iterable[ArrivalLine], start: datetime, end: datetime, tally: _Tally
) -> dict[date, dict[str, datetime] | None]:
    """Per event date: each hour's earliest first_ingested_at, or None (rebuild whole)."""
    by_date: dict[date, dict[str, datetime] | None] = {}
    for line in lines:
        if not _counted(line, start, end, tally):
            continue
        if line.event_date is None:
            tally.unreadable += 1
            continue
        hours = by_date.setdefault(line.event_date, {})
        if hours is None:
            continue
        if line.event_hour not in HOURS or line.first_ingested_at is None:
            by_date[line.event_date] = None
            continue
        known = hours.get(line.event_hour)
        if known is None or line.first_ingested_at < known:
            hours[line.event_hour] = line.first_ingested_at
    return by_date


def plan_run(
    run_date: date,
    watermark: datetime | None,
    lines: Iterable[ArrivalLine],
    *,
    default_window_days: int,
    max_days: int,
    patching: bool = False,
    held: Callable[[tuple[date, ...]], Collection[date]] = lambda days: (),
    lost: Unrecorded = NOTHING_LOST,
) -> RunPlan:
    """The plan of the scheduled run for `run_date` (see the module's docstring)."""
    start, end, arrival_days = arrivals_interval(
        run_date, watermark, default_window_days=default_window_days, max_days=max_days
    )
    if not arrival_days and not lost.hours:
        return RunPlan(
            run_date, start, end, new_watermark=start, empty_manifests=lost.empty_manifests
        )
    tally = _Tally()
    by_date = _by_date(lines, start, end, tally) if arrival_days else {}
    for day, _ in lost.hours:
        by_date[day] = None  # no manifest says which rows are new: the whole date
    on_time_from = start.date() - ONE_DAY
    full: set[date] = set()
    patch: set[date] = set()
    late_rows: list[NewRows] = []
    for day in sorted(by_date):
        hours = by_date[day]
        late = patching and day < on_time_from and hours is not None
        (patch if late else full).update((day - ONE_DAY, day, day + ONE_DAY))
        if late and hours is not None:
            late_rows += [NewRows(day, hour, first) for hour, first in sorted(hours.items())]
    patch -= full
    if patch:
        kept = set(held(tuple(sorted(patch))))
        full |= patch - kept
        patch &= kept
    _check_length(run_date, start, sorted(full | patch), max_days, lost)
    return RunPlan(
        run_date,
        start,
        end,
        full_dates=tuple(sorted(full)),
        patch_dates=tuple(sorted(patch)),
        new_rows=tuple(late_rows) if patch else (),
        unreadable_lines=tally.unreadable,
        arrival_days=arrival_days,
        new_watermark=min(end, _after(tally.newest)) if tally.newest else start,
        gap_days=_gaps(arrival_days, tally.days_seen),
        regressions=tally.regressions,
        unrecorded_hours=lost.hours,
        empty_manifests=lost.empty_manifests,
    )


def _check_length(
    run_date: date, start: datetime, dates: list[date], max_days: int, lost: Unrecorded
) -> None:
    """A plan longer than one run may build stops with what to run instead."""
    if len(dates) > max_days:
        raise PlanError(
            f"run date {run_date}: the events that arrived since {start} touch {len(dates)} "
            f"session dates ({dates[0]} .. {dates[-1]}), more than {max_days} -- rebuild them "
            f"with --startdate/--enddate runs of at most {max_days} days, then run the schedule "
            "for a later run date"
            + (
                f" ({len(lost.hours)} event hours have no arrivals manifest: restore the "
                "manifests first, docs/operations.md)"
                if lost.hours
                else ""
            )
        )


def _after(moment: datetime) -> datetime:
    """The first whole millisecond after `moment`: the run log keeps milliseconds (Athena)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000) + MILLISECOND


def _gaps(days: tuple[date, ...], seen: set[date]) -> tuple[date, ...]:
    """Days of the interval with no manifest, between days that have some."""
    present = [day for day in days if day in seen]
    if not present:
        return ()
    return tuple(day for day in days if present[0] < day < present[-1] and day not in seen)
