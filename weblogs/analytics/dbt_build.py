"""The dbt runner behind `weblogs models` and the demo: build, test, report the marts.

Analysts can run dbt directly; this is the one-liner for the demo and for
operators: it checks the inputs first (so a missing lake or a bad date is one
clear line, not a dbt stack), runs `dbt build` on the chosen target (`local`,
`trino` or `athena`, targets.py) with a profile copied from
`profiles.yml.example`, passing the window (or, without dates, the scheduled
run's `run_date`) as vars, and reads the run log and the marts back through
that target's own connection (readers.py).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from weblogs.analytics.dbt_process import DbtRun, DbtSession, dbt_session
from weblogs.analytics.headlines import HEADLINES, REVENUE_HEADLINES
from weblogs.analytics.monitoring import (
    Findings,
    freshness_results,
    new_anomalies,
    publish,
    warned_tests,
)
from weblogs.analytics.readers import Reader, reader_for
from weblogs.analytics.scheduled import build_vars, plan_scheduled_run, plan_vars, table_exists
from weblogs.analytics.targets import Target, check_lake, check_target, resolve_target
from weblogs.core import clock, layout
from weblogs.core.errors import ModelsError, UsageError
from weblogs.core.run_plan import RunPlan

__all__ = [
    "ModelsError",
    "build_and_report",
    "check_lake",
    "check_run_date",
    "check_window",
    "default_duckdb_path",
    "default_window",
    "format_table",
    "run_dbt_build",
]

PROJECT_DIR = Path(__file__).resolve().parents[2]
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
DEFAULT_DUCKDB_PATH = Path("data/weblogs.duckdb")
#: The dates a window or a run date may name (the dbt macro `_parse_window_date`).
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2999, 12, 31)


def default_duckdb_path(env: Mapping[str, str]) -> Path:
    """`$WEBLOGS_DUCKDB_PATH`, else `data/weblogs.duckdb`; an empty value counts as unset."""
    return Path(env.get("WEBLOGS_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)


def default_window_days() -> int:
    """The dbt project's var `default_window_days`, read from dbt_project.yml, so both agree."""
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return int(project.get("vars", {}).get("default_window_days", 7))


#: The table marts a scheduled run rebuilds over the report period, not over its plan.
REPORT_MARTS = ("loyalty_metrics", "loyalty_by_tier")
#: The tests that read them, another mart's too (`loyalty_metrics` users in `engagement_metrics`).
REPORT_TESTS = tuple(f"{mart}+,resource_type:test" for mart in REPORT_MARTS)
#: The plan's build leaves them out, with those tests: the report build runs both.
PLAN_BUILD_EXCLUDES = ["--exclude", *REPORT_MARTS, *REPORT_TESTS]
#: Every build of the runner leaves dbt's unit tests out: they check the models' SQL on
#: fixed inputs, not the data, so they belong to CI (`make test`), as dbt advises; on
#: Athena each would be paid queries on every scheduled run (docs/analytics.md).
NO_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]


def report_period(run_date: date) -> tuple[str, str]:
    """The report marts' period on a scheduled run: the default window before the run date
    (`default_window_days` complete UTC days), whatever arrived (docs/analytics.md)."""
    return default_window(run_date)


def default_window(today: date) -> tuple[str, str]:
    """The project's default window: the last `default_window_days` complete UTC days."""
    days = default_window_days()
    return f"{today - timedelta(days=days):%Y-%m-%d}", f"{today - timedelta(days=1):%Y-%m-%d}"


def check_window(startdate: str | None, enddate: str | None) -> tuple[str, str] | None:
    """The same rule as the dbt macro, checked before dbt starts (None = default window)."""
    if startdate is None and enddate is None:
        return None
    if startdate is None or enddate is None:
        raise UsageError("pass both --startdate and --enddate, or neither for the scheduled run")
    parsed = []
    for name, value in (("startdate", startdate), ("enddate", enddate)):
        if not DATE_RE.fullmatch(value):
            raise UsageError(f"{name} {value!r} is not a date in YYYY-MM-DD form")
        try:
            parsed.append(date.fromisoformat(value))
        except ValueError:
            raise UsageError(f"{name} {value!r} is not a real calendar date") from None
    if parsed[1] < parsed[0]:
        raise UsageError(f"enddate {enddate} is before startdate {startdate}")
    return startdate, enddate


def check_run_date(run_date: str | None, window: tuple[str, str] | None, today: date) -> str | None:
    """The scheduled run's date (`today`, UTC, by default), or None for a window run."""
    if window is not None:
        if run_date is not None:
            raise UsageError("pass --run-date alone, or --startdate and --enddate, not both")
        return None
    if run_date is None:
        return today.isoformat()
    if not DATE_RE.fullmatch(run_date):
        raise UsageError(f"run date {run_date!r} is not a date in YYYY-MM-DD form")
    try:
        parsed = date.fromisoformat(run_date)
    except ValueError:
        raise UsageError(f"run date {run_date!r} is not a real calendar date") from None
    if not FIRST_DATE <= parsed <= LAST_DATE:
        raise UsageError(
            f"run date {run_date} is outside {FIRST_DATE} .. {LAST_DATE} (the contract's years)"
        )
    if parsed > today:
        raise UsageError(
            f"run date {run_date} is after today ({today}, UTC; {clock.NOW_ENV} sets the clock): "
            "a scheduled run counts only what has arrived, and its watermark would skip the rest"
        )
    return run_date


