"""`weblogs forget`: erase one user's records from a lake (docs/operations.md, Erasure requests)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from weblogs.adapters.forget import forget
from weblogs.adapters.lake import LakeError, default_lake_root, open_lake
from weblogs.core.erasure import check_user_id
from weblogs.core.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forget",
        help="erase every stored record of one user (the right to be forgotten)",
        description=(
            "Remove every record of the user from events/, raw/, extra_columns/, the failed "
            "stores and the CRM extracts (current and snapshots): records whose user_id is "
            "ID, whose client_id is one of the user's events' client ids, or whose "
            "session_id is one of the sessions of those events. Objects holding such records "
            "are rewritten without them, all others are untouched; on S3 the old versions "
            "that hold the user are deleted too. Prints and keeps an erasure record "
            "(erasure/records/) with the SHA-256 of the id, never the id. The touched event "
            "dates are recorded as arrivals: the next scheduled `weblogs models` run "
            "rebuilds them. Safe to rerun after a crash; a second run finds nothing."
        ),
    )
    parser.add_argument("--user-id", required=True, help="the user id to forget")
    parser.add_argument(
        "--lake",
        default=None,
        help="lake folder or s3://BUCKET (default: $WEBLOGS_LAKE_ROOT, else data/lake)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would go, change nothing"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        user_id = check_user_id(args.user_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    try:
        lake = open_lake(args.lake or default_lake_root())
        outcome = forget(lake, user_id, now=datetime.now(UTC), dry_run=args.dry_run)
    except LakeError as exc:
        raise UsageError(str(exc)) from exc
    except (BotoCoreError, ClientError, OSError) as exc:  # S3 or the disk gave up mid-run
        raise UsageError(
            f"stopped: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}; run the same "
            "command again (it resumes where it stopped)"
        ) from exc
    print(outcome.summary())
    return 0
