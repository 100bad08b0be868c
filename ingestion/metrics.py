"""The consumer's counters, progress lines and CloudWatch EMF metrics."""

from __future__ import annotations

import logging
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("ingestion")

#: Latency samples kept per metrics interval (EMF allows 100 values per metric).
MAX_SAMPLES = 100


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


def short(value: object, limit: int = 200) -> str:
    """One line of at most `limit` characters, for logs."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Progress:
    """Progress lines every `seconds`, and EMF metrics (counts as deltas) with each."""

    def __init__(self, stats: Stats, *, seconds: float, backend: str, emf: bool) -> None:
        self.stats = stats
        self.seconds = seconds
        self.backend = backend
        self.samples: dict[str, list[float]] = {
            "PollLatency": [],
            "PutRecordsLatency": [],
            "EventLag": [],
        }
        self._metrics: Any = None
        if emf:
            from aws_lambda_powertools import Metrics

            self._metrics = Metrics(namespace="weblogs", service="api-consumer")
        self._last_progress = time.monotonic()
        self._last_polled = 0
        self._last_emitted: dict[str, int] = {}

    def sample(self, name: str, value: float) -> None:
        samples = self.samples[name]
        if len(samples) < MAX_SAMPLES:
            samples.append(value)
        else:
            samples[random.randrange(MAX_SAMPLES)] = value

    def maybe(self, *, buffered: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last_progress < self.seconds:
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
            f" | buffered {buffered}" if not final else "",
        )
        self._emit(elapsed)
        self._last_progress = now
        self._last_polled = s.polled

    def _emit(self, elapsed: float) -> None:
        """CloudWatch EMF on stdout (powertools), counts as deltas since the last emission."""
        if self._metrics is None:
            return
        from aws_lambda_powertools.metrics import MetricUnit

        metrics = self._metrics
        metrics.add_dimension(name="backend", value=self.backend)
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
        for name, samples in self.samples.items():
            for value in samples:
                metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(value, 3))
            samples.clear()
        metrics.flush_metrics()
        sys.stdout.flush()
