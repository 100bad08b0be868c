"""The dbt runner behind `weblogs models` and the demo: build, test, report the marts.

Analysts can run dbt directly; this is the one-liner for the demo and for
operators: it checks the inputs first (so a missing lake or a bad date is one
clear line, not a dbt stack), runs `dbt build` on the `local` target with a
profile copied from `profiles.yml.example`, passing the window (or, without
dates, the scheduled run's `run_date`) and the lake root as vars, and reads the
marts back from DuckDB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from weblogs.core import layout
from weblogs.core.errors import ModelsError, UsageError

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


def default_duckdb_path(env: Mapping[str, str]) -> Path:
    """`$WEBLOGS_DUCKDB_PATH`, else `data/weblogs.duckdb`; an empty value counts as unset."""
    return Path(env.get("WEBLOGS_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH)


def default_window(today: date) -> tuple[str, str]:
    """The project's default window: the last `default_window_days` complete UTC days.

    The length is the dbt project's var, read from dbt_project.yml, so both agree.
    """
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    days = int(project.get("vars", {}).get("default_window_days", 7))
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
        date.fromisoformat(run_date)
    except ValueError:
        raise UsageError(f"run date {run_date!r} is not a real calendar date") from None
    return run_date


def check_lake(lake: Path) -> None:
    """The local sources dbt will read; a clear line for what is missing."""
    events = lake / layout.EVENTS
    if not events.is_dir() or next(events.glob(layout.EVENT_FILES_GLOB), None) is None:
        raise UsageError(
            f"no events in {events} (write some with `weblogs transform --input FILE --lake {lake}`)"
        )
    for name in layout.CRM_FILES:
        if not (lake / layout.CRM / name).is_file():
            raise UsageError(
                f"missing CRM extract {lake / layout.CRM / name} (docs/contract.md#2-the-lake)"
            )


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def run_dbt_build(
    window: tuple[str, str] | None,
    *,
    lake: Path,
    duckdb_path: Path,
    full_refresh: bool = False,
    run_date: str | None = None,
) -> str:
    """`dbt build --target local`; returns dbt's output, raises ModelsError when it fails."""
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="weblogs-dbt-") as tmp:
        profiles_dir = os.environ.get("DBT_PROFILES_DIR")
        if not profiles_dir:
            shutil.copy(PROJECT_DIR / "profiles.yml.example", Path(tmp) / "profiles.yml")
            profiles_dir = tmp
        env = {
            **os.environ,
            "WEBLOGS_LAKE_ROOT": str(lake.resolve()),
            "WEBLOGS_DUCKDB_PATH": str(duckdb_path.resolve()),
            "DBT_PROFILES_DIR": profiles_dir,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        dbt_vars: dict[str, str] = {"lake_root": str(lake.resolve())}
        if window is not None:
            dbt_vars |= {"startdate": window[0], "enddate": window[1]}
        elif run_date is not None:
            dbt_vars |= {"run_date": run_date}
        args = [dbt_executable(), "build", "--target", "local", "--project-dir", str(PROJECT_DIR)]
        args += ["--vars", json.dumps(dbt_vars)]
        if full_refresh:
            args.append("--full-refresh")
        done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        problems = [
            line.strip()
            for line in output.splitlines()
            if re.search(r"\b(ERROR|FAIL|Error)\b", line) and "ERROR=0" not in line
        ]
        summary = "; ".join(problems[:3]) or output.strip().splitlines()[-1:]
        raise ModelsError(f"dbt build failed: {summary}")
    return output


def format_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table that reads well in a terminal and in a log."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:,.2f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows if row[i] is not None)
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


#: The headline query of each mart: (title, SQL); `?` placeholders take the window's dates.
HEADLINES: tuple[tuple[str, str], ...] = (
    (
        "engagement_metrics (sessions in the window)",
        """
        select count(*) as sessions, count(distinct user_id) as users,
               round(avg(session_duration_seconds), 2) as avg_duration_s,
               round(100.0 * avg(case when is_bounce then 1 else 0 end), 2) as bounce_pct,
               round(avg(engagement_score), 2) as avg_engagement,
               coalesce(sum(loyalty_interactions), 0) as loyalty_interactions
        from main.engagement_metrics where session_date between ? and ?
        """,
    ),
    (
        "session_metrics (by device, over the window's days)",
        """
        select device_type, sum(sessions) as sessions,
               round(sum(bounce_rate_pct * sessions) / sum(sessions), 2) as bounce_pct,
               round(sum(avg_session_duration_seconds * sessions) / sum(sessions), 2)
                   as avg_duration_s,
               round(sum(avg_engagement_score * sessions) / sum(sessions), 2) as avg_engagement
        from main.session_metrics where session_date between ? and ?
        group by device_type order by sessions desc, device_type
        """,
    ),
    (
        "loyalty_metrics (known users in the window)",
        """
        select count(*) as users, count(customer_id) as in_crm,
               sum(case when is_loyalty_member then 1 else 0 end) as members,
               sum(sessions) as sessions, round(avg(engagement_score), 2) as avg_engagement,
               round(avg(loyalty_rate_pct), 2) as avg_loyalty_rate_pct,
               sum(ratings_count) as ratings
        from main.loyalty_metrics
        """,
    ),
    (
        "loyalty_by_tier",
        """
        select loyalty_tier, users, loyalty_members, loyalty_member_pct, avg_engagement_score,
               loyalty_rate_pct, avg_rating
        from main.loyalty_by_tier
        order by case loyalty_tier when 'gold' then 1 when 'silver' then 2
                 when 'bronze' then 3 else 4 end
        """,
    ),
    (
        "acquisition_metrics (by channel, over the window's days)",
        """
        select channel, sum(sessions) as sessions,
               sum(add_to_cart_sessions) as add_to_cart, sum(checkout_sessions) as checkout,
               sum(converted_sessions) as converted,
               round(100.0 * sum(converted_sessions) / sum(sessions), 2) as conversion_pct,
               sum(purchases) as purchases
        from main.acquisition_metrics where session_date between ? and ?
        group by channel order by sessions desc, channel
        """,
    ),
    (
        "page_metrics (top 10 pages by views, over the window's days)",
        """
        select page_path, sum(page_views) as page_views, sum(entrances) as entrances,
               sum(exits) as exits,
               round(100.0 * sum(exits) / sum(page_views), 2) as exit_pct
        from main.page_metrics where session_date between ? and ?
        group by page_path order by page_views desc, page_path limit 10
        """,
    ),
    (
        "visitors (users: every session date held; new and returning: the window's days;"
        " retention: last week's cohort in its second week)",
        """
        select held.visitors, days.new_visitors, days.returning_visitors,
               held.identified_pct, cohort.cohort_week as last_week_cohort,
               cohort.retention_pct as week_1_retention_pct
        from (
            select count(*) as visitors,
                   round(100.0 * avg(case when is_identified then 1 else 0 end), 2)
                       as identified_pct
            from main.users
        ) as held
        cross join (
            select coalesce(sum(new_visitors), 0) as new_visitors,
                   coalesce(sum(returning_visitors), 0) as returning_visitors
            from main.daily_visitors where session_date between ? and ?
        ) as days
        left join (
            select cohort_week, retention_pct from main.retention_cohorts
            where week_number = 1 order by cohort_week desc limit 1
        ) as cohort on true
        """,
    ),
)


def report(duckdb_path: Path, window: tuple[str, str]) -> str:
    """The headline figures of the marts, as text tables."""
    import duckdb

    parts = [f"weblogs models: sessions from {window[0]} to {window[1]} (UTC)"]
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        for title, sql in HEADLINES:
            params = [date.fromisoformat(window[0]), date.fromisoformat(window[1])]
            cursor = con.execute(sql, params[: sql.count("?")])
            columns = [d[0] for d in cursor.description]
            parts.append(format_table(title, columns, cursor.fetchall()))
    return "\n\n".join(parts) + "\n"


def scheduled_run_dates(
    duckdb_path: Path, run_date: str, since: datetime
) -> tuple[str, str] | None:
    """The first and last session dates the scheduled run for `run_date`, started at
    `since` (UTC), rebuilt.

    Read from the run log the run wrote (`weblogs_run_log.session_dates`, runs of
    dates such as `2026-10-01 .. 2026-10-03, 2026-10-07`), not from dbt's output.
    None: the run recorded nothing (no events arrived since the previous one; an
    earlier run for the same date recorded before `since` does not count).
    """
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        row = con.execute(
            "select session_dates from weblogs_run_log where run_date = ? and recorded_at >= ?"
            " order by recorded_at desc limit 1",
            [date.fromisoformat(run_date), since.astimezone(UTC).replace(tzinfo=None)],
        ).fetchone()
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", row[0] or "") if row else []
    return (min(dates), max(dates)) if dates else None


def build_and_report(
    startdate: str | None,
    enddate: str | None,
    *,
    lake: Path | None = None,
    duckdb_path: Path | None = None,
    full_refresh: bool = False,
    run_date: str | None = None,
) -> str:
    """Build and test every model, then return the headline tables (for the demo).

    With both dates: that window. Without: the scheduled run for `run_date`
    (default today, UTC): the session dates that received events since the
    previous successful scheduled run (docs/analytics.md, Late data).
    """
    window = check_window(startdate, enddate)
    scheduled = check_run_date(run_date, window, datetime.now(UTC).date())
    lake = lake or layout.lake_root(os.environ)
    duckdb_path = duckdb_path or default_duckdb_path(os.environ)
    check_lake(lake)
    started = datetime.now(UTC).replace(microsecond=0)
    run_dbt_build(
        window, lake=lake, duckdb_path=duckdb_path, full_refresh=full_refresh, run_date=scheduled
    )
    built = window or scheduled_run_dates(duckdb_path, str(scheduled), started)
    if built is None:
        return f"weblogs models: scheduled run {scheduled}: no events arrived since the last run\n"
    return report(duckdb_path, built)
