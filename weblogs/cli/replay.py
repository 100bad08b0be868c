"""`weblogs replay`: re-feed a failed store through the current contract after a fix.

Every failed-store line keeps the original payload (docs/contract.md#2-the-lake), so a record
rejected by an old contract or a bug can be run through `transform_records` again.
What passes now is written to `events/` under a name derived from the failed
object's key, so replaying twice overwrites instead of duplicating; what still
fails stays where it is (the failed store is only read, never rewritten), and
`ingested_at` is the original `failed_at`, so a replay always yields the same rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from weblogs.adapters.lake import Lake, LakeError, LocalLake, open_lake, write_result
from weblogs.core import layout
from weblogs.core.contract import payload_bytes, to_epoch_ms
from weblogs.core.errors import UsageError
from weblogs.core.transform import nonblank_chunks, transform_records

STAGE = "replay"
FAILED_STORES = tuple(f"{prefix}/" for prefix in layout.FAILED_STORES)
DEFAULT_PREFIX = FAILED_STORES[0]
#: Lines per transform call: bounds memory on big failed objects.
CHUNK_LINES = 50_000
_PREFIX_RE = re.compile(r"[A-Za-z0-9_=.-]+(?:/[A-Za-z0-9_=.-]+)*/?")


@dataclass
class ReplayStats:
    """Counts of one replay: read == now_valid + still_failing."""

    read: int = 0
    now_valid: int = 0
    still_failing: int = 0
    objects: int = 0
    written_keys: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Line:
    payload: bytes | None  # None: the line itself is unusable
    ingested_ms: int | None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="re-feed failed records through the current contract; write what now passes",
        description=(
            "Read a failed store (JSON lines with the original payload, base64 when it "
            "was not UTF-8), validate every payload with the current contract and write "
            f"the records that now pass to {layout.EVENTS}/ as Parquet. Object names derive from "
            "the failed object's key, so running replay again overwrites, never "
            "duplicates. The failed store itself is not modified. Prints the counts."
        ),
    )
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        help="the lake holding the failed store: a folder or s3://bucket",
    )
    parser.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"failed store to read (default {DEFAULT_PREFIX}; also {', '.join(FAILED_STORES[1:])})",
    )
    parser.add_argument(
        "--to",
        dest="target",
        default=None,
        help="lake to write the now-valid events to (default: the --from lake)",
    )
    parser.set_defaults(func=run)


def check_prefix(prefix: str) -> str:
    """A relative key prefix inside the lake, never `events/` (replay must not read its output)."""
    if not _PREFIX_RE.fullmatch(prefix) or any(p in (".", "..") for p in prefix.split("/")):
        raise UsageError(
            f"--prefix must be a relative key prefix like {DEFAULT_PREFIX}, got {prefix!r}"
        )
    normalised = prefix if prefix.endswith("/") else prefix + "/"
    if normalised.startswith(f"{layout.EVENTS}/"):
        raise UsageError(f"--prefix must name a failed store, not {layout.EVENTS}/")
    return normalised


def open_checked(uri: str, *, must_exist: bool) -> Lake:
    """Open a lake URI, turning every setup problem into a UsageError."""
    if not uri:
        raise UsageError("lake location must not be empty")
    try:
        lake = open_lake(uri)
    except LakeError as exc:
        raise UsageError(str(exc)) from exc
    if isinstance(lake, LocalLake):
        if must_exist and not lake.root.is_dir():
            raise UsageError(f"lake folder {lake.root} does not exist")
        if not must_exist:
            try:
                lake.check_writable()
            except LakeError as exc:
                raise UsageError(str(exc)) from exc
    return lake


def _parse_line(raw: bytes) -> _Line:
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _Line(None, None)
    if not isinstance(item, dict) or not isinstance(item.get("payload"), str):
        return _Line(None, None)
    if item.get("payload_encoding", "utf-8") not in ("utf-8", "base64"):
        return _Line(None, None)  # e.g. "repr": the original bytes are not recoverable
    try:
        payload = payload_bytes(item)
    except ValueError:  # bad base64
        return _Line(None, None)
    ingested_ms = None
    failed_at = item.get("failed_at")
    if isinstance(failed_at, str):
        try:
            moment = datetime.fromisoformat(failed_at)
        except ValueError:
            moment = None
        if moment is not None:
            ingested_ms = to_epoch_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return _Line(payload, ingested_ms)


def object_name(key: str, chunk_index: int) -> str:
    """Stable per failed object (and chunk): the same replay always writes the same keys."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return f"replay-{digest}-{chunk_index:04d}"


def replay_object(
    source: Lake, target: Lake, key: str, *, now: datetime, stats: ReplayStats
) -> None:
    """Replay one failed object: all its lines are counted, the valid ones written."""
    data = source.get(key)
    for index, lines in enumerate(nonblank_chunks(data.splitlines(), CHUNK_LINES)):
        parsed = [_parse_line(line) for line in lines]
        usable = [p for p in parsed if p.payload is not None]
        unusable = len(parsed) - len(usable)
        stats.read += len(parsed)
        stats.still_failing += unusable
        if unusable:
            stats.reasons["unreadable_failed_line"] += unusable
        if not usable:
            continue
        now_ms = to_epoch_ms(now)
        result = transform_records(
            [p.payload for p in usable if p.payload is not None],
            stage=STAGE,
            now=now,
            ingested_at_ms=[p.ingested_ms if p.ingested_ms is not None else now_ms for p in usable],
        )
        stats.now_valid += result.written
        stats.still_failing += result.failed
        stats.reasons.update(result.reasons())
        # Only the events are written: what still fails is already in the failed store.
        events_only = dataclasses.replace(result, failures=[])
        stats.written_keys += write_result(
            target, events_only, name=object_name(key, index), failed_prefix=STAGE
        )


def replay(source: Lake, target: Lake, prefix: str, *, now: datetime) -> ReplayStats:
    """Replay every object under `prefix` (in key order) from `source` into `target`."""
    stats = ReplayStats()
    for key in sorted(source.list(prefix)):
        if key.rsplit("/", 1)[-1].startswith("."):
            continue
        stats.objects += 1
        replay_object(source, target, key, now=now, stats=stats)
    return stats


def run(args: argparse.Namespace) -> int:
    prefix = check_prefix(args.prefix)
    source = open_checked(args.source, must_exist=True)
    target = source if args.target is None else open_checked(args.target, must_exist=False)
    try:
        stats = replay(source, target, prefix, now=datetime.now(UTC))
    except OSError as exc:
        raise UsageError(f"cannot read the failed store: {exc.strerror or exc}") from exc
    except Exception as exc:
        # botocore errors (missing bucket, no credentials) without importing boto3 here.
        if type(exc).__module__.startswith("botocore"):
            raise UsageError(f"cannot use {args.source}: {_one_line(exc)}") from exc
        raise
    reasons = ", ".join(f"{reason}={count}" for reason, count in sorted(stats.reasons.items()))
    print(
        f"replay: {stats.read} read, {stats.now_valid} now valid, "
        f"{stats.still_failing} still failing ({stats.objects} objects under {prefix}) "
        f"-> {target!r} {layout.EVENTS}/"
    )
    if reasons:
        print(f"replay: still failing by reason: {reasons}")
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


__all__ = ["ReplayStats", "add_parser", "replay", "run"]
