"""The API consumer: poll the web-traffic API, validate, stream to Kinesis, archive to S3.

Made to run for months. One loop, one page at a time:

1. GET the next page (`ingestion.http`: timeouts, urllib3 retries with exponential
   backoff and jitter on connection errors, 429 and 5xx, honouring Retry-After).
2. Validate every element with the shared contract (`ingestion.page.judge_page`, `screen_all`:
   the verdict of `validate` on the element's text, forwarded as sent).
3. Put the valid ones to Kinesis in chunks within the service limits; retry the
   records the response marks failed, with backoff; what still fails is kept
   (`ingestion.forward`).
4. Write the page's failures (validation and Kinesis) to the failed store, one
   object and one SNS notification per batch (`ingestion.archive`).
5. Only then ask for the next page: a page is *acknowledged* once every one of its
   events is in Kinesis or in the failed store (see docs/ingestion.md).

Raw and extra-column copies are archived in batches by size or age. SIGTERM/SIGINT
stop polling, flush every buffer and exit 0.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from ingestion.archive import ArchiveBuffer, Outbox, PendingObject
from ingestion.backends import Backends, build_backends, stream_records
from ingestion.config import ConsumerConfig
from ingestion.forward import KINESIS_STAGE, Forwarder, chunk_records
from ingestion.http import BadResponse, Poller, size_details
from ingestion.metrics import Progress, Stats
from ingestion.page import element_text, judge_page, one_line, parse_page
from weblogs.core import layout
from weblogs.core.collector import collector_paused
from weblogs.core.contract import failed_record, to_epoch_ms
from weblogs.core.redact import redact_url

__all__ = [
    "KINESIS_STAGE",
    "STAGE",
    "ArchiveBuffer",
    "Consumer",
    "PendingObject",
    "Stats",
    "chunk_records",
    "element_text",
    "one_line",
    "parse_page",
]

log = logging.getLogger("ingestion")

STAGE = "api_consumer"
#: Longest pause between polls after repeated API errors.
ERROR_BACKOFF_MAX = 60.0


class Consumer:
    """The polling loop; `run()` returns the exit code (0, or 1 if something stayed unflushed)."""

    def __init__(
        self,
        config: ConsumerConfig,
        backends: Backends | None = None,
        *,
        run_id: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        kinesis_backoff: float = 0.1,
    ) -> None:
        self.config = config
        self.run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}"
        self.backends = backends or build_backends(config, self.run_id)
        self.clock = clock
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.stop_reason = ""
        self._seq = itertools.count(1)
        size, seconds = config.s3_batch_size, config.s3_batch_seconds
        # A buffer's kind is the prefix its objects go under.
        self.raw = ArchiveBuffer(layout.RAW, size, seconds, time.monotonic)
        self.extra = ArchiveBuffer(layout.EXTRA_COLUMNS, size, seconds, time.monotonic)
        self.outbox = Outbox(self.backends.lake, self.backends.notifier, self.stats, self.run_id)
        self.progress = Progress(
            self.stats,
            seconds=config.progress_seconds,
            backend=config.backend,
            emf=config.metrics,
        )
        self.poller = Poller(config, self.stop_event, self.stats, self.progress.sample)
        self.forwarder = Forwarder(
            self.backends.stream,
            self.stats,
            self.progress.sample,
            run_id=self.run_id,
            max_attempts=config.kinesis_max_attempts,
            backoff=kinesis_backoff,
        )

    @property
    def pending(self) -> list[PendingObject]:
        """Objects not yet in the lake, oldest first."""
        return self.outbox.pending

    @property
    def keys_written(self) -> list[str]:
        return self.outbox.keys_written

    # ------------------------------------------------------------------ control

    def request_stop(self, reason: str = "stop requested") -> None:
        """What SIGTERM/SIGINT do: finish the page in hand, flush everything, return."""
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.poller.stop_at = time.monotonic()
            self.stop_event.set()

    def interrupt(self) -> None:
        """From the stop signal's handler: a blocked read ends within seconds."""
        self.poller.interrupt()

    def run(self) -> int:
        log.info(
            "started run %s: polling %s every %gs into %s",
            self.run_id,
            redact_url(self.config.api_url),
            self.config.poll_interval,
            self.backends.description,
        )
        consecutive_errors = 0
        while not self.stop_event.is_set():
            if self.config.max_events is not None and self.stats.polled >= self.config.max_events:
                self.stop_reason = f"polled {self.stats.polled} events (max-events)"
                break
            # Acknowledge the previous page before asking for the next one.
            if not self._write_pending():
                self._idle(max(0.01, self.outbox.retry_at - time.monotonic()))
                continue
            limit = self.config.page_limit
            if self.config.max_events is not None:
                limit = min(limit, self.config.max_events - self.stats.polled)
            outcome = self._fetch(limit)
            if outcome is None:  # stop requested while waiting to retry
                break
            if isinstance(outcome, str):  # the API failed even after retries
                consecutive_errors += 1
                delay = max(self.config.poll_interval, self.config.api_backoff, 0.01)
                delay = min(ERROR_BACKOFF_MAX, delay * 2**consecutive_errors)
                log.error("%s; next poll in %.2fs", outcome, delay)
                self._idle(delay)
                continue
            consecutive_errors = 0
            items, count = outcome
            if items is not None:
                self._process_page(items)
            self._write_pending()
            self._maybe_flush_archives()
            self._maybe_progress()
            if count < limit:
                self._idle(self.config.poll_interval)
        return self._shutdown()

    def _idle(self, seconds: float) -> None:
        """Wait, but keep flushing aged archives and printing progress; a stop ends it."""
        deadline = time.monotonic() + seconds
        while not self.stop_event.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.stop_event.wait(min(remaining, 0.2))
            self._maybe_flush_archives()
            self._maybe_progress()

    # -------------------------------------------------------------------- fetch

    def _fetch(self, limit: int) -> tuple[list[bytes] | None, int] | str | None:
        """(element texts or None for a bad body, count); an error text; None if stopping."""
        fetched = self.poller.fetch(limit)
        if fetched is None or isinstance(fetched, str):
            return fetched
        body, status = fetched
        if isinstance(body, BadResponse):
            self._store_bad_response(body, status)
            return None, 0
        items, reason = parse_page(body)
        if items is None:
            assert reason is not None
            sample = body[: self.config.response_sample_bytes]
            details = size_details(len(body), len(body), sample)
            self._store_bad_response(BadResponse(reason, sample, details), status)
            return None, 0
        return items, len(items)

    def _store_bad_response(self, bad: BadResponse, status: int) -> None:
        """A 2xx body that is not a JSON array, too large or too slow: a bounded sample of
        it goes to the failed store with its sizes, never fatal."""
        now = self.clock()
        self.stats.bad_responses += 1
        self.stats.reasons[f"response:{bad.reason}"] += 1
        log.error(
            "API returned a %s body (HTTP %d, %d bytes read); a sample is stored in %s/",
            bad.reason,
            status,
            bad.details["bytes_read"],
            layout.FAILED_RECORDS,
        )
        line = failed_record(
            bad.sample,
            bad.reason,
            "api_response",
            now,
            run_id=self.run_id,
            http_status=status,
            **bad.details,
        )
        self._queue_failures(
            layout.FAILED_RECORDS, "failed", [orjson.dumps(line)], Counter({bad.reason: 1}), now
        )

    # ------------------------------------------------------------------ process

    def _process_page(self, texts: list[bytes]) -> None:
        """`_judge_page`, with no cyclic collection meanwhile (weblogs.core.collector says why)."""
        with collector_paused():
            self._judge_page(texts)

    def _judge_page(self, texts: list[bytes]) -> None:
        """Judge every element's text with the shared contract and forward it as it is;
        the transformation Lambda re-validates those same bytes and reaches the same
        verdict (`screen_all` gives `validate`'s verdicts, see the contract)."""
        now = self.clock()
        now_ms = to_epoch_ms(now)
        stats = self.stats
        stats.pages += 1
        stats.polled += len(texts)
        page = stats.pages
        failures: list[bytes] = []
        reasons: Counter[str] = Counter()
        # The hot loop of the consumer, a page at a time. A string element is judged as
        # text too, so it fails as not_an_object.
        judged = judge_page(texts, now_ms=now_ms)
        for payload, reason in judged.failed:
            reasons[reason] += 1
            line = failed_record(payload, reason, STAGE, now, run_id=self.run_id, page=page)
            failures.append(orjson.dumps(line))
        datas, extras = judged.datas, judged.extras
        records = stream_records(datas, judged.keys)

        stats.failed += len(failures)
        stats.reasons.update(reasons)
        if failures:
            self._queue_failures(layout.FAILED_RECORDS, "failed", failures, reasons, now)
        if records:
            self.progress.sample("EventLag", now_ms - judged.time_sum / len(records))
        kinesis_failures = self.forwarder.send(records, now)
        self.raw.extend(datas)
        self.extra.extend(extras)
        stats.extra_columns += len(extras)
        if kinesis_failures:
            self._queue_kinesis_failures(kinesis_failures, now)

    def _queue_kinesis_failures(self, failures: list[tuple[bytes, str]], now: datetime) -> None:
        """What Kinesis still refused: one failed-store object, counted by error code."""
        codes = Counter(code for _, code in failures)
        lines = [line for line, _ in failures]
        self._queue_failures(layout.KINESIS_FAILURES, "kinesis_failed", lines, codes, now)

    # ------------------------------------------------------------------- output

    def _key(self, prefix: str, now: datetime | None = None) -> str:
        moment = now or self.clock()
        return layout.dated_key(prefix, moment, f"{self.run_id}-{next(self._seq):08d}")

    def _queue_failures(
        self, prefix: str, kind: str, lines: list[bytes], reasons: Counter[str], now: datetime
    ) -> None:
        self.pending.append(PendingObject(self._key(prefix, now), lines, kind, reasons))

    def _maybe_flush_archives(self, *, force: bool = False) -> None:
        sealed = False
        for buffer in (self.raw, self.extra):
            for batch in buffer.take(force=force):
                self.pending.append(PendingObject(self._key(buffer.kind), batch, buffer.kind))
                sealed = True
        if sealed:
            self._write_pending()

    def _write_pending(self, *, now: bool = False) -> bool:
        """Write queued objects in order; stop at the first error (True: nothing left)."""
        return self.outbox.write(now=now)

    def _maybe_progress(self, *, final: bool = False) -> None:
        self.progress.maybe(buffered=len(self.raw) + len(self.extra), final=final)

    # ---------------------------------------------------------------- shutdown

    def _shutdown(self) -> int:
        buffered = len(self.raw) + len(self.extra)
        log.info(
            "stopping (%s): flushing %d buffered archive lines and %d pending objects",
            self.stop_reason or "done",
            buffered,
            len(self.pending),
        )
        self._maybe_flush_archives(force=True)
        deadline = time.monotonic() + self.config.shutdown_seconds
        delay = 0.5
        while not self._write_pending(now=True) and time.monotonic() + delay < deadline:
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        self.poller.close()
        code = 0
        if self.pending:
            code = 1
            for item in self.pending:  # last resort: the log is durable on ECS (awslogs)
                for line in item.lines:
                    sys.stderr.write(
                        f"UNFLUSHED {item.key} {line.rstrip().decode('utf-8', 'replace')}\n"
                    )
            log.error(
                "could not write %d objects before the shutdown deadline; their lines were "
                "logged as UNFLUSHED",
                len(self.pending),
            )
        self._maybe_progress(final=True)
        log.info("summary %s", json.dumps(self.stats.as_dict(), sort_keys=True))
        return code
