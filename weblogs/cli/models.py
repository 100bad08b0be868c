"""`weblogs models`: build the dbt project on a target and print each mart's headline figures."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from weblogs.analytics import ModelsError, Stopped, build_and_report
from weblogs.analytics.targets import TARGETS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="build the dbt models on a target and print the marts' headline figures",
        description=(
            "Run `dbt build` (models and data tests) on the target (local DuckDB, the local "
            "Trino, or Athena), then print, read through that target, the headline figures "
            "of engagement_metrics, session_metrics, loyalty_metrics, loyalty_by_tier, "
            "acquisition_metrics and page_metrics, revenue by channel, goal conversion rates, "
            "the top countries and operating systems (goal_metrics, audience_metrics), the "
            "share of bot sessions and the visitors (users, daily_visitors, "
            "retention_cohorts). Without dates this is the scheduled run: it rebuilds "
            "the session dates that received events (late ones included) since the previous "
            "successful scheduled run, up to the run date's 00:00 UTC. With --startdate and "
            "--enddate it rebuilds that window."
        ),
    )
    parser.add_argument("--startdate", help="first session date, YYYY-MM-DD (UTC)")
    parser.add_argument("--enddate", help="last session date, YYYY-MM-DD (UTC, inclusive)")
    parser.add_argument(
        "--run-date",
        help="the scheduled run's date, YYYY-MM-DD (default: today, UTC); counts the "
        "arrivals before its 00:00 UTC",
    )
    parser.add_argument(
        "--target",
        choices=TARGETS,
        help="dbt target (default: $WEBLOGS_DBT_TARGET, else local); athena reads its "
        "settings from the WEBLOGS_ATHENA_* variables (docs/operations.md)",
    )
    parser.add_argument(
        "--lake",
        type=Path,
        help="lake folder for local and trino (default: $WEBLOGS_LAKE_ROOT, else data/lake)",
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        help="DuckDB file (local; default: $WEBLOGS_DUCKDB_PATH, else data/weblogs.duckdb)",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the marts from scratch; refused for incremental marts that exist "
        "(they would keep only this run's window) unless --allow-full-refresh",
    )
    parser.add_argument(
        "--allow-full-refresh",
        action="store_true",
        help="with --full-refresh: drop the incremental marts' other dates on purpose",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        text = build_and_report(
            args.startdate,
            args.enddate,
            lake=args.lake,
            duckdb_path=args.duckdb,
            full_refresh=args.full_refresh,
            allow_full_refresh=args.allow_full_refresh,
            run_date=args.run_date,
            target=args.target,
        )
    except Stopped as exc:
        print(f"weblogs models: {exc}", file=sys.stderr)
        return 128 + exc.signum if exc.signum != signal.SIGINT else 130
    except ModelsError as exc:
        print(f"weblogs models: error: {exc}", file=sys.stderr)
        return 1
    print(text, end="")
    for line in text.splitlines():
        if line.startswith("weblogs models: WARNING:"):
            print(line, file=sys.stderr)  # loud: the task's log and a terminal both show it
    return 0
