"""The consumer's objects for the lake: archive buffers, and an outbox written in order.

Raw and extra-column copies are sealed into objects by size or age; failed-store
objects are queued as they happen. Every key is fixed when queued, so a retried
write overwrites itself; after an error, writes back off exponentially.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ingestion.metrics import Stats, short
from weblogs.adapters.lake import Lake
from weblogs.adapters.notify import Notifier
from weblogs.core import layout

log = logging.getLogger("ingestion")

#: Longest pause between lake writes after repeated errors.
ERROR_BACKOFF_MAX = 60.0


@dataclass
class PendingObject:
    """An object to write to the lake; its key is fixed once, so a retry overwrites itself."""

    key: str
    lines: list[bytes]
    kind: str  # raw | extra_columns (the archive prefixes) | failed | kinesis_failed
    reasons: Counter[str] | None = None


class ArchiveBuffer:
    """Raw lines waiting for S3: sealed into objects of `size` lines, or when `seconds` old."""

    def __init__(self, kind: str, size: int, seconds: float, clock: Callable[[], float]) -> None:
        self.kind = kind
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self.lines: list[bytes] = []
        self.first_at: float | None = None

    def extend(self, lines: list[bytes]) -> None:
        """Add lines (without their newline)."""
        if lines and not self.lines:
            self.first_at = self.clock()
        self.lines.extend(lines)

    def take(self, *, force: bool = False) -> Iterator[list[bytes]]:
        """Full batches, then the rest if it is old enough (or `force`)."""
        while len(self.lines) >= self.size:
            batch, self.lines = self.lines[: self.size], self.lines[self.size :]
            yield batch
        aged = self.first_at is not None and self.clock() - self.first_at >= self.seconds
        if self.lines and (force or aged):
            batch, self.lines = self.lines, []
            yield batch
        if not self.lines:
            self.first_at = None

    def __len__(self) -> int:
        return len(self.lines)


class Outbox:
    """Objects waiting for the lake, written in order; failed-store ones send one notice each."""

    def __init__(self, lake: Lake, notifier: Notifier, stats: Stats, run_id: str) -> None:
        self.lake = lake
        self.notifier = notifier
        self.stats = stats
        self.run_id = run_id
        self.pending: list[PendingObject] = []
        self.keys_written: list[str] = []
        self._write_failures = 0  # consecutive failed lake writes
        self.retry_at = 0.0

    def write(self, *, now: bool = False) -> bool:
        """Write queued objects in order; stop at the first error (True: nothing left).

        After an error, writes wait for an exponential backoff (unless `now`), so an S3
        outage is retried calmly instead of on every idle tick.
        """
        if self.pending and not now and time.monotonic() < self.retry_at:
            return False
        while self.pending:
            item = self.pending[0]
            try:
                # One join with the last newline in it: `join(...) + b"\n"` would copy
                # every event a second time.
                self.lake.put(item.key, b"\n".join([*item.lines, b""]))
            except Exception as exc:  # S3 down, disk full: keep it, retry later
                self.stats.s3_errors += 1
                self._write_failures += 1
                delay = min(ERROR_BACKOFF_MAX, 0.25 * 2**self._write_failures)
                self.retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
                log.error(
                    "could not write %s (%s); %d objects waiting, retry in %.1fs",
                    item.key,
                    short(exc),
                    len(self.pending),
                    self.retry_at - time.monotonic(),
                )
                return False
            self._write_failures = 0
            self.pending.pop(0)
            self.keys_written.append(item.key)
            count = len(item.lines)
            if item.kind == layout.RAW:
                self.stats.archived_raw += count
            elif item.kind == layout.EXTRA_COLUMNS:
                self.stats.archived_extra += count
            else:
                self.stats.failed_store_lines += count
                self.notify(item)
        return True

    def notify(self, item: PendingObject) -> None:
        """One notification per batch of failures, never one per record."""
        reasons = dict((item.reasons or Counter()).most_common(10))
        message = json.dumps(
            {
                "source": "weblogs api consumer",
                "run_id": self.run_id,
                "records": len(item.lines),
                "key": item.key,
                "reasons": reasons,
            },
            sort_keys=True,
        )
        what = "Kinesis failures" if item.kind == "kinesis_failed" else "failed records"
        try:
            self.notifier.notify(f"weblogs: {len(item.lines)} {what}", message)
            self.stats.notifications += 1
        except Exception as exc:  # the records are stored; a lost notice is only logged
            self.stats.notification_errors += 1
            log.error("SNS notification for %s failed: %s", item.key, short(exc))