@contextmanager
def open_session(*, target: Target, lake: Path, duckdb_path: Path) -> Iterator[DbtSession]:
    """A dbt worker on `target` with the runner's profile and environment, parsing already
    (with the fixed vars: the lake's root on a local lake, docs/analytics.md, Start-up)."""
    with tempfile.TemporaryDirectory(prefix="weblogs-dbt-") as tmp:
        profiles_dir = os.environ.get("DBT_PROFILES_DIR")
        if not profiles_dir:
            shutil.copy(PROJECT_DIR / "profiles.yml.example", Path(tmp) / "profiles.yml")
            profiles_dir = tmp
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": profiles_dir,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        fixed_vars: dict[str, Any] = {}
        if target.local_lake:
            env["WEBLOGS_LAKE_ROOT"] = fixed_vars["lake_root"] = str(lake.resolve())
        if target.name == "local":
            duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            env["WEBLOGS_DUCKDB_PATH"] = str(duckdb_path.resolve())
        args = ["--target", target.name, "--project-dir", str(PROJECT_DIR)]
        with dbt_session(args, fixed_vars, env) as session:
            yield session


def build_command(
    window: tuple[str, str] | None,
    run_plan: Mapping[str, Any] | None,
    full_refresh: bool = False,
    allow_full_refresh: bool = False,
) -> tuple[list[str], dict[str, Any]]:
    """`dbt build`'s arguments and run vars, for DbtSession.run."""
    dbt_vars = build_vars(window, run_plan, full_refresh, allow_full_refresh)
    command = ["build", "--full-refresh"] if full_refresh else ["build"]
    return [*command, *NO_UNIT_TESTS], dbt_vars


def checked_build(done: DbtRun) -> DbtRun:
    """The build's run; ModelsError, in one line, when it failed."""
    if done.returncode != 0:
        raise ModelsError(f"dbt build failed: {done.reason()}")
    return done


def run_dbt_build(
    window: tuple[str, str] | None,
    *,
    lake: Path,
    duckdb_path: Path,
    full_refresh: bool = False,
    allow_full_refresh: bool = False,
    run_plan: Mapping[str, Any] | None = None,
    target: Target | None = None,
    selection: Sequence[str] = (),
) -> DbtRun:
    """`dbt build` on `target` (default local), `selection` its --select/--exclude
    arguments; returns its events, raises ModelsError when it fails."""
    target = target or Target("local", "main")
    name, dbt_vars = build_command(window, run_plan, full_refresh, allow_full_refresh)
    with open_session(target=target, lake=lake, duckdb_path=duckdb_path) as session:
        [done] = session.run([([*name, *selection], dbt_vars)])
    return checked_build(done)


def format_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table that reads well in a terminal and in a log."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float | Decimal):
            return f"{value:,.2f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], int | float | Decimal) for row in rows if row[i] is not None)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] and rows else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [title, line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in text] or ["(no rows)"]
    return "\n".join(out)


def _date_literal(value: date) -> str:
    return f"date '{value.isoformat()}'"


def report(read: Reader, schema: str, window: tuple[str, str]) -> str:
    """The headline figures of the marts, as text tables, read through the target's reader."""
    start, end = (_date_literal(date.fromisoformat(d)) for d in window)
    parts = [f"weblogs models: sessions from {window[0]} to {window[1]} (UTC)"]
    for title, sql in HEADLINES + REVENUE_HEADLINES:
        columns, rows = read(sql.format(schema=schema, start=start, end=end))
        parts.append(format_table(title, columns, rows))
    return "\n\n".join(parts) + "\n"


def build_and_report(
    startdate: str | None,
    enddate: str | None,
    *,
    lake: Path | None = None,
    duckdb_path: Path | None = None,
    full_refresh: bool = False,
    allow_full_refresh: bool = False,
    run_date: str | None = None,
    target: str | None = None,
) -> str:
    """Build and test every model on the target, then return the headline tables.

    With both dates: that window. Without: the scheduled run for `run_date`
    (default today, UTC): the session dates that received events since the
    previous successful scheduled run (docs/analytics.md, Late data). The target
    is `target`, else `$WEBLOGS_DBT_TARGET`, else `local`.
    """
    chosen = resolve_target(target, os.environ)
    window = check_window(startdate, enddate)
    today = clock.now(os.environ).date()
    scheduled = check_run_date(run_date, window, today)
    lake = lake or layout.lake_root(os.environ)
    duckdb_path = duckdb_path or default_duckdb_path(os.environ)
    check_target(chosen, os.environ, lake)
    read = reader_for(chosen, os.environ, duckdb_path)
    places = {"target": chosen, "lake": lake, "duckdb_path": duckdb_path}
    if window is None and scheduled is not None:
        refresh = {"full_refresh": full_refresh, "allow_full_refresh": allow_full_refresh}
        return scheduled_run(date.fromisoformat(scheduled), read, places, refresh)
    run_dbt_build(
        window,
        lake=lake,
        duckdb_path=duckdb_path,
        full_refresh=full_refresh,
        allow_full_refresh=allow_full_refresh,
        target=chosen,
    )
    return report(read, chosen.schema, window or default_window(today))


