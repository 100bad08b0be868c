"""`weblogs compact`: one file per closed hour partition of events/ instead of one per
Kinesis batch (the rules: `weblogs.core.compaction`; the I/O: `weblogs.adapters.compaction`)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from weblogs.adapters.compaction import CompactStats, compact
from weblogs.adapters.lake import Lake, LocalLake, open_lake
from weblogs.core.compaction import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MIN_AGE_HOURS,
    DEFAULT_MIN_PART_BYTES,
    MIN_PART_BYTES_FLOOR,
)
from weblogs.core.errors import UsageError
from weblogs.core.layout import EVENTS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compact",
        help="rewrite each closed hour partition of events/ into one file",
        description=(
            "Rewrite the objects of each closed hour partition under events/ (its end "
            "at least --min-age-hours ago) into one Parquet file (or parts of at least "
            "--min-part-mb of input each). The new file is written before the old ones "
            "are deleted (--grace-seconds later), so readers never miss a row; a second "
            "run changes nothing. Works on a lake folder or s3://BUCKET."
        ),
    )
    parser.add_argument(
        "--lake",
        default=None,
        help="lake folder or s3://BUCKET (default: $WEBLOGS_LAKE_ROOT, else data/lake)",
    )
    parser.add_argument(
        "--min-age-hours",
        type=float,
        default=DEFAULT_MIN_AGE_HOURS,
        help=f"compact hours that ended at least this long ago (default {DEFAULT_MIN_AGE_HOURS:g})",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help=(
            "delete the replaced objects this long after their replacement was written, "
            f"so running queries can still open them (default {DEFAULT_GRACE_SECONDS:g})"
        ),
    )
    parser.add_argument(
        "--min-part-mb",
        type=float,
        default=DEFAULT_MIN_PART_BYTES / 1024**2,
        help="input MiB per output part before an hour is split (default 256, at least 128)",
    )
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=None,
        help=(
            "how long a run owns an hour it works on (renewed after each part); a killed "
            f"run's hours wait this long (default {DEFAULT_LEASE_SECONDS:g} + the grace)"
        ),
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would be compacted, change nothing"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name in ("min_age_hours", "grace_seconds"):
        value = getattr(args, name)
        if not 0 <= value <= 24 * 365:
            raise UsageError(
                f"--{name.replace('_', '-')} must be between 0 and 8760, got {value:g}"
            )
    if not MIN_PART_BYTES_FLOOR <= args.min_part_mb * 1024**2 <= 64 * 1024**3:
        raise UsageError(f"--min-part-mb must be between 128 and 65536, got {args.min_part_mb:g}")
    if args.lease_seconds is not None and not 1 <= args.lease_seconds <= 7 * 86400:
        raise UsageError(
            f"--lease-seconds must be between 1 and 604800, got {args.lease_seconds:g}"
        )
    lake = open_lake(args.lake)
    if isinstance(lake, LocalLake) and not (lake.root / EVENTS).is_dir():
        raise UsageError(f"no {EVENTS}/ folder in the lake {lake.root}")
    try:
        stats = _compact(lake, args)
    except OSError as exc:
        raise UsageError(f"cannot read the lake {lake}: {exc.strerror or exc}") from exc
    except Exception as exc:
        # botocore errors (missing bucket, no credentials) without importing boto3 here.
        if type(exc).__module__.startswith("botocore"):
            raise UsageError(f"cannot use {lake}: {' '.join(str(exc).split())[:300]}") from exc
        raise
    _report(stats, lake, args.dry_run)
    return 1 if stats.problems else 0


def _compact(lake: Lake, args: argparse.Namespace) -> CompactStats:
    return compact(
        lake,
        lease_seconds=args.lease_seconds,
        min_age=timedelta(hours=args.min_age_hours),
        grace_seconds=args.grace_seconds,
        min_part_bytes=int(args.min_part_mb * 1024**2),
        dry_run=args.dry_run,
        progress=lambda line: print(f"compact: {line}"),
    )


def _report(stats: CompactStats, lake: Lake, dry_run: bool) -> None:
    verb = "would compact" if dry_run else "compacted"
    print(
        f"compact: {stats.hours_compacted} hours {verb} ({stats.objects_read} objects, "
        f"{stats.bytes_read / 1024**2:.1f} MiB read, {stats.objects_written} written, "
        f"{stats.objects_deleted} deleted); {stats.hours_finished} finished from an earlier "
        f"run, {stats.hours_undone} undone, {stats.hours_leased} held by another run, "
        f"{stats.hours_compact} already compact, {stats.hours_open} not closed yet -> {lake}"
    )
    if stats.foreign_keys:
        print(f"compact: {stats.foreign_keys} keys under events/ are not event objects, left alone")
    for problem in stats.problems:
        print(f"compact: {problem}", file=sys.stderr)
