"""The API consumer: poll the web-traffic API, validate, stream to Kinesis, archive to S3.

The seed's `api.py`, made to run for months. One loop, one page at a time:

1. GET the next page (timeouts; urllib3 retries with exponential backoff and jitter
   on connection errors, 429 and 5xx, honouring Retry-After).
2. Validate every element with the shared contract (`weblogs.contract.screen`: the
   verdict of `validate` on the element's text, forwarded as sent).
3. Put the valid ones to Kinesis in chunks within the service limits; retry the
   records the response marks failed, with backoff; what still fails is kept.
4. Write the page's failures (validation and Kinesis) to the failed store, one
   object and one SNS notification per batch.
5. Only then ask for the next page: a page is *acknowledged* once every one of its
   events is in Kinesis or in the failed store (see docs/ingestion.md).

Raw and extra-column copies are archived in batches by size or age. SIGTERM/SIGINT
stop polling, flush every buffer and exit 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from ingestion.backends import (
    KINESIS_MAX_CALL_BYTES,
    KINESIS_MAX_RECORDS,
    Backends,
    PutOutcome,
    StreamRecord,
    build_backends,
    stream_records,
)
from ingestion.config import ConfigError, ConsumerConfig, load_config
from weblogs.contract import (
    MAX_RECORD_BYTES,
    MAX_SESSION_ID_CHARS,
    Invalid,
    failed_record,
    screen,
    to_epoch_ms,
)
from weblogs.lake import LakeError

log = logging.getLogger("ingestion")

STAGE = "api_consumer"
KINESIS_STAGE = "kinesis_put"
RAW_PREFIX = "raw"
EXTRA_PREFIX = "extra_columns"
FAILED_PREFIX = "failed_records"
KINESIS_FAILED_PREFIX = "kinesis_failures"
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Longest wait a Retry-After header can impose, so a stop request is never starved.
RETRY_AFTER_MAX = 60.0
#: Longest pause between polls after repeated API errors.
ERROR_BACKOFF_MAX = 60.0
#: Latency samples kept per metrics interval (EMF allows 100 values per metric).
MAX_SAMPLES = 100
_DATA, _KEY = itemgetter(0), itemgetter(1)
#: A record this long or shorter fits Kinesis' limit with any session id (128 characters).
_FITS_ANY_KEY = MAX_RECORD_BYTES - 4 * MAX_SESSION_ID_CHARS


class _Stopping(Exception):
    """Raised inside a retry wait when a stop was requested: abandon this request."""


def make_retry(config: ConsumerConfig, stop: threading.Event) -> Retry:
    """urllib3 Retry whose waits end early on stop (the API has not sent anything yet)."""

    class StopAwareRetry(Retry):
        def sleep(self, response: Any = None) -> None:
            seconds = 0.0
            if self.respect_retry_after_header and response is not None:
                try:
                    seconds = self.get_retry_after(response) or 0.0
                except (InvalidHeader, ValueError, OverflowError):  # unusable header: back off
                    seconds = 0.0
            if not seconds:  # urllib3 retries the first error at once; we always wait
                seconds = self.get_backoff_time() or self.backoff_factor * random.uniform(0.5, 1)
            if stop.is_set() or (seconds > 0 and stop.wait(seconds)):
                raise _Stopping()

    return StopAwareRetry(
        total=config.api_max_retries,
        connect=config.api_max_retries,
        read=config.api_max_retries,
        status=config.api_max_retries,
        other=0,
        backoff_factor=config.api_backoff,
        backoff_max=10.0,
        backoff_jitter=config.api_backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX,
        raise_on_status=False,
    )


@dataclass
class Stats:
    """Counters; invariant: polled == forwarded + failed + kinesis_failed."""

    polled: int = 0
    forwarded: int = 0
    failed: int = 0
    kinesis_failed: int = 0
    extra_columns: int = 0
    bad_responses: int = 0
    retried: int = 0
    pages: int = 0
    api_errors: int = 0
    api_retries: int = 0
    archived_raw: int = 0
    archived_extra: int = 0
    failed_store_lines: int = 0
    notifications: int = 0
    notification_errors: int = 0
    s3_errors: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = dict(sorted(self.reasons.items()))
        return data


@dataclass
class PendingObject:
    """An object to write to the lake; its key is fixed once, so a retry overwrites itself."""

    key: str
    lines: list[bytes]
    kind: str  # raw | extra | failed | kinesis_failed
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


_SPLIT_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


def parse_page(body: bytes) -> tuple[list[bytes] | None, str | None]:
    """(the elements' JSON texts, or None and the failure reason) of an API response.

    A JSON array is split into its elements' texts without decoding them (msgspec's
    `Raw`): the consumer forwards each text as sent and the contract judges it. A
    body that will not split that way (not JSON, not an array, NaN, lone surrogates)
    is decoded whole by the stdlib and each element spelled again (`element_text`).
    """
    try:
        texts = list(map(bytes, _SPLIT_ARRAY.decode(body)))
    except (ValueError, RecursionError):  # msgspec's errors are ValueErrors
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None, "invalid_json"
        if not isinstance(parsed, list):
            return None, "not_a_list"
        return [element_text(item) for item in parsed], None
    if b"\n" in body or b"\r" in body:  # pretty-printed: one line per element
        texts = [one_line(t) if b"\n" in t or b"\r" in t else t for t in texts]
    return texts, None


def element_text(item: Any) -> bytes:
    """A decoded element as compact JSON text, exact (the stdlib keeps integers past
    64 bits). One no valid JSON can carry (NaN, a lone surrogate) is spelled as the
    stdlib spells it all the same: the contract rejects it as `invalid_json` and the
    failed store keeps it."""
    try:
        return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate: as an escape in ASCII text
        return json.dumps(item, separators=(",", ":")).encode()
    except RecursionError:
        return repr(item).encode()


def one_line(text: bytes) -> bytes:
    """An element's text without line breaks (the stream and the archives are JSON lines).

    Only a pretty-printed element has any (JSON strings escape theirs). Text that is
    not JSON stays as it is: the contract rejects it.
    """
    try:
        return element_text(json.loads(text))
    except (ValueError, RecursionError):
        return text


def chunk_records(indexes: list[int], records: list[StreamRecord]) -> Iterator[list[int]]:
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
        record_size = records[i].size
        if chunk and (
            len(chunk) == KINESIS_MAX_RECORDS or size + record_size > KINESIS_MAX_CALL_BYTES
        ):
            yield chunk
            chunk, size = [], 0
        chunk.append(i)
        size += record_size
    if chunk:
        yield chunk


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
        self.kinesis_backoff = kinesis_backoff
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.stop_reason = ""
        self._seq = itertools.count(1)
        self.raw = ArchiveBuffer(
            "raw", config.s3_batch_size, config.s3_batch_seconds, time.monotonic
        )
        self.extra = ArchiveBuffer(
            "extra", config.s3_batch_size, config.s3_batch_seconds, time.monotonic
        )
        self.pending: list[PendingObject] = []
        self._write_failures = 0  # consecutive failed lake writes
        self._write_retry_at = 0.0
        self.keys_written: list[str] = []
        self.http = requests.Session()
        adapter = HTTPAdapter(max_retries=make_retry(config, self.stop_event))
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.http.headers["User-Agent"] = "weblogs-api-consumer/1"
        query = parse_qs(urlsplit(config.api_url).query)
        self._url_has_limit = "limit" in query
        self._samples: dict[str, list[float]] = {
            "PollLatency": [],
            "PutRecordsLatency": [],
            "EventLag": [],
        }
        self._metrics: Any = None
        if config.metrics:
            from aws_lambda_powertools import Metrics

            self._metrics = Metrics(namespace="weblogs", service="api-consumer")
        self._started = time.monotonic()
        self._last_progress = self._started
        self._last_polled = 0
        self._last_emitted: dict[str, int] = {}

    # ------------------------------------------------------------------ control

    def request_stop(self, reason: str = "stop requested") -> None:
        """What SIGTERM/SIGINT do: finish the page in hand, flush everything, return."""
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.stop_event.set()

    def run(self) -> int:
        log.info(
            "started run %s: polling %s every %gs into %s",
            self.run_id,
            _redact(self.config.api_url),
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
                self._idle(max(0.01, self._write_retry_at - time.monotonic()))
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
        params = None if self._url_has_limit else {"limit": limit}
        timeout = self.config.http_timeout
        started = time.monotonic()
        try:
            response = self.http.get(
                self.config.api_url, params=params, timeout=(min(5.0, timeout), timeout)
            )
        except _Stopping:
            return None
        except (requests.RequestException, Urllib3Error) as exc:
            self.stats.api_errors += 1
            return f"API request failed after retries: {_short(exc)}"
        finally:
            self._sample("PollLatency", (time.monotonic() - started) * 1000)
        retries = getattr(getattr(response.raw, "retries", None), "history", ())
        self.stats.api_retries += len(retries)
        if not 200 <= response.status_code < 300:
            self.stats.api_errors += 1
            return (
                f"API answered HTTP {response.status_code}"
                f"{' after retries' if retries else ''}: {_short(response.text)}"
            )
        body = response.content
        items, reason = parse_page(body)
        if items is None:
            assert reason is not None
            self._store_bad_response(body, reason, response.status_code)
            return None, 0
        return items, len(items)

    def _store_bad_response(self, body: bytes, reason: str, status: int) -> None:
        """A 2xx body that is not a JSON array: kept whole in the failed store, never fatal."""
        now = self.clock()
        self.stats.bad_responses += 1
        self.stats.reasons[f"response:{reason}"] += 1
        log.error(
            "API returned a %s body (HTTP %d, %d bytes); stored in %s/",
            reason,
            status,
            len(body),
            FAILED_PREFIX,
        )
        line = failed_record(
            body,
            reason,
            "api_response",
            now,
            run_id=self.run_id,
            http_status=status,
        )
        self._queue_failures(
            FAILED_PREFIX, "failed", [orjson.dumps(line)], Counter({reason: 1}), now
        )

    # ------------------------------------------------------------------ process

    def _process_page(self, texts: list[bytes]) -> None:
        """Judge every element's text with the shared contract and forward it as it is;
        the transformation Lambda re-validates those same bytes and reaches the same
        verdict (`screen` is `validate`'s verdict, see the contract)."""
        now = self.clock()
        now_ms = to_epoch_ms(now)
        stats = self.stats
        stats.pages += 1
        stats.polled += len(texts)
        page = stats.pages
        datas: list[bytes] = []
        keys: list[str] = []
        extras: list[bytes] = []
        stamp_sum = 0
        failures: list[bytes] = []
        reasons: Counter[str] = Counter()

        def fail(payload: bytes, reason: str) -> None:
            reasons[reason] += 1
            failures.append(
                orjson.dumps(
                    failed_record(payload, reason, STAGE, now, run_id=self.run_id, page=page)
                )
            )

        # The hot loop of the consumer. A string element is judged as text too, so it
        # fails as not_an_object.
        add_data, add_key, fits, invalid = datas.append, keys.append, _FITS_ANY_KEY, Invalid
        for data in texts:
            result = screen(data, now_ms=now_ms)
            if type(result) is invalid:
                fail(data, result.reason)
                continue
            session_id, timestamp, has_extra = result
            if len(data) > fits and (
                len(data) + len(session_id.encode("utf-8")) > MAX_RECORD_BYTES
            ):
                fail(data, "record_too_large")  # with its partition key, over the limit
                continue
            add_data(data)
            add_key(session_id)
            stamp_sum += timestamp
            if has_extra:
                extras.append(data)
        records = stream_records(datas, keys)

        stats.failed += len(failures)
        stats.reasons.update(reasons)
        if failures:
            self._queue_failures(FAILED_PREFIX, "failed", failures, reasons, now)
        if records:
            self._sample("EventLag", now_ms - stamp_sum / len(records))
        kinesis_failures = self._send(records, now)
        self.raw.extend(datas)
        self.extra.extend(extras)
        stats.extra_columns += len(extras)
        if kinesis_failures:
            codes = Counter(line_code for _, line_code in kinesis_failures)
            self._queue_failures(
                KINESIS_FAILED_PREFIX,
                "kinesis_failed",
                [line for line, _ in kinesis_failures],
                codes,
                now,
            )

    def _send(self, records: list[StreamRecord], now: datetime) -> list[tuple[bytes, str]]:
        """Put to the stream; retry what the response marks failed; return what still failed."""
        pending = list(range(len(records)))
        last: dict[int, tuple[str, str]] = {}
        attempt = 0
        while pending and attempt < self.config.kinesis_max_attempts:
            if attempt:
                ceiling = min(5.0, self.kinesis_backoff * 2**attempt)
                time.sleep(ceiling / 2 + random.uniform(0, ceiling / 2))
                self.stats.retried += len(pending)
            attempt += 1
            still: list[int] = []
            for chunk in chunk_records(pending, records):
                started = time.monotonic()
                outcomes: list[PutOutcome] = self.backends.stream.put_records(
                    [records[i] for i in chunk]
                )
                self._sample("PutRecordsLatency", (time.monotonic() - started) * 1000)
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
                            records[i].data,
                            "kinesis_put_failed",
                            KINESIS_STAGE,
                            now,
                            run_id=self.run_id,
                            error_code=code,
                            error_message=message[:500],
                            attempts=attempt,
                            partition_key=records[i].partition_key,
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
                KINESIS_FAILED_PREFIX,
            )
        return failures

    # ------------------------------------------------------------------- output

    def _key(self, prefix: str, now: datetime | None = None) -> str:
        moment = now or self.clock()
        return f"{prefix}/dt={moment:%Y-%m-%d}/{self.run_id}-{next(self._seq):08d}.jsonl"

    def _queue_failures(
        self, prefix: str, kind: str, lines: list[bytes], reasons: Counter[str], now: datetime
    ) -> None:
        self.pending.append(PendingObject(self._key(prefix, now), lines, kind, reasons))

    def _maybe_flush_archives(self, *, force: bool = False) -> None:
        sealed = False
        for buffer in (self.raw, self.extra):
            prefix = RAW_PREFIX if buffer.kind == "raw" else EXTRA_PREFIX
            for batch in buffer.take(force=force):
                self.pending.append(PendingObject(self._key(prefix), batch, buffer.kind))
                sealed = True
        if sealed:
            self._write_pending()

    def _write_pending(self, *, now: bool = False) -> bool:
        """Write queued objects in order; stop at the first error (True: nothing left).

        After an error, writes wait for an exponential backoff (unless `now`), so an S3
        outage is retried calmly instead of on every idle tick.
        """
        if self.pending and not now and time.monotonic() < self._write_retry_at:
            return False
        while self.pending:
            item = self.pending[0]
            try:
                self.backends.lake.put(item.key, b"\n".join(item.lines) + b"\n")
            except Exception as exc:  # S3 down, disk full: keep it, retry later
                self.stats.s3_errors += 1
                self._write_failures += 1
                delay = min(ERROR_BACKOFF_MAX, 0.25 * 2**self._write_failures)
                self._write_retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
                log.error(
                    "could not write %s (%s); %d objects waiting, retry in %.1fs",
                    item.key,
                    _short(exc),
                    len(self.pending),
                    self._write_retry_at - time.monotonic(),
                )
                return False
            self._write_failures = 0
            self.pending.pop(0)
            self.keys_written.append(item.key)
            count = len(item.lines)
            if item.kind == "raw":
                self.stats.archived_raw += count
            elif item.kind == "extra":
                self.stats.archived_extra += count
            else:
                self.stats.failed_store_lines += count
                self._notify(item)
        return True

    def _notify(self, item: PendingObject) -> None:
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
            self.backends.notifier.notify(f"weblogs: {len(item.lines)} {what}", message)
            self.stats.notifications += 1
        except Exception as exc:  # the records are stored; a lost notice is only logged
            self.stats.notification_errors += 1
            log.error("SNS notification for %s failed: %s", item.key, _short(exc))

    # ---------------------------------------------------------------- progress

    def _sample(self, name: str, value: float) -> None:
        samples = self._samples[name]
        if len(samples) < MAX_SAMPLES:
            samples.append(value)
        else:
            samples[random.randrange(MAX_SAMPLES)] = value

    def _maybe_progress(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last_progress < self.config.progress_seconds:
            return
        elapsed = max(now - self._last_progress, 1e-9)
        rate = (self.stats.polled - self._last_polled) / elapsed
        s = self.stats
        log.info(
            "%.1f events/s | polled %d sent %d failed %d kinesis-failed %d retried %d | "
            "archived raw %d extra %d | api errors %d bad responses %d%s",
            rate,
            s.polled,
            s.forwarded,
            s.failed,
            s.kinesis_failed,
            s.retried,
            s.archived_raw,
            s.archived_extra,
            s.api_errors,
            s.bad_responses,
            " | buffered " + str(len(self.raw) + len(self.extra)) if not final else "",
        )
        self._emit_metrics(elapsed)
        self._last_progress = now
        self._last_polled = s.polled

    def _emit_metrics(self, elapsed: float) -> None:
        """CloudWatch EMF on stdout (powertools), counts as deltas since the last emission."""
        if self._metrics is None:
            return
        from aws_lambda_powertools.metrics import MetricUnit

        metrics = self._metrics
        metrics.add_dimension(name="backend", value=self.config.backend)
        counts = {
            "EventsPolled": self.stats.polled,
            "EventsForwarded": self.stats.forwarded,
            "EventsFailed": self.stats.failed,
            "KinesisFailures": self.stats.kinesis_failed,
            "KinesisRetries": self.stats.retried,
            "ApiErrors": self.stats.api_errors,
            "BadResponses": self.stats.bad_responses,
        }
        for name, total in counts.items():
            delta = total - self._last_emitted.get(name, 0)
            self._last_emitted[name] = total
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=delta)
        metrics.add_metric(
            name="Throughput",
            unit=MetricUnit.CountPerSecond,
            value=round((self.stats.polled - self._last_polled) / elapsed, 3),
        )
        for name, samples in self._samples.items():
            for value in samples:
                metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(value, 3))
            samples.clear()
        metrics.flush_metrics()
        sys.stdout.flush()

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
        self.http.close()
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