def scheduled_run(
    run_date: date, read: Reader, places: dict[str, Any], refresh: dict[str, bool]
) -> str:
    """Plan, build, monitor: the daily run. Fails (ModelsError) on a stale source.

    One dbt worker runs the build and `source freshness` on one parse, which it starts
    while the run is planned (docs/analytics.md, Start-up)."""
    target: Target = places["target"]
    with open_session(**places) as session:
        plan = plan_scheduled_run(
            target, read, os.environ, places["lake"], run_date,
            default_window_days=default_window_days(), full_refresh=refresh["full_refresh"],
        )  # fmt: skip
        findings = Findings(arrivals=plan_counts(plan))
        commands = []
        if plan.dates:
            name, plan_run_vars = build_command(None, plan_vars(plan), **refresh)
            commands.append(([*name, *PLAN_BUILD_EXCLUDES], plan_run_vars))
        # The report marts cover their period whatever arrived (docs/analytics.md, The
        # report marts), in the same worker, after the plan's build.
        period = report_period(run_date)
        selection = ["--select", *REPORT_MARTS]
        if plan.dates or table_exists(read, target.schema, "engagement_metrics"):
            selection += REPORT_TESTS  # the cross-mart tests need it built
        commands.append((["build", *selection, *NO_UNIT_TESTS], build_vars(period, None)))
        if os.environ.get(clock.NOW_ENV):
            findings.freshness_skipped = (
                f"{clock.NOW_ENV} is set: dbt measures against the real clock"
            )
        else:
            commands.append((["source", "freshness"], {}))
        runs = session.run(commands)
    lines = [f"weblogs models: WARNING: {note}" for note in plan_notes(plan).values()]
    if plan.dates:
        warned_tests(checked_build(runs[0]), findings)
        new_anomalies(read, target.schema, plan.dates, findings)
    warned_tests(checked_build(runs[1 if plan.dates else 0]), findings)
    lines.append(f"weblogs models: report marts over {period[0]} .. {period[1]} (UTC)")
    if plan.dates:
        tables = report(read, target.schema, (str(plan.dates[0]), str(plan.dates[-1])))
    else:
        # Nothing to rebuild: the incremental marts keep what the last run built.
        tables = f"weblogs models: scheduled run {run_date}: no events arrived since the last run\n"
    if not findings.freshness_skipped:
        freshness_results(runs[-1], findings)
    lines += findings.lines()
    region = os.environ.get("WEBLOGS_AWS_REGION") or os.environ.get("AWS_REGION")
    publish(findings, str(run_date), os.environ, region)
    if findings.failed:
        raise ModelsError(f"scheduled run {run_date}: stale source(s): {'; '.join(findings.stale)}")
    return "".join(f"{line}\n" for line in lines) + tables


def plan_notes(plan: RunPlan) -> dict[str, str]:
    """The loud lines about the arrivals, by kind: unreadable lines, gaps, a writer clock
    behind, event hours no manifest names, empty manifests."""
    notes = {}
    if plan.unreadable_lines:
        notes["unreadable_manifest_lines"] = (
            f"{plan.unreadable_lines} arrivals manifest line(s) could not be read"
        )
    if plan.gap_days:
        days = ", ".join(d.isoformat() for d in plan.gap_days)
        notes["arrival_days_without_manifest"] = (
            f"{len(plan.gap_days)} arrival day(s) without any manifest: {days}"
        )
    if plan.regressions:
        notes["writer_clock_behind"] = (
            f"{plan.regressions} manifest line(s) dated before the watermark "
            f"({plan.arrivals_from}) under a later day: a writer clock behind; counted"
        )
    if plan.unrecorded_hours:
        dates = sorted({day for day, _ in plan.unrecorded_hours})
        notes["event_hours_without_manifest"] = (
            f"{len(plan.unrecorded_hours)} event hour(s) of the lake have no arrivals manifest "
            f"(deleted, emptied or truncated), on {len(dates)} date(s) {dates[0]} .. "
            f"{dates[-1]}: rebuilt whole; restore the manifests (docs/operations.md)"
        )
    if plan.empty_manifests:
        notes["empty_manifests"] = f"{plan.empty_manifests} empty arrivals manifest(s) (0 bytes)"
    return notes


def plan_counts(plan: RunPlan) -> dict[str, int]:
    """The same anomalies as counts, for the run's message (no dates, no ids)."""
    counts = {
        "unreadable_manifest_lines": plan.unreadable_lines,
        "arrival_days_without_manifest": len(plan.gap_days),
        "writer_clock_behind": plan.regressions,
        "event_hours_without_manifest": len(plan.unrecorded_hours),
        "empty_manifests": plan.empty_manifests,
    }
    return {kind: count for kind, count in counts.items() if count}
