"""Forwarding to the stream: PutRecords chunks within the limits, retries of what failed.

What still fails after `kinesis_max_attempts` becomes a failed-store line with its
error code, so nothing is lost.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from operator import itemgetter

import orjson

from ingestion.metrics import Stats
from weblogs.adapters.stream import (
    KINESIS_MAX_CALL_BYTES,
    KINESIS_MAX_RECORDS,
    PutOutcome,
    Record,
    Stream,
    record_size,
)
from weblogs.core import layout
from weblogs.core.contract import failed_record
from weblogs.core.redact import redact

log = logging.getLogger("ingestion")

KINESIS_STAGE = "kinesis_put"
_DATA, _KEY = itemgetter(0), itemgetter(1)


def chunk_records(indexes: list[int], records: list[Record]) -> Iterator[list[int]]:
    """Split into PutRecords calls: at most 500 records and 5 MiB each."""
    if len(indexes) <= KINESIS_MAX_RECORDS:  # the common case: one page, one call
        chosen = records if len(indexes) == len(records) else [records[i] for i in indexes]
        # Upper bound of the key bytes: 4 per character in UTF-8.
        bound = sum(map(len, map(_DATA, chosen))) + 4 * sum(map(len, map(_KEY, chosen)))
        if bound <= KINESIS_MAX_CALL_BYTES:
            if indexes:
                yield indexes
            return
    chunk: list[int] = []
    size = 0
    for i in indexes:
        this_size = record_size(records[i])
        if chunk and (
            len(chunk) == KINESIS_MAX_RECORDS or size + this_size > KINESIS_MAX_CALL_BYTES
        ):
            yield chunk
            chunk, size = [], 0
        chunk.append(i)
        size += this_size
    if chunk:
        yield chunk


class Forwarder:
    """Puts records to the stream and retries, with backoff, the ones marked failed."""

    def __init__(
        self,
        stream: Stream,
        stats: Stats,
        sample: Callable[[str, float], None],
        *,
        run_id: str,
        max_attempts: int,
        backoff: float,
    ) -> None:
        self.stream = stream
        self.stats = stats
        self.sample = sample
        self.run_id = run_id
        self.max_attempts = max_attempts
        self.backoff = backoff

    def send(self, records: list[Record], now: datetime) -> list[tuple[bytes, str]]:
        """Put to the stream; retry what the response marks failed; return what still failed."""
        pending = list(range(len(records)))
        last: dict[int, tuple[str, str]] = {}
        attempt = 0
        while pending and attempt < self.max_attempts:
            if attempt:
                ceiling = min(5.0, self.backoff * 2**attempt)
                time.sleep(ceiling / 2 + random.uniform(0, ceiling / 2))
                self.stats.retried += len(pending)
            attempt += 1
            still: list[int] = []
            for chunk in chunk_records(pending, records):
                started = time.monotonic()
                chosen = records if len(chunk) == len(records) else [records[i] for i in chunk]
                outcomes: list[PutOutcome] = self.stream.put_records(chosen)
                self.sample("PutRecordsLatency", (time.monotonic() - started) * 1000)
                stored = outcomes.count(None)
                self.stats.forwarded += stored
                if stored < len(chunk):
                    for i, outcome in zip(chunk, outcomes, strict=True):
                        if outcome is not None:
                            last[i] = outcome
                            still.append(i)
            pending = still
        failures = []
        for i in pending:
            code, message = last[i]
            failures.append(
                (
                    orjson.dumps(
                        failed_record(
                            records[i][0],
                            "kinesis_put_failed",
                            KINESIS_STAGE,
                            now,
                            run_id=self.run_id,
                            error_code=code,
                            error_message=redact(message[:500]),
                            attempts=attempt,
                            partition_key=records[i][1],
                        )
                    ),
                    code,
                )
            )
        if failures:
            self.stats.kinesis_failed += len(failures)
            log.error(
                "%d records still failed after %d Kinesis attempts (%s); stored in %s/",
                len(failures),
                attempt,
                ", ".join(sorted({c for _, c in failures})),
                layout.KINESIS_FAILURES,
            )
        return failures