def _short(value: object, limit: int = 200) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _redact(url: str) -> str:
    """The URL without its query (which may carry an API key) for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# -------------------------------------------------------------------------- CLI


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="the API to poll (env API_URL)")
    parser.add_argument(
        "--backend", choices=("aws", "local"), help="aws (default) or local (env WEBLOGS_BACKEND)"
    )
    parser.add_argument("--lake", dest="lake_root", help="local lake folder (local backend)")
    parser.add_argument("--stream-dir", help="local stream folder (local backend)")
    parser.add_argument("--poll-interval", help="seconds between polls (env POLL_INTERVAL, 1)")
    parser.add_argument("--batch-size", dest="s3_batch_size", help="env S3_BATCH_SIZE (100)")
    parser.add_argument(
        "--batch-seconds", dest="s3_batch_seconds", help="env S3_BATCH_SECONDS (10)"
    )
    parser.add_argument("--page-limit", help="events per request (env API_PAGE_LIMIT, 500)")
    parser.add_argument("--max-events", help="stop after this many events (env MAX_EVENTS)")
    parser.add_argument(
        "--progress-seconds", help="seconds between progress lines (env PROGRESS_SECONDS, 10)"
    )
    parser.add_argument(
        "--no-metrics", action="store_true", help="do not print CloudWatch EMF metrics"
    )


def add_parser(subparsers: Any) -> None:
    """Register `weblogs consume`."""
    parser = subparsers.add_parser(
        "consume",
        help="poll the web-traffic API and stream events to Kinesis (or a local stream)",
        description="The API consumer. Configured by the environment (API_URL, "
        "KINESIS_STREAM_NAME, S3_BUCKET, FAILED_RECORDS_SNS_ARN, REGION, POLL_INTERVAL, "
        "S3_BATCH_SIZE, S3_BATCH_SECONDS); flags override it. SIGTERM/SIGINT flush and exit 0.",
    )
    _add_arguments(parser)
    parser.set_defaults(func=run_consume)


def config_from_args(args: argparse.Namespace, env: dict[str, str] | None = None) -> ConsumerConfig:
    overrides = {
        name: getattr(args, name)
        for name in (
            "api_url",
            "backend",
            "lake_root",
            "stream_dir",
            "poll_interval",
            "s3_batch_size",
            "s3_batch_seconds",
            "page_limit",
            "max_events",
            "progress_seconds",
        )
    }
    if args.no_metrics:
        overrides["metrics"] = False
    return load_config(os.environ if env is None else env, overrides)


def check_aws(backends: Backends) -> None:
    """Fail at start-up, not on the first batch, when the stream or bucket is unusable."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ingestion.backends import KinesisStream
    from weblogs.lake import S3Lake

    stream = backends.stream
    lake = backends.lake
    try:
        if isinstance(stream, KinesisStream):
            stream.client.describe_stream_summary(StreamName=stream.stream_name)
        if isinstance(lake, S3Lake):
            lake.client.head_bucket(Bucket=lake.bucket)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ConfigError(
            f"AWS check failed: {error.get('Code', 'error')}: {error.get('Message') or exc}"
        ) from None
    except BotoCoreError as exc:
        raise ConfigError(f"AWS check failed: {exc}") from None


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("consume: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def run_consume(args: argparse.Namespace) -> int:
    """Entry point of `weblogs consume` and `python -m ingestion`."""
    from weblogs.errors import UsageError

    try:
        config = config_from_args(args)
        consumer = Consumer(config)
        if config.backend == "aws":
            check_aws(consumer.backends)
    except (ConfigError, OSError, LakeError) as exc:
        raise UsageError(str(exc)) from None
    setup_logging()

    def on_signal(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if consumer.stop_event.is_set():
            log.info("%s again: still flushing", name)
        consumer.request_stop(name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return consumer.run()


def main(argv: list[str] | None = None) -> int:
    """`python -m ingestion`: the container's entry point."""
    from weblogs.errors import UsageError

    parser = argparse.ArgumentParser(
        prog="python -m ingestion", description="weblogs API consumer (see `weblogs consume`)."
    )
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_consume(args)
    except UsageError as exc:
        print(f"consume: error: {exc}", file=sys.stderr)
        return 2
