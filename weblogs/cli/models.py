"""`weblogs models`: build the dbt project on the local lake and print each mart's headline figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from weblogs.analytics import ModelsError, build_and_report


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="build the dbt models on the local lake and print the marts' headline figures",
        description=(
            "Run `dbt build` (models and data tests) on the local DuckDB target, then print "
            "the headline figures of engagement_metrics, session_metrics, loyalty_metrics, "
            "loyalty_by_tier, acquisition_metrics, page_metrics and the visitors (users, "
            "daily_visitors, retention_cohorts). Without dates this is the scheduled run: it rebuilds the "
            "session dates that received events (late ones included) since the previous "
            "successful scheduled run, up to the run date's 00:00 UTC. With --startdate "
            "and --enddate it rebuilds that window."
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
        "--lake", type=Path, help="lake folder (default: $WEBLOGS_LAKE_ROOT, else data/lake)"
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        help="DuckDB file (default: $WEBLOGS_DUCKDB_PATH, else data/weblogs.duckdb)",
    )
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild the incremental marts from scratch"
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
            run_date=args.run_date,
        )
    except ModelsError as exc:
        print(f"weblogs models: error: {exc}", file=sys.stderr)
        return 1
    print(text, end="")
    return 0
