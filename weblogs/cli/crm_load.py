"""`weblogs crm load`: check CRM extracts, then replace the lake's current extract
(the rules: `weblogs.core.crm`; the I/O: `weblogs.adapters.crm`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from weblogs.adapters.crm import load
from weblogs.adapters.lake import open_lake
from weblogs.core.errors import UsageError
from weblogs.core.layout import CRM


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    crm = subparsers.add_parser(
        CRM,
        help="CRM extracts: check and load customers.csv / ratings.csv",
        description="Work with the CRM extracts the loyalty marts join.",
    )
    actions = crm.add_subparsers(dest="crm_command", metavar="ACTION", required=True)
    parser = actions.add_parser(
        "load",
        help="check CRM files and replace the lake's current extract (all or nothing)",
        description=(
            "Check the files (header names in any order, required columns, values, "
            "duplicate user ids, ratings 1-5) and print every problem as file:line: "
            "reason. On any problem nothing changes and the exit status is 2. "
            "Otherwise each file is written in canonical form as a dated snapshot "
            "(crm/snapshots/<UTC time>/) and then replaces the current extract "
            "(crm/<name>.csv on disk; crm/<name>/<name>.csv on S3, the Glue table's folder)."
        ),
    )
    parser.add_argument("--customers", type=Path, help="customers CSV file")
    parser.add_argument("--ratings", type=Path, help="ratings CSV file")
    parser.add_argument(
        "--lake",
        default=None,
        help="lake folder or s3://BUCKET (default: $WEBLOGS_LAKE_ROOT, else data/lake)",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="load a file that has a header but no rows (otherwise refused)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files = {k: p for k, p in (("customers", args.customers), ("ratings", args.ratings)) if p}
    if not files:
        raise UsageError("give --customers and/or --ratings")
    store = open_lake(args.lake)
    result = load(files, store, allow_empty=args.allow_empty)
    for c in result.checked:
        if c.dropped_columns:
            print(
                f"crm load: {c.source.name}: columns not in the contract left out: "
                + ", ".join(c.dropped_columns)
            )
    if result.problems:
        print(
            f"crm load: {result.problems} problem(s); nothing was changed in {store}",
            file=sys.stderr,
        )
        return 2
    counts = ", ".join(f"{c.kind} {c.rows} rows" for c in result.checked)
    print(f"crm load: {counts} -> {store} {', '.join(result.written)}")
    print(f"crm load: snapshot {result.snapshot}")
    for key in result.removed:
        print(f"crm load: removed {key} (not the current extract)")
    return 0
